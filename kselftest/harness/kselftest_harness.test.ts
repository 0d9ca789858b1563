// SPDX-License-Identifier: GPL-2.0-only
import test from 'ava';
import { Parser, type FinalResults } from 'tap-parser';
import { main as sampleMain } from './fixtures/sample_test';
import { KSFT_FAIL, KSFT_PASS, KSFT_SKIP, harness, type ProgramResult, type T } from './kselftest_harness';

const NO_ENV = {};

const GOLDEN_STDOUT = `TAP version 13
1..12
# Starting 12 tests from 4 test cases.
#  RUN           global.pass ...
#            OK  global.pass
ok 1 global.pass
#  RUN           global.skip ...
#            OK  global.skip
ok 2 global.skip # SKIP no device
#  RUN           global.bigint ...
#            OK  global.bigint
ok 3 global.bigint
#  RUN           buf.small.length ...
#            OK  buf.small.length
ok 4 buf.small.length
#  RUN           buf.small.expect_fail ...
#            OK  buf.small.expect_fail
ok 5 buf.small.expect_fail
#  RUN           buf.small.assert_fail ...
#          FAIL  buf.small.assert_fail
not ok 6 buf.small.assert_fail
#  RUN           buf.small.known_bug ...
#          FAIL  buf.small.known_bug
ok 7 buf.small.known_bug # XFAIL bug 123
#  RUN           buf.large.length ...
#            OK  buf.large.length
ok 8 buf.large.length
#  RUN           buf.large.expect_fail ...
#          FAIL  buf.large.expect_fail
not ok 9 buf.large.expect_fail
#  RUN           buf.large.assert_fail ...
#          FAIL  buf.large.assert_fail
not ok 10 buf.large.assert_fail
#  RUN           buf.large.known_bug ...
#            OK  buf.large.known_bug
ok 11 buf.large.known_bug # XPASS unknown
#  RUN           nodev.open ...
#            OK  nodev.open
ok 12 nodev.open # SKIP no /dev/iommu
# FAILED: 9 / 12 tests passed.
# 2 skipped test(s) detected. Consider enabling relevant config options to improve coverage.
# Totals: pass:5 fail:3 xfail:1 xpass:1 skip:2 error:0
`;

const GOLDEN_STDERR = `#      SKIP      no device
# sample_test.ts:27:length:teardown 4
# sample_test.ts:39:expect_fail:after expect
# sample_test.ts:27:expect_fail:teardown 4
# sample_test.ts:44:assert_fail:Expected -ENOENT (-2) == rc (-22)
# sample_test.ts:27:assert_fail:teardown 4
# assert_fail: Test terminated by assertion
# sample_test.ts:49:known_bug:Expected 1024 (1024) < self.bytes.length (4)
# sample_test.ts:27:known_bug:teardown 4
# known_bug: Test failed
# sample_test.ts:27:length:teardown 4096
# sample_test.ts:38:expect_fail:Expected 4 (4) == self.bytes.length (4096)
# sample_test.ts:39:expect_fail:after expect
# sample_test.ts:27:expect_fail:teardown 4096
# expect_fail: Test failed
# sample_test.ts:44:assert_fail:Expected -ENOENT (-2) == rc (-22)
# sample_test.ts:27:assert_fail:teardown 4096
# assert_fail: Test terminated by assertion
# sample_test.ts:27:known_bug:teardown 4096
#      SKIP      no /dev/iommu
`;

test('golden: sample_test stdout, stderr and exit code', async t => {
  const r = await sampleMain([], { env: NO_ENV });
  t.is(r.stdout, GOLDEN_STDOUT);
  t.is(r.stderr, GOLDEN_STDERR);
  t.is(r.exitCode, KSFT_FAIL);
  t.deepEqual(r.counts, { pass: 5, fail: 3, xfail: 1, xpass: 1, skip: 2, error: 0 });
});

