// SPDX-License-Identifier: GPL-2.0-only
/*
 * The run server's native half for the preload shim: a Node-API module, built by make with gcc
 * against the Node headers the nodejs package installs (no node-gyp, nothing downloaded).
 *
 * It does two things Node cannot:
 *  - serve the shim's socket from the event loop with plain read/sendmsg (a request and its
 *    reply cost two syscalls here; libuv's stream machinery tripled the round trip), sending
 *    placeholder fds and memfds back with SCM_RIGHTS;
 *  - the host syscalls the emulator needs against a real process: process_vm_readv/writev
 *    (copy_from_user / copy_to_user with the kernel's own EFAULT), PROCMAP_QUERY on
 *    /proc/PID/maps (its VMAs), pidfd_open/pidfd_getfd (its exit, its eventfds), socketpairs
 *    whose far end tells when the last reference to a placeholder went, and memfds mapped here
 *    (BAR pages the program maps too).
 *
 * It knows no request layout beyond the frame header's length field (the generated header).
 * Every callback into JavaScript runs synchronously on the main thread.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "iommu_emu_server.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

/*
 * PROCMAP_QUERY (v6.11, include/uapi/linux/fs.h): Debian 12's linux-libc-dev (6.1) predates it,
 * so the host ABI is spelled here; the size assert pins it to the ioctl number's size field.
 */
struct iommu_emu_procmap_query {
	__u64 size, query_flags, query_addr, vma_start, vma_end, vma_flags, vma_page_size, vma_offset, inode;
	__u32 dev_major, dev_minor, vma_name_size, build_id_size;
	__u64 vma_name_addr, build_id_addr;
};
_Static_assert(sizeof(struct iommu_emu_procmap_query) == 104, "struct procmap_query");
#define IOMMU_EMU_PROCMAP_QUERY _IOWR('f', 17, struct iommu_emu_procmap_query)
#define IOMMU_EMU_PROCMAP_COVERING_OR_NEXT 0x10

#define MAX_FDS 64
#define FRAME_MAX (sizeof(struct iommu_emu_req) + IOMMU_EMU_MAX_PAYLOAD)
#define RSP_MAX (sizeof(struct iommu_emu_rsp) + IOMMU_EMU_MAX_PAYLOAD)

enum kind { K_LISTEN = 1, K_CONN, K_PEERS, K_PIDFD };
#define EV(kind, fd) (((uint64_t)(kind) << 32) | (uint32_t)(fd))

struct conn {
	int fd;
	size_t have, cap;
	char *in;
};

struct server {
	napi_env env;
	uv_loop_t *loop;
	uv_poll_t poll;
	int polling;
	int ep;      /* everything: listen socket, connections, the peer set, pidfds */
	int ep_peer; /* placeholder far ends, nested in ep */
	int listen_fd;
	napi_ref on_connect, on_request, on_hup, on_exit, on_close;
	char *req, *rsp;
	napi_ref req_ref, rsp_ref;
	struct conn **conns;
	int nconns;
	int *pidfd_pid; /* pid by pidfd */
	int npidfd;
	int reply_fds[MAX_FDS];
	int reply_nfds, reply_close;
	long spin_us;
	int dispatching;
	int closed;
};

/* ---- helpers ------------------------------------------------------------------------------ */

#define CHECK(call)                                                                                                    \
	do {                                                                                                           \
		if ((call) != napi_ok) {                                                                               \
			napi_throw_error(env, NULL, "iommu_emu_node: " #call " failed");                                \
			return NULL;                                                                                   \
		}                                                                                                      \
	} while (0)

static napi_value num(napi_env env, double v)
{
	napi_value r;
	napi_create_double(env, v, &r);
	return r;
}

static int arg_int(napi_env env, napi_value v, int64_t *out)
{
	napi_valuetype t;
	bool lossless;
	if (napi_typeof(env, v, &t) != napi_ok)
		return -1;
	if (t == napi_bigint)
		return napi_get_value_bigint_int64(env, v, out, &lossless) == napi_ok ? 0 : -1;
	return napi_get_value_int64(env, v, out) == napi_ok ? 0 : -1;
}

static int arg_u64(napi_env env, napi_value v, uint64_t *out)
{
	napi_valuetype t;
	bool lossless;
	if (napi_typeof(env, v, &t) != napi_ok)
		return -1;
	if (t == napi_bigint)
		return napi_get_value_bigint_uint64(env, v, out, &lossless) == napi_ok ? 0 : -1;
	int64_t i;
	if (napi_get_value_int64(env, v, &i) != napi_ok)
		return -1;
	*out = (uint64_t)i;
	return 0;
}

static int arg_bytes(napi_env env, napi_value v, void **data, size_t *len)
{
	bool is;
	if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
		napi_typedarray_type type;
		size_t n, off;
		napi_value ab;
		if (napi_get_typedarray_info(env, v, &type, &n, data, &ab, &off) != napi_ok || type != napi_uint8_array)
			return -1;
		*len = n;
		return 0;
	}
	return napi_get_buffer_info(env, v, data, len) == napi_ok ? 0 : -1;
}

