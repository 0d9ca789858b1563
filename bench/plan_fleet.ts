// SPDX-License-Identifier: GPL-2.0-only
/**
 * `plan` over 10,000 hosts, measured side by side in one run: host summaries (`usable --json`
 * saved from each host), topology files of 20 kinds (identical files are read once), and topology
 * files that all differ. Target: about a second for 10,000 summaries. Figures only, no assertion.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { builtinHostPath, createMachine, hostViewOfMachine, planFleet, usableJson, vmm } from '../lib/index';

const N = Number(process.env['BENCH_PLAN_HOSTS'] ?? 10_000);

function time<T>(fn: () => T): [T, number] {
  const t0 = process.hrtime.bigint();
  const r = fn();
  return [r, Number(process.hrtime.bigint() - t0) / 1e6];
}

export function run(): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iommu-emu-bench-plan-'));
  try {
    const hosts = ['amd-epyc', 'intel-vtd-server'];
    // Summaries: each host's own file (its name differs, so every file differs).
    const summaries: string[] = [];
    const base = hosts.map((h) => usableJson(hostViewOfMachine(createMachine(h))));
    for (let i = 0; i < N; i++) {
      const s = { ...base[i % 2]!, host: `${base[i % 2]!.host}-${i}` };
      const f = path.join(dir, `s${i}.json`);
      fs.writeFileSync(f, JSON.stringify(s));
      summaries.push(f);
    }
    // Topology files: 20 kinds (a fleet of few SKUs), and all-distinct (a name per host).
    const yaml = fs.readFileSync(builtinHostPath('amd-epyc')!, 'utf8');
    const kinds: string[] = [];
    const distinct: string[] = [];
    for (let i = 0; i < N; i++) {
      const k = path.join(dir, `k${i}.yaml`);
      fs.writeFileSync(k, yaml.replace(/^name: amd-epyc$/m, `name: amd-epyc-sku${i % 20}`));
      kinds.push(k);
    }
    const M = Math.min(N, 1000);
    for (let i = 0; i < M; i++) {
      const d = path.join(dir, `d${i}.yaml`);
      fs.writeFileSync(d, yaml.replace(/^name: amd-epyc$/m, `name: amd-epyc-${i}`));
      distinct.push(d);
    }
    const rows: [string, number, number][] = [];
    const measure = (label: string, files: string[]) => {
      const cache = new Map();
      const [views, tLoad] = time(() => files.map((f) => vmm.loadHost(f, { cache })));
      const [, tPlan] = time(() => planFleet(views, { ram: [16n << 30n, 2n << 40n] }));
      rows.push([label, files.length, tLoad + tPlan]);
      console.log(`  ${label.padEnd(44)} ${String(files.length).padStart(6)} hosts  read ${tLoad.toFixed(0).padStart(6)} ms  plan ${tPlan.toFixed(0).padStart(5)} ms  total ${(tLoad + tPlan).toFixed(0).padStart(6)} ms  (${((tLoad + tPlan) / files.length * 1000).toFixed(0)} µs/host)`);
    };
    measure('usable --json summaries (all distinct)', summaries);
    measure('topology files, 20 kinds (read once each)', kinds);
    measure(`topology files, all distinct (first ${M})`, distinct);
    const [s, k, d] = rows;
    console.log(`  ratio: distinct topologies cost ${(d![2] / d![1] / (s![2] / s![1])).toFixed(1)}x a summary per host; 20 kinds ${(k![2] / k![1] / (s![2] / s![1])).toFixed(1)}x`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) run();
