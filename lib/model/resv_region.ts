// SPDX-License-Identifier: GPL-2.0-only
/**
 * Reserved regions and the per-group merge.
 * @see include/linux/iommu.h:enum iommu_resv_type
 * @see drivers/iommu/iommu.c:iommu_insert_resv_region, iommu_get_group_resv_regions
 */
import { IovaRange, U64_MAX, hex64, u64 } from './iova';

/** Numeric order matters: the insertion sort breaks ties on it. */
export enum ResvType {
  DIRECT = 0,
  DIRECT_RELAXABLE = 1,
  RESERVED = 2,
  MSI = 3,
  SW_MSI = 4,
}

/** @see drivers/iommu/iommu.c:iommu_group_resv_type_string — MSI and SW_MSI print alike. */
export const RESV_TYPE_STRING: Readonly<Record<ResvType, string>> = {
  [ResvType.DIRECT]: 'direct',
  [ResvType.DIRECT_RELAXABLE]: 'direct-relaxable',
  [ResvType.RESERVED]: 'reserved',
  [ResvType.MSI]: 'msi',
  [ResvType.SW_MSI]: 'msi',
};

/** The printed names, in enum order (the tie-break order of the sort); MSI and SW_MSI share `msi`. */
export const RESV_TYPE_NAMES = ['direct', 'direct-relaxable', 'reserved', 'msi'] as const;
export type ResvTypeString = (typeof RESV_TYPE_NAMES)[number];

/** Printed name → its rank in the sort's tie-break. */
export const RESV_TYPE_RANK: Readonly<Record<ResvTypeString, number>> = { direct: 0, 'direct-relaxable': 1, reserved: 2, msi: 3 };

/** Topology / recorded names (the printed ones plus `sw-msi`, which prints as `msi`) → type. */
export const RESV_TYPE_BY_NAME: Readonly<Record<ResvTypeString | 'sw-msi', ResvType>> = {
  direct: ResvType.DIRECT,
  'direct-relaxable': ResvType.DIRECT_RELAXABLE,
  reserved: ResvType.RESERVED,
  msi: ResvType.MSI,
  'sw-msi': ResvType.SW_MSI,
};

/**
 * One line of `reserved_regions` as the kernel prints it (`0x%016llx 0x%016llx %s`).
 * @see drivers/iommu/iommu.c:iommu_group_show_resv_regions
 */
export const RESV_LINE_RE = /^0x([0-9a-f]{16}) 0x([0-9a-f]{16}) (direct|direct-relaxable|reserved|msi)$/;

export interface ResvLine {
  readonly start: bigint;
  readonly last: bigint;
  readonly type: ResvTypeString;
}

/** A line without its newline, or undefined when it does not follow the kernel's format. */
export function parseResvLine(line: string): ResvLine | undefined {
  const m = RESV_LINE_RE.exec(line);
  if (!m) return undefined;
  return { start: BigInt(`0x${m[1]}`), last: BigInt(`0x${m[2]}`), type: m[3] as ResvTypeString };
}

/** include/linux/iommu.h prot bits, carried for fidelity; sysfs never shows them. */
export const IOMMU_READ = 1 << 0;
export const IOMMU_WRITE = 1 << 1;
export const IOMMU_CACHE = 1 << 2;
export const IOMMU_NOEXEC = 1 << 3;
export const IOMMU_MMIO = 1 << 4;
export const IOMMU_PRIV = 1 << 5;

export interface ResvRegion extends IovaRange {
  readonly type: ResvType;
  readonly prot: number;
  /**
   * Where the region comes from, for humans (`show --explain`, errors); never rendered in sysfs:
   * `<driver function>: <firmware entry or rule>`.
   */
  readonly source?: string | undefined;
  /** After a group merge: every device region folded into this line, `<bdf>: <source>`, in insertion order. */
  readonly sources?: readonly string[] | undefined;
}

export type ResvMergeAlgorithm = 'v4.11' | 'v5.4';

interface Slot {
  start: bigint;
  last: bigint;
  type: ResvType;
  prot: number;
  source?: string | undefined;
  sources: string[];
}

