// SPDX-License-Identifier: GPL-2.0-only
/*
 * What real consumers rely on, from C: QEMU's GET_INFO argsz loop, DPDK's CHECK_EXTENSION == 1,
 * rust-vmm's GET_STATUS == VIABLE, config space reads, a BAR mmap shared with the device, an
 * interrupt delivered to an eventfd, and fd lifetime across dup, fork and exit. The C twin of
 * kselftest/vfio/vfio_device_test.ts.
 * @see hw/vfio/container.c (QEMU), lib/eal/linux/eal_vfio.c (DPDK), vfio-ioctls (rust-vmm)
 */
#include <sys/eventfd.h>

#include "vfio_util.h"

/* A type1v2 container with the group and one device of it open. */
static int open_device(struct ksft *t, struct vfio_setup *s)
{
	iommu_init(t, &IOMMU_MODES[1], s);
	int d = ioctl(s->group, VFIO_GROUP_GET_DEVICE_FD, s->bdf);
	ASSERT_LE(t, 0, d);
	return d;
}

/* QEMU's loop: grow the buffer to the argsz the kernel asks for until it fits; it must end. */
static void qemu_info_argsz_loop(struct ksft *t, const void *v)
{
	(void)v;
	struct vfio_setup s;
	iommu_init(t, &IOMMU_MODES[1], &s);
	uint32_t argsz = sizeof(struct vfio_iommu_type1_info);
	struct vfio_iommu_type1_info *info = calloc(1, argsz);
	int rounds = 0;
	for (;;) {
		info->argsz = argsz;
		ASSERT_EQ(t, 0, ioctl(s.container, VFIO_IOMMU_GET_INFO, info));
		ASSERT_LT(t, rounds++, 2);
		if (info->argsz <= argsz)
			break;
		argsz = info->argsz;
		info = realloc(info, argsz);
	}
	EXPECT_TRUE(t, info->flags & VFIO_IOMMU_INFO_PGSIZES);
	EXPECT_NE(t, 0, info->iova_pgsizes);
	free(info);
}

/* DPDK counts an extension only when CHECK_EXTENSION returns exactly 1. */
static void dpdk_check_extension_is_one(struct ksft *t, const void *v)
{
	(void)v;
	struct vfio_setup s;
	need_group(t, &s);
	int c = open_container(t);
	EXPECT_EQ(t, 1, ioctl(c, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU));
	EXPECT_EQ(t, 1, ioctl(c, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU));
}

/* rust-vmm rejects a group whose flags are anything but exactly VIABLE. */
static void rust_vmm_group_viable(struct ksft *t, const void *v)
{
	(void)v;
	struct vfio_setup s;
	need_group(t, &s);
	int g = open_group(t, s.id);
	struct vfio_group_status st = { .argsz = sizeof(st) };
	ASSERT_EQ(t, 0, ioctl(g, VFIO_GROUP_GET_STATUS, &st));
	EXPECT_EQ(t, VFIO_GROUP_FLAGS_VIABLE, st.flags);
}

static unsigned long sysfs_hex(const char *bdf, const char *attr)
{
	char p[256], buf[64];
	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/%s", bdf, attr);
	return read_attr(p, buf, sizeof(buf)) ? ~0UL : strtoul(buf, NULL, 16);
}

/* Vendor, device and class through the config region are what sysfs says. */
static void config_space_ids(struct ksft *t, const void *v)
{
	(void)v;
	struct vfio_setup s;
	int d = open_device(t, &s);
	struct vfio_region_info ri = { .argsz = sizeof(ri), .index = VFIO_PCI_CONFIG_REGION_INDEX };
	ASSERT_EQ(t, 0, ioctl(d, VFIO_DEVICE_GET_REGION_INFO, &ri));
	EXPECT_LE(t, 256, ri.size);
	unsigned char cfg[12];
	ASSERT_EQ(t, sizeof(cfg), pread(d, cfg, sizeof(cfg), (off_t)ri.offset));
	EXPECT_EQ(t, sysfs_hex(s.bdf, "vendor"), cfg[0] | cfg[1] << 8);
	EXPECT_EQ(t, sysfs_hex(s.bdf, "device"), cfg[2] | cfg[3] << 8);
	EXPECT_EQ(t, sysfs_hex(s.bdf, "class"), (unsigned long)(cfg[9] | cfg[10] << 8 | cfg[11] << 16));
}

