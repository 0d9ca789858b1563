// SPDX-License-Identifier: GPL-2.0-only
/**
 * fs/eventfd.c, as much as VFIO needs: an anonymous `[eventfd]` file whose 8-byte counter the
 * interrupt paths signal and userspace reads. In-kernel users hold the context, not the fd, so a
 * signal still lands after userspace closed its fd.
 * @note emulation: a read of a zero counter returns EAGAIN (as with EFD_NONBLOCK) instead of blocking.
 */
import { kerr } from '../errno';
import { U64_MAX } from '../kernel/limits';
import type { FilesStruct } from '../task/fdtable';
import type { FileOperations } from '../task/file_table';
import { O_RDWR } from '../uapi/fcntl';
import type { Syscalls } from './syscalls';

/** `struct eventfd_ctx` */
export interface EventfdCtx {
  count: bigint;
  /** Times the kernel side signalled it (for tests and tools). */
  signals: number;
  /** Signalled from outside the emulator (a front end forwards to a real eventfd). */
  onSignal?: (ctx: EventfdCtx) => void;
}

export const eventfdFops = {
  name: 'eventfd',
  read(f, len): Uint8Array {
    const ctx = f.privateData;
    if (len < 8) throw kerr('EINVAL');
    if (ctx.count === 0n) throw kerr('EAGAIN');
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, ctx.count, true);
    ctx.count = 0n;
    return out;
  },
  write(f, data): number {
    const ctx = f.privateData;
    if (data.length < 8) throw kerr('EINVAL');
    const v = new DataView(data.buffer, data.byteOffset, 8).getBigUint64(0, true);
    if (v === U64_MAX || ctx.count + v >= U64_MAX) throw kerr('EAGAIN');
    ctx.count += v;
    return 8;
  },
} as const satisfies FileOperations<EventfdCtx>;

/** `eventfd(initval, 0)` in the process whose syscalls `p` are: returns the fd. */
export function eventfd(p: { readonly sys: Syscalls }, initval = 0): number {
  return p.sys.installAnon('[eventfd]', eventfdFops, { count: BigInt(initval), signals: 0 } satisfies EventfdCtx, O_RDWR);
}

/** @see fs/eventfd.c:eventfd_ctx_fdget — EBADF for no file, EINVAL for another kind of file. */
export function eventfdCtxFdget(files: FilesStruct, fd: number): EventfdCtx {
  const f = files.peek(fd);
  if (!f) throw kerr('EBADF');
  if (f.fop !== (eventfdFops as FileOperations<unknown>)) throw kerr('EINVAL');
  return f.privateData as EventfdCtx;
}

/** @see fs/eventfd.c:eventfd_signal */
export function eventfdSignal(ctx: EventfdCtx): void {
  ctx.count += 1n;
  ctx.signals++;
  ctx.onSignal?.(ctx);
}

/** The counter behind an eventfd of `p`'s process, for inspection. */
export function eventfdCtx(p: { readonly sys: Syscalls }, fd: number): EventfdCtx | undefined {
  const f = p.sys.fds.peek(fd);
  return f?.fop === (eventfdFops as FileOperations<unknown>) ? (f.privateData as EventfdCtx) : undefined;
}
