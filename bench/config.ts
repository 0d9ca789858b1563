// SPDX-License-Identifier: GPL-2.0-only
/** What `make bench` runs, and the tiny configuration the harness test runs. */
import type { Machine } from '../lib';

export interface BenchConfig {
  /** Rounds of every in-process side-by-side measurement. */
  readonly rounds: number;
  /** Target ms of one measured batch. */
  readonly batchMs: number;
  /** B3: live mappings in the container, small and large. */
  readonly liveMappings: readonly [number, number];
  /** B3b: memory mappings in the task, few and many. */
  readonly taskMappings: readonly [number, number];
  /** B4: host sizes in IOMMU groups (× 4 devices), smallest first, each 4× the previous. */
  readonly buildGroups: readonly number[];
  /** B4: rounds of every build size. */
  readonly buildRounds: number;
  /** B4: a size whose estimated build time exceeds this (s) is not run. */
  readonly buildCapSeconds: number;
  /** B5: synthetic host sizes in groups for the store rows (small, large). */
  readonly storeGroups: readonly [number, number];
  /** B8: machines (and memfs volumes) per measured round. */
  readonly machinesPerRound: number;
  /** B6/B7: child-process rounds; 0 skips the process rows. */
  readonly processRounds: number;
  /** B7: also time `make test` (minutes on 2 cores). */
  readonly fullTest: boolean;
}

export const DEFAULT_CONFIG: BenchConfig = {
  rounds: 15,
  batchMs: 40,
  liveMappings: [1000, 65534],
  taskMappings: [4, 10000],
  buildGroups: [64, 256, 1024, 4096],
  buildRounds: 3,
  buildCapSeconds: 60,
  storeGroups: [64, 256],
  machinesPerRound: 20,
  processRounds: 10,
  fullTest: false,
};

/** Seconds, not minutes: proves the harness runs and its rows are well formed. */
export const QUICK_CONFIG: BenchConfig = {
  rounds: 3,
  batchMs: 5,
  liveMappings: [16, 64],
  taskMappings: [4, 40],
  buildGroups: [1, 4, 16],
  buildRounds: 2,
  buildCapSeconds: 5,
  storeGroups: [1, 4],
  machinesPerRound: 2,
  processRounds: 0,
  fullTest: false,
};

export interface BenchContext {
  readonly cfg: BenchConfig;
  /** The repository root. */
  readonly root: string;
  /** Progress on stderr (the table goes to stdout). */
  log(msg: string): void;
  /** A synthetic host machine of `groups` groups, built once and shared between rows. */
  synthetic(groups: number): Machine;
  /** Hand a machine built elsewhere (B4) to later rows. */
  keep(groups: number, m: Machine): void;
}
