// SPDX-License-Identifier: GPL-2.0-only
/** Kernel version strings: "6.8", "6.8.0-45-generic", "v5.15.2" → comparable triples. */
export interface KernelVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** As written by the user or read from `uname -r`. */
  readonly text: string;
}

const RE = /^v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+~._].*)?$/;

export function parseKernelVersion(text: string): KernelVersion | undefined {
  const m = RE.exec(text.trim());
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3] ?? 0), text: text.trim() };
}

/** Like parseKernelVersion, but a bad string is an Error naming it. */
export function kernelVersion(text: string): KernelVersion {
  const v = parseKernelVersion(text);
  if (!v) throw new Error(`not a kernel version: ${JSON.stringify(text)} (expected e.g. "6.8", "v5.15" or "6.8.0-45-generic")`);
  return v;
}

/** Negative, zero or positive like a comparator; patch counts. */
export function compareKernelVersion(a: KernelVersion, b: KernelVersion): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

/** `a >= "X.Y"` */
export const atLeast = (a: KernelVersion, xy: string): boolean => compareKernelVersion(a, kernelVersion(xy)) >= 0;

export interface VersionRange {
  readonly since: string;
  /** Exclusive: the first version that no longer has it. */
  readonly until?: string | undefined;
}

/** `since <= v < until`. A `-rcN` kernel counts as its release: features land by rc1. */
export const inVersionRange = (v: KernelVersion, r: VersionRange): boolean =>
  atLeast(v, r.since) && (r.until === undefined || !atLeast(v, r.until));

export const formatKernelVersion = (v: KernelVersion): string => `${v.major}.${v.minor}${v.patch ? `.${v.patch}` : ''}`;
