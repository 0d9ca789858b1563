// SPDX-License-Identifier: GPL-2.0-only
/**
 * The userspace helpers every consumer of raw syscalls writes for itself, written once: the
 * throwing wrapper of a `-errno` result, its errno name, sysfs attribute I/O the way a C program
 * does it (open, one write or read to EOF, close), and structs placed in and read back from a
 * process's memory. kselftest suites, the test builders and the convenience API all use these.
 */
import type { Decoded, Input, StructLayout } from '../abi';
import { decode, encode } from '../abi';
import type { UserAccess } from '../abi/uaccess';
import { Errno, errnoName, kerr } from '../errno';
import { O_RDONLY, O_WRONLY } from '../uapi/fcntl';

/** The syscalls these helpers need (a machine's `sys`, or any task's). */
export interface RawSys {
  open(path: string, flags?: number): number;
  read(fd: number, buf: Uint8Array): number;
  write(fd: number, data: Uint8Array | string): number;
  close(fd: number): number;
}

/**
 * The throwing wrapper of a raw result: `rc` when `rc >= 0`, else the KernelError of that errno
 * (`must(m.sys.ioctl(fd, VFIO_GROUP_GET_STATUS, p))`).
 */
export function must(rc: number, what?: string): number {
  if (rc >= 0) return rc;
  const name = errnoName(-rc);
  if (!name) throw new Error(`${what ?? 'syscall'} returned ${rc}, not a known -errno`);
  throw kerr(name, what);
}

/** The errno name of a raw result, or 0 for success. */
export function errnoOf(rc: number | bigint): Errno | 0 {
  if (rc >= 0) return 0;
  const name = errnoName(-Number(rc));
  if (!name) throw new Error(`${rc} is not a known -errno`);
  return name;
}

/** open(O_WRONLY) + one write + close: the open's or the write's -errno, else the bytes written. */
export function tryWriteAttr(sys: RawSys, path: string, data: string | Uint8Array): number {
  const fd = sys.open(path, O_WRONLY);
  if (fd < 0) return fd;
  const rc = sys.write(fd, data);
  sys.close(fd);
  return rc;
}

/** open(O_RDONLY) + read to EOF + close: the content (latin1), or the first -errno. */
export function tryReadAttr(sys: RawSys, path: string): string | number {
  const fd = sys.open(path, O_RDONLY);
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

/** A struct copied into fresh user memory (`size` bytes, zero-padded past the struct); its address. */
export function putStruct<L extends StructLayout<any>>( // eslint-disable-line @typescript-eslint/no-explicit-any
  mem: UserAccess & { alloc(init: Uint8Array | number): bigint },
  layout: L,
  value: Input<L>,
  size = layout.size,
): bigint {
  const bytes = new Uint8Array(size);
  bytes.set(encode(layout, value).subarray(0, size));
  return mem.alloc(bytes);
}

/** The struct at `addr` in user memory. */
export function getStruct<L extends StructLayout<any>>(mem: UserAccess, layout: L, addr: bigint): Decoded<L> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return decode(layout, mem.read(addr, layout.size));
}