test('stdout and stderr interleave in write order', async t => {
  const r = await sampleMain(['-r', 'buf.small.assert_fail'], { env: NO_ENV });
  t.is(
    r.output,
    [
      'TAP version 13',
      '1..1',
      '# Starting 1 tests from 1 test cases.',
      '#  RUN           buf.small.assert_fail ...',
      '# sample_test.ts:44:assert_fail:Expected -ENOENT (-2) == rc (-22)',
      '# sample_test.ts:27:assert_fail:teardown 4',
      '# assert_fail: Test terminated by assertion',
      '#          FAIL  buf.small.assert_fail',
      'not ok 1 buf.small.assert_fail',
      '# FAILED: 0 / 1 tests passed.',
      '# Totals: pass:0 fail:1 xfail:0 xpass:0 skip:0 error:0',
      '',
    ].join('\n'),
  );
});

test('KSFT_TAP_LEVEL suppresses the TAP version line', async t => {
  const r = await sampleMain(['-r', 'global.pass'], { env: { KSFT_TAP_LEVEL: '1' } });
  t.true(r.stdout.startsWith('1..1\n# Starting 1 tests from 1 test cases.\n'));
});

test('main() writes to the injected sinks and runs again identically', async t => {
  let out = '';
  let err = '';
  const io = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, env: NO_ENV };
  const a = await sampleMain([], io);
  const b = await sampleMain([], { env: NO_ENV });
  t.is(out, a.stdout);
  t.is(err, a.stderr);
  t.is(b.stdout, a.stdout);
  t.is(b.stderr, a.stderr);
});

test('tap-parser reads the program output with the expected counts', async t => {
  const r = await sampleMain([], { env: NO_ENV });
  const parser = new Parser();
  const done = new Promise<FinalResults>(resolve => parser.on('complete', resolve));
  parser.end(r.stdout);
  const results = await done;
  t.false(results.ok);
  t.is(results.count, 12);
  t.is(results.fail, 3);
  t.is(results.skip, 2);
  t.is(results.pass, 9);
  t.deepEqual(results.plan.end, 12);
  t.deepEqual(
    results.failures.map(f => f.name),
    ['buf.small.assert_fail', 'buf.large.expect_fail', 'buf.large.assert_fail'],
  );
});

/* ---- exit codes per outcome combination ---- */

type Outcome = 'pass' | 'fail' | 'skip' | 'xfail' | 'xpass';

function program(outcomes: readonly Outcome[]) {
  const h = harness('combo_test');
  outcomes.forEach((o, i) => {
    const name = `${o}_${i}`;
    h.test(name, t => {
      if (o === 'skip') t.skip('because');
      t.expectEq(o === 'fail' || o === 'xfail' ? 1 : 0, 0);
    });
    if (o === 'xfail' || o === 'xpass') h.xfail(`global.${name}`);
  });
  return h;
}

const combos: [Outcome[], number][] = [
  [['pass'], KSFT_PASS],
  [['pass', 'skip'], KSFT_PASS],
  [['skip', 'skip'], KSFT_PASS],
  [['xfail'], KSFT_PASS],
  [['xpass'], KSFT_PASS],
  [['pass', 'xfail', 'xpass', 'skip'], KSFT_PASS],
  [['fail'], KSFT_FAIL],
  [['pass', 'skip', 'xfail', 'fail'], KSFT_FAIL],
  [[], KSFT_PASS],
];
for (const [outcomes, code] of combos) {
  test(`exit code for [${outcomes.join(', ')}] is ${code}`, async t => {
    const r = await program(outcomes).main([], { env: NO_ENV });
    t.is(r.exitCode, code);
    const count = (o: Outcome) => outcomes.filter(x => x === o).length;
    t.deepEqual(r.counts, { pass: count('pass'), fail: count('fail'), xfail: count('xfail'), xpass: count('xpass'), skip: count('skip'), error: 0 });
    const passed = outcomes.length - count('fail');
    t.true(r.stdout.includes(`# ${count('fail') ? 'FAILED' : 'PASSED'}: ${passed} / ${outcomes.length} tests passed.\n`));
  });
}

