// SPDX-License-Identifier: GPL-2.0-only
/**
 * The preload shim's side of the run server: real processes reach the emulated /dev/vfio (and
 * /dev/iommu) through build/native/libiommu-emu-preload.so, which forwards each call it does not
 * leave to libc as (pid, file handle, request, raw argument). Here every such call runs through
 * the emulated task of its process with the machine's own syscall boundary (`Syscalls`), so the
 * errno and the order of checks are the in-process ones.
 *
 * - **One emulated task per real pid**, with a `ProcMm` (the real address space: copy_from_user
 *   is process_vm_readv) and the real process's credentials and RLIMIT_MEMLOCK. fork(2) is a task
 *   fork, execve(2) a new address space, exit (a pidfd) the task's exit.
 * - **Emulated fds are real fds**: each emulated open file is one socketpair, one end a
 *   placeholder fd in the program (numbers, dup, O_CLOEXEC, fork, SCM_RIGHTS and exit are the
 *   kernel's), the far end here. When the last reference to the placeholder goes — in any
 *   process, by close, exit or crash — the far end hangs up and the emulated file gets its last
 *   fput. The native module checks for hang-ups before every request, and the shim's close()
 *   is a request, so a release is done before the program's next call is served.
 * - **fd numbers**: the task's fd table is a scratch table. Lookups (`fdget` of a container fd,
 *   an eventfd in SET_IRQS) go to the real process (pidfd_getfd: a placeholder is known by its
 *   inode, an eventfd becomes an emulated eventfd whose signal writes the real one); a new fd
 *   (open, VFIO_GROUP_GET_DEVICE_FD) takes the lowest number free in the real process
 *   (`files.allocator`) and leaves as a placeholder sent with the reply.
 * - **Device memory**: a device mmap's page store is moved onto a memfd mapped here too; the
 *   program maps the same memfd, so its stores are what the device model sees and vice versa.
 */
import * as nodeFs from 'node:fs';
import { errnoName, errnoNumber, isKernelError, kerr } from '../errno';
import { encode } from '../abi';
import { permitted } from '../cred';
import type { Credentials } from '../cred';
import { eventfdFops, type EventfdCtx } from '../fs/eventfd';
import type { Syscalls } from '../fs/syscalls';
import { PAGE_SIZE, TASK_SIZE } from '../kernel/page';
import type { Machine } from '../machine';
import type { MmapOptions } from '../mm/mm';
import { File, fput, getFile, type FileOperations, type PageStore } from '../task/file_table';
import type { Task } from '../task/sched';
import { FD_CLOEXEC, O_RDWR } from '../uapi/fcntl';
import {
  IOMMU_EMU_F_NOFOLLOW,
  IOMMU_EMU_F_POSITIONED,
  IOMMU_EMU_MAGIC,
  IOMMU_EMU_OP_ACCESS,
  IOMMU_EMU_OP_CLOSE,
  IOMMU_EMU_OP_FORK,
  IOMMU_EMU_OP_HELLO,
  IOMMU_EMU_OP_IDENTIFY,
  IOMMU_EMU_OP_IOCTL,
  IOMMU_EMU_OP_MMAP,
  IOMMU_EMU_OP_OPEN,
  IOMMU_EMU_OP_READ,
  IOMMU_EMU_OP_STAT,
  IOMMU_EMU_OP_WRITE,
  IOMMU_EMU_PROTOCOL_VERSION,
  IOMMU_EMU_ROLE_PRELOAD,
  IOMMU_EMU_RSP_NEWFDS,
  IOMMU_EMU_RSP_PASSTHROUGH,
  iommu_emu_mmap,
  iommu_emu_newfd,
  iommu_emu_req,
  iommu_emu_rsp,
  iommu_emu_stat,
} from './channel';
import type { NativeBinding, NativeServer } from './native';
import { ProcMm } from './proc_mm';
import { callerCred } from './sysfs_fuse';

/** Byte offsets of the header fields, from the layouts (read and written in place, per request). */
const offsets = <L extends { members: readonly { name: string; offset: number }[] }>(l: L): Record<string, number> =>
  Object.fromEntries(l.members.map((m) => [m.name, m.offset]));