static long now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000L + t.tv_nsec / 1000;
}

/* Call a JS handler with int arguments; a throw is re-raised as an uncaught exception. */
static int call(struct server *S, napi_ref ref, int argc, const double *argv)
{
	napi_env env = S->env;
	napi_value fn, undef, args[4], res;
	int32_t out = 0;
	if (!ref || napi_get_reference_value(env, ref, &fn) != napi_ok)
		return 0;
	napi_get_undefined(env, &undef);
	for (int i = 0; i < argc; i++)
		args[i] = num(env, argv[i]);
	if (napi_call_function(env, undef, fn, (size_t)argc, args, &res) != napi_ok) {
		napi_value err;
		if (napi_get_and_clear_last_exception(env, &err) == napi_ok)
			napi_fatal_exception(env, err);
		return 0;
	}
	napi_valuetype t;
	if (napi_typeof(env, res, &t) == napi_ok && t == napi_number)
		napi_get_value_int32(env, res, &out);
	return out;
}

static void close_reply_fds(struct server *S)
{
	if (S->reply_close)
		for (int i = 0; i < S->reply_nfds; i++)
			close(S->reply_fds[i]);
	S->reply_nfds = 0;
	S->reply_close = 0;
}

/* Blocking-enough write of one frame (the socket is non-blocking; wait while it is full). */
static int send_frame(struct server *S, int fd, const char *buf, size_t len)
{
	size_t done = 0;
	int first = 1;
	while (done < len) {
		struct iovec iov = { .iov_base = (char *)buf + done, .iov_len = len - done };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		union {
			char b[CMSG_SPACE(sizeof(int) * MAX_FDS)];
			struct cmsghdr align;
		} cm;
		if (first && S->reply_nfds) {
			mh.msg_control = cm.b;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * S->reply_nfds);
			struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * S->reply_nfds);
			memcpy(CMSG_DATA(c), S->reply_fds, sizeof(int) * S->reply_nfds);
		}
		ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			if (poll(&p, 1, 5000) <= 0)
				return -1;
			continue;
		}
		if (n < 0)
			return -1;
		first = 0;
		done += (size_t)n;
	}
	return 0;
}

/* ---- placeholders: the far end of each, and its hang-up ----------------------------------- */

/* Every far end whose placeholder has no reference left: hand it to JS, then close it. */
static void reap(struct server *S)
{
	struct epoll_event ev[64];
	for (;;) {
		int n = epoll_wait(S->ep_peer, ev, 64, 0);
		if (n <= 0)
			return;
		for (int i = 0; i < n; i++) {
			int fd = (int)(uint32_t)ev[i].data.u64;
			int gone = (ev[i].events & (EPOLLHUP | EPOLLRDHUP | EPOLLERR)) != 0;
			if (!gone && (ev[i].events & EPOLLIN)) {
				/* A raw write(2) to the placeholder reached the socket: drop it. */
				char sink[4096];
				ssize_t r = read(fd, sink, sizeof(sink));
				gone = r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR);
			}
			if (!gone)
				continue;
			epoll_ctl(S->ep_peer, EPOLL_CTL_DEL, fd, NULL);
			double a = fd;
			call(S, S->on_hup, 1, &a);
			close(fd);
		}
	}
}

/* ---- connections -------------------------------------------------------------------------- */

static void conn_close(struct server *S, struct conn *c)
{
	double a = c->fd;
	epoll_ctl(S->ep, EPOLL_CTL_DEL, c->fd, NULL);
	S->conns[c->fd] = NULL;
	close(c->fd);
	free(c->in);
	free(c);
	call(S, S->on_close, 1, &a);
}

