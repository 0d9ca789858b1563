// SPDX-License-Identifier: GPL-2.0-only
/**
 * IOVA ranges: inclusive bigint `{ start, last }` everywhere inside the model
 * (the iommufd uapi spelling). `start + length` and `start..end` exist only at the edges.
 */
import { U64_MAX } from '../kernel/limits';

export { U64_MAX };
export { parseU64 } from '../kernel/string';
export const u64 = (x: bigint): bigint => x & U64_MAX;

export interface IovaRange {
  readonly start: bigint;
  readonly last: bigint;
}

export const range = (start: bigint, last: bigint): IovaRange => ({ start, last });

/** `[start, start + length - 1]`, with the kernel's u64 wrap of the end. */
export const rangeFromLength = (start: bigint, length: bigint): IovaRange => ({
  start,
  last: u64(start + length - 1n),
});

export const rangeLength = (r: IovaRange): bigint => r.last - r.start + 1n;

export const overlaps = (a: IovaRange, b: IovaRange): boolean => a.start <= b.last && b.start <= a.last;

export const containsRange = (outer: IovaRange, inner: IovaRange): boolean =>
  outer.start <= inner.start && inner.last <= outer.last;

/** `0x%016llx` */
export const hex64 = (x: bigint): string => u64(x).toString(16).padStart(16, '0');

/**
 * Remove `[start, last]` from a sorted list of disjoint ranges, splitting where needed.
 * @see drivers/vfio/vfio_iommu_type1.c:vfio_iommu_resv_exclude (the per-node carve)
 */
export function subtractRange(list: readonly IovaRange[], cut: IovaRange): IovaRange[] {
  const out: IovaRange[] = [];
  for (const r of list) {
    if (!overlaps(r, cut)) {
      out.push(r);
      continue;
    }
    if (r.start < cut.start) out.push(range(r.start, cut.start - 1n));
    if (cut.last < r.last) out.push(range(cut.last + 1n, r.last));
  }
  return out;
}

/** Intersect each range of a sorted disjoint list with `[start, last]`, dropping empties. */
export function clampRanges(list: readonly IovaRange[], to: IovaRange): IovaRange[] {
  const out: IovaRange[] = [];
  for (const r of list) {
    if (!overlaps(r, to)) continue;
    out.push(range(r.start > to.start ? r.start : to.start, r.last < to.last ? r.last : to.last));
  }
  return out;
}

/** The ranges two sorted disjoint lists have in common (sorted, disjoint). */
export function intersectRanges(a: readonly IovaRange[], b: readonly IovaRange[]): IovaRange[] {
  const out: IovaRange[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!;
    const y = b[j]!;
    const start = x.start > y.start ? x.start : y.start;
    const last = x.last < y.last ? x.last : y.last;
    if (start <= last) out.push(range(start, last));
    if (x.last < y.last) i++;
    else j++;
  }
  return out;
}

/** Sort and merge overlapping or touching ranges into a sorted disjoint list. */
export function unionRanges(list: readonly IovaRange[]): IovaRange[] {
  const sorted = [...list].sort((p, q) => (p.start < q.start ? -1 : p.start > q.start ? 1 : 0));
  const out: { start: bigint; last: bigint }[] = [];
  for (const r of sorted) {
    const top = out[out.length - 1];
    if (top && r.start <= top.last + 1n) {
      if (r.last > top.last) top.last = r.last;
    } else out.push({ start: r.start, last: r.last });
  }
  return out;
}
