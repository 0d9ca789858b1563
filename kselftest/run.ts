// SPDX-License-Identifier: GPL-2.0-only
/**
 * `make run_tests`: every kselftest/**\/*_test.ts program, nested as KTAP v1,
 * ending with the plain `N passed, N failed, N skipped` line. See run_lib.ts.
 * Unknown program options, hosts and targets are refused (exit 2); on a terminal, stderr shows
 * which program is running.
 */
import { checkSuiteArgs } from './lib/suite_args';
import { runnerMain } from './run_lib';

const tty = process.stderr.isTTY === true;
runnerMain(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  defaultRoot: __dirname,
  check: (a) => checkSuiteArgs(a.options),
  ...(tty ? { progress: (i: number, n: number, name: string) => process.stderr.write(`[${i}/${n}] ${name}\n`) } : {}),
}).then(
  r => process.stdout.write('', () => process.exit(r.exitCode)),
  (e: unknown) => {
    process.stderr.write(`run.ts: ${String(e instanceof Error ? e.stack : e)}\n`);
    process.exit(1);
  },
);