const RQ = offsets(iommu_emu_req);
const RS = offsets(iommu_emu_rsp);

/** The paths the shim hands over: the emulated VFIO and iommufd nodes. */
export const EMULATED_PREFIXES = ['/dev/vfio', '/dev/iommu'] as const;

/** A read or write moves at most this much per call (the kernel caps one at MAX_RW_COUNT). */
const MAX_RW = 1 << 24;

/** One emulated open file and the real placeholder that stands for it. */
interface Placeholder {
  readonly handle: bigint;
  readonly farEnd: number;
  readonly ino: number;
  readonly file: File<unknown>;
}

/** A real process and its emulated task. */
interface Proc {
  readonly pid: number;
  readonly task: Task;
  readonly sys: Syscalls;
  /** Its start time (/proc/PID/stat): tells an execve from a new process that reused the pid. */
  readonly started: string | undefined;
  /** What watchPid returned: the exit notice that belongs to this process. */
  watch: number;
}

/** The file an ioctl's fd argument names when it is none of ours (`fdget` works, the kind check fails). */
const FOREIGN_FOPS: FileOperations<undefined> = { name: 'foreign' };

export interface PreloadOptions {
  /** The uid that owns the server: root of the emulated machine (see `callerCred`). */
  readonly ownerUid: number;
  readonly onError?: (e: Error) => void;
  /** Microseconds the native loop keeps polling for the next request (0: back to the event loop at once). */
  readonly spinUs?: number;
}

export class PreloadFrontEnd {
  private readonly server: NativeServer;
  private readonly req: Buffer;
  private readonly rsp: Buffer;
  private readonly procs = new Map<number, Proc>();
  private readonly conns = new Map<number, { pid: number; uid: number; gid: number; proc?: Proc }>();
  private readonly byHandle = new Map<bigint, Placeholder>();
  private readonly byFar = new Map<number, Placeholder>();
  private readonly byIno = new Map<number, Placeholder>();
  private nextHandle = 1n;
  /** The request being served: its fd is resolved to its file without asking the process. */
  private cur: { proc: Proc; fd: number; file: File<unknown> } | undefined;
  /** Numbers handed out by the allocator during the current request. */
  private readonly reserved = new Set<number>();
  /** fds resolved during the current request (one pidfd_getfd per fd per request). */
  private readonly resolved = new Map<number, File<unknown> | undefined>();
  private pendingMap: { memfd: number; offset: bigint } | undefined;
  private readonly stores = new WeakMap<PageStore, { memfd: number; size: bigint }>();
  private readonly storeFds = new FinalizationRegistry<number>((fd) => closeQuietly(fd));
  private readonly eventfds = new FinalizationRegistry<number>((fd) => closeQuietly(fd));
  private closed = false;

  constructor(
    readonly machine: Machine,
    readonly socketPath: string,
    private readonly native: NativeBinding,
    private readonly opts: PreloadOptions,
  ) {
    this.server = native.serve(
      socketPath,
      {
        connect: (conn, pid, uid, gid) => this.conns.set(conn, { pid, uid, gid }),
        request: (conn, len) => this.request(conn, len),
        hup: (far) => this.hup(far),
        exit: (pid, token) => this.exited(pid, token),
        close: (conn) => this.conns.delete(conn),
      },
      opts.spinUs ?? 0,
    );
    const b = native.buffers(this.server);
    this.req = b.req;
    this.rsp = b.rsp;
  }

  /** Emulated files that a real process holds now. */
  get openFiles(): number {
    return this.byHandle.size;
  }

  /** Tasks of real processes alive now. */
  get processes(): number[] {
    return [...this.procs.keys()];
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.native.stop(this.server);
    for (const ph of [...this.byHandle.values()]) this.drop(ph);
    for (const p of [...this.procs.values()]) p.task.exit(0);
    this.procs.clear();
  }

  private report(e: unknown): void {
    this.opts.onError?.(e instanceof Error ? e : new Error(String(e)));
  }

  // ---- processes ------------------------------------------------------------------------------

