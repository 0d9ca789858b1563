// SPDX-License-Identifier: GPL-2.0-only
/**
 * sysfs attribute I/O through raw syscalls, as a C consumer does it: open, one write,
 * close. Triplets: `tryWriteAttr` returns the count or -errno, `writeAttr` asserts the whole
 * buffer was consumed, `errWriteAttr` expects one errno.
 */
import { O_RDONLY, O_WRONLY } from '../../lib/index';
import type { Sys } from '../targets';
import type { SuiteT } from './suite';

/** open(O_WRONLY) + write + close: the open's or the write's -errno, else bytes written. */
export function tryWriteAttr(sys: Sys, p: string, data: string | Uint8Array): number {
  const fd = sys.open(p, O_WRONLY);
  if (fd < 0) return fd;
  const rc = sys.write(fd, data);
  sys.close(fd);
  return rc;
}

export function writeAttr(t: SuiteT, sys: Sys, p: string, data: string | Uint8Array): void {
  t.assertEq(typeof data === 'string' ? Buffer.byteLength(data) : data.length, tryWriteAttr(sys, p, data));
}

export function errWriteAttr(t: SuiteT, sys: Sys, errno: string, p: string, data: string | Uint8Array): boolean {
  return t.expectErrno(errno, tryWriteAttr(sys, p, data));
}

/** open(O_RDONLY) + read to EOF + close: the content, or -errno. */
export function tryReadAttr(sys: Sys, p: string): string | number {
  const fd = sys.open(p, O_RDONLY);
  if (fd < 0) return fd;
  const chunks: Buffer[] = [];
  const buf = new Uint8Array(4096);
  for (;;) {
    const n = sys.read(fd, buf);
    if (n < 0) {
      sys.close(fd);
      return n;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  sys.close(fd);
  return Buffer.concat(chunks).toString('latin1');
}

export function readAttr(t: SuiteT, sys: Sys, p: string): string {
  const r = tryReadAttr(sys, p);
  if (typeof r === 'number') t.assertEq(0, r);
  return r as string;
}
