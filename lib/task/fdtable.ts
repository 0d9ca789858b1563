// SPDX-License-Identifier: GPL-2.0-only
/**
 * A task's fd table (`struct files_struct`): fd numbers map to references on open files. Opening
 * reserves the number first and installs the file last, so a full table fails before any open
 * runs; `dup`s and fork children share the open file, and its release waits for the last close.
 * @see fs/file.c:alloc_fd, fd_install, put_unused_fd, close_fd, do_dup2, ksys_dup3, dup_fd, f_dupfd
 * @see fs/fcntl.c:do_fcntl (F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_SETFD)
 */
import { kerr } from '../errno';
import { FD_CLOEXEC, F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_GETFL, F_SETFD, O_CLOEXEC } from '../uapi/fcntl';
import { File, fput, getFile } from './file_table';

/**
 * Picks the number for a new fd (a front end makes emulated numbers match a real process's):
 * given the lowest number the kernel would take (`start` or above, free), it may return another
 * free number ≥ start below the limit.
 */
export type FdAllocator = (lowestFree: number, flags: number) => number;

/**
 * Looks up an fd the table does not hold (a front end whose program keeps its own fds in a
 * real process: its eventfds, its other emulated files); undefined for a closed fd.
 */
export type FdResolver = (fd: number) => File<unknown> | undefined;

/** fds 0–2 belong to the program's stdio, which the emulator does not model. */
const FIRST_FD = 3;

type Slot = File<unknown> | 'reserved';

export class FilesStruct {
  private readonly fdt = new Map<number, Slot>();
  private readonly cloexec = new Set<number>();
  /** A front end's fd-number policy; not inherited by fork. */
  allocator: FdAllocator | undefined;
  /** A front end's lookup of the fds it keeps itself; not inherited by fork. */
  resolver: FdResolver | undefined;

  constructor(private readonly nofile: () => number) {}

  /** `RLIMIT_NOFILE` */
  get limit(): number {
    return this.nofile();
  }

  private isFree(fd: number): boolean {
    return fd >= FIRST_FD && !this.fdt.has(fd);
  }

  /** `alloc_fd(start, end, flags)`: reserve the lowest free fd ≥ start. EMFILE past the limit. */
  allocFd(start: number, flags: number): number {
    let fd = Math.max(start, FIRST_FD);
    while (this.fdt.has(fd)) fd++;
    if (fd >= this.limit) throw kerr('EMFILE');
    if (this.allocator) {
      const want = this.allocator(fd, flags);
      if (!Number.isInteger(want) || want < fd || want >= this.limit || !this.isFree(want))
        throw new Error(`fd allocator returned ${want}: not a free fd in [${fd}, ${this.limit})`);
      fd = want;
    }
    this.fdt.set(fd, 'reserved');
    if (flags & O_CLOEXEC) this.cloexec.add(fd);
    else this.cloexec.delete(fd);
    return fd;
  }

  /** `get_unused_fd_flags` */
  getUnusedFdFlags(flags: number): number {
    return this.allocFd(0, flags);
  }

  /** `put_unused_fd`: give back a reserved number whose open failed. */
  putUnusedFd(fd: number): void {
    if (this.fdt.get(fd) === 'reserved') {
      this.fdt.delete(fd);
      this.cloexec.delete(fd);
    }
  }

  /** `fd_install`: the reference passes to the table. */
  fdInstall(fd: number, file: File<unknown>): void {
    if (this.fdt.get(fd) !== 'reserved') throw new Error(`fd_install on fd ${fd} that was not reserved`);
    this.fdt.set(fd, file);
  }

  /** Reserve, then install: returns the fd, or throws (EMFILE) and drops the caller's reference. */
  installNew(file: File<unknown>, flags: number): number {
    let fd: number;
    try {
      fd = this.getUnusedFdFlags(flags);
    } catch (e) {
      fput(file);
      throw e;
    }
    this.fdInstall(fd, file);
    return fd;
  }

  /** `fdget`: the open file at `fd` (no reference taken: syscalls run to completion). */
  fget(fd: number): File<unknown> {
    const f = this.peek(fd);
    if (!f) throw kerr('EBADF');
    return f;
  }

