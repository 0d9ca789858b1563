// SPDX-License-Identifier: GPL-2.0-only
/**
 * The syscall boundary: open/close/read/write/pread/pwrite/lseek/ioctl/mmap/munmap returning
 * `>= 0` or `-errno` exactly as a C program sees them. The only place a KernelError becomes
 * `-errno`, and where ENOIOCTLCMD becomes ENOTTY. @see fs/ioctl.c:vfs_ioctl, fs/open.c
 */
import type { Volume } from 'memfs';
import { constants } from 'node:fs';
import { KernelError, errnoNumber, isKernelError, kerr } from '../errno';
import { Credentials, permitted } from '../cred';
import type { UserMemory } from '../abi/uaccess';
import type { Attribute } from '../sysfs/attribute';
import type { DevNode, FileOperations } from './chardev';
import { O_ACCMODE, O_RDONLY, O_RDWR, O_WRONLY, SEEK_CUR, SEEK_END, SEEK_SET } from './fcntl';
import { attrContent } from './render';

/** An open file description. */
export interface OpenFile {
  readonly path: string;
  readonly flags: number;
  pos: bigint;
  readonly fops?: FileOperations<unknown>;
  readonly priv?: unknown;
  /** sysfs: the attribute and the show() buffer of this open, re-armed at offset 0. */
  readonly attr?: Attribute;
  seqBuf?: Buffer;
}

export interface SyscallHost {
  readonly vol: Volume;
  readonly mem: UserMemory;
  cred(): Credentials;
  /** The attribute rendered at a real (resolved) path. */
  attributeAt(path: string): Attribute | undefined;
  /** The char device registered at a real path. */
  devNodeAt(path: string): DevNode | undefined;
  /** Runs an attribute store with the caller's credentials (DAC already checked). */
  store(attr: Attribute, data: Uint8Array, pos: number): number;
}

const RLIMIT_NOFILE = 1024;

/** File descriptor table of the emulated process. fds 0–2 are taken, as in a real process. */
export class FdTable {
  private readonly files = new Map<number, OpenFile>();

  install(file: OpenFile): number {
    for (let fd = 3; fd < RLIMIT_NOFILE; fd++) {
      if (!this.files.has(fd)) {
        this.files.set(fd, file);
        return fd;
      }
    }
    throw kerr('EMFILE');
  }

  get(fd: number): OpenFile {
    const f = this.peek(fd);
    if (!f) throw kerr('EBADF');
    return f;
  }

  peek(fd: number): OpenFile | undefined {
    return Number.isInteger(fd) ? this.files.get(fd) : undefined;
  }

  remove(fd: number): OpenFile {
    const f = this.get(fd);
    this.files.delete(fd);
    return f;
  }

  get size(): number {
    return this.files.size;
  }

  entries(): [number, OpenFile][] {
    return [...this.files.entries()];
  }
}

const toBigInt = (x: bigint | number): bigint => (typeof x === 'bigint' ? x : BigInt(x));

export class Syscalls {
  readonly fds = new FdTable();

  constructor(private readonly host: SyscallHost) {}

  /** Runs `fn` and turns a KernelError into -errno; anything else is a bug and propagates. */
  private boundary(syscall: string, fn: () => number, path?: string, ioctl?: number): number {
    try {
      return fn();
    } catch (e) {
      if (!isKernelError(e)) throw e;
      const code = e.code === 'ENOIOCTLCMD' ? 'ENOTTY' : e.code;
      this.lastError = e.withContext({ syscall, path, ioctl: ioctl === undefined ? undefined : `0x${ioctl.toString(16)}` });
      return -errnoNumber(code);
    }
  }

  /** The last failure with its context, for tools that want a message (like errno + strerror). */
  lastError: KernelError | undefined;

  open(path: string, flags: number = O_RDONLY): number {
    return this.boundary('open', () => this.doOpen(path, flags), path);
  }

  private doOpen(path: string, flags: number): number {
    const { vol } = this.host;
    let real: string;
    try {
      real = String(vol.realpathSync(path));
    } catch (e) {
      const code = (e as { code?: string }).code;
      throw kerr(code === 'ENOTDIR' ? 'ENOTDIR' : code === 'ELOOP' ? 'ELOOP' : 'ENOENT');
    }
    const st = vol.statSync(real);
    const acc = flags & O_ACCMODE;
    const want = (acc === O_RDONLY ? 4 : 0) | (acc === O_WRONLY ? 2 : 0) | (acc === O_RDWR ? 6 : 0);
    if (st.isDirectory() && acc !== O_RDONLY) throw kerr('EISDIR');
    if (!permitted(this.host.cred(), Number(st.mode), Number(st.uid), Number(st.gid), want)) throw kerr('EACCES');
    const dev = (Number(st.mode) & constants.S_IFMT) === constants.S_IFCHR ? this.host.devNodeAt(real) : undefined;
    if ((Number(st.mode) & constants.S_IFMT) === constants.S_IFCHR) {
      if (!dev) throw kerr('ENXIO');
      const priv = dev.fops.open ? dev.fops.open({ cred: this.host.cred(), flags, path: real }, dev.data) : undefined;
      return this.fds.install({ path: real, flags, pos: 0n, fops: dev.fops, priv });
    }
    const attr = this.host.attributeAt(real);
    if (attr && acc !== O_RDONLY && (!attr.store || (attr.mode & 0o222) === 0)) throw kerr('EACCES');
    if (attr && acc !== O_WRONLY && (attr.mode & 0o444) === 0) throw kerr('EACCES');
    return this.fds.install({ path: real, flags, pos: 0n, attr });
  }

