// SPDX-License-Identifier: GPL-2.0-only
/*
 * The type1 IOMMU backend from C: GET_INFO and its argsz protocol, usable IOVA ranges against
 * the group's reserved_regions, MAP/UNMAP rules, the argsz length checks, for every IOMMU mode.
 * The C twin of kselftest/vfio/vfio_type1_test.ts (same names, same verdicts).
 * @see drivers/vfio/vfio_iommu_type1.c, tools/testing/selftests/vfio/vfio_dma_mapping_test.c
 */
#include <stddef.h>

#include "vfio_util.h"

struct self {
	struct vfio_setup s;
	uint64_t iova, pgsize;
};

/* The fixture: a type1 container with a free, usable IOVA that has room for 16 MiB. */
static void setup(struct ksft *t, const struct iommu_mode *mode, struct self *self)
{
	iommu_init(t, mode, &self->s);
	struct type1_info info = iommu_info(t, self->s.container);
	self->pgsize = info.info.iova_pgsizes & -info.info.iova_pgsizes;
	struct vfio_iova_range all = { 0, (1ULL << 39) - 1 };
	const struct vfio_iova_range *ranges = info.nr_ranges >= 0 ? info.ranges : &all;
	int n = info.nr_ranges >= 0 ? info.nr_ranges : 1;
	for (int i = 0; i < n; i++) {
		const struct vfio_iova_range *r = &ranges[i];
		if (r->end - r->start + 1 >= 32 * MiB && r->start + 16 * MiB > r->start) {
			self->iova = (r->start + 16 * MiB - 1) & ~(16 * MiB - 1);
			return;
		}
	}
	SKIP(t, "no usable IOVA range of 32 MiB");
}

#define FIXTURE(name)                                                                                                  \
	static void name##_body(struct ksft *t, struct self *s, const struct iommu_mode *mode);                        \
	static void name(struct ksft *t, const void *v)                                                                \
	{                                                                                                              \
		struct self self;                                                                                      \
		setup(t, v, &self);                                                                                    \
		name##_body(t, &self, v);                                                                              \
	}                                                                                                              \
	static void name##_body(struct ksft *t, struct self *s, const struct iommu_mode *mode)

#define C (s->s.container)

FIXTURE(info_argsz_protocol)
{
	(void)mode;
	uint32_t minsz = offsetof(struct vfio_iommu_type1_info, iova_pgsizes) + sizeof(__u64);
	EXPECT_EQ(t, -EINVAL, try_info(C, minsz - 1).rc);
	struct type1_info min = try_info(C, minsz);
	EXPECT_EQ(t, 0, min.rc);
	EXPECT_TRUE(t, min.info.flags & VFIO_IOMMU_INFO_PGSIZES);
	EXPECT_NE(t, 0, min.info.iova_pgsizes);
	struct type1_info fixed = try_info(C, sizeof(struct vfio_iommu_type1_info));
	EXPECT_EQ(t, 0, fixed.rc);
	/* Kernels with the IOVA range capability (v5.4+) ask for more room. */
	if (fixed.info.flags & VFIO_IOMMU_INFO_CAPS) {
		EXPECT_EQ(t, 0, fixed.info.cap_offset);
		EXPECT_LT(t, sizeof(struct vfio_iommu_type1_info), fixed.info.argsz);
		struct type1_info full = try_info(C, fixed.info.argsz);
		EXPECT_EQ(t, fixed.info.argsz, full.info.argsz);
		EXPECT_LE(t, sizeof(struct vfio_iommu_type1_info), full.info.cap_offset);
		EXPECT_LE(t, 0, full.nr_ranges);
	}
}

/* Usable IOVA = everything minus the group's reserved regions, except direct-relaxable ones. */
FIXTURE(iova_ranges_avoid_reserved_regions)
{
	(void)mode;
	struct type1_info info = iommu_info(t, C);
	if (info.nr_ranges < 0)
		SKIP(t, "no IOVA range capability before v5.4");
	ASSERT_LT(t, 0, info.nr_ranges);
	for (int i = 1; i < info.nr_ranges; i++)
		EXPECT_LT(t, info.ranges[i - 1].end + 1, info.ranges[i].start);
	struct resv r[64];
	int n = read_regions(s->s.id, r, 64);
	for (int j = 0; j < n; j++) {
		if (!strcmp(r[j].type, "direct-relaxable"))
			continue;
		for (int i = 0; i < info.nr_ranges; i++)
			KSFT_CHECK(t, info.ranges[i].end < r[j].start || info.ranges[i].start > r[j].end, 0, "usable [%llx, %llx] overlaps %s region [%lx, %lx]",
				   info.ranges[i].start, info.ranges[i].end, r[j].type, r[j].start, r[j].end);
	}
}