test('all skipped: exit 0, totals show pass:0', async t => {
  const r = await program(['skip', 'skip']).main([], { env: NO_ENV });
  t.true(r.stdout.endsWith('# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:2 error:0\n'));
});

test('-h and -l exit KSFT_SKIP on stderr; a bad option exits KSFT_FAIL with usage', async t => {
  const help = await sampleMain(['-h'], { env: NO_ENV });
  t.is(help.exitCode, KSFT_SKIP);
  t.is(help.stdout, '');
  t.true(help.stderr.startsWith('Usage: sample_test [-h|-l]'));
  const list = await sampleMain(['-l'], { env: NO_ENV });
  t.is(list.exitCode, KSFT_SKIP);
  t.true(list.stderr.startsWith('# FIXTURE'));
  t.regex(list.stderr, /^buf {18}small {21}length$/m);
  const bad = await sampleMain(['-q'], { env: NO_ENV });
  t.is(bad.exitCode, KSFT_FAIL);
  t.true(bad.stderr.startsWith("sample_test: invalid option -- 'q'\nUsage: sample_test"));
  t.is(bad.stdout, '');
});

/* ---- selection flags ---- */

const ran = (r: ProgramResult) => r.results.map(x => x.name);

const selections: [string[], string[]][] = [
  [['-t', 'length'], ['buf.small.length', 'buf.large.length']],
  [['-T', 'length', '-T', 'known_bug', '-F', 'global', '-F', 'nodev'], ['buf.small.expect_fail', 'buf.small.assert_fail', 'buf.large.expect_fail', 'buf.large.assert_fail']],
  [['-v', 'large', '-T', 'known_bug'], ['buf.large.length', 'buf.large.expect_fail', 'buf.large.assert_fail', 'buf.large.known_bug']],
  [['-T', 'known_bug', '-v', 'large'], ['buf.large.length', 'buf.large.expect_fail', 'buf.large.assert_fail']],
  [['-V', 'small', '-F', 'global', '-F', 'nodev'], ['buf.large.length', 'buf.large.expect_fail', 'buf.large.assert_fail', 'buf.large.known_bug']],
  [['-f', 'nodev', '-f', 'global'], ['global.pass', 'global.skip', 'global.bigint', 'nodev.open']],
  [['-F', 'buf'], ['global.pass', 'global.skip', 'global.bigint', 'nodev.open']],
  [['-r', 'buf.small.known_bug', '-r', 'global.pass'], ['global.pass', 'buf.small.known_bug']],
  [['-r', 'nodev.open'], ['nodev.open']],
  [['-t', 'nonexistent'], []],
];
for (const [argv, names] of selections) {
  test(`selection ${argv.join(' ')}`, async t => {
    const r = await sampleMain(argv, { env: NO_ENV });
    t.deepEqual(ran(r), names);
    t.true(r.stdout.includes(`\n1..${names.length}\n`));
  });
}

test('case count counts fixture/variant pairs with a selected test', async t => {
  const r = await sampleMain(['-t', 'length', '-t', 'pass'], { env: NO_ENV });
  t.true(r.stdout.includes('# Starting 3 tests from 3 test cases.\n'));
});

/* ---- timeouts, async, exceptions ---- */

