// SPDX-License-Identifier: GPL-2.0-only
/**
 * The AVA bridge: every conformance program under kselftest/, run in-process
 * with default options, must exit KSFT_PASS (skips allowed).
 */
import test from 'ava';
import { discover, loadProgram } from './run_lib';
import { KSFT_PASS } from './harness/exit_codes';

const programs = discover(__dirname);

for (const p of programs) {
  test(p.name, async t => {
    const r = await loadProgram(p.file)([], { env: { KSFT_TAP_LEVEL: '1' } });
    t.is(r.exitCode, KSFT_PASS, r.output);
    t.is(r.counts.fail + r.counts.error, 0, r.output);
  });
}

if (programs.length === 0) test.todo('no kselftest programs yet (kselftest/**/*_test.ts)');
