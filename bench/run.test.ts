// SPDX-License-Identifier: GPL-2.0-only
/** The bench harness runs its tiny configuration and produces well-formed rows (no timing asserted). */
import test from 'ava';
import { QUICK_CONFIG } from './config';
import { estimateSeconds } from './b4_build';
import { Row, markdownTable, stat } from './harness';
import { GROUPS, readmeBlock, runBench } from './run';
import { syntheticTopology } from './synthetic';
import { createMachine } from '../lib';

const STATUSES = new Set(['PASS', 'MISS', 'INFO', 'NOT RUN']);

function wellFormedStat(t: import('ava').ExecutionContext, id: string, s: { min: number; median: number; max: number }): void {
  t.true([s.min, s.median, s.max].every(Number.isFinite), `${id}: finite`);
  t.true(s.min <= s.median && s.median <= s.max, `${id}: min ≤ median ≤ max`);
}

test('the quick configuration yields one well-formed row per benchmark, B1–B8', (t) => {
  const res = runBench(QUICK_CONFIG);
  const ids = res.rows.map((r) => r.id);
  t.is(new Set(ids).size, ids.length, 'ids are unique');
  for (const want of ['B1', 'B2', 'B3', 'B3 scale', 'B3b', 'B4/1', 'B4/4', 'B4/16', 'B4 heap', 'B5', 'B5 scale', 'B6', 'B7 run', 'B7 test', 'B8'])
    t.true(ids.includes(want), `has ${want}`);
  for (const r of res.rows) {
    t.true(STATUSES.has(r.status), `${r.id}: status ${r.status}`);
    t.true(r.what.length > 0 && r.anchor.length > 0 && r.target.length > 0, `${r.id}: labelled`);
    if (r.status === 'NOT RUN') {
      t.truthy(r.note, `${r.id}: a row that did not run says why`);
      t.is(r.figure, undefined);
      continue;
    }
    t.truthy(r.figure, `${r.id}: has a figure`);
    wellFormedStat(t, r.id, r.figure!);
    t.true(r.figure!.unit.length > 0);
    if (r.ratio) wellFormedStat(t, `${r.id} ratio`, r.ratio);
    if (r.status === 'PASS' || r.status === 'MISS') t.truthy(r.ratio ?? r.figure, `${r.id}: a verdict has something to judge`);
  }
  // The process rows are off in the quick configuration and say so.
  t.is(res.rows.find((r) => r.id === 'B6')!.status, 'NOT RUN');
  // JSON round trip and the README block carry every row.
  const back = JSON.parse(JSON.stringify(res)) as { rows: Row[] };
  t.deepEqual(back.rows.map((r) => r.id), ids);
  const table = markdownTable(res.rows).split('\n');
  t.is(table.length, res.rows.length + 2);
  t.true(readmeBlock(res).includes(table[2]!));
});

test('--only keeps the row groups asked for', (t) => {
  const res = runBench(QUICK_CONFIG, { only: ['B8'] });
  t.deepEqual(res.rows.map((r) => r.id), ['B8']);
  t.true(GROUPS.length >= 6);
});

test('stat and the build-time estimate', (t) => {
  t.deepEqual(stat([3, 1, 2]), { min: 1, median: 2, max: 3 });
  t.deepEqual(stat([4, 1, 2, 3]), { min: 1, median: 2.5, max: 4 });
  t.throws(() => stat([]));
  // Exponent of the last two sizes: 0.2 s → 6.4 s over 4× is k = 2.5, so the next 4× is 32×.
  t.is(Math.round(estimateSeconds([64, 256], [0.2, 6.4], 1024) * 10) / 10, 204.8);
  // Sub-linear noise is never extrapolated below linear.
  t.is(estimateSeconds([1, 4], [1, 2], 16), 8);
});

test('the synthetic host has exactly groups × 4 devices, in both kinds of group', (t) => {
  const m = createMachine(syntheticTopology(34));
  const groups = m.host.groups();
  t.is(groups.length, 34);
  t.true(groups.every((g) => g.devices.length === 4));
  t.is(m.host.devices.length, 136);
  // A quad-function NIC slot, and a root port without ACS with its three endpoints.
  t.deepEqual(m.host.findGroup(m.host.findDevice('0000:00:00.0')!.group!.id)!.devices.map((d) => d.bdf).sort(), [
    '0000:00:00.0',
    '0000:00:00.1',
    '0000:00:00.2',
    '0000:00:00.3',
  ]);
  t.deepEqual(m.host.findDevice('0000:00:10.0')!.group!.devices.map((d) => d.bdf).sort(), ['0000:00:10.0', '0000:01:00.0', '0000:01:01.0', '0000:01:02.0']);
  t.true(m.host.findDevice('0001:00:00.0') !== undefined, 'group 32 opens the second PCI segment');
});