test('a test past its timeout fails with the kernel message and the run goes on', async t => {
  const h = harness('timeout_test', { timeout: 0.05 });
  const tornDown: string[] = [];
  const f = h.fixture('f', { teardown: tt => void tornDown.push(tt.info.test) });
  f.test('hangs', () => new Promise<void>(() => {}));
  f.test('own_timeout', async tt => {
    await new Promise(resolve => setTimeout(resolve, 120));
    tt.expectTrue(1);
  }, { timeout: 1 });
  f.test('late', async tt => {
    await new Promise(resolve => setTimeout(resolve, 200));
    tt.log('too late');
  });
  const r = await h.main([], { env: NO_ENV });
  t.deepEqual(r.results.map(x => [x.name, x.exitCode]), [['f.hangs', KSFT_FAIL], ['f.own_timeout', KSFT_PASS], ['f.late', KSFT_FAIL]]);
  t.is(r.stderr, '# hangs: Test terminated by timeout\n# late: Test terminated by timeout\n');
  await new Promise(resolve => setTimeout(resolve, 250));
  t.deepEqual(tornDown, ['own_timeout'], 'teardown of a killed test is not run');
  t.is(r.exitCode, KSFT_FAIL);
});

test('TEST_TIMEOUT_DEFAULT is 30 seconds', async t => {
  const { TEST_TIMEOUT_DEFAULT } = await import('./exit_codes');
  t.is(TEST_TIMEOUT_DEFAULT, 30);
});

