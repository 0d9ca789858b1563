// SPDX-License-Identifier: GPL-2.0-only
/**
 * fs/eventfd.c, as much as VFIO needs: an anonymous `[eventfd]` file whose 8-byte counter the
 * interrupt paths signal and userspace reads. Lives under lib/vfio/ because VFIO is its only
 * in-kernel user here.
 * @note emulation: a read of a zero counter returns EAGAIN (as with EFD_NONBLOCK) instead of blocking.
 */
import { kerr } from '../errno';
import type { FileOperations } from '../fs/chardev';
import type { Machine } from '../machine';

/** `struct eventfd_ctx` */
export interface EventfdCtx {
  count: bigint;
  /** Times the kernel side signalled it (for tests and tools). */
  signals: number;
}

const U64_MAX = (1n << 64n) - 1n;

export const eventfdFops = {
  name: 'eventfd',
  read(ctx: EventfdCtx, len: number): Uint8Array {
    if (len < 8) throw kerr('EINVAL');
    if (ctx.count === 0n) throw kerr('EAGAIN');
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, ctx.count, true);
    ctx.count = 0n;
    return out;
  },
  write(ctx: EventfdCtx, data: Uint8Array): number {
    if (data.length < 8) throw kerr('EINVAL');
    const v = new DataView(data.buffer, data.byteOffset, 8).getBigUint64(0, true);
    if (v === U64_MAX || ctx.count + v >= U64_MAX) throw kerr('EAGAIN');
    ctx.count += v;
    return 8;
  },
} as const satisfies FileOperations<EventfdCtx>;

/** `eventfd(initval, 0)`: returns the fd. */
export function eventfd(m: Machine, initval = 0): number {
  return m.sys.installAnon('[eventfd]', eventfdFops, { count: BigInt(initval), signals: 0 } satisfies EventfdCtx);
}

/** @see fs/eventfd.c:eventfd_ctx_fdget — EBADF for no file, EINVAL for another kind of file. */
export function eventfdCtxFdget(m: Machine, fd: number): EventfdCtx {
  const f = m.sys.fds.peek(fd);
  if (!f) throw kerr('EBADF');
  if (f.fops !== eventfdFops) throw kerr('EINVAL');
  return f.priv as EventfdCtx;
}

/** @see fs/eventfd.c:eventfd_signal */
export function eventfdSignal(ctx: EventfdCtx): void {
  ctx.count += 1n;
  ctx.signals++;
}

/** The counter behind an eventfd, for inspection. */
export function eventfdCtx(m: Machine, fd: number): EventfdCtx | undefined {
  const f = m.sys.fds.peek(fd);
  return f?.fops === eventfdFops ? (f.priv as EventfdCtx) : undefined;
}
