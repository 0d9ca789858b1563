// SPDX-License-Identifier: GPL-2.0-only
/**
 * The emulated machine's tree (/sys and /dev) as a FUSE filesystem: one FUSE request in, at most
 * one reply out, no I/O. Reads render from the model at open and continue the same buffer
 * (seq_file), writes run the attribute's store() with its errno — both through an emulated task
 * per caller credential (`machine.task({ cred })`) — lookups see the tree as it is now (nothing
 * is cached by the kernel: entry and attribute timeouts are 0), and namespace changes get the
 * errno sysfs gives (lib/kernfs/iops.ts).
 *
 * @see fs/kernfs/file.c (open/read/write of attributes), fs/kernfs/dir.c (lookup/readdir),
 *      fs/fuse/dev.c, fs/fuse/dir.c (what the kernel sends and how it takes the replies)
 * @note emulation: extended attributes answer ENOSYS, so the kernel's FUSE client reports
 *       EOPNOTSUPP for all of them (sysfs keeps security.* and trusted.* xattrs).
 */
import { constants } from 'node:fs';
import * as path from 'node:path';
import { Decoded, Input, decode, encode } from '../abi';
import { Credentials, ROOT, permitted, user } from '../cred';
import { Errno, errnoNumber, isKernelError, kerr } from '../errno';
import { kernfsOwner } from '../fs/kernfs_guard';
import { O_ACCMODE, O_APPEND, O_NONBLOCK } from '../uapi/fcntl';
import type { Process } from '../fs/process';
import type { Machine } from '../machine';
import { InodeInfo, KernfsNameOp, kernfsNameOpErrno, kernfsSetattrErrno } from '../kernfs/iops';
import * as F from '../uapi/fuse';
import { FUSE_MAX_WRITE } from './fuse_dev';

/** How FUSE callers map to emulated credentials and how inode owners are reported. */
export interface FuseIdentity {
  /**
   * The uid that owns the emulator (the user who ran `run`/`mount`). It is root of the emulated
   * machine; without root the mount is the user's own, and inside `run`'s user namespace the
   * program is uid 0 too. Default 0.
   */
  readonly ownerUid?: number;
  readonly ownerGid?: number;
}

/**
 * The emulated credentials of a real caller: root and the server's owner are root of the
 * emulated machine (inside `run`'s user namespace the program is uid 0 too), anyone else an
 * unprivileged user.
 */
export function callerCred(uid: number, gid: number, ownerUid: number): Credentials {
  if (uid === 0 || uid === ownerUid) return ROOT;
  return user(uid, gid);
}

interface Inode {
  readonly path: string;
  /** S_IFMT of what the id was handed out for: a path that changes kind gets a new id. */
  readonly type: number;
  nlookup: number;
}

interface DirHandle {
  readonly entries: { name: string; ino: number; type: number }[];
}

const S_IFMT = constants.S_IFMT;
const DT = (mode: number): number => (mode & S_IFMT) >> 12;
const NAME_MAX = 255;
const MAX_WRITE = FUSE_MAX_WRITE;

/** A reply: out header + body, or just an errno. */
type Reply = { error: number; body?: Uint8Array[] };

const ok = (...body: Uint8Array[]): Reply => ({ error: 0, body });
const fail = (e: Errno): Reply => ({ error: -errnoNumber(e) });

export class SysfsFuse {
  private readonly inodes = new Map<number, Inode>();
  private readonly byPath = new Map<string, number>();
  private nextId = 2;
  private readonly dirs = new Map<number, DirHandle>();
  /** Open attribute files: FUSE file handle → the emulated process and fd behind it. */
  private readonly files = new Map<bigint, { proc: Process; fd: number }>();
  private nextFile = 1n;
  private readonly procs = new Map<string, Process>();
  private nextDirHandle = 1;
  private readonly ownerUid: number;
  private readonly ownerGid: number;
  /** Negotiated at FUSE_INIT. */
  minor = 0;
  /** Requests served, by opcode (the benchmark and tests read it). */
  readonly counts = new Map<number, number>();

