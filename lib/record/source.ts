// SPDX-License-Identifier: GPL-2.0-only
/**
 * What the recorder reads: a sysfs tree addressed by `/sys/...` paths, confined to itself.
 * Links are resolved by hand, component by component, and a link that leaves `/sys` (absolute,
 * or too many `..`) is an error, never followed. Reading is bounded in files, bytes and time.
 */
import * as nodeFs from 'node:fs';
import * as path from 'node:path';
import { describeFileType, formatBytes, verifyOpenedAt } from '../hostfs';

export class RecordError extends Error {
  override readonly name = 'RecordError';
}

export type NodeKind = 'file' | 'dir' | 'link';

export interface Limits {
  /** Files read (default 100 000). */
  readonly maxFiles: number;
  /** Bytes read in total (default 64 MiB). */
  readonly maxBytes: number;
  /** Bytes read from one file (default 1 MiB). */
  readonly maxFileBytes: number;
  /** Wall-clock budget in ms (default 60 s). */
  readonly maxMillis: number;
  /** How the caller's user raises each limit (completes "raise it with …"). */
  readonly raise?: Partial<Record<'maxFiles' | 'maxBytes' | 'maxFileBytes' | 'maxMillis', string>>;
}

export const DEFAULT_LIMITS: Limits = { maxFiles: 100_000, maxBytes: 64 << 20, maxFileBytes: 1 << 20, maxMillis: 60_000 };

/** The primitive operations on canonical (link-free) `/sys/...` paths. */
interface Backend {
  lkind(p: string): NodeKind | undefined;
  readlink(p: string): string;
  read(p: string, max: number): Buffer;
  list(p: string): string[];
  /** -1: the tree does not say (a .umockdev file has no modes). */
  mode(p: string): number;
  /** st_size as the tree reports it (sysfs: 4096 for text attributes, the real size for `config`). */
  size(p: string): number;
}

const MAX_LINK_HOPS = 40;

export class SysSource {
  private files = 0;
  private bytes = 0;
  private readonly started = Date.now();
  readonly limits: Limits;

