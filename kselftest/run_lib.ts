// SPDX-License-Identifier: GPL-2.0-only
/**
 * The top-level kselftest runner: discovers `*_test.ts` programs, runs each
 * in-process, and nests their output as KTAP v1 subtests.
 *
 * @see tools/testing/selftests/kselftest/runner.sh:run_one (KSFT_TAP_LEVEL, per-program result line)
 * @see Documentation/dev-tools/ktap.rst ("Nested tests")
 * @note emulation: programs are required and run in this process, sequentially,
 *       instead of being exec'd; their stderr is merged into the nested stream
 *       in write order, as runner.sh's `2>&1` does.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { inspect } from 'node:util';
import type { ProgramIo, ProgramMain, ProgramResult, Sink } from './harness/kselftest_harness';
import { KSFT_FAIL, KSFT_PASS, KSFT_SKIP, KSFT_XFAIL } from './harness/exit_codes';
import * as ktap from './harness/ktap';

export const PROGRAM_SUFFIX = '_test.ts';
/** Directories never searched below the root: sample programs for the harness's own tests live in `fixtures/`. */
const SKIP_DIRS = new Set(['fixtures', 'node_modules']);

export interface Program {
  /** Path relative to the root, without `.ts`, `/`-separated: `iommu/iommufd_test`. */
  readonly name: string;
  readonly file: string;
}

export function discover(root: string): Program[] {
  const found: Program[] = [];
  const walk = (dir: string): void => {
    const entries = fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name) && !e.name.startsWith('.')) walk(full);
      } else if (e.isFile() && e.name.endsWith(PROGRAM_SUFFIX)) {
        found.push({ name: path.relative(root, full).split(path.sep).join('/').replace(/\.ts$/, ''), file: full });
      }
    }
  };
  walk(root);
  return found.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** A filter matches the program's full name or its basename (`iommufd_test`, `iommu/iommufd_test`). */
export function selectPrograms(programs: readonly Program[], filters: readonly string[]): Program[] {
  if (filters.length === 0) return [...programs];
  const norm = (f: string): string => f.replace(/\.ts$/, '');
  return programs.filter(p => filters.some(f => norm(f) === p.name || norm(f) === path.posix.basename(p.name)));
}

export function loadProgram(file: string): ProgramMain {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(file) as { main?: unknown };
  if (typeof mod.main !== 'function') throw new Error(`${file} does not export main(argv, io)`);
  return mod.main as ProgramMain;
}

export interface RunnerArgs {
  readonly root: string | undefined;
  readonly programs: readonly string[];
  /** Forwarded to every program, in order. */
  readonly passthrough: readonly string[];
  /** The `--opt[=value]` options among them (before any `--`), for a caller that checks them. */
  readonly options: readonly string[];
  readonly list: boolean;
  readonly help: boolean;
}

export const RUNNER_USAGE =
  'Usage: run.ts [-h] [-l] [--root DIR] [-p NAME]... [NAME]... [--opt[=value]]... [-- program args]\n' +
  '\t-h          print help\n' +
  '\t-l          list programs\n' +
  '\t--root DIR  discover *_test.ts programs under DIR (default: kselftest/)\n' +
  '\t-p NAME     run only program NAME (repeatable; also as operands)\n' +
  '\t--opt=value, --opt value, --flag\n' +
  '\t            forwarded to every program (e.g. --target emulator, --host FILE)\n' +
  '\t-- args     everything after -- is forwarded verbatim\n' +
  '\n' +
  "An unknown '--opt' takes the next argument as its value unless that starts with '-';\n" +
  "use '--opt=value' or put boolean flags last to avoid ambiguity.\n";

export function parseRunnerArgs(argv: readonly string[]): RunnerArgs | { readonly error: string } {
  let root: string | undefined;
  const programs: string[] = [];
  const passthrough: string[] = [];
  const options: string[] = [];
  let list = false;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const next = (): string | undefined => (i + 1 < argv.length ? (argv[++i] as string) : undefined);
    if (a === '--') {
      passthrough.push(...argv.slice(i + 1));
      break;
    } else if (a === '-h' || a === '--help') {
      help = true;
    } else if (a === '-l') {
      list = true;
    } else if (a === '-p') {
      const v = next();
      if (v === undefined) return { error: "option requires an argument -- 'p'" };
      programs.push(v);
    } else if (a.startsWith('-p') && !a.startsWith('--')) {
      programs.push(a.slice(2));
    } else if (a === '--root') {
      root = next();
      if (root === undefined) return { error: "option '--root' requires an argument" };
    } else if (a.startsWith('--root=')) {
      root = a.slice('--root='.length);
    } else if (a.startsWith('--')) {
      passthrough.push(a);
      options.push(a);
      const v = argv[i + 1];
      if (!a.includes('=') && v !== undefined && !v.startsWith('-')) {
        passthrough.push(next() as string);
        options.push(passthrough[passthrough.length - 1] as string);
      }
    } else if (a.startsWith('-') && a !== '-') {
      return { error: `invalid option -- '${a.slice(1)}' (put program options after --)` };
    } else {
      programs.push(a);
    }
  }
  return { root, programs, passthrough, options, list, help };
}

/** Test-case totals across programs, for the final plain line. */
export interface RunTotals {
  passed: number;
  failed: number;
  skipped: number;
}

export interface ProgramOutcome {
  readonly program: Program;
  readonly ok: boolean;
  /** undefined when the program crashed or could not be loaded. */
  readonly result: ProgramResult | undefined;
}

export interface RunnerResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly totals: RunTotals;
  readonly programs: readonly ProgramOutcome[];
}

