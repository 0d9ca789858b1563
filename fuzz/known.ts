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

export const KNOWN_BUGS: readonly KnownBug[] = [
  {
    id: 'type1-memlock-before-fault',
    summary:
      'MAP_DMA answers ENOMEM where the kernel answers EFAULT: when the first page that cannot be pinned is also the first page past RLIMIT_MEMLOCK (or the limit is already used up), vfio_pin_pages_remote faults on that page before it counts it (lib/vfio/vfio_iommu_type1.ts:vfioPinMapDma compares limitAt <= faultAt; it must be limitAt < faultAt, with a used-up limit as 0)',
    matches: (got, want, call) => got === 'ENOMEM' && want === 'EFAULT' && call.startsWith('map('),
  },
];

/** Counts per known bug over a run. */
export const knownHits = new Map<string, number>();

/** FUZZ_STRICT=1 treats known bugs as failures (to see a fix, or to replay one). */
export function knownBug(got: string, want: string, call: string): KnownBug | undefined {
  if (process.env.FUZZ_STRICT) return undefined;
  const b = KNOWN_BUGS.find((k) => k.matches(got, want, call));
  if (b) knownHits.set(b.id, (knownHits.get(b.id) ?? 0) + 1);
  return b;
}
