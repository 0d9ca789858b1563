// SPDX-License-Identifier: GPL-2.0-only
/**
 * The benchmark harness: side-by-side measurement and the result table.
 *
 * These machines are shared and noisy, so no figure stands alone: every row compares a subject
 * with an anchor measured in the same run — interleaved batches in one process (`interleave`) or
 * alternated child processes (`alternate`) — and reports min / median / max over the rounds. A
 * ratio is computed per round (subject and anchor from the same round), so a burst of load that
 * slows both cancels out.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';

export interface Stat {
  readonly min: number;
  readonly median: number;
  readonly max: number;
}

export function stat(xs: readonly number[]): Stat {
  if (xs.length === 0) throw new RangeError('stat of nothing');
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { min: s[0]!, median, max: s[s.length - 1]! };
}

export type Status = 'PASS' | 'MISS' | 'INFO' | 'NOT RUN';

/** A figure with its unit; `value` is the median. */
export interface Figure extends Stat {
  readonly unit: string;
}

export interface Row {
  /** `B3`, `B4/1024`, … */
  readonly id: string;
  readonly what: string;
  /** Absent when the row did not run. */
  readonly figure?: Figure;
  readonly anchor: string;
  /** Subject ÷ anchor (times, or sizes for scaling rows), per round. */
  readonly ratio?: Stat;
  readonly target: string;
  readonly status: Status;
  /** Why a row did not run, or what the figure leaves out. */
  readonly note?: string;
}

const now = (): number => Number(process.hrtime.bigint()) / 1e6;

/**
 * CPU ms (user + system) of this process. In-process figures are CPU time: on a shared machine
 * another job's share of the cores would otherwise count as ours (it does not slow the code, it
 * only takes turns with it). It includes V8's GC and compiler threads, which are real costs.
 */
export const cpuNow = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

export interface Subject {
  readonly name: string;
  /** Runs the operation `n` times. */
  run(n: number): void;
}

export interface InterleaveOptions {
  /** Rounds; each runs every subject once, order alternating (ABBA…). */
  readonly rounds: number;
  /** Target wall time of one batch, in ms (iterations are calibrated to it). */
  readonly batchMs: number;
}

/** CPU ms per operation of every subject, per round. */
export function interleave(subjects: readonly Subject[], opts: InterleaveOptions): number[][] {
  // Calibrate: grow n until one batch takes a tenth of the target, then scale up.
  const iters = subjects.map((s) => {
    let n = 1;
    for (;;) {
      const t0 = cpuNow();
      s.run(n);
      const dt = cpuNow() - t0;
      if (dt >= opts.batchMs / 10 || n >= 1 << 24) return Math.max(1, Math.round((n * opts.batchMs) / Math.max(dt, 1e-3)));
      n *= 4;
    }
  });
  const per: number[][] = subjects.map(() => []);
  for (let r = 0; r < opts.rounds; r++) {
    const order = subjects.map((_, i) => i);
    if (r % 2) order.reverse();
    for (const i of order) {
      const n = iters[i]!;
      const t0 = cpuNow();
      subjects[i]!.run(n);
      per[i]!.push((cpuNow() - t0) / n);
    }
  }
  return per;
}

/** Per-round ratios a[i] / b[i]. */
export const ratios = (a: readonly number[], b: readonly number[]): number[] => a.map((x, i) => x / b[i]!);

