// SPDX-License-Identifier: GPL-2.0-only
import test from 'ava';
import { LayoutCase, testLayouts } from '../testing/layout_cases';
import * as F from './fuse';

/*
 * Numbers printed by lib/uapi/c/fuse_layout.c against /usr/include/linux/fuse.h of Linux 6.1
 * (protocol 7.38; gcc 12.2, x86_64).
 */
const layouts: LayoutCase[] = [
  { layout: F.fuse_in_header, size: 40, fields: { len: [0, 4], opcode: [4, 8], unique: [8, 16], nodeid: [16, 24], uid: [24, 28], gid: [28, 32], pid: [32, 36], total_extlen: [36, 38], padding: [38, 40] } },
  { layout: F.fuse_out_header, size: 16, fields: { len: [0, 4], error: [4, 8], unique: [8, 16] } },
  { layout: F.fuse_attr, size: 88, fields: { ino: [0, 8], size: [8, 16], blocks: [16, 24], atime: [24, 32], mtime: [32, 40], ctime: [40, 48], atimensec: [48, 52], mtimensec: [52, 56], ctimensec: [56, 60], mode: [60, 64], nlink: [64, 68], uid: [68, 72], gid: [72, 76], rdev: [76, 80], blksize: [80, 84], flags: [84, 88] } },
  { layout: F.fuse_kstatfs, size: 80, fields: { blocks: [0, 8], bfree: [8, 16], bavail: [16, 24], files: [24, 32], ffree: [32, 40], bsize: [40, 44], namelen: [44, 48], frsize: [48, 52], padding: [52, 56], spare: [56, 80] } },
  { layout: F.fuse_entry_out, size: 128, fields: { nodeid: [0, 8], generation: [8, 16], entry_valid: [16, 24], attr_valid: [24, 32], entry_valid_nsec: [32, 36], attr_valid_nsec: [36, 40], attr: [40, 128] } },
  { layout: F.fuse_forget_in, size: 8, fields: { nlookup: [0, 8] } },
  { layout: F.fuse_forget_one, size: 16, fields: { nodeid: [0, 8], nlookup: [8, 16] } },
  { layout: F.fuse_batch_forget_in, size: 8, fields: { count: [0, 4], dummy: [4, 8] } },
  { layout: F.fuse_getattr_in, size: 16, fields: { getattr_flags: [0, 4], dummy: [4, 8], fh: [8, 16] } },
  { layout: F.fuse_attr_out, size: 104, fields: { attr_valid: [0, 8], attr_valid_nsec: [8, 12], dummy: [12, 16], attr: [16, 104] } },
  { layout: F.fuse_mknod_in, size: 16, fields: { mode: [0, 4], rdev: [4, 8], umask: [8, 12], padding: [12, 16] } },
  { layout: F.fuse_mkdir_in, size: 8, fields: { mode: [0, 4], umask: [4, 8] } },
  { layout: F.fuse_rename_in, size: 8, fields: { newdir: [0, 8] } },
  { layout: F.fuse_rename2_in, size: 16, fields: { newdir: [0, 8], flags: [8, 12], padding: [12, 16] } },
  { layout: F.fuse_link_in, size: 8, fields: { oldnodeid: [0, 8] } },
  { layout: F.fuse_setattr_in, size: 88, fields: { valid: [0, 4], padding: [4, 8], fh: [8, 16], size: [16, 24], lock_owner: [24, 32], atime: [32, 40], mtime: [40, 48], ctime: [48, 56], atimensec: [56, 60], mtimensec: [60, 64], ctimensec: [64, 68], mode: [68, 72], unused4: [72, 76], uid: [76, 80], gid: [80, 84], unused5: [84, 88] } },
  { layout: F.fuse_open_in, size: 8, fields: { flags: [0, 4], open_flags: [4, 8] } },
  { layout: F.fuse_create_in, size: 16, fields: { flags: [0, 4], mode: [4, 8], umask: [8, 12], open_flags: [12, 16] } },
  { layout: F.fuse_open_out, size: 16, fields: { fh: [0, 8], open_flags: [8, 12], padding: [12, 16] } },
  { layout: F.fuse_release_in, size: 24, fields: { fh: [0, 8], flags: [8, 12], release_flags: [12, 16], lock_owner: [16, 24] } },
  { layout: F.fuse_flush_in, size: 24, fields: { fh: [0, 8], unused: [8, 12], padding: [12, 16], lock_owner: [16, 24] } },
  { layout: F.fuse_read_in, size: 40, fields: { fh: [0, 8], offset: [8, 16], size: [16, 20], read_flags: [20, 24], lock_owner: [24, 32], flags: [32, 36], padding: [36, 40] } },
  { layout: F.fuse_write_in, size: 40, fields: { fh: [0, 8], offset: [8, 16], size: [16, 20], write_flags: [20, 24], lock_owner: [24, 32], flags: [32, 36], padding: [36, 40] } },
  { layout: F.fuse_write_out, size: 8, fields: { size: [0, 4], padding: [4, 8] } },
  { layout: F.fuse_statfs_out, size: 80, fields: { st: [0, 80] } },
  { layout: F.fuse_access_in, size: 8, fields: { mask: [0, 4], padding: [4, 8] } },
  { layout: F.fuse_interrupt_in, size: 8, fields: { unique: [0, 8] } },
  { layout: F.fuse_fsync_in, size: 16, fields: { fh: [0, 8], fsync_flags: [8, 12], padding: [12, 16] } },
  { layout: F.fuse_lseek_in, size: 24, fields: { fh: [0, 8], offset: [8, 16], whence: [16, 20], padding: [20, 24] } },
  { layout: F.fuse_lseek_out, size: 8, fields: { offset: [0, 8] } },
  { layout: F.fuse_getxattr_in, size: 8, fields: { size: [0, 4], padding: [4, 8] } },
  { layout: F.fuse_getxattr_out, size: 8, fields: { size: [0, 4], padding: [4, 8] } },
  { layout: F.fuse_init_in, size: 64, fields: { major: [0, 4], minor: [4, 8], max_readahead: [8, 12], flags: [12, 16], flags2: [16, 20], unused: [20, 64] } },
  { layout: F.fuse_init_out, size: 64, fields: { major: [0, 4], minor: [4, 8], max_readahead: [8, 12], flags: [12, 16], max_background: [16, 18], congestion_threshold: [18, 20], max_write: [20, 24], time_gran: [24, 28], max_pages: [28, 30], map_alignment: [30, 32], flags2: [32, 36], unused: [36, 64] } },
  { layout: F.fuse_dirent, size: 24, fields: { ino: [0, 8], off: [8, 16], namelen: [16, 20], type: [20, 24], name: [24, null] } },
  { layout: F.fuse_notify_inval_inode_out, size: 24, fields: { ino: [0, 8], off: [8, 16], len: [16, 24] } },
  { layout: F.fuse_notify_inval_entry_out, size: 16, fields: { parent: [0, 8], namelen: [8, 12], flags: [12, 16] } },
];

testLayouts(test, layouts);

test('protocol constants match the header', (t) => {
  t.is(F.FUSE_KERNEL_MINOR_VERSION, 38);
  t.is(F.FUSE_MIN_READ_BUFFER, 8192);
});
