// SPDX-License-Identifier: GPL-2.0-only
/**
 * The syscall boundary: open/close/read/write/pread/pwrite/lseek/ioctl/mmap/munmap/dup/fcntl of
 * one task, returning `>= 0` or `-errno` exactly as a C program sees them. The only place a
 * KernelError becomes `-errno`, and where ENOIOCTLCMD becomes ENOTTY. Every handler is called
 * with the calling task as `current`.
 * @see fs/ioctl.c:vfs_ioctl, fs/open.c:do_sys_openat2, fs/read_write.c, mm/mmap.c:do_mmap
 */
import type { Volume } from 'memfs';
import { constants } from 'node:fs';
import { KernelError, errnoNumber, isKernelError, kerr } from '../errno';
import { permitted } from '../cred';
import type { Attribute } from '../kernfs/attribute';
import { File, FileOperations, anonInodeGetfile } from '../task/file_table';
import type { Task } from '../task/sched';
import { MAP_FIXED, MAP_SHARED, O_ACCMODE, O_CLOEXEC, O_RDONLY, O_RDWR, O_WRONLY, PROT_READ, PROT_WRITE, SEEK_CUR, SEEK_END, SEEK_SET } from '../uapi/fcntl';
import { PAGE_SHIFT, isPageAligned } from '../kernel/page';
import type { DevNode } from '../drivers/char_dev';
import { attrContent } from './render';

/** What the boundary needs of the machine. */
export interface SyscallHost {
  readonly vol: Volume;
  /** The attribute rendered at a real (resolved) path. */
  attributeAt(path: string): Attribute | undefined;
  /** The char device registered at a real path. */
  devNodeAt(path: string): DevNode | undefined;
  /** Runs an attribute store for `current` (DAC already checked at open). */
  store(attr: Attribute, data: Uint8Array, pos: number, current: Task): number;
}

/** include/uapi/linux/limits.h */
export const PATH_MAX = 4096;
export const NAME_MAX = 255;

export interface MmapArgs {
  /** PROT_READ | PROT_WRITE by default. */
  readonly prot?: number;
  /** MAP_PRIVATE | MAP_ANONYMOUS by default; MAP_SHARED with an fd maps the device's pages. */
  readonly flags?: number;
  readonly fd?: number;
  readonly offset?: bigint | number;
  /** With MAP_FIXED: map exactly here. */
  readonly addr?: bigint;
}

/** A raw argument as C would see it, or undefined for a JS value no C program can pass. */
function u64Arg(x: bigint | number): bigint | undefined {
  if (typeof x === 'bigint') return BigInt.asUintN(64, x);
  if (typeof x !== 'number' || !Number.isInteger(x)) return undefined;
  return BigInt.asUintN(64, BigInt(x));
}

function offArg(x: bigint | number): bigint | undefined {
  if (typeof x === 'bigint') return BigInt.asIntN(64, x);
  if (typeof x !== 'number' || !Number.isInteger(x)) return undefined;
  return BigInt(x);
}

const isInt = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n);

export class Syscalls {
  /** The last failure with its context, for tools that want a message (like errno + strerror). */
  lastError: KernelError | undefined;

  constructor(
    private readonly host: SyscallHost,
    readonly task: Task,
  ) {}

  /** The task's fd table. */
  get fds(): Task['files'] {
    return this.task.files;
  }

  /** Runs `fn` and turns a KernelError into -errno; anything else is a bug and propagates. */
  private boundary(syscall: string, fn: () => number, path?: string, ioctl?: number): number {
    try {
      if (!this.task.alive) throw kerr('ESRCH', `task ${this.task.pid} has exited`);
      return fn();
    } catch (e) {
      if (!isKernelError(e)) throw e;
      const code = e.code === 'ENOIOCTLCMD' ? 'ENOTTY' : e.code;
      this.lastError = e.withContext({ syscall, path, ioctl: ioctl === undefined ? undefined : `0x${ioctl.toString(16)}` });
      return -errnoNumber(code);
    }
  }