  /** RLIMIT_NOFILE and RLIMIT_MEMLOCK (soft) of a real process, from /proc/PID/limits. */
  private limits(pid: number): { nofile?: number; memlock?: bigint } {
    try {
      const text = nodeFs.readFileSync(`/proc/${pid}/limits`, 'utf8');
      const soft = (name: string): string | undefined => new RegExp(`^${name}\\s+(\\S+)`, 'm').exec(text)?.[1];
      const nofile = soft('Max open files');
      const memlock = soft('Max locked memory');
      return {
        ...(nofile && /^\d+$/.test(nofile) ? { nofile: Number(nofile) } : {}),
        ...(memlock && /^\d+$/.test(memlock) ? { memlock: BigInt(memlock) } : memlock === 'unlimited' ? { memlock: 1n << 62n } : {}),
      };
    } catch {
      return {};
    }
  }

  /** The emulated task of `pid`, made on first sight: a fork of `parent`'s when it came from one. */
  private procFor(pid: number, cred: Credentials, parent?: number): Proc {
    const have = this.procs.get(pid);
    if (have) return have;
    const m = this.machine;
    const mm = this.newMm(pid);
    const from = parent !== undefined ? this.procs.get(parent) : undefined;
    let task: Task;
    if (from) {
      try {
        task = m.tasks.fork(from.task, pid);
      } catch (e) {
        if (!isKernelError(e) || e.code !== 'EEXIST') throw e;
        task = m.tasks.fork(from.task);
      }
      task.mm = mm;
    } else {
      const spawn = (want?: number): Task => m.tasks.spawn(m.tasks.init, mm, { ...(want !== undefined ? { pid: want } : {}), cred, comm: comm(pid) });
      try {
        task = spawn(pid);
      } catch (e) {
        if (!isKernelError(e) || e.code !== 'EEXIST') throw e;
        task = spawn();
      }
    }
    task.cred = cred;
    const lim = this.limits(pid);
    if (lim.nofile !== undefined) task.rlim.nofile = lim.nofile;
    if (lim.memlock !== undefined) task.rlim.memlock = lim.memlock;
    const proc: Proc = { pid, task, sys: m.task(task.pid).sys, started: startTime(pid), watch: -1 };
    task.files.allocator = (lowest) => this.allocFd(proc, lowest);
    task.files.resolver = (fd) => this.resolveFd(proc, fd);
    this.procs.set(pid, proc);
    proc.watch = this.native.watchPid(this.server, pid);
    if (proc.watch < 0) queueMicrotask(() => this.exited(pid, proc.watch));
    return proc;
  }

  private newMm(pid: number): ProcMm {
    return new ProcMm(pid, this.native, (backing, length) => this.mapBacking(backing, length));
  }

  private exited(pid: number, token: number): void {
    const p = this.procs.get(pid);
    if (!p || p.watch !== token) return;
    this.procs.delete(pid);
    try {
      p.task.exit(0);
    } catch (e) {
      this.report(e);
    }
  }

  /** execve(2): the same task in a new address space (the old one's pins go with it). */
  private exec(p: Proc): void {
    p.task.mm.release();
    p.task.mm = this.newMm(p.pid);
  }

  // ---- fds ------------------------------------------------------------------------------------

  /** The lowest fd number ≥ `lowest` free in the real process (and not handed out in this request). */
  private allocFd(p: Proc, lowest: number): number {
    let used: Set<number>;
    try {
      used = new Set(nodeFs.readdirSync(`/proc/${p.pid}/fd`).map(Number));
    } catch {
      throw kerr('ESRCH');
    }
    let fd = lowest;
    while (used.has(fd) || this.reserved.has(fd)) fd++;
    if (fd >= p.task.files.limit) throw kerr('EMFILE');
    this.reserved.add(fd);
    return fd;
  }

