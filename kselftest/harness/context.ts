// SPDX-License-Identifier: GPL-2.0-only
/**
 * The per-test context `t`: ASSERT_* / EXPECT_* / SKIP / TH_LOG.
 *
 * ARGUMENT ORDER IS (expected, seen), as in the kernel: `t.assertEq(0, rc)`.
 * (AVA's `t.is(actual, expected)` is the other way round.)
 *
 * assert* aborts the test (teardown still runs), expect* records the failure
 * and continues. Numbers and bigints compare numerically with each other
 * (`assertEq(0, 0n)` holds) and print in decimal, like `%jd`.
 *
 * @see tools/testing/selftests/kselftest_harness.h:__EXPECT
 * @see tools/testing/selftests/kselftest_harness.h:__EXPECT_STR
 * @see tools/testing/selftests/kselftest_harness.h:__bail
 */
import { inspect, format } from 'node:util';
import { callArguments, callSite, type SourceCache } from './callsite';
import { KSFT_FAIL, KSFT_PASS, KSFT_SKIP } from './exit_codes';
import type { OptionValues } from './argv';

export type Scalar = number | bigint | string | boolean | symbol | null | undefined;
export type Numeric = number | bigint;

/** errno name → number; `lib/errno`'s `ERRNO` table (`{ EINVAL: [22, '…'] }`) is accepted as is. */
export type ErrnoTable = Readonly<Record<string, number | readonly [number, ...unknown[]]>>;

export interface TestInfo {
  readonly program: string;
  readonly fixture: string;
  /** '' when the fixture has no variants. */
  readonly variant: string;
  readonly test: string;
  /** `fixture[.variant].test` */
  readonly name: string;
  readonly options: OptionValues;
  /** Arguments the harness did not consume (undeclared long options, operands). */
  readonly args: readonly string[];
}

export interface TestContext {
  readonly info: TestInfo;
  /** `fixture[.variant].test` */
  readonly name: string;
  readonly options: OptionValues;
  readonly args: readonly string[];

  /** TH_LOG: `# <file>:<line>:<test>:<message>` on the log stream. */
  log(...args: unknown[]): void;
  /** SKIP(return, reason): ends the test (or setup) as `# SKIP reason`; counts as a pass. */
  skip(reason?: string): never;
  /** Marks this run as expected to fail (the run-time form of XFAIL_ADD). */
  xfail(reason?: string): void;

  assertEq(expected: Scalar, seen: Scalar): void;
  assertNe(expected: Scalar, seen: Scalar): void;
  assertLt(expected: Numeric, seen: Numeric): void;
  assertGt(expected: Numeric, seen: Numeric): void;
  assertLe(expected: Numeric, seen: Numeric): void;
  assertGe(expected: Numeric, seen: Numeric): void;
  assertTrue(seen: unknown): void;
  assertFalse(seen: unknown): void;
  assertNull(seen: unknown): void;
  /**
   * No `asserts` signature: TS2775 rejects those through a contextually typed `t`,
   * so narrow with `!` or a local check after it.
   */
  assertNotNull(seen: unknown): void;
  assertStrEq(expected: string, seen: string): void;
  assertStrNe(expected: string, seen: string): void;
  /** `rc` is a syscall-style return; asserts `rc === -errno(name)`. */
  assertErrno(name: string | number, rc: Numeric): void;

  expectEq(expected: Scalar, seen: Scalar): boolean;
  expectNe(expected: Scalar, seen: Scalar): boolean;
  expectLt(expected: Numeric, seen: Numeric): boolean;
  expectGt(expected: Numeric, seen: Numeric): boolean;
  expectLe(expected: Numeric, seen: Numeric): boolean;
  expectGe(expected: Numeric, seen: Numeric): boolean;
  expectTrue(seen: unknown): boolean;
  expectFalse(seen: unknown): boolean;
  expectNull(seen: unknown): boolean;
  expectNotNull(seen: unknown): boolean;
  expectStrEq(expected: string, seen: string): boolean;
  expectStrNe(expected: string, seen: string): boolean;
  expectErrno(name: string | number, rc: Numeric): boolean;
}