  constructor(
    /** Names the tree in messages: `/sys`, a directory, a umockdev file. */
    readonly label: string,
    private readonly be: Backend,
    limits: Partial<Limits> = {},
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** `(limit: 1 MiB; raise it with …)` */
  private limit(k: 'maxFiles' | 'maxBytes' | 'maxFileBytes' | 'maxMillis', shown: string): string {
    return `(limit: ${shown}; raise it with ${this.limits.raise?.[k] ?? `limits.${k}`})`;
  }

  private tick(): void {
    if (Date.now() - this.started > this.limits.maxMillis)
      throw new RecordError(`${this.label}: recording took longer than ${this.limits.maxMillis} ms ${this.limit('maxMillis', `${this.limits.maxMillis} ms`)}; nothing written`);
  }

  /** `/sys/a/b` with every link on the way resolved; undefined when a component is missing. */
  resolve(p: string, followLast = true): string | undefined {
    this.tick();
    const parts = p.split('/').filter(Boolean);
    if (parts[0] !== 'sys') throw new RecordError(`${this.label}: ${p}: not under /sys`);
    let cur = '/sys';
    let hops = 0;
    const todo = parts.slice(1);
    while (todo.length) {
      const name = todo.shift()!;
      if (name === '.') continue;
      if (name === '..') {
        if (cur === '/sys') throw new RecordError(`${this.label}: ${p}: leaves /sys`);
        cur = path.posix.dirname(cur);
        continue;
      }
      const next = `${cur}/${name}`;
      const k = this.be.lkind(next);
      if (k === undefined) return undefined;
      if (k === 'link' && (todo.length || followLast)) {
        if (++hops > MAX_LINK_HOPS) throw new RecordError(`${this.label}: ${p}: too many levels of links`);
        const target = this.be.readlink(next);
        if (path.posix.isAbsolute(target))
          throw new RecordError(`${this.label}: ${next} -> ${target}: absolute link, not followed (sysfs links are relative)`);
        const joined = path.posix.normalize(`${cur}/${target}`);
        if (joined !== '/sys' && !joined.startsWith('/sys/'))
          throw new RecordError(`${this.label}: ${next} -> ${target}: link leaves /sys, not followed`);
        todo.unshift(...joined.split('/').filter(Boolean).slice(1));
        cur = '/sys';
        continue;
      }
      cur = next;
    }
    return cur;
  }

  kind(p: string): NodeKind | undefined {
    const r = this.resolve(p, false);
    return r === undefined ? undefined : this.be.lkind(r);
  }

  exists(p: string): boolean {
    const r = this.resolve(p);
    return r !== undefined && this.be.lkind(r) !== undefined;
  }

  /** The link's own target text. */
  readlink(p: string): string | undefined {
    const r = this.resolve(p, false);
    return r !== undefined && this.be.lkind(r) === 'link' ? this.be.readlink(r) : undefined;
  }

  read(p: string): Buffer | undefined {
    const r = this.resolve(p);
    if (r === undefined || this.be.lkind(r) !== 'file') return undefined;
    if (++this.files > this.limits.maxFiles)
      throw new RecordError(`${this.label}: more than ${this.limits.maxFiles} files read ${this.limit('maxFiles', `${this.limits.maxFiles} files`)}; nothing written`);
    const b = this.be.read(r, this.limits.maxFileBytes + 1);
    if (b.length > this.limits.maxFileBytes)
      throw new RecordError(`${this.label}: ${p}: larger than ${formatBytes(this.limits.maxFileBytes)}, the attribute size limit ${this.limit('maxFileBytes', formatBytes(this.limits.maxFileBytes))}; nothing written`);
    this.bytes += b.length;
    if (this.bytes > this.limits.maxBytes)
      throw new RecordError(`${this.label}: more than ${formatBytes(this.limits.maxBytes)} read in total ${this.limit('maxBytes', formatBytes(this.limits.maxBytes))}; nothing written`);
    return b;
  }

  text(p: string): string | undefined {
    return this.read(p)?.toString('latin1');
  }

  list(p: string): string[] | undefined {
    const r = this.resolve(p);
    if (r === undefined || this.be.lkind(r) !== 'dir') return undefined;
    return this.be.list(r).sort();
  }

  mode(p: string): number | undefined {
    const r = this.resolve(p, false);
    return r === undefined ? undefined : this.be.mode(r);
  }

  size(p: string): number | undefined {
    const r = this.resolve(p);
    return r === undefined ? undefined : this.be.size(r);
  }

  /** Where a link resolves to (a canonical `/sys/...` path), or undefined. */
  realpath(p: string): string | undefined {
    return this.resolve(p);
  }
}

/** A directory holding the tree: `dir` is what `/sys` maps to. */
export function dirSource(sysDir: string, label = sysDir, limits?: Partial<Limits>): SysSource {
  // Canonical, so that an opened descriptor can be checked against the path the walk expects.
  let base = sysDir;
  try {
    base = nodeFs.realpathSync(sysDir);
  } catch {
    /* missing: every look-up fails the same way */
  }
  const real = (p: string) => path.join(base, p.slice('/sys'.length));
  const lst = (p: string) => {
    try {
      return nodeFs.lstatSync(real(p));
    } catch {
      return undefined;
    }
  };
  return new SysSource(
    label,
    {
      lkind(p) {
        const st = lst(p);
        if (!st) return undefined;
        return st.isSymbolicLink() ? 'link' : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : undefined;
      },
      readlink: (p) => nodeFs.readlinkSync(real(p)),
      read(p, max) {
        // O_NOFOLLOW: the path is canonical, so a link here would be a race; refuse it.
        let fd: number;
        try {
          fd = nodeFs.openSync(real(p), nodeFs.constants.O_RDONLY | nodeFs.constants.O_NOFOLLOW | nodeFs.constants.O_NONBLOCK);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'EACCES' || code === 'EPERM') return Buffer.alloc(0);
          throw new RecordError(`${label}: ${p}: cannot open (${code})`);
        }
        try {
          // The walk found a regular file here; make sure the descriptor is that file, not a
          // FIFO or device swapped in since, nor something reached through a swapped directory.
          const st = nodeFs.fstatSync(fd);
          if (!st.isFile()) throw new RecordError(`${label}: ${p}: is ${describeFileType(st)}, not a regular file; not read`);
          try {
            verifyOpenedAt(fd, real(p));
          } catch (e) {
            throw new RecordError(`${label}: ${p}: ${(e as Error).message}`);
          }
          const out: Buffer[] = [];
          let total = 0;
          const chunk = Buffer.alloc(65536);
          for (;;) {
            let n: number;
            try {
              n = nodeFs.readSync(fd, chunk, 0, Math.min(chunk.length, max - total), null);
            } catch (e) {
              // sysfs attributes may refuse reads (EIO, ENODEV, EINVAL): record them as unreadable.
              const code = (e as NodeJS.ErrnoException).code;
              if (total === 0) return Buffer.alloc(0);
              throw new RecordError(`${label}: ${p}: read failed (${code})`);
            }
            if (n <= 0) break;
            out.push(Buffer.from(chunk.subarray(0, n)));
            total += n;
            if (total >= max) break;
          }
          return Buffer.concat(out);
        } finally {
          nodeFs.closeSync(fd);
        }
      },
      list: (p) => nodeFs.readdirSync(real(p)),
      mode: (p) => (lst(p)?.mode ?? 0) & 0o7777,
      size: (p) => lst(p)?.size ?? 0,
    },
    limits,
  );
}

export type MemNode =
  | { readonly kind: 'dir'; readonly mode?: number }
  | { readonly kind: 'file'; readonly content: Buffer; readonly mode?: number }
  /* A missing mode reads as -1: unknown, not compared. */
  | { readonly kind: 'link'; readonly target: string };

/** An in-memory tree (`/sys/...` → node), e.g. built from a umockdev description. */
export function memSource(nodes: ReadonlyMap<string, MemNode>, label: string, limits?: Partial<Limits>): SysSource {
  const children = new Map<string, Set<string>>();
  const all = new Map(nodes);
  for (const p of [...nodes.keys()]) {
    for (let c = p; c !== '/sys' && c.startsWith('/sys/'); c = path.posix.dirname(c)) {
      const parent = path.posix.dirname(c);
      if (!children.has(parent)) children.set(parent, new Set());
      children.get(parent)!.add(path.posix.basename(c));
      if (!all.has(parent)) all.set(parent, { kind: 'dir' });
    }
  }
  if (!all.has('/sys')) all.set('/sys', { kind: 'dir' });
  return new SysSource(
    label,
    {
      lkind: (p) => all.get(p)?.kind,
      readlink: (p) => (all.get(p) as { target: string }).target,
      read: (p, max) => (all.get(p) as { content: Buffer }).content.subarray(0, max),
      list: (p) => [...(children.get(p) ?? [])],
      mode(p) {
        const n = all.get(p)!;
        if (n.kind === 'link') return 0o777;
        return n.mode ?? -1;
      },
      size(p) {
        const n = all.get(p)!;
        return n.kind === 'file' ? n.content.length : 0;
      },
    },
    limits,
  );
}