  /** fd `fd` of the real process as an emulated file: ours by inode, an eventfd, or foreign. */
  private resolveFd(p: Proc, fd: number): File<unknown> | undefined {
    if (this.cur && this.cur.proc === p && this.cur.fd === fd) return this.cur.file;
    if (!Number.isInteger(fd) || fd < 0) return undefined;
    if (this.resolved.has(fd)) return this.resolved.get(fd);
    let out: File<unknown> | undefined;
    const dup = this.native.getfd(p.pid, fd);
    if (dup >= 0) {
      let keep = false;
      try {
        const st = nodeFs.fstatSync(dup);
        const ph = st.isSocket() ? this.byIno.get(st.ino) : undefined;
        const link = ph ? '' : nodeFs.readlinkSync(`/proc/self/fd/${dup}`);
        if (ph) out = ph.file;
        else if (link === 'anon_inode:[eventfd]') {
          out = this.realEventfd(dup, p.task.cred);
          keep = true;
        } else out = new File(FOREIGN_FOPS, O_RDWR, link, undefined, p.task.cred);
      } finally {
        if (!keep) closeQuietly(dup);
      }
    }
    this.resolved.set(fd, out);
    return out;
  }

  /** An emulated eventfd whose signals go to the real one (its copy `fd` here). */
  private realEventfd(fd: number, cred: Credentials): File<EventfdCtx> {
    const one = Buffer.alloc(8);
    one.writeBigUInt64LE(1n);
    const ctx: EventfdCtx = {
      count: 0n,
      signals: 0,
      onSignal: () => {
        try {
          nodeFs.writeSync(fd, one);
        } catch (e) {
          // EAGAIN: the counter is at its maximum (the program never reads it).
          if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') this.report(e);
        }
      },
    };
    this.eventfds.register(ctx, fd);
    return new File(eventfdFops, O_RDWR, 'anon_inode:[eventfd]', ctx, cred);
  }

  private newPlaceholder(file: File<unknown>): { ph: Placeholder; programEnd: number } {
    const r = this.native.placeholder(this.server);
    if (typeof r === 'number') throw kerr(errnoName(-r) ?? 'EMFILE');
    const [farEnd, programEnd, ino] = r;
    const ph: Placeholder = { handle: this.nextHandle++, farEnd, ino, file };
    this.byHandle.set(ph.handle, ph);
    this.byFar.set(farEnd, ph);
    this.byIno.set(ino, ph);
    return { ph, programEnd };
  }

  private forget(ph: Placeholder): void {
    this.byHandle.delete(ph.handle);
    this.byFar.delete(ph.farEnd);
    this.byIno.delete(ph.ino);
  }

  /** No process holds the placeholder any more: the real world's reference goes. */
  private hup(farEnd: number): void {
    const ph = this.byFar.get(farEnd);
    if (!ph) return;
    this.forget(ph);
    try {
      fput(ph.file);
    } catch (e) {
      this.report(e);
    }
  }

  private drop(ph: Placeholder): void {
    this.forget(ph);
    this.native.dropPlaceholder(this.server, ph.farEnd);
    try {
      fput(ph.file);
    } catch (e) {
      this.report(e);
    }
  }

  /**
   * The files a request installed in the task's scratch table leave as placeholders: their
   * entries go in the reply payload (from `at`), their program ends with it.
   */
  private exportNewFiles(p: Proc, at: number): { count: number; fds: number[] } {
    const fds: number[] = [];
    let off = at;
    for (const [fd, file] of p.task.files.entries()) {
      const cloexec = p.task.files.isCloexec(fd);
      getFile(file);
      p.task.files.close(fd);
      const { ph, programEnd } = this.newPlaceholder(file);
      encode(iommu_emu_newfd, { fd, fd_flags: cloexec ? FD_CLOEXEC : 0, file_flags: file.flags, handle: ph.handle }, this.rsp, off);
      off += iommu_emu_newfd.size;
      fds.push(programEnd);
    }
    return { count: fds.length, fds };
  }

  // ---- device memory --------------------------------------------------------------------------

