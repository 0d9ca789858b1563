// SPDX-License-Identifier: GPL-2.0-only
/**
 * kselftest exit codes.
 * @see tools/testing/selftests/kselftest.h (KSFT_PASS … KSFT_SKIP)
 */

export const KSFT_PASS = 0;
export const KSFT_FAIL = 1;
export const KSFT_XFAIL = 2;
export const KSFT_XPASS = 3;
export const KSFT_SKIP = 4;

export type KsftExitCode =
  | typeof KSFT_PASS
  | typeof KSFT_FAIL
  | typeof KSFT_XFAIL
  | typeof KSFT_XPASS
  | typeof KSFT_SKIP;

/** Seconds. @see tools/testing/selftests/kselftest_harness.h:TEST_TIMEOUT_DEFAULT */
export const TEST_TIMEOUT_DEFAULT = 30;
