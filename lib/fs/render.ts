// SPDX-License-Identifier: GPL-2.0-only
/**
 * Materializes the desired /sys (and /dev) into a memfs volume and keeps it in step. The tree
 * comes as fragments, one per kernel object; a change costs what it changed: a fragment handed
 * in again unchanged is skipped, a changed one is diffed against its previous nodes, and only
 * the paths that appear, go or change kind touch the volume. Attribute files hold no bytes:
 * their inodes compute `show()` when read (once per model change, as a seq_file read does per
 * open), and writes through `machine.fs` reach `store` — both through per-inode hooks, so memfs
 * stays a dumb store.
 */
import type { Volume } from 'memfs';
import { constants } from 'node:fs';
import { KernelError, isKernelError } from '../errno';
import type { Attribute, SysFragment, SysNode } from '../kernfs/attribute';
import { makedev } from '../drivers/char_dev';
import { toNodeFsError } from './node_errors';

interface MemfsNode {
  mode: number;
  makeSymlink(target: string): void;
  rdev: number;
  uid: number;
  gid: number;
  getBuffer(): Buffer;
  getSize(): number;
  read(buf: Uint8Array, off?: number, len?: number, pos?: number): number;
  write(buf: Buffer, off?: number, len?: number, pos?: number): number;
  truncate(len?: number): void;
}

interface MemfsLink {
  getNode(): MemfsNode;
  getChild(name: string): MemfsLink | undefined;
  createChild(name: string, node: MemfsNode): MemfsLink;
}
interface MemfsCore {
  getLinkOrThrow(path: string): MemfsLink;
  createNode(mode: number): MemfsNode;
}

/** sysfs gives a text attribute the size of its buffer. @see fs/sysfs/file.c:sysfs_add_file_mode_ns */
const TEXT_ATTR_SIZE = 4096;

/** Calls the attribute's store for a write through memfs; returns bytes consumed. */
export type StoreHook = (path: string, attr: Attribute, data: Uint8Array, pos: number) => number;

export const attrContent = (a: Attribute): Buffer => {
  const v = a.show();
  return typeof v === 'string' ? Buffer.from(v, 'latin1') : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
};

const parentOf = (p: string): string => p.slice(0, p.lastIndexOf('/'));

/** A directory no fragment names, there because something below it is (identity marks it). */
const IMPLIED_DIR: SysNode = { kind: 'dir' };

function sigOf(n: SysNode): string {
  switch (n.kind) {
    case 'dir':
      return `dir:${n.mode ?? 0o755}`;
    case 'link':
      return `link:${n.target}`;
    case 'chardev':
      return `chr:${n.mode}:${n.major}:${n.minor}:${n.uid ?? 0}:${n.gid ?? 0}`;
    case 'file':
      return 'file';
  }
}

export class MemfsRenderer {
  /** What the volume holds at each path: the node a fragment named, or IMPLIED_DIR. */
  private readonly current = new Map<string, SysNode>();
  /** Entries directly below each rendered directory (an implied one goes when this drops to 0). */
  private readonly children = new Map<string, number>();
  /** The fragment whose node is at each named path. */
  private readonly owner = new Map<string, SysFragment>();
  private fragments = new Map<string, SysFragment>();
  private list: readonly SysFragment[] = [];
  /** Directories whose mode is not 0755 (the 0555 mount point). */
  private readonly special = new Map<string, number>();
  /** `show()` output since the last model change or store, per attribute path. */
  private contents = new Map<string, Buffer>();

  constructor(
    private readonly vol: Volume,
    private readonly storeHook: StoreHook,
  ) {}

  /** The node the tree currently puts at `path` (after resolving nothing). */
  lookup(path: string): SysNode | undefined {
    return this.owner.get(path)?.nodes.get(path);
  }

  /** memfs keeps inodes behind its Superblock; the renderer is the one place that reaches them. */
  private get core(): MemfsCore {
    return (this.vol as unknown as { _core: MemfsCore })._core;
  }

  private node(path: string): MemfsNode {
    return this.core.getLinkOrThrow(path).getNode();
  }

  /**
   * A new entry `p` holding a fresh inode of `mode`, linked straight into its parent directory.
   * Not through `vol.mkdirSync`/`writeFileSync`: those walk the path checking search permission on
   * every component, and memfs asks `process.getuid()` for each check, which was over a quarter
   * of building a large host. The renderer owns /sys and /dev, so there is nothing to check.
   */
  private create(p: string, mode: number): MemfsNode {
    const core = this.core;
    const parent = core.getLinkOrThrow(parentOf(p) || '/');
    const name = p.slice(p.lastIndexOf('/') + 1);
    // An entry the tree did not make (a node someone created through m.fs): kept, as
    // mkdirSync/writeFileSync would have kept it, with the mode the tree gives it.
    const had = parent.getChild(name)?.getNode();
    if (had && (had.mode & constants.S_IFMT) === (mode & constants.S_IFMT)) {
      had.mode = mode;
      return had;
    }
    const node = core.createNode(mode);
    parent.createChild(name, node);
    return node;
  }