  /**
   * Put the mapped pages of a device's page store on a memfd this process maps too, so that the
   * program's mapping of the same memfd is what the device model reads and writes.
   */
  private mapBacking(backing: NonNullable<MmapOptions['backing']>, length: bigint): void {
    const pages = backing.pages as PageStore;
    let st = this.stores.get(pages);
    if (!st) {
      const fd = this.native.memfd('iommu-emu-device');
      if (fd < 0) throw kerr('ENOMEM');
      st = { memfd: fd, size: 0n };
      this.stores.set(pages, st);
      this.storeFds.register(pages, fd);
    }
    const npages = (length + PAGE_SIZE - 1n) / PAGE_SIZE;
    const end = (backing.pgoff + npages) * PAGE_SIZE;
    if (end > st.size) {
      nodeFs.ftruncateSync(st.memfd, Number(end));
      st.size = end;
    }
    const P = Number(PAGE_SIZE);
    let ab: ArrayBuffer | undefined;
    for (let i = 0n; i < npages; i++) {
      const k = backing.pgoff + i;
      const old = pages.get(k);
      // A page an earlier mapping moved onto the memfd already is the memfd's page.
      if (old && isShared(old)) continue;
      ab ??= this.native.mapShared(st.memfd, Number(backing.pgoff * PAGE_SIZE), Number(npages * PAGE_SIZE));
      const view = markShared(new Uint8Array(ab, Number(i) * P, P));
      if (old) view.set(old);
      pages.set(k, view);
    }
    this.pendingMap = { memfd: st.memfd, offset: backing.pgoff * PAGE_SIZE };
  }

  // ---- requests -------------------------------------------------------------------------------

  private request(conn: number, len: number): number {
    const q = this.req;
    if (q.readUInt32LE(RQ.magic!) !== IOMMU_EMU_MAGIC) return 0;
    const op = q.readUInt16LE(RQ.opcode!);
    const id = q.readBigUInt64LE(RQ.id!);
    const payload = q.subarray(iommu_emu_req.size, len);
    this.reserved.clear();
    this.resolved.clear();
    this.pendingMap = undefined;
    try {
      if (q.readUInt16LE(RQ.version!) !== IOMMU_EMU_PROTOCOL_VERSION) return this.reply(op, id, -errnoNumber('EINVAL'));
      if (op === IOMMU_EMU_OP_HELLO) return this.hello(conn, op, id);
      const c = this.conns.get(conn);
      const p = c?.proc;
      if (!p || !p.task.alive) return this.reply(op, id, -errnoNumber('EPERM'));
      switch (op) {
        case IOMMU_EMU_OP_OPEN:
          return this.open(p, op, id, payload);
        case IOMMU_EMU_OP_CLOSE:
          // The shim closed its fd first and the native loop reaped hang-ups before this
          // request: a release this close caused has run.
          return this.reply(op, id, 0);
        case IOMMU_EMU_OP_IOCTL:
        case IOMMU_EMU_OP_READ:
        case IOMMU_EMU_OP_WRITE:
        case IOMMU_EMU_OP_MMAP:
          return this.onFile(p, op, id);
        case IOMMU_EMU_OP_STAT:
          return this.stat(op, id, payload);
        case IOMMU_EMU_OP_ACCESS:
          return this.access(p, op, id, payload);
        case IOMMU_EMU_OP_FORK: {
          const child = Number(q.readBigUInt64LE(RQ.arg!));
          if (child > 0) this.procFor(child, p.task.cred, p.pid);
          return this.reply(op, id, 0);
        }
        case IOMMU_EMU_OP_IDENTIFY:
          return this.identify(op, id, payload);
        default:
          return this.reply(op, id, -errnoNumber('ENOSYS'));
      }
    } catch (e) {
      if (isKernelError(e)) return this.reply(op, id, -e.errno);
      this.report(e);
      return this.reply(op, id, -errnoNumber('EIO'));
    } finally {
      this.cur = undefined;
      this.resolved.clear();
    }
  }

