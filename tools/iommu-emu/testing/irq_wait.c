// SPDX-License-Identifier: GPL-2.0-only
/*
 * Test helper: wire eventfds to MSI-X vectors 0..COUNT-1 of DEVICE (group GROUP, type1v2),
 * create READY, then wait (20 s at most) for one of them to fire and print
 * "vector N count C". What QEMU's interrupt path does, reduced to its syscalls.
 * usage: irq_wait GROUP DEVICE COUNT READY
 */
#include <fcntl.h>
#include <linux/vfio.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int die(const char *what)
{
	perror(what);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc != 5)
		return fprintf(stderr, "usage: %s GROUP DEVICE COUNT READY\n", argv[0]), 2;
	char path[64];
	int n = atoi(argv[3]);
	snprintf(path, sizeof(path), "/dev/vfio/%s", argv[1]);
	int c = open("/dev/vfio/vfio", O_RDWR), g = open(path, O_RDWR);
	if (c < 0 || g < 0)
		return die("open");
	if (ioctl(g, VFIO_GROUP_SET_CONTAINER, &c) || ioctl(c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		return die("container");
	int d = ioctl(g, VFIO_GROUP_GET_DEVICE_FD, argv[2]);
	if (d < 0 || n < 1 || n > 64)
		return die("device");
	char buf[sizeof(struct vfio_irq_set) + 64 * sizeof(int32_t)];
	struct vfio_irq_set *set = (void *)buf;
	struct pollfd p[64];
	*set = (struct vfio_irq_set){ .argsz = sizeof(*set) + sizeof(int32_t) * n, .flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
				      .index = VFIO_PCI_MSIX_IRQ_INDEX, .count = n };
	for (int i = 0; i < n; i++) {
		int32_t e = eventfd(0, EFD_CLOEXEC);
		memcpy(set->data + i * sizeof(int32_t), &e, sizeof(e));
		p[i] = (struct pollfd){ .fd = e, .events = POLLIN };
	}
	if (ioctl(d, VFIO_DEVICE_SET_IRQS, set))
		return die("VFIO_DEVICE_SET_IRQS");
	close(open(argv[4], O_CREAT | O_WRONLY, 0644));
	if (poll(p, n, 20000) <= 0)
		return fprintf(stderr, "no interrupt\n"), 1;
	for (int i = 0; i < n; i++)
		if (p[i].revents & POLLIN) {
			uint64_t v;
			if (read(p[i].fd, &v, 8) != 8)
				return die("read");
			printf("vector %d count %llu\n", i, (unsigned long long)v);
		}
	return 0;
}
