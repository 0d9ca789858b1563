// SPDX-License-Identifier: GPL-2.0-only
/** sysfs attributes and the desired-tree description the renderer materializes. */
import type { Credentials } from '../cred';

export interface StoreContext {
  readonly cred: Credentials;
  /** File position of a binary attribute write; 0 for text attributes. */
  readonly pos: number;
}

/** `struct device_attribute` / `IOMMU_GROUP_ATTR`: a file whose content is computed by `show`. */
export interface Attribute {
  readonly name: string;
  readonly mode: number;
  readonly show: () => string | Uint8Array;
  /** Returns the bytes consumed (the whole buffer on success) or throws a KernelError. */
  readonly store?: (buf: Uint8Array, ctx: StoreContext) => number;
  /** Binary attributes (`config`) have a fixed size and positional reads/writes. */
  readonly binary?: boolean;
}

export const defineAttribute = (a: Attribute): Attribute => a;

export type SysNode =
  | { readonly kind: 'dir'; readonly mode?: number }
  | { readonly kind: 'file'; readonly attr: Attribute }
  | { readonly kind: 'link'; readonly target: string }
  | { readonly kind: 'chardev'; readonly mode: number; readonly major: number; readonly minor: number; readonly uid?: number; readonly gid?: number };

/** Absolute path → node. Parent directories are implied. */
export type SysTree = Map<string, SysNode>;

/**
 * The nodes one kernel object contributes (a device, a group, a driver, …), under a key naming
 * the object. The renderer diffs a fragment only when it is handed a different object for a key:
 * a builder that hands back the same fragment for an unchanged object makes a change cost what
 * it changed.
 */
export interface SysFragment {
  readonly key: string;
  readonly nodes: SysTree;
}
