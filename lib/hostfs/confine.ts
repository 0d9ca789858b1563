// SPDX-License-Identifier: GPL-2.0-only
/**
 * A directory tree someone sent (an export, a recorded /sys) read as a closed world: symbolic
 * links are resolved by hand and must stay inside the root, no path component on the way may be
 * a link the OS would follow on its own, and files are opened only when they are regular files
 * that, once opened, still sit where the walk found them (checked through /proc/self/fd).
 *
 * @note emulation: a concurrent writer who swaps a checked directory for a link between the
 * check and a later lstat/readdir can make one name list or one lstat come from outside the
 * root; file contents cannot (the descriptor is verified after open).
 */
import * as nodeFs from 'node:fs';
import * as path from 'node:path';
import { HostFsError, openRegularFile } from './read';

const MAX_LINK_HOPS = 40;

/** The canonical path of an existing directory named by the user (its own links followed). */
export function canonicalDir(dir: string): string {
  let real: string;
  try {
    real = nodeFs.realpathSync(path.resolve(dir));
  } catch (e) {
    throw new HostFsError(dir, `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!nodeFs.statSync(real).isDirectory()) throw new HostFsError(dir, 'not a directory');
  return real;
}

export interface ResolveOptions {
  /** Resolve a link in the last component too (default true). */
  readonly followLast?: boolean;
}

/**
 * Where `rel` leads inside the canonical directory `root`, every link on the way resolved by
 * hand. Undefined when a component does not exist; HostFsError when a link is absolute, climbs
 * out of `root`, or loops.
 */
export function resolveInside(root: string, rel: string, opts: ResolveOptions = {}): string | undefined {
  const followLast = opts.followLast ?? true;
  const cur: string[] = [];
  const todo = rel.split('/').filter((c) => c !== '' && c !== '.');
  let hops = 0;
  const here = () => (cur.length ? path.join(root, ...cur) : root);
  while (todo.length) {
    const name = todo.shift()!;
    if (name === '.') continue;
    if (name === '..') {
      if (!cur.length) throw new HostFsError(path.join(root, rel), `leaves ${root}, not followed`);
      cur.pop();
      continue;
    }
    const next = path.join(here(), name);
    let st: nodeFs.Stats;
    try {
      st = nodeFs.lstatSync(next);
    } catch {
      return undefined;
    }
    if (st.isSymbolicLink() && (todo.length || followLast)) {
      if (++hops > MAX_LINK_HOPS) throw new HostFsError(next, 'too many levels of symbolic links');
      const target = nodeFs.readlinkSync(next);
      if (path.isAbsolute(target)) throw new HostFsError(next, `-> ${target}: absolute link leaves ${root}, not followed`);
      const parts = target.split('/').filter((c) => c !== '' && c !== '.');
      // Check the climb now, so the message names the link rather than a later component.
      let depth = cur.length;
      for (const c of parts) {
        depth += c === '..' ? -1 : 1;
        if (depth < 0) throw new HostFsError(next, `-> ${target}: link leaves ${root}, not followed`);
      }
      todo.unshift(...parts);
      continue;
    }
    if (todo.length && !st.isDirectory()) return undefined;
    cur.push(name);
  }
  return here();
}

/**
 * After open: the descriptor must name `expected` (a canonical path). Linux only; elsewhere the
 * check is skipped (there is no /proc/self/fd to ask).
 */
export function verifyOpenedAt(fd: number, expected: string): void {
  let actual: string;
  try {
    actual = nodeFs.readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return;
  }
  if (actual !== expected) throw new HostFsError(expected, `opened ${actual} instead (the tree changed while being read); not read`);
}

/** The subset of node:fs a tree walker uses (lib/sysfs/validate.ts's SysfsFs fits). */
export interface ConfinedFs {
  lstatSync(p: string): nodeFs.Stats;
  statSync(p: string): nodeFs.Stats;
  readdirSync(p: string): string[];
  readlinkSync(p: string): string;
  readFileSync(p: string): Buffer;
  openSync(p: string, flags?: string | number): number;
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number | null): number;
  closeSync(fd: number): void;
}

function confinedError(p: string, code: string, message: string): NodeJS.ErrnoException {
  const e = new Error(`${code}: ${message}, '${p}'`) as NodeJS.ErrnoException;
  e.code = code;
  e.path = p;
  return e;
}

/**
 * node:fs over the canonical directory `root` where no call leaves it: a path outside `root`, or
 * one whose directories on the way include a symbolic link, fails with ELOOP/EXDEV instead of
 * being followed by the OS; open() reads only regular files and never blocks.
 */
export function confinedFs(root: string): ConfinedFs {
  const dirs = new Set<string>([root]);
  /** Every directory between root and `p` (exclusive) is a real directory. */
  const checkParents = (p: string): string => {
    const abs = path.resolve(p);
    const rel = path.relative(root, abs);
    if (rel.startsWith('..') || path.isAbsolute(rel)) throw confinedError(p, 'EXDEV', `outside ${root}`);
    const parts = rel ? rel.split(path.sep) : [];
    let cur = root;
    for (const c of parts.slice(0, -1)) {
      cur = path.join(cur, c);
      if (dirs.has(cur)) continue;
      const st = nodeFs.lstatSync(cur);
      if (st.isSymbolicLink()) throw confinedError(p, 'ELOOP', `${cur} is a symbolic link; not followed`);
      if (!st.isDirectory()) throw confinedError(p, 'ENOTDIR', `${cur} is not a directory`);
      dirs.add(cur);
    }
    return abs;
  };
  const realDir = (p: string): string => {
    const abs = checkParents(p);
    const st = nodeFs.lstatSync(abs);
    if (st.isSymbolicLink()) throw confinedError(p, 'ELOOP', 'a symbolic link; not followed');
    if (!st.isDirectory()) throw confinedError(p, 'ENOTDIR', 'not a directory');
    dirs.add(abs);
    return abs;
  };
  const openAt = (p: string): number => {
    const abs = checkParents(p);
    const { fd } = openRegularFile(abs, { noFollow: true });
    try {
      verifyOpenedAt(fd, abs);
    } catch (e) {
      nodeFs.closeSync(fd);
      throw e;
    }
    return fd;
  };
  return {
    lstatSync: (p) => nodeFs.lstatSync(checkParents(p)),
    statSync(p) {
      const abs = checkParents(p);
      const r = abs === root ? root : resolveInside(root, path.relative(root, abs));
      if (r === undefined) throw confinedError(p, 'ENOENT', 'no such file or directory');
      return nodeFs.lstatSync(r);
    },
    readdirSync: (p) => nodeFs.readdirSync(realDir(p)),
    readlinkSync: (p) => nodeFs.readlinkSync(checkParents(p)),
    openSync: (p) => openAt(p),
    readSync: (fd, buffer, offset, length, position) => nodeFs.readSync(fd, buffer, offset, length, position),
    closeSync: (fd) => nodeFs.closeSync(fd),
    readFileSync(p) {
      const fd = openAt(p);
      try {
        const out: Buffer[] = [];
        const chunk = Buffer.alloc(65536);
        for (let n; (n = nodeFs.readSync(fd, chunk, 0, chunk.length, null)) > 0; ) out.push(Buffer.from(chunk.subarray(0, n)));
        return Buffer.concat(out);
      } finally {
        nodeFs.closeSync(fd);
      }
    },
  };
}