/* Read what is there and answer every complete frame; 0 when the connection closed. */
static int conn_serve(struct server *S, struct conn *c)
{
	for (;;) {
		if (c->cap - c->have < 4096 && c->cap < FRAME_MAX) {
			size_t cap = c->cap * 2 > FRAME_MAX ? FRAME_MAX : c->cap * 2;
			char *in = realloc(c->in, cap);
			if (!in)
				return 0;
			c->in = in;
			c->cap = cap;
		}
		ssize_t n = read(c->fd, c->in + c->have, c->cap - c->have);
		if (n == 0)
			return 0;
		if (n < 0)
			return errno == EAGAIN || errno == EINTR;
		c->have += (size_t)n;
		size_t at = 0;
		while (c->have - at >= sizeof(struct iommu_emu_req)) {
			struct iommu_emu_req h;
			memcpy(&h, c->in + at, sizeof(h));
			if (h.magic != IOMMU_EMU_MAGIC || h.in_len > IOMMU_EMU_MAX_PAYLOAD)
				return 0;
			size_t len = sizeof(h) + h.in_len;
			if (c->have - at < len)
				break;
			memcpy(S->req, c->in + at, len);
			at += len;
			reap(S);
			double args[2] = { c->fd, (double)len };
			napi_handle_scope scope;
			napi_open_handle_scope(S->env, &scope);
			int out = call(S, S->on_request, 2, args);
			napi_close_handle_scope(S->env, scope);
			if (S->ep < 0)
				return 1; /* stopped from the handler: c is gone */
			if (out > 0 && send_frame(S, c->fd, S->rsp, (size_t)out) < 0) {
				close_reply_fds(S);
				return 0;
			}
			close_reply_fds(S);
		}
		memmove(c->in, c->in + at, c->have - at);
		c->have -= at;
		if ((size_t)n < 4096)
			return 1;
	}
}

static void on_accept(struct server *S)
{
	for (;;) {
		int fd = accept4(S->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct ucred cr = { 0 };
		socklen_t l = sizeof(cr);
		getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &l);
		if (fd >= S->nconns) {
			int n = fd + 64;
			struct conn **t = realloc(S->conns, sizeof(*t) * (size_t)n);
			if (!t) {
				close(fd);
				continue;
			}
			memset(t + S->nconns, 0, sizeof(*t) * (size_t)(n - S->nconns));
			S->conns = t;
			S->nconns = n;
		}
		struct conn *c = calloc(1, sizeof(*c));
		c->fd = fd;
		c->cap = 8192;
		c->in = malloc(c->cap);
		S->conns[fd] = c;
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.u64 = EV(K_CONN, fd) };
		epoll_ctl(S->ep, EPOLL_CTL_ADD, fd, &ev);
		double a[4] = { fd, cr.pid, cr.uid, cr.gid };
		napi_handle_scope scope;
		napi_open_handle_scope(S->env, &scope);
		call(S, S->on_connect, 4, a);
		napi_close_handle_scope(S->env, scope);
	}
}

/* One pass over what is ready; returns how many events there were. */
static int dispatch_once(struct server *S, int timeout)
{
	struct epoll_event ev[64];
	int n = epoll_wait(S->ep, ev, 64, timeout);
	for (int i = 0; i < n && S->ep >= 0; i++) {
		int kind = (int)(ev[i].data.u64 >> 32);
		int fd = (int)(uint32_t)ev[i].data.u64;
		napi_handle_scope scope;
		napi_open_handle_scope(S->env, &scope);
		if (kind == K_LISTEN) {
			/* accept everything waiting */
			on_accept(S);
		} else if (kind == K_CONN) {
			struct conn *c = fd < S->nconns ? S->conns[fd] : NULL;
			if (c && !conn_serve(S, c))
				conn_close(S, c);
		} else if (kind == K_PEERS) {
			reap(S);
		} else if (kind == K_PIDFD) {
			double a[2] = { fd < S->npidfd ? S->pidfd_pid[fd] : 0, fd };
			epoll_ctl(S->ep, EPOLL_CTL_DEL, fd, NULL);
			if (fd < S->npidfd)
				S->pidfd_pid[fd] = 0;
			close(fd);
			call(S, S->on_exit, 2, a);
		}
		napi_close_handle_scope(S->env, scope);
	}
	return n < 0 ? 0 : n;
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	struct server *S = p->data;
	(void)status;
	(void)events;
	if (S->dispatching)
		return;
	S->dispatching = 1;
	int n = dispatch_once(S, 0);
	/* A client's next request usually follows within microseconds: wait for it here rather
	 * than going back through the event loop (bounded by spin_us). */
	if (n && S->spin_us > 0) {
		long end = now_us() + S->spin_us;
		while (S->ep >= 0 && now_us() < end)
			if (dispatch_once(S, 0))
				end = now_us() + S->spin_us;
	}
	S->dispatching = 0;
}

