/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What every VFIO conformance program needs, written the way a consumer writes it against
 * <linux/vfio.h>: find a viable group on vfio-pci in /sys, open the container and the group,
 * SET_CONTAINER + SET_IOMMU, type1 MAP/UNMAP/GET_INFO with the capability chain. The C twins of
 * kselftest/lib/iommu.ts (same choices, so the same tests pick the same group).
 * @see tools/testing/selftests/vfio/lib/iommu.c, vfio_pci_device.c
 */
#ifndef IOMMU_EMU_VFIO_UTIL_H
#define IOMMU_EMU_VFIO_UTIL_H

#include <dirent.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "ksft.h"

#define MiB (1ULL << 20)

struct iommu_mode {
	const char *name;
	int type;
};

static const struct iommu_mode IOMMU_MODES[] = {
	{ "vfio_type1_iommu", VFIO_TYPE1_IOMMU },
	{ "vfio_type1v2_iommu", VFIO_TYPE1v2_IOMMU },
};

/* A sysfs attribute's first line (trailing newline dropped); -1 when unreadable. */
static inline int read_attr(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	char *nl = strchr(buf, '\n');
	if (nl)
		*nl = 0;
	return 0;
}

/* The basename of a symlink's target ("" when it is not a link). */
static inline void link_name(const char *path, char *out, size_t len)
{
	char buf[512];
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);
	out[0] = 0;
	if (n <= 0)
		return;
	buf[n] = 0;
	const char *b = strrchr(buf, '/');
	b = b ? b + 1 : buf;
	size_t l = strlen(b) < len - 1 ? strlen(b) : len - 1;
	memcpy(out, b, l);
	out[l] = 0;
}

static inline int by_number(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	long d = strtol(x, NULL, 10) - strtol(y, NULL, 10);
	return d ? (d < 0 ? -1 : 1) : strcmp(x, y);
}

/* Entries of a directory, sorted by number then name; the caller frees. */
static inline int list_dir(const char *path, char ***out)
{
	DIR *d = opendir(path);
	int n = 0, cap = 16;
	char **v = malloc(sizeof(char *) * (size_t)cap);
	if (!d) {
		*out = v;
		return 0;
	}
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap)
			v = realloc(v, sizeof(char *) * (size_t)(cap *= 2));
		v[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(v, (size_t)n, sizeof(char *), by_number);
	*out = v;
	return n;
}

