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

/** Negative, zero or positive like a comparator; patch counts. */
export function compareKernelVersion(a: KernelVersion, b: KernelVersion): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

/** `a >= "X.Y"` */
export function atLeast(a: KernelVersion, xy: string): boolean {
  const b = parseKernelVersion(xy);
  if (!b) throw new Error(`bad kernel version literal ${xy}`);
  return compareKernelVersion(a, b) >= 0;
}

export const formatKernelVersion = (v: KernelVersion): string => `${v.major}.${v.minor}${v.patch ? `.${v.patch}` : ''}`;