/** Thrown by assert* and skip() to unwind the test function; never escapes the harness. */
export class TestAbort {
  constructor(readonly kind: 'assert' | 'skip') {}
}

/** Mutable per-run state: the `_metadata` of one test. */
export class Metadata {
  exitCode: number = KSFT_PASS;
  aborted = false;
  reason = '';
  xfail: string | undefined;
  /** Set once the harness has judged the test: later output from stray async work is dropped. */
  finished = false;
  constructor(
    readonly info: TestInfo,
    private readonly log: (line: string) => void,
  ) {}

  write(line: string): void {
    if (!this.finished) this.log(line);
  }
}

export interface ContextEnv {
  readonly errno: ErrnoTable | undefined;
  readonly internalFiles: ReadonlySet<string>;
  readonly sources: SourceCache;
}

const isNumeric = (v: unknown): v is Numeric => typeof v === 'number' || typeof v === 'bigint';

function fmt(v: unknown): string {
  switch (typeof v) {
    case 'number':
    case 'bigint':
    case 'boolean':
    case 'undefined':
      return String(v);
    case 'string':
      return JSON.stringify(v);
    case 'symbol':
      return v.toString();
    default:
      return v === null ? 'null' : inspect(v, { breakLength: Infinity, compact: true });
  }
}

function eq(a: unknown, b: unknown): boolean {
  // eslint-disable-next-line eqeqeq
  return isNumeric(a) && isNumeric(b) ? a == b : a === b;
}

type Op = '==' | '!=' | '<' | '>' | '<=' | '>=';

function compare(op: Op, a: unknown, b: unknown): boolean {
  switch (op) {
    case '==': return eq(a, b);
    case '!=': return !eq(a, b);
    case '<': return (a as Numeric) < (b as Numeric);
    case '>': return (a as Numeric) > (b as Numeric);
    case '<=': return (a as Numeric) <= (b as Numeric);
    case '>=': return (a as Numeric) >= (b as Numeric);
  }
}

function errnoNumber(table: ErrnoTable | undefined, name: string | number): number {
  if (typeof name === 'number') return name;
  const entry = table && Object.prototype.hasOwnProperty.call(table, name) ? table[name] : undefined;
  if (entry === undefined) {
    throw new Error(`unknown errno name '${name}' (give harness() an errno table)`);
  }
  return typeof entry === 'number' ? entry : entry[0];
}