FIXTURE(map_unmap)
{
	(void)mode;
	uint64_t done;
	ASSERT_EQ(t, 0, try_map(C, s->iova, MiB, 0, RW, 0));
	ASSERT_EQ(t, 0, try_unmap(C, s->iova, MiB, 0, &done));
	EXPECT_EQ(t, MiB, done);
	ASSERT_EQ(t, 0, try_unmap(C, s->iova, MiB, 0, &done));
	EXPECT_EQ(t, 0, done);
}

FIXTURE(map_overlap)
{
	(void)mode;
	ASSERT_EQ(t, 0, try_map(C, s->iova, MiB, 0, RW, 0));
	EXPECT_RC(t, EEXIST, try_map(C, s->iova + s->pgsize, MiB, 0, RW, 0));
}

FIXTURE(map_zero_size)
{
	(void)mode;
	EXPECT_RC(t, EINVAL, try_map(C, s->iova, 0, 0, RW, 0));
}

FIXTURE(map_unaligned_iova)
{
	(void)mode;
	EXPECT_RC(t, EINVAL, try_map(C, s->iova + 1, s->pgsize, 0, RW, 0));
}

FIXTURE(map_unaligned_size)
{
	(void)mode;
	EXPECT_RC(t, EINVAL, try_map(C, s->iova, s->pgsize + 1, 0, RW, 0));
}

FIXTURE(map_no_access_flags)
{
	(void)mode;
	EXPECT_RC(t, EINVAL, try_map(C, s->iova, s->pgsize, 0, 0, 0));
}

FIXTURE(map_unknown_flag)
{
	(void)mode;
	EXPECT_RC(t, EINVAL, try_map(C, s->iova, s->pgsize, 0, VFIO_DMA_MAP_FLAG_READ | (1 << 8), 0));
}

FIXTURE(map_unmapped_vaddr)
{
	(void)mode;
	EXPECT_RC(t, EFAULT, try_map(C, s->iova, s->pgsize, 0x1000, RW, 0));
}

FIXTURE(map_into_reserved_region)
{
	(void)mode;
	struct resv r[64];
	int n = read_regions(s->s.id, r, 64), at = -1;
	for (int j = 0; j < n && at < 0; j++)
		if (strcmp(r[j].type, "direct-relaxable") && r[j].end - r[j].start + 1 >= s->pgsize)
			at = j;
	if (at < 0 || iommu_info(t, C).nr_ranges < 0)
		SKIP(t, "no reserved region to aim at");
	EXPECT_RC(t, EINVAL, try_map(C, r[at].start, s->pgsize, 0, RW, 0));
}

FIXTURE(unmap_bisects_mapping)
{
	if (mode->type != VFIO_TYPE1v2_IOMMU)
		SKIP(t, "type1 v1 unmaps whole mappings it overlaps");
	ASSERT_EQ(t, 0, try_map(C, s->iova, 2 * MiB, 0, RW, 0));
	EXPECT_RC(t, EINVAL, try_unmap(C, s->iova + MiB, MiB, 0, NULL));
}

FIXTURE(unmap_all)
{
	(void)mode;
	uint64_t done;
	if (ioctl(C, VFIO_CHECK_EXTENSION, VFIO_UNMAP_ALL) != 1)
		SKIP(t, "VFIO_DMA_UNMAP_FLAG_ALL from v5.12");
	ASSERT_EQ(t, 0, try_map(C, s->iova, MiB, 0, RW, 0));
	ASSERT_EQ(t, 0, try_map(C, s->iova + 4 * MiB, MiB, 0, RW, 0));
	EXPECT_RC(t, EINVAL, try_unmap(C, s->iova, MiB, VFIO_DMA_UNMAP_FLAG_ALL, NULL));
	ASSERT_EQ(t, 0, try_unmap(C, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, &done));
	EXPECT_EQ(t, 2 * MiB, done);
}

/*
 * VFIO's argsz rule: below offsetofend(last) is EINVAL, exactly there works, and a larger buffer
 * with garbage behind it is accepted (unlike iommufd).
 */
