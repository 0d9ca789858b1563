// SPDX-License-Identifier: GPL-2.0-only
/**
 * Export the emulated /sys into a real directory so unmodified programs can read it (e.g.
 * bind-mounted over /sys in a private mount namespace). Atomic: everything is written into a
 * temporary sibling directory that is renamed into place at the end; a failure leaves nothing.
 */
import * as nodeFs from 'node:fs';
import * as path from 'node:path';
import type { Machine } from '../machine';

export class ExportError extends Error {
  override readonly name = 'ExportError';
}

export interface ExportOptions {
  /** Top-level emulated directories to export (default: ['/sys']). */
  readonly roots?: readonly string[];
  /**
   * Written as `iommu-emu.json` beside `sys/` (never inside it): what a tree cannot say about
   * itself, e.g. the kernel version, so `record --root` can replay it exactly.
   */
  readonly metadata?: Readonly<Record<string, unknown>>;
}

export const EXPORT_METADATA_FILE = 'iommu-emu.json';

export interface ExportResult {
  readonly dir: string;
  readonly files: number;
  readonly dirs: number;
  readonly links: number;
}

/** The emulated tree as entries, parents before children (what export and record share). */
export interface TreeEntry {
  readonly path: string;
  readonly kind: 'dir' | 'file' | 'link';
  readonly mode: number;
  readonly content?: Buffer;
  readonly target?: string;
}

export function walkEmulated(m: Machine, root: string): TreeEntry[] {
  const out: TreeEntry[] = [];
  const visit = (p: string) => {
    const st = m.fs.lstatSync(p);
    const mode = Number(st.mode) & 0o7777;
    if (st.isSymbolicLink()) out.push({ path: p, kind: 'link', mode, target: String(m.fs.readlinkSync(p)) });
    else if (st.isDirectory()) {
      out.push({ path: p, kind: 'dir', mode });
      for (const name of (m.fs.readdirSync(p) as string[]).sort()) visit(`${p === '/' ? '' : p}/${name}`);
    } else if (st.isFile()) {
      // Read the inode directly: write-only attributes (0200) must export as empty files too.
      out.push({ path: p, kind: 'file', mode, content: Buffer.from(readInode(m, p)) });
    }
  };
  visit(root);
  return out;
}

function readInode(m: Machine, p: string): Uint8Array {
  const core = (m.vol as unknown as { _core: { getLinkOrThrow(p: string): { getNode(): { getBuffer(): Buffer } } } })._core;
  return core.getLinkOrThrow(p).getNode().getBuffer();
}

/** True when `target`, resolved from the link's directory, stays inside `root`. */
function linkStaysInside(root: string, linkPath: string, target: string): boolean {
  if (path.isAbsolute(target)) return false;
  const resolved = path.resolve(path.dirname(linkPath), target);
  return resolved === root || resolved.startsWith(root + path.sep);
}

export function exportTree(m: Machine, targetDir: string, opts: ExportOptions = {}): ExportResult {
  const target = path.resolve(targetDir);
  const parent = path.dirname(target);
  if (nodeFs.existsSync(target)) {
    const st = nodeFs.lstatSync(target);
    if (!st.isDirectory()) throw new ExportError(`${target}: exists and is not a directory`);
    if (nodeFs.readdirSync(target).length) throw new ExportError(`${target}: directory is not empty (refusing to overwrite)`);
  }
  if (!nodeFs.existsSync(parent)) throw new ExportError(`${parent}: no such directory`);
  const tmp = nodeFs.mkdtempSync(path.join(parent, `.${path.basename(target)}.iommu-emu-`));
  let files = 0;
  let dirs = 0;
  let links = 0;
  const dirModes: [string, number][] = [];
  try {
    for (const root of opts.roots ?? ['/sys']) {
      for (const e of walkEmulated(m, root)) {
        const real = path.join(tmp, e.path);
        if (!real.startsWith(tmp + path.sep)) throw new ExportError(`${e.path}: path escapes the export directory`);
        if (e.kind === 'dir') {
          nodeFs.mkdirSync(real, { recursive: true });
          dirModes.push([real, e.mode]);
          dirs++;
        } else if (e.kind === 'link') {
          if (!linkStaysInside(tmp, real, e.target!))
            throw new ExportError(`${e.path} -> ${e.target}: link points outside the exported tree`);
          nodeFs.symlinkSync(e.target!, real);
          links++;
        } else {
          nodeFs.writeFileSync(real, e.content!, { mode: 0o600 });
          nodeFs.chmodSync(real, e.mode);
          files++;
        }
      }
    }
    if (opts.metadata) nodeFs.writeFileSync(path.join(tmp, EXPORT_METADATA_FILE), `${JSON.stringify(opts.metadata, null, 2)}\n`, { mode: 0o644 });
    // @note emulation: directories keep their owner's write bit (sysfs' mount point is 0555), so
    // whoever exported the tree can `rm -rf` it again without root.
    for (const [d, mode] of dirModes.reverse()) nodeFs.chmodSync(d, mode | 0o200);
    nodeFs.chmodSync(tmp, 0o755);
    if (nodeFs.existsSync(target)) nodeFs.rmdirSync(target);
    nodeFs.renameSync(tmp, target);
  } catch (e) {
    nodeFs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return { dir: target, files, dirs, links };
}
