// SPDX-License-Identifier: GPL-2.0-only
/**
 * `struct file` and `struct file_operations`: an open file description is reference counted, and
 * its `release` runs when the last reference goes — whichever task (fd table, fork child, an
 * in-kernel holder) drops it, and whenever. Handlers receive the file and the calling task
 * (`current`), which the syscall boundary passes in.
 * @see include/linux/fs.h:struct file, struct file_operations
 * @see fs/file_table.c:fput, __fput
 */
import type { Credentials } from '../cred';
import { kerr } from '../errno';
import { O_ACCMODE, O_CLOEXEC, O_RDONLY, O_RDWR, O_WRONLY } from '../uapi/fcntl';
import type { Task } from './sched';

/** `FMODE_READ` / `FMODE_WRITE` */
export const FMODE_READ = 0x1;
export const FMODE_WRITE = 0x2;

/** What a device node's open gets besides the file: the node (path, its registered data). */
export interface OpenContext {
  readonly cred: Credentials;
  readonly flags: number;
  /** The device node's path. */
  readonly path: string;
}

/**
 * The request an `mmap` handler answers: map `length` bytes of the file at page offset `pgoff`.
 * It returns the object to map (page-indexed backing store, shared with the mapper) or throws.
 * @see include/linux/mm_types.h:struct vm_area_struct (vm_pgoff, vm_flags)
 */
export interface MmapRequest {
  readonly pgoff: bigint;
  readonly length: bigint;
  readonly prot: number;
  readonly shared: boolean;
}

/** Pages by page offset: what a device `mmap` hands the mapper (the mapper sees and writes them). */
export type PageStore = Map<bigint, Uint8Array>;

export interface MmapResult {
  readonly pages: PageStore;
  /** Page offset in `pages` of the mapping's first page. */
  readonly pgoff: bigint;
}

export interface FileOperations<P = unknown> {
  readonly name: string;
  /**
   * Opened with `nonseekable_open`: reads and writes see position 0 and leave it there; pread,
   * pwrite and lseek are ESPIPE.
   */
  readonly nonseekable?: boolean;
  /** Device nodes: runs at open(2); returns the file's private data. Throws a KernelError to refuse. */
  open?(ctx: OpenContext, data: unknown, current: Task): P;
  /** At the last reference (`__fput`), in whichever task dropped it. */
  release?(file: File<P>): void;
  read?(file: File<P>, len: number, pos: bigint, current: Task): Uint8Array;
  write?(file: File<P>, data: Uint8Array, pos: bigint, current: Task): number;
  /** ≥ 0, or throws a KernelError (ENOIOCTLCMD becomes ENOTTY at the boundary). */
  unlockedIoctl?(file: File<P>, cmd: number, arg: bigint, current: Task): number;
  mmap?(file: File<P>, req: MmapRequest, current: Task): MmapResult;
}

/** Per-open sysfs state (`struct kernfs_open_file` + its seq_file buffer). */
export interface KernfsOpen {
  readonly attr: unknown;
  seqBuf?: Uint8Array;
}

/** `struct file` */
export class File<P = unknown> {
  /** `f_count`: fd-table slots and in-kernel holders. */
  count = 1;
  pos = 0n;
  released = false;

  constructor(
    readonly fop: FileOperations<P>,
    /** `f_flags` (O_ACCMODE, O_NONBLOCK, …; O_CLOEXEC lives in the fd table). */
    readonly flags: number,
    /** The path opened, or `anon_inode:[name]`. */
    readonly path: string,
    public privateData: P,
    /** `f_cred`: the opener's credentials. */
    readonly cred: Credentials,
    readonly kernfs?: KernfsOpen,
  ) {}

  /** `f_mode` */
  get mode(): number {
    const acc = this.flags & O_ACCMODE;
    return (acc === O_RDONLY || acc === O_RDWR ? FMODE_READ : 0) | (acc === O_WRONLY || acc === O_RDWR ? FMODE_WRITE : 0);
  }
}

/** `get_file`: one more reference. */
export function getFile<P>(f: File<P>): File<P> {
  if (f.released) throw new Error(`get_file on a released file (${f.path})`);
  f.count++;
  return f;
}

/** `fput`: drop a reference; the last one runs `release`. @see fs/file_table.c:__fput */
export function fput(f: File<any>): void { // eslint-disable-line @typescript-eslint/no-explicit-any
  if (f.released) throw new Error(`fput on a released file (${f.path})`);
  if (--f.count > 0) return;
  f.released = true;
  f.fop.release?.(f);
}

/** `anon_inode_getfile`: a file with no path (device fds, eventfds, iommufd objects). */
export function anonInodeGetfile<P>(name: string, fop: FileOperations<P>, priv: P, flags: number, cred: Credentials): File<P> {
  return new File(fop, flags & ~O_CLOEXEC, `anon_inode:${name}`, priv, cred);
}

/** The file's private data when it is of `fop`'s kind, else the errno (`fdget` + type check). */
export function fileOfKind<P>(f: File<unknown> | undefined, fop: FileOperations<P>, wrongKind: 'EINVAL' | 'EBADFD' = 'EINVAL'): File<P> {
  if (!f) throw kerr('EBADF');
  if (f.fop !== (fop as FileOperations<unknown>)) throw kerr(wrongKind);
  return f as File<P>;
}
