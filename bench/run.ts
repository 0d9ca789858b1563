// SPDX-License-Identifier: GPL-2.0-only
/**
 * `make bench`: every benchmark row of docs (README "Benchmarks"), printed as a table and written
 * to bench/results.json, then the reports of the bench modules that print their own (a module
 * exporting `run()`, such as live_sys.ts). Not a test: figures only, and no row asserts a time.
 *
 *   node -r ./scripts/ts-register.js bench/run.ts [--quick] [--full] [--only B3,B5]
 *        [--out FILE] [--readme]
 *
 * --quick   the tiny configuration (seconds; what bench/run.test.ts runs)
 * --full    also time `make test` (B7 test)
 * --only    run only the row groups whose ids start with these prefixes (or the report modules named)
 * --out     where to write the JSON (default bench/results.json; with --only, nowhere)
 * --readme  also replace the table in README.md with this run's
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Machine, createMachine } from '../lib';
import { BenchConfig, BenchContext, DEFAULT_CONFIG, QUICK_CONFIG } from './config';
import { Row, markdownTable, textTable } from './harness';
import { syntheticTopology } from './synthetic';
import * as b1 from './b1_sysfs_read';
import * as b3 from './b3_map_unmap';
import * as b4 from './b4_build';
import * as b5 from './b5_store';
import * as b6 from './b6_b7_processes';
import * as b8 from './b8_memory';

const ROOT = path.join(__dirname, '..');

/** Row groups in table order: the id prefixes each produces, and the module. */
export const GROUPS: readonly { readonly ids: readonly string[]; rows(ctx: BenchContext): Row[] }[] = [
  { ids: ['B1', 'B2'], rows: b1.rows },
  { ids: ['B3'], rows: b3.rows },
  { ids: ['B4'], rows: b4.rows },
  { ids: ['B5'], rows: b5.rows },
  { ids: ['B6', 'B7'], rows: b6.rows },
  { ids: ['B8'], rows: b8.rows },
];

export interface BenchResults {
  readonly date: string;
  readonly node: string;
  readonly platform: string;
  readonly cpus: number;
  /** 1-minute load average at the start and at the end of the run. */
  readonly load: readonly [number, number];
  readonly config: BenchConfig;
  readonly seconds: number;
  readonly rows: readonly Row[];
}

export function runBench(cfg: BenchConfig, opts: { only?: readonly string[]; log?: (m: string) => void } = {}): BenchResults {
  const t0 = Date.now();
  const load1 = () => Math.round(os.loadavg()[0]! * 100) / 100;
  const loadStart = load1();
  const machines = new Map<number, Machine>();
  const ctx: BenchContext = {
    cfg,
    root: ROOT,
    log: opts.log ?? (() => undefined),
    synthetic(groups) {
      let m = machines.get(groups);
      if (!m) {
        ctx.log(`building the synthetic ${groups}-group host`);
        m = createMachine(syntheticTopology(groups));
        machines.set(groups, m);
      }
      return m;
    },
    keep(groups, m) {
      machines.set(groups, m);
    },
  };
  const rows: Row[] = [];
  for (const g of GROUPS) {
    if (opts.only && !g.ids.some((id) => opts.only!.some((o) => id.startsWith(o) || o.startsWith(id)))) continue;
    rows.push(...g.rows(ctx));
  }
  return {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
    cpus: os.cpus().length,
    load: [loadStart, load1()],
    config: cfg,
    seconds: Math.round((Date.now() - t0) / 100) / 10,
    rows,
  };
}

const README_BEGIN = '<!-- bench:begin -->';
const README_END = '<!-- bench:end -->';

/** README's table block for a run. */
export function readmeBlock(r: BenchResults): string {
  return [
    README_BEGIN,
    `Last run: ${r.date.slice(0, 10)}, node ${r.node}, ${r.platform}, ${r.cpus} cores, load average ${r.load[0]} → ${r.load[1]}, ${r.seconds} s.`,
    '',
    markdownTable(r.rows),
    README_END,
  ].join('\n');
}

/** bench modules that print their own report: `run()` instead of rows. */
function reportModules(): string[] {
  return fs
    .readdirSync(__dirname)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.d.ts'))
    .filter((f) => typeof (require(path.join(__dirname, f)) as { run?: unknown }).run === 'function') // eslint-disable-line @typescript-eslint/no-require-imports
    .sort();
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      full: { type: 'boolean' },
      only: { type: 'string' },
      out: { type: 'string' },
      readme: { type: 'boolean' },
    },
    strict: true,
  });
  const base = values.quick ? QUICK_CONFIG : DEFAULT_CONFIG;
  const cfg: BenchConfig = { ...base, fullTest: values.full ?? false };
  const only = values.only?.split(',').map((s) => s.trim()).filter(Boolean);
  const runs = only?.some((o) => GROUPS.some((g) => g.ids.some((id) => id.startsWith(o) || o.startsWith(id))));
  const res = runBench(cfg, { only: runs === false ? [] : only, log: (m) => process.stderr.write(`bench: ${m}\n`) });
  process.stdout.write(`${textTable(res.rows)}\n`);
  // A partial run (--only) keeps the last full table in bench/results.json unless told where to write.
  const out = values.out ?? (only ? undefined : path.join(__dirname, 'results.json'));
  if (out) {
    fs.writeFileSync(out, `${JSON.stringify(res, null, 2)}\n`);
    process.stdout.write(`\nwrote ${path.relative(process.cwd(), out) || out} (${res.seconds} s)\n`);
  }
  if (values.readme) {
    const readme = path.join(ROOT, 'README.md');
    const text = fs.readFileSync(readme, 'utf8');
    const a = text.indexOf(README_BEGIN);
    const b = text.indexOf(README_END);
    if (a < 0 || b < a) throw new Error(`README.md has no ${README_BEGIN} … ${README_END} block`);
    fs.writeFileSync(readme, text.slice(0, a) + readmeBlock(res) + text.slice(b + README_END.length));
    process.stdout.write('updated README.md\n');
  }
  if (values.quick) return;
  for (const f of reportModules()) {
    if (only && !only.some((o) => f.startsWith(o))) continue;
    process.stdout.write(`\n# ${f}\n`);
    await (require(path.join(__dirname, f)) as { run: () => Promise<void> | void }).run(); // eslint-disable-line @typescript-eslint/no-require-imports
  }
}

if (require.main === module)
  main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
