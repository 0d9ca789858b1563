// SPDX-License-Identifier: GPL-2.0-only
/*
 * LD_PRELOAD shim of `iommu-emu run`: the program's calls on the emulated VFIO and iommufd nodes
 * (/dev/vfio/..., /dev/iommu) go to the run server; everything else goes to libc untouched.
 *
 * - An emulated fd is a real fd: one end of a socketpair whose other end the server holds. Its
 *   number, dup, O_CLOEXEC, fork inheritance, SCM_RIGHTS and exit are the kernel's; when its last
 *   reference goes anywhere, the server's end hangs up and the emulated file is released.
 * - Requests carry the raw call: (pid, the file's handle, fd, request, raw argument). The server
 *   copies from and to this process's memory itself (process_vm_readv/writev), so no struct of
 *   <linux/vfio.h> or <linux/iommufd.h> is known here.
 * - One connection per process (a fork child makes its own and says whose child it is); close()
 *   is a request, so a release has run before close returns.
 * - The frame layouts and numbers come from iommu_emu_server.h, generated from
 *   lib/server/channel.ts.
 *
 * Inactive (every call straight to libc) unless IOMMU_EMU_PRELOAD_SOCKET names the socket.
 * Statically linked programs and raw syscall(2) bypass it: see README.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "iommu_emu_server.h"

#define EXPORT __attribute__((visibility("default")))
/* glibc declares some pointers nonnull that programs pass as NULL (AT_EMPTY_PATH): keep the test. */
#define OPAQUE(p)                                                                                                      \
	({                                                                                                             \
		__typeof__(p) _q = (p);                                                                                \
		__asm__("" : "+r"(_q));                                                                                \
		_q;                                                                                                    \
	})
#define EMPTY_PATH(p) (!OPAQUE(p) || !*(p))
#define MAX_NEWFDS 16
/* The fd table covers fds below this; an emulated fd above it (not seen in practice) is refused. */
#define NR_FDS (1 << 20)

/* ---- libc, the real one -------------------------------------------------------------------- */