  /** Write the reply header (payload, if any, already at its place); returns the frame length. */
  private reply(op: number, id: bigint, result: number | bigint, extra: { handle?: bigint; flags?: number; outLen?: number } = {}): number {
    const r = this.rsp;
    r.writeUInt32LE(IOMMU_EMU_MAGIC, RS.magic!);
    r.writeUInt16LE(op, RS.opcode!);
    r.writeUInt16LE(IOMMU_EMU_PROTOCOL_VERSION, RS.version!);
    r.writeBigUInt64LE(id, RS.id!);
    r.writeBigInt64LE(BigInt(result), RS.result!);
    r.writeBigUInt64LE(extra.handle ?? 0n, RS.handle!);
    r.writeUInt32LE(extra.flags ?? 0, RS.flags!);
    r.writeUInt32LE(extra.outLen ?? 0, RS.out_len!);
    return iommu_emu_rsp.size + (extra.outLen ?? 0);
  }

  /** A reply carrying the files the call created (placeholders with it, their entries as payload). */
  private replyWithNewFiles(p: Proc, op: number, id: bigint, result: number | bigint): number {
    if (p.task.files.size === 0 || result < 0) {
      for (const [fd] of p.task.files.entries()) p.task.files.close(fd);
      return this.reply(op, id, result);
    }
    const { count, fds } = this.exportNewFiles(p, iommu_emu_rsp.size);
    this.native.attachFds(this.server, fds, true);
    return this.reply(op, id, result, { flags: IOMMU_EMU_RSP_NEWFDS, outLen: count * iommu_emu_newfd.size });
  }

  private hello(conn: number, op: number, id: bigint): number {
    const q = this.req;
    const c = this.conns.get(conn);
    if (!c || q.readBigUInt64LE(RQ.arg!) !== BigInt(IOMMU_EMU_ROLE_PRELOAD)) return this.reply(op, id, -errnoNumber('EPERM'));
    // The kernel's word on who connected (SO_PEERCRED), not the message's.
    const pid = c.pid;
    const forkedFrom = Number(q.readBigInt64LE(RQ.pos!));
    const cred = callerCred(c.uid, c.gid, this.opts.ownerUid);
    const old = this.procs.get(pid);
    if (old && old.started !== startTime(pid)) this.exited(pid, old.watch);
    else if (old && forkedFrom < 0) this.exec(old);
    c.proc = this.procFor(pid, cred, forkedFrom > 0 ? forkedFrom : undefined);
    return this.reply(op, id, IOMMU_EMU_PROTOCOL_VERSION);
  }

  private open(p: Proc, op: number, id: bigint, payload: Buffer): number {
    const path = cString(payload);
    if (!isEmulatedPath(path)) return this.reply(op, id, 0, { flags: IOMMU_EMU_RSP_PASSTHROUGH });
    const vol = this.machine.fs;
    // Directories (opendir of /dev/vfio) stay with libc: the live mount serves them.
    try {
      if (vol.statSync(path).isDirectory()) return this.reply(op, id, 0, { flags: IOMMU_EMU_RSP_PASSTHROUGH });
    } catch {
      // Missing: the emulated open says ENOENT.
    }
    const flags = this.req.readUInt32LE(RQ.cmd!);
    const fd = p.sys.open(path, flags);
    return this.replyWithNewFiles(p, op, id, fd);
  }

  /** IOCTL, READ, WRITE, MMAP on an emulated file. */
  private onFile(p: Proc, op: number, id: bigint): number {
    const q = this.req;
    const ph = this.byHandle.get(q.readBigUInt64LE(RQ.handle!));
    if (!ph) return this.reply(op, id, -errnoNumber('EBADF'));
    const fd = q.readInt32LE(RQ.fd!);
    this.cur = { proc: p, fd, file: ph.file };
    const arg = q.readBigUInt64LE(RQ.arg!);
    switch (op) {
      case IOMMU_EMU_OP_IOCTL:
        return this.replyWithNewFiles(p, op, id, p.sys.ioctl(fd, q.readUInt32LE(RQ.cmd!), arg));
      case IOMMU_EMU_OP_READ:
      case IOMMU_EMU_OP_WRITE:
        return this.reply(op, id, this.readWrite(p, op, fd, arg));
      default:
        return this.mmap(p, op, id, fd, arg);
    }
  }

