// SPDX-License-Identifier: GPL-2.0-only
/**
 * How the live filesystem gets mounted, with and without root.
 *
 * - direct: this process opens /dev/fuse and a child mount(8) — in the caller's mount namespace
 *   for `iommu-emu mount`, inside `run`'s private one otherwise — mounts it with `fd=3`, the fd
 *   it inherited. The kernel requires the opener and the mount to share a user namespace, and
 *   needs CAP_SYS_ADMIN: root.
 * - helper: the setuid fusermount3 (Debian's fuse3) mounts on a directory the user owns and hands
 *   the fd to build/native/iommu-emu-fuse over SCM_RIGHTS; the helper relays requests over the
 *   control socket. `run` then bind-mounts that directory over /sys in its user namespace.
 *
 * @see fs/fuse/inode.c:fuse_fill_super (fd=, rootmode=, user_id=, group_id=; same user namespace)
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as nodeFs from 'node:fs';
import * as path from 'node:path';
import type { Connection, RunServer } from './server';

export type MountMode = 'direct' | 'helper';

/** The `-o` options of a direct mount for fd `fd` (owner uid/gid as the kernel will check them). */
export function directMountOptions(fd: number, uid = 0, gid = 0): string {
  return `fd=${fd},rootmode=40000,user_id=${uid},group_id=${gid},allow_other`;
}

/** `mount(8)` arguments for a direct FUSE mount of fd 3 at `dir` (no helper, no mtab). */
export function directMountArgs(dir: string): string[] {
  return ['-n', '-i', '-t', 'fuse.iommu-emu', '-o', directMountOptions(3), 'sysfs', dir];
}

/** The package's root (where package.json is), from this module's location in lib/ or dist/lib/. */
function packageRoot(): string {
  for (let d = __dirname; d !== path.dirname(d); d = path.dirname(d)) if (nodeFs.existsSync(path.join(d, 'package.json'))) return d;
  return process.cwd();
}

/** Where `make` puts the FUSE helper (IOMMU_EMU_FUSE_HELPER overrides). */
export function helperPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.IOMMU_EMU_FUSE_HELPER ?? path.join(packageRoot(), 'build', 'native', 'iommu-emu-fuse');
}

const onPath = (cmd: string, env: NodeJS.ProcessEnv): boolean =>
  (env.PATH ?? '/usr/bin:/bin').split(':').some((d) => d && nodeFs.existsSync(path.join(d, cmd)));

/**
 * Which way this process can mount the live /sys; the reason when neither works. Root mounts
 * directly (the helper route needs nothing root has not); everyone else needs the helper built
 * and fusermount3 installed.
 */
export function liveMountMode(env: NodeJS.ProcessEnv = process.env): { ok: true; mode: MountMode } | { ok: false; reason: string } {
  if (!nodeFs.existsSync('/dev/fuse')) return { ok: false, reason: '/dev/fuse does not exist (no FUSE in this kernel or container)' };
  if (process.getuid?.() === 0) {
    try {
      nodeFs.closeSync(nodeFs.openSync('/dev/fuse', 'r+'));
      return { ok: true, mode: 'direct' };
    } catch (e) {
      return { ok: false, reason: `cannot open /dev/fuse: ${(e as Error).message}` };
    }
  }
  const helper = helperPath(env);
  if (!nodeFs.existsSync(helper)) return { ok: false, reason: `the FUSE helper is not built (${helper}; run make)` };
  if (!onPath('fusermount3', env)) return { ok: false, reason: 'fusermount3 is not installed (Debian package fuse3)' };
  return { ok: true, mode: 'helper' };
}

/** Open /dev/fuse for a direct mount and start serving it. */
export function openDirect(server: RunServer): number {
  const fd = nodeFs.openSync('/dev/fuse', 'r+');
  server.attachDevFuse(fd);
  return fd;
}

/** Spawn a command and resolve with its exit code; its stderr is collected for the message. */
export function run(cmd: string, args: string[], opts: { stdio?: (number | 'ignore' | 'pipe' | 'inherit')[]; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { stdio: (opts.stdio ?? ['ignore', 'ignore', 'pipe']) as never, env: opts.env });
    let err = '';
    c.stderr?.on('data', (b: Buffer) => (err += b.toString()));
    c.on('error', (e) => resolve({ code: 127, stderr: e.message }));
    c.on('close', (code, sig) => resolve({ code: code ?? 128, stderr: err.trim() || (sig ? `killed by ${sig}` : '') }));
  });
}

export class MountError extends Error {
  override readonly name = 'MountError';
}

/** A mount this process made, and how to undo it. */
export interface LiveMount {
  readonly dir: string;
  readonly mode: MountMode;
  /** Unmount (lazily if busy) and wait until the filesystem is gone. */
  unmount(): Promise<void>;
}

/** Mount at `dir` in this process's mount namespace (the `iommu-emu mount` case). */
export async function mountLive(server: RunServer, dir: string, mode: MountMode, env: NodeJS.ProcessEnv = process.env): Promise<LiveMount> {
  if (mode === 'direct') {
    const fd = openDirect(server);
    // The child gets a copy of the fd; this process keeps serving its own.
    const r = await run('mount', directMountArgs(dir), { stdio: ['ignore', 'ignore', 'pipe', fd] });
    if (r.code !== 0) {
      await server.close();
      throw new MountError(`mount ${dir}: ${r.stderr || `mount exited with ${r.code}`}`);
    }
    return {
      dir,
      mode,
      unmount: async () => {
        const u = await run('umount', [dir]);
        if (u.code !== 0) await run('umount', ['-l', dir]);
      },
    };
  }
  const helper = await startHelper(server, dir, env);
  return {
    dir,
    mode,
    unmount: async () => {
      const u = await run('fusermount3', ['-u', dir], { env });
      if (u.code !== 0) await run('fusermount3', ['-u', '-z', dir], { env });
      await helper.exited;
    },
  };
}

export interface Helper {
  readonly child: ChildProcess;
  readonly conn: Connection;
  readonly exited: Promise<number>;
}

/** Start the native helper on `dir` and wait until it mounted and said HELLO. */
export async function startHelper(server: RunServer, dir: string, env: NodeJS.ProcessEnv = process.env): Promise<Helper> {
  const child = spawn(helperPath(env), [dir, server.socketPath, 'sysfs'], { stdio: ['ignore', 'ignore', 'pipe'], env });
  let err = '';
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number>((resolve) => {
    child.on('error', (e) => {
      err += e.message;
      resolve(127);
    });
    child.on('close', (code) => resolve(code ?? 128));
  });
  const r = await Promise.race([server.waitForFuseHelper().then((conn) => ({ conn })), exited.then((code) => ({ code }))]);
  if ('code' in r) throw new MountError(err.trim() || `iommu-emu-fuse exited with ${r.code}`);
  return { child, conn: r.conn, exited };
}

/** Whether `dir` is a mount point now (from /proc/self/mountinfo). */
export function isMounted(dir: string): boolean {
  const want = path.resolve(dir);
  try {
    return nodeFs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .some((l) => l.split(' ')[4]?.replace(/\\040/g, ' ') === want);
  } catch {
    return false;
  }
}
