// SPDX-License-Identifier: GPL-2.0-only
/*
 * The legacy VFIO container and group from C: open, status, SET_CONTAINER/SET_IOMMU ordering,
 * device fds. The C twin of kselftest/vfio/vfio_group_test.ts (same test names; the tests that
 * need the emulator's own API — hot-unplug, the kernel profile — stay TypeScript-only).
 * @see drivers/vfio/container.c, drivers/vfio/group.c
 */
#include "vfio_util.h"

static void group_nodes_only_for_vfio_groups(struct ksft *t, const void *v)
{
	(void)v;
	char **groups;
	int n = list_dir("/sys/kernel/iommu_groups", &groups);
	for (int i = 0; i < n; i++) {
		char p[256], **devs;
		snprintf(p, sizeof(p), "/sys/kernel/iommu_groups/%s/devices", groups[i]);
		int nd = list_dir(p, &devs), on_vfio = 0;
		for (int j = 0; j < nd; j++) {
			char drv[64];
			pci_driver(devs[j], drv, sizeof(drv));
			on_vfio |= !strcmp(drv, "vfio-pci");
		}
		free_list(devs, nd);
		snprintf(p, sizeof(p), "/dev/vfio/%s", groups[i]);
		struct stat st;
		int exists = stat(p, &st) == 0;
		KSFT_CHECK(t, exists == on_vfio, 0, "group %s: /dev/vfio/%s %s but %s", groups[i], groups[i], exists ? "exists" : "is missing",
			   on_vfio ? "a member is on vfio-pci" : "no member is on vfio-pci");
		if (exists)
			EXPECT_TRUE(t, S_ISCHR(st.st_mode));
	}
	free_list(groups, n);
	struct stat st;
	EXPECT_EQ(t, 0, stat("/dev/vfio/vfio", &st));
	EXPECT_TRUE(t, S_ISCHR(st.st_mode));
}

static void group_single_open(struct ksft *t, const void *v)
{
	(void)v;
	struct vfio_setup s;
	need_group(t, &s);
	int g = open_group(t, s.id);
	char p[64];
	snprintf(p, sizeof(p), "/dev/vfio/%s", s.id);
	EXPECT_ERRNO(t, EBUSY, open(p, O_RDWR));
	ASSERT_EQ(t, 0, close(g));
	int again = open(p, O_RDWR);
	EXPECT_LE(t, 0, again);
}

static int status_flags_of(int g, uint32_t argsz, int *rc)
{
	struct vfio_group_status st = { .argsz = argsz };
	*rc = ioctl(g, VFIO_GROUP_GET_STATUS, &st) ? -errno : 0;
	return (int)st.flags;
}

static void status_flags(struct ksft *t, const void *v)
{
	(void)v;
	struct vfio_setup s;
	int rc;
	need_group(t, &s);
	int c = open_container(t);
	int g = open_group(t, s.id);
	EXPECT_EQ(t, VFIO_GROUP_FLAGS_VIABLE, status_flags_of(g, sizeof(struct vfio_group_status), &rc));
	ASSERT_EQ(t, 0, ioctl(g, VFIO_GROUP_SET_CONTAINER, &c));
	EXPECT_EQ(t, VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET, status_flags_of(g, sizeof(struct vfio_group_status), &rc));
	ASSERT_EQ(t, 0, ioctl(g, VFIO_GROUP_UNSET_CONTAINER));
	EXPECT_EQ(t, VFIO_GROUP_FLAGS_VIABLE, status_flags_of(g, sizeof(struct vfio_group_status), &rc));
}

/* Each row: a call in the wrong state and the errno the kernel returns. */
struct order_row {
	int (*run)(int c, int g, const char *bdf);
	int err;
};

static int set_iommu_without_group(int c, int g, const char *bdf)
{
	(void)g, (void)bdf;
	return ioctl(c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU);
}

static int unset_container_without_container(int c, int g, const char *bdf)
{
	(void)c, (void)bdf;
	return ioctl(g, VFIO_GROUP_UNSET_CONTAINER);
}

static int get_device_fd_without_iommu(int c, int g, const char *bdf)
{
	ioctl(g, VFIO_GROUP_SET_CONTAINER, &c);
	return ioctl(g, VFIO_GROUP_GET_DEVICE_FD, bdf);
}

static int set_container_twice(int c, int g, const char *bdf)
{
	(void)bdf;
	ioctl(g, VFIO_GROUP_SET_CONTAINER, &c);
	return ioctl(g, VFIO_GROUP_SET_CONTAINER, &c);
}

static int set_container_bad_fd(int c, int g, const char *bdf)
{
	(void)c, (void)bdf;
	int bad = 999;
	return ioctl(g, VFIO_GROUP_SET_CONTAINER, &bad);
}

