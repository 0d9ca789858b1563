// SPDX-License-Identifier: GPL-2.0-only
/**
 * The harness command line: getopt("hlF:f:V:v:t:T:r:") plus suite-declared long
 * options, and the test filter.
 *
 * @see tools/testing/selftests/kselftest_harness.h:test_harness_argv_check
 * @see tools/testing/selftests/kselftest_harness.h:test_enabled
 * @see tools/testing/selftests/kselftest_harness.h:test_harness_list_tests
 */

export type FilterFlag = 'f' | 'F' | 'v' | 'V' | 't' | 'T' | 'r';
export interface Filter { readonly flag: FilterFlag; readonly arg: string }

/** A long option a suite adds (e.g. `--target`); parsed by the harness, values reach every test. */
export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly description?: string;
  readonly default?: string | boolean;
  /** Shown in the help text: `--target <valueName>`. */
  readonly valueName?: string;
}
export type OptionSpecs = Readonly<Record<string, OptionSpec>>;
export type OptionValues = Readonly<Record<string, string | boolean | undefined>>;

export type ParsedArgv =
  | { readonly kind: 'run'; readonly filters: readonly Filter[]; readonly options: OptionValues; readonly rest: readonly string[] }
  | { readonly kind: 'list' }
  | { readonly kind: 'help' }
  | { readonly kind: 'error'; readonly message: string };

const WITH_ARG = new Set<string>(['F', 'f', 'V', 'v', 't', 'T', 'r']);

/**
 * GNU getopt semantics for the short options (clustering, `-tname`, `-t name`,
 * permutation, `--` ends options); the first `-h`/`-l`/error decides, as in
 * test_harness_argv_check. Undeclared long options and operands are passed
 * through untouched in `rest`, in order, for the suite layer.
 */
export function parseArgv(prog: string, argv: readonly string[], specs: OptionSpecs = {}): ParsedArgv {
  const filters: Filter[] = [];
  const options: Record<string, string | boolean | undefined> = {};
  for (const [name, spec] of Object.entries(specs)) options[name] = spec.default;
  const rest: string[] = [];

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      rest.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = arg.slice(2, eq < 0 ? undefined : eq);
      const spec = Object.prototype.hasOwnProperty.call(specs, name) ? specs[name] : undefined;
      if (!spec) {
        rest.push(arg);
        continue;
      }
      if (spec.type === 'boolean') {
        if (eq >= 0) return { kind: 'error', message: `${prog}: option '--${name}' doesn't allow an argument` };
        options[name] = true;
      } else if (eq >= 0) {
        options[name] = arg.slice(eq + 1);
      } else if (i + 1 < argv.length) {
        options[name] = argv[++i] as string;
      } else {
        return { kind: 'error', message: `${prog}: option '--${name}' requires an argument` };
      }
      continue;
    }
    if (!arg.startsWith('-') || arg === '-') {
      rest.push(arg);
      continue;
    }
    for (let j = 1; j < arg.length; j++) {
      const c = arg[j] as string;
      if (c === 'h') return { kind: 'help' };
      if (c === 'l') return { kind: 'list' };
      if (!WITH_ARG.has(c)) return { kind: 'error', message: `${prog}: invalid option -- '${c}'` };
      let value: string;
      if (j + 1 < arg.length) {
        value = arg.slice(j + 1);
      } else if (i + 1 < argv.length) {
        value = argv[++i] as string;
      } else {
        return { kind: 'error', message: `${prog}: option requires an argument -- '${c}'` };
      }
      filters.push({ flag: c as FilterFlag, arg: value });
      break;
    }
  }
  return { kind: 'run', filters, options, rest };
}

/**
 * First matching filter wins; with no match a test runs unless some positive
 * (lower-case) filter was given.
 * @note emulation: `-r` compares the whole `fixture[.variant].test` string,
 *       dots included (the C harness checks lengths and the three names only).
 */
export function testEnabled(filters: readonly Filter[], fixture: string, variant: string, test: string): boolean {
  let hasPositive = false;
  for (const { flag, arg } of filters) {
    const positive = flag === flag.toLowerCase();
    hasPositive ||= positive;
    switch (flag.toLowerCase()) {
      case 't':
        if (arg === test) return positive;
        break;
      case 'f':
        if (arg === fixture) return positive;
        break;
      case 'v':
        if (arg === variant) return positive;
        break;
      case 'r':
        if (arg === testName(fixture, variant, test)) return true;
        break;
    }
  }
  return !hasPositive;
}

/** `fixture[.variant].test` @see tools/testing/selftests/kselftest_harness.h:__run_test */
export const testName = (fixture: string, variant: string, test: string): string =>
  `${fixture}${variant ? '.' : ''}${variant}.${test}`;

export function usage(prog: string, specs: OptionSpecs = {}): string {
  let text =
    `Usage: ${prog} [-h|-l] [-t|-T|-v|-V|-f|-F|-r name]\n` +
    '\t-h       print help\n' +
    '\t-l       list all tests\n' +
    '\n' +
    '\t-t name  include test\n' +
    '\t-T name  exclude test\n' +
    '\t-v name  include variant\n' +
    '\t-V name  exclude variant\n' +
    '\t-f name  include fixture\n' +
    '\t-F name  exclude fixture\n' +
    '\t-r name  run specified test\n' +
    '\n' +
    'Test filter options can be specified multiple times. The filtering stops\n' +
    "at the first match. For example to include all tests from variant 'bla'\n" +
    "but not test 'foo' specify '-T foo -v bla'.\n";
  const entries = Object.entries(specs);
  if (entries.length > 0) {
    text += '\nSuite options:\n';
    for (const [name, spec] of entries) {
      const flag = spec.type === 'string' ? `--${name} ${spec.valueName ?? 'value'}` : `--${name}`;
      const dflt = spec.default === undefined ? '' : ` (default: ${String(spec.default)})`;
      text += `\t${flag.padEnd(20)} ${spec.description ?? ''}${dflt}\n`;
    }
  }
  return text;
}

export interface ListedFixture {
  readonly name: string;
  readonly variants: readonly string[];
  readonly tests: readonly string[];
}

/**
 * Variants and tests are printed side by side, row by row, as the C harness does.
 * @see tools/testing/selftests/kselftest_harness.h:test_harness_list_tests
 */
export function listTests(fixtures: readonly ListedFixture[]): string {
  const row = (a: string, b: string, c: string): string => `${a.padEnd(20)} ${b.padEnd(25)} ${c}\n`;
  let out = '';
  fixtures.forEach((f, i) => {
    out += i === 0 ? row('# FIXTURE', 'VARIANT', 'TEST') : `${'-'.repeat(80)}\n`;
    const rows = Math.max(1, f.variants.length, f.tests.length);
    for (let r = 0; r < rows; r++) out += row(r === 0 || f.tests.length === 0 ? f.name : '', f.variants[r] ?? '', f.tests[r] ?? '');
  });
  return out;
}