test('async tests: awaited expects and asserts count', async t => {
  const h = harness('async_test');
  h.test('ok', async tt => {
    await Promise.resolve();
    tt.assertEq(1n, 1);
  });
  h.test('expect_late', async tt => {
    await new Promise(resolve => setImmediate(resolve));
    tt.expectGe(10n, 11);
  });
  h.test('assert_late', async tt => {
    await Promise.resolve();
    tt.assertNotNull(null);
    tt.log('unreachable');
  });
  const r = await h.main([], { env: NO_ENV });
  t.deepEqual(r.results.map(x => x.exitCode), [KSFT_PASS, KSFT_FAIL, KSFT_FAIL]);
  t.regex(r.stderr, /kselftest_harness\.test\.ts:\d+:expect_late:Expected 10n \(10\) >= 11 \(11\)\n/);
  t.regex(r.stderr, /kselftest_harness\.test\.ts:\d+:assert_late:Expected NULL \(null\) != null \(null\)\n# assert_late: Test terminated by assertion\n/);
  t.notRegex(r.stderr, /unreachable/);
});

test('a thrown exception is a FAIL with the error as diagnostic; teardown still runs', async t => {
  const h = harness('throw_test');
  const log: string[] = [];
  const f = h.fixture('f', { setup: () => ({ n: 1 }), teardown: () => void log.push('teardown') });
  f.test('throws', () => {
    throw new TypeError('boom');
  });
  h.test('after', tt => tt.expectEq(1, 1));
  const r = await h.main([], { env: NO_ENV });
  t.deepEqual(r.results.map(x => [x.name, x.exitCode]), [['global.after', KSFT_PASS], ['f.throws', KSFT_FAIL]]);
  t.regex(r.stderr, /^# TypeError: boom\n(#\s+at .*\n)+# throws: Test terminated unexpectedly by exception\n$/);
  t.deepEqual(log, ['teardown']);
});

test('setup failures: expect → no body/teardown, "Test failed"; skip → SKIP; assert → assertion', async t => {
  const h = harness('setup_test');
  const calls: string[] = [];
  const mk = (name: string, setup: (tt: T<object>) => void) => {
    const f = h.fixture(name, { setup: tt => { setup(tt); return {}; }, teardown: () => void calls.push(`${name}.teardown`) });
    f.test('body', () => void calls.push(`${name}.body`));
  };
  mk('expects', tt => void tt.expectEq(0, 1));
  mk('skips', tt => tt.skip('later'));
  mk('asserts', tt => tt.assertFalse(true));
  const r = await h.main([], { env: NO_ENV });
  t.deepEqual(calls, []);
  t.deepEqual(r.results.map(x => [x.exitCode, x.diagnostic]), [[KSFT_FAIL, null], [KSFT_SKIP, 'later'], [KSFT_FAIL, null]]);
  t.regex(r.stderr, /# body: Test failed\n/);
  t.regex(r.stderr, /:body:Expected 0 \(0\) == true \(true\)\n# body: Test terminated by assertion\n/);
});

test('a swallowed assertion still fails the test', async t => {
  const h = harness('swallow_test');
  h.test('swallow', tt => {
    try {
      tt.assertEq(1, 2);
    } catch {
      /* deliberately ignored */
    }
  });
  const r = await h.main([], { env: NO_ENV });
  t.is(r.results[0]?.exitCode, KSFT_FAIL);
  t.regex(r.stderr, /# swallow: Test terminated by assertion\n$/);
});

test('t.xfail() at run time, and a failed SKIPped test keeps its reason after " #  "', async t => {
  const h = harness('rt_test');
  h.test('todo', tt => {
    tt.xfail('target lacks it');
    tt.expectEq(1, 2);
  });
  h.test('skip_then_fail', tt => {
    try {
      tt.skip('half way');
    } catch {
      /* SKIP() with a statement other than return */
    }
    tt.expectEq(1, 2);
  });
  const r = await h.main([], { env: NO_ENV });
  t.true(r.stdout.includes('ok 1 global.todo # XFAIL target lacks it\n'));
  t.true(r.stdout.includes('not ok 2 global.skip_then_fail #  half way\n'));
  t.is(r.exitCode, KSFT_FAIL);
});

/* ---- comparisons, printing, errno ---- */

test('bigint-aware comparisons and decimal printing', async t => {
  const h = harness('cmp_test', { errno: { EINVAL: [22, 'Invalid argument'], ENOENT: 2 } });
  h.test('holds', tt => {
    tt.assertEq(0xffff_ffff_ffff_ffffn, 18446744073709551615n);
    tt.assertEq(4096, 4096n);
    tt.assertNe(0, 1n);
    tt.assertLt(1n, 2);
    tt.assertGt(3, 2n);
    tt.assertLe(2n, 2);
    tt.assertGe(2, 2n);
    tt.assertTrue(1n);
    tt.assertFalse(0n);
    tt.assertNull(undefined);
    tt.assertNotNull(0);
    tt.assertStrEq('a', 'a');
    tt.assertStrNe('a', 'b');
    tt.assertErrno('EINVAL', -22);
    tt.assertErrno('ENOENT', -2n);
    tt.assertErrno(5, -5);
  });
  h.test('fails', tt => {
    const iova = 0xffff_ffff_ffff_f000n;
    tt.expectEq(0n, iova);
    tt.expectNe('x', 'x');
    tt.expectStrEq('msi', 'direct');
    tt.expectStrNe('msi', 'msi');
    tt.expectErrno('EINVAL', 0);
    tt.expectTrue('');
  });
  const r = await h.main([], { env: NO_ENV });
  t.deepEqual(r.results.map(x => x.exitCode), [KSFT_PASS, KSFT_FAIL]);
  const diag = r.stderr.split('\n').filter(l => l.includes(':fails:')).map(l => l.replace(/^# [^:]+:\d+:fails:/, ''));
  t.deepEqual(diag, [
    'Expected 0n (0) == iova (18446744073709547520)',
    'Expected \'x\' ("x") != \'x\' ("x")',
    "Expected 'msi' == 'direct'.",
    "Expected 'msi' != 'msi'.",
    'Expected -EINVAL (-22) == 0 (0)',
    "Expected 0 (0) != '' (\"\")",
  ]);
});

test('an unknown errno name is a harness usage error (FAIL)', async t => {
  const h = harness('errno_test');
  h.test('no_table', tt => void tt.expectErrno('ENOENT', -2));
  const r = await h.main([], { env: NO_ENV });
  t.is(r.exitCode, KSFT_FAIL);
  t.regex(r.stderr, /unknown errno name 'ENOENT'/);
});

test('diagnostics carry file:line of the caller, also through helperFiles', async t => {
  const h = harness('loc_test', { helperFiles: [__filename] });
  h.test('x', tt => tt.log('hello %s', 'world'));
  const r = await h.main([], { env: NO_ENV });
  // every frame of this file is a "helper", so the location falls back past it
  t.notRegex(r.stderr, /kselftest_harness\.test\.ts/);
  const h2 = harness('loc_test');
  const line = new Error().stack?.split('\n')[1]?.match(/:(\d+):\d+\)?$/)?.[1];
  h2.test('x', tt => tt.log('hello %s', 'world'));
  const r2 = await h2.main([], { env: NO_ENV });
  t.is(r2.stderr, `# kselftest_harness.test.ts:${Number(line) + 1}:x:hello world\n`);
});

/* ---- suite layer extension points ---- */

test('context hooks give every test a fresh context, destroyed after, even on timeout', async t => {
  let made = 0;
  const destroyed: number[] = [];
  const h = harness('ctx_test', {
    timeout: 0.05,
    options: { target: { type: 'string', default: 'emulator' } },
    context: {
      create: info => ({ machine: { id: ++made, target: info.options['target'], args: info.args } }),
      destroy: ctx => void destroyed.push(ctx.machine.id),
    },
  });
  const seen: unknown[] = [];
  const f = h.fixture('f', { setup: tt => ({ id: tt.machine.id }) });
  f.variant('a', 1).variant('b', 2);
  f.test('uses', (tt, self, v) => {
    seen.push([tt.name, self.id, v, tt.machine.target, tt.machine.args]);
    tt.expectEq(self.id, tt.machine.id);
  });
  h.test('hang', () => new Promise<void>(() => {}));
  const r = await h.main(['--target', 'host', '--host', 'h.json'], { env: NO_ENV });
  t.deepEqual(seen, [
    ['f.a.uses', 2, 1, 'host', ['--host', 'h.json']],
    ['f.b.uses', 3, 2, 'host', ['--host', 'h.json']],
  ]);
  t.deepEqual(destroyed, [1, 2, 3]);
  t.deepEqual(r.results.map(x => x.exitCode), [KSFT_FAIL, KSFT_PASS, KSFT_PASS]);
});

test('a suite context may not shadow the harness methods', async t => {
  const h = harness('shadow_test', { context: { create: () => ({ assertEq: 1 }) } });
  h.test('x', () => {});
  const r = await h.main([], { env: NO_ENV });
  t.is(r.exitCode, KSFT_FAIL);
  t.regex(r.stderr, /suite context key 'assertEq' shadows the harness/);
});

test('programs do not share registrations', async t => {
  const a = harness('a_test');
  const b = harness('b_test');
  a.test('only_a', () => {});
  b.fixture('fb').test('only_b', () => {});
  t.deepEqual(a.testNames(), ['global.only_a']);
  t.deepEqual(b.testNames(), ['fb.only_b']);
  t.is((await a.main([], { env: NO_ENV })).plan, 1);
});

test('declaration errors: bad and duplicate names', t => {
  const h = harness('decl_test');
  h.test('x', () => {});
  t.throws(() => h.test('x', () => {}), { message: "duplicate test 'x'" });
  t.throws(() => h.fixture('global'), { message: "duplicate fixture 'global'" });
  t.throws(() => h.fixture('a.b'), { message: /fixture name 'a\.b' must match/ });
  const f = h.fixture('f');
  f.variant('v', undefined);
  t.throws(() => f.variant('v', undefined), { message: "duplicate variant 'v'" });
});

test('global tests run first, then fixtures in declaration order, variants × tests', t => {
  const h = harness('order_test');
  const f2 = h.fixture('second');
  const f1 = h.fixture('first');
  f1.variant('b', 0).variant('a', 0);
  f1.test('z', () => {}).test('y', () => {});
  f2.test('only', () => {});
  h.test('late_global', () => {});
  t.deepEqual(h.testNames(), ['global.late_global', 'second.only', 'first.b.z', 'first.b.y', 'first.a.z', 'first.a.y']);
});
