// SPDX-License-Identifier: GPL-2.0-only
/**
 * The run server's native half (native/iommu_emu_node.c, a Node-API module `make` builds with
 * gcc against the Node headers of the nodejs package): the preload shim's socket served from the
 * event loop with plain read/sendmsg, and the host syscalls Node has no binding for —
 * process_vm_readv/writev, PROCMAP_QUERY, pidfd_open/pidfd_getfd, socketpair placeholders,
 * memfds mapped into this process. Optional: without it `run` works, without the shim.
 */
import * as nodeFs from 'node:fs';
import * as path from 'node:path';
import { IOMMU_EMU_PROTOCOL_VERSION } from './channel';

/** An opaque server handle (a C struct). */
export interface NativeServer {
  readonly __native: unique symbol;
}

export interface NativeHandlers {
  /** A front end connected; its credentials as the kernel saw them at connect(2) (SO_PEERCRED). */
  connect(conn: number, pid: number, uid: number, gid: number): void;
  /** A frame of `len` bytes is in `buffers().req`; return the reply's length in `buffers().rsp` (0: none). */
  request(conn: number, len: number): number;
  /** The last reference to the placeholder whose far end this is went away, in every process. */
  hup(farEnd: number): void;
  /** A watched process exited; `token` is what watchPid returned for it. */
  exit(pid: number, token: number): void;
  close(conn: number): void;
}

export interface NativeBinding {
  readonly protocolVersion: number;
  serve(path: string, handlers: NativeHandlers, spinUs: number): NativeServer;
  stop(s: NativeServer): void;
  buffers(s: NativeServer): { readonly req: Buffer; readonly rsp: Buffer };
  /** Send these fds with the reply being built (closed after sending when `closeAfter`). */
  attachFds(s: NativeServer, fds: readonly number[], closeAfter: boolean): void;
  send(s: NativeServer, conn: number, frame: Uint8Array): number;
  /** [farEnd, programEnd, inode of programEnd], or -errno. */
  placeholder(s: NativeServer): [number, number, number] | number;
  dropPlaceholder(s: NativeServer, farEnd: number): void;
  /** Run the hup handler now for every placeholder with no reference left. */
  reap(s: NativeServer): void;
  /** Call `exit` when the process exits: a token (its pidfd here), or -errno. */
  watchPid(s: NativeServer, pid: number): number;
  /** A copy here of fd `fd` of process `pid` (pidfd_getfd), or -errno. */
  getfd(pid: number, fd: number): number;
  vmRead(pid: number, addr: bigint, buf: Uint8Array): number;
  vmWrite(pid: number, addr: bigint, buf: Uint8Array): number;
  /** The VMA covering `addr` or the next one: out = [start, end, PROCMAP_QUERY_VMA_* flags]; 0 or -errno. */
  vmaQuery(mapsFd: number, addr: bigint, out: BigUint64Array): number;
  memfd(name: string): number;
  mapShared(fd: number, offset: number, length: number): ArrayBuffer;
}

/** The package's root (where package.json is), from this module's location in lib/ or dist/lib/. */
function packageRoot(): string {
  for (let d = __dirname; d !== path.dirname(d); d = path.dirname(d)) if (nodeFs.existsSync(path.join(d, 'package.json'))) return d;
  return process.cwd();
}

/** Where `make` puts the native files (IOMMU_EMU_NATIVE_DIR overrides). */
export function nativeDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.IOMMU_EMU_NATIVE_DIR ?? path.join(packageRoot(), 'build', 'native');
}

/** The preload library `run` injects. */
export function preloadLibraryPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(nativeDir(env), 'libiommu-emu-preload.so');
}

/** Why the preload shim cannot serve a program here (its server module or its library is not built), or undefined. */
export function preloadUnavailable(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const n = loadNative(env);
  if (!n.ok) return n.reason;
  const lib = preloadLibraryPath(env);
  return nodeFs.existsSync(lib) ? undefined : `${lib} is not built (make)`;
}

let cached: { ok: true; binding: NativeBinding } | { ok: false; reason: string } | undefined;

/** The native module, or why there is none (not built; built for another protocol). */
export function loadNative(env: NodeJS.ProcessEnv = process.env): { ok: true; binding: NativeBinding } | { ok: false; reason: string } {
  if (cached) return cached;
  const file = path.join(nativeDir(env), 'iommu_emu_node.node');
  if (!nodeFs.existsSync(file)) return (cached = { ok: false, reason: `the native module is not built (${file}; run make, which needs gcc and the Node headers)` });
  try {
    const binding = require(file) as NativeBinding; // eslint-disable-line @typescript-eslint/no-require-imports
    if (binding.protocolVersion !== IOMMU_EMU_PROTOCOL_VERSION)
      return (cached = { ok: false, reason: `${file} speaks protocol ${binding.protocolVersion}, this server ${IOMMU_EMU_PROTOCOL_VERSION}: run make` });
    return (cached = { ok: true, binding });
  } catch (e) {
    return (cached = { ok: false, reason: `cannot load ${file}: ${(e as Error).message}` });
  }
}
