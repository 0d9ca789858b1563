// SPDX-License-Identifier: GPL-2.0-only
/** Where a recording comes from: this machine's /sys, or a directory someone sent. */
import * as nodeFs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EXPORT_METADATA_FILE } from '../export/export';
import { RecordOptions, nodeArchToKernel } from './recorder';
import { HostFsError, canonicalDir, readRegularTextFile, resolveInside } from '../hostfs';
import { Limits, RecordError, SysSource, dirSource } from './source';

export interface OpenedRoot {
  readonly source: SysSource;
  /** What the tree does not say about itself (kernel, arch), for recordSys. */
  readonly options: RecordOptions;
}

/** What an export's metadata file may hold at most. */
const MAX_METADATA_BYTES = 1 << 20;

/** `name` inside the canonical `root`: resolved without leaving it, and a directory. */
function dirInside(root: string, name: string): string | undefined {
  let r: string | undefined;
  try {
    r = resolveInside(root, name);
  } catch (e) {
    if (e instanceof HostFsError) throw new RecordError(e.message);
    throw e;
  }
  if (r === undefined) return undefined;
  return nodeFs.lstatSync(r).isDirectory() ? r : undefined;
}

/**
 * `undefined`: the real /sys with os.release() and os.arch(). A directory: an export (`DIR/sys`
 * plus `DIR/iommu-emu.json`) or a sys tree itself (`DIR/bus`, `DIR/kernel`). Nothing is read from
 * outside DIR: `DIR/sys` and the metadata file may be links only within DIR, and the tree's own
 * links are resolved by hand and must stay inside its /sys.
 */
export function openRecordRoot(dir?: string, limits?: Partial<Limits>): OpenedRoot {
  if (dir === undefined) {
    return { source: dirSource('/sys', '/sys', limits), options: { kernel: os.release(), arch: nodeArchToKernel(os.arch()), name: hostName() } };
  }
  let root: string;
  try {
    root = canonicalDir(dir);
  } catch (e) {
    if (e instanceof HostFsError) throw new RecordError(`${dir}: ${e.reason}`);
    throw e;
  }
  let sysDir = dirInside(root, 'sys');
  const isExport = sysDir !== undefined;
  if (!sysDir && (dirInside(root, 'bus') || dirInside(root, 'kernel'))) sysDir = root;
  if (!sysDir) throw new RecordError(`${dir}: neither an export (DIR/sys) nor a sys tree (DIR/bus, DIR/kernel)`);
  let metadata: Record<string, unknown> | undefined;
  if (isExport) {
    const metaFile = path.join(root, EXPORT_METADATA_FILE);
    let text: string | undefined;
    try {
      const at = resolveInside(root, EXPORT_METADATA_FILE);
      if (at !== undefined) text = readRegularTextFile(at, { maxBytes: MAX_METADATA_BYTES, what: 'metadata file' }, { noFollow: true });
    } catch (e) {
      if (e instanceof HostFsError) throw new RecordError(`${metaFile}: ${e.reason}`);
      throw e;
    }
    if (text !== undefined) {
      try {
        const v = JSON.parse(text) as unknown;
        if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
        metadata = v as Record<string, unknown>;
      } catch (e) {
        throw new RecordError(`${metaFile}: ${(e as Error).message}`);
      }
      if (metadata.kernel !== undefined && typeof metadata.kernel !== 'string') throw new RecordError(`${metaFile}: kernel: must be a string`);
    }
  }
  return { source: dirSource(sysDir, sysDir, limits), options: { metadata } };
}

function hostName(): string {
  const n = os.hostname().toLowerCase().replace(/[^a-z0-9._-]/g, '-').replace(/^[^a-z0-9]+/, '');
  return n ? `recorded-${n}` : 'recorded';
}