  open(path: string, flags: number = O_RDONLY): number {
    return this.boundary('open', () => this.doOpen(path, flags), typeof path === 'string' ? path.slice(0, 256) : undefined);
  }

  /** Reserve the fd, open, install; a failed open gives the number back. @see fs/open.c:do_sys_openat2 */
  private doOpen(path: string, flags: number): number {
    if (typeof path !== 'string') throw kerr('EFAULT');
    if (!isInt(flags)) throw kerr('EINVAL');
    if (path.length === 0) throw kerr('ENOENT');
    if (path.includes('\0')) throw kerr('EINVAL');
    if (Buffer.byteLength(path) >= PATH_MAX) throw kerr('ENAMETOOLONG');
    if (path.split('/').some((c) => Buffer.byteLength(c) > NAME_MAX)) throw kerr('ENAMETOOLONG');
    const files = this.task.files;
    const fd = files.getUnusedFdFlags(flags);
    let file: File<unknown>;
    try {
      file = this.openFile(path, flags);
    } catch (e) {
      files.putUnusedFd(fd);
      throw e;
    }
    files.fdInstall(fd, file);
    return fd;
  }

  private openFile(path: string, flags: number): File<unknown> {
    const { vol } = this.host;
    const cred = this.task.cred;
    let real: string;
    try {
      real = String(vol.realpathSync(path));
    } catch (e) {
      const code = (e as { code?: string }).code;
      throw kerr(code === 'ENOTDIR' ? 'ENOTDIR' : code === 'ELOOP' ? 'ELOOP' : code === 'ENAMETOOLONG' ? 'ENAMETOOLONG' : 'ENOENT');
    }
    const st = vol.statSync(real);
    const acc = flags & O_ACCMODE;
    const want = (acc === O_RDONLY ? 4 : 0) | (acc === O_WRONLY ? 2 : 0) | (acc === O_RDWR ? 6 : 0);
    if (st.isDirectory() && acc !== O_RDONLY) throw kerr('EISDIR');
    if (!permitted(cred, Number(st.mode), Number(st.uid), Number(st.gid), want)) throw kerr('EACCES');
    const fileFlags = flags & ~O_CLOEXEC;
    if ((Number(st.mode) & constants.S_IFMT) === constants.S_IFCHR) {
      const dev = this.host.devNodeAt(real);
      if (!dev) throw kerr('ENXIO');
      const priv = dev.fops.open ? dev.fops.open({ cred, flags, path: real }, dev.data, this.task) : undefined;
      return new File(dev.fops, fileFlags, real, priv, cred);
    }
    const attr = this.host.attributeAt(real);
    if (attr && acc !== O_RDONLY && (!attr.store || (attr.mode & 0o222) === 0)) throw kerr('EACCES');
    if (attr && acc !== O_WRONLY && (attr.mode & 0o444) === 0) throw kerr('EACCES');
    return new File(PLAIN_FOPS, fileFlags, real, undefined, cred, attr ? { attr } : undefined);
  }

  /** `anon_inode_getfd` for in-process users (eventfds): a new fd on a new anonymous file. */
  installAnon(name: string, fops: FileOperations<any>, priv: unknown, flags = O_RDWR): number { // eslint-disable-line @typescript-eslint/no-explicit-any
    return this.task.files.installNew(anonInodeGetfile(name, fops, priv, flags, this.task.cred), flags);
  }

  close(fd: number): number {
    return this.boundary('close', () => {
      this.task.files.close(fd);
      return 0;
    });
  }

  dup(fd: number): number {
    return this.boundary('dup', () => this.task.files.dup(fd));
  }

  dup2(oldfd: number, newfd: number): number {
    return this.boundary('dup2', () => this.task.files.dup2(oldfd, newfd));
  }

  dup3(oldfd: number, newfd: number, flags: number): number {
    return this.boundary('dup3', () => this.task.files.dup3(oldfd, newfd, flags));
  }

  fcntl(fd: number, cmd: number, arg = 0): number {
    return this.boundary('fcntl', () => this.task.files.fcntl(fd, cmd, arg));
  }

