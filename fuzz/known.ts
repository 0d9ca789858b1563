// SPDX-License-Identifier: GPL-2.0-only
/**
 * Divergences the fuzzers found that are real emulator bugs in code another change owns, each
 * reported with its minimal case (fuzz/fuzz.test.ts pins it as a failing test, so fixing the bug
 * turns that test into a reminder to delete the entry). A known divergence is counted and the
 * run goes on; anything else fails the run. An entry only covers a case where both sides fail
 * and change nothing, so the model and the emulator stay in step after it.
 */
export interface KnownBug {
  readonly id: string;
  readonly summary: string;
  /** The emulator's and the model's answer for one call (errno names, or 'ok'). */
  matches(got: string, want: string, call: string): boolean;
}

// type1-memlock-before-fault (ENOMEM where the kernel faults first) was fixed in
// lib/vfio/vfio_iommu_type1.ts:vfioPinMapDma; its case stays in fuzz/fuzz.test.ts.
export const KNOWN_BUGS: readonly KnownBug[] = [];

/** Counts per known bug over a run. */
export const knownHits = new Map<string, number>();

/** FUZZ_STRICT=1 treats known bugs as failures (to see a fix, or to replay one). */
export function knownBug(got: string, want: string, call: string): KnownBug | undefined {
  if (process.env.FUZZ_STRICT) return undefined;
  const b = KNOWN_BUGS.find((k) => k.matches(got, want, call));
  if (b) knownHits.set(b.id, (knownHits.get(b.id) ?? 0) + 1);
  return b;
}
