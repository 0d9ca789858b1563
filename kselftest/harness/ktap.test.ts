// SPDX-License-Identifier: GPL-2.0-only
import test from 'ava';
import { KSFT_FAIL, KSFT_PASS, KSFT_SKIP, KSFT_XFAIL, KSFT_XPASS } from './exit_codes';
import { cnts, indent, ktapResult, resultCode, splitLines, tapHeader, zeroCounts } from './ktap';

const cases: [number, string | null, string][] = [
  [KSFT_PASS, null, 'ok 3 f.t'],
  [KSFT_PASS, 'why', 'ok 3 f.t #  why'],
  [KSFT_FAIL, null, 'not ok 3 f.t'],
  [KSFT_FAIL, 'why', 'not ok 3 f.t #  why'],
  [KSFT_SKIP, 'no dev', 'ok 3 f.t # SKIP no dev'],
  [KSFT_XFAIL, 'unknown', 'ok 3 f.t # XFAIL unknown'],
  [KSFT_XPASS, 'unknown', 'ok 3 f.t # XPASS unknown'],
  [77, null, 'not ok 3 f.t'],
];
for (const [code, message, line] of cases) {
  test(`resultCode(${code}, ${String(message)})`, t => {
    t.is(resultCode(code, 3, 'f.t', message), line);
  });
}

test('header is omitted when KSFT_TAP_LEVEL is set', t => {
  t.deepEqual(tapHeader({}), ['TAP version 13']);
  t.deepEqual(tapHeader({ KSFT_TAP_LEVEL: '1' }), []);
});

test('cnts: skip hint, plan mismatch, totals', t => {
  const c = { ...zeroCounts(), pass: 2, fail: 1, skip: 1 };
  t.deepEqual(cnts(c, 5), [
    '# 1 skipped test(s) detected. Consider enabling relevant config options to improve coverage.',
    '# Planned tests != run tests (5 != 4)',
    '# Totals: pass:2 fail:1 xfail:0 xpass:0 skip:1 error:0',
  ]);
  t.deepEqual(cnts({ ...zeroCounts(), pass: 1 }, 1), ['# Totals: pass:1 fail:0 xfail:0 xpass:0 skip:0 error:0']);
});

test('KTAP nesting helpers', t => {
  t.deepEqual(indent(['ok 1 a', '', '# x']), ['    ok 1 a', '', '    # x']);
  t.deepEqual(indent(['ok 1 a'], 2), ['        ok 1 a']);
  t.is(ktapResult(true, 1, 'p'), 'ok 1 p');
  t.is(ktapResult(true, 2, 'p', 'SKIP'), 'ok 2 p # SKIP');
  t.is(ktapResult(false, 3, 'p', 'ERROR', 'program crashed'), 'not ok 3 p # ERROR program crashed');
  t.is(ktapResult(false, 4, 'p', undefined, 'exit=3'), 'not ok 4 p # exit=3');
  t.deepEqual(splitLines('a\nb\n'), ['a', 'b']);
  t.deepEqual(splitLines(''), []);
});
