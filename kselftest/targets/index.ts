// SPDX-License-Identifier: GPL-2.0-only
/** `--target emulator | dir:PATH | live` → a Target. */
import { dirTarget, TargetError } from './dir';
import { emulatorTarget } from './emulator';
import { liveTarget } from './live';
import type { Target } from './target';

export type { Target, TargetKind, TreeFs, Sys } from './target';
export { TargetError } from './dir';
export { emulatorTarget, machineTarget, parseKconfigOption } from './emulator';
export { dirTarget } from './dir';
export { liveTarget } from './live';

export interface TargetOptions {
  readonly host?: string | undefined;
  readonly kernel?: string | undefined;
  /** emulator: plugin files to load into the machine. */
  readonly plugins?: readonly string[] | undefined;
  /** emulator only: `CONFIG_X=y|n,...` over the host's Kconfig. */
  readonly kconfig?: string | undefined;
}

export const TARGET_USAGE = 'emulator (default) | dir:PATH | live';

export function openTarget(spec: string | undefined, opts: TargetOptions = {}): Target {
  const s = spec ?? 'emulator';
  if (s === 'emulator') return emulatorTarget(opts);
  if (opts.kconfig !== undefined) throw new TargetError(`--kconfig builds an emulated kernel: it needs --target emulator, not ${JSON.stringify(s)}`);
  if (s === 'live') return liveTarget(opts);
  if (s.startsWith('dir:') && s.length > 4) return dirTarget(s.slice(4), opts);
  throw new TargetError(`--target ${JSON.stringify(s)}: expected ${TARGET_USAGE}`);
}
