// SPDX-License-Identifier: GPL-2.0-only
/**
 * B4: building a machine (`createMachine` on a topology document: validation, the host model,
 * the first render of /sys) for synthetic hosts of N IOMMU groups × 4 devices, sizes 4× apart
 * side by side; linear building costs 4× per step. A size whose build is estimated (from the
 * exponent of the two sizes below it) to exceed the cap is not run, and says so.
 */
import { Machine, createMachine } from '../lib';
import type { BenchContext } from './config';
import { Row, Stat, cpuNow, figure, heapUsed, ratios, stat, verdict } from './harness';
import { syntheticTopology } from './synthetic';

interface Sample {
  readonly seconds: number;
  readonly heapMB: number;
}

function build(groups: number, doc: ReturnType<typeof syntheticTopology>): { m: Machine; s: Sample } {
  const h0 = heapUsed();
  const t0 = cpuNow();
  const m = createMachine(doc);
  const seconds = (cpuNow() - t0) / 1e3;
  const heapMB = (heapUsed() - h0) / 2 ** 20;
  if (m.host.groups().length !== groups) throw new Error(`synthetic ${groups}: built ${m.host.groups().length} groups`);
  return { m, s: { seconds, heapMB } };
}

const fmt = (n: number): string => n.toLocaleString('en-US');

/** Seconds the next size should take, from the exponent of the last two (cubic when only one ran). */
export function estimateSeconds(sizes: readonly number[], seconds: readonly number[], next: number): number {
  const n = seconds.length;
  const last = seconds[n - 1]!;
  const k = n >= 2 ? Math.max(1, Math.log(last / seconds[n - 2]!) / Math.log(sizes[n - 1]! / sizes[n - 2]!)) : 3;
  return last * (next / sizes[n - 1]!) ** k;
}

export function rows(ctx: BenchContext): Row[] {
  const { buildGroups: sizes, buildRounds, buildCapSeconds: cap, storeGroups } = ctx.cfg;
  const docs = sizes.map((g) => syntheticTopology(g));
  build(sizes[0]!, docs[0]!); // warm-up: the JIT, ajv's compiled schema, module loading
  const samples: Sample[][] = sizes.map(() => []);
  const estimates: (number | undefined)[] = sizes.map(() => undefined);
  // Round 0 ascending decides what runs; later rounds alternate the order.
  let runnable = 0;
  const repeat = sizes.map(() => true);
  for (let i = 0; i < sizes.length; i++) {
    if (i > 0) {
      const est = estimateSeconds(sizes.slice(0, i), samples.slice(0, i).map((s) => s[0]!.seconds), sizes[i]!);
      if (est > cap) {
        for (let j = i; j < sizes.length; j++)
          estimates[j] = estimateSeconds(sizes.slice(0, i), samples.slice(0, i).map((s) => s[0]!.seconds), sizes[j]!);
        break;
      }
    }
    ctx.log(`B4: building ${fmt(sizes[i]!)} groups × 4 devices`);
    const { m, s } = build(sizes[i]!, docs[i]!);
    if (storeGroups.includes(sizes[i]!)) ctx.keep(sizes[i]!, m);
    samples[i]!.push(s);
    runnable = i + 1;
    if (s.seconds > cap) {
      repeat[i] = false;
      break;
    }
  }
  for (let r = 1; r < buildRounds; r++) {
    const order = [...Array(runnable).keys()].filter((i) => repeat[i]);
    if (r % 2) order.reverse();
    for (const i of order) {
      ctx.log(`B4: round ${r + 1}, ${fmt(sizes[i]!)} groups`);
      samples[i]!.push(build(sizes[i]!, docs[i]!).s);
    }
  }
  const out: Row[] = [];
  const secs = (i: number) => samples[i]!.map((s) => s.seconds);
  for (let i = 0; i < sizes.length; i++) {
    const g = sizes[i]!;
    const what = `build a host: ${fmt(g)} groups × 4 devices`;
    const isTarget = g === 4096;
    const target = i === 0 ? '—' : isTarget ? '≤ 1 s; ≤ 4.5× per 4× size' : '≤ 4.5× per 4× size (linear: 4×)';
    if (i >= runnable) {
      const est = estimates[i];
      out.push({
        id: `B4/${g}`,
        what,
        anchor: i > 0 ? `B4/${sizes[i - 1]}` : '—',
        target,
        status: 'NOT RUN',
        note: est === undefined ? 'a smaller size exceeded the cap' : `est. ${fmt(Math.round(est))} s (cap ${cap} s)`,
      });
      continue;
    }
    const ratio: Stat | undefined = i > 0 ? stat(ratios(secs(i), secs(i - 1))) : undefined;
    const f = figure(secs(i), 's');
    out.push({
      id: `B4/${g}`,
      what,
      figure: f,
      anchor: i > 0 ? `B4/${sizes[i - 1]}` : '—',
      ratio,
      target,
      status: i === 0 ? 'INFO' : isTarget ? verdict(f.median <= 1, ratio!.median <= 4.5) : verdict(ratio!.median <= 4.5),
    });
  }
  const top = runnable - 1;
  const heap = figure(samples[top]!.map((s) => s.heapMB), 'MB');
  const heapRatio = top > 0 ? stat(ratios(samples[top]!.map((s) => s.heapMB), samples[top - 1]!.map((s) => s.heapMB))) : undefined;
  const reached = sizes[top] === 4096;
  out.push({
    id: 'B4 heap',
    what: `heap retained by the ${fmt(sizes[top]!)}-group machine`,
    figure: heap,
    anchor: top > 0 ? `B4/${sizes[top - 1]} heap` : '—',
    ratio: heapRatio,
    target: '≤ 300 MB at 4,096 groups',
    status: reached ? verdict(heap.median <= 300) : 'INFO',
    note: reached ? undefined : `4,096 groups not built`,
  });
  return out;
}
