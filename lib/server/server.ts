// SPDX-License-Identifier: GPL-2.0-only
/**
 * The run server: one emulated machine, one event loop, several front doors. It owns a run
 * directory with the control socket (`ctl.sock`) every native front end connects to, and the
 * FUSE filesystem that serves the machine's /sys — through a /dev/fuse fd this process holds
 * (`attachDevFuse`) or through the native helper relaying over the control socket.
 *
 * The library never prints: problems on a connection are reported through `onError`.
 */
import * as net from 'node:net';
import * as nodeFs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Machine } from '../machine';
import {
  FrameReader,
  IOMMU_EMU_OP_FUSE,
  IOMMU_EMU_OP_HELLO,
  IOMMU_EMU_OP_IRQ,
  IOMMU_EMU_PROTOCOL_VERSION,
  IOMMU_EMU_ROLE_CONTROL,
  IOMMU_EMU_ROLE_FUSE,
  Request,
  encodeResponse,
  iommu_emu_req,
} from './channel';
import { loadNative } from './native';
import { PreloadFrontEnd } from './preload';
import { DevFuseChannel } from './fuse_dev';
import { FuseIdentity, SysfsFuse } from './sysfs_fuse';
import { errnoNumber, isKernelError } from '../errno';
import { vfioRaiseIrq } from '../vfio/vfio_pci_intrs';

export const CONTROL_SOCKET = 'ctl.sock';
/** The preload shim's socket in the run directory (served by the native module). */
export const PRELOAD_SOCKET = 'preload.sock';

export interface RunServerOptions extends FuseIdentity {
  /** Run directory to use (created when missing); default: a new one under `tmpdir`. */
  readonly dir?: string;
  /** Where a new run directory goes (default: os.tmpdir(), i.e. $TMPDIR or /tmp). */
  readonly tmpdir?: string;
  /** The emulated directory the filesystem serves (default /: its sys/ and dev/). */
  readonly root?: string;
  /** Connection-level problems (bad frames, a helper that went away). */
  readonly onError?: (e: Error) => void;
  /**
   * Serve the preload shim too (default true when the native module is built; `run` injects
   * the shim then). False: FUSE only.
   */
  readonly preload?: boolean;
  /** Microseconds the shim's loop waits for a next request before yielding (default 0). */
  readonly spinUs?: number;
}

/** One connected front end. */
export class Connection {
  role = 0;
  private readonly reader = new FrameReader(iommu_emu_req, 'in_len');

  constructor(
    readonly socket: net.Socket,
    private readonly server: RunServer,
  ) {
    socket.on('data', (b: Buffer) => this.onData(b));
    socket.on('error', (e) => server.reportError(e));
  }

  private onData(b: Buffer): void {
    let frames;
    try {
      frames = this.reader.push(b);
    } catch (e) {
      this.server.reportError(e as Error);
      this.socket.destroy();
      return;
    }
    for (const f of frames) this.server.dispatch(this, f.header, f.payload);
  }

  send(frame: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(frame);
  }
}

export class RunServer {
  readonly dir: string;
  readonly socketPath: string;
  readonly fuse: SysfsFuse;
  private readonly ownsDir: boolean;
  private readonly net: net.Server;
  private readonly conns = new Set<Connection>();
  private devChannel?: DevFuseChannel;
  private fuseWaiters: ((c: Connection) => void)[] = [];
  private fuseConn?: Connection;
  /** The preload shim's front end, when the native module is there. */
  readonly preload: PreloadFrontEnd | undefined;
  /** Why there is no preload front end. */
  readonly preloadUnavailable: string | undefined;

  private constructor(
    readonly machine: Machine,
    private readonly opts: RunServerOptions,
    dir: string,
    ownsDir: boolean,
  ) {
    this.dir = dir;
    this.ownsDir = ownsDir;
    this.socketPath = path.join(dir, CONTROL_SOCKET);
    this.fuse = new SysfsFuse(machine, opts.root ?? '/', opts);
    if (opts.preload === false) this.preloadUnavailable = 'not asked for';
    else {
      const n = loadNative();
      if (n.ok)
        this.preload = new PreloadFrontEnd(machine, path.join(dir, PRELOAD_SOCKET), n.binding, {
          ownerUid: opts.ownerUid ?? 0,
          onError: (e) => this.reportError(e),
          spinUs: opts.spinUs,
        });
      else this.preloadUnavailable = n.reason;
    }
    this.net = net.createServer((s) => {
      const c = new Connection(s, this);
      this.conns.add(c);
      s.on('close', () => {
        this.conns.delete(c);
        if (this.fuseConn === c) this.fuseConn = undefined;
      });
    });
  }

