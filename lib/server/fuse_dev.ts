// SPDX-License-Identifier: GPL-2.0-only
/**
 * Transports between the kernel's FUSE connection and a request handler. Each one delivers whole
 * FUSE requests and takes whole replies (the kernel needs every reply in one write(2)).
 *
 * - `DevFuseChannel`: this process holds the /dev/fuse fd. Reads block, so they run on libuv's
 *   thread pool (one in flight at a time); replies are written synchronously, which never blocks
 *   on /dev/fuse. The connection ends with ENODEV when the filesystem is unmounted or its mount
 *   namespace goes away.
 * - `StreamFuseChannel`: the fd lives in the native helper (it got it from fusermount3), which
 *   relays each request and reply over the run server's control socket, framed by its header.
 *
 * @see fs/fuse/dev.c:fuse_dev_do_read, fs/fuse/dev.c:fuse_dev_do_write
 */
import * as nodeFs from 'node:fs';
import { FUSE_MIN_READ_BUFFER } from '../uapi/fuse';

export type FuseHandler = (msg: Uint8Array) => Uint8Array | undefined;

/** Room for the largest write the server accepts (max_write 128 KiB) plus its headers. */
export const FUSE_READ_BUFFER = Math.max(FUSE_MIN_READ_BUFFER, 128 * 1024 + 4096);

export class DevFuseChannel {
  private readonly buf = Buffer.alloc(FUSE_READ_BUFFER);
  private closed = false;
  /** Set by the first request: a mount has connected the fd. */
  private attached = false;
  /** Resolves when the kernel ends the connection (unmount, abort) or `close()` is called. */
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private rejectDone!: (e: Error) => void;

  constructor(
    readonly fd: number,
    private readonly handler: FuseHandler,
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

  private next(): void {
    if (this.closed) return this.finish();
    nodeFs.read(this.fd, this.buf, 0, this.buf.length, null, (err, n) => {
      if (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // ENOENT: the request was interrupted before we read it; EINTR/EAGAIN: try again.
        if (code === 'ENOENT' || code === 'EINTR' || code === 'EAGAIN') return this.next();
        // EPERM: no mount has taken the fd yet (the mount(8) child is still on its way).
        if (code === 'EPERM' && !this.attached) {
          setTimeout(() => this.next(), 2).unref?.();
          return;
        }
        if (code === 'ENODEV' || this.closed) return this.finish();
        return this.fail(err);
      }
      this.attached = true;
      try {
        const reply = this.handler(this.buf.subarray(0, n));
        if (reply) this.reply(reply);
      } catch (e) {
        return this.fail(e as Error);
      }
      this.next();
    });
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
    this.closeFd();
    this.resolveDone();
  }

  private fail(e: Error): void {
    this.closeFd();
    this.rejectDone(e);
  }

  private closeFd(): void {
    if (this.fdClosed) return;
    this.fdClosed = true;
    try {
      nodeFs.closeSync(this.fd);
    } catch {
      // already gone
    }
  }
  private fdClosed = false;

  /** Stop after the read in flight returns (the caller unmounts, which makes it return). */
  close(): void {
    this.closed = true;
  }
}