  read(fd: number, buf: Uint8Array): number {
    return this.boundary('read', () => {
      const f = this.task.files.fget(fd);
      const n = this.doRead(f, buf, f.fop.nonseekable ? 0n : f.pos);
      if (!f.fop.nonseekable) f.pos += BigInt(n);
      return n;
    });
  }

  pread(fd: number, buf: Uint8Array, offset: bigint | number): number {
    return this.boundary('pread64', () => {
      const off = offArg(offset);
      const f = this.task.files.fget(fd);
      if (off === undefined || off < 0n) throw kerr('EINVAL');
      if (f.fop.nonseekable) throw kerr('ESPIPE');
      return this.doRead(f, buf, off);
    });
  }

  private doRead(f: File<unknown>, buf: Uint8Array, pos: bigint): number {
    if (!(buf instanceof Uint8Array)) throw kerr('EFAULT');
    if ((f.flags & O_ACCMODE) === O_WRONLY) throw kerr('EBADF');
    if (f.fop !== PLAIN_FOPS) {
      if (!f.fop.read) throw kerr('EINVAL');
      const data = f.fop.read(f, buf.length, pos, this.task);
      buf.set(data.subarray(0, buf.length));
      return Math.min(data.length, buf.length);
    }
    let content: Uint8Array;
    const k = f.kernfs;
    if (k) {
      // seq_file: show() runs when a read starts at offset 0, later reads continue its buffer.
      if (pos === 0n || !k.seqBuf) k.seqBuf = attrContent(k.attr as Attribute);
      content = k.seqBuf;
    } else {
      const st = this.host.vol.statSync(f.path);
      if (st.isDirectory()) throw kerr('EISDIR');
      content = this.host.vol.readFileSync(f.path) as Buffer;
    }
    if (pos >= BigInt(content.length)) return 0;
    const slice = content.subarray(Number(pos), Number(pos) + buf.length);
    buf.set(slice);
    return slice.length;
  }

  write(fd: number, data: Uint8Array | string): number {
    return this.boundary('write', () => {
      const f = this.task.files.fget(fd);
      const n = this.doWrite(f, toBytes(data), f.fop.nonseekable ? 0n : f.pos);
      if (!f.fop.nonseekable) f.pos += BigInt(n);
      return n;
    });
  }

  pwrite(fd: number, data: Uint8Array | string, offset: bigint | number): number {
    return this.boundary('pwrite64', () => {
      const off = offArg(offset);
      const f = this.task.files.fget(fd);
      if (off === undefined || off < 0n) throw kerr('EINVAL');
      if (f.fop.nonseekable) throw kerr('ESPIPE');
      return this.doWrite(f, toBytes(data), off);
    });
  }

  private doWrite(f: File<unknown>, data: Uint8Array, pos: bigint): number {
    if ((f.flags & O_ACCMODE) === O_RDONLY) throw kerr('EBADF');
    if (f.fop !== PLAIN_FOPS) {
      if (!f.fop.write) throw kerr('EINVAL');
      return f.fop.write(f, data, pos, this.task);
    }
    if (f.kernfs) return this.host.store(f.kernfs.attr as Attribute, data, Number(pos), this.task);
    throw kerr('EINVAL');
  }

  /**
   * @note emulation: an offset that a JS number cannot hold exactly (past 2^53) is EOVERFLOW
   * rather than rounded; the kernel returns it as a 64-bit off_t.
   */
  lseek(fd: number, offset: bigint | number, whence: number): number {
    return this.boundary('lseek', () => {
      const f = this.task.files.fget(fd);
      if (f.fop.nonseekable) throw kerr('ESPIPE');
      const off = offArg(offset);
      if (off === undefined) throw kerr('EINVAL');
      let base: bigint;
      if (whence === SEEK_SET) base = 0n;
      else if (whence === SEEK_CUR) base = f.pos;
      else if (whence === SEEK_END) base = f.kernfs ? BigInt(attrContent(f.kernfs.attr as Attribute).length) : 0n;
      else throw kerr('EINVAL');
      const pos = base + off;
      if (pos < 0n) throw kerr('EINVAL');
      if (pos > BigInt(Number.MAX_SAFE_INTEGER)) throw kerr('EOVERFLOW');
      f.pos = pos;
      return Number(pos);
    });
  }