  /**
   * read/pread/write/pwrite: the user buffer is copied with the caller's memory rules.
   * @see fs/read_write.c:vfs_read (access_ok first), vfs_write
   * @note emulation: a write's buffer is read before the file's own checks run, so a write
   * that fails both ways reports EFAULT where the kernel may report the file's errno.
   */
  private readWrite(p: Proc, op: number, fd: number, buf: bigint): number {
    const q = this.req;
    const count = q.readBigUInt64LE(RQ.len!);
    const positioned = (q.readUInt32LE(RQ.flags!) & IOMMU_EMU_F_POSITIONED) !== 0;
    const pos = q.readBigInt64LE(RQ.pos!);
    if (count > BigInt(Number.MAX_SAFE_INTEGER) || buf + count > TASK_SIZE) return -errnoNumber('EFAULT');
    const n = Math.min(Number(count), MAX_RW);
    if (op === IOMMU_EMU_OP_READ) {
      const data = new Uint8Array(n);
      const rc = positioned ? p.sys.pread(fd, data, pos) : p.sys.read(fd, data);
      if (rc <= 0) return rc;
      try {
        p.task.mm.write(buf, data.subarray(0, rc));
      } catch {
        return -errnoNumber('EFAULT');
      }
      return rc;
    }
    let data: Uint8Array;
    try {
      data = p.task.mm.read(buf, n);
    } catch {
      return -errnoNumber('EFAULT');
    }
    return positioned ? p.sys.pwrite(fd, data, pos) : p.sys.write(fd, data);
  }

  private mmap(p: Proc, op: number, id: bigint, fd: number, addr: bigint): number {
    const q = this.req;
    const rc = p.sys.mmap(q.readBigUInt64LE(RQ.len!), {
      prot: q.readUInt32LE(RQ.cmd!),
      flags: q.readUInt32LE(RQ.flags!),
      fd,
      offset: q.readBigInt64LE(RQ.pos!),
      addr,
    });
    if (rc < 0n) return this.reply(op, id, rc);
    const m = this.pendingMap;
    if (!m) return this.reply(op, id, -errnoNumber('ENODEV'));
    encode(iommu_emu_mmap, { offset: m.offset }, this.rsp, iommu_emu_rsp.size);
    this.native.attachFds(this.server, [m.memfd], false);
    return this.reply(op, id, 0, { outLen: iommu_emu_mmap.size });
  }

  /** stat/lstat/fstat/statx of an emulated node, as the emulated devtmpfs has it. */
  private stat(op: number, id: bigint, payload: Buffer): number {
    const q = this.req;
    const handle = q.readBigUInt64LE(RQ.handle!);
    let path: string;
    if (handle !== 0n) {
      const ph = this.byHandle.get(handle);
      if (!ph) return this.reply(op, id, -errnoNumber('EBADF'));
      path = ph.file.path;
      if (!isEmulatedPath(path)) return this.statAnon(op, id, ph.file);
    } else {
      path = cString(payload);
      if (!isEmulatedPath(path)) return this.reply(op, id, 0, { flags: IOMMU_EMU_RSP_PASSTHROUGH });
    }
    const nofollow = (q.readUInt32LE(RQ.flags!) & IOMMU_EMU_F_NOFOLLOW) !== 0;
    let st: nodeFs.Stats;
    try {
      st = (nofollow ? this.machine.fs.lstatSync(path) : this.machine.fs.statSync(path)) as nodeFs.Stats;
    } catch (e) {
      return this.reply(op, id, -errnoNumber(((e as NodeJS.ErrnoException).code ?? 'ENOENT') as 'ENOENT'));
    }
    const node = this.machine.kernelContext.chrdevs.nodes().find((n) => n.path === path);
    const ms = (t: Date): { s: bigint; ns: bigint } => ({ s: BigInt(Math.floor(t.getTime() / 1000)), ns: BigInt((t.getTime() % 1000) * 1e6) });
    const [a, mt, ct] = [ms(st.atime), ms(st.mtime), ms(st.ctime)];
    encode(
      iommu_emu_stat,
      {
        dev: DEVTMPFS_DEV,
        ino: BigInt(st.ino),
        mode: Number(st.mode),
        nlink: Number(st.nlink),
        uid: node?.uid ?? 0,
        gid: node?.gid ?? 0,
        rdev_major: node?.major ?? 0,
        rdev_minor: node?.minor ?? 0,
        size: node ? 0n : BigInt(st.size),
        blksize: 4096n,
        blocks: 0n,
        atime_sec: a.s,
        atime_nsec: a.ns,
        mtime_sec: mt.s,
        mtime_nsec: mt.ns,
        ctime_sec: ct.s,
        ctime_nsec: ct.ns,
      },
      this.rsp,
      iommu_emu_rsp.size,
    );
    return this.reply(op, id, 0, { outLen: iommu_emu_stat.size });
  }