#define REAL(ret, name, ...)                                                                                           \
	static ret (*real_##name)(__VA_ARGS__);                                                                        \
	static ret (*get_##name(void))(__VA_ARGS__)                                                                    \
	{                                                                                                              \
		if (!real_##name)                                                                                      \
			real_##name = (ret(*)(__VA_ARGS__))dlsym(RTLD_NEXT, #name);                                    \
		return real_##name;                                                                                    \
	}

REAL(int, open, const char *, int, ...)
REAL(int, open64, const char *, int, ...)
REAL(int, openat, int, const char *, int, ...)
REAL(int, openat64, int, const char *, int, ...)
REAL(int, __open_2, const char *, int)
REAL(int, __open64_2, const char *, int)
REAL(int, __openat_2, int, const char *, int)
REAL(int, __openat64_2, int, const char *, int)
REAL(int, close, int)
REAL(int, close_range, unsigned int, unsigned int, int)
REAL(void, closefrom, int)
REAL(int, dup, int)
REAL(int, dup2, int, int)
REAL(int, dup3, int, int, int)
REAL(int, fcntl, int, int, ...)
REAL(int, fcntl64, int, int, ...)
REAL(int, ioctl, int, unsigned long, ...)
REAL(ssize_t, read, int, void *, size_t)
REAL(ssize_t, write, int, const void *, size_t)
REAL(ssize_t, pread, int, void *, size_t, off_t)
REAL(ssize_t, pread64, int, void *, size_t, off64_t)
REAL(ssize_t, pwrite, int, const void *, size_t, off_t)
REAL(ssize_t, pwrite64, int, const void *, size_t, off64_t)
REAL(ssize_t, __read_chk, int, void *, size_t, size_t)
REAL(ssize_t, __pread_chk, int, void *, size_t, off_t, size_t)
REAL(ssize_t, __pread64_chk, int, void *, size_t, off64_t, size_t)
REAL(void *, mmap, void *, size_t, int, int, int, off_t)
REAL(void *, mmap64, void *, size_t, int, int, int, off64_t)
REAL(pid_t, fork, void)
REAL(ssize_t, recvmsg, int, struct msghdr *, int)
REAL(int, stat, const char *, struct stat *)
REAL(int, stat64, const char *, struct stat64 *)
REAL(int, lstat, const char *, struct stat *)
REAL(int, lstat64, const char *, struct stat64 *)
REAL(int, fstat, int, struct stat *)
REAL(int, fstat64, int, struct stat64 *)
REAL(int, fstatat, int, const char *, struct stat *, int)
REAL(int, fstatat64, int, const char *, struct stat64 *, int)
REAL(int, __xstat, int, const char *, struct stat *)
REAL(int, __xstat64, int, const char *, struct stat64 *)
REAL(int, __lxstat, int, const char *, struct stat *)
REAL(int, __lxstat64, int, const char *, struct stat64 *)
REAL(int, __fxstat, int, int, struct stat *)
REAL(int, __fxstat64, int, int, struct stat64 *)
REAL(int, __fxstatat, int, int, const char *, struct stat *, int)
REAL(int, __fxstatat64, int, int, const char *, struct stat64 *, int)
REAL(int, statx, int, const char *, int, unsigned int, struct statx *)
REAL(int, access, const char *, int)
REAL(int, faccessat, int, const char *, int, int)
REAL(int, euidaccess, const char *, int)
REAL(int, eaccess, const char *, int)
REAL(int, statfs, const char *, struct statfs *)
REAL(int, statfs64, const char *, struct statfs64 *)
REAL(int, fstatfs, int, struct statfs *)
REAL(int, fstatfs64, int, struct statfs64 *)

extern void __chk_fail(void) __attribute__((noreturn));

/* x86_64 and arm64: the LFS types are the plain ones under another name. */
_Static_assert(sizeof(struct stat64) == sizeof(struct stat), "struct stat64");
_Static_assert(sizeof(struct statfs64) == sizeof(struct statfs), "struct statfs64");

/* ---- state --------------------------------------------------------------------------------- */

/* What this process's fd `fd` is, when it is an emulated file (handle != 0). */
struct ent {
	uint64_t handle;
	uint64_t ino;       /* of the placeholder socket: a stale entry (closed behind our back) fails this */
	uint32_t file_flags;
	uint32_t checked;   /* a socket asked about and found not to be ours */
};

static int active;
static char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static pthread_mutex_t lk = PTHREAD_MUTEX_INITIALIZER;
static int conn_fd = -1;
static pid_t conn_pid;
static uint64_t seq;
static struct ent *tab;
/* IOMMU_EMU_SPIN_US: how long a request waits for its reply polling before it sleeps. */
static long spin_ns;

static long sys_fstat(int fd, struct stat *st)
{
	return syscall(SYS_fstat, fd, st);
}

static uint64_t sock_ino(int fd)
{
	struct stat st;
	if (sys_fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
		return 0;
	return st.st_ino;
}

/* The entry of an emulated fd, checked against the fd's inode now; NULL for any other fd. */
static struct ent *emu(int fd)
{
	if (!active || fd < 0 || fd >= NR_FDS || !tab[fd].handle)
		return NULL;
	if (sock_ino(fd) != tab[fd].ino) {
		tab[fd] = (struct ent){ 0 };
		return NULL;
	}
	return &tab[fd];
}

/* ---- the connection ------------------------------------------------------------------------ */

static int write_all(int fd, const struct iovec *iov0, int n)
{
	struct iovec iov[4];
	memcpy(iov, iov0, sizeof(*iov) * (size_t)n);
	int i = 0;
	while (i < n) {
		ssize_t w = writev(fd, iov + i, n - i);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		while (i < n && (size_t)w >= iov[i].iov_len)
			w -= (ssize_t)iov[i++].iov_len;
		if (i < n) {
			iov[i].iov_base = (char *)iov[i].iov_base + w;
			iov[i].iov_len -= (size_t)w;
		}
	}
	return 0;
}

static long mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000L + t.tv_nsec;
}

/* Read exactly `len` bytes; SCM_RIGHTS fds that come with them land in fds (close-on-exec). */
static int read_all(int fd, void *buf, size_t len, int *fds, int *nfds)
{
	size_t got = 0;
	long until = spin_ns ? mono_ns() + spin_ns : 0;
	while (got < len) {
		struct iovec iov = { .iov_base = (char *)buf + got, .iov_len = len - got };
		union {
			char b[CMSG_SPACE(sizeof(int) * MAX_NEWFDS)];
			struct cmsghdr align;
		} cm;
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b, .msg_controllen = sizeof(cm.b) };
		int polling = until && mono_ns() < until;
		ssize_t r = get_recvmsg()(fd, &mh, MSG_CMSG_CLOEXEC | (polling ? MSG_DONTWAIT : 0));
		if (r < 0 && (errno == EINTR || (polling && errno == EAGAIN)))
			continue;
		if (r <= 0)
			return -1;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			int n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			int *in = (int *)CMSG_DATA(c);
			for (int k = 0; k < n; k++) {
				if (fds && *nfds < MAX_NEWFDS)
					fds[(*nfds)++] = in[k];
				else
					get_close()(in[k]);
			}
		}
		got += (size_t)r;
	}
	return 0;
}

static void lost(const char *why)
{
	static int told;
	if (!told++)
		fprintf(stderr, "iommu-emu preload: the run server is gone (%s): emulated calls fail with EIO\n", why);
	if (conn_fd >= 0)
		get_close()(conn_fd);
	conn_fd = -1;
}

/* One request and its reply on the connection (which must be ours). */
static int64_t xfer(struct iommu_emu_req *h, const void *in, size_t in_len, struct iommu_emu_rsp *rsp, void *out, size_t out_cap,
		    int *fds, int *nfds)
{
	h->magic = IOMMU_EMU_MAGIC;
	h->version = IOMMU_EMU_PROTOCOL_VERSION;
	h->id = ++seq;
	h->pid = getpid();
	h->in_len = (__u32)in_len;
	h->out_len = (__u32)out_cap;
	struct iovec iov[2] = { { h, sizeof(*h) }, { (void *)in, in_len } };
	if (nfds)
		*nfds = 0;
	if (write_all(conn_fd, iov, in_len ? 2 : 1) < 0) {
		lost("write");
		return -EIO;
	}
	if (read_all(conn_fd, rsp, sizeof(*rsp), fds, nfds) < 0 || rsp->magic != IOMMU_EMU_MAGIC) {
		lost("read");
		return -EIO;
	}
	size_t keep = rsp->out_len < out_cap ? rsp->out_len : out_cap;
	if (keep && read_all(conn_fd, out, keep, fds, nfds) < 0) {
		lost("read");
		return -EIO;
	}
	for (size_t rest = rsp->out_len - keep; rest;) {
		char sink[256];
		size_t n = rest < sizeof(sink) ? rest : sizeof(sink);
		if (read_all(conn_fd, sink, n, fds, nfds) < 0) {
			lost("read");
			return -EIO;
		}
		rest -= n;
	}
	return rsp->result;
}

/*
 * This process's connection, made on first use. A fork child has its parent's: it drops that
 * copy and says whose child it is. The socket moves to a high fd so the program's own numbers
 * stay the kernel's.
 */
static int ensure_conn(void)
{
	pid_t me = getpid();
	if (conn_fd >= 0 && conn_pid == me)
		return 0;
	int64_t forked_from = -1;
	if (conn_fd >= 0) {
		get_close()(conn_fd);
		forked_from = conn_pid;
		conn_fd = -1;
	} else if (conn_pid && conn_pid != me) {
		forked_from = conn_pid;
	}
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	memcpy(sa.sun_path, sock_path, sizeof(sa.sun_path));
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		get_close()(s);
		lost(strerror(e));
		return -EIO;
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > 128) {
		long high = (long)(rl.rlim_cur > NR_FDS ? NR_FDS : rl.rlim_cur) - 32;
		int moved = get_fcntl()(s, F_DUPFD_CLOEXEC, (int)high);
		if (moved >= 0) {
			get_close()(s);
			s = moved;
		}
	}
	conn_fd = s;
	conn_pid = me;
	struct iommu_emu_req h = { .opcode = IOMMU_EMU_OP_HELLO, .arg = IOMMU_EMU_ROLE_PRELOAD, .pos = forked_from, .fd = -1 };
	struct iommu_emu_rsp rsp;
	int64_t r = xfer(&h, NULL, 0, &rsp, NULL, 0, NULL, NULL);
	if (r < 0) {
		lost("HELLO refused");
		return -EIO;
	}
	return 0;
}

