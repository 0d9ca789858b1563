// SPDX-License-Identifier: GPL-2.0-only
/**
 * `machine.fs` under /sys behaves like sysfs, not like a scratch directory: creating, removing
 * and renaming entries, chmod/chown by someone else than root, truncate without write permission
 * are refused with the errno lib/kernfs/iops.ts gives for them, in every API flavour (sync,
 * callback, promises). Everything else is memfs, untouched.
 */
import type { IFs } from 'memfs';
import { constants } from 'node:fs';
import * as path from 'node:path';
import type { Credentials } from '../cred';
import { KernelError } from '../errno';
import type { Errno } from '../errno';
import { InodeInfo, KernfsNameOp, kernfsNameOpErrno, kernfsSetattrErrno } from '../kernfs/iops';
import { toNodeFsError } from './node_errors';

const SYS = '/sys';

const toPath = (p: unknown): string | undefined => {
  if (typeof p === 'string') return path.posix.resolve('/', p);
  if (Buffer.isBuffer(p)) return path.posix.resolve('/', p.toString('utf8'));
  if (p instanceof URL) return p.protocol === 'file:' ? path.posix.resolve('/', decodeURIComponent(p.pathname)) : undefined;
  return undefined;
};
const underSys = (p: string | undefined): p is string => p !== undefined && (p === SYS || p.startsWith(`${SYS}/`));

/** Flags that create a missing file (string or numeric, as node's fs accepts them). */
function creates(flags: unknown, dflt: string): boolean {
  const f = flags ?? dflt;
  if (typeof f === 'number') return (f & constants.O_CREAT) !== 0;
  return typeof f === 'string' && /[wa]/.test(f);
}
const flagOf = (opts: unknown): unknown => (typeof opts === 'object' && opts !== null ? (opts as { flag?: unknown }).flag : undefined);

type Refusal = { errno: Errno; syscall: string; path: string };
/** Done here without memfs: kernfs accepts the call and changes nothing. */
const NOOP = Symbol('kernfs no-op');
/** The check a call needs: an errno to refuse it with, NOOP, or undefined to let memfs do it. */
type Check = (args: unknown[]) => Refusal | typeof NOOP | undefined;

const REAL_UID = process.getuid?.() ?? 0;
const REAL_GID = process.getgid?.() ?? 0;

/**
 * memfs makes every inode the emulator process's; sysfs inodes are root's (GLOBAL_ROOT_UID)
 * until someone chowns them. @note emulation: a chown to the emulator's own uid reads as root.
 */
export const kernfsOwner = (uid: number, gid: number): { uid: number; gid: number } => ({
  uid: uid === REAL_UID ? 0 : uid,
  gid: gid === REAL_GID ? 0 : gid,
});