  /** Create the run directory (0700) and listen on its control socket. */
  static async start(machine: Machine, opts: RunServerOptions = {}): Promise<RunServer> {
    let dir = opts.dir;
    let owns = false;
    if (!dir) {
      dir = nodeFs.mkdtempSync(path.join(opts.tmpdir ?? os.tmpdir(), 'iommu-emu-run-'));
      owns = true;
    } else if (!nodeFs.existsSync(dir)) {
      nodeFs.mkdirSync(dir, { mode: 0o700 });
      owns = true;
    }
    const s = new RunServer(machine, opts, dir, owns);
    await new Promise<void>((resolve, reject) => {
      s.net.once('error', reject);
      s.net.listen(s.socketPath, () => {
        s.net.off('error', reject);
        resolve();
      });
    });
    return s;
  }

  reportError(e: Error): void {
    this.opts.onError?.(e);
  }

  /** Serve the filesystem on a /dev/fuse fd this process opened (mounted by a child with fd=N). */
  attachDevFuse(fd: number): DevFuseChannel {
    this.devChannel = new DevFuseChannel(fd, (msg) => this.fuse.handle(msg)).start();
    return this.devChannel;
  }

  /** Resolves with the helper's connection once one said HELLO as the FUSE front end. */
  waitForFuseHelper(): Promise<Connection> {
    if (this.fuseConn) return Promise.resolve(this.fuseConn);
    return new Promise((resolve) => this.fuseWaiters.push(resolve));
  }

  dispatch(c: Connection, h: Request, payload: Buffer): void {
    switch (h.opcode) {
      case IOMMU_EMU_OP_HELLO: {
        c.role = Number(h.arg);
        c.send(encodeResponse({ opcode: h.opcode, id: h.id, result: BigInt(IOMMU_EMU_PROTOCOL_VERSION) }));
        if (c.role === IOMMU_EMU_ROLE_FUSE) {
          this.fuseConn = c;
          for (const w of this.fuseWaiters.splice(0)) w(c);
        }
        return;
      }
      case IOMMU_EMU_OP_IRQ: {
        if (c.role !== IOMMU_EMU_ROLE_CONTROL) {
          c.send(encodeResponse({ opcode: h.opcode, id: h.id, result: -BigInt(errnoNumber('EPERM')) }));
          return;
        }
        let result = 0n;
        try {
          this.raiseIrq(payload.toString('utf8').replace(/\0.*$/s, ''), h.cmd, Number(h.arg));
        } catch (e) {
          if (!isKernelError(e)) throw e;
          result = -BigInt(e.errno);
        }
        c.send(encodeResponse({ opcode: h.opcode, id: h.id, result }));
        return;
      }
      case IOMMU_EMU_OP_FUSE: {
        if (c.role !== IOMMU_EMU_ROLE_FUSE) {
          c.send(encodeResponse({ opcode: h.opcode, id: h.id, result: -BigInt(errnoNumber('EPERM')) }));
          return;
        }
        let reply: Uint8Array | undefined;
        try {
          reply = this.fuse.handle(payload);
        } catch (e) {
          this.reportError(e as Error);
          return;
        }
        if (reply) c.send(encodeResponse({ opcode: h.opcode, id: h.id, result: 0n }, reply));
        return;
      }
      default:
        c.send(encodeResponse({ opcode: h.opcode, id: h.id, result: -BigInt(errnoNumber('ENOSYS')) }));
    }
  }

  /**
   * The device raises interrupt `vector` of IRQ index `index` (VFIO_PCI_MSIX_IRQ_INDEX, …): the
   * eventfd a program wired to it with VFIO_DEVICE_SET_IRQS is signalled. Throws a KernelError
   * (ENODEV: not an open VFIO device; EINVAL: not enabled, or no eventfd on that vector).
   */
  raiseIrq(bdf: string, index: number, vector: number): void {
    vfioRaiseIrq(this.machine.kernelContext, bdf, index, vector);
  }

  /**
   * Stop listening, drop every connection, remove the socket and, if the server made it, the
   * run directory with the empty mount points in it. Never recursive: a directory still mounted
   * (by a program that outlived its run) stays, and rmdir's error says so, rather than this
   * process walking into the filesystem it serves.
   */
  async close(): Promise<void> {
    this.devChannel?.close();
    this.preload?.close();
    for (const c of this.conns) c.socket.destroy();
    await new Promise<void>((resolve) => this.net.close(() => resolve()));
    nodeFs.rmSync(this.socketPath, { force: true });
    nodeFs.rmSync(path.join(this.dir, PRELOAD_SOCKET), { force: true });
    if (!this.ownsDir) return;
    for (const name of nodeFs.readdirSync(this.dir)) nodeFs.rmdirSync(path.join(this.dir, name));
    nodeFs.rmdirSync(this.dir);
  }
}