static int set_iommu_unknown_type(int c, int g, const char *bdf)
{
	(void)bdf;
	ioctl(g, VFIO_GROUP_SET_CONTAINER, &c);
	return ioctl(c, VFIO_SET_IOMMU, 0x7f);
}

static int status_argsz_too_small(int c, int g, const char *bdf)
{
	(void)c, (void)bdf;
	struct vfio_group_status st = { .argsz = sizeof(st) - 1 };
	return ioctl(g, VFIO_GROUP_GET_STATUS, &st);
}

static int status_bad_pointer(int c, int g, const char *bdf)
{
	(void)c, (void)bdf;
	return ioctl(g, VFIO_GROUP_GET_STATUS, NULL);
}

static int unknown_group_ioctl(int c, int g, const char *bdf)
{
	(void)c, (void)bdf;
	return ioctl(g, VFIO_CHECK_EXTENSION + 0x7f);
}

static const struct order_row ROWS[] = {
	{ set_iommu_without_group, EINVAL },	 { unset_container_without_container, EINVAL }, { get_device_fd_without_iommu, EINVAL },
	{ set_container_twice, EINVAL },	 { set_container_bad_fd, EBADF },		 { set_iommu_unknown_type, ENODEV },
	{ status_argsz_too_small, EINVAL },	 { status_bad_pointer, EFAULT },		 { unknown_group_ioctl, ENOTTY },
};

static void order_row(struct ksft *t, const void *v)
{
	const struct order_row *row = v;
	struct vfio_setup s;
	need_group(t, &s);
	int c = open_container(t);
	int g = open_group(t, s.id);
	int rc = row->run(c, g, s.bdf);
	int e = errno;
	KSFT_CHECK(t, rc == -1 && e == row->err, 0, "Expected errno %d (%s), got rc %d errno %d (%s)", row->err, strerror(row->err), rc, rc < 0 ? e : 0,
		   rc < 0 ? strerror(e) : "-");
}

static void check_extension(struct ksft *t, const void *v)
{
	const struct iommu_mode *mode = v;
	struct vfio_setup s;
	need_group(t, &s);
	int c = open_container(t);
	EXPECT_EQ(t, 1, ioctl(c, VFIO_CHECK_EXTENSION, mode->type));
	EXPECT_EQ(t, 0, ioctl(c, VFIO_CHECK_EXTENSION, 0x7f));
}

static void device_fd(struct ksft *t, const void *v)
{
	const struct iommu_mode *mode = v;
	struct vfio_setup s;
	iommu_init(t, mode, &s);
	int dev = ioctl(s.group, VFIO_GROUP_GET_DEVICE_FD, s.bdf);
	EXPECT_LE(t, 0, dev);
	EXPECT_ERRNO(t, ENODEV, ioctl(s.group, VFIO_GROUP_GET_DEVICE_FD, "0000:ff:1f.7"));
	EXPECT_ERRNO(t, EINVAL, ioctl(s.container, VFIO_SET_IOMMU, mode->type));
}

static const struct ksft_case CASES[] = {
	{ "vfio.group_nodes_only_for_vfio_groups", group_nodes_only_for_vfio_groups, NULL },
	{ "vfio.group_single_open", group_single_open, NULL },
	{ "vfio.status_flags", status_flags, NULL },
	{ "vfio.set_iommu_without_group", order_row, &ROWS[0] },
	{ "vfio.unset_container_without_container", order_row, &ROWS[1] },
	{ "vfio.get_device_fd_without_iommu", order_row, &ROWS[2] },
	{ "vfio.set_container_twice", order_row, &ROWS[3] },
	{ "vfio.set_container_bad_fd", order_row, &ROWS[4] },
	{ "vfio.set_iommu_unknown_type", order_row, &ROWS[5] },
	{ "vfio.status_argsz_too_small", order_row, &ROWS[6] },
	{ "vfio.status_bad_pointer", order_row, &ROWS[7] },
	{ "vfio.unknown_group_ioctl", order_row, &ROWS[8] },
	{ "iommu_mode.vfio_type1_iommu.check_extension", check_extension, &IOMMU_MODES[0] },
	{ "iommu_mode.vfio_type1_iommu.device_fd", device_fd, &IOMMU_MODES[0] },
	{ "iommu_mode.vfio_type1v2_iommu.check_extension", check_extension, &IOMMU_MODES[1] },
	{ "iommu_mode.vfio_type1v2_iommu.device_fd", device_fd, &IOMMU_MODES[1] },
};

int main(void)
{
	int r = vfio_or_skip();
	return r ? r : ksft_main(CASES, KSFT_CASES(CASES));
}
