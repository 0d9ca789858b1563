// SPDX-License-Identifier: GPL-2.0-only
/**
 * A conformance program: the harness plus the suite options every program takes
 * (`--target emulator|dir:PATH|live`, `--host NAME|FILE`, `--kernel VERSION`) and a fresh
 * target per test, handed to the test as `t.target` and `t.sysfs`.
 *
 * ```ts
 * const h = suite('reserved_regions_test');
 * h.test('line_format', t => { for (const g of t.sysfs.groups()) ... });
 * export const main = h.main;
 * h.runIfMain(module);
 * ```
 */
import * as path from 'node:path';
import { ERRNO, compareKernelVersion, parseKernelVersion, type Machine } from '../../lib/index';
import { harness, type Harness, type T } from '../harness/kselftest_harness';
import { openTarget, TARGET_USAGE, type Sys, type Target } from '../targets';
import { SysfsView } from './sysfs';

export interface SuiteCtx {
  readonly target: Target;
  readonly sysfs: SysfsView;
}
export type SuiteT = T<SuiteCtx>;

const HELPERS = ['suite', 'sysfs', 'attr', 'iommu', 'iommufd'].flatMap(m => [path.join(__dirname, `${m}.ts`), path.join(__dirname, `${m}.js`)]);

export const SUITE_OPTIONS = {
  target: { type: 'string', valueName: 'SPEC', description: TARGET_USAGE, default: 'emulator' },
  host: { type: 'string', valueName: 'NAME|FILE', description: 'emulator: built-in host or topology file' },
  kernel: { type: 'string', valueName: 'VERSION', description: 'emulator: run the host under this kernel; dir: the tree\'s kernel' },
  plugin: { type: 'string', valueName: 'FILE[,FILE]', description: 'emulator: load ABI prototypes (plugins/*.ts) into the machine; the schema test adds their entries' },
  kconfig: { type: 'string', valueName: 'CONFIG_X=y|n,...', description: 'emulator: build the host with these Kconfig options (e.g. CONFIG_IOMMUFD=y)' },
} as const;

export function suite(name: string): Harness<SuiteCtx> {
  return harness<SuiteCtx>(name, {
    errno: ERRNO,
    options: SUITE_OPTIONS,
    helperFiles: HELPERS,
    context: {
      create(info) {
        const opt = (k: string): string | undefined => {
          const v = info.options[k];
          return typeof v === 'string' ? v : undefined;
        };
        const target = openTarget(opt('target'), { host: opt('host'), kernel: opt('kernel'), kconfig: opt('kconfig'), plugins: opt('plugin')?.split(',').filter(Boolean) });
        return { target, sysfs: new SysfsView(target) };
      },
      destroy(ctx) {
        ctx.target.close();
      },
    },
  });
}

/** The target's syscalls, or SKIP naming why there are none. */
export function needSys(t: SuiteT): Sys {
  if (!t.target.sys) t.skip(t.target.sysUnavailable ?? 'no syscalls on this target');
  return t.target.sys as Sys;
}

/** The emulated machine (stores, hot-plug, topology), or SKIP on a read-only target. */
export function needMachine(t: SuiteT): Machine {
  if (t.target.kind !== 'emulator') t.skip(`${t.target.sysUnavailable ?? `${t.target.kind} target is read-only`}; needs the emulator`);
  return t.target.machine as Machine;
}

/** The tree's kernel version, or SKIP when a directory does not say. */
export function kernelOf(t: SuiteT): string {
  const k = t.target.kernel;
  if (k === undefined || !parseKernelVersion(k)) t.skip(`kernel version of ${t.target.description} unknown: pass --kernel`);
  return k as string;
}

/** `kernel >= X.Y` of the target (SKIPs when unknown). */
export function kernelAtLeast(t: SuiteT, xy: string): boolean {
  const v = parseKernelVersion(kernelOf(t))!;
  return compareKernelVersion(v, parseKernelVersion(xy)!) >= 0;
}

/** `since <= kernel < until` */
export function kernelIn(t: SuiteT, since: string, until?: string): boolean {
  return kernelAtLeast(t, since) && (until === undefined || !kernelAtLeast(t, until));
}

/** The groups of the tree, or SKIP when it has none (e.g. a live host without an IOMMU). */
export function needGroups(t: SuiteT): string[] {
  const g = t.sysfs.groups();
  if (g.length === 0) t.skip(`no iommu_groups on ${t.target.description}`);
  return g;
}
