// SPDX-License-Identifier: GPL-2.0-only
/**
 * `make fuzz`: the ioctl fuzzer and the type1 differential model, in seeded batches until the
 * requested number of calls / operations ran, then one line of figures each. A failure prints
 * its seed, the shrunk counterexample and a one-line replay command, and exits 1.
 *
 *   node -r ./scripts/ts-register.js fuzz/run.ts [all|ioctl|diff] [--calls N] [--ops N]
 *        [--seed S] [--path P] [--commands C] [--length L]
 */
import * as fc from 'fast-check';
import { parseArgs } from 'node:util';
import { FuzzFailure } from './common';
import { ioctlCounters, ioctlProperty } from './ioctl_fuzz';
import { KNOWN_BUGS, knownHits } from './known';
import { counters as diffCounters, diffProperty } from './type1_diff';

export const DEFAULTS = { ioctlLength: 2000, diffLength: 300 } as const;

export interface FuzzResult {
  readonly ok: boolean;
  readonly count: number;
  readonly runs: number;
  readonly seconds: number;
  readonly report?: string;
  /** The failure was an exception escaping the emulator or the harness, not a broken invariant. */
  readonly exception?: boolean;
}

const show = (v: unknown): string =>
  JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x instanceof Uint8Array ? Buffer.from(x).toString('hex') : x)) ?? String(v);

export function report(kind: 'ioctl' | 'diff', length: number, r: fc.RunDetails<unknown>): string {
  const err = r.errorInstance as Error | undefined;
  const path = r.counterexamplePath ?? '';
  const cx = r.counterexample as unknown[] | null;
  const steps = kind === 'diff' ? String(cx?.[1]).replace(/ \/\*replayPath=.*\*\/$/, '').split('),').join(')\n    ') : (cx?.[1] as unknown[] | undefined)?.map((c) => show(c)).join('\n    ');
  // fc.commands replays only with its own path (a quoted replayPath) beside fast-check's.
  const cmds = kind === 'diff' ? /replayPath="([^"]*)"/.exec(String(cx?.[1]))?.[1] : undefined;
  return [
    `fuzz ${kind}: FAILED (seed ${r.seed}, path ${path})`,
    `  ${err instanceof FuzzFailure ? 'broken invariant' : 'exception'}: ${err?.message ?? String(r.errorInstance)}`,
    `  scenario: ${show(cx?.[0])}`,
    `  shortest failing sequence (${kind === 'diff' ? 'commands' : `${(cx?.[1] as unknown[] | undefined)?.length ?? '?'} calls`}):`,
    `    ${steps}`,
    `  replay: make fuzz-replay FUZZ=${kind} SEED=${r.seed} FUZZ_PATH=${path} FUZZ_LEN=${length}${cmds ? ` FUZZ_CMDS='${cmds}'` : ''}`,
  ].join('\n');
}

/** Run one fuzzer from `seed` on, in batches, until `target` calls/ops ran or one fails. */
export function fuzz(kind: 'ioctl' | 'diff', target: number, seed: number, opts: { path?: string; commands?: string; length?: number; runsPerBatch?: number } = {}): FuzzResult {
  const length = opts.length ?? (kind === 'ioctl' ? DEFAULTS.ioctlLength : DEFAULTS.diffLength);
  const prop = (kind === 'ioctl' ? ioctlProperty(length) : diffProperty(length, opts.commands)) as fc.IProperty<unknown[]>;
  const count = () => (kind === 'ioctl' ? ioctlCounters.calls : diffCounters.ops);
  const start = count();
  const t0 = Date.now();
  let runs = 0;
  for (let batch = 0; ; batch++) {
    const s = (seed + batch) | 0;
    const numRuns = opts.path ? 1 : (opts.runsPerBatch ?? 10);
    const r = fc.check(prop, { seed: s, numRuns, ...(opts.path ? { path: opts.path } : {}) }) as fc.RunDetails<unknown>;
    runs += r.numRuns;
    if (r.failed) {
      return { ok: false, count: count() - start, runs, seconds: (Date.now() - t0) / 1000, report: report(kind, length, r), exception: !(r.errorInstance instanceof FuzzFailure) };
    }
    if (opts.path || count() - start >= target) return { ok: true, count: count() - start, runs, seconds: (Date.now() - t0) / 1000 };
  }
}

export function knownSummary(): string {
  const parts = KNOWN_BUGS.filter((b) => knownHits.get(b.id)).map((b) => `${b.id} ×${knownHits.get(b.id)}`);
  return parts.length ? `; known, reported bugs hit: ${parts.join(', ')}` : '';
}

function main(): number {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { calls: { type: 'string' }, ops: { type: 'string' }, seed: { type: 'string' }, path: { type: 'string' }, commands: { type: 'string' }, length: { type: 'string' } },
  });
  const which = positionals[0] ?? 'all';
  if (!['all', 'ioctl', 'diff'].includes(which)) {
    process.stderr.write('usage: fuzz/run.ts [all|ioctl|diff] [--calls N] [--ops N] [--seed S] [--path P] [--length L]\n');
    return 2;
  }
  const seed = values.seed !== undefined && values.seed !== '' ? Number(values.seed) : (Date.now() % 2 ** 31) | 0;
  const length = values.length ? Number(values.length) : undefined;
  process.stdout.write(`fuzz: seed ${seed}${values.path ? `, path ${values.path}` : ''}\n`);
  let failed = false;
  if (which !== 'diff') {
    const r = fuzz('ioctl', Number(values.calls ?? 1_000_000), seed, { path: values.path, length });
    process.stdout.write(
      `fuzz ioctl: ${r.count} calls in ${r.runs} sequences (${r.seconds.toFixed(1)} s): ${ioctlCounters.mapOk} successful MAP_DMA, ${ioctlCounters.irqOk} successful SET_IRQS; ${r.ok ? 0 : r.exception ? 0 : 1} broken invariants, ${r.ok ? 0 : r.exception ? 1 : 0} exceptions${knownSummary()}\n`,
    );
    if (!r.ok) {
      process.stdout.write(`${r.report}\n`);
      failed = true;
    }
  }
  if (which !== 'ioctl' && !failed) {
    knownHits.clear();
    const r = fuzz('diff', Number(values.ops ?? 100_000), seed, { path: values.path, commands: values.commands, length });
    process.stdout.write(
      `fuzz diff: ${r.count} MAP/UNMAP operations in ${r.runs} sequences (${r.seconds.toFixed(1)} s): ${r.ok ? 0 : 1} divergences, ${r.ok ? 0 : r.exception ? 1 : 0} exceptions${knownSummary()}\n`,
    );
    if (!r.ok) {
      process.stdout.write(`${r.report}\n`);
      failed = true;
    }
  }
  return failed ? 1 : 0;
}

if (require.main === module) process.exitCode = main();
