// SPDX-License-Identifier: GPL-2.0-only
/**
 * The C conformance programs (kselftest/c, built by make against <linux/vfio.h>) through the
 * preload shim under `iommu-emu run`, against the TypeScript suites in process: on every
 * built-in host each test the two have in common gets the same verdict (pass, fail or skip).
 * As root, and as a plain user (nobody through setpriv when root; this user otherwise) on the
 * default host. Against this machine's own kernel (no /dev/vfio here) each program SKIPs, naming why.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { builtinHostNames, DEFAULT_HOST, preloadUnavailable } from '../lib/index';
import { cli, leftovers, nobodyAvailable } from '../tools/iommu-emu/testing/cli';
import { namespacesAvailable } from '../tools/iommu-emu/commands/run';
import { KSFT_FAIL, KSFT_PASS, KSFT_SKIP } from './harness/exit_codes';
import type { ProgramMain } from './harness/kselftest_harness';
import { main as groupMain } from './vfio/vfio_group_test';
import { main as type1Main } from './vfio/vfio_type1_test';
import { main as deviceMain } from './vfio/vfio_device_test';

const BUILD = path.join(__dirname, '..', 'build', 'kselftest');
const PROGRAMS: readonly { name: string; main: ProgramMain }[] = [
  { name: 'vfio_group_test', main: groupMain },
  { name: 'vfio_type1_test', main: type1Main },
  { name: 'vfio_device_test', main: deviceMain },
];

type Verdict = 'pass' | 'fail' | 'skip';

/** Why the shim cannot be exercised here, if it cannot. */
function unavailable(): string | undefined {
  const missing = PROGRAMS.map((p) => path.join(BUILD, p.name)).find((p) => !fs.existsSync(p));
  if (missing) return `${missing} is not built (make kselftest-c; needs gcc and linux-libc-dev)`;
  const shim = preloadUnavailable();
  if (shim) return shim;
  const ns = namespacesAvailable();
  if (!ns.ok) return `namespaces not allowed here: ${ns.reason}`;
  return undefined;
}
const why = unavailable();
const isRoot = process.getuid?.() === 0;
const nobody = nobodyAvailable();

/** `ok N name`, `ok N name # SKIP …`, `not ok N name` of C programs' TAP. */
function tapVerdicts(out: string): Map<string, Verdict> {
  const v = new Map<string, Verdict>();
  for (const line of out.split('\n')) {
    const m = /^(ok|not ok) \d+ (\S+)( # SKIP)?/.exec(line);
    if (m) v.set(m[2]!, m[1] === 'not ok' ? 'fail' : m[3] ? 'skip' : 'pass');
  }
  return v;
}

async function tsVerdicts(host: string): Promise<Map<string, Verdict>> {
  const v = new Map<string, Verdict>();
  const sink = { write: () => true };
  for (const p of PROGRAMS) {
    const r = await p.main(['--host', host], { stdout: sink, stderr: sink, env: {} });
    for (const res of r.results) v.set(res.name, res.exitCode === KSFT_PASS ? 'pass' : res.exitCode === KSFT_SKIP ? 'skip' : res.exitCode === KSFT_FAIL ? 'fail' : 'fail');
  }
  return v;
}

const script = PROGRAMS.map((p) => `${path.join(BUILD, p.name)}; echo "exit ${p.name} $?"`).join('; ');

async function compare(t: import('ava').ExecutionContext, host: string, who: 'me' | 'nobody'): Promise<void> {
  const before = leftovers();
  const r = await cli(['run', '--host', host, '--', 'sh', '-c', script], { who, timeoutMs: 240_000 });
  t.is(r.code, 0, r.stderr);
  t.notRegex(r.stderr, /no preload shim/, 'run injected the shim');
  const c = tapVerdicts(r.stdout);
  const ts = await tsVerdicts(host);
  t.true(c.size >= 50, `the C programs ran (${c.size} results)\n${r.stdout.slice(-2000)}\n${r.stderr}`);
  const differ = [...c].filter(([name, v]) => ts.get(name) !== v).map(([name, v]) => `${name}: C ${v}, TypeScript ${ts.get(name) ?? 'absent'}`);
  t.deepEqual(differ, [], `${host}: every C test has the TypeScript verdict\n${r.stdout.slice(-3000)}`);
  for (const p of PROGRAMS) t.regex(r.stdout, new RegExp(`exit ${p.name} (0|4)\\b`), `${p.name} exited 0 (or 4: all skipped)`);
  t.deepEqual(leftovers(), before, 'the run directory is removed');
}

for (const host of builtinHostNames()) {
  const title = `C suites through the shim give the TypeScript verdicts on ${host} (as ${isRoot ? 'root' : 'this user'})`;
  if (why) test.serial.skip(`${title} (skipped: ${why})`, () => {});
  else test.serial(title, (t) => compare(t, host, 'me'));
}

{
  const title = `C suites through the shim give the TypeScript verdicts on ${DEFAULT_HOST} as nobody`;
  const skip = why ?? (nobody.ok ? undefined : nobody.reason);
  if (skip) test.serial.skip(`${title} (skipped: ${skip})`, () => {});
  else test.serial(title, (t) => compare(t, DEFAULT_HOST, 'nobody'));
}

test('against this machine\'s own kernel each program SKIPs, naming why (no /dev/vfio here)', (t) => {
  const progs = PROGRAMS.map((p) => path.join(BUILD, p.name));
  if (!progs.every((p) => fs.existsSync(p))) return t.pass(`not built: ${why}`);
  if (fs.existsSync('/dev/vfio/vfio')) return t.pass('this machine has /dev/vfio: the programs run against it instead');
  for (const p of progs) {
    const r = spawnSync(p, { encoding: 'utf8', env: { PATH: process.env.PATH }, timeout: 30_000 });
    t.is(r.status, KSFT_SKIP, p);
    t.regex(r.stdout, /^TAP version 13\n1\.\.0 # SKIP \/dev\/vfio\/vfio: No such file or directory/, p);
  }
});