  /**
   * `ioctl(fd, request, arg)`: arg is a user pointer into the task's memory or a plain value,
   * taken as an unsigned long. Files without an ioctl handler give ENOTTY. @see fs/ioctl.c:vfs_ioctl
   */
  ioctl(fd: number, request: number, arg: bigint | number = 0n): number {
    const req = isInt(request) ? request >>> 0 : undefined;
    return this.boundary(
      'ioctl',
      () => {
        const f = this.task.files.fget(fd);
        const a = u64Arg(arg);
        if (req === undefined) throw kerr('EINVAL');
        if (a === undefined) throw kerr('EFAULT');
        if (!f.fop.unlockedIoctl) throw kerr('ENOTTY');
        return f.fop.unlockedIoctl(f, req, a, this.task);
      },
      this.task.files.peek(fd)?.path,
      req,
    );
  }

  /**
   * mmap(2): anonymous memory by default (`mmap(length)`), or a device's pages (`fd` + MAP_SHARED).
   * Returns the address, or -errno as a bigint.
   * @see mm/mmap.c:do_mmap, mm/util.c:vm_mmap_pgoff
   */
  mmap(length: bigint | number, args: MmapArgs = {}): bigint {
    const rc = this.boundaryBig('mmap', () => {
      const len = u64Arg(length);
      const prot = args.prot ?? PROT_READ | PROT_WRITE;
      const flags = args.flags ?? 0;
      if (len === undefined || len === 0n || !isInt(prot) || !isInt(flags)) throw kerr('EINVAL');
      const addr = flags & MAP_FIXED ? args.addr : undefined;
      if (flags & MAP_FIXED && (addr === undefined || !isPageAligned(addr))) throw kerr('EINVAL');
      const mm = this.task.mm;
      if (args.fd === undefined) return mm.mmap(len, { prot, shared: (flags & MAP_SHARED) !== 0, ...(addr !== undefined ? { addr } : {}) });
      const f = this.task.files.fget(args.fd);
      const off = offArg(args.offset ?? 0n);
      if (off === undefined || off < 0n || !isPageAligned(off)) throw kerr('EINVAL');
      if (!f.fop.mmap) throw kerr('ENODEV');
      if (prot & PROT_READ && !(f.mode & 1)) throw kerr('EACCES');
      if (flags & MAP_SHARED && prot & PROT_WRITE && !(f.mode & 2)) throw kerr('EACCES');
      const shared = (flags & MAP_SHARED) !== 0;
      const backing = f.fop.mmap(f, { pgoff: off >> PAGE_SHIFT, length: len, prot, shared }, this.task);
      return mm.mmap(len, { prot, shared, backing, ...(addr !== undefined ? { addr } : {}) });
    });
    return rc;
  }

  private boundaryBig(syscall: string, fn: () => bigint): bigint {
    let out = 0n;
    const rc = this.boundary(syscall, () => {
      out = fn();
      return 0;
    });
    return rc < 0 ? BigInt(rc) : out;
  }

  munmap(addr: bigint, length: bigint | number): number {
    return this.boundary('munmap', () => {
      const len = u64Arg(length);
      if (typeof addr !== 'bigint' || len === undefined) throw kerr('EINVAL');
      this.task.mm.munmap(addr, len);
      return 0;
    });
  }
}

const toBytes = (data: Uint8Array | string): Uint8Array => {
  if (typeof data === 'string') return Buffer.from(data);
  if (data instanceof Uint8Array) return data;
  throw kerr('EFAULT');
};

/** Files of the memfs tree (sysfs attributes, plain files): the boundary reads and writes them itself. */
const PLAIN_FOPS: FileOperations<undefined> = { name: 'sysfs' };
