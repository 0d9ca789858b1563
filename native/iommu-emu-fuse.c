// SPDX-License-Identifier: GPL-2.0-only
/*
 * iommu-emu-fuse: the FUSE front end for users without root. It mounts a FUSE filesystem at
 * MOUNTPOINT with the setuid fusermount3 (which opens /dev/fuse, mounts, and passes the fd back
 * over a unix socket with SCM_RIGHTS — the one step Node cannot take without native code), then
 * relays every FUSE request to the run server's control socket and every reply (or notification)
 * back to /dev/fuse, untouched. It knows nothing of FUSE's structs: each /dev/fuse read is one
 * request, each framed reply is written back in one write(2).
 *
 *   iommu-emu-fuse MOUNTPOINT SOCKET [FSNAME]
 *
 * Exits when the server closes the socket or the filesystem is unmounted; fusermount3's
 * auto_unmount then removes the mount even if this process was killed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "iommu_emu_server.h"

#define FUSE_BUF (128 * 1024 + 4096)

static const char *prog = "iommu-emu-fuse";

static void die(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
	exit(1);
}

/* Run fusermount3 with _FUSE_COMMFD and take the /dev/fuse fd it sends back. */
static int fusermount(const char *mnt, const char *fsname, int *keep)
{
	int sv[2];
	char opts[512], env[32];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair");
	snprintf(opts, sizeof(opts), "fsname=%s,subtype=iommu-emu,auto_unmount", fsname);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		int fd = dup(sv[1]); /* without CLOEXEC */

		snprintf(env, sizeof(env), "%d", fd);
		setenv("_FUSE_COMMFD", env, 1);
		execlp("fusermount3", "fusermount3", "-o", opts, "--", mnt, (char *)NULL);
		fprintf(stderr, "%s: cannot run fusermount3: %s\n", prog, strerror(errno));
		_exit(127);
	}
	close(sv[1]);

	char byte;
	char ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	ssize_t n;

	do
		n = recvmsg(sv[0], &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		int status = 0;

		waitpid(pid, &status, 0);
		fprintf(stderr, "%s: fusermount3 did not mount %s (exit %d)\n", prog, mnt,
			WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
		exit(2);
	}
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	if (!c || c->cmsg_type != SCM_RIGHTS) {
		fprintf(stderr, "%s: fusermount3 sent no file descriptor\n", prog);
		exit(2);
	}
	int fd;

	memcpy(&fd, CMSG_DATA(c), sizeof(fd));
	/* With auto_unmount fusermount3 stays, watching sv[0]: keep it open until we exit. */
	*keep = sv[0];
	return fd;
}

static void write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("write to the server");
		p += n;
		len -= (size_t)n;
	}
}

static int read_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: %s MOUNTPOINT SOCKET [FSNAME]\n", prog);
		return 2;
	}
	int keep = -1;
	int fuse = fusermount(argv[1], argc > 3 ? argv[3] : "sysfs", &keep);

	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (s < 0)
		die("socket");
	if (strlen(argv[2]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "%s: socket path too long: %s\n", prog, argv[2]);
		return 2;
	}
	strcpy(sa.sun_path, argv[2]);
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die(argv[2]);

	struct iommu_emu_req req = { .magic = IOMMU_EMU_MAGIC, .version = IOMMU_EMU_PROTOCOL_VERSION,
				     .opcode = IOMMU_EMU_OP_HELLO, .pid = getpid(), .arg = IOMMU_EMU_ROLE_FUSE };
	struct iommu_emu_rsp rsp;

	write_all(s, &req, sizeof(req));
	if (read_all(s, &rsp, sizeof(rsp)) < 0 || rsp.magic != IOMMU_EMU_MAGIC || rsp.result < 0) {
		fprintf(stderr, "%s: the server refused the FUSE front end\n", prog);
		return 1;
	}

	static char buf[FUSE_BUF + sizeof(struct iommu_emu_req)];
	uint64_t seq = 0;
	struct pollfd p[2] = { { .fd = fuse, .events = POLLIN }, { .fd = s, .events = POLLIN } };

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if (p[0].revents & (POLLIN | POLLERR | POLLHUP)) {
			ssize_t n = read(fuse, buf + sizeof(req), FUSE_BUF);

			if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == ENOENT))
				continue;
			if (n < 0 && errno == ENODEV)
				return 0; /* unmounted */
			if (n < 0)
				die("read /dev/fuse");
			req = (struct iommu_emu_req){ .magic = IOMMU_EMU_MAGIC, .version = IOMMU_EMU_PROTOCOL_VERSION,
						      .opcode = IOMMU_EMU_OP_FUSE, .id = ++seq, .in_len = (__u32)n };
			memcpy(buf, &req, sizeof(req));
			write_all(s, buf, sizeof(req) + (size_t)n);
		}
		if (p[1].revents & (POLLIN | POLLERR | POLLHUP)) {
			if (read_all(s, &rsp, sizeof(rsp)) < 0)
				return 0; /* the server is done */
			if (rsp.magic != IOMMU_EMU_MAGIC || rsp.out_len > FUSE_BUF) {
				fprintf(stderr, "%s: bad frame from the server\n", prog);
				return 1;
			}
			if (read_all(s, buf, rsp.out_len) < 0)
				return 0;
			if (rsp.out_len && write(fuse, buf, rsp.out_len) < 0 && errno != ENOENT) {
				if (errno == ENODEV)
					return 0;
				die("write /dev/fuse");
			}
		}
	}
	(void)keep;
}