static inline void free_list(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static inline void pci_driver(const char *bdf, char *out, size_t len)
{
	char p[256];
	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/driver", bdf);
	link_name(p, out, len);
}

/* Drivers that do not take the group's DMA (driver_managed_dma or no DMA at all). */
static inline int non_dma_api_driver(const char *d)
{
	return !*d || !strcmp(d, "vfio-pci") || !strcmp(d, "pci-stub") || !strcmp(d, "pcieport");
}

/*
 * The first group (by number) VFIO can take: one member at least on vfio-pci, the others on
 * drivers that leave DMA alone. `bdf` gets its first vfio-pci member. 0 when found.
 */
static inline int find_vfio_group(char *id, size_t idlen, char *bdf, size_t bdflen)
{
	char **groups;
	int ng = list_dir("/sys/kernel/iommu_groups", &groups), found = -1;
	for (int i = 0; i < ng && found < 0; i++) {
		char p[256], **devs;
		snprintf(p, sizeof(p), "/sys/kernel/iommu_groups/%s/devices", groups[i]);
		int nd = list_dir(p, &devs), vfio = -1, ok = 1;
		for (int j = 0; j < nd; j++) {
			char drv[64];
			pci_driver(devs[j], drv, sizeof(drv));
			if (!strcmp(drv, "vfio-pci") && vfio < 0)
				vfio = j;
			if (!non_dma_api_driver(drv))
				ok = 0;
		}
		if (vfio >= 0 && ok) {
			snprintf(id, idlen, "%s", groups[i]);
			snprintf(bdf, bdflen, "%s", devs[vfio]);
			found = 0;
		}
		free_list(devs, nd);
	}
	free_list(groups, ng);
	return found;
}

struct vfio_setup {
	int container, group;
	char id[16], bdf[32];
};

/* The group the tests use, or SKIP. */
static inline void need_group(struct ksft *t, struct vfio_setup *s)
{
	if (find_vfio_group(s->id, sizeof(s->id), s->bdf, sizeof(s->bdf)))
		SKIP(t, "no viable group bound to vfio-pci");
}

static inline int open_container(struct ksft *t)
{
	int fd = open("/dev/vfio/vfio", O_RDWR);
	ASSERT_LE(t, 0, fd);
	ASSERT_EQ(t, VFIO_API_VERSION, ioctl(fd, VFIO_GET_API_VERSION));
	return fd;
}

static inline int open_group(struct ksft *t, const char *id)
{
	char p[64];
	snprintf(p, sizeof(p), "/dev/vfio/%s", id);
	int fd = open(p, O_RDWR);
	ASSERT_LE(t, 0, fd);
	struct vfio_group_status st = { .argsz = sizeof(st) };
	ASSERT_EQ(t, 0, ioctl(fd, VFIO_GROUP_GET_STATUS, &st));
	ASSERT_TRUE(t, st.flags & VFIO_GROUP_FLAGS_VIABLE);
	return fd;
}

/* container + group + SET_CONTAINER + SET_IOMMU(mode); SKIP when the mode is not supported. */
static inline void iommu_init(struct ksft *t, const struct iommu_mode *mode, struct vfio_setup *s)
{
	need_group(t, s);
	s->container = open_container(t);
	if (ioctl(s->container, VFIO_CHECK_EXTENSION, mode->type) != 1)
		SKIP(t, "%s not supported", mode->name);
	s->group = open_group(t, s->id);
	ASSERT_EQ(t, 0, ioctl(s->group, VFIO_GROUP_SET_CONTAINER, &s->container));
	ASSERT_EQ(t, 0, ioctl(s->container, VFIO_SET_IOMMU, mode->type));
}

static inline void *buffer(size_t size)
{
	void *p = mmap(NULL, size ? size : 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* MAP_DMA: 0 or -errno. vaddr 0 maps fresh anonymous memory. */
static inline int try_map(int c, uint64_t iova, uint64_t size, uint64_t vaddr, uint32_t flags, uint32_t argsz)
{
	struct vfio_iommu_type1_dma_map m = {
		.argsz = argsz ? argsz : sizeof(m),
		.flags = flags,
		.vaddr = vaddr ? vaddr : (uintptr_t)buffer(size),
		.iova = iova,
		.size = size,
	};
	return ioctl(c, VFIO_IOMMU_MAP_DMA, &m) ? -errno : 0;
}

#define RW (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)

/* UNMAP_DMA: 0 or -errno; *unmapped gets the size the kernel wrote back. */
static inline int try_unmap(int c, uint64_t iova, uint64_t size, uint32_t flags, uint64_t *unmapped)
{
	struct vfio_iommu_type1_dma_unmap u = { .argsz = sizeof(u), .flags = flags, .iova = iova, .size = size };
	int rc = ioctl(c, VFIO_IOMMU_UNMAP_DMA, &u) ? -errno : 0;
	if (unmapped)
		*unmapped = u.size;
	return rc;
}

#define EXPECT_RC(t, e, rc) KSFT_CHECK(t, (rc) == -(e), 0, "Expected %s to fail with %s, got %d", #rc, #e, (int)(rc))

struct type1_info {
	int rc;
	struct vfio_iommu_type1_info info;
	int nr_ranges; /* -1: no IOVA range capability in the chain */
	struct vfio_iova_range ranges[64];
};

/* GET_INFO with a buffer of `argsz` bytes; walks the capability chain when it fit. */
static inline struct type1_info try_info(int c, uint32_t argsz)
{
	struct type1_info r = { .nr_ranges = -1 };
	size_t len = argsz > sizeof(r.info) ? argsz : sizeof(r.info);
	struct vfio_iommu_type1_info *p = calloc(1, len);
	p->argsz = argsz;
	r.rc = ioctl(c, VFIO_IOMMU_GET_INFO, p) ? -errno : 0;
	memcpy(&r.info, p, sizeof(r.info));
	for (uint32_t off = p->cap_offset; r.rc == 0 && off && off < argsz;) {
		struct vfio_info_cap_header *h = (void *)((char *)p + off);
		if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
			struct vfio_iommu_type1_info_cap_iova_range *cap = (void *)h;
			r.nr_ranges = cap->nr_iovas < 64 ? (int)cap->nr_iovas : 64;
			memcpy(r.ranges, cap->iova_ranges, sizeof(r.ranges[0]) * (size_t)r.nr_ranges);
		}
		off = h->next;
	}
	free(p);
	return r;
}

/* The protocol in two calls: the fixed size, then the argsz the kernel asked for. */
static inline struct type1_info iommu_info(struct ksft *t, int c)
{
	struct type1_info first = try_info(c, sizeof(struct vfio_iommu_type1_info));
	ASSERT_EQ(t, 0, first.rc);
	struct type1_info again = try_info(c, first.info.argsz);
	ASSERT_EQ(t, 0, again.rc);
	return again;
}

/* A group's reserved_regions: up to `max` (start, end, type) lines; returns the count. */
struct resv {
	uint64_t start, end;
	char type[32];
};

static inline int read_regions(const char *id, struct resv *out, int max)
{
	char p[128], line[256];
	snprintf(p, sizeof(p), "/sys/kernel/iommu_groups/%s/reserved_regions", id);
	FILE *f = fopen(p, "r");
	int n = 0;
	if (!f)
		return 0;
	while (n < max && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx %lx %31s", &out[n].start, &out[n].end, out[n].type) == 3)
			n++;
	fclose(f);
	return n;
}

/* Every program starts here: SKIP the whole program without VFIO, naming why. */
static inline int vfio_or_skip(void)
{
	struct stat st;
	if (stat("/dev/vfio/vfio", &st) == 0)
		return 0;
	char why[256];
	snprintf(why, sizeof(why), "/dev/vfio/vfio: %s (no VFIO here: load vfio-pci, or run under iommu-emu run)", strerror(errno));
	return ksft_exit_skip(why);
}

#endif