const slot = (r: ResvRegion, label: string | undefined): Slot => ({
  start: r.start,
  last: r.last,
  type: r.type,
  prot: r.prot,
  source: r.source,
  sources: [label ? `${label}: ${r.source ?? '?'}` : r.source ?? '?'],
});

/**
 * The v5.4+ insertion: sorted insert by (start, type), then one pass that folds same-type
 * regions that overlap or touch into the last kept region of that type. The end+1 test is
 * done in u64 so a region ending at 2^64-1 stops all later merges of its type (the wrap quirk).
 * @see drivers/iommu/iommu.c:iommu_insert_resv_region (commit 4dbd258ff63e)
 */
function insertV54(list: Slot[], nr: Slot): Slot[] {
  let i = list.findIndex((it) => nr.start < it.start || (nr.start === it.start && nr.type <= it.type));
  if (i < 0) i = list.length;
  list.splice(i, 0, { ...nr, sources: [...nr.sources] });
  const stack: Slot[] = [];
  for (const it of list) {
    if (it.type !== nr.type) {
      stack.push(it);
      continue;
    }
    let top: Slot | undefined;
    for (let j = stack.length - 1; j >= 0; j--) {
      if (stack[j]!.type === it.type) {
        top = stack[j];
        break;
      }
    }
    if (!top || it.start > u64(top.last + 1n)) {
      stack.push(it);
      continue;
    }
    top.last = top.last > it.last ? top.last : it.last;
    top.sources.push(...it.sources);
  }
  return stack;
}

/**
 * The v4.11–v5.3 recursive insertion: contained same-type regions are dropped and overlapping
 * same-type regions merge (then re-insert from the head), but touching ones stay apart, and ties
 * at equal start are not ordered by type.
 * @see drivers/iommu/iommu.c:iommu_insert_resv_region (v4.11, removed by 4dbd258ff63e)
 */
function insertV411(list: Slot[], nr: Slot): Slot[] {
  for (let i = 0; i < list.length; i++) {
    const e = list[i]!;
    if (nr.last < e.start) {
      list.splice(i, 0, { ...nr, sources: [...nr.sources] });
      return list;
    }
    if (nr.start > e.last) continue;
    if (nr.start >= e.start && nr.last <= e.last) {
      if (nr.type === e.type) {
        e.sources.push(...nr.sources);
        return list;
      }
      continue;
    }
    if (nr.type === e.type) {
      list.splice(i, 1);
      const merged: Slot = {
        ...e,
        start: e.start < nr.start ? e.start : nr.start,
        last: e.last > nr.last ? e.last : nr.last,
        sources: [...e.sources, ...nr.sources],
      };
      return insertV411(list, merged);
    }
  }
  list.push({ ...nr, sources: [...nr.sources] });
  return list;
}

/**
 * The group's list: every device's regions inserted one by one, in device order.
 * @see drivers/iommu/iommu.c:iommu_get_group_resv_regions
 */
export function mergeResvRegions(
  perDevice: readonly (readonly ResvRegion[])[],
  algorithm: ResvMergeAlgorithm = 'v5.4',
  /** One label per device list (its bdf), prefixed to each entry of `sources`. */
  labels?: readonly string[],
): ResvRegion[] {
  const insert = algorithm === 'v5.4' ? insertV54 : insertV411;
  let list: Slot[] = [];
  perDevice.forEach((dev, i) => {
    for (const r of dev) list = insert(list, slot(r, labels?.[i]));
  });
  return list.map((s) => ({ ...s }));
}

/** One line of `reserved_regions`: `0x%016llx 0x%016llx %s\n`. */
export const formatResvRegion = (r: ResvRegion): string =>
  `0x${hex64(r.start)} 0x${hex64(r.last)} ${RESV_TYPE_STRING[r.type]}\n`;

/** The region a driver allocates with `iommu_alloc_resv_region(start, length, prot, type)`. */
export function resvRegion(start: bigint, length: bigint, prot: number, type: ResvType, source?: string): ResvRegion {
  return { start, last: u64(start + length - 1n), prot, type, source };
}

export { U64_MAX };