/* ---- exported functions ------------------------------------------------------------------- */

static napi_value get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv)
{
	size_t argc = want;
	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
		napi_throw_type_error(env, NULL, "iommu_emu_node: missing arguments");
		return NULL;
	}
	return argv[0];
}

static napi_ref fn_ref(napi_env env, napi_value obj, const char *name)
{
	napi_value v;
	napi_valuetype t;
	napi_ref r = NULL;
	if (napi_get_named_property(env, obj, name, &v) == napi_ok && napi_typeof(env, v, &t) == napi_ok && t == napi_function)
		napi_create_reference(env, v, 1, &r);
	return r;
}

/* The server a handle stands for (an external from serve()), or NULL with a TypeError thrown. */
static struct server *server_of(napi_env env, napi_value v)
{
	void *p = NULL;
	napi_valuetype t;
	if (napi_typeof(env, v, &t) != napi_ok || t != napi_external || napi_get_value_external(env, v, &p) != napi_ok || !p) {
		napi_throw_type_error(env, NULL, "iommu_emu_node: not a server handle");
		return NULL;
	}
	struct server *S = p;
	if (S->ep < 0) {
		napi_throw_error(env, NULL, "iommu_emu_node: the server was stopped");
		return NULL;
	}
	return S;
}

static void unref(napi_env env, napi_ref *r)
{
	if (*r)
		napi_delete_reference(env, *r);
	*r = NULL;
}

/* The poll handle is closed: the tables go; the buffers stay until the handle is collected. */
static void server_closed(uv_handle_t *h)
{
	struct server *S = h->data;
	free(S->conns);
	free(S->pidfd_pid);
	S->conns = NULL;
	S->pidfd_pid = NULL;
	S->nconns = S->npidfd = 0;
	S->closed = 1;
}

/* The JS handle was collected: free it all, unless it is still serving (then it stays). */
static void server_finalize(napi_env env, void *data, void *hint)
{
	(void)env;
	(void)hint;
	struct server *S = data;
	if (!S->closed)
		return;
	free(S->req);
	free(S->rsp);
	free(S);
}

/*
 * serve(path, handlers, spinUs) → server: listen on a unix socket and dispatch from the event
 * loop. handlers: connect(conn, pid, uid, gid), request(conn, len) → reply length (the frame is
 * in buffers().req, the reply goes in buffers().rsp), hup(farEnd), exit(pid), close(conn).
 */
static napi_value js_serve(napi_env env, napi_callback_info info)
{
	napi_value argv[3];
	if (!get_args(env, info, 3, argv))
		return NULL;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	size_t l;
	if (napi_get_value_string_utf8(env, argv[0], path, sizeof(path), &l) != napi_ok || l >= sizeof(path) - 1) {
		napi_throw_error(env, NULL, "iommu_emu_node: socket path too long");
		return NULL;
	}
	int64_t spin;
	if (arg_int(env, argv[2], &spin))
		spin = 0;
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	memcpy(sa.sun_path, path, l + 1);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 64) < 0) {
		int e = errno;
		if (s >= 0)
			close(s);
		napi_throw_error(env, NULL, strerror(e));
		return NULL;
	}
	struct server *S = calloc(1, sizeof(*S));
	S->req = malloc(FRAME_MAX);
	S->rsp = malloc(RSP_MAX);
	if (!S->req || !S->rsp) {
		close(s);
		napi_throw_error(env, NULL, "iommu_emu_node: out of memory");
		return NULL;
	}
	S->env = env;
	S->listen_fd = s;
	S->spin_us = (long)spin;
	S->ep = epoll_create1(EPOLL_CLOEXEC);
	S->ep_peer = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV(K_LISTEN, s) };
	epoll_ctl(S->ep, EPOLL_CTL_ADD, s, &ev);
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = EV(K_PEERS, S->ep_peer) };
	epoll_ctl(S->ep, EPOLL_CTL_ADD, S->ep_peer, &ev);
	S->on_connect = fn_ref(env, argv[1], "connect");
	S->on_request = fn_ref(env, argv[1], "request");
	S->on_hup = fn_ref(env, argv[1], "hup");
	S->on_exit = fn_ref(env, argv[1], "exit");
	S->on_close = fn_ref(env, argv[1], "close");
	CHECK(napi_get_uv_event_loop(env, &S->loop));
	uv_poll_init(S->loop, &S->poll, S->ep);
	S->poll.data = S;
	uv_poll_start(&S->poll, UV_READABLE, on_poll);
	S->polling = 1;
	napi_value ext;
	CHECK(napi_create_external(env, S, server_finalize, NULL, &ext));
	return ext;
}