  constructor(
    private readonly m: Machine,
    private readonly root = '/',
    identity: FuseIdentity = {},
  ) {
    this.ownerUid = identity.ownerUid ?? 0;
    this.ownerGid = identity.ownerGid ?? 0;
    this.inodes.set(F.FUSE_ROOT_ID, { path: root, type: constants.S_IFDIR, nlookup: 1 });
    this.byPath.set(root, F.FUSE_ROOT_ID);
  }

  /** One request from /dev/fuse; the reply to write back, or undefined (FORGET, INTERRUPT). */
  handle(msg: Uint8Array): Uint8Array | undefined {
    const h = decode(F.fuse_in_header, msg);
    const arg = msg.subarray(F.fuse_in_header.size, h.len);
    this.counts.set(h.opcode, (this.counts.get(h.opcode) ?? 0) + 1);
    let r: Reply | undefined;
    const cred = this.credFor(h.uid, h.gid);
    try {
      r = this.dispatch(h, arg, cred);
    } catch (e) {
      if (!isKernelError(e)) throw e;
      r = { error: -e.errno };
    }
    if (!r) return undefined;
    return frame(h.unique, r);
  }

  private credFor(uid: number, gid: number): Credentials {
    return callerCred(uid, gid, this.ownerUid);
  }

  private dispatch(h: Decoded<typeof F.fuse_in_header>, arg: Uint8Array, cred: Credentials): Reply | undefined {
    switch (h.opcode) {
      case F.FUSE_INIT:
        return this.init(arg);
      case F.FUSE_DESTROY:
        return ok();
      case F.FUSE_LOOKUP:
        return this.lookup(h.nodeid, cstr(arg));
      case F.FUSE_FORGET:
        this.forget(h.nodeid, decode(F.fuse_forget_in, arg).nlookup);
        return undefined;
      case F.FUSE_BATCH_FORGET: {
        const { count } = decode(F.fuse_batch_forget_in, arg);
        for (let i = 0; i < count; i++) {
          const f = decode(F.fuse_forget_one, arg, F.fuse_batch_forget_in.size + i * F.fuse_forget_one.size);
          this.forget(f.nodeid, f.nlookup);
        }
        return undefined;
      }
      case F.FUSE_INTERRUPT:
        // Every request is answered before the next is read: nothing is ever in flight.
        return undefined;
      case F.FUSE_GETATTR:
        return this.getattr(h.nodeid);
      case F.FUSE_SETATTR:
        return this.setattr(h.nodeid, decode(F.fuse_setattr_in, arg), cred);
      case F.FUSE_READLINK: {
        const p = this.pathOf(h.nodeid);
        return ok(Buffer.from(String(this.m.fs.readlinkSync(p))));
      }
      case F.FUSE_ACCESS:
        return this.access(h.nodeid, decode(F.fuse_access_in, arg).mask, cred);
      case F.FUSE_OPEN:
        return this.open(h.nodeid, decode(F.fuse_open_in, arg).flags, cred);
      case F.FUSE_READ: {
        const r = decode(F.fuse_read_in, arg);
        const buf = Buffer.alloc(r.size);
        const f = this.fileOf(r.fh);
        const n = f.proc.sys.pread(f.fd, buf, r.offset);
        return n < 0 ? { error: n } : ok(buf.subarray(0, n));
      }
      case F.FUSE_WRITE: {
        const w = decode(F.fuse_write_in, arg);
        const data = arg.subarray(F.fuse_write_in.size, F.fuse_write_in.size + w.size);
        const f = this.fileOf(w.fh);
        const n = f.proc.sys.pwrite(f.fd, data, w.offset);
        return n < 0 ? { error: n } : ok(encode(F.fuse_write_out, { size: n }));
      }
      case F.FUSE_FLUSH:
      case F.FUSE_FSYNC:
      case F.FUSE_FSYNCDIR:
        return ok();
      case F.FUSE_RELEASE:
      {
        const fh = decode(F.fuse_release_in, arg).fh;
        const f = this.fileOf(fh);
        this.files.delete(fh);
        f.proc.sys.close(f.fd);
        return ok();
      }
      case F.FUSE_OPENDIR:
        return this.opendir(h.nodeid);
      case F.FUSE_READDIR: {
        const r = decode(F.fuse_read_in, arg);
        return this.readdir(Number(r.fh), Number(r.offset), r.size);
      }
      case F.FUSE_RELEASEDIR:
        this.dirs.delete(Number(decode(F.fuse_release_in, arg).fh));
        return ok();
      case F.FUSE_STATFS:
        // simple_statfs: no blocks, page-sized blocks, NAME_MAX names.
        return ok(encode(F.fuse_statfs_out, { st: { bsize: 4096, frsize: 4096, namelen: NAME_MAX } }));
      case F.FUSE_CREATE: {
        const name = cstr(arg.subarray(F.fuse_create_in.size));
        return this.nameOp('create', h.nodeid, name, cred);
      }
      case F.FUSE_MKNOD:
        return this.nameOp('mknod', h.nodeid, cstr(arg.subarray(F.fuse_mknod_in.size)), cred);
      case F.FUSE_MKDIR:
        return this.nameOp('mkdir', h.nodeid, cstr(arg.subarray(F.fuse_mkdir_in.size)), cred);
      case F.FUSE_SYMLINK: {
        // name\0target\0
        return this.nameOp('symlink', h.nodeid, cstr(arg), cred);
      }
      case F.FUSE_LINK:
        return this.nameOp('link', h.nodeid, cstr(arg.subarray(F.fuse_link_in.size)), cred);
      case F.FUSE_UNLINK:
        return this.nameOp('unlink', h.nodeid, cstr(arg), cred);
      case F.FUSE_RMDIR:
        return this.nameOp('rmdir', h.nodeid, cstr(arg), cred);
      case F.FUSE_RENAME:
        return this.nameOp('rename', h.nodeid, cstr(arg.subarray(F.fuse_rename_in.size)), cred);
      case F.FUSE_RENAME2: {
        const { flags } = decode(F.fuse_rename2_in, arg);
        return this.nameOp('rename', h.nodeid, cstr(arg.subarray(F.fuse_rename2_in.size)), cred, flags);
      }
      case F.FUSE_TMPFILE:
        // vfs_tmpfile: kernfs directories have no ->tmpfile.
        return fail('EOPNOTSUPP');
      default:
        // The kernel remembers ENOSYS per connection and falls back (local locks, EOPNOTSUPP
        // for xattrs and fallocate, ENOTTY for ioctl, DEFAULT_POLLMASK for poll).
        return fail('ENOSYS');
    }
  }