  /** Install an anonymous file (`anon_inode_getfd`) — device fds, iommufd objects. */
  installAnon(name: string, fops: FileOperations<any>, priv: unknown, flags = O_RDWR): number { // eslint-disable-line @typescript-eslint/no-explicit-any
    return this.fds.install({ path: `anon_inode:${name}`, flags, pos: 0n, fops, priv });
  }

  close(fd: number): number {
    return this.boundary('close', () => {
      const f = this.fds.remove(fd);
      if (f.fops?.release) f.fops.release(f.priv);
      return 0;
    });
  }

  read(fd: number, buf: Uint8Array): number {
    return this.boundary('read', () => {
      const f = this.fds.get(fd);
      const n = this.doRead(f, buf, f.pos);
      f.pos += BigInt(n);
      return n;
    });
  }

  pread(fd: number, buf: Uint8Array, offset: bigint | number): number {
    return this.boundary('pread64', () => {
      const off = toBigInt(offset);
      if (off < 0n) throw kerr('EINVAL');
      return this.doRead(this.fds.get(fd), buf, off);
    });
  }

  private doRead(f: OpenFile, buf: Uint8Array, pos: bigint): number {
    if ((f.flags & O_ACCMODE) === O_WRONLY) throw kerr('EBADF');
    if (f.fops) {
      if (!f.fops.read) throw kerr('EINVAL');
      const data = f.fops.read(f.priv, buf.length, pos);
      buf.set(data.subarray(0, buf.length));
      return Math.min(data.length, buf.length);
    }
    let content: Buffer;
    if (f.attr) {
      // seq_file: show() runs when a read starts at offset 0, later reads continue its buffer.
      if (pos === 0n || !f.seqBuf) f.seqBuf = attrContent(f.attr);
      content = f.seqBuf;
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
      const f = this.fds.get(fd);
      const n = this.doWrite(f, typeof data === 'string' ? Buffer.from(data) : data, f.pos);
      f.pos += BigInt(n);
      return n;
    });
  }

  pwrite(fd: number, data: Uint8Array | string, offset: bigint | number): number {
    return this.boundary('pwrite64', () => {
      const off = toBigInt(offset);
      if (off < 0n) throw kerr('EINVAL');
      return this.doWrite(this.fds.get(fd), typeof data === 'string' ? Buffer.from(data) : data, off);
    });
  }

  private doWrite(f: OpenFile, data: Uint8Array, pos: bigint): number {
    if ((f.flags & O_ACCMODE) === O_RDONLY) throw kerr('EBADF');
    if (f.fops) {
      if (!f.fops.write) throw kerr('EINVAL');
      return f.fops.write(f.priv, data, pos);
    }
    if (f.attr) return this.host.store(f.attr, data, Number(pos));
    throw kerr('EINVAL');
  }

  lseek(fd: number, offset: bigint | number, whence: number): number {
    return this.boundary('lseek', () => {
      const f = this.fds.get(fd);
      const off = toBigInt(offset);
      let base: bigint;
      if (whence === SEEK_SET) base = 0n;
      else if (whence === SEEK_CUR) base = f.pos;
      else if (whence === SEEK_END) base = f.attr ? BigInt(attrContent(f.attr).length) : 0n;
      else throw kerr('EINVAL');
      if (base + off < 0n) throw kerr('EINVAL');
      f.pos = base + off;
      return Number(f.pos);
    });
  }

  /**
   * `ioctl(fd, request, arg)`: arg is a user pointer into `machine.mem` or a plain value.
   * Files without an ioctl handler give ENOTTY. @see fs/ioctl.c:vfs_ioctl
   */
  ioctl(fd: number, request: number, arg: bigint | number = 0n): number {
    return this.boundary(
      'ioctl',
      () => {
        const f = this.fds.get(fd);
        if (!f.fops?.unlockedIoctl) throw kerr('ENOTTY');
        return f.fops.unlockedIoctl(f.priv, request >>> 0, toBigInt(arg));
      },
      this.fds.peek(fd)?.path,
      request >>> 0,
    );
  }

  /** Anonymous private memory in the emulated process. Returns the address, or -errno as a bigint. */
  mmap(length: bigint | number): bigint {
    try {
      return this.host.mem.mmap(length);
    } catch (e) {
      if (!isKernelError(e)) throw e;
      return -BigInt(e.errno);
    }
  }

  munmap(addr: bigint, length: bigint | number): number {
    return this.boundary('munmap', () => {
      this.host.mem.munmap(addr, length);
      return 0;
    });
  }
}