/* ensure_conn + xfer, under the lock held by the caller. */
static int64_t rpc(struct iommu_emu_req *h, const void *in, size_t in_len, struct iommu_emu_rsp *rsp, void *out, size_t out_cap,
		   int *fds, int *nfds)
{
	if (nfds)
		*nfds = 0;
	memset(rsp, 0, sizeof(*rsp));
	int e = ensure_conn();
	if (e < 0)
		return e;
	return xfer(h, in, in_len, rsp, out, out_cap, fds, nfds);
}

static void put_ent(int fd, uint64_t handle, uint32_t file_flags)
{
	if (fd >= 0 && fd < NR_FDS)
		tab[fd] = (struct ent){ .handle = handle, .ino = sock_ino(fd), .file_flags = file_flags };
}

/*
 * Place the fds a reply sent where the kernel numbered them (the lowest free, which is where
 * they arrived unless another thread raced us) with their close-on-exec flag. Returns the fd
 * that stands for `want` (the number the server reported), or want.
 */
static int64_t install_newfds(const struct iommu_emu_rsp *rsp, const struct iommu_emu_newfd *e, int *fds, int nfds, int64_t want)
{
	int n = (int)(rsp->out_len / sizeof(*e));
	if (!(rsp->flags & IOMMU_EMU_RSP_NEWFDS))
		n = 0;
	for (int i = 0; i < nfds; i++) {
		int got = fds[i];
		if (i >= n) {
			get_close()(got);
			continue;
		}
		if (got != e[i].fd && e[i].fd >= 0 && get_fcntl()(e[i].fd, F_GETFD) < 0 && errno == EBADF &&
		    dup3(got, e[i].fd, O_CLOEXEC) == e[i].fd) {
			get_close()(got);
			got = e[i].fd;
		}
		if (!(e[i].fd_flags & FD_CLOEXEC))
			get_fcntl()(got, F_SETFD, 0);
		put_ent(got, e[i].handle, e[i].file_flags);
		if (e[i].fd == want)
			want = got;
	}
	return want;
}

static int fail(int64_t r)
{
	errno = (int)-r;
	return -1;
}

/* ---- paths --------------------------------------------------------------------------------- */

/* `in` made absolute (relative to dirfd) and normalised lexically into out; 0 if it cannot be. */
static int absolute(int dirfd, const char *in, char *out, size_t cap)
{
	char tmp[PATH_MAX * 2];
	if (in[0] == '/') {
		if (strlen(in) >= sizeof(tmp))
			return 0;
		strcpy(tmp, in);
	} else {
		char base[PATH_MAX];
		if (dirfd == AT_FDCWD) {
			if (!getcwd(base, sizeof(base)))
				return 0;
		} else {
			char link[64];
			snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
			ssize_t n = readlink(link, base, sizeof(base) - 1);
			if (n <= 0)
				return 0;
			base[n] = 0;
		}
		if (snprintf(tmp, sizeof(tmp), "%s/%s", base, in) >= (int)sizeof(tmp))
			return 0;
	}
	size_t o = 0;
	for (const char *p = tmp; *p;) {
		while (*p == '/')
			p++;
		const char *q = p;
		while (*q && *q != '/')
			q++;
		size_t l = (size_t)(q - p);
		if (l == 0 || (l == 1 && p[0] == '.')) {
			/* nothing */
		} else if (l == 2 && p[0] == '.' && p[1] == '.') {
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
		} else {
			if (o + 1 + l + 1 > cap)
				return 0;
			out[o++] = '/';
			memcpy(out + o, p, l);
			o += l;
		}
		p = q;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = 0;
	return 1;
}

static int under(const char *path, const char *dir)
{
	size_t l = strlen(dir);
	return strncmp(path, dir, l) == 0 && (path[l] == 0 || path[l] == '/');
}

/* Whether the node is one the server serves; `abs` gets its absolute path. */
static int emulated_path(int dirfd, const char *path, char *abs)
{
	if (!active || !path || !*path)
		return 0;
	if (path[0] != '/' && !strstr(path, "vfio") && !strstr(path, "iommu") && !strstr(path, ".."))
		return 0;
	if (path[0] == '/' && strncmp(path, "/dev", 4) && !strstr(path, ".."))
		return 0;
	if (!absolute(dirfd, path, abs, PATH_MAX))
		return 0;
	return under(abs, "/dev/vfio") || under(abs, "/dev/iommu");
}

/* ---- open and close ------------------------------------------------------------------------ */

/* 1 with *ret set when the server handled the open; 0 to let libc do it. */
static int emu_open(int dirfd, const char *path, int flags, mode_t mode, int *ret)
{
	char abs[PATH_MAX];
	if (!emulated_path(dirfd, path, abs))
		return 0;
	struct iommu_emu_req h = { .opcode = IOMMU_EMU_OP_OPEN, .cmd = (__u32)flags, .arg = mode, .fd = -1 };
	struct iommu_emu_rsp rsp;
	struct iommu_emu_newfd e[MAX_NEWFDS];
	int fds[MAX_NEWFDS], nfds;
	pthread_mutex_lock(&lk);
	int64_t r = rpc(&h, abs, strlen(abs) + 1, &rsp, e, sizeof(e), fds, &nfds);
	if (!(rsp.flags & IOMMU_EMU_RSP_PASSTHROUGH) && r >= 0)
		r = install_newfds(&rsp, e, fds, nfds, r);
	else
		for (int i = 0; i < nfds; i++)
			get_close()(fds[i]);
	pthread_mutex_unlock(&lk);
	if (rsp.flags & IOMMU_EMU_RSP_PASSTHROUGH)
		return 0;
	*ret = r < 0 ? fail(r) : (int)r;
	return 1;
}

static mode_t mode_arg(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

EXPORT int open(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = mode_arg(flags, ap);
	va_end(ap);
	int r;
	if (emu_open(AT_FDCWD, path, flags, mode, &r))
		return r;
	return get_open()(path, flags, mode);
}

EXPORT int open64(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = mode_arg(flags, ap);
	va_end(ap);
	int r;
	if (emu_open(AT_FDCWD, path, flags, mode, &r))
		return r;
	return get_open64()(path, flags, mode);
}

EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = mode_arg(flags, ap);
	va_end(ap);
	int r;
	if (emu_open(dirfd, path, flags, mode, &r))
		return r;
	return get_openat()(dirfd, path, flags, mode);
}

EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = mode_arg(flags, ap);
	va_end(ap);
	int r;
	if (emu_open(dirfd, path, flags, mode, &r))
		return r;
	return get_openat64()(dirfd, path, flags, mode);
}

