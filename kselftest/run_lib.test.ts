// SPDX-License-Identifier: GPL-2.0-only
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import test from 'ava';
import { tempDir } from '../lib/testing/tmp';
import { combosFor, matrix, PER_RELEASE_PROGRAMS } from './bridge';
import { kernelProfile, resolveHost } from '../lib/index';
import { parseKtap } from './ktap_parse';
import { KSFT_FAIL, KSFT_PASS } from './harness/exit_codes';
import { discover, parseRunnerArgs, plainLine, runnerMain, runPrograms, selectPrograms } from './run_lib';

const FIXTURES = path.join(__dirname, 'harness', 'fixtures');
const NO_ENV = {};

test('discovery: sorted *_test.ts below the root, fixtures/ directories skipped', t => {
  t.deepEqual(discover(FIXTURES).map(p => p.name), ['pass_test', 'sample_test']);
  t.deepEqual(discover(path.join(__dirname, 'harness')), []);
  const nested = tempDir(t, 'ksft-');
  fs.mkdirSync(path.join(nested, 'b', 'fixtures'), { recursive: true });
  fs.mkdirSync(path.join(nested, 'a'));
  for (const f of ['b/x_test.ts', 'a/y_test.ts', 'b/fixtures/z_test.ts', 'a/helper.ts', 'a/y.test.ts']) {
    fs.writeFileSync(path.join(nested, f), '');
  }
  t.deepEqual(discover(nested).map(p => p.name), ['a/y_test', 'b/x_test']);
  t.deepEqual(selectPrograms(discover(nested), ['x_test']).map(p => p.name), ['b/x_test']);
  t.deepEqual(selectPrograms(discover(nested), ['a/y_test.ts', 'nope']).map(p => p.name), ['a/y_test']);
});

test('the real tree: the default root never picks up the harness samples', t => {
  t.false(discover(__dirname).some(p => p.file.startsWith(FIXTURES)));
});

test('nested KTAP: headers, indentation, parent results, plain last line', async t => {
  const r = await runPrograms({ root: FIXTURES, env: NO_ENV });
  const lines = r.stdout.split('\n');
  t.is(lines.pop(), '');
  t.deepEqual(lines.slice(0, 5), ['KTAP version 1', '1..2', '    KTAP version 1', '    1..3', '    # Starting 3 tests from 1 test cases.']);
  t.false(r.stdout.includes('TAP version 13'), 'children run with KSFT_TAP_LEVEL set');
  t.true(lines.includes('ok 1 pass_test'));
  t.true(lines.includes('not ok 2 sample_test'));
  t.true(lines.includes('    # sample_test.ts:44:assert_fail:Expected -ENOENT (-2) == rc (-22)'), 'stderr is nested too');
  const [first, second] = [lines.indexOf('ok 1 pass_test'), lines.indexOf('not ok 2 sample_test')];
  for (const l of lines.slice(2, first)) t.true(l.startsWith('    '), l);
  for (const l of lines.slice(first + 1, second)) t.true(l.startsWith('    '), l);
  // pass_test 3 + sample_test 5 pass, 1 XFAIL, 1 XPASS; the 2 skips are not "passed" here
  t.is(lines[lines.length - 1], '10 passed, 3 failed, 2 skipped');
  t.deepEqual(r.totals, { passed: 10, failed: 3, skipped: 2 });
  t.is(r.exitCode, KSFT_FAIL);
});

test('tap-parser reads the nested output: parent and subtest counts', async t => {
  const r = await runPrograms({ root: FIXTURES, env: NO_ENV });
  const { top, children } = await parseKtap(r.stdout);
  t.false(top.ok);
  t.is(top.count, 2);
  t.is(top.pass, 1);
  t.is(top.fail, 1);
  t.deepEqual(top.failures.map(f => f.name), ['sample_test']);
  t.deepEqual(children.map(c => [c.count, c.fail, c.skip, c.plan.end]), [[3, 0, 0, 3], [12, 3, 2, 12]]);
});

test('a passing selection exits 0; -p and operands select; options are forwarded', async t => {
  let out = '';
  const r = await runnerMain(['-p', 'pass_test', '--root', FIXTURES], { stdout: { write: (s: string) => (out += s) }, env: NO_ENV, defaultRoot: '/nonexistent' });
  t.is(r.exitCode, KSFT_PASS);
  t.is(out, r.stdout);
  t.true(r.stdout.endsWith('ok 1 pass_test\n3 passed, 0 failed, 0 skipped\n'));
  const fwd = await runnerMain(['pass_test', '--target', 'host', '--root=' + FIXTURES], { env: NO_ENV, defaultRoot: '' });
  t.true(fwd.stdout.includes('    ok 3 global.target # SKIP target host\n'));
  const verbatim = await runnerMain(['--root', FIXTURES, 'sample_test', '--', '-r', 'global.pass'], { env: NO_ENV, defaultRoot: '' });
  t.true(verbatim.stdout.includes('    1..1\n'));
  t.is(verbatim.exitCode, KSFT_PASS);
});