  private init(arg: Uint8Array): Reply {
    const i = decode(F.fuse_init_in, arg, 0, Math.min(arg.length, F.fuse_init_in.size));
    if (i.major !== F.FUSE_KERNEL_VERSION) {
      // Tell the kernel which major we speak; it retries or gives up. @see fs/fuse/inode.c:process_init_reply
      return ok(encode(F.fuse_init_out, { major: F.FUSE_KERNEL_VERSION, minor: F.FUSE_KERNEL_MINOR_VERSION }));
    }
    this.minor = Math.min(i.minor, F.FUSE_KERNEL_MINOR_VERSION);
    const want = F.FUSE_ATOMIC_O_TRUNC | F.FUSE_BIG_WRITES | F.FUSE_DONT_MASK | F.FUSE_MAX_PAGES | F.FUSE_PARALLEL_DIROPS;
    const out = encode(F.fuse_init_out, {
      major: F.FUSE_KERNEL_VERSION,
      minor: this.minor,
      max_readahead: i.max_readahead,
      flags: i.flags & want,
      max_background: 16,
      congestion_threshold: 12,
      max_write: MAX_WRITE,
      time_gran: 1,
      max_pages: MAX_WRITE / 4096,
    });
    // Protocols before 7.23 take the 24-byte reply. @see FUSE_COMPAT_22_INIT_OUT_SIZE
    return ok(this.minor < 23 ? out.subarray(0, 24) : out);
  }