/* The first BAR the device lets userspace mmap, or SKIP. */
static struct vfio_region_info mmap_bar(struct ksft *t, int d)
{
	for (unsigned i = VFIO_PCI_BAR0_REGION_INDEX; i <= VFIO_PCI_BAR5_REGION_INDEX; i++) {
		struct vfio_region_info ri = { .argsz = sizeof(ri), .index = i };
		if (ioctl(d, VFIO_DEVICE_GET_REGION_INFO, &ri) == 0 && ri.size >= 4096 && (ri.flags & VFIO_REGION_INFO_FLAG_MMAP))
			return ri;
	}
	SKIP(t, "no mmappable BAR");
}

/* A BAR mapped by the program is the device's: stores through it are read back by pread, and pwrite shows in it. */
static void region_mmap(struct ksft *t, const void *v)
{
	(void)v;
	struct vfio_setup s;
	int d = open_device(t, &s);
	struct vfio_region_info ri = mmap_bar(t, d);
	volatile uint32_t *bar = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, d, (off_t)ri.offset);
	ASSERT_TRUE(t, bar != MAP_FAILED);
	bar[4] = 0xc0ffee11;
	uint32_t got = 0;
	ASSERT_EQ(t, 4, pread(d, &got, 4, (off_t)ri.offset + 16));
	EXPECT_EQ(t, 0xc0ffee11, got);
	uint32_t put = 0x5eed5eed;
	ASSERT_EQ(t, 4, pwrite(d, &put, 4, (off_t)ri.offset + 32));
	EXPECT_EQ(t, 0x5eed5eed, bar[8]);
	EXPECT_EQ(t, 0, munmap((void *)bar, 4096));
}

/* A device mapping must be shared. @see drivers/vfio/pci/vfio_pci_core.c:vfio_pci_core_mmap */
static void region_mmap_private(struct ksft *t, const void *v)
{
	(void)v;
	struct vfio_setup s;
	int d = open_device(t, &s);
	struct vfio_region_info ri = mmap_bar(t, d);
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, d, (off_t)ri.offset);
	EXPECT_TRUE(t, p == MAP_FAILED);
	EXPECT_EQ(t, EINVAL, errno);
}

static int set_irqs(int d, uint32_t flags, uint32_t index, uint32_t start, uint32_t count, const int32_t *fds)
{
	char buf[sizeof(struct vfio_irq_set) + sizeof(int32_t) * 4];
	struct vfio_irq_set *set = (void *)buf;
	*set = (struct vfio_irq_set){ .argsz = sizeof(*set) + (fds ? sizeof(int32_t) * count : 0), .flags = flags, .index = index, .start = start, .count = count };
	if (fds)
		memcpy(set->data, fds, sizeof(int32_t) * count);
	return ioctl(d, VFIO_DEVICE_SET_IRQS, set) ? -errno : 0;
}

/* The interrupt index to use: MSI-X, else MSI, with at least one vector. */
static uint32_t msi_index(struct ksft *t, int d)
{
	for (uint32_t index = VFIO_PCI_MSIX_IRQ_INDEX;; index = VFIO_PCI_MSI_IRQ_INDEX) {
		struct vfio_irq_info ii = { .argsz = sizeof(ii), .index = index };
		if (ioctl(d, VFIO_DEVICE_GET_IRQ_INFO, &ii) == 0 && ii.count > 0 && (ii.flags & VFIO_IRQ_INFO_EVENTFD))
			return index;
		if (index == VFIO_PCI_MSI_IRQ_INDEX)
			SKIP(t, "the device has neither MSI-X nor MSI");
	}
}

/* An eventfd wired to vector 0 is signalled when the vector fires (here: triggered by DATA_NONE). */
static void irq_eventfd(struct ksft *t, const void *v)
{
	(void)v;
	struct vfio_setup s;
	int d = open_device(t, &s);
	uint32_t index = msi_index(t, d);
	int32_t efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ASSERT_LE(t, 0, efd);
	ASSERT_EQ(t, 0, set_irqs(d, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, index, 0, 1, &efd));
	uint64_t n = 0;
	EXPECT_ERRNO(t, EAGAIN, read(efd, &n, 8));
	ASSERT_EQ(t, 0, set_irqs(d, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index, 0, 1, NULL));
	ASSERT_EQ(t, 8, read(efd, &n, 8));
	EXPECT_EQ(t, 1, n);
	EXPECT_EQ(t, 0, set_irqs(d, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index, 0, 0, NULL));
	EXPECT_EQ(t, -EINVAL, set_irqs(d, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index, 0, 1, NULL));
}

