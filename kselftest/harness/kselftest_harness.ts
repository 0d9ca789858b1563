// SPDX-License-Identifier: GPL-2.0-only
/**
 * kselftest_harness.h for TypeScript: fixtures, variants, TEST/TEST_F, XFAIL_ADD,
 * the run loop and the `-hlF:f:V:v:t:T:r:` command line. Lib-free: a suite layer
 * adds its options, errno table and per-test context through `harness()`.
 *
 * ```ts
 * const h = harness('example_test', { errno: { ENOENT: 2 } });
 * const buf = h.fixture('buf', { setup: (t, v: { len: number }) => ({ b: new Uint8Array(v.len) }) });
 * buf.variant('small', { len: 4 });
 * buf.test('zeroed', (t, self) => { t.assertEq(0, self.b[0]); });
 * export const main = h.main;
 * h.runIfMain(module);
 * ```
 *
 * Each program owns its registrations (no global registry), and `main()` keeps
 * no state between calls, so a program can run any number of times in-process.
 *
 * @note emulation: no fork. Each test runs in-process, isolated by a fresh
 *       context (`HarnessOptions.context`) and a fresh `self`; a timeout abandons
 *       the test's promise (a synchronous busy loop cannot be interrupted).
 * @see tools/testing/selftests/kselftest_harness.h
 */
import * as path from 'node:path';
import { inspect } from 'node:util';
import {
  listTests,
  parseArgv,
  testEnabled,
  testName,
  usage,
  type Filter,
  type OptionSpecs,
  type OptionValues,
} from './argv';
import {
  Metadata,
  RESERVED_CONTEXT_KEYS,
  TestAbort,
  createContext,
  type ErrnoTable,
  type TestContext,
  type TestInfo,
} from './context';
import { KSFT_FAIL, KSFT_PASS, KSFT_SKIP, KSFT_XFAIL, KSFT_XPASS, TEST_TIMEOUT_DEFAULT } from './exit_codes';
import * as ktap from './ktap';
import type { KsftCounts } from './ktap';

export type { ErrnoTable, TestContext, TestInfo, Scalar, Numeric } from './context';
export type { OptionSpec, OptionSpecs, OptionValues } from './argv';
export type { KsftCounts } from './ktap';
export * from './exit_codes';

export interface Sink {
  write(chunk: string): unknown;
}

export interface ProgramIo {
  /** TAP goes here (and is also returned). */
  readonly stdout?: Sink;
  /** TH_LOG_STREAM: diagnostics, `-l` and `-h`. */
  readonly stderr?: Sink;
  /** Defaults to process.env; only KSFT_TAP_LEVEL is read. */
  readonly env?: ktap.Env;
}

export interface TestResult {
  readonly num: number;
  readonly name: string;
  readonly exitCode: number;
  readonly diagnostic: string | null;
}

export interface ProgramResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout and stderr interleaved in write order. */
  readonly output: string;
  readonly counts: KsftCounts;
  readonly plan: number;
  readonly results: readonly TestResult[];
}

export type ProgramMain = (argv?: readonly string[], io?: ProgramIo) => Promise<ProgramResult>;

export interface ContextHooks<Ctx> {
  /** Per test, before FIXTURE_SETUP: e.g. a fresh emulated machine. Its keys are merged into `t`. */
  create(info: TestInfo): Ctx | Promise<Ctx>;
  /** Always called once the test is over, including after a timeout. */
  destroy?(ctx: Ctx, info: TestInfo): void | Promise<void>;
}

export interface HarnessOptions<Ctx> {
  readonly errno?: ErrnoTable;
  readonly options?: OptionSpecs;
  readonly context?: ContextHooks<Ctx>;
  /** Default per-test timeout in seconds (TEST_TIMEOUT_DEFAULT). */
  readonly timeout?: number;
  /** Files whose frames are skipped when locating `file:line` (suite helper modules). */
  readonly helperFiles?: readonly string[];
}

export type T<Ctx> = TestContext & Ctx;

export interface TestOptions {
  /** Seconds: TEST_F_TIMEOUT. */
  readonly timeout?: number;
}

export interface FixtureDef<Ctx, Self, V> {
  setup?(t: T<Ctx>, variant: V): Self | Promise<Self>;
  teardown?(t: T<Ctx>, self: Self, variant: V): void | Promise<void>;
}

type AnyFn = (t: never, self: never, variant: never) => unknown;

interface TestDecl {
  readonly name: string;
  readonly fn: AnyFn;
  readonly timeout: number | undefined;
}

