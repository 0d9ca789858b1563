// SPDX-License-Identifier: GPL-2.0-only
/**
 * include/uapi/linux/fuse.h — the FUSE wire protocol between the kernel's fuse module and a
 * userspace filesystem reading /dev/fuse: opcodes, flags and the request/reply structs the live
 * /sys server speaks (protocol 7.x; the server negotiates its minor down to FUSE_KERNEL_MINOR_VERSION).
 *
 * Every message from the kernel is `fuse_in_header` + the opcode's `*_in` struct (+ names);
 * every reply is `fuse_out_header` (error = 0 or -errno) + the opcode's `*_out` struct.
 * Layouts are pinned against gcc's layout of /usr/include/linux/fuse.h in fuse.test.ts.
 */
import { array, flex, s32, s64, struct, u16, u32, u64, u8 } from '../abi';

export const FUSE_KERNEL_VERSION = 7;
/** The minor this emulator speaks (fuse.h of Linux 6.1). */
export const FUSE_KERNEL_MINOR_VERSION = 38;
export const FUSE_ROOT_ID = 1;
/** A read of /dev/fuse must offer at least this many bytes. */
export const FUSE_MIN_READ_BUFFER = 8192;

export const FUSE_LOOKUP = 1;
export const FUSE_FORGET = 2;
export const FUSE_GETATTR = 3;
export const FUSE_SETATTR = 4;
export const FUSE_READLINK = 5;
export const FUSE_SYMLINK = 6;
export const FUSE_MKNOD = 8;
export const FUSE_MKDIR = 9;
export const FUSE_UNLINK = 10;
export const FUSE_RMDIR = 11;
export const FUSE_RENAME = 12;
export const FUSE_LINK = 13;
export const FUSE_OPEN = 14;
export const FUSE_READ = 15;
export const FUSE_WRITE = 16;
export const FUSE_STATFS = 17;
export const FUSE_RELEASE = 18;
export const FUSE_FSYNC = 20;
export const FUSE_SETXATTR = 21;
export const FUSE_GETXATTR = 22;
export const FUSE_LISTXATTR = 23;
export const FUSE_REMOVEXATTR = 24;
export const FUSE_FLUSH = 25;
export const FUSE_INIT = 26;
export const FUSE_OPENDIR = 27;
export const FUSE_READDIR = 28;
export const FUSE_RELEASEDIR = 29;
export const FUSE_FSYNCDIR = 30;
export const FUSE_GETLK = 31;
export const FUSE_SETLK = 32;
export const FUSE_SETLKW = 33;
export const FUSE_ACCESS = 34;
export const FUSE_CREATE = 35;
export const FUSE_INTERRUPT = 36;
export const FUSE_BMAP = 37;
export const FUSE_DESTROY = 38;
export const FUSE_IOCTL = 39;
export const FUSE_POLL = 40;
export const FUSE_NOTIFY_REPLY = 41;
export const FUSE_BATCH_FORGET = 42;
export const FUSE_FALLOCATE = 43;
export const FUSE_READDIRPLUS = 44;
export const FUSE_RENAME2 = 45;
export const FUSE_LSEEK = 46;
export const FUSE_COPY_FILE_RANGE = 47;
export const FUSE_SYNCFS = 50;
export const FUSE_TMPFILE = 51;

/* enum fuse_notify_code: unsolicited messages (out header unique 0, error = code) */
export const FUSE_NOTIFY_INVAL_INODE = 2;
export const FUSE_NOTIFY_INVAL_ENTRY = 3;
export const FUSE_NOTIFY_DELETE = 6;

/* fuse_setattr_in.valid */
export const FATTR_MODE = 1 << 0;
export const FATTR_UID = 1 << 1;
export const FATTR_GID = 1 << 2;
export const FATTR_SIZE = 1 << 3;
export const FATTR_ATIME = 1 << 4;
export const FATTR_MTIME = 1 << 5;
export const FATTR_FH = 1 << 6;
export const FATTR_ATIME_NOW = 1 << 7;
export const FATTR_MTIME_NOW = 1 << 8;
export const FATTR_LOCKOWNER = 1 << 9;
export const FATTR_CTIME = 1 << 10;
export const FATTR_KILL_SUIDGID = 1 << 11;

/* fuse_open_out.open_flags */
export const FOPEN_DIRECT_IO = 1 << 0;
export const FOPEN_KEEP_CACHE = 1 << 1;
export const FOPEN_NONSEEKABLE = 1 << 2;
export const FOPEN_CACHE_DIR = 1 << 3;

/* fuse_init_in/out.flags */
export const FUSE_ASYNC_READ = 1 << 0;
export const FUSE_POSIX_LOCKS = 1 << 1;
export const FUSE_ATOMIC_O_TRUNC = 1 << 3;
export const FUSE_EXPORT_SUPPORT = 1 << 4;
export const FUSE_BIG_WRITES = 1 << 5;
export const FUSE_DONT_MASK = 1 << 6;
export const FUSE_DO_READDIRPLUS = 1 << 13;
export const FUSE_PARALLEL_DIROPS = 1 << 18;
export const FUSE_MAX_PAGES = 1 << 22;
export const FUSE_CACHE_SYMLINKS = 1 << 23;
export const FUSE_NO_OPENDIR_SUPPORT = 1 << 24;

export const FUSE_GETATTR_FH = 1 << 0;

export const fuse_in_header = struct('fuse_in_header', {
  len: u32,
  opcode: u32,
  unique: u64,
  nodeid: u64,
  uid: u32,
  gid: u32,
  pid: u32,
  total_extlen: u16,
  padding: u16,
});

export const fuse_out_header = struct('fuse_out_header', { len: u32, error: s32, unique: u64 });