static int call_len(int c, unsigned long cmd, const void *value, size_t vsize, uint32_t minsz, uint32_t argsz, size_t bufsz, int tail)
{
	char *b = malloc(bufsz);
	memset(b, tail, bufsz);
	memcpy(b, value, minsz < vsize ? minsz : vsize);
	memcpy(b, &argsz, sizeof(argsz));
	int rc = ioctl(c, cmd, b) ? -errno : 0;
	free(b);
	return rc;
}

static void cmd_length(struct ksft *t, struct self *s, unsigned long cmd, const void *value, size_t vsize, uint32_t minsz, int unmap_after)
{
	EXPECT_EQ(t, -EINVAL, call_len(C, cmd, value, vsize, minsz, minsz - 1, minsz, 0));
	EXPECT_EQ(t, 0, call_len(C, cmd, value, vsize, minsz, minsz, minsz, 0));
	if (unmap_after)
		ASSERT_EQ(t, 0, try_unmap(C, s->iova, s->pgsize, 0, NULL));
	EXPECT_EQ(t, 0, call_len(C, cmd, value, vsize, minsz, minsz + 64, minsz + 64, unmap_after ? 0xa5 : 0));
	EXPECT_ERRNO(t, EFAULT, ioctl(C, cmd, NULL));
}

FIXTURE(cmd_length_get_info)
{
	(void)mode;
	struct vfio_iommu_type1_info v = { 0 };
	cmd_length(t, s, VFIO_IOMMU_GET_INFO, &v, sizeof(v), offsetof(struct vfio_iommu_type1_info, iova_pgsizes) + sizeof(__u64), 0);
}

FIXTURE(cmd_length_map_dma)
{
	(void)mode;
	struct vfio_iommu_type1_dma_map v = { .flags = VFIO_DMA_MAP_FLAG_READ, .vaddr = (uintptr_t)buffer(s->pgsize), .iova = s->iova, .size = s->pgsize };
	cmd_length(t, s, VFIO_IOMMU_MAP_DMA, &v, sizeof(v), offsetof(struct vfio_iommu_type1_dma_map, size) + sizeof(__u64), 1);
}

FIXTURE(cmd_length_unmap_dma)
{
	(void)mode;
	struct vfio_iommu_type1_dma_unmap v = { .iova = s->iova, .size = s->pgsize };
	cmd_length(t, s, VFIO_IOMMU_UNMAP_DMA, &v, sizeof(v), offsetof(struct vfio_iommu_type1_dma_unmap, size) + sizeof(__u64), 1);
}

/* Closing the fds with live mappings releases them: a fresh container maps the same IOVA. */
FIXTURE(close_with_mappings)
{
	(void)mode;
	ASSERT_EQ(t, 0, try_map(C, s->iova, MiB, 0, RW, 0));
	EXPECT_EQ(t, 0, close(s->s.group));
	EXPECT_EQ(t, 0, close(s->s.container));
	struct vfio_setup again;
	iommu_init(t, &IOMMU_MODES[1], &again);
	ASSERT_EQ(t, 0, try_map(again.container, s->iova, MiB, 0, RW, 0));
}

static const struct ksft_case V1[] = {
#define ONE(name) { "type1.vfio_type1_iommu." #name, name, &IOMMU_MODES[0] },
#define EACH(X)                                                                                                        \
	X(info_argsz_protocol)                                                                                         \
	X(iova_ranges_avoid_reserved_regions)                                                                          \
	X(map_unmap)                                                                                                   \
	X(map_overlap)                                                                                                 \
	X(map_zero_size)                                                                                               \
	X(map_unaligned_iova)                                                                                          \
	X(map_unaligned_size)                                                                                          \
	X(map_no_access_flags)                                                                                         \
	X(map_unknown_flag)                                                                                            \
	X(map_unmapped_vaddr)                                                                                          \
	X(map_into_reserved_region)                                                                                    \
	X(unmap_bisects_mapping)                                                                                       \
	X(unmap_all)                                                                                                   \
	X(cmd_length_get_info)                                                                                         \
	X(cmd_length_map_dma)                                                                                          \
	X(cmd_length_unmap_dma)                                                                                        \
	X(close_with_mappings)
	EACH(ONE)
#undef ONE
#define ONE(name) { "type1.vfio_type1v2_iommu." #name, name, &IOMMU_MODES[1] },
	EACH(ONE)
#undef ONE
};

int main(void)
{
	int r = vfio_or_skip();
	return r ? r : ksft_main(V1, KSFT_CASES(V1));
}