test('a run that executes nothing fails', async t => {
  const none = await runPrograms({ root: FIXTURES, filters: ['missing_test'], env: NO_ENV });
  t.is(none.exitCode, KSFT_FAIL);
  t.true(none.stdout.startsWith('KTAP version 1\n1..0\n# no *_test.ts programs selected under '));
  t.true(none.stdout.endsWith('\n0 passed, 0 failed, 0 skipped\n'));
  const empty = await runPrograms({ root: FIXTURES, filters: ['sample_test'], passthrough: ['-t', 'nothing'], env: NO_ENV });
  t.is(empty.exitCode, KSFT_FAIL);
  t.true(empty.stdout.includes('ok 1 sample_test\n# no tests were run\n'));
});

test('a program that crashes or exports no main is "not ok … # ERROR" and one failure', async t => {
  const dir = tempDir(t, 'ksft-');
  fs.writeFileSync(path.join(dir, 'boom_test.ts'), "throw new Error('load failed');\n");
  fs.writeFileSync(path.join(dir, 'nomain_test.ts'), 'export const x = 1;\n');
  const r = await runPrograms({ root: dir, env: NO_ENV });
  t.true(r.stdout.includes('    # Error: load failed\n'));
  t.true(r.stdout.includes('not ok 1 boom_test # ERROR program crashed\n'));
  t.true(r.stdout.includes('not ok 2 nomain_test # ERROR program crashed\n'));
  t.true(r.stdout.endsWith('0 passed, 2 failed, 0 skipped\n'));
  t.is(r.exitCode, KSFT_FAIL);
});

test('runner exit codes map child codes: SKIP is ok, anything else non-zero fails', async t => {
  const codes: Record<string, number> = { a_test: 0, b_test: 4, c_test: 3 };
  const dir = tempDir(t, 'ksft-');
  for (const f of Object.keys(codes)) fs.writeFileSync(path.join(dir, `${f}.ts`), '');
  const r = await runPrograms({
    root: dir,
    env: NO_ENV,
    load: file => async () => ({
      exitCode: codes[path.basename(file, '.ts')] ?? 1,
      stdout: '',
      stderr: '',
      output: '',
      counts: { pass: 1, fail: 0, xfail: 0, xpass: 0, skip: 0, error: 0 },
      plan: 1,
      results: [],
    }),
  });
  t.true(r.stdout.includes('\nok 1 a_test\n'));
  t.true(r.stdout.includes('\nok 2 b_test # SKIP\n'));
  t.true(r.stdout.includes('\nnot ok 3 c_test # exit=3\n'));
  t.is(r.exitCode, KSFT_FAIL);
});

test('runner argument parsing', t => {
  t.deepEqual(parseRunnerArgs(['-p', 'a', '-pb', 'c', '--host', 'h.json', '--flag', '--x=1', '--root', 'r', '--', '-t', 'y']), {
    root: 'r',
    programs: ['a', 'b', 'c'],
    passthrough: ['--host', 'h.json', '--flag', '--x=1', '-t', 'y'],
    options: ['--host', 'h.json', '--flag', '--x=1'],
    list: false,
    help: false,
  });
  t.deepEqual(parseRunnerArgs(['-x']), { error: "invalid option -- 'x' (put program options after --)" });
  t.deepEqual(parseRunnerArgs(['-p']), { error: "option requires an argument -- 'p'" });
  t.like(parseRunnerArgs(['-l', '-h']), { list: true, help: true });
});

test('-l lists programs, -h prints usage', async t => {
  const l = await runnerMain(['-l', '--root', FIXTURES], { env: NO_ENV, defaultRoot: '' });
  t.is(l.stdout, 'pass_test\nsample_test\n');
  let err = '';
  const h = await runnerMain(['-h'], { stderr: { write: (s: string) => (err += s) }, defaultRoot: '' });
  t.is(h.exitCode, KSFT_PASS);
  t.true(err.startsWith('Usage: run.ts'));
});

test('plain line format', t => {
  t.is(plainLine({ passed: 12, failed: 0, skipped: 1 }), '12 passed, 0 failed, 1 skipped');
});

test('bridge: a per-release program runs once at every release of the matrix, any other program at every combination', t => {
  const release = (c: { host: string; kernel: string | undefined }) => kernelProfile(c.kernel ?? resolveHost(c.host).kernel).release;
  const all = [...new Set(matrix().map(release))].sort();
  t.true(PER_RELEASE_PROGRAMS.has('iommu/iommufd_test'));
  const once = combosFor('iommu/iommufd_test');
  t.deepEqual(once.map(release).sort(), all, 'each release exactly once');
  t.true(once.length < matrix().length);
  t.deepEqual(combosFor('vfio/vfio_iommufd_test'), matrix());
});
