// SPDX-License-Identifier: GPL-2.0-only
/**
 * Kernel version strings: "6.8", "6.8.0-45-generic", "v5.15.2", "5.5-rc3", "5.5.0-rc3" →
 * comparable (major, minor, patch, rc) tuples.
 */
export interface KernelVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** N of a `-rcN` pre-release; undefined for a release (which sorts after all its rcs). */
  readonly rc?: number | undefined;
  /** As written by the user or read from `uname -r`. */
  readonly text: string;
}

const RE = /^v?(\d+)\.(\d+)(?:\.(\d+))?(?:-rc(\d+))?(?:[-+~._].*)?$/;

export function parseKernelVersion(text: string): KernelVersion | undefined {
  if (typeof text !== 'string') return undefined;
  const m = RE.exec(text.trim());
  if (!m) return undefined;
  return {
    major: Number(m[1]),
    minor: Number(m[2]),
    patch: Number(m[3] ?? 0),
    rc: m[4] === undefined ? undefined : Number(m[4]),
    text: text.trim(),
  };
}

/** Like parseKernelVersion, but a bad string is an Error naming it. */
export function kernelVersion(text: string): KernelVersion {
  const v = parseKernelVersion(text);
  if (!v) throw new Error(`not a kernel version: ${JSON.stringify(text)} (expected e.g. "6.8", "v5.15", "5.5-rc3" or "6.8.0-45-generic")`);
  return v;
}

const rcKey = (v: KernelVersion): number => v.rc ?? Number.POSITIVE_INFINITY;

/** Negative, zero or positive like a comparator; patch counts, and X.Y-rcN sorts before X.Y. */
export function compareKernelVersion(a: KernelVersion, b: KernelVersion): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch || (rcKey(a) === rcKey(b) ? 0 : rcKey(a) < rcKey(b) ? -1 : 1);
}

/** `a >= "X.Y"` as plain ordering (X.Y-rc1 < X.Y). */
export const atLeast = (a: KernelVersion, xy: string): boolean => compareKernelVersion(a, kernelVersion(xy)) >= 0;

export interface VersionRange {
  /** The first mainline kernel that has it: "X.Y" (from X.Y-rc1) or "X.Y-rcN" (landed as a fix in rcN). */
  readonly since: string;
  /** Exclusive: the first mainline kernel that no longer has it, spelt like `since`. */
  readonly until?: string | undefined;
  /** Stable series that got it as a backport: "X.Y.Z" = the X.Y.y series from X.Y.Z on. */
  readonly stable?: readonly string[] | undefined;
  /** Stable series that lost it early (a fix backported): "X.Y.Z" = gone in X.Y.y from X.Y.Z on. */
  readonly stableUntil?: readonly string[] | undefined;
}

/**
 * A row bound: "X.Y" means the merge window, so X.Y-rc1 and later; "X.Y-rcN" means rcN on;
 * "X.Y.Z" means that stable release on.
 */
function atBound(v: KernelVersion, bound: string): boolean {
  const b = kernelVersion(bound);
  return compareKernelVersion(v, b.rc === undefined && b.patch === 0 ? { ...b, rc: 1 } : b) >= 0;
}

/** Same X.Y series, at or past the stable release `z` ("X.Y.Z"); rc kernels are not stable. */
function inSeriesFrom(v: KernelVersion, z: string): boolean {
  const s = kernelVersion(z);
  return v.rc === undefined && v.major === s.major && v.minor === s.minor && v.patch >= s.patch;
}

/** `since <= v < until`, widened by stable backports of the change and narrowed by backported removals. */
export function inVersionRange(v: KernelVersion, r: VersionRange): boolean {
  if (r.stableUntil?.some((z) => inSeriesFrom(v, z))) return false;
  if (r.stable?.some((z) => inSeriesFrom(v, z))) return true;
  return atBound(v, r.since) && (r.until === undefined || !atBound(v, r.until));
}

export const formatKernelVersion = (v: KernelVersion): string =>
  `${v.major}.${v.minor}${v.patch ? `.${v.patch}` : ''}${v.rc !== undefined ? `-rc${v.rc}` : ''}`;
