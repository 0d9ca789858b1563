// SPDX-License-Identifier: GPL-2.0-only
/**
 * `--target dir:PATH`: a directory tree holding `sys/` — an `iommu-emu export` or a recording
 * of a real host. Read-only; no syscalls. The kernel version comes from `iommu-emu.json`
 * beside `sys/` (what export and record write), else from `--kernel`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EXPORT_METADATA_FILE } from '../../lib/index';
import type { Target } from './target';

export interface DirTargetOptions {
  readonly kernel?: string | undefined;
}

export class TargetError extends Error {
  override readonly name = 'TargetError';
}

/** PATH holds `sys/`, or is itself a directory named `sys`. */
function rootOf(dir: string): string {
  const abs = path.resolve(dir);
  if (fs.existsSync(path.join(abs, 'sys')) && fs.statSync(path.join(abs, 'sys')).isDirectory()) return abs;
  if (path.basename(abs) === 'sys' && fs.existsSync(abs) && fs.statSync(abs).isDirectory()) return path.dirname(abs);
  throw new TargetError(`dir:${dir}: no sys/ directory there (expected an 'iommu-emu export' or a recording)`);
}

function metadata(root: string): Record<string, unknown> {
  const f = path.join(root, EXPORT_METADATA_FILE);
  if (!fs.existsSync(f)) return {};
  try {
    const j: unknown = JSON.parse(fs.readFileSync(f, 'utf8'));
    return j !== null && typeof j === 'object' ? (j as Record<string, unknown>) : {};
  } catch (e) {
    throw new TargetError(`${f}: ${(e as Error).message}`);
  }
}

export function dirTarget(dir: string, opts: DirTargetOptions = {}): Target {
  const root = rootOf(dir);
  const meta = metadata(root);
  const str = (k: string): string | undefined => (typeof meta[k] === 'string' ? (meta[k] as string) : undefined);
  return {
    kind: 'dir',
    description: `dir:${root}`,
    root,
    fs,
    kernel: opts.kernel ?? str('kernel'),
    arch: str('arch'),
    sys: undefined,
    sysUnavailable: `target dir:${dir} is a read-only tree: no syscalls`,
    machine: undefined,
    close() {},
  };
}
