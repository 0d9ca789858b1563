// SPDX-License-Identifier: GPL-2.0-only
/** CLI error kinds; only main.ts turns them into exit codes. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A failure already explained to the user; carries the exit code. */
export class ExitError extends Error {
  override readonly name = 'ExitError';
  constructor(readonly code: number, message = '') {
    super(message);
  }
}
