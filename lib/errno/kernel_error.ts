// SPDX-License-Identifier: GPL-2.0-only
import { AnyErrno, errnoNumber, strerror } from './errno';

export interface ErrorContext {
  syscall?: string;
  path?: string;
  ioctl?: string;
}

/**
 * The one error shape inside the emulator: an errno name plus its positive number, as C sees it.
 * Inner code throws `kerr('EINVAL')`; the syscall boundary (lib/fs/syscalls.ts) adds context once
 * and turns it into `-errno`.
 */
export class KernelError extends Error {
  override readonly name = 'KernelError';
  readonly code: AnyErrno;
  readonly context: ErrorContext;
  readonly detail: string | undefined;

  constructor(code: AnyErrno, context: ErrorContext = {}, detail?: string) {
    super(formatMessage(code, context, detail));
    this.code = code;
    this.context = context;
    this.detail = detail;
  }

  /** Positive, as in C's `errno`. */
  get errno(): number {
    return errnoNumber(this.code);
  }

  withContext(ctx: ErrorContext): KernelError {
    return new KernelError(this.code, { ...ctx, ...this.context }, this.detail);
  }
}

function formatMessage(code: AnyErrno, ctx: ErrorContext, detail?: string): string {
  let msg = `${code}: ${strerror(code)}`;
  if (ctx.syscall) msg += `, ${ctx.syscall}`;
  if (ctx.path) msg += ` '${ctx.path}'`;
  if (ctx.ioctl) msg += ` (${ctx.ioctl})`;
  if (detail) msg += ` — ${detail}`;
  return msg;
}

/** Build (not throw) a KernelError: `throw kerr('EINVAL')`. `detail` is for humans only. */
export const kerr = (code: AnyErrno, detail?: string): KernelError => new KernelError(code, {}, detail);

export function isKernelError(e: unknown): e is KernelError {
  return e instanceof KernelError;
}
