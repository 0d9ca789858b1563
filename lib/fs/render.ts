// SPDX-License-Identifier: GPL-2.0-only
/**
 * Materializes a desired SysTree into a memfs volume and keeps it in step: after every model
 * change the renderer adds, updates and removes exactly what differs. memfs stays a dumb store;
 * writes through `machine.fs` to an attribute reach its `store` through a per-inode hook.
 */
import type { Volume } from 'memfs';
import { constants } from 'node:fs';
import { KernelError, isKernelError } from '../errno';
import type { Attribute, SysNode, SysTree } from '../kernfs/attribute';
import { makedev } from '../drivers/char_dev';
import { toNodeFsError } from './node_errors';

interface MemfsNode {
  mode: number;
  getSize(): number;
  rdev: number;
  uid: number;
  gid: number;
  getBuffer(): Buffer;
  setBuffer(b: Buffer): void;
  write(buf: Buffer, off?: number, len?: number, pos?: number): number;
  truncate(len?: number): void;
}

interface Rendered {
  readonly kind: SysNode['kind'];
  readonly sig: string;
}

/** sysfs gives a text attribute the size of its buffer. @see fs/sysfs/file.c:sysfs_add_file_mode_ns */
const TEXT_ATTR_SIZE = 4096;

/** Calls the attribute's store for a write through memfs; returns bytes consumed. */
export type StoreHook = (path: string, attr: Attribute, data: Uint8Array, pos: number) => number;

export const attrContent = (a: Attribute): Buffer => {
  const v = a.show();
  return typeof v === 'string' ? Buffer.from(v, 'latin1') : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
};

const depthOf = (p: string): number => {
  let d = 0;
  for (let i = 0; i < p.length; i++) if (p.charCodeAt(i) === 47) d++;
  return d;
};

/** Paths by depth (parents first, or children first), then by name; depths computed once. */
function byDepth(paths: Iterable<string>, childrenFirst = false): string[] {
  const keyed = [...paths].map((p) => [depthOf(p), p] as const);
  keyed.sort((a, b) => (childrenFirst ? b[0] - a[0] : a[0] - b[0]) || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return keyed.map((k) => k[1]);
}

const DIR_0755 = `dir:${0o755}`;

function sigOf(p: string, n: SysNode): string {
  switch (n.kind) {
    case 'dir':
      return `dir:${n.mode ?? 0o755}`;
    case 'link':
      return `link:${n.target}`;
    case 'chardev':
      return `chr:${n.mode}:${n.major}:${n.minor}:${n.uid ?? 0}:${n.gid ?? 0}`;
    case 'file':
      return `file:${p}`;
  }
}

export class MemfsRenderer {
  private current = new Map<string, Rendered>();
  /** Inodes of rendered attribute files, so updates need no path walk. */
  private readonly nodes = new Map<string, MemfsNode>();
  /** The mode each attribute file was rendered with: a chmod (kernfs keeps it) survives re-renders. */
  private readonly modes = new Map<string, number>();
  private desired: SysTree = new Map();

  constructor(
    private readonly vol: Volume,
    private readonly storeHook: StoreHook,
  ) {}

  /** The node the tree currently puts at `path` (after resolving nothing). */
  lookup(path: string): SysNode | undefined {
    return this.desired.get(path);
  }

  private node(path: string): MemfsNode {
    // memfs keeps inodes behind its Superblock; the renderer is the one place that reaches them.
    const core = (this.vol as unknown as { _core: { getLinkOrThrow(p: string): { getNode(): MemfsNode } } })._core;
    return core.getLinkOrThrow(path).getNode();
  }

  apply(tree: SysTree): void {
    // Parent directories are implied by their children; make them explicit so they get 0755.
    for (const p of [...tree.keys()]) {
      for (let d = p.slice(0, p.lastIndexOf('/')); d; d = d.slice(0, d.lastIndexOf('/'))) {
        if (tree.has(d)) break;
        tree.set(d, { kind: 'dir' });
      }
    }
    this.desired = tree;
    // memfs checks directory permissions against the real process even for root: open up the
    // read-only directories (the 0555 mount point) while the tree changes.
    const chmods = new Set<string>();
    for (const [p, r] of this.current) {
      if (r.kind === 'dir' && r.sig !== DIR_0755) {
        this.vol.chmodSync(p, 0o755);
        chmods.add(p);
      }
    }
    // Remove what is gone or changed kind/target, deepest first; a removed directory takes its
    // whole subtree with it.
    const stale = byDepth(
      [...this.current.entries()]
        .filter(([p, r]) => {
          const want = tree.get(p);
          return !want || want.kind !== r.kind || (r.kind !== 'file' && r.kind !== 'dir' && sigOf(p, want) !== r.sig);
        })
        .map(([p]) => p),
      true,
    );
    for (const p of stale) {
      const r = this.current.get(p);
      if (!r) continue;
      if (r.kind === 'dir') {
        this.vol.rmSync(p, { recursive: true, force: true });
        for (const q of [...this.current.keys()]) if (q.startsWith(`${p}/`)) this.forget(q);
      } else this.vol.unlinkSync(p);
      this.forget(p);
      chmods.delete(p);
    }

    const paths = byDepth(tree.keys());
    for (const p of paths) {
      const n = tree.get(p)!;
      const have = this.current.get(p);
      const sig = sigOf(p, n);
      switch (n.kind) {
        case 'dir':
          if (!have) this.vol.mkdirSync(p);
          if (!have || have.sig !== sig) chmods.add(p);
          break;
        case 'link':
          if (!have) {
            this.vol.symlinkSync(n.target, p);
            // kernfs links are lrwxrwxrwx (memfs would make them 0666).
            this.node(p).mode = constants.S_IFLNK | 0o777;
          }
          break;
        case 'chardev': {
          if (have) break;
          this.vol.writeFileSync(p, '');
          const node = this.node(p);
          node.mode = constants.S_IFCHR | n.mode;
          node.rdev = makedev(n.major, n.minor);
          node.uid = n.uid ?? 0;
          node.gid = n.gid ?? 0;
          break;
        }
        case 'file': {
          let node = this.nodes.get(p);
          if (!have || !node) {
            this.vol.writeFileSync(p, '');
            node = this.node(p);
            this.nodes.set(p, node);
            this.hook(p, node);
            // Binary attributes have their real size; text attributes one page, whatever show() says.
            if (!n.attr.binary) node.getSize = () => TEXT_ATTR_SIZE;
          }
          const content = attrContent(n.attr);
          if (!node.getBuffer().equals(content)) node.setBuffer(content);
          if (this.modes.get(p) !== n.attr.mode) {
            node.mode = constants.S_IFREG | n.attr.mode;
            this.modes.set(p, n.attr.mode);
          }
          break;
        }
      }
      this.current.set(p, { kind: n.kind, sig });
    }
    // sysfs directories are 0755 (memfs would create 0777); the mount point itself is 0555.
    for (const p of chmods) {
      const n = tree.get(p);
      if (n?.kind === 'dir') this.vol.chmodSync(p, n.mode ?? 0o755);
    }
  }

  private forget(p: string): void {
    this.current.delete(p);
    this.nodes.delete(p);
    this.modes.delete(p);
  }

  /** Route memfs writes on this inode to the attribute's store; truncation is a no-op, as in sysfs. */
  private hook(path: string, node: MemfsNode): void {
    node.truncate = () => undefined;
    node.write = (buf: Buffer, off = 0, len = buf.length - off, pos = 0) => {
      const n = this.desired.get(path);
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
