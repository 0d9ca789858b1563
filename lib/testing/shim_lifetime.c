// SPDX-License-Identifier: GPL-2.0-only
/*
 * Test program for the preload shim's fd semantics (lib/server/preload.test.ts): each mode prints
 * what the kernel's rules predict, line by line, so the test compares text.
 * usage: shim_lifetime MODE GROUP [DEVICE]
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static char group_path[64];

static int status(int g)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	return ioctl(g, VFIO_GROUP_GET_STATUS, &st) ? -errno : (int)st.flags;
}

static int try_open(void)
{
	int fd = open(group_path, O_RDWR);
	return fd < 0 ? -errno : fd;
}

static void send_fd(int s, int fd)
{
	char byte = 0;
	struct iovec iov = { &byte, 1 };
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr a;
	} cm;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b, .msg_controllen = sizeof(cm.b) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	if (sendmsg(s, &mh, 0) != 1)
		perror("sendmsg");
}

static int recv_fd(int s)
{
	char byte;
	struct iovec iov = { &byte, 1 };
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr a;
	} cm;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b, .msg_controllen = sizeof(cm.b) };
	if (recvmsg(s, &mh, 0) != 1)
		return -1;
	int fd;
	memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int));
	return fd;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	snprintf(group_path, sizeof(group_path), "/dev/vfio/%s", argv[2]);
	const char *mode = argv[1];
	if (!strcmp(mode, "numbers")) {
		/* fds are numbered as the kernel numbers them: the lowest free, the placeholder's own. */
		int c = open("/dev/vfio/vfio", O_RDWR);
		int g = open(group_path, O_RDWR | O_CLOEXEC);
		printf("container %d group %d\n", c, g);
		printf("cloexec container %d group %d\n", fcntl(c, F_GETFD) & FD_CLOEXEC, fcntl(g, F_GETFD) & FD_CLOEXEC);
		printf("getfl %o\n", fcntl(g, F_GETFL) & O_ACCMODE);
		ioctl(g, VFIO_GROUP_SET_CONTAINER, &c);
		ioctl(c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU);
		close(c); /* a hole below the next fd */
		int d = ioctl(g, VFIO_GROUP_GET_DEVICE_FD, argv[3]);
		printf("device %d cloexec %d\n", d, fcntl(d, F_GETFD) & FD_CLOEXEC);
		int d2 = fcntl(d, F_DUPFD_CLOEXEC, 10);
		struct vfio_device_info di = { .argsz = sizeof(di) };
		int rc = ioctl(d2, VFIO_DEVICE_GET_INFO, &di);
		printf("dupfd %d info %d regions %u\n", d2, rc, di.num_regions);
		return 0;
	}
	if (!strcmp(mode, "scm")) {
		/* An emulated fd passed over a unix socket is the same open file in the receiver. */
		int sv[2];
		socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
		int g = try_open();
		pid_t pid = fork();
		if (pid == 0) {
			close(sv[0]);
			int got = recv_fd(sv[1]);
			char go;
			if (read(sv[1], &go, 1) != 1)
				return 1;
			printf("child status %d\n", status(got));
			fflush(stdout);
			return 0;
		}
		close(sv[1]);
		send_fd(sv[0], g);
		close(g);
		printf("parent reopen while the child holds it %d\n", try_open());
		fflush(stdout);
		if (write(sv[0], "x", 1) != 1)
			return 1;
		waitpid(pid, NULL, 0);
		printf("parent reopen after the child exited %d\n", try_open() >= 0);
		return 0;
	}
	if (!strcmp(mode, "exec")) {
		/* Across execve an emulated fd without O_CLOEXEC stays open and usable; with it, it goes. */
		int keep = try_open();
		int gone = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
		char a[16], b[16];
		snprintf(a, sizeof(a), "%d", keep);
		snprintf(b, sizeof(b), "%d", gone);
		fflush(stdout);
		execl("/proc/self/exe", argv[0], "exec-child", argv[2], a, b, (char *)NULL);
		perror("execl");
		return 1;
	}
	if (!strcmp(mode, "exec-child")) {
		int keep = atoi(argv[3]), gone = atoi(argv[4]);
		printf("after exec: kept status %d, cloexec fd %s\n", status(keep), fcntl(gone, F_GETFD) < 0 && errno == EBADF ? "closed" : "open");
		printf("reopen while kept %d\n", try_open());
		close(keep);
		printf("reopen after close %d\n", try_open() >= 0);
		return 0;
	}
	if (!strcmp(mode, "dup2")) {
		/* dup2 onto an emulated fd closes it: its release runs before the call returns. */
		int g = try_open();
		int other = open("/dev/null", O_RDONLY);
		printf("dup2 %d\n", dup2(other, g) == g);
		printf("reopen %d\n", try_open() >= 0);
		return 0;
	}
	if (!strcmp(mode, "hold")) {
		/* Open the group and stay until killed (the test kills it: exit releases). */
		printf("held %d\n", try_open() >= 0);
		fflush(stdout);
		pause();
		return 0;
	}
	return 2;
}
