// SPDX-License-Identifier: GPL-2.0-only
/**
 * B6, B7: wall time of whole processes, alternated with their anchor: the built CLI's start-up
 * against `node -e 0` (and the TypeScript-source path, `npm run cli`, beside it), and `make run` / `make test`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BenchContext } from './config';
import { Command, Row, alternate, figure, ratios, stat, verdict } from './harness';

/**
 * B7 has no anchor process; its CPU time (all processes it ran) beside the wall time tells a
 * slow run from a loaded machine.
 */
function cpuNote(cpu: readonly (number | undefined)[]): string {
  if (cpu.some((c) => c === undefined)) return '—';
  return `CPU ${(stat(cpu as number[]).median / 1e3).toFixed(1)} s (user+sys, all processes)`;
}

export function rows(ctx: BenchContext): Row[] {
  const { processRounds: rounds, fullTest } = ctx.cfg;
  const out: Row[] = [];
  const node = process.execPath;
  const bin = path.join(ctx.root, 'dist', 'tools', 'iommu-emu', 'bin.js');
  const built = fs.existsSync(bin);
  const bare: Command = { name: 'node -e 0', argv: [node, '-e', '0'] };
  const help: Command = { name: 'iommu-emu --help', argv: [node, bin, '--help'], cwd: ctx.root };
  const cat: Command = { name: 'iommu-emu cat', argv: [node, bin, 'cat', '/sys/kernel/iommu_groups/2/reserved_regions'], cwd: ctx.root };
  const source: Command = {
    name: 'npm run cli -- --help',
    argv: [node, '-r', path.join(ctx.root, 'scripts', 'ts-register.js'), path.join(ctx.root, 'tools', 'iommu-emu', 'bin.ts'), '--help'],
    cwd: ctx.root,
  };
  const skipped = rounds === 0 ? 'process rows off in this configuration' : undefined;
  if (skipped || !built) {
    const note = skipped ?? 'no dist/ (make build)';
    out.push({ id: 'B6', what: 'CLI start-up (built): iommu-emu --help', anchor: 'node -e 0', target: '≤ 2×', status: 'NOT RUN', note });
  } else {
    ctx.log(`B6: ${rounds} rounds of node -e 0, iommu-emu --help, iommu-emu cat, npm run cli -- --help`);
    const [tBare, tHelp, tCat, tTs] = alternate([bare, help, cat, source], rounds);
    const bareMs = stat(tBare!).median;
    const r = stat(ratios(tHelp!, tBare!));
    out.push({
      id: 'B6',
      what: 'CLI start-up (built): iommu-emu --help',
      figure: figure(tHelp!, 'ms'),
      anchor: `node -e 0, ${bareMs.toFixed(0)} ms`,
      ratio: r,
      target: '≤ 2×',
      status: verdict(r.median <= 2),
    });
    const info = (id: string, what: string, t: number[]): Row => ({
      id,
      what,
      figure: figure(t, 'ms'),
      anchor: 'node -e 0',
      ratio: stat(ratios(t, tBare!)),
      target: '—',
      status: 'INFO',
    });
    out.push(info('B6 cat', 'built CLI: cat reserved_regions (start-up + a machine)', tCat!));
    out.push(info('B6 source', 'CLI start-up from the TypeScript sources (npm run cli)', tTs!));
  }
  const make = (target: string): Command => ({ name: `make ${target}`, argv: ['make', '-s', target], cwd: ctx.root });
  if (skipped) {
    out.push({ id: 'B7 run', what: 'make run wall (2 cores)', anchor: 'CPU time', target: '≤ 4 s', status: 'NOT RUN', note: skipped });
  } else {
    const n = Math.min(3, rounds);
    ctx.log(`B7: ${n} rounds of make run`);
    const res = alternate([make('run')], n);
    const f = figure(res[0]!.map((x) => x / 1e3), 's');
    out.push({ id: 'B7 run', what: 'make run wall (2 cores)', figure: f, anchor: cpuNote(res.cpu[0]!), target: '≤ 4 s', status: verdict(f.median <= 4) });
  }
  if (!fullTest || skipped) {
    out.push({
      id: 'B7 test',
      what: 'make test wall (2 cores)',
      anchor: 'CPU time',
      target: '≤ 60 s',
      status: 'NOT RUN',
      note: skipped ?? 'minutes long: make bench FULL=1',
    });
  } else {
    ctx.log('B7: make test (once)');
    const res = alternate([make('test')], 1);
    const f = figure(res[0]!.map((x) => x / 1e3), 's');
    out.push({ id: 'B7 test', what: 'make test wall (2 cores)', figure: f, anchor: cpuNote(res.cpu[0]!), target: '≤ 60 s', status: verdict(f.median <= 60) });
  }
  return out;
}
