// SPDX-License-Identifier: GPL-2.0-only
/*
 * The shim benchmark's client: VFIO_IOMMU_MAP_DMA + VFIO_IOMMU_UNMAP_DMA of one 4 KiB page in a
 * loop for SECONDS, in PROCS processes sharing one container (the others are fork children, as
 * with DPDK's secondary processes), each at an IOVA of its own. Every ioctl is timed; each
 * process prints "pairs N seconds S p50 P p90 P p99 P p999 P max P" (latencies in ns).
 * usage: shim_map_unmap GROUP SECONDS PROCS
 */
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES (1 << 22)

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int loop(int c, uint64_t iova, double seconds)
{
	void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct vfio_iommu_type1_dma_map m = { .argsz = sizeof(m), .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE, .vaddr = (uintptr_t)page, .iova = iova, .size = 4096 };
	struct vfio_iommu_type1_dma_unmap u = { .argsz = sizeof(u), .iova = iova, .size = 4096 };
	uint32_t *lat = malloc(sizeof(uint32_t) * MAX_SAMPLES);
	size_t n = 0;
	uint64_t pairs = 0, start = now_ns(), end = start + (uint64_t)(seconds * 1e9), t0 = start;
	while (t0 < end) {
		if (ioctl(c, VFIO_IOMMU_MAP_DMA, &m)) {
			perror("VFIO_IOMMU_MAP_DMA");
			return 1;
		}
		uint64_t t1 = now_ns();
		u.size = 4096;
		if (ioctl(c, VFIO_IOMMU_UNMAP_DMA, &u) || u.size != 4096) {
			perror("VFIO_IOMMU_UNMAP_DMA");
			return 1;
		}
		uint64_t t2 = now_ns();
		if (n + 2 <= MAX_SAMPLES) {
			lat[n++] = (uint32_t)(t1 - t0);
			lat[n++] = (uint32_t)(t2 - t1);
		}
		pairs++;
		t0 = t2;
	}
	qsort(lat, n, sizeof(*lat), cmp);
#define P(q) lat[(size_t)((double)(n - 1) * (q))]
	printf("pairs %llu seconds %.3f p50 %u p90 %u p99 %u p999 %u max %u\n", (unsigned long long)pairs, (double)(t0 - start) / 1e9, P(0.5), P(0.9), P(0.99),
	       P(0.999), lat[n - 1]);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 4)
		return fprintf(stderr, "usage: %s GROUP SECONDS PROCS\n", argv[0]), 2;
	char path[64];
	snprintf(path, sizeof(path), "/dev/vfio/%s", argv[1]);
	int c = open("/dev/vfio/vfio", O_RDWR), g = open(path, O_RDWR);
	if (c < 0 || g < 0 || ioctl(g, VFIO_GROUP_SET_CONTAINER, &c) || ioctl(c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU)) {
		perror("container");
		return 1;
	}
	int procs = atoi(argv[3]);
	double seconds = atof(argv[2]);
	for (int i = 1; i < procs; i++)
		if (fork() == 0)
			return loop(c, 0x100000000ull + (uint64_t)i * 0x100000, seconds);
	int rc = loop(c, 0x100000000ull, seconds);
	for (int st; wait(&st) > 0;)
		rc |= !WIFEXITED(st) || WEXITSTATUS(st);
	return rc;
}
