// SPDX-License-Identifier: GPL-2.0-only
/**
 * Pure TAP 13 / KTAP v1 line writer: every function returns text, none prints.
 * Lines carry no trailing newline; callers join them.
 *
 * @see tools/testing/selftests/kselftest.h (ksft_print_header, ksft_set_plan,
 *      ksft_print_msg, ksft_test_result_code, ksft_print_cnts)
 * @see Documentation/dev-tools/ktap.rst
 */
import { KSFT_FAIL, KSFT_PASS, KSFT_SKIP, KSFT_XFAIL, KSFT_XPASS } from './exit_codes';

export interface KsftCounts {
  pass: number;
  fail: number;
  xfail: number;
  xpass: number;
  /** `ksft_cnt.ksft_xskip` */
  skip: number;
  error: number;
}

export const zeroCounts = (): KsftCounts => ({ pass: 0, fail: 0, xfail: 0, xpass: 0, skip: 0, error: 0 });

/** @see tools/testing/selftests/kselftest.h:ksft_test_num */
export const testNum = (c: KsftCounts): number => c.pass + c.fail + c.xfail + c.xpass + c.skip + c.error;

export type Env = Readonly<Record<string, string | undefined>>;

/** @see tools/testing/selftests/kselftest.h:ksft_print_header (KSFT_TAP_LEVEL set by an outer runner suppresses it) */
export function tapHeader(env: Env): string[] {
  return env['KSFT_TAP_LEVEL'] ? [] : ['TAP version 13'];
}

/** @see tools/testing/selftests/kselftest.h:ksft_set_plan */
export const plan = (n: number): string => `1..${n}`;

/** @see tools/testing/selftests/kselftest.h:ksft_print_msg */
export const msg = (text: string): string => `# ${text}`;

/**
 * The result line, without side effects on counters.
 * A message with no directive gets `" #  "` before it (the kernel's double space).
 * @see tools/testing/selftests/kselftest.h:ksft_test_result_code
 */
export function resultCode(code: number, num: number, name: string, message: string | null): string {
  let tap = 'ok';
  let directive = '';
  switch (code) {
    case KSFT_PASS:
      break;
    case KSFT_XFAIL:
      directive = ' # XFAIL ';
      break;
    case KSFT_XPASS:
      directive = ' # XPASS ';
      break;
    case KSFT_SKIP:
      directive = ' # SKIP ';
      break;
    case KSFT_FAIL:
    default:
      tap = 'not ok';
      break;
  }
  if (!directive && message !== null) directive = ' #  ';
  return `${tap} ${num} ${name}${directive}${message ?? ''}`;
}

/** Bumps the counter `ksft_test_result_code` would bump for `code`. */
export function countResult(c: KsftCounts, code: number): void {
  switch (code) {
    case KSFT_PASS: c.pass++; break;
    case KSFT_XFAIL: c.xfail++; break;
    case KSFT_XPASS: c.xpass++; break;
    case KSFT_SKIP: c.skip++; break;
    default: c.fail++; break;
  }
}

/** @see tools/testing/selftests/kselftest.h:ksft_print_cnts */
export function cnts(c: KsftCounts, planned: number): string[] {
  const out: string[] = [];
  if (c.skip > 0) {
    out.push(msg(`${c.skip} skipped test(s) detected. Consider enabling relevant config options to improve coverage.`));
  }
  const run = testNum(c);
  if (planned !== run) out.push(msg(`Planned tests != run tests (${planned} != ${run})`));
  out.push(msg(`Totals: pass:${c.pass} fail:${c.fail} xfail:${c.xfail} xpass:${c.xpass} skip:${c.skip} error:${c.error}`));
  return out;
}

/* ---- KTAP v1 nesting (used by kselftest/run.ts) ---- */

export const KTAP_VERSION_1 = 'KTAP version 1';

/**
 * One nesting level. ktap.rst's text says two spaces; KUnit emits, and TAP 14
 * parsers (tap-parser) only recognise, four.
 * @note emulation: four spaces, as KUnit prints them.
 */
export const KTAP_INDENT = '    ';

/** Indents every non-empty line one level. */
export function indent(lines: readonly string[], levels = 1): string[] {
  const pad = KTAP_INDENT.repeat(levels);
  return lines.map(l => (l === '' ? l : pad + l));
}

export type KtapDirective = 'SKIP' | 'XFAIL' | 'TIMEOUT' | 'ERROR';

/**
 * `<result> <number> [<description>][ # [<directive>] [<diagnostic data>]]`
 * @see Documentation/dev-tools/ktap.rst ("Test case result lines")
 */
export function ktapResult(ok: boolean, num: number, name: string, directive?: KtapDirective, diagnostic?: string): string {
  const line = `${ok ? 'ok' : 'not ok'} ${num} ${name}`;
  const tail = [directive, diagnostic].filter((s): s is string => s !== undefined && s !== '').join(' ');
  return tail ? `${line} # ${tail}` : line;
}

/** Splits captured output into lines, dropping the one empty string after a final newline. */
export function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}