  peek(fd: number): File<unknown> | undefined {
    if (!Number.isInteger(fd)) return undefined;
    const s = this.fdt.get(fd);
    if (s === undefined) return this.resolver?.(fd);
    return s === 'reserved' ? undefined : s;
  }

  /** `close_fd` */
  close(fd: number): void {
    const f = this.peek(fd);
    if (!f) throw kerr('EBADF');
    this.fdt.delete(fd);
    this.cloexec.delete(fd);
    fput(f);
  }

  /** `ksys_dup` */
  dup(oldfd: number): number {
    const f = this.fget(oldfd);
    const fd = this.allocFd(0, 0);
    this.fdInstall(fd, getFile(f));
    return fd;
  }

  /** `dup2`: same fd → itself if valid. @see fs/file.c:ksys_dup3, do_dup2 */
  dup2(oldfd: number, newfd: number): number {
    if (oldfd === newfd) {
      this.fget(oldfd);
      return newfd;
    }
    return this.dup3(oldfd, newfd, 0);
  }

  /** `dup3`: EINVAL for unknown flags or oldfd == newfd; EBADF for a newfd out of range. */
  dup3(oldfd: number, newfd: number, flags: number): number {
    if (flags & ~O_CLOEXEC) throw kerr('EINVAL');
    if (oldfd === newfd) throw kerr('EINVAL');
    if (!Number.isInteger(newfd) || newfd < 0 || newfd >= this.limit) throw kerr('EBADF');
    const f = this.fget(oldfd);
    const cur = this.fdt.get(newfd);
    // A number being opened by another thread is EBUSY. @see fs/file.c:do_dup2
    if (cur === 'reserved') throw kerr('EBUSY');
    this.fdt.set(newfd, getFile(f));
    if (flags & O_CLOEXEC) this.cloexec.add(newfd);
    else this.cloexec.delete(newfd);
    if (cur) fput(cur);
    return newfd;
  }

  /** `do_fcntl` for the fd-table commands; other commands are EINVAL here. */
  fcntl(fd: number, cmd: number, arg: number): number {
    const f = this.fget(fd);
    switch (cmd) {
      case F_DUPFD:
      case F_DUPFD_CLOEXEC: {
        if (!Number.isInteger(arg) || arg < 0 || arg >= this.limit) throw kerr('EINVAL');
        const nfd = this.allocFd(arg, cmd === F_DUPFD_CLOEXEC ? O_CLOEXEC : 0);
        this.fdInstall(nfd, getFile(f));
        return nfd;
      }
      case F_GETFD:
        return this.cloexec.has(fd) ? FD_CLOEXEC : 0;
      case F_SETFD:
        if (arg & FD_CLOEXEC) this.cloexec.add(fd);
        else this.cloexec.delete(fd);
        return 0;
      case F_GETFL:
        return f.flags;
      default:
        throw kerr('EINVAL');
    }
  }

  isCloexec(fd: number): boolean {
    return this.cloexec.has(fd);
  }

  /** Installed fds and their files, by number. */
  entries(): [number, File<unknown>][] {
    const out: [number, File<unknown>][] = [];
    for (const [fd, s] of this.fdt) if (s !== 'reserved') out.push([fd, s]);
    return out.sort((a, b) => a[0] - b[0]);
  }

  get size(): number {
    return this.entries().length;
  }

  /** fork: a copy of the table; every open file gains a reference. @see fs/file.c:dup_fd */
  copy(nofile: () => number): FilesStruct {
    const t = new FilesStruct(nofile);
    for (const [fd, s] of this.fdt) if (s !== 'reserved') t.fdt.set(fd, getFile(s));
    for (const fd of this.cloexec) if (t.fdt.has(fd)) t.cloexec.add(fd);
    return t;
  }

  /** exit: every reference goes. @see fs/file.c:put_files_struct, close_files */
  closeAll(): void {
    for (const [fd, s] of [...this.fdt].sort((a, b) => a[0] - b[0])) {
      this.fdt.delete(fd);
      if (s !== 'reserved') fput(s);
    }
    this.cloexec.clear();
  }
}
