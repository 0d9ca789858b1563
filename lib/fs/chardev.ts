// SPDX-License-Identifier: GPL-2.0-only
/**
 * Character devices and anonymous files: `struct file_operations` as object literals checked
 * with `satisfies FileOperations<…>`, one per device node kind.
 */
import type { Credentials } from '../cred';

export interface OpenContext {
  readonly cred: Credentials;
  readonly flags: number;
  /** The device node's path. */
  readonly path: string;
}

export interface FileOperations<Priv = unknown> {
  readonly name: string;
  /** Throws a KernelError to refuse the open. */
  open?(ctx: OpenContext, data: unknown): Priv;
  release?(priv: Priv): void;
  read?(priv: Priv, len: number, pos: bigint): Uint8Array;
  write?(priv: Priv, data: Uint8Array, pos: bigint): number;
  /** ≥ 0, or throws a KernelError (ENOIOCTLCMD becomes ENOTTY at the boundary). */
  unlockedIoctl?(priv: Priv, cmd: number, arg: bigint): number;
}

/** A /dev node: where it is, its mode and numbers, and the fops its open reaches. */
export interface DevNode {
  readonly path: string;
  readonly mode: number;
  readonly major: number;
  readonly minor: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly fops: FileOperations<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Passed to `fops.open` (e.g. the group a /dev/vfio/N node stands for). */
  readonly data?: unknown;
}

export const MISC_MAJOR = 10;
export const makedev = (major: number, minor: number): number => ((major & 0xfff) << 8) | (minor & 0xff) | ((minor & ~0xff) << 12);
