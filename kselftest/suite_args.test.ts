// SPDX-License-Identifier: GPL-2.0-only
/** The conformance runner refuses a command line it cannot honour: one line, the usage line, exit 2, nothing run. */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { checkSuiteArgs } from './lib/suite_args';
import { runnerMain, USAGE_EXIT } from './run_lib';
import { tempDir } from '../lib/testing/tmp';

const ROOT = __dirname;

const refused: [string[], RegExp][] = [
  [['--hots', 'arm64-smmuv3'], /^unknown option '--hots' \(program options: --target, --host, --kernel, --plugin, --kconfig; put others after --\)$/],
  [['--host', 'nope'], /^--host nope: \(document\): no built-in host named "nope" \(have: amd-epyc, /],
  [['--host', '/no/such.yaml'], /^--host \/no\/such\.yaml: \(document\): cannot read: ENOENT$/],
  [['--target', 'host'], /^--target "host": expected emulator \(default\) \| dir:PATH \| live$/],
  [['--target', 'dir:'], /^--target "dir:": expected/],
  [['--target', 'dir:/no/such/dir'], /^--target dir:\/no\/such\/dir: \/no\/such\/dir is not a directory$/],
  [['--target', 'live', '--host', 'amd-epyc'], /^--host picks the emulated host; it does not apply to --target live$/],
  [['--kernel', 'banana'], /^--kernel "banana": not a kernel version/],
  [['--kernel'], /^option '--kernel' requires a value \(VERSION\)$/],
  [['--kernel='], /^option '--kernel' requires a value/],
];
for (const [options, msg] of refused) {
  test(`refused: ${options.join(' ')}`, (t) => {
    t.regex(checkSuiteArgs(options) ?? '(accepted)', msg);
  });
}

test('accepted: the suite options with values that exist', (t) => {
  const dir = tempDir(t, 'ksft-args-');
  for (const o of [[], ['--host', 'amd-epyc'], ['--host=arm64-smmuv3', '--kernel', '5.3'], ['--target', 'live'], ['--target', `dir:${dir}`, '--kernel', '6.8'], ['--kernel', 'latest']]) t.is(checkSuiteArgs(o), undefined, o.join(' '));
});

test('run.ts with a typo exits 2 with one message and the usage line, running nothing', async (t) => {
  let err = '';
  let out = '';
  const r = await runnerMain(['--hots', 'arm64-smmuv3'], {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    defaultRoot: ROOT,
    check: (a) => checkSuiteArgs(a.options),
  });
  t.is(r.exitCode, USAGE_EXIT);
  t.is(out, '', 'no program ran');
  const lines = err.trimEnd().split('\n');
  t.is(lines.length, 2);
  t.regex(lines[0]!, /^run\.ts: unknown option '--hots'/);
  t.regex(lines[1]!, /^Usage: run\.ts /);
  // Options after -- go to the harness unchecked, as before.
  let out2 = '';
  const ok = await runnerMain(['reserved_regions_test', '--', '-t', 'line_format'], { stdout: { write: (s: string) => (out2 += s) }, defaultRoot: ROOT, check: (a) => checkSuiteArgs(a.options), env: {} });
  t.is(ok.exitCode, 0, out2);
});

test('progress: told before each program (run.ts shows it on stderr when that is a terminal)', async (t) => {
  const seen: string[] = [];
  await runnerMain(['--root', path.join(__dirname, 'harness', 'fixtures')], { defaultRoot: '', env: {}, progress: (i, n, name) => seen.push(`${i}/${n} ${name}`) });
  t.deepEqual(seen, ['1/2 pass_test', '2/2 sample_test']);
});

test('run.ts itself: --hots is refused with exit 2 before any program runs', (t) => {
  const r = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', path.join(__dirname, 'run.ts'), '--hots', 'arm64-smmuv3'], { encoding: 'utf8', timeout: 60_000, cwd: path.join(__dirname, '..') });
  t.is(r.status, USAGE_EXIT, r.stderr);
  t.is(r.stdout, '');
  t.regex(r.stderr, /^run\.ts: unknown option '--hots' .*\nUsage: run\.ts .*\n$/);
});