  private pathOf(nodeid: bigint | number): string {
    const ino = this.inodes.get(Number(nodeid));
    if (!ino) throw kerr('ESTALE');
    return ino.path;
  }

  private lstat(
    p: string,
  ): { mode: number; uid: number; gid: number; ino: number; size: number; nlink: number; rdev: number; mtimeMs: number; atimeMs: number; ctimeMs: number } | undefined {
    try {
      const st = this.m.fs.lstatSync(p);
      return {
        mode: Number(st.mode),
        ...kernfsOwner(Number(st.uid), Number(st.gid)),
        ino: Number(st.ino),
        size: Number(st.size),
        nlink: Number(st.nlink),
        rdev: Number(st.rdev),
        mtimeMs: Number(st.mtimeMs),
        atimeMs: Number(st.atimeMs),
        ctimeMs: Number(st.ctimeMs),
      };
    } catch {
      return undefined;
    }
  }

  /** The node behind an id as it is now; ENOENT when it went away or changed kind. */
  private statOf(nodeid: bigint | number) {
    const ino = this.inodes.get(Number(nodeid));
    if (!ino) throw kerr('ESTALE');
    const st = this.lstat(ino.path);
    if (!st || (st.mode & S_IFMT) !== ino.type) throw kerr('ENOENT');
    return { ino, st };
  }

  private attr(nodeid: number, st: NonNullable<ReturnType<SysfsFuse['lstat']>>): Input<typeof F.fuse_attr> {
    const t = (ms: number) => ({ s: BigInt(Math.floor(ms / 1000)), ns: Math.floor((ms % 1000) * 1e6) });
    const a = t(st.atimeMs);
    const mt = t(st.mtimeMs);
    const c = t(st.ctimeMs);
    return {
      ino: BigInt(nodeid),
      size: BigInt((st.mode & S_IFMT) === constants.S_IFLNK ? String(this.m.fs.readlinkSync(this.inodes.get(nodeid)!.path)).length : st.size),
      blocks: 0n,
      atime: a.s,
      mtime: mt.s,
      ctime: c.s,
      atimensec: a.ns,
      mtimensec: mt.ns,
      ctimensec: c.ns,
      mode: st.mode,
      nlink: st.nlink,
      // @note emulation: root's inodes are reported as the owner's (inside `run`'s user namespace
      // that is uid 0; on a root mount the owner is root anyway).
      uid: st.uid === 0 ? this.ownerUid : st.uid,
      gid: st.gid === 0 ? this.ownerGid : st.gid,
      // Device numbers in the kernel's new_encode_dev form, which is also makedev's.
      rdev: st.rdev,
      blksize: 4096,
    };
  }

  private idFor(p: string, type: number): number {
    const known = this.byPath.get(p);
    if (known !== undefined) {
      const ino = this.inodes.get(known);
      if (ino && ino.type === type) return known;
    }
    const id = this.nextId++;
    this.inodes.set(id, { path: p, type, nlookup: 0 });
    this.byPath.set(p, id);
    return id;
  }

  private lookup(parent: bigint, name: string): Reply {
    const dir = this.pathOf(parent);
    if (name.length > NAME_MAX) return fail('ENAMETOOLONG');
    const p = name === '..' ? path.posix.dirname(dir) : name === '.' ? dir : childPath(dir, name);
    const st = this.lstat(p);
    if (!st) return fail('ENOENT');
    const id = p === this.root ? F.FUSE_ROOT_ID : this.idFor(p, st.mode & S_IFMT);
    this.inodes.get(id)!.nlookup++;
    return ok(encode(F.fuse_entry_out, { nodeid: BigInt(id), attr: this.attr(id, st) }));
  }

