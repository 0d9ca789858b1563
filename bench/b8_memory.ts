// SPDX-License-Identifier: GPL-2.0-only
/**
 * B8: heap retained per machine of the default host, against a raw memfs volume holding the same
 * tree (every directory, file with its bytes and symlink of /sys and /dev), measured alternately.
 */
import { Volume } from 'memfs';
import { Machine, createMachine, walkEmulated } from '../lib';
import type { TreeEntry } from '../lib';
import type { BenchContext } from './config';
import { Row, figure, heapUsed, ratios, stat, verdict } from './harness';

function rawVolume(entries: readonly TreeEntry[]): Volume {
  const vol = new Volume();
  const dirs: TreeEntry[] = [];
  for (const e of entries) {
    if (e.path === '/') continue;
    if (e.kind === 'dir') {
      vol.mkdirSync(e.path);
      dirs.push(e);
    } else if (e.kind === 'link') vol.symlinkSync(e.target!, e.path);
    else {
      vol.writeFileSync(e.path, e.content!);
      vol.chmodSync(e.path, e.mode);
    }
  }
  // Modes last: the tree has read-only directories (the 0555 mount point).
  for (const d of dirs.reverse()) vol.chmodSync(d.path, d.mode);
  return vol;
}

/** Heap bytes retained per object built by `make`, `n` of them alive at once. */
function perObject<T>(n: number, make: () => T): number {
  const keep: T[] = [];
  const h0 = heapUsed();
  for (let i = 0; i < n; i++) keep.push(make());
  const h1 = heapUsed();
  if (keep.length !== n) throw new Error('unreachable');
  return (h1 - h0) / n;
}

export function rows(ctx: BenchContext): Row[] {
  const { rounds, machinesPerRound: n } = ctx.cfg;
  const probe: Machine = createMachine('intel-vtd-server');
  const entries = walkEmulated(probe, '/');
  ctx.log(`B8: ${rounds} rounds of ${n} machines and ${n} memfs volumes (${entries.length} entries each)`);
  perObject(1, () => createMachine('intel-vtd-server')); // warm-up
  const machine: number[] = [];
  const raw: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const runs = [() => machine.push(perObject(n, () => createMachine('intel-vtd-server'))), () => raw.push(perObject(n, () => rawVolume(entries)))];
    if (r % 2) runs.reverse();
    for (const run of runs) run();
  }
  const kb = (xs: number[]) => figure(xs.map((x) => x / 1024), 'KB/machine');
  const ratio = stat(ratios(machine, raw));
  return [
    {
      id: 'B8',
      what: 'heap per machine (default host)',
      figure: kb(machine),
      anchor: `raw memfs volume, same tree, ${Math.round(stat(raw).median / 1024)} KB`,
      ratio,
      target: '≤ 1.2×',
      status: verdict(ratio.median <= 1.2),
    },
  ];
}