export interface Command {
  readonly name: string;
  readonly argv: readonly string[];
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * CPU ms (user + system) of this process's waited-for children and their descendants, from
 * /proc/self/stat; undefined where there is no procfs.
 */
export function childrenCpuMs(): number | undefined {
  try {
    const stat = fs.readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 16 and 17 of proc(5) (cutime, cstime), counted from after the command name.
    return ((Number(f[13]) + Number(f[14])) * 1000) / 100;
  } catch {
    return undefined;
  }
}

/**
 * Wall ms of every command, run in turn `rounds` times (order alternating), and their CPU ms
 * where procfs tells. Fails on exit ≠ 0.
 */
export function alternate(cmds: readonly Command[], rounds: number): number[][] & { cpu: (number | undefined)[][] } {
  const per = Object.assign(
    cmds.map(() => [] as number[]),
    { cpu: cmds.map(() => [] as (number | undefined)[]) },
  );
  for (let r = 0; r < rounds; r++) {
    const order = cmds.map((_, i) => i);
    if (r % 2) order.reverse();
    for (const i of order) {
      const c = cmds[i]!;
      const cpu0 = childrenCpuMs();
      const t0 = now();
      const res = spawnSync(c.argv[0]!, c.argv.slice(1), { cwd: c.cwd, env: c.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
      const dt = now() - t0;
      const cpu1 = childrenCpuMs();
      if (res.status !== 0)
        throw new Error(`${c.name}: ${c.argv.join(' ')} exited ${res.status ?? res.signal}: ${String(res.stderr).slice(-2000)}`);
      per[i]!.push(dt);
      per.cpu[i]!.push(cpu0 === undefined || cpu1 === undefined ? undefined : cpu1 - cpu0);
    }
  }
  return per;
}

let gcFn: (() => void) | undefined;
/** A full GC, without needing `node --expose-gc`. */
export function gc(): void {
  if (!gcFn) {
    v8.setFlagsFromString('--expose-gc');
    gcFn = vm.runInNewContext('gc') as () => void;
  }
  gcFn();
  gcFn();
}

/** Heap bytes in use after a full GC. */
export function heapUsed(): number {
  gc();
  return process.memoryUsage().heapUsed;
}

export const figure = (xs: readonly number[], unit: string): Figure => ({ ...stat(xs), unit });

// ---- formatting ---------------------------------------------------------------------------

function num(x: number): string {
  const a = Math.abs(x);
  if (a >= 1e6) return `${(x / 1e6).toFixed(a >= 1e7 ? 1 : 2)}M`;
  if (a >= 1e4) return `${(x / 1e3).toFixed(a >= 1e5 ? 0 : 1)}k`;
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toPrecision(2);
}

export const formatFigure = (f: Figure | undefined): string =>
  f ? `${num(f.median)} ${f.unit} (${num(f.min)}–${num(f.max)})` : '—';

export const formatRatio = (r: Stat | undefined): string => (r ? `${num(r.median)}× (${num(r.min)}–${num(r.max)})` : '—');

export const TABLE_HEADER = ['id', 'what', 'figure (min–max)', 'anchor', 'ratio (min–max)', 'target', 'status'] as const;

export function tableCells(r: Row): string[] {
  const status = r.status === 'NOT RUN' && r.note ? `not run: ${r.note}` : r.status;
  return [r.id, r.what, formatFigure(r.figure), r.anchor, formatRatio(r.ratio), r.target, status];
}

/** A Markdown table (what README shows). */
export function markdownTable(rows: readonly Row[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const lines = [`| ${TABLE_HEADER.join(' | ')} |`, `|${TABLE_HEADER.map(() => '---').join('|')}|`];
  for (const r of rows) lines.push(`| ${tableCells(r).map(esc).join(' | ')} |`);
  return lines.join('\n');
}

/** A plain aligned table for the terminal. */
export function textTable(rows: readonly Row[]): string {
  const cells = [TABLE_HEADER.map(String), ...rows.map(tableCells)];
  const widths = TABLE_HEADER.map((_, c) => Math.max(...cells.map((r) => r[c]!.length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

/** PASS when every check holds; a row whose checks cannot be evaluated is INFO. */
export function verdict(...checks: (boolean | undefined)[]): Status {
  if (checks.length === 0 || checks.some((c) => c === undefined)) return 'INFO';
  return checks.every(Boolean) ? 'PASS' : 'MISS';
}