  private forget(nodeid: bigint, n: bigint): void {
    const id = Number(nodeid);
    if (id === F.FUSE_ROOT_ID) return;
    const ino = this.inodes.get(id);
    if (!ino) return;
    ino.nlookup -= Number(n);
    if (ino.nlookup > 0) return;
    this.inodes.delete(id);
    if (this.byPath.get(ino.path) === id) this.byPath.delete(ino.path);
  }

  private getattr(nodeid: bigint): Reply {
    const { st } = this.statOf(nodeid);
    return ok(encode(F.fuse_attr_out, { attr: this.attr(Number(nodeid), st) }));
  }

  private setattr(nodeid: bigint, s: Decoded<typeof F.fuse_setattr_in>, cred: Credentials): Reply {
    const { ino, st } = this.statOf(nodeid);
    const info: InodeInfo = { mode: st.mode, uid: st.uid, gid: st.gid };
    const errno = kernfsSetattrErrno(cred, info, {
      mode: (s.valid & F.FATTR_MODE) !== 0,
      uid: s.valid & F.FATTR_UID ? this.fromCaller(s.uid, this.ownerUid) : undefined,
      gid: s.valid & F.FATTR_GID ? this.fromCaller(s.gid, this.ownerGid) : undefined,
      size: (s.valid & F.FATTR_SIZE) !== 0,
      viaOpenFile: (s.valid & F.FATTR_FH) !== 0,
    });
    if (errno) return fail(errno);
    // Checked above with the caller's credentials: the change itself goes to memfs directly.
    const raw = this.m.vol;
    const isLink = (st.mode & S_IFMT) === constants.S_IFLNK;
    if (s.valid & F.FATTR_MODE && !isLink) raw.chmodSync(ino.path, s.mode & 0o7777);
    if (s.valid & (F.FATTR_UID | F.FATTR_GID))
      raw.lchownSync(
        ino.path,
        s.valid & F.FATTR_UID ? this.fromCaller(s.uid, this.ownerUid) : st.uid,
        s.valid & F.FATTR_GID ? this.fromCaller(s.gid, this.ownerGid) : st.gid,
      );
    if (s.valid & (F.FATTR_ATIME | F.FATTR_MTIME)) {
      const now = Date.now() / 1000;
      const at = s.valid & F.FATTR_ATIME_NOW ? now : s.valid & F.FATTR_ATIME ? Number(s.atime) + s.atimensec / 1e9 : st.atimeMs / 1000;
      const mt = s.valid & F.FATTR_MTIME_NOW ? now : s.valid & F.FATTR_MTIME ? Number(s.mtime) + s.mtimensec / 1e9 : st.mtimeMs / 1000;
      raw.lutimesSync(ino.path, at, mt);
    }
    // Size changes are ignored, as kernfs_iop_setattr ignores them.
    return this.getattr(nodeid);
  }

  /** A uid/gid the caller named, as the model stores it (the owner's ids are root's). */
  private fromCaller(id: number, owner: number): number {
    return id === owner ? 0 : id;
  }

  private access(nodeid: bigint, mask: number, cred: Credentials): Reply {
    const { st } = this.statOf(nodeid);
    if (mask === 0) return ok();
    return permitted(cred, st.mode, st.uid, st.gid, mask & 7) ? ok() : fail('EACCES');
  }

  /**
   * The emulated process that opens files for callers with these credentials: one task per
   * uid/gid, a child of init (the FUSE request's pid is a pid on the host, not in the machine).
   */
  private processFor(cred: Credentials): Process {
    const key = `${cred.uid}:${cred.gid}:${[...cred.caps].sort().join(',')}`;
    let p = this.procs.get(key);
    if (!p) {
      p = this.m.task({ cred, comm: 'iommu-emu-fuse' });
      this.procs.set(key, p);
    }
    return p;
  }