export function createContext(md: Metadata, env: ContextEnv): TestContext {
  const where = (): { loc: string; site: ReturnType<typeof callSite> } => {
    const site = callSite(env.internalFiles);
    const file = site ? site.file.slice(site.file.lastIndexOf('/') + 1) : '?';
    return { loc: `${file}:${site?.line ?? 0}`, site };
  };
  const thLog = (loc: string, text: string): void => md.write(`# ${loc}:${md.info.test}:${text}`);

  /** @returns whether the check held; on failure reports, marks FAIL, and unwinds if `assert`. */
  const check = (method: string, assert: boolean, ok: boolean, describe: (args: string[] | undefined) => string): boolean => {
    if (ok) return true;
    const { loc, site } = where();
    const args = site ? callArguments(env.sources, site, method) : undefined;
    thLog(loc, describe(args));
    md.exitCode = KSFT_FAIL;
    if (assert) {
      md.aborted = true;
      throw new TestAbort('assert');
    }
    return false;
  };

  const binary = (method: string, assert: boolean, op: Op, expected: unknown, seen: unknown): boolean =>
    check(method, assert, compare(op, expected, seen), args => {
      const e = args?.[0] ?? fmt(expected);
      const s = args?.[1] ?? fmt(seen);
      return `Expected ${e} (${fmt(expected)}) ${op} ${s} (${fmt(seen)})`;
    });

  const unary = (method: string, assert: boolean, op: Op, ref: string, refValue: string, ok: boolean, seen: unknown): boolean =>
    check(method, assert, ok, args => `Expected ${ref} (${refValue}) ${op} ${args?.[0] ?? fmt(seen)} (${fmt(seen)})`);

  const str = (method: string, assert: boolean, op: '==' | '!=', expected: string, seen: string): boolean =>
    check(method, assert, op === '==' ? expected === seen : expected !== seen, () => `Expected '${expected}' ${op} '${seen}'.`);

  const errno = (method: string, assert: boolean, name: string | number, rc: Numeric): boolean => {
    const n = errnoNumber(env.errno, name);
    const label = typeof name === 'number' ? String(-n) : `-${name}`;
    return check(method, assert, eq(-n, rc), args =>
      `Expected ${label} (${-n}) == ${args?.[1] ?? fmt(rc)} (${fmt(rc)})`);
  };

  const t: TestContext = {
    info: md.info,
    name: md.info.name,
    options: md.info.options,
    args: md.info.args,
    log(...args) {
      thLog(where().loc, format(...args));
    },
    skip(reason = '') {
      md.reason = reason;
      md.write(`#      SKIP      ${reason}`);
      md.exitCode = KSFT_SKIP;
      throw new TestAbort('skip');
    },
    xfail(reason) {
      md.xfail = reason ?? '';
    },
    assertEq: (e, s) => void binary('assertEq', true, '==', e, s),
    assertNe: (e, s) => void binary('assertNe', true, '!=', e, s),
    assertLt: (e, s) => void binary('assertLt', true, '<', e, s),
    assertGt: (e, s) => void binary('assertGt', true, '>', e, s),
    assertLe: (e, s) => void binary('assertLe', true, '<=', e, s),
    assertGe: (e, s) => void binary('assertGe', true, '>=', e, s),
    assertTrue: s => void unary('assertTrue', true, '!=', '0', '0', Boolean(s), s),
    assertFalse: s => void unary('assertFalse', true, '==', '0', '0', !s, s),
    assertNull: s => void unary('assertNull', true, '==', 'NULL', 'null', s == null, s),
    assertNotNull: s => void unary('assertNotNull', true, '!=', 'NULL', 'null', s != null, s),
    assertStrEq: (e, s) => void str('assertStrEq', true, '==', e, s),
    assertStrNe: (e, s) => void str('assertStrNe', true, '!=', e, s),
    assertErrno: (n, rc) => void errno('assertErrno', true, n, rc),

    expectEq: (e, s) => binary('expectEq', false, '==', e, s),
    expectNe: (e, s) => binary('expectNe', false, '!=', e, s),
    expectLt: (e, s) => binary('expectLt', false, '<', e, s),
    expectGt: (e, s) => binary('expectGt', false, '>', e, s),
    expectLe: (e, s) => binary('expectLe', false, '<=', e, s),
    expectGe: (e, s) => binary('expectGe', false, '>=', e, s),
    expectTrue: s => unary('expectTrue', false, '!=', '0', '0', Boolean(s), s),
    expectFalse: s => unary('expectFalse', false, '==', '0', '0', !s, s),
    expectNull: s => unary('expectNull', false, '==', 'NULL', 'null', s == null, s),
    expectNotNull: s => unary('expectNotNull', false, '!=', 'NULL', 'null', s != null, s),
    expectStrEq: (e, s) => str('expectStrEq', false, '==', e, s),
    expectStrNe: (e, s) => str('expectStrNe', false, '!=', e, s),
    expectErrno: (n, rc) => errno('expectErrno', false, n, rc),
  };
  return t;
}

export const RESERVED_CONTEXT_KEYS: ReadonlySet<string> = new Set(Object.keys(createContext(
  new Metadata({ program: '', fixture: '', variant: '', test: '', name: '', options: {}, args: [] }, () => {}),
  { errno: undefined, internalFiles: new Set(), sources: new Map() },
)));