EXPORT int __open_2(const char *path, int flags)
{
	int r;
	if (emu_open(AT_FDCWD, path, flags, 0, &r))
		return r;
	return get___open_2()(path, flags);
}

EXPORT int __open64_2(const char *path, int flags)
{
	int r;
	if (emu_open(AT_FDCWD, path, flags, 0, &r))
		return r;
	return get___open64_2()(path, flags);
}

EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	int r;
	if (emu_open(dirfd, path, flags, 0, &r))
		return r;
	return get___openat_2()(dirfd, path, flags);
}

EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	int r;
	if (emu_open(dirfd, path, flags, 0, &r))
		return r;
	return get___openat64_2()(dirfd, path, flags);
}

/* Tell the server fds went (after they did): it releases what lost its last reference. */
static void sync_release(void)
{
	struct iommu_emu_req h = { .opcode = IOMMU_EMU_OP_CLOSE, .fd = -1 };
	struct iommu_emu_rsp rsp;
	rpc(&h, NULL, 0, &rsp, NULL, 0, NULL, NULL);
}

/* Forget what fd `fd` was before the kernel reuses the number; 1 if it was emulated. */
static int forget(int fd)
{
	if (fd == conn_fd && conn_pid == getpid())
		conn_fd = -1;
	if (fd < 0 || fd >= NR_FDS || !tab)
		return 0;
	int was = tab[fd].handle != 0;
	tab[fd] = (struct ent){ 0 };
	return was;
}

EXPORT int close(int fd)
{
	if (!active)
		return get_close()(fd);
	pthread_mutex_lock(&lk);
	int was = emu(fd) != NULL;
	forget(fd);
	int r = get_close()(fd);
	int e = errno;
	if (was)
		sync_release();
	pthread_mutex_unlock(&lk);
	errno = e;
	return r;
}

EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	if (!active)
		return get_close_range()(first, last, flags);
	pthread_mutex_lock(&lk);
	int was = 0;
	if (!(flags & CLOSE_RANGE_CLOEXEC))
		for (unsigned int fd = first; fd <= last && fd < NR_FDS; fd++)
			was |= forget((int)fd);
	int r = get_close_range()(first, last, flags);
	int e = errno;
	if (was)
		sync_release();
	pthread_mutex_unlock(&lk);
	errno = e;
	return r;
}

EXPORT void closefrom(int lowfd)
{
	if (!active) {
		get_closefrom()(lowfd);
		return;
	}
	pthread_mutex_lock(&lk);
	int was = 0;
	for (int fd = lowfd < 0 ? 0 : lowfd; fd < NR_FDS; fd++)
		if (tab[fd].handle || fd == conn_fd)
			was |= forget(fd);
	get_closefrom()(lowfd);
	if (was)
		sync_release();
	pthread_mutex_unlock(&lk);
}

/* fd `to` is now a copy of `from` (dup*, F_DUPFD*); what `to` was before went. */
static void copied(int from, int to)
{
	if (!active || to < 0 || to >= NR_FDS)
		return;
	struct ent *src = emu(from);
	int replaced = to != from && tab[to].handle != 0 && (!src || tab[to].handle != src->handle);
	if (to == conn_fd && conn_pid == getpid())
		conn_fd = -1;
	tab[to] = src ? (struct ent){ .handle = src->handle, .ino = src->ino, .file_flags = src->file_flags } : (struct ent){ 0 };
	if (replaced)
		sync_release();
}

EXPORT int dup(int fd)
{
	if (!active)
		return get_dup()(fd);
	pthread_mutex_lock(&lk);
	int r = get_dup()(fd);
	int e = errno;
	if (r >= 0)
		copied(fd, r);
	pthread_mutex_unlock(&lk);
	errno = e;
	return r;
}