  private fileOf(fh: bigint): { proc: Process; fd: number } {
    const f = this.files.get(fh);
    if (!f) throw kerr('EBADF');
    return f;
  }

  private open(nodeid: bigint, flags: number, cred: Credentials): Reply {
    const { ino } = this.statOf(nodeid);
    // O_CREAT/O_EXCL/O_TRUNC were handled by the VFS (the file exists; kernfs ignores truncation).
    const proc = this.processFor(cred);
    const fd = proc.sys.open(ino.path, flags & (O_ACCMODE | O_NONBLOCK | O_APPEND));
    if (fd < 0) return { error: fd };
    const fh = this.nextFile++;
    this.files.set(fh, { proc, fd });
    // Every read reaches the model; nothing of an attribute stays in the page cache.
    return ok(encode(F.fuse_open_out, { fh, open_flags: F.FOPEN_DIRECT_IO }));
  }

  private opendir(nodeid: bigint): Reply {
    const { ino, st } = this.statOf(nodeid);
    if ((st.mode & S_IFMT) !== constants.S_IFDIR) return fail('ENOTDIR');
    const entries: DirHandle['entries'] = [
      { name: '.', ino: Number(nodeid), type: DT(constants.S_IFDIR) },
      { name: '..', ino: Number(this.byPath.get(path.posix.dirname(ino.path)) ?? 1), type: DT(constants.S_IFDIR) },
    ];
    for (const name of (this.m.fs.readdirSync(ino.path) as string[]).sort()) {
      const cst = this.lstat(childPath(ino.path, name));
      if (cst) entries.push({ name, ino: cst.ino, type: DT(cst.mode) });
    }
    const fh = this.nextDirHandle++;
    this.dirs.set(fh, { entries });
    return ok(encode(F.fuse_open_out, { fh: BigInt(fh) }));
  }

  private readdir(fh: number, offset: number, size: number): Reply {
    const d = this.dirs.get(fh);
    if (!d) return fail('EBADF');
    const out: Uint8Array[] = [];
    let used = 0;
    for (let i = offset; i < d.entries.length; i++) {
      const e = d.entries[i]!;
      const name = Buffer.from(e.name);
      const rec = F.fuseDirentAlign(F.fuse_dirent.size + name.length);
      if (used + rec > size) break;
      const b = new Uint8Array(rec);
      encode(F.fuse_dirent, { ino: BigInt(e.ino), off: BigInt(i + 1), namelen: name.length, type: e.type }, b);
      b.set(name, F.fuse_dirent.size);
      out.push(b);
      used += rec;
    }
    return ok(...out);
  }

  /** @note emulation: the same refusals under /dev (devtmpfs would let root mknod there). */
  private nameOp(op: KernfsNameOp, parent: bigint, name: string, cred: Credentials, renameFlags = 0): Reply {
    const { st } = this.statOf(parent);
    const victim = this.lstat(childPath(this.pathOf(parent), name));
    return fail(kernfsNameOpErrno(op, cred, st, victim, renameFlags));
  }
}

const childPath = (dir: string, name: string): string => (dir === '/' ? `/${name}` : `${dir}/${name}`);

/** A NUL-terminated name at the start of `b`. */
function cstr(b: Uint8Array): string {
  const end = b.indexOf(0);
  return Buffer.from(b.buffer, b.byteOffset, end < 0 ? b.length : end).toString('utf8');
}

/** fuse_out_header + body. */
function frame(unique: bigint, r: Reply): Uint8Array {
  const bodyLen = r.error ? 0 : (r.body ?? []).reduce((n, b) => n + b.length, 0);
  const out = Buffer.alloc(F.fuse_out_header.size + bodyLen);
  encode(F.fuse_out_header, { len: out.length, error: r.error, unique }, out);
  let at = F.fuse_out_header.size;
  if (!r.error) for (const b of r.body ?? []) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}
