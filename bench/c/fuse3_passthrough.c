// SPDX-License-Identifier: GPL-2.0-only
/*
 * The libfuse3 yardstick for bench/live_sys.ts: a minimal read/write passthrough of a directory
 * (the static export of the same machine), with the same zero cache timeouts and direct I/O as
 * the live server. Its figures are the floor of the "libfuse3 in a native helper" design —
 * kernel + libfuse, no Node — which would still add a round trip to Node for every request.
 * Built by the benchmark when pkg-config finds fuse3 (Debian libfuse3-dev); not part of the
 * emulator.
 *
 *   fuse3_passthrough SOURCE MOUNTPOINT
 */
#define FUSE_USE_VERSION 35
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char src[PATH_MAX];

static void real(char *out, const char *path)
{
	snprintf(out, PATH_MAX, "%s%s", src, path);
}

static void *pt_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->entry_timeout = 0;
	cfg->attr_timeout = 0;
	cfg->negative_timeout = 0;
	cfg->direct_io = 1;
	cfg->use_ino = 1;
	return NULL;
}

static int pt_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	char p[PATH_MAX];

	(void)fi;
	real(p, path);
	return lstat(p, st) < 0 ? -errno : 0;
}

static int pt_readlink(const char *path, char *buf, size_t size)
{
	char p[PATH_MAX];
	ssize_t n;

	real(p, path);
	n = readlink(p, buf, size - 1);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return 0;
}

static int pt_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	char p[PATH_MAX];
	DIR *d;
	struct dirent *e;

	(void)off;
	(void)fi;
	(void)flags;
	real(p, path);
	d = opendir(p);
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		struct stat st = { .st_ino = e->d_ino, .st_mode = (mode_t)DTTOIF(e->d_type) };

		if (fill(buf, e->d_name, &st, 0, 0))
			break;
	}
	closedir(d);
	return 0;
}

static int pt_open(const char *path, struct fuse_file_info *fi)
{
	char p[PATH_MAX];
	int fd;

	real(p, path);
	fd = open(p, fi->flags & ~O_CREAT);
	if (fd < 0)
		return -errno;
	fi->fh = (uint64_t)fd;
	fi->direct_io = 1;
	return 0;
}

static int pt_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	ssize_t n = pread((int)fi->fh, buf, size, off);

	(void)path;
	return n < 0 ? -errno : (int)n;
}

static int pt_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	ssize_t n = pwrite((int)fi->fh, buf, size, off);

	(void)path;
	return n < 0 ? -errno : (int)n;
}

static int pt_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	char p[PATH_MAX];

	if (fi)
		return ftruncate((int)fi->fh, size) < 0 ? -errno : 0;
	real(p, path);
	return truncate(p, size) < 0 ? -errno : 0;
}

static int pt_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	close((int)fi->fh);
	return 0;
}

static const struct fuse_operations ops = {
	.init = pt_init,
	.getattr = pt_getattr,
	.readlink = pt_readlink,
	.readdir = pt_readdir,
	.open = pt_open,
	.read = pt_read,
	.write = pt_write,
	.truncate = pt_truncate,
	.release = pt_release,
};

int main(int argc, char **argv)
{
	if (argc != 3 || !realpath(argv[1], src)) {
		fprintf(stderr, "usage: %s SOURCE MOUNTPOINT\n", argv[0]);
		return 2;
	}
	/* foreground, single-threaded (as the Node server is), no default_permissions */
	char *args[] = { argv[0], "-f", "-s", argv[2], NULL };

	return fuse_main(4, args, &ops, NULL);
}
