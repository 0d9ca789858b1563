// SPDX-License-Identifier: GPL-2.0-only
/**
 * kernfs_dir_iops and kernfs_iops as rules: what sysfs does with the namespace and inode changes
 * programs try on it — creating, removing or renaming entries, chmod, chown, truncate. One
 * table, used by `machine.fs` and by the live FUSE mount, so both give the errno a real /sys
 * gives, in the kernel's order of checks.
 *
 * The VFS checks first (fs/namei.c: may_create / may_delete / may_o_create — DAC on the parent
 * directory, so an unprivileged caller gets EACCES on root's 0755 directories), then asks the
 * filesystem: kernfs' directories have no ->create/->unlink/->symlink/->link/->mknod (the VFS
 * answers EACCES for a create, EPERM for the others) and their ->mkdir/->rmdir/->rename answer
 * EPERM because sysfs registers no kernfs_syscall_ops. Attributes are kept: kernfs_iop_setattr
 * stores mode/uid/gid/times for whoever setattr_prepare lets through (owner or CAP_FOWNER/CAP_CHOWN)
 * and ignores size changes.
 *
 * @see fs/namei.c:lookup_open, fs/namei.c:vfs_unlink, fs/namei.c:vfs_mkdir, fs/namei.c:vfs_symlink,
 *      fs/namei.c:vfs_link, fs/namei.c:vfs_mknod, fs/namei.c:may_delete
 * @see fs/kernfs/dir.c:kernfs_iop_mkdir, fs/kernfs/dir.c:kernfs_iop_rmdir, fs/kernfs/dir.c:kernfs_iop_rename
 * @see fs/kernfs/inode.c:kernfs_iop_setattr, fs/attr.c:setattr_prepare
 */
import { Credentials, capable, permitted } from '../cred';
import type { Errno } from '../errno';

/** What the rule needs to know about an inode: its mode (type bits included) and owner. */
export interface InodeInfo {
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const isDir = (i: InodeInfo) => (i.mode & S_IFMT) === S_IFDIR;

const MAY_WRITE_EXEC = 3;

export type KernfsNameOp = 'create' | 'mkdir' | 'mknod' | 'symlink' | 'link' | 'unlink' | 'rmdir' | 'rename';

/**
 * The errno for a namespace change in a sysfs directory. `parent` is the directory the name is
 * in, `victim` the existing entry (undefined when the name does not exist). Never undefined:
 * sysfs refuses every one of them.
 */
export function kernfsNameOpErrno(
  op: KernfsNameOp,
  cred: Credentials,
  parent: InodeInfo,
  victim: InodeInfo | undefined,
  renameFlags = 0,
): Errno {
  const mayWriteDir = permitted(cred, parent.mode, parent.uid, parent.gid, MAY_WRITE_EXEC);
  switch (op) {
    case 'create':
      // lookup_open: may_o_create's EACCES, else EACCES for a directory without ->create.
      return victim ? 'EEXIST' : 'EACCES';
    case 'mkdir':
    case 'mknod':
    case 'symlink':
    case 'link':
      // filename_create finds an existing name first; then may_create; then the missing op.
      if (victim) return 'EEXIST';
      return mayWriteDir ? 'EPERM' : 'EACCES';
    case 'unlink':
    case 'rmdir': {
      if (!victim) return 'ENOENT';
      if (!mayWriteDir) return 'EACCES';
      if (op === 'rmdir' && !isDir(victim)) return 'ENOTDIR';
      if (op === 'unlink' && isDir(victim)) return 'EISDIR';
      return 'EPERM';
    }
    case 'rename':
      if (!victim) return 'ENOENT';
      if (!mayWriteDir) return 'EACCES';
      return renameFlags ? 'EINVAL' : 'EPERM';
  }
}

/** chmod/chown by a caller: undefined when kernfs stores it, else the errno. @see fs/attr.c:setattr_prepare */
export function kernfsSetattrErrno(
  cred: Credentials,
  inode: InodeInfo,
  change: { mode?: boolean; uid?: number; gid?: number; size?: boolean; viaOpenFile?: boolean },
): Errno | undefined {
  const owner = cred.uid === inode.uid;
  if (change.uid !== undefined && change.uid !== inode.uid && !capable(cred, 'CAP_CHOWN')) return 'EPERM';
  if (change.gid !== undefined && change.gid !== inode.gid && !(owner && cred.gid === change.gid) && !capable(cred, 'CAP_CHOWN'))
    return 'EPERM';
  if (change.mode && !owner && !capable(cred, 'CAP_FOWNER')) return 'EPERM';
  // truncate(2) needs write permission on the inode (vfs_truncate); ftruncate has it from open.
  if (change.size && !change.viaOpenFile && !permitted(cred, inode.mode, inode.uid, inode.gid, 2)) return 'EACCES';
  return undefined;
}