  /** Bring the volume in step with `fragments` (every fragment, each key once). */
  apply(fragments: readonly SysFragment[]): void {
    // The model changed: attribute contents are computed again when next read.
    this.contents = new Map();
    const gone: string[] = [];
    const changed = new Map<string, { frag: SysFragment; node: SysNode }>();
    const diff = (old: SysFragment | undefined, f: SysFragment) => {
      if (old) for (const p of old.nodes.keys()) if (!f.nodes.has(p)) gone.push(p);
      for (const [p, node] of f.nodes) {
        if (old?.nodes.get(p) === node) continue;
        const other = changed.get(p);
        if (other) throw new Error(`sysfs path ${p} is in fragments ${other.frag.key} and ${f.key}`);
        changed.set(p, { frag: f, node });
      }
    };
    // Usually the same fragments in the same order, a few of them rebuilt: compare by position.
    const last = this.list;
    let samePlaces = fragments.length === last.length;
    const rebuilt: number[] = [];
    for (let i = 0; samePlaces && i < fragments.length; i++) {
      if (fragments[i] === last[i]) continue;
      if (fragments[i]!.key !== last[i]!.key) samePlaces = false;
      else rebuilt.push(i);
    }
    let next = this.fragments;
    if (samePlaces) {
      for (const i of rebuilt) diff(last[i], fragments[i]!);
    } else {
      next = new Map<string, SysFragment>();
      for (const f of fragments) {
        if (next.has(f.key)) throw new Error(`sysfs fragment ${f.key} given twice`);
        next.set(f.key, f);
        const old = this.fragments.get(f.key);
        if (old !== f) diff(old, f);
      }
      for (const [k, old] of this.fragments) if (!next.has(k)) for (const p of old.nodes.keys()) gone.push(p);
    }
    for (const [p, c] of changed) {
      const o = this.owner.get(p)?.key;
      const holder = o === undefined || o === c.frag.key ? undefined : samePlaces ? fragments.find((f) => f.key === o) : next.get(o);
      if (holder?.nodes.has(p)) throw new Error(`sysfs path ${p} is in fragments ${o} and ${c.frag.key}`);
    }
    if (samePlaces) for (const i of rebuilt) this.fragments.set(fragments[i]!.key, fragments[i]!);
    else this.fragments = next;
    this.list = fragments;
    if (gone.length === 0 && changed.size === 0) return;

    // memfs checks directory permissions against the real process even for root: open up the
    // read-only directories (the 0555 mount point) while the tree changes.
    for (const p of this.special.keys()) this.vol.chmodSync(p, 0o755);
    for (const p of gone) {
      if (changed.has(p)) continue; // moved to another fragment
      this.owner.delete(p);
      const r = this.current.get(p);
      if (!r) continue;
      if (r.kind === 'dir' && (this.children.get(p) ?? 0) > 0) {
        // Still holds entries of other objects: it stays as a plain directory (and goes with the last of them).
        this.current.set(p, IMPLIED_DIR);
        this.special.delete(p);
      } else this.remove(p);
    }
    for (const [p, c] of changed) {
      this.owner.set(p, c.frag);
      this.put(p, c.node);
    }
    // sysfs directories are 0755 (memfs would create 0777); the mount point itself is 0555.
    for (const [p, mode] of this.special) this.vol.chmodSync(p, mode);
  }