/* A fork child maps DMA through the container fd it inherited; the mapping is the container's. */
static void fork_inherited_container(struct ksft *t, const void *v)
{
	(void)v;
	struct vfio_setup s;
	iommu_init(t, &IOMMU_MODES[1], &s);
	struct type1_info info = iommu_info(t, s.container);
	uint64_t iova = 0;
	for (int i = 0; i < info.nr_ranges; i++)
		if (info.ranges[i].end - info.ranges[i].start + 1 >= 32 * MiB) {
			iova = (info.ranges[i].start + 16 * MiB - 1) & ~(16 * MiB - 1);
			break;
		}
	pid_t pid = fork();
	ASSERT_LE(t, 0, pid);
	if (pid == 0) {
		struct vfio_group_status st = { .argsz = sizeof(st) };
		if (ioctl(s.group, VFIO_GROUP_GET_STATUS, &st) || st.flags != (VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET))
			_exit(2);
		_exit(try_map(s.container, iova, MiB, 0, RW, 0) ? 3 : 0);
	}
	int st;
	ASSERT_EQ(t, pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(t, WIFEXITED(st));
	EXPECT_EQ(t, 0, WEXITSTATUS(st));
	uint64_t done = 0;
	EXPECT_EQ(t, 0, try_unmap(s.container, iova, MiB, 0, &done));
	EXPECT_EQ(t, MiB, done);
}

/* A dup keeps the group open: the file is released at its last close, not its first. */
static void dup_keeps_group_open(struct ksft *t, const void *v)
{
	(void)v;
	struct vfio_setup s;
	need_group(t, &s);
	char p[64];
	snprintf(p, sizeof(p), "/dev/vfio/%s", s.id);
	int g = open_group(t, s.id);
	int g2 = dup(g);
	ASSERT_LE(t, 0, g2);
	ASSERT_EQ(t, 0, close(g));
	EXPECT_ERRNO(t, EBUSY, open(p, O_RDWR));
	struct vfio_group_status st = { .argsz = sizeof(st) };
	EXPECT_EQ(t, 0, ioctl(g2, VFIO_GROUP_GET_STATUS, &st));
	ASSERT_EQ(t, 0, close(g2));
	int again = open(p, O_RDWR);
	EXPECT_LE(t, 0, again);
}

/* A process that exits without closing releases what it held. */
static void exit_releases_group(struct ksft *t, const void *v)
{
	(void)v;
	struct vfio_setup s;
	need_group(t, &s);
	char p[64];
	snprintf(p, sizeof(p), "/dev/vfio/%s", s.id);
	pid_t pid = fork();
	ASSERT_LE(t, 0, pid);
	if (pid == 0)
		_exit(open(p, O_RDWR) >= 0 ? 0 : 1);
	int st;
	ASSERT_EQ(t, pid, waitpid(pid, &st, 0));
	EXPECT_EQ(t, 0, WEXITSTATUS(st));
	int g = open(p, O_RDWR);
	EXPECT_LE(t, 0, g);
}

static const struct ksft_case CASES[] = {
	{ "device.qemu_info_argsz_loop", qemu_info_argsz_loop, NULL },
	{ "device.dpdk_check_extension_is_one", dpdk_check_extension_is_one, NULL },
	{ "device.rust_vmm_group_viable", rust_vmm_group_viable, NULL },
	{ "device.config_space_ids", config_space_ids, NULL },
	{ "device.region_mmap", region_mmap, NULL },
	{ "device.region_mmap_private", region_mmap_private, NULL },
	{ "device.irq_eventfd", irq_eventfd, NULL },
	{ "device.fork_inherited_container", fork_inherited_container, NULL },
	{ "device.dup_keeps_group_open", dup_keeps_group_open, NULL },
	{ "device.exit_releases_group", exit_releases_group, NULL },
};

int main(void)
{
	int r = vfio_or_skip();
	return r ? r : ksft_main(CASES, KSFT_CASES(CASES));
}