interface FixtureDecl {
  readonly name: string;
  readonly def: FixtureDef<unknown, unknown, unknown>;
  readonly variants: { readonly name: string; readonly data: unknown }[];
  readonly tests: TestDecl[];
}

const NAME = /^[A-Za-z0-9_-]+$/;

function checkName(kind: string, name: string, taken: Iterable<string>): void {
  if (!NAME.test(name)) throw new Error(`${kind} name '${name}' must match ${NAME}`);
  for (const n of taken) if (n === name) throw new Error(`duplicate ${kind} '${name}'`);
}

export class Fixture<Ctx, Self, V> {
  /** @internal */
  constructor(
    private readonly decl: FixtureDecl,
    private readonly owner: Harness<Ctx>,
  ) {}

  get name(): string {
    return this.decl.name;
  }

  /** FIXTURE_VARIANT_ADD */
  variant(name: string, data: V): this {
    checkName('variant', name, this.decl.variants.map(v => v.name));
    this.decl.variants.push({ name, data });
    return this;
  }

  /** TEST_F / TEST_F_TIMEOUT */
  test(name: string, fn: (t: T<Ctx>, self: Self, variant: V) => unknown, opts: TestOptions = {}): this {
    checkName('test', name, this.decl.tests.map(t => t.name));
    this.decl.tests.push({ name, fn: fn as unknown as AnyFn, timeout: opts.timeout });
    return this;
  }

  /** XFAIL_ADD(fixture, variant, test); `variant` is '' for a fixture without variants. */
  xfail(variant: string, test: string, reason?: string): this {
    this.owner.xfail(testName(this.decl.name, variant, test), reason);
    return this;
  }
}

export class Harness<Ctx = object> {
  private readonly fixtures: FixtureDecl[];
  private readonly xfails = new Map<string, string | undefined>();
  private readonly internalFiles: ReadonlySet<string>;

  constructor(
    readonly name: string,
    private readonly opts: HarnessOptions<Ctx> = {},
  ) {
    this.fixtures = [{ name: 'global', def: {}, variants: [], tests: [] }];
    this.internalFiles = new Set([
      __filename,
      ...['context', 'callsite'].flatMap(m => [path.join(__dirname, `${m}.ts`), path.join(__dirname, `${m}.js`)]),
      ...(opts.helperFiles ?? []),
    ]);
  }

  /** FIXTURE + FIXTURE_SETUP + FIXTURE_TEARDOWN */
  fixture<Self = undefined, V = unknown>(name: string, def: FixtureDef<Ctx, Self, V> = {}): Fixture<Ctx, Self, V> {
    checkName('fixture', name, this.fixtures.map(f => f.name));
    const decl: FixtureDecl = { name, def: def as FixtureDef<unknown, unknown, unknown>, variants: [], tests: [] };
    this.fixtures.push(decl);
    return new Fixture<Ctx, Self, V>(decl, this);
  }

  /** TEST: a test of the `global` fixture. */
  test(name: string, fn: (t: T<Ctx>) => unknown, opts: TestOptions = {}): this {
    const global = this.fixtures[0] as FixtureDecl;
    checkName('test', name, global.tests.map(t => t.name));
    global.tests.push({ name, fn: fn as unknown as AnyFn, timeout: opts.timeout });
    return this;
  }

  /** XFAIL_ADD by full name `fixture[.variant].test`. */
  xfail(fullName: string, reason?: string): this {
    this.xfails.set(fullName, reason);
    return this;
  }

  /** Every test name, in run order, ignoring filters. */
  testNames(): string[] {
    return this.enumerate([]).map(c => c.name);
  }

  /** TEST_HARNESS_MAIN, without exiting. Bound: `export const main = h.main`. */
  readonly main: ProgramMain = (argv = [], io = {}) => this.run(argv, io);