  /** Create or update one named node, its missing parents first. */
  private put(p: string, n: SysNode): void {
    const have = this.current.get(p);
    if (have && have.kind === n.kind && (n.kind === 'dir' || n.kind === 'file' || sigOf(have) === sigOf(n))) {
      if (n.kind === 'dir') this.setDirMode(p, n.mode ?? 0o755, sigOf(have) !== sigOf(n));
      // The attribute's own mode changed; otherwise a chmod (kernfs keeps it) survives.
      if (n.kind === 'file' && have.kind === 'file' && have.attr.mode !== n.attr.mode) this.node(p).mode = constants.S_IFREG | n.attr.mode;
      this.current.set(p, n);
      return;
    }
    if (have) this.remove(p, true);
    this.ensureParent(p);
    switch (n.kind) {
      case 'dir':
        this.create(p, constants.S_IFDIR | 0o755);
        this.setDirMode(p, n.mode ?? 0o755, false);
        break;
      case 'link': {
        // kernfs links are lrwxrwxrwx (memfs would make them 0666).
        const node = this.create(p, constants.S_IFREG | 0o666);
        node.makeSymlink(n.target);
        node.mode = constants.S_IFLNK | 0o777;
        break;
      }
      case 'chardev': {
        const node = this.create(p, constants.S_IFCHR | n.mode);
        node.rdev = makedev(n.major, n.minor);
        node.uid = n.uid ?? 0;
        node.gid = n.gid ?? 0;
        break;
      }
      case 'file': {
        const node = this.create(p, constants.S_IFREG | n.attr.mode);
        this.hook(p, node);
        node.mode = constants.S_IFREG | n.attr.mode;
        break;
      }
    }
    this.current.set(p, n);
    this.adopt(p);
  }

  private setDirMode(p: string, mode: number, chmodNow: boolean): void {
    if (mode !== 0o755) this.special.set(p, mode);
    else if (this.special.delete(p) || chmodNow) this.vol.chmodSync(p, mode);
  }

  /** Parent directories are implied by their children: create the missing ones, 0755. */
  private ensureParent(p: string): void {
    const d = parentOf(p);
    if (!d || this.current.has(d)) return;
    this.ensureParent(d);
    this.create(d, constants.S_IFDIR | 0o755);
    this.current.set(d, IMPLIED_DIR);
    this.adopt(d);
  }

  private adopt(p: string): void {
    const d = parentOf(p);
    if (d) this.children.set(d, (this.children.get(d) ?? 0) + 1);
  }

  /** Take `p` (and, for a directory, whatever is below it) off the volume; an implied parent left empty goes too. */
  private remove(p: string, replacing = false): void {
    const r = this.current.get(p);
    if (!r) return;
    if (r.kind === 'dir') {
      this.vol.rmSync(p, { recursive: true, force: true });
      if ((this.children.get(p) ?? 0) > 0)
        for (const q of [...this.current.keys()]) if (q.startsWith(`${p}/`)) this.forget(q, true);
    } else this.vol.unlinkSync(p);
    this.forget(p, replacing);
  }

  private forget(p: string, keepParent: boolean): void {
    this.current.delete(p);
    this.children.delete(p);
    this.special.delete(p);
    const d = parentOf(p);
    if (!d || !this.current.has(d)) return;
    const left = (this.children.get(d) ?? 1) - 1;
    this.children.set(d, left);
    if (left === 0 && !keepParent && this.current.get(d) === IMPLIED_DIR) this.remove(d);
  }

  /** Attribute contents are computed again at their next read (after any store). */
  invalidateContents(): void {
    if (this.contents.size) this.contents = new Map();
  }

  /** The attribute's bytes as of the current model: `show()` at the first read since the last change or store. */
  private content(path: string): Buffer {
    let c = this.contents.get(path);
    if (!c) {
      const n = this.lookup(path);
      c = n?.kind === 'file' ? attrContent(n.attr) : Buffer.alloc(0);
      this.contents.set(path, c);
    }
    return c;
  }

  /**
   * An attribute inode: reads and stat see `show()`'s output, writes run `store`, truncation is
   * a no-op, as in sysfs.
   */
  private hook(path: string, node: MemfsNode): void {
    node.getBuffer = () => Buffer.from(this.content(path));
    // Binary attributes have their real size; text attributes one page, whatever show() says.
    node.getSize = () => {
      const n = this.lookup(path);
      return n?.kind === 'file' && n.attr.binary ? this.content(path).length : TEXT_ATTR_SIZE;
    };
    node.read = (buf: Uint8Array, off = 0, len = buf.byteLength, pos = 0) => {
      const c = this.content(path);
      if (pos >= c.length) return 0;
      const n = Math.max(0, Math.min(len, buf.byteLength - off, c.length - pos));
      buf.set(c.subarray(pos, pos + n), off);
      return n;
    };
    node.truncate = () => undefined;
    node.write = (buf: Buffer, off = 0, len = buf.length - off, pos = 0) => {
      const n = this.lookup(path);
      if (!n || n.kind !== 'file') throw toNodeFsError(new KernelError('ENOENT'), 'write', path);
      try {
        return this.storeHook(path, n.attr, buf.subarray(off, off + len), pos);
      } catch (e) {
        if (isKernelError(e)) throw toNodeFsError(e, 'write', path);
        throw e;
      }
    };
  }
}