/* stop(server): close the socket, every connection and far end, every pidfd. */
static napi_value js_stop(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	if (!get_args(env, info, 1, argv))
		return NULL;
	struct server *S = server_of(env, argv[0]);
	if (!S)
		return NULL;
	for (int i = 0; i < S->nconns; i++)
		if (S->conns[i]) {
			close(S->conns[i]->fd);
			free(S->conns[i]->in);
			free(S->conns[i]);
			S->conns[i] = NULL;
		}
	for (int i = 0; i < S->npidfd; i++)
		if (S->pidfd_pid[i]) {
			close(i);
			S->pidfd_pid[i] = 0;
		}
	close(S->listen_fd);
	close(S->ep_peer);
	close(S->ep);
	S->ep = S->ep_peer = S->listen_fd = -1;
	unref(env, &S->on_connect);
	unref(env, &S->on_request);
	unref(env, &S->on_hup);
	unref(env, &S->on_exit);
	unref(env, &S->on_close);
	uv_poll_stop(&S->poll);
	uv_close((uv_handle_t *)&S->poll, server_closed);
	return NULL;
}

/* buffers(server): { req, rsp } — the frame being dispatched and the reply to fill. */
static napi_value js_buffers(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	if (!get_args(env, info, 1, argv))
		return NULL;
	struct server *S = server_of(env, argv[0]);
	if (!S)
		return NULL;
	napi_value o, a, b;
	CHECK(napi_create_object(env, &o));
	CHECK(napi_create_external_buffer(env, FRAME_MAX, S->req, NULL, NULL, &a));
	CHECK(napi_create_external_buffer(env, RSP_MAX, S->rsp, NULL, NULL, &b));
	napi_set_named_property(env, o, "req", a);
	napi_set_named_property(env, o, "rsp", b);
	return o;
}

/* attachFds(server, fds, closeAfter): send these with the reply being built (SCM_RIGHTS). */
static napi_value js_attach_fds(napi_env env, napi_callback_info info)
{
	napi_value argv[3];
	if (!get_args(env, info, 3, argv))
		return NULL;
	struct server *S = server_of(env, argv[0]);
	if (!S)
		return NULL;
	uint32_t n;
	bool close_after;
	CHECK(napi_get_array_length(env, argv[1], &n));
	CHECK(napi_get_value_bool(env, argv[2], &close_after));
	close_reply_fds(S);
	for (uint32_t i = 0; i < n && i < MAX_FDS; i++) {
		napi_value v;
		int32_t fd;
		CHECK(napi_get_element(env, argv[1], i, &v));
		CHECK(napi_get_value_int32(env, v, &fd));
		S->reply_fds[S->reply_nfds++] = fd;
	}
	S->reply_close = close_after;
	return NULL;
}

/* send(server, conn, buffer): an unsolicited frame; 0 or -1. */
static napi_value js_send(napi_env env, napi_callback_info info)
{
	napi_value argv[3];
	if (!get_args(env, info, 3, argv))
		return NULL;
	struct server *S = server_of(env, argv[0]);
	if (!S)
		return NULL;
	int64_t fd;
	void *data;
	size_t len;
	if (arg_int(env, argv[1], &fd) || arg_bytes(env, argv[2], &data, &len))
		return NULL;
	int rc = send_frame(S, (int)fd, data, len);
	close_reply_fds(S);
	return num(env, rc);
}