  /** Runs `main(process.argv)` and exits with its code when `mod` is the entry module. */
  runIfMain(mod: NodeModule): void {
    if (require.main !== mod) return;
    this.main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
      r => exitAfterFlush(r.exitCode),
      (e: unknown) => {
        process.stderr.write(`${inspect(e)}\n`);
        exitAfterFlush(KSFT_FAIL);
      },
    );
  }

  private enumerate(filters: readonly Filter[]): Case[] {
    const cases: Case[] = [];
    for (const f of this.fixtures) {
      const variants = f.variants.length > 0 ? f.variants : [{ name: '', data: undefined }];
      for (const v of variants) {
        for (const t of f.tests) {
          if (testEnabled(filters, f.name, v.name, t.name)) {
            cases.push({ fixture: f, variant: v, test: t, name: testName(f.name, v.name, t.name) });
          }
        }
      }
    }
    return cases;
  }

  /** @see tools/testing/selftests/kselftest_harness.h:test_harness_run */
  private async run(argv: readonly string[], io: ProgramIo): Promise<ProgramResult> {
    const out = new Output(io);
    const env = io.env ?? process.env;
    const specs = this.opts.options ?? {};
    const parsed = parseArgv(this.name, argv, specs);
    switch (parsed.kind) {
      case 'help':
        out.err(usage(this.name, specs));
        return out.result(KSFT_SKIP);
      case 'error':
        out.err(`${parsed.message}\n${usage(this.name, specs)}`);
        return out.result(KSFT_FAIL);
      case 'list':
        out.err(listTests(this.fixtures.map(f => ({ name: f.name, variants: f.variants.map(v => v.name), tests: f.tests.map(t => t.name) }))));
        return out.result(KSFT_SKIP);
    }

    const cases = this.enumerate(parsed.filters);
    const caseCount = new Set(cases.map(c => c.variant)).size;
    for (const line of ktap.tapHeader(env)) out.line(line);
    out.line(ktap.plan(cases.length));
    out.line(ktap.msg(`Starting ${cases.length} tests from ${caseCount} test cases.`));
    out.plan = cases.length;

    const run: RunEnv = {
      program: this.name,
      options: parsed.options,
      args: parsed.rest,
      sources: new Map(),
      internalFiles: this.internalFiles,
      errno: this.opts.errno,
      context: this.opts.context as ContextHooks<unknown> | undefined,
      timeout: this.opts.timeout ?? TEST_TIMEOUT_DEFAULT,
      xfails: this.xfails,
    };
    let failed = false;
    let passCount = 0;
    for (const c of cases) {
      const code = await runTest(run, c, out);
      if (testPassed(code)) passCount++;
      else failed = true;
    }
    out.line(ktap.msg(`${failed ? 'FAILED' : 'PASSED'}: ${passCount} / ${cases.length} tests passed.`));
    for (const line of ktap.cnts(out.counts, out.plan)) out.line(line);
    return out.result(failed ? KSFT_FAIL : KSFT_PASS);
  }
}

/** Creates one program's harness. Keep it in a module-level `const h`. */
export function harness<Ctx extends object = object>(name: string, opts: HarnessOptions<Ctx> = {}): Harness<Ctx> {
  return new Harness<Ctx>(name, opts);
}

function exitAfterFlush(code: number): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

interface Case {
  readonly fixture: FixtureDecl;
  readonly variant: { readonly name: string; readonly data: unknown };
  readonly test: TestDecl;
  readonly name: string;
}

interface RunEnv {
  readonly program: string;
  readonly options: OptionValues;
  readonly args: readonly string[];
  readonly sources: Map<string, string[] | null>;
  readonly internalFiles: ReadonlySet<string>;
  readonly errno: ErrnoTable | undefined;
  readonly context: ContextHooks<unknown> | undefined;
  readonly timeout: number;
  readonly xfails: ReadonlyMap<string, string | undefined>;
}

class Output {
  private stdout = '';
  private stderr = '';
  private output = '';
  readonly counts = ktap.zeroCounts();
  readonly results: TestResult[] = [];
  plan = 0;
  constructor(private readonly io: ProgramIo) {}

  line(text: string): void {
    const s = `${text}\n`;
    this.stdout += s;
    this.output += s;
    this.io.stdout?.write(s);
  }

  err(text: string): void {
    const s = text.endsWith('\n') ? text : `${text}\n`;
    this.stderr += s;
    this.output += s;
    this.io.stderr?.write(s);
  }

  result(exitCode: number): ProgramResult {
    return {
      exitCode,
      stdout: this.stdout,
      stderr: this.stderr,
      output: this.output,
      counts: { ...this.counts },
      plan: this.plan,
      results: [...this.results],
    };
  }
}

/** @see tools/testing/selftests/kselftest_harness.h:__test_passed */
const testPassed = (code: number): boolean => code !== KSFT_FAIL && code <= KSFT_SKIP;

type Ending = 'normal' | 'assert' | 'exception' | 'timeout';

/**
 * One test: context → setup → body → teardown under a timeout, then the verdict.
 * @see tools/testing/selftests/kselftest_harness.h:__run_test
 * @see tools/testing/selftests/kselftest_harness.h:__wait_for_test
 * @see tools/testing/selftests/kselftest_harness.h:__TEST_F_IMPL
 */