export const fuse_attr = struct('fuse_attr', {
  ino: u64,
  size: u64,
  blocks: u64,
  atime: u64,
  mtime: u64,
  ctime: u64,
  atimensec: u32,
  mtimensec: u32,
  ctimensec: u32,
  mode: u32,
  nlink: u32,
  uid: u32,
  gid: u32,
  rdev: u32,
  blksize: u32,
  flags: u32,
});

export const fuse_kstatfs = struct('fuse_kstatfs', {
  blocks: u64,
  bfree: u64,
  bavail: u64,
  files: u64,
  ffree: u64,
  bsize: u32,
  namelen: u32,
  frsize: u32,
  padding: u32,
  spare: array(u32, 6),
});

export const fuse_entry_out = struct('fuse_entry_out', {
  nodeid: u64,
  generation: u64,
  entry_valid: u64,
  attr_valid: u64,
  entry_valid_nsec: u32,
  attr_valid_nsec: u32,
  attr: fuse_attr,
});

export const fuse_forget_in = struct('fuse_forget_in', { nlookup: u64 });
export const fuse_forget_one = struct('fuse_forget_one', { nodeid: u64, nlookup: u64 });
export const fuse_batch_forget_in = struct('fuse_batch_forget_in', { count: u32, dummy: u32 });
export const fuse_getattr_in = struct('fuse_getattr_in', { getattr_flags: u32, dummy: u32, fh: u64 });
export const fuse_attr_out = struct('fuse_attr_out', { attr_valid: u64, attr_valid_nsec: u32, dummy: u32, attr: fuse_attr });
export const fuse_mknod_in = struct('fuse_mknod_in', { mode: u32, rdev: u32, umask: u32, padding: u32 });
export const fuse_mkdir_in = struct('fuse_mkdir_in', { mode: u32, umask: u32 });
export const fuse_rename_in = struct('fuse_rename_in', { newdir: u64 });
export const fuse_rename2_in = struct('fuse_rename2_in', { newdir: u64, flags: u32, padding: u32 });
export const fuse_link_in = struct('fuse_link_in', { oldnodeid: u64 });

export const fuse_setattr_in = struct('fuse_setattr_in', {
  valid: u32,
  padding: u32,
  fh: u64,
  size: u64,
  lock_owner: u64,
  atime: u64,
  mtime: u64,
  ctime: u64,
  atimensec: u32,
  mtimensec: u32,
  ctimensec: u32,
  mode: u32,
  unused4: u32,
  uid: u32,
  gid: u32,
  unused5: u32,
});

export const fuse_open_in = struct('fuse_open_in', { flags: u32, open_flags: u32 });
export const fuse_create_in = struct('fuse_create_in', { flags: u32, mode: u32, umask: u32, open_flags: u32 });
export const fuse_open_out = struct('fuse_open_out', { fh: u64, open_flags: u32, padding: u32 });
export const fuse_release_in = struct('fuse_release_in', { fh: u64, flags: u32, release_flags: u32, lock_owner: u64 });
export const fuse_flush_in = struct('fuse_flush_in', { fh: u64, unused: u32, padding: u32, lock_owner: u64 });

export const fuse_read_in = struct('fuse_read_in', {
  fh: u64,
  offset: u64,
  size: u32,
  read_flags: u32,
  lock_owner: u64,
  flags: u32,
  padding: u32,
});

export const fuse_write_in = struct('fuse_write_in', {
  fh: u64,
  offset: u64,
  size: u32,
  write_flags: u32,
  lock_owner: u64,
  flags: u32,
  padding: u32,
});

export const fuse_write_out = struct('fuse_write_out', { size: u32, padding: u32 });
export const fuse_statfs_out = struct('fuse_statfs_out', { st: fuse_kstatfs });
export const fuse_access_in = struct('fuse_access_in', { mask: u32, padding: u32 });
export const fuse_interrupt_in = struct('fuse_interrupt_in', { unique: u64 });
export const fuse_fsync_in = struct('fuse_fsync_in', { fh: u64, fsync_flags: u32, padding: u32 });
export const fuse_lseek_in = struct('fuse_lseek_in', { fh: u64, offset: u64, whence: u32, padding: u32 });
export const fuse_lseek_out = struct('fuse_lseek_out', { offset: u64 });
export const fuse_getxattr_in = struct('fuse_getxattr_in', { size: u32, padding: u32 });
export const fuse_getxattr_out = struct('fuse_getxattr_out', { size: u32, padding: u32 });

export const fuse_init_in = struct('fuse_init_in', {
  major: u32,
  minor: u32,
  max_readahead: u32,
  flags: u32,
  flags2: u32,
  unused: array(u32, 11),
});

export const fuse_init_out = struct('fuse_init_out', {
  major: u32,
  minor: u32,
  max_readahead: u32,
  flags: u32,
  max_background: u16,
  congestion_threshold: u16,
  max_write: u32,
  time_gran: u32,
  max_pages: u16,
  map_alignment: u16,
  flags2: u32,
  unused: array(u32, 7),
});

/** One READDIR record: the name follows, the record is padded to 8 bytes. */
export const fuse_dirent = struct('fuse_dirent', { ino: u64, off: u64, namelen: u32, type: u32, name: flex(u8) });

export const fuse_notify_inval_inode_out = struct('fuse_notify_inval_inode_out', { ino: u64, off: s64, len: s64 });
export const fuse_notify_inval_entry_out = struct('fuse_notify_inval_entry_out', { parent: u64, namelen: u32, flags: u32 });

/** `FUSE_DIRENT_ALIGN`: records are 8-byte aligned. */
export const fuseDirentAlign = (n: number): number => (n + 7) & ~7;