/* placeholder(server): [farEnd, programEnd, ino] — a socketpair; the far end is watched for hang-up. */
static napi_value js_placeholder(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	if (!get_args(env, info, 1, argv))
		return NULL;
	struct server *S = server_of(env, argv[0]);
	if (!S)
		return NULL;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return num(env, -errno);
	struct stat st;
	fstat(sv[0], &st);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.u64 = EV(K_CONN, sv[1]) };
	epoll_ctl(S->ep_peer, EPOLL_CTL_ADD, sv[1], &ev);
	napi_value arr;
	CHECK(napi_create_array_with_length(env, 3, &arr));
	napi_set_element(env, arr, 0, num(env, sv[1]));
	napi_set_element(env, arr, 1, num(env, sv[0]));
	napi_set_element(env, arr, 2, num(env, (double)st.st_ino));
	return arr;
}

/* dropPlaceholder(server, farEnd): the server lets go of one (shutdown). */
static napi_value js_drop_placeholder(napi_env env, napi_callback_info info)
{
	napi_value argv[2];
	if (!get_args(env, info, 2, argv))
		return NULL;
	struct server *S = server_of(env, argv[0]);
	int64_t fd;
	if (!S || arg_int(env, argv[1], &fd))
		return NULL;
	epoll_ctl(S->ep_peer, EPOLL_CTL_DEL, (int)fd, NULL);
	close((int)fd);
	return NULL;
}

/* reap(server): run the hang-up handler now for every placeholder with no reference left. */
static napi_value js_reap(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	if (!get_args(env, info, 1, argv))
		return NULL;
	struct server *S = server_of(env, argv[0]);
	if (S)
		reap(S);
	return NULL;
}

/* watchPid(server, pid): the exit handler runs (pid, token) when it exits. The token (>= 0), or -errno. */
static napi_value js_watch_pid(napi_env env, napi_callback_info info)
{
	napi_value argv[2];
	if (!get_args(env, info, 2, argv))
		return NULL;
	struct server *S = server_of(env, argv[0]);
	int64_t pid;
	if (!S || arg_int(env, argv[1], &pid))
		return NULL;
	int fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	if (fd < 0)
		return num(env, -errno);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	if (fd >= S->npidfd) {
		int n = fd + 64;
		int *t = realloc(S->pidfd_pid, sizeof(int) * (size_t)n);
		if (!t) {
			close(fd);
			return num(env, -ENOMEM);
		}
		memset(t + S->npidfd, 0, sizeof(int) * (size_t)(n - S->npidfd));
		S->pidfd_pid = t;
		S->npidfd = n;
	}
	S->pidfd_pid[fd] = (int)pid;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV(K_PIDFD, fd) };
	epoll_ctl(S->ep, EPOLL_CTL_ADD, fd, &ev);
	return num(env, fd);
}

/* getfd(pid, fd): a copy, in this process, of fd `fd` of process `pid` (pidfd_getfd). */
static napi_value js_getfd(napi_env env, napi_callback_info info)
{
	napi_value argv[2];
	if (!get_args(env, info, 2, argv))
		return NULL;
	int64_t pid, fd;
	if (arg_int(env, argv[0], &pid) || arg_int(env, argv[1], &fd))
		return NULL;
	int p = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	if (p < 0)
		return num(env, -errno);
	int r = (int)syscall(SYS_pidfd_getfd, p, (int)fd, 0);
	int e = errno;
	close(p);
	return num(env, r < 0 ? -e : r);
}

static napi_value vm_rw(napi_env env, napi_callback_info info, int write)
{
	napi_value argv[3];
	if (!get_args(env, info, 3, argv))
		return NULL;
	int64_t pid;
	uint64_t addr;
	void *data;
	size_t len;
	if (arg_int(env, argv[0], &pid) || arg_u64(env, argv[1], &addr) || arg_bytes(env, argv[2], &data, &len)) {
		napi_throw_type_error(env, NULL, "iommu_emu_node: vm(pid, addr, bytes)");
		return NULL;
	}
	if (len == 0)
		return num(env, 0);
	struct iovec local = { .iov_base = data, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = len };
	ssize_t n = write ? process_vm_writev((pid_t)pid, &local, 1, &remote, 1, 0) : process_vm_readv((pid_t)pid, &local, 1, &remote, 1, 0);
	return num(env, n < 0 ? -errno : (double)n);
}

/* vmRead(pid, addr, buf) / vmWrite(pid, addr, buf): bytes copied, or -errno (EFAULT, ESRCH, EPERM). */
static napi_value js_vm_read(napi_env env, napi_callback_info info)
{
	return vm_rw(env, info, 0);
}

static napi_value js_vm_write(napi_env env, napi_callback_info info)
{
	return vm_rw(env, info, 1);
}

