// SPDX-License-Identifier: GPL-2.0-only
/**
 * sysfs attribute I/O through raw syscalls, as a C consumer does it: open, one write,
 * close. Triplets: `tryWriteAttr` returns the count or -errno, `writeAttr` asserts the whole
 * buffer was consumed, `errWriteAttr` expects one errno.
 */
import { tryReadAttr as libTryReadAttr, tryWriteAttr as libTryWriteAttr } from '../../lib/index';
import type { Sys } from '../targets';
import type { SuiteT } from './suite';

/** open(O_WRONLY) + write + close: the open's or the write's -errno, else bytes written. */
export const tryWriteAttr = (sys: Sys, p: string, data: string | Uint8Array): number => libTryWriteAttr(sys, p, data);

export function writeAttr(t: SuiteT, sys: Sys, p: string, data: string | Uint8Array): void {
  t.assertEq(typeof data === 'string' ? Buffer.byteLength(data) : data.length, tryWriteAttr(sys, p, data));
}

export function errWriteAttr(t: SuiteT, sys: Sys, errno: string, p: string, data: string | Uint8Array): boolean {
  return t.expectErrno(errno, tryWriteAttr(sys, p, data));
}

/** open(O_RDONLY) + read to EOF + close: the content, or -errno. */
export const tryReadAttr = (sys: Sys, p: string): string | number => libTryReadAttr(sys, p);

export function readAttr(t: SuiteT, sys: Sys, p: string): string {
  const r = tryReadAttr(sys, p);
  if (typeof r === 'number') t.assertEq(0, r);
  return r as string;
}