async function runTest(run: RunEnv, c: Case, out: Output): Promise<number> {
  const info: TestInfo = {
    program: run.program,
    fixture: c.fixture.name,
    variant: c.variant.name,
    test: c.test.name,
    name: c.name,
    options: run.options,
    args: run.args,
  };
  out.line(ktap.msg(` RUN           ${c.name} ...`));
  const md = new Metadata(info, line => out.err(line));
  const t = createContext(md, { errno: run.errno, internalFiles: run.internalFiles, sources: run.sources });
  let ending = 'normal' as Ending;
  let suiteCtx: { value: unknown } | undefined;

  const exception = (e: unknown): void => {
    if (e instanceof TestAbort || md.aborted) {
      if (md.aborted) ending = 'assert';
      return;
    }
    if (ending === 'normal') ending = 'exception';
    for (const l of (e instanceof Error ? e.stack ?? String(e) : inspect(e)).split('\n')) md.write(`# ${l}`);
  };
  const attempt = async (fn: () => unknown): Promise<boolean> => {
    try {
      await fn();
      return true;
    } catch (e) {
      exception(e);
      return false;
    }
  };

  const body = async (): Promise<void> => {
    if (run.context) {
      const hooks = run.context;
      if (!(await attempt(async () => (suiteCtx = { value: await hooks.create(info) })))) return;
      const value = suiteCtx?.value;
      if (value !== null && typeof value === 'object') {
        for (const key of Object.keys(value)) {
          if (RESERVED_CONTEXT_KEYS.has(key)) throw new Error(`suite context key '${key}' shadows the harness`);
        }
        Object.assign(t, value);
      }
    }
    const def = c.fixture.def;
    let self: unknown = undefined;
    if (def.setup) {
      const setup = def.setup.bind(def);
      await attempt(async () => (self = await setup(t as never, c.variant.data)));
    }
    if (md.exitCode !== KSFT_PASS || md.aborted || ending !== 'normal') return;
    const fn = c.test.fn as unknown as (t: unknown, self: unknown, v: unknown) => unknown;
    await attempt(() => fn(t, self, c.variant.data));
    if (md.aborted) ending = 'assert';
    if (def.teardown && !md.finished) {
      const teardown = def.teardown.bind(def);
      await attempt(() => teardown(t as never, self, c.variant.data));
    }
  };

  const seconds = c.test.timeout ?? run.timeout;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>(resolve => {
    timer = setTimeout(() => resolve('timeout'), seconds * 1000);
  });
  const outcome = await Promise.race([body().then(() => 'done' as const, (e: unknown) => (exception(e), 'done' as const)), timeout]);
  clearTimeout(timer);
  if (outcome === 'timeout') ending = 'timeout';
  else if (md.aborted && ending === 'normal') ending = 'assert';
  md.finished = true;

  if (suiteCtx && run.context?.destroy) {
    try {
      await run.context.destroy(suiteCtx.value, info);
    } catch (e) {
      out.err(`# ${c.test.name}: context destroy failed: ${String(e)}`);
      if (ending === 'normal') ending = 'exception';
    }
  }

  let code = md.exitCode;
  switch (ending) {
    case 'timeout':
      code = KSFT_FAIL;
      out.err(`# ${c.test.name}: Test terminated by timeout`);
      break;
    case 'assert':
      code = KSFT_FAIL;
      out.err(`# ${c.test.name}: Test terminated by assertion`);
      break;
    case 'exception':
      code = KSFT_FAIL;
      out.err(`# ${c.test.name}: Test terminated unexpectedly by exception`);
      break;
    case 'normal':
      if (code !== KSFT_SKIP && code !== KSFT_XPASS && code !== KSFT_XFAIL && code !== KSFT_PASS) {
        code = KSFT_FAIL;
        out.err(`# ${c.test.name}: Test failed`);
      }
      break;
  }
  out.line(ktap.msg(`         ${(testPassed(code) ? 'OK' : 'FAIL').padStart(4)}  ${c.name}`));

  const xfailReason = run.xfails.has(c.name) ? run.xfails.get(c.name) ?? '' : md.xfail;
  if (xfailReason !== undefined) code = testPassed(code) ? KSFT_XPASS : KSFT_XFAIL;

  let diagnostic: string | null;
  if (md.reason) diagnostic = md.reason;
  else if ((code === KSFT_XFAIL || code === KSFT_XPASS) && xfailReason) diagnostic = xfailReason;
  else if (code === KSFT_PASS || code === KSFT_FAIL) diagnostic = null;
  else diagnostic = 'unknown';

  ktap.countResult(out.counts, code);
  const num = ktap.testNum(out.counts);
  out.line(ktap.resultCode(code, num, c.name, diagnostic));
  out.results.push({ num, name: c.name, exitCode: code, diagnostic });
  return code;
}
