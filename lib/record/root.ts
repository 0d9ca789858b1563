// SPDX-License-Identifier: GPL-2.0-only
/** Where a recording comes from: this machine's /sys, or a directory someone sent. */
import * as nodeFs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EXPORT_METADATA_FILE } from '../export/export';
import { RecordOptions, nodeArchToKernel } from './recorder';
import { Limits, RecordError, SysSource, dirSource } from './source';

export interface OpenedRoot {
  readonly source: SysSource;
  /** What the tree does not say about itself (kernel, arch), for recordSys. */
  readonly options: RecordOptions;
}

const isDir = (p: string) => {
  try {
    return nodeFs.statSync(p).isDirectory();
  } catch {
    return false;
  }
};

/**
 * `undefined`: the real /sys with os.release() and os.arch(). A directory: an export (`DIR/sys`
 * plus `DIR/iommu-emu.json`) or a sys tree itself (`DIR/bus`, `DIR/kernel`).
 */
export function openRecordRoot(dir?: string, limits?: Partial<Limits>): OpenedRoot {
  if (dir === undefined) {
    return { source: dirSource('/sys', '/sys', limits), options: { kernel: os.release(), arch: nodeArchToKernel(os.arch()), name: hostName() } };
  }
  const root = path.resolve(dir);
  if (!isDir(root)) throw new RecordError(`${dir}: not a directory`);
  let sysDir: string;
  if (isDir(path.join(root, 'sys'))) sysDir = path.join(root, 'sys');
  else if (isDir(path.join(root, 'bus')) || isDir(path.join(root, 'kernel'))) sysDir = root;
  else throw new RecordError(`${dir}: neither an export (DIR/sys) nor a sys tree (DIR/bus, DIR/kernel)`);
  const metaFile = path.join(sysDir === root ? path.dirname(root) : root, EXPORT_METADATA_FILE);
  let metadata: Record<string, unknown> | undefined;
  if (sysDir !== root && nodeFs.existsSync(metaFile)) {
    try {
      const v = JSON.parse(nodeFs.readFileSync(metaFile, 'utf8')) as unknown;
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
      metadata = v as Record<string, unknown>;
    } catch (e) {
      throw new RecordError(`${metaFile}: ${(e as Error).message}`);
    }
    if (metadata.kernel !== undefined && typeof metadata.kernel !== 'string') throw new RecordError(`${metaFile}: kernel: must be a string`);
  }
  return { source: dirSource(sysDir, sysDir, limits), options: { metadata } };
}

function hostName(): string {
  const n = os.hostname().toLowerCase().replace(/[^a-z0-9._-]/g, '-').replace(/^[^a-z0-9]+/, '');
  return n ? `recorded-${n}` : 'recorded';
}