/*
 * vmaQuery(mapsFd, addr, out: BigUint64Array(3)): the VMA covering addr or the next one above
 * it: out = [start, end, flags (PROCMAP_QUERY_VMA_*)]; 0, or -errno (ENOENT: none; ENOTTY: the
 * kernel predates PROCMAP_QUERY).
 */
static napi_value js_vma_query(napi_env env, napi_callback_info info)
{
	napi_value argv[3];
	if (!get_args(env, info, 3, argv))
		return NULL;
	int64_t fd;
	uint64_t addr;
	napi_typedarray_type type;
	size_t n, off;
	void *data;
	napi_value ab;
	if (arg_int(env, argv[0], &fd) || arg_u64(env, argv[1], &addr) ||
	    napi_get_typedarray_info(env, argv[2], &type, &n, &data, &ab, &off) != napi_ok || type != napi_biguint64_array || n < 3) {
		napi_throw_type_error(env, NULL, "iommu_emu_node: vmaQuery(fd, addr, BigUint64Array(3))");
		return NULL;
	}
	struct iommu_emu_procmap_query q = { .size = sizeof(q), .query_flags = IOMMU_EMU_PROCMAP_COVERING_OR_NEXT, .query_addr = addr };
	if (ioctl((int)fd, IOMMU_EMU_PROCMAP_QUERY, &q) < 0)
		return num(env, -errno);
	uint64_t *out = data;
	out[0] = q.vma_start;
	out[1] = q.vma_end;
	out[2] = q.vma_flags;
	return num(env, 0);
}

/* memfd(name): a new memfd (close-on-exec), or -errno. */
static napi_value js_memfd(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	if (!get_args(env, info, 1, argv))
		return NULL;
	char name[64];
	size_t l;
	CHECK(napi_get_value_string_utf8(env, argv[0], name, sizeof(name), &l));
	int fd = (int)syscall(SYS_memfd_create, name, 1u /* MFD_CLOEXEC */);
	return num(env, fd < 0 ? -errno : fd);
}

static void unmap_finalizer(napi_env env, void *data, void *hint)
{
	(void)env;
	munmap(data, (size_t)(uintptr_t)hint);
}

/* mapShared(fd, offset, length): an ArrayBuffer over a MAP_SHARED mapping of the file. */
static napi_value js_map_shared(napi_env env, napi_callback_info info)
{
	napi_value argv[3];
	if (!get_args(env, info, 3, argv))
		return NULL;
	int64_t fd, off, len;
	if (arg_int(env, argv[0], &fd) || arg_int(env, argv[1], &off) || arg_int(env, argv[2], &len) || len <= 0)
		return NULL;
	void *p = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED, (int)fd, (off_t)off);
	if (p == MAP_FAILED) {
		napi_throw_error(env, NULL, strerror(errno));
		return NULL;
	}
	napi_value ab;
	if (napi_create_external_arraybuffer(env, p, (size_t)len, unmap_finalizer, (void *)(uintptr_t)len, &ab) != napi_ok) {
		munmap(p, (size_t)len);
		napi_throw_error(env, NULL, "iommu_emu_node: external ArrayBuffers are not allowed here");
		return NULL;
	}
	return ab;
}

#define EXPORT(name, fn)                                                                                               \
	do {                                                                                                           \
		napi_value f;                                                                                          \
		napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, NULL, &f);                                       \
		napi_set_named_property(env, exports, name, f);                                                        \
	} while (0)

NAPI_MODULE_INIT()
{
	EXPORT("serve", js_serve);
	EXPORT("stop", js_stop);
	EXPORT("buffers", js_buffers);
	EXPORT("attachFds", js_attach_fds);
	EXPORT("send", js_send);
	EXPORT("placeholder", js_placeholder);
	EXPORT("dropPlaceholder", js_drop_placeholder);
	EXPORT("reap", js_reap);
	EXPORT("watchPid", js_watch_pid);
	EXPORT("getfd", js_getfd);
	EXPORT("vmRead", js_vm_read);
	EXPORT("vmWrite", js_vm_write);
	EXPORT("vmaQuery", js_vma_query);
	EXPORT("memfd", js_memfd);
	EXPORT("mapShared", js_map_shared);
	napi_value v;
	napi_create_uint32(env, IOMMU_EMU_PROTOCOL_VERSION, &v);
	napi_set_named_property(env, exports, "protocolVersion", v);
	return exports;
}