export interface RunnerOptions {
  readonly root: string;
  readonly filters?: readonly string[];
  readonly passthrough?: readonly string[];
  readonly stdout?: Sink;
  /** Environment given to the programs; KSFT_TAP_LEVEL is always set. */
  readonly env?: ktap.Env;
  readonly load?: (file: string) => ProgramMain;
  readonly progress?: (index: number, total: number, name: string) => void;
}

/**
 * `passed` counts what the harness's pass_count counts (pass, XFAIL, XPASS);
 * a program that crashed counts as one failure.
 */
export const plainLine = (t: RunTotals): string => `${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped`;

/** Splits chunks into lines and writes each one indented one KTAP level. */
class IndentSink implements Sink {
  private partial = '';
  constructor(private readonly emit: (line: string) => void) {}
  write(chunk: string): void {
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() ?? '';
    for (const l of parts) this.emit(ktap.indent([l])[0] as string);
  }
  flush(): void {
    if (this.partial) this.write('\n');
  }
}

export async function runPrograms(opts: RunnerOptions): Promise<RunnerResult> {
  let stdout = '';
  const line = (l: string): void => {
    stdout += `${l}\n`;
    opts.stdout?.write(`${l}\n`);
  };
  const programs = selectPrograms(discover(opts.root), opts.filters ?? []);
  const load = opts.load ?? loadProgram;
  const env: ktap.Env = { ...(opts.env ?? process.env), KSFT_TAP_LEVEL: '1' };
  const totals: RunTotals = { passed: 0, failed: 0, skipped: 0 };
  const outcomes: ProgramOutcome[] = [];

  line(ktap.KTAP_VERSION_1);
  line(ktap.plan(programs.length));
  for (const [i, program] of programs.entries()) {
    const num = i + 1;
    opts.progress?.(num, programs.length, program.name);
    const child = new IndentSink(line);
    child.write(`${ktap.KTAP_VERSION_1}\n`);
    const io: ProgramIo = { stdout: child, stderr: child, env };
    let result: ProgramResult | undefined;
    try {
      result = await load(program.file)(opts.passthrough ?? [], io);
    } catch (e) {
      child.write(inspect(e).split('\n').map(l => `# ${l}\n`).join(''));
    }
    child.flush();
    if (!result) {
      totals.failed++;
      line(ktap.ktapResult(false, num, program.name, 'ERROR', 'program crashed'));
      outcomes.push({ program, ok: false, result });
      continue;
    }
    totals.passed += result.counts.pass + result.counts.xfail + result.counts.xpass;
    totals.failed += result.counts.fail + result.counts.error;
    totals.skipped += result.counts.skip;
    const code = result.exitCode;
    const ok = code === KSFT_PASS || code === KSFT_SKIP || code === KSFT_XFAIL;
    const directive = code === KSFT_SKIP ? 'SKIP' : code === KSFT_XFAIL ? 'XFAIL' : undefined;
    const diag = ok || code === KSFT_FAIL ? undefined : `exit=${code}`;
    line(ktap.ktapResult(ok, num, program.name, directive, diag));
    outcomes.push({ program, ok, result });
  }

  const ran = totals.passed + totals.failed + totals.skipped;
  if (programs.length === 0) line(ktap.msg(`no *${PROGRAM_SUFFIX} programs selected under ${opts.root}`));
  else if (ran === 0) line(ktap.msg('no tests were run'));
  const exitCode = programs.length === 0 || ran === 0 || outcomes.some(o => !o.ok) ? KSFT_FAIL : KSFT_PASS;
  line(plainLine(totals));
  return { exitCode, stdout, totals, programs: outcomes };
}

/** The whole CLI, minus process.exit: `run.ts` is a shim around this. */
/** Exit code of a command line the runner refuses (as getopt-style tools do). */
export const USAGE_EXIT = 2;

export async function runnerMain(
  argv: readonly string[],
  io: {
    stdout?: Sink;
    stderr?: Sink;
    env?: ktap.Env;
    defaultRoot: string;
    /** Checks the forwarded options before anything runs: an error message refuses the command line. */
    check?: (args: RunnerArgs) => string | undefined;
    /** Called before each program (progress on a terminal). */
    progress?: (index: number, total: number, name: string) => void;
  },
): Promise<{ exitCode: number; stdout: string }> {
  const refuse = (message: string) => {
    io.stderr?.write(`run.ts: ${message}\n${RUNNER_USAGE.split('\n')[0]}\n`);
    return { exitCode: USAGE_EXIT, stdout: '' };
  };
  const args = parseRunnerArgs(argv);
  if ('error' in args) return refuse(args.error);
  const refused = args.help ? undefined : io.check?.(args);
  if (refused !== undefined) return refuse(refused);
  if (args.help) {
    io.stderr?.write(RUNNER_USAGE);
    return { exitCode: KSFT_PASS, stdout: '' };
  }
  const root = path.resolve(args.root ?? io.defaultRoot);
  if (args.list) {
    const text = selectPrograms(discover(root), args.programs).map(p => `${p.name}\n`).join('');
    io.stdout?.write(text);
    return { exitCode: KSFT_PASS, stdout: text };
  }
  const r = await runPrograms({
    root,
    filters: args.programs,
    passthrough: args.passthrough,
    ...(io.stdout ? { stdout: io.stdout } : {}),
    ...(io.env ? { env: io.env } : {}),
    ...(io.progress ? { progress: io.progress } : {}),
  });
  return { exitCode: r.exitCode, stdout: r.stdout };
}