export function guardSysfs(raw: IFs, cred: () => Credentials): IFs {
  const inode = (p: string, follow: boolean): InodeInfo | undefined => {
    try {
      const st = follow ? raw.statSync(p) : raw.lstatSync(p);
      return { mode: Number(st.mode), ...kernfsOwner(Number(st.uid), Number(st.gid)) };
    } catch {
      return undefined;
    }
  };
  const parentOf = (p: string): InodeInfo => inode(path.posix.dirname(p), true) ?? { mode: constants.S_IFDIR | 0o755, uid: 0, gid: 0 };

  const nameOp = (op: KernfsNameOp, syscall: string, p: string | undefined, renameFlags = 0) => {
    if (!underSys(p)) return undefined;
    // The mount point itself exists and is busy.
    if (p === SYS) return { errno: (op === 'unlink' || op === 'rmdir' || op === 'rename' ? 'EBUSY' : 'EEXIST') as Errno, syscall, path: p };
    return { errno: kernfsNameOpErrno(op, cred(), parentOf(p), inode(p, false), renameFlags), syscall, path: p };
  };
  const createIfMissing = (syscall: string, p: string | undefined, flags: unknown, dflt: string) => {
    if (!underSys(p) || !creates(flags, dflt) || inode(p, true)) return undefined;
    // A dangling name under /sys: open(O_CREAT) finds no ->create.
    return nameOp('create', syscall, p);
  };
  const setattr = (syscall: string, p: string | undefined, follow: boolean, change: Parameters<typeof kernfsSetattrErrno>[2]) => {
    if (!underSys(p)) return undefined;
    const ino = inode(p, follow);
    if (!ino) return { errno: 'ENOENT' as Errno, syscall, path: p };
    const errno = kernfsSetattrErrno(cred(), ino, change);
    return errno ? { errno, syscall, path: p } : undefined;
  };
  const owner = (v: unknown): number | undefined => (typeof v === 'number' && v !== -1 ? v : undefined);

  const checks: Record<string, Check> = {
    mkdir: ([p, opts]) => {
      const target = toPath(p);
      if (!underSys(target)) return undefined;
      const recursive = typeof opts === 'object' && opts !== null && (opts as { recursive?: boolean }).recursive;
      if (!recursive) return nameOp('mkdir', 'mkdir', target);
      // mkdir -p: the first missing component is the one the kernel refuses.
      let first: string | undefined;
      for (let d = target; underSys(d) && !inode(d, true); d = path.posix.dirname(d)) first = d;
      return first ? nameOp('mkdir', 'mkdir', first) : undefined;
    },
    mkdtemp: ([prefix]) => {
      const p = toPath(prefix);
      return underSys(p) ? nameOp('mkdir', 'mkdtemp', `${p}XXXXXX`) : undefined;
    },
    rmdir: ([p]) => nameOp('rmdir', 'rmdir', toPath(p)),
    rm: ([p, opts]) => {
      const target = toPath(p);
      if (!underSys(target)) return undefined;
      const ino = inode(target, false);
      if (!ino) return (opts as { force?: boolean } | undefined)?.force ? undefined : { errno: 'ENOENT', syscall: 'rm', path: target };
      return nameOp((ino.mode & constants.S_IFMT) === constants.S_IFDIR ? 'rmdir' : 'unlink', 'rm', target);
    },
    unlink: ([p]) => nameOp('unlink', 'unlink', toPath(p)),
    rename: ([from, to]) => {
      const a = toPath(from);
      const b = toPath(to);
      if (!underSys(a) && !underSys(b)) return undefined;
      if (underSys(a) !== underSys(b)) return { errno: 'EXDEV', syscall: 'rename', path: underSys(a) ? a : b! };
      return nameOp('rename', 'rename', a);
    },
    symlink: ([, p]) => nameOp('symlink', 'symlink', toPath(p)),
    link: ([from, to]) => {
      const a = toPath(from);
      const b = toPath(to);
      if (!underSys(b)) return underSys(a) ? { errno: 'EXDEV', syscall: 'link', path: a } : undefined;
      if (!underSys(a)) return { errno: 'EXDEV', syscall: 'link', path: b };
      return nameOp('link', 'link', b);
    },
    chmod: ([p]) => setattr('chmod', toPath(p), true, { mode: true }),
    lchmod: ([p]) => setattr('lchmod', toPath(p), false, { mode: true }),
    chown: ([p, uid, gid]) => setattr('chown', toPath(p), true, { uid: owner(uid), gid: owner(gid) }),
    lchown: ([p, uid, gid]) => setattr('lchown', toPath(p), false, { uid: owner(uid), gid: owner(gid) }),
    // kernfs_iop_setattr ignores size changes: an allowed truncate(2) is a no-op.
    truncate: ([p]) => {
      const target = toPath(p);
      if (typeof p === 'number' || !underSys(target)) return undefined;
      return setattr('truncate', target, true, { size: true }) ?? NOOP;
    },
    open: ([p, flags]) => createIfMissing('open', toPath(p), flags, 'r'),
    writeFile: ([p, , opts]) => (typeof p === 'number' ? undefined : createIfMissing('open', toPath(p), flagOf(opts), 'w')),
    appendFile: ([p, , opts]) => (typeof p === 'number' ? undefined : createIfMissing('open', toPath(p), flagOf(opts), 'a')),
    createWriteStream: ([p, opts]) => createIfMissing('open', toPath(p), flagOf(opts), 'w'),
    copyFile: ([, dest]) => createIfMissing('copyfile', toPath(dest), 'w', 'w'),
    cp: ([, dest]) => {
      const d = toPath(dest);
      return underSys(d) && !inode(d, true) ? nameOp('create', 'cp', d) : undefined;
    },
  };

  const fail = (c: Refusal | typeof NOOP) => (c === NOOP ? null : toNodeFsError(new KernelError(c.errno), c.syscall, c.path));

  const wrapSync = (fn: (...a: unknown[]) => unknown, check: Check) =>
    function (this: unknown, ...args: unknown[]) {
      const c = check(args);
      if (c === NOOP) return undefined;
      if (c) throw fail(c);
      return fn.apply(raw, args);
    };
  const wrapCallback = (fn: (...a: unknown[]) => unknown, check: Check) =>
    function (this: unknown, ...args: unknown[]) {
      const c = check(args);
      const cb = args[args.length - 1];
      if (c && typeof cb === 'function') {
        const err = fail(c);
        process.nextTick(() => (cb as (e: Error | null) => void)(err));
        return undefined;
      }
      if (c === NOOP) return undefined;
      if (c) throw fail(c);
      return fn.apply(raw, args);
    };
  const wrapPromise = (fn: (...a: unknown[]) => Promise<unknown>, check: Check, self: unknown) =>
    function (...args: unknown[]) {
      const c = check(args);
      if (c === NOOP) return Promise.resolve(undefined);
      return c ? Promise.reject(fail(c)) : fn.apply(self, args);
    };

  const promises = new Proxy(raw.promises, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      const check = typeof prop === 'string' ? checks[prop] : undefined;
      return check && typeof v === 'function' ? wrapPromise(v as (...a: unknown[]) => Promise<unknown>, check, target) : v;
    },
  });

  return new Proxy(raw, {
    get(target, prop, receiver) {
      if (prop === 'promises') return promises;
      const v = Reflect.get(target, prop, receiver);
      if (typeof prop !== 'string' || typeof v !== 'function') return v;
      if (prop.endsWith('Sync')) {
        const check = checks[prop.slice(0, -4)];
        return check ? wrapSync(v as (...a: unknown[]) => unknown, check) : v;
      }
      const check = checks[prop];
      if (!check) return v;
      return prop === 'createWriteStream' ? wrapSync(v as (...a: unknown[]) => unknown, check) : wrapCallback(v as (...a: unknown[]) => unknown, check);
    },
  });
}