EXPORT int dup2(int fd, int fd2)
{
	if (!active)
		return get_dup2()(fd, fd2);
	pthread_mutex_lock(&lk);
	emu(fd2); /* drops a stale entry */
	int r = get_dup2()(fd, fd2);
	int e = errno;
	if (r >= 0 && fd != fd2)
		copied(fd, r);
	pthread_mutex_unlock(&lk);
	errno = e;
	return r;
}

EXPORT int dup3(int fd, int fd2, int flags)
{
	if (!active)
		return get_dup3()(fd, fd2, flags);
	pthread_mutex_lock(&lk);
	emu(fd2); /* drops a stale entry */
	int r = get_dup3()(fd, fd2, flags);
	int e = errno;
	if (r >= 0)
		copied(fd, r);
	pthread_mutex_unlock(&lk);
	errno = e;
	return r;
}

static int do_fcntl(int (*real)(int, int, ...), int fd, int cmd, void *arg)
{
	if (!active)
		return real(fd, cmd, arg);
	if (cmd == F_GETFL) {
		struct ent *e = emu(fd);
		if (e)
			return (int)e->file_flags;
	}
	if (cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC)
		return real(fd, cmd, arg);
	pthread_mutex_lock(&lk);
	int r = real(fd, cmd, arg);
	int e = errno;
	if (r >= 0)
		copied(fd, r);
	pthread_mutex_unlock(&lk);
	errno = e;
	return r;
}

EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return do_fcntl(get_fcntl(), fd, cmd, arg);
}

EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return do_fcntl(get_fcntl64(), fd, cmd, arg);
}

/* ---- sockets that may be ours -------------------------------------------------------------- */

/* Ask the server which of these fds (sockets) are emulated files, and note the answer. */
static void identify(const int *fds, int n)
{
	uint64_t inos[MAX_NEWFDS];
	int which[MAX_NEWFDS], k = 0;
	for (int i = 0; i < n && k < MAX_NEWFDS; i++) {
		if (fds[i] < 0 || fds[i] >= NR_FDS)
			continue;
		uint64_t ino = sock_ino(fds[i]);
		if (!ino || (tab[fds[i]].ino == ino && (tab[fds[i]].handle || tab[fds[i]].checked)))
			continue;
		inos[k] = ino;
		which[k++] = fds[i];
	}
	if (!k)
		return;
	struct iommu_emu_req h = { .opcode = IOMMU_EMU_OP_IDENTIFY, .fd = -1 };
	struct iommu_emu_rsp rsp;
	struct iommu_emu_newfd e[MAX_NEWFDS];
	if (rpc(&h, inos, sizeof(uint64_t) * (size_t)k, &rsp, e, sizeof(e), NULL, NULL) < 0)
		return;
	for (int i = 0; i < k && (size_t)i < rsp.out_len / sizeof(e[0]); i++)
		tab[which[i]] = (struct ent){ .handle = e[i].handle, .ino = inos[i], .file_flags = e[i].file_flags, .checked = 1 };
}

/* An fd the table does not know may still be ours (received over a socket, inherited across exec). */
static struct ent *emu_or_ask(int fd)
{
	struct ent *e = emu(fd);
	if (e || !active || fd < 0 || fd >= NR_FDS)
		return e;
	uint64_t ino = sock_ino(fd);
	if (!ino || (tab[fd].checked && tab[fd].ino == ino))
		return NULL;
	pthread_mutex_lock(&lk);
	identify(&fd, 1);
	pthread_mutex_unlock(&lk);
	return emu(fd);
}

EXPORT ssize_t recvmsg(int fd, struct msghdr *mh, int flags)
{
	ssize_t r = get_recvmsg()(fd, mh, flags);
	if (r < 0 || !active || !mh->msg_control)
		return r;
	int e = errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		int n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		int fds[MAX_NEWFDS];
		memcpy(fds, CMSG_DATA(c), sizeof(int) * (size_t)(n < MAX_NEWFDS ? n : MAX_NEWFDS));
		pthread_mutex_lock(&lk);
		identify(fds, n < MAX_NEWFDS ? n : MAX_NEWFDS);
		pthread_mutex_unlock(&lk);
	}
	errno = e;
	return r;
}

/* ---- ioctl, read, write, mmap --------------------------------------------------------------- */

EXPORT int ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	va_start(ap, request);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	struct ent *e = emu_or_ask(fd);
	if (!e)
		return get_ioctl()(fd, request, arg);
	struct iommu_emu_req h = { .opcode = IOMMU_EMU_OP_IOCTL, .handle = e->handle, .fd = fd, .cmd = (__u32)request, .arg = (uintptr_t)arg };
	struct iommu_emu_rsp rsp;
	struct iommu_emu_newfd nf[MAX_NEWFDS];
	int fds[MAX_NEWFDS], nfds;
	pthread_mutex_lock(&lk);
	int64_t r = rpc(&h, NULL, 0, &rsp, nf, sizeof(nf), fds, &nfds);
	if (nfds)
		r = install_newfds(&rsp, nf, fds, nfds, r);
	pthread_mutex_unlock(&lk);
	return r < 0 ? fail(r) : (int)r;
}

static ssize_t emu_rw(int op, int fd, struct ent *e, const void *buf, size_t count, off_t pos, int positioned)
{
	struct iommu_emu_req h = { .opcode = (__u16)op,
				   .handle = e->handle,
				   .fd = fd,
				   .arg = (uintptr_t)buf,
				   .len = count,
				   .pos = positioned ? pos : -1,
				   .flags = positioned ? IOMMU_EMU_F_POSITIONED : 0 };
	struct iommu_emu_rsp rsp;
	pthread_mutex_lock(&lk);
	int64_t r = rpc(&h, NULL, 0, &rsp, NULL, 0, NULL, NULL);
	pthread_mutex_unlock(&lk);
	return r < 0 ? fail(r) : (ssize_t)r;
}

EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	struct ent *e = emu(fd);
	return e ? emu_rw(IOMMU_EMU_OP_READ, fd, e, buf, n, 0, 0) : get_read()(fd, buf, n);
}

EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	struct ent *e = emu(fd);
	return e ? emu_rw(IOMMU_EMU_OP_WRITE, fd, e, buf, n, 0, 0) : get_write()(fd, buf, n);
}

EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t pos)
{
	struct ent *e = emu(fd);
	return e ? emu_rw(IOMMU_EMU_OP_READ, fd, e, buf, n, pos, 1) : get_pread()(fd, buf, n, pos);
}

EXPORT ssize_t pread64(int fd, void *buf, size_t n, off64_t pos)
{
	struct ent *e = emu(fd);
	return e ? emu_rw(IOMMU_EMU_OP_READ, fd, e, buf, n, pos, 1) : get_pread64()(fd, buf, n, pos);
}

EXPORT ssize_t pwrite(int fd, const void *buf, size_t n, off_t pos)
{
	struct ent *e = emu(fd);
	return e ? emu_rw(IOMMU_EMU_OP_WRITE, fd, e, buf, n, pos, 1) : get_pwrite()(fd, buf, n, pos);
}

EXPORT ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t pos)
{
	struct ent *e = emu(fd);
	return e ? emu_rw(IOMMU_EMU_OP_WRITE, fd, e, buf, n, pos, 1) : get_pwrite64()(fd, buf, n, pos);
}

EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	struct ent *e = emu(fd);
	if (!e)
		return get___read_chk()(fd, buf, n, buflen);
	if (n > buflen)
		__chk_fail();
	return emu_rw(IOMMU_EMU_OP_READ, fd, e, buf, n, 0, 0);
}

EXPORT ssize_t __pread_chk(int fd, void *buf, size_t n, off_t pos, size_t buflen)
{
	struct ent *e = emu(fd);
	if (!e)
		return get___pread_chk()(fd, buf, n, pos, buflen);
	if (n > buflen)
		__chk_fail();
	return emu_rw(IOMMU_EMU_OP_READ, fd, e, buf, n, pos, 1);
}

EXPORT ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t pos, size_t buflen)
{
	struct ent *e = emu(fd);
	if (!e)
		return get___pread64_chk()(fd, buf, n, pos, buflen);
	if (n > buflen)
		__chk_fail();
	return emu_rw(IOMMU_EMU_OP_READ, fd, e, buf, n, pos, 1);
}

/* A device mapping: the server checks it and sends the memfd its pages live on; map that here. */
static void *emu_mmap(void *(*real)(void *, size_t, int, int, int, off_t), void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	struct ent *e = (flags & MAP_ANONYMOUS) ? NULL : emu_or_ask(fd);
	if (!e)
		return real(addr, len, prot, flags, fd, off);
	struct iommu_emu_req h = { .opcode = IOMMU_EMU_OP_MMAP,
				   .handle = e->handle,
				   .fd = fd,
				   .arg = (uintptr_t)addr,
				   .len = len,
				   .pos = off,
				   .cmd = (__u32)prot,
				   .flags = (__u32)flags };
	struct iommu_emu_rsp rsp;
	struct iommu_emu_mmap m = { 0 };
	int fds[MAX_NEWFDS], nfds;
	pthread_mutex_lock(&lk);
	int64_t r = rpc(&h, NULL, 0, &rsp, &m, sizeof(m), fds, &nfds);
	pthread_mutex_unlock(&lk);
	if (r < 0 || nfds < 1) {
		for (int i = 0; i < nfds; i++)
			get_close()(fds[i]);
		errno = r < 0 ? (int)-r : ENODEV;
		return MAP_FAILED;
	}
	void *p = real(addr, len, prot, flags, fds[0], (off_t)m.offset);
	int err = errno;
	for (int i = 0; i < nfds; i++)
		get_close()(fds[i]);
	errno = err;
	return p;
}

EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return emu_mmap(get_mmap(), addr, len, prot, flags, fd, off);
}

EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
	return emu_mmap((void *(*)(void *, size_t, int, int, int, off_t))get_mmap64(), addr, len, prot, flags, fd, off);
}

/* ---- fork ---------------------------------------------------------------------------------- */

EXPORT pid_t fork(void)
{
	if (!active)
		return get_fork()();
	pthread_mutex_lock(&lk);
	pid_t p = get_fork()();
	if (p == 0) {
		/* The child: its connection is its parent's until ensure_conn replaces it. */
		pthread_mutex_init(&lk, NULL);
		return 0;
	}
	int e = errno;
	if (p > 0 && conn_fd >= 0 && conn_pid == getpid()) {
		struct iommu_emu_req h = { .opcode = IOMMU_EMU_OP_FORK, .arg = (__u64)p, .fd = -1 };
		struct iommu_emu_rsp rsp;
		rpc(&h, NULL, 0, &rsp, NULL, 0, NULL, NULL);
	}
	pthread_mutex_unlock(&lk);
	errno = e;
	return p;
}

/* ---- stat, access, statfs ------------------------------------------------------------------ */

static void fill_stat(struct stat *st, const struct iommu_emu_stat *s)
{
	memset(st, 0, sizeof(*st));
	st->st_dev = s->dev;
	st->st_ino = s->ino;
	st->st_mode = s->mode;
	st->st_nlink = s->nlink;
	st->st_uid = s->uid;
	st->st_gid = s->gid;
	st->st_rdev = makedev(s->rdev_major, s->rdev_minor);
	st->st_size = s->size;
	st->st_blksize = s->blksize;
	st->st_blocks = s->blocks;
	st->st_atim.tv_sec = s->atime_sec;
	st->st_atim.tv_nsec = s->atime_nsec;
	st->st_mtim.tv_sec = s->mtime_sec;
	st->st_mtim.tv_nsec = s->mtime_nsec;
	st->st_ctim.tv_sec = s->ctime_sec;
	st->st_ctim.tv_nsec = s->ctime_nsec;
}

