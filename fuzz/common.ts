// SPDX-License-Identifier: GPL-2.0-only
/** What both fuzzers share: seeds, replay lines, machine set-up through the public API only. */
import * as fc from 'fast-check';
import { O_RDWR, VFIO_GROUP_SET_CONTAINER, VFIO_SET_IOMMU, abi, errnoName, type Machine } from '../lib/index';

/** `-22` → `EINVAL`, `0` → `0`. */
export const rcName = (rc: number): string => (rc >= 0 ? String(rc) : (errnoName(-rc) ?? `unknown errno ${-rc}`));

/** /dev/vfio/N groups the machine offers (what a program would find with readdir). */
export function vfioGroups(m: Machine): number[] {
  if (!m.fs.existsSync('/dev/vfio')) return [];
  return (m.fs.readdirSync('/dev/vfio') as string[]).filter((n) => /^\d+$/.test(n)).map(Number).sort((a, b) => a - b);
}

/** Container + first viable group, SET_CONTAINER, SET_IOMMU(type); undefined when refused. */
export function openType1(m: Machine, type: number): { cfd: number; gfd: number; group: number } | undefined {
  const cfd = m.sys.open('/dev/vfio/vfio', O_RDWR);
  for (const group of vfioGroups(m)) {
    const gfd = m.sys.open(`/dev/vfio/${group}`, O_RDWR);
    if (gfd < 0) continue;
    const p = m.mem.mmap(4096);
    abi.putUser(m.mem, abi.s32, p, cfd);
    const rc = m.sys.ioctl(gfd, VFIO_GROUP_SET_CONTAINER, p);
    m.mem.munmap(p, 4096);
    if (rc === 0 && m.sys.ioctl(cfd, VFIO_SET_IOMMU, type) === 0) return { cfd, gfd, group };
    m.sys.close(gfd);
  }
  m.sys.close(cfd);
  return undefined;
}

/** A failure the fuzzer reports: what diverged, with the seed and a line that replays it. */
export class FuzzFailure extends Error {
  override readonly name = 'FuzzFailure';
}

export interface RunFigures {
  /** ioctl calls (ioctl fuzzer) or MAP/UNMAP operations (differential model). */
  count: number;
  runs: number;
  /** Divergences / broken invariants that are known, reported bugs (listed by name). */
  known: Map<string, number>;
  seconds: number;
}

/** fast-check's report of a failed property, with our replay line in front. */
export function failureReport(kind: 'ioctl' | 'diff', seed: number, e: unknown): string {
  const details = (e as { message?: string }).message ?? String(e);
  const pathMatch = /path: "([^"]*)"/.exec(details) ?? /path="([^"]*)"/.exec(details);
  const replay = `make fuzz-replay FUZZ=${kind} SEED=${seed}${pathMatch ? ` FUZZ_PATH=${pathMatch[1]}` : ''}`;
  return `fuzz ${kind}: FAILED with seed ${seed}\n  replay: ${replay}\n${details}`;
}

/** fc.assert parameters for one seeded batch (replayable with the seed and path it prints). */
export function params(seed: number, numRuns: number, path?: string): fc.Parameters<unknown> {
  return { seed, numRuns, ...(path ? { path } : {}), endOnFailure: false, verbose: 1 };
}
