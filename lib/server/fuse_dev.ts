// SPDX-License-Identifier: GPL-2.0-only
/**
 * The /dev/fuse transport when this process holds the fd (root mounts): whole FUSE requests in,
 * whole replies out (the kernel takes each reply in one write(2), and never makes it wait).
 *
 * Until a mount has taken the fd, read(2) fails with EPERM and poll(2) says EPOLLERR, so the first
 * request (FUSE_INIT) is read on libuv's thread pool, retried until the mount(8) child is done.
 * From then on the fd is read from the event loop itself (epoll, non-blocking), through libuv's
 * pipe handle — it takes any pollable fd — which saves a thread-pool round trip per request;
 * where that handle is not available the thread-pool reads go on. The connection ends with
 * ENODEV when the filesystem is unmounted or its mount namespace goes away.
 *
 * The other transport is the native helper (fusermount3 mounts for users without root), which
 * relays the same messages over the control socket: see server.ts.
 *
 * @see fs/fuse/dev.c:fuse_dev_do_read, fs/fuse/dev.c:fuse_dev_do_write, fs/fuse/dev.c:fuse_dev_poll
 */
import * as net from 'node:net';
import * as nodeFs from 'node:fs';
import { FUSE_MIN_READ_BUFFER } from '../uapi/fuse';

export type FuseHandler = (msg: Uint8Array) => Uint8Array | undefined;

/**
 * The largest write the server takes. The kernel refuses reads smaller than max_write plus the
 * write headers, and an event-loop read offers 64 KiB: 32 KiB keeps well inside (sysfs stores
 * see one page at most anyway).
 */
export const FUSE_MAX_WRITE = 32 * 1024;
export const FUSE_READ_BUFFER = Math.max(FUSE_MIN_READ_BUFFER, FUSE_MAX_WRITE + 4096);

/** libuv's pipe handle on an fd, if this Node has it (it is internal, so it may not). */
function pollableStream(fd: number): net.Socket | undefined {
  try {
    const binding = (process as unknown as { binding(name: string): { Pipe: new (t: number) => { open(fd: number): number }; constants: { SOCKET: number } } }).binding('pipe_wrap');
    const handle = new binding.Pipe(binding.constants.SOCKET);
    if (handle.open(fd) !== 0) return undefined;
    return new net.Socket({ handle, readable: true, writable: false } as net.SocketConstructorOpts);
  } catch {
    return undefined;
  }
}

export class DevFuseChannel {
  private readonly buf = Buffer.alloc(FUSE_READ_BUFFER);
  private closed = false;
  private ended = false;
  private stream?: net.Socket;
  /** Resolves when the kernel ends the connection (unmount, abort) or `close()` is called. */
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private rejectDone!: (e: Error) => void;
  /** How requests are read now (tests and the benchmark report it). */
  mode: 'waiting' | 'thread pool' | 'event loop' = 'waiting';

  constructor(
    readonly fd: number,
    private readonly handler: FuseHandler,
    private readonly useEventLoop = true,
  ) {
    this.done = new Promise((res, rej) => {
      this.resolveDone = res;
      this.rejectDone = rej;
    });
  }

  start(): this {
    this.next();
    return this;
  }

  /** One read on the thread pool: the first request, or all of them without the pipe handle. */
  private next(): void {
    if (this.closed) return this.finish();
    nodeFs.read(this.fd, this.buf, 0, this.buf.length, null, (err, n) => {
      if (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // ENOENT: the request was interrupted before we read it; EINTR/EAGAIN: try again.
        if (code === 'ENOENT' || code === 'EINTR' || code === 'EAGAIN') return this.next();
        // EPERM: no mount has taken the fd yet (the mount(8) child is still on its way).
        if (code === 'EPERM' && this.mode === 'waiting') {
          setTimeout(() => this.next(), 2).unref?.();
          return;
        }
        if (code === 'ENODEV' || this.closed) return this.finish();
        return this.fail(err);
      }
      if (this.mode === 'waiting') this.mode = 'thread pool';
      if (!this.serve(this.buf.subarray(0, n))) return;
      if (this.mode === 'thread pool' && this.useEventLoop && this.switchToEventLoop()) return;
      this.next();
    });
  }

  private switchToEventLoop(): boolean {
    const s = pollableStream(this.fd);
    if (!s) return false;
    this.stream = s;
    this.mode = 'event loop';
    // Each read(2) of /dev/fuse returns exactly one request: one 'data' event each.
    s.on('data', (b: Buffer) => this.serve(b));
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENODEV' || this.closed) this.finish();
      else this.fail(e);
    });
    s.on('end', () => this.finish());
    return true;
  }

  private serve(msg: Uint8Array): boolean {
    try {
      const reply = this.handler(msg);
      if (reply) this.reply(reply);
      return true;
    } catch (e) {
      this.fail(e as Error);
      return false;
    }
  }

  /** Write one reply or notification. ENOENT: its request was interrupted meanwhile. */
  reply(msg: Uint8Array): void {
    try {
      nodeFs.writeSync(this.fd, msg);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENODEV') throw e;
    }
  }

  private finish(): void {
    if (this.end()) this.resolveDone();
  }

  private fail(e: Error): void {
    if (this.end()) this.rejectDone(e);
  }

  private end(): boolean {
    if (this.ended) return false;
    this.ended = true;
    if (this.stream) this.stream.destroy();
    else {
      try {
        nodeFs.closeSync(this.fd);
      } catch {
        // already gone
      }
    }
    return true;
  }

  /**
   * Stop serving. A thread-pool read in flight still returns when the filesystem goes away (the
   * caller unmounts); an event-loop reader stops at once.
   */
  close(): void {
    this.closed = true;
    if (this.stream) this.finish();
  }
}