/* STAT by path (handle 0) or by file: 1 with *ret set when handled, 0 to let libc do it. */
static int emu_stat(uint64_t handle, int dirfd, const char *path, int nofollow, struct iommu_emu_stat *out, int *ret)
{
	char abs[PATH_MAX];
	if (!handle && !emulated_path(dirfd, path, abs))
		return 0;
	struct iommu_emu_req h = { .opcode = IOMMU_EMU_OP_STAT, .handle = handle, .fd = -1, .flags = nofollow ? IOMMU_EMU_F_NOFOLLOW : 0 };
	struct iommu_emu_rsp rsp;
	pthread_mutex_lock(&lk);
	int64_t r = handle ? rpc(&h, NULL, 0, &rsp, out, sizeof(*out), NULL, NULL) : rpc(&h, abs, strlen(abs) + 1, &rsp, out, sizeof(*out), NULL, NULL);
	pthread_mutex_unlock(&lk);
	if (rsp.flags & IOMMU_EMU_RSP_PASSTHROUGH)
		return 0;
	*ret = r < 0 ? fail(r) : 0;
	return 1;
}

static int path_stat(int dirfd, const char *path, struct stat *st, int nofollow, int *ret)
{
	struct iommu_emu_stat s;
	if (!emu_stat(0, dirfd, path, nofollow, &s, ret))
		return 0;
	if (*ret == 0)
		fill_stat(st, &s);
	return 1;
}

static int fd_stat(int fd, struct stat *st, int *ret)
{
	struct ent *e = emu(fd);
	struct iommu_emu_stat s;
	if (!e || !emu_stat(e->handle, AT_FDCWD, NULL, 0, &s, ret))
		return 0;
	if (*ret == 0)
		fill_stat(st, &s);
	return 1;
}

#define STAT_PATH(name, T, nofollow)                                                                                   \
	EXPORT int name(const char *path, T *st)                                                                       \
	{                                                                                                              \
		int r;                                                                                                 \
		if (path_stat(AT_FDCWD, path, (struct stat *)st, nofollow, &r))                                       \
			return r;                                                                                      \
		return get_##name()(path, st);                                                                         \
	}
STAT_PATH(stat, struct stat, 0)
STAT_PATH(stat64, struct stat64, 0)
STAT_PATH(lstat, struct stat, 1)
STAT_PATH(lstat64, struct stat64, 1)

#define STAT_FD(name, T)                                                                                               \
	EXPORT int name(int fd, T *st)                                                                                 \
	{                                                                                                              \
		int r;                                                                                                 \
		if (fd_stat(fd, (struct stat *)st, &r))                                                               \
			return r;                                                                                      \
		return get_##name()(fd, st);                                                                           \
	}
STAT_FD(fstat, struct stat)
STAT_FD(fstat64, struct stat64)

#define STAT_AT(name, T)                                                                                               \
	EXPORT int name(int dirfd, const char *path, T *st, int flags)                                                 \
	{                                                                                                              \
		int r;                                                                                                 \
		if ((flags & AT_EMPTY_PATH) && EMPTY_PATH(path)) {                                                       \
			if (fd_stat(dirfd, (struct stat *)st, &r))                                                     \
				return r;                                                                              \
		} else if (path_stat(dirfd, path, (struct stat *)st, (flags & AT_SYMLINK_NOFOLLOW) != 0, &r))          \
			return r;                                                                                      \
		return get_##name()(dirfd, path, st, flags);                                                           \
	}
STAT_AT(fstatat, struct stat)
STAT_AT(fstatat64, struct stat64)

/* The glibc < 2.33 entry points older binaries still call. */
#define XSTAT_PATH(name, T, nofollow)                                                                                  \
	EXPORT int name(int ver, const char *path, T *st)                                                              \
	{                                                                                                              \
		int r;                                                                                                 \
		if (path_stat(AT_FDCWD, path, (struct stat *)st, nofollow, &r))                                       \
			return r;                                                                                      \
		return get_##name()(ver, path, st);                                                                    \
	}
XSTAT_PATH(__xstat, struct stat, 0)
XSTAT_PATH(__xstat64, struct stat64, 0)
XSTAT_PATH(__lxstat, struct stat, 1)
XSTAT_PATH(__lxstat64, struct stat64, 1)

#define XSTAT_FD(name, T)                                                                                              \
	EXPORT int name(int ver, int fd, T *st)                                                                        \
	{                                                                                                              \
		int r;                                                                                                 \
		if (fd_stat(fd, (struct stat *)st, &r))                                                               \
			return r;                                                                                      \
		return get_##name()(ver, fd, st);                                                                      \
	}
XSTAT_FD(__fxstat, struct stat)
XSTAT_FD(__fxstat64, struct stat64)

#define XSTAT_AT(name, T)                                                                                              \
	EXPORT int name(int ver, int dirfd, const char *path, T *st, int flags)                                        \
	{                                                                                                              \
		int r;                                                                                                 \
		if (path_stat(dirfd, path, (struct stat *)st, (flags & AT_SYMLINK_NOFOLLOW) != 0, &r))                 \
			return r;                                                                                      \
		return get_##name()(ver, dirfd, path, st, flags);                                                      \
	}
XSTAT_AT(__fxstatat, struct stat)
XSTAT_AT(__fxstatat64, struct stat64)

