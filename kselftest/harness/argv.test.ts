// SPDX-License-Identifier: GPL-2.0-only
import test from 'ava';
import { listTests, parseArgv, testEnabled, usage } from './argv';

test('getopt forms: -t x, -tx, clustering into an argument, permutation, --', t => {
  t.deepEqual(parseArgv('p', ['-t', 'a', '-Tb', 'op', '-r', 'f.v.t', '--', '-l']), {
    kind: 'run',
    filters: [
      { flag: 't', arg: 'a' },
      { flag: 'T', arg: 'b' },
      { flag: 'r', arg: 'f.v.t' },
    ],
    options: {},
    rest: ['op', '-l'],
  });
});

test('the first -h/-l/error decides, like test_harness_argv_check', t => {
  t.deepEqual(parseArgv('p', ['-l', '-h']), { kind: 'list' });
  t.deepEqual(parseArgv('p', ['-hl']), { kind: 'help' });
  t.deepEqual(parseArgv('p', ['-x', '-l']), { kind: 'error', message: "p: invalid option -- 'x'" });
  t.deepEqual(parseArgv('p', ['-t']), { kind: 'error', message: "p: option requires an argument -- 't'" });
});

test('suite options are parsed; undeclared long options pass through in order', t => {
  const specs = { target: { type: 'string', default: 'emulator' }, verbose: { type: 'boolean' } } as const;
  t.deepEqual(parseArgv('p', ['--host', 'h.json', '--target', 'host', '--verbose', 'x'], specs), {
    kind: 'run',
    filters: [],
    options: { target: 'host', verbose: true },
    rest: ['--host', 'h.json', 'x'],
  });
  t.deepEqual(parseArgv('p', ['--target=sysfs'], specs), { kind: 'run', filters: [], options: { target: 'sysfs', verbose: undefined }, rest: [] });
  t.deepEqual(parseArgv('p', ['--target'], specs), { kind: 'error', message: "p: option '--target' requires an argument" });
  t.deepEqual(parseArgv('p', ['--verbose=1'], specs), { kind: 'error', message: "p: option '--verbose' doesn't allow an argument" });
});

const F = (flag: 'f' | 'F' | 'v' | 'V' | 't' | 'T' | 'r', arg: string) => ({ flag, arg });

test('testEnabled: first match wins, no positive filter means run', t => {
  t.true(testEnabled([], 'f', 'v', 't'));
  t.false(testEnabled([F('T', 't')], 'f', 'v', 't'));
  t.true(testEnabled([F('T', 'x')], 'f', 'v', 't'));
  t.false(testEnabled([F('t', 'x')], 'f', 'v', 't'));
  // the usage text's example: variant 'bla' but not test 'foo'
  t.false(testEnabled([F('T', 'foo'), F('v', 'bla')], 'f', 'bla', 'foo'));
  t.true(testEnabled([F('T', 'foo'), F('v', 'bla')], 'f', 'bla', 'bar'));
  t.false(testEnabled([F('T', 'foo'), F('v', 'bla')], 'f', 'other', 'bar'));
  t.true(testEnabled([F('v', 'bla'), F('T', 'foo')], 'f', 'bla', 'foo'));
  t.true(testEnabled([F('f', 'f')], 'f', '', 't'));
  t.false(testEnabled([F('F', 'f')], 'f', '', 't'));
  t.false(testEnabled([F('V', 'v')], 'f', 'v', 't'));
  t.true(testEnabled([F('r', 'f.v.t')], 'f', 'v', 't'));
  t.true(testEnabled([F('r', 'f.t')], 'f', '', 't'));
  t.false(testEnabled([F('r', 'f.t')], 'f', 'v', 't'));
  t.false(testEnabled([F('r', 'fxvyt')], 'f', 'v', 't'));
});

test('listTests prints variants and tests side by side', t => {
  t.is(
    listTests([
      { name: 'global', variants: [], tests: [] },
      { name: 'fx', variants: ['a', 'b', 'c'], tests: ['one'] },
      { name: 'novar', variants: ['x', 'y'], tests: [] },
    ]),
    `${'# FIXTURE'.padEnd(20)} ${'VARIANT'.padEnd(25)} TEST\n` +
      `${'global'.padEnd(20)} ${''.padEnd(25)} \n` +
      `${'-'.repeat(80)}\n` +
      `${'fx'.padEnd(20)} ${'a'.padEnd(25)} one\n` +
      `${''.padEnd(20)} ${'b'.padEnd(25)} \n` +
      `${''.padEnd(20)} ${'c'.padEnd(25)} \n` +
      `${'-'.repeat(80)}\n` +
      `${'novar'.padEnd(20)} ${'x'.padEnd(25)} \n` +
      `${'novar'.padEnd(20)} ${'y'.padEnd(25)} \n`,
  );
});

test('usage names the program and lists suite options', t => {
  const text = usage('iommufd_test', { target: { type: 'string', description: 'emulator|host', default: 'emulator' } });
  t.true(text.startsWith('Usage: iommufd_test [-h|-l] [-t|-T|-v|-V|-f|-F|-r name]\n\t-h       print help\n'));
  t.regex(text, /\n\t--target value +emulator\|host \(default: emulator\)\n$/);
});