  /**
   * fstat of an anonymous-inode file (a device fd from GET_DEVICE_FD): the one inode of the
   * anon_inode filesystem, mode 0600.
   * @see fs/anon_inodes.c:anon_inode_getfile, fs/libfs.c:alloc_anon_inode
   */
  private statAnon(op: number, id: bigint, _f: File<unknown>): number {
    encode(iommu_emu_stat, { dev: ANON_INODE_DEV, ino: 1n, mode: 0o600, nlink: 1, blksize: 4096n }, this.rsp, iommu_emu_rsp.size);
    return this.reply(op, id, 0, { outLen: iommu_emu_stat.size });
  }

  /** access(2) of an emulated node with the caller's emulated credentials. @see fs/open.c:do_faccessat */
  private access(p: Proc, op: number, id: bigint, payload: Buffer): number {
    const path = cString(payload);
    if (!isEmulatedPath(path)) return this.reply(op, id, 0, { flags: IOMMU_EMU_RSP_PASSTHROUGH });
    const mode = this.req.readUInt32LE(RQ.cmd!);
    if (mode & ~7) return this.reply(op, id, -errnoNumber('EINVAL'));
    let st: nodeFs.Stats;
    try {
      st = this.machine.fs.statSync(path) as nodeFs.Stats;
    } catch {
      return this.reply(op, id, -errnoNumber('ENOENT'));
    }
    const node = this.machine.kernelContext.chrdevs.nodes().find((n) => n.path === path);
    const ok = mode === 0 || permitted(p.task.cred, Number(st.mode), node?.uid ?? 0, node?.gid ?? 0, mode);
    return this.reply(op, id, ok ? 0 : -errnoNumber('EACCES'));
  }

  private identify(op: number, id: bigint, payload: Buffer): number {
    const n = Math.floor(payload.length / 8);
    let off = iommu_emu_rsp.size;
    for (let i = 0; i < n; i++) {
      const ph = this.byIno.get(Number(payload.readBigUInt64LE(i * 8)));
      encode(iommu_emu_newfd, { fd: -1, handle: ph?.handle ?? 0n, file_flags: ph?.file.flags ?? 0 }, this.rsp, off);
      off += iommu_emu_newfd.size;
    }
    return this.reply(op, id, 0, { outLen: n * iommu_emu_newfd.size });
  }
}

/** st_dev of devtmpfs (0:5) and of the anon_inode filesystem (0:13) as a typical kernel has them. */
const DEVTMPFS_DEV = 5n;
const ANON_INODE_DEV = 13n;

/** Whether `path` (absolute, normalised) is one the shim hands over. */
export function isEmulatedPath(path: string): boolean {
  return EMULATED_PREFIXES.some((p) => path === p || path.startsWith(`${p}/`));
}

function cString(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.subarray(0, nul < 0 ? b.length : nul).toString('utf8');
}

/** Field 22 of /proc/PID/stat (after the parenthesised comm): the process's start time. */
function startTime(pid: number): string | undefined {
  try {
    const s = nodeFs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function comm(pid: number): string {
  try {
    return nodeFs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return 'process';
  }
}

function closeQuietly(fd: number): void {
  try {
    nodeFs.closeSync(fd);
  } catch {
    // Already closed.
  }
}

const SHARED = new WeakSet<Uint8Array>();
const markShared = (v: Uint8Array): Uint8Array => (SHARED.add(v), v);
const isShared = (v: Uint8Array): boolean => SHARED.has(v);
