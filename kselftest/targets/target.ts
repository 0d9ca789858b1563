// SPDX-License-Identifier: GPL-2.0-only
/**
 * What a conformance suite runs against. A target gives every test a read-only view of a
 * `/sys` tree (paths are always spelled `/sys/...`), the kernel version that tree claims,
 * and, where the target can issue them, raw syscalls. Suites that need syscalls SKIP with
 * `sysUnavailable` as the reason elsewhere, so one suite gives one verdict per tree.
 */
import type { Stats } from 'node:fs';
import type { Machine } from '../../lib/index';

export type TargetKind = 'emulator' | 'dir' | 'live';

/** The synchronous node-`fs` subset suites and the validator read through (node fs and memfs both fit). */
export interface TreeFs {
  lstatSync(p: string): Pick<Stats, 'mode' | 'size' | 'isDirectory' | 'isFile' | 'isSymbolicLink'>;
  statSync(p: string): Pick<Stats, 'mode' | 'size' | 'isDirectory' | 'isFile' | 'isSymbolicLink'>;
  readdirSync(p: string): unknown[];
  readlinkSync(p: string): unknown;
  readFileSync(p: string): unknown;
  realpathSync(p: string): unknown;
}

/** Raw syscalls as a C program sees them: `>= 0` or `-errno`. */
export type Sys = Machine['sys'];

export interface Target {
  readonly kind: TargetKind;
  /** One line for logs: `emulator:intel-vtd-server@6.8`, `dir:/tmp/x`, `live`. */
  readonly description: string;
  /** The directory playing `/`; `/sys/x` is read at `${root}/sys/x` through `fs`. */
  readonly root: string;
  readonly fs: TreeFs;
  /** `uname -r` of the tree, or undefined when a directory does not say (pass --kernel). */
  readonly kernel: string | undefined;
  /** `x86_64`, `aarch64`, ... when known. */
  readonly arch: string | undefined;
  /** Syscalls, when the target can issue them. */
  readonly sys: Sys | undefined;
  /** Why `sys` is undefined. */
  readonly sysUnavailable: string | undefined;
  /** The emulated machine (emulator target only): stores and hot-plug go through it. */
  readonly machine: Machine | undefined;
  close(): void;
}