EXPORT int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *stx)
{
	struct iommu_emu_stat s;
	int r, handled;
	if ((flags & AT_EMPTY_PATH) && EMPTY_PATH(path)) {
		struct ent *e = emu(dirfd);
		handled = e && emu_stat(e->handle, AT_FDCWD, NULL, 0, &s, &r);
	} else {
		handled = emu_stat(0, dirfd, path, (flags & AT_SYMLINK_NOFOLLOW) != 0, &s, &r);
	}
	if (!handled)
		return get_statx()(dirfd, path, flags, mask, stx);
	if (r == 0) {
		memset(stx, 0, sizeof(*stx));
		stx->stx_mask = STATX_BASIC_STATS;
		stx->stx_blksize = (__u32)s.blksize;
		stx->stx_nlink = s.nlink;
		stx->stx_uid = s.uid;
		stx->stx_gid = s.gid;
		stx->stx_mode = (__u16)s.mode;
		stx->stx_ino = s.ino;
		stx->stx_size = (__u64)s.size;
		stx->stx_blocks = (__u64)s.blocks;
		stx->stx_atime.tv_sec = s.atime_sec;
		stx->stx_atime.tv_nsec = (__u32)s.atime_nsec;
		stx->stx_mtime.tv_sec = s.mtime_sec;
		stx->stx_mtime.tv_nsec = (__u32)s.mtime_nsec;
		stx->stx_ctime.tv_sec = s.ctime_sec;
		stx->stx_ctime.tv_nsec = (__u32)s.ctime_nsec;
		stx->stx_rdev_major = s.rdev_major;
		stx->stx_rdev_minor = s.rdev_minor;
		stx->stx_dev_major = major(s.dev);
		stx->stx_dev_minor = minor(s.dev);
	}
	return r;
}

static int emu_access(int dirfd, const char *path, int mode, int *ret)
{
	char abs[PATH_MAX];
	if (!emulated_path(dirfd, path, abs))
		return 0;
	struct iommu_emu_req h = { .opcode = IOMMU_EMU_OP_ACCESS, .cmd = (__u32)mode, .fd = -1 };
	struct iommu_emu_rsp rsp;
	pthread_mutex_lock(&lk);
	int64_t r = rpc(&h, abs, strlen(abs) + 1, &rsp, NULL, 0, NULL, NULL);
	pthread_mutex_unlock(&lk);
	if (rsp.flags & IOMMU_EMU_RSP_PASSTHROUGH)
		return 0;
	*ret = r < 0 ? fail(r) : 0;
	return 1;
}

EXPORT int access(const char *path, int mode)
{
	int r;
	return emu_access(AT_FDCWD, path, mode, &r) ? r : get_access()(path, mode);
}

EXPORT int faccessat(int dirfd, const char *path, int mode, int flags)
{
	int r;
	return emu_access(dirfd, path, mode, &r) ? r : get_faccessat()(dirfd, path, mode, flags);
}

EXPORT int euidaccess(const char *path, int mode)
{
	int r;
	return emu_access(AT_FDCWD, path, mode, &r) ? r : get_euidaccess()(path, mode);
}

EXPORT int eaccess(const char *path, int mode)
{
	int r;
	return emu_access(AT_FDCWD, path, mode, &r) ? r : get_eaccess()(path, mode);
}

/*
 * The live /sys is a FUSE mount; to its readers it is sysfs. libudev (sd-device) refuses a tree
 * whose statfs is not SYSFS_MAGIC.
 */
static void as_sysfs(const char *path, struct statfs *b)
{
	char abs[PATH_MAX];
	if (active && b->f_type == FUSE_SUPER_MAGIC && absolute(AT_FDCWD, path, abs, sizeof(abs)) && under(abs, "/sys"))
		b->f_type = SYSFS_MAGIC;
}

static void fd_as_sysfs(int fd, struct statfs *b)
{
	if (!active || b->f_type != FUSE_SUPER_MAGIC)
		return;
	char link[64], target[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		return;
	target[n] = 0;
	if (under(target, "/sys"))
		b->f_type = SYSFS_MAGIC;
}

EXPORT int statfs(const char *path, struct statfs *b)
{
	int r = get_statfs()(path, b);
	if (r == 0)
		as_sysfs(path, b);
	return r;
}

EXPORT int statfs64(const char *path, struct statfs64 *b)
{
	int r = get_statfs64()(path, b);
	if (r == 0)
		as_sysfs(path, (struct statfs *)b);
	return r;
}

EXPORT int fstatfs(int fd, struct statfs *b)
{
	int r = get_fstatfs()(fd, b);
	if (r == 0)
		fd_as_sysfs(fd, b);
	return r;
}

EXPORT int fstatfs64(int fd, struct statfs64 *b)
{
	int r = get_fstatfs64()(fd, b);
	if (r == 0)
		fd_as_sysfs(fd, (struct statfs *)b);
	return r;
}

/* ---- start --------------------------------------------------------------------------------- */

/* After execve, emulated fds without O_CLOEXEC are still open: learn which they are. */
static void adopt_inherited(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return;
	int fds[MAX_NEWFDS], n = 0;
	int self = dirfd(d);
	for (struct dirent *de; (de = readdir(d)) && n < MAX_NEWFDS;) {
		int fd = atoi(de->d_name);
		if (de->d_name[0] != '.' && fd != self && sock_ino(fd))
			fds[n++] = fd;
	}
	if (n) {
		pthread_mutex_lock(&lk);
		identify(fds, n);
		pthread_mutex_unlock(&lk);
	}
	closedir(d);
}

__attribute__((constructor)) static void iommu_emu_preload_init(void)
{
	const char *s = getenv("IOMMU_EMU_PRELOAD_SOCKET");
	if (!s || !*s || strlen(s) >= sizeof(sock_path))
		return;
	void *t = mmap(NULL, sizeof(struct ent) * NR_FDS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (t == MAP_FAILED)
		return;
	tab = t;
	strcpy(sock_path, s);
	const char *spin = getenv("IOMMU_EMU_SPIN_US");
	spin_ns = spin ? strtol(spin, NULL, 10) * 1000L : 0;
	active = 1;
	adopt_inherited();
}
