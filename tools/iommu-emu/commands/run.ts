// SPDX-License-Identifier: GPL-2.0-only
/**
 * Run an unmodified program against an emulated host. The machine runs as a server in this
 * process and its /sys is mounted live over /sys in a private mount namespace (a user namespace
 * too when not root): reads render from the model, writes run the kernel's store() with its errno.
 * The program's exit status comes back, and the run directory is removed whatever happens.
 *
 * Without a way to mount FUSE (no /dev/fuse; not root and no fusermount3 or helper) the program
 * gets a static snapshot instead, and stderr says so.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as nodeFs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  DEFAULT_HOST,
  Machine,
  MountError,
  RunServer,
  directMountOptions,
  exportTree,
  liveMountMode,
  openDirect,
  startHelper,
} from '../../../lib/index';
import { Command, flag } from '../command';
import { hostOptions, machineFrom } from '../host_args';
import { ExitError, UsageError } from '../errors';
import type { CommandIO } from '../io';
import { exportMetadata } from './export';

/**
 * The shell step inside the namespace: `sh -c INNER sh MODE RUN SYS VFIO CMD…`. MODE `direct`
 * mounts the /dev/fuse fd inherited as fd 3 on RUN/live first (root), `bind` finds SYS ready.
 * Then SYS goes over /sys and, when the machine has one, VFIO over /dev/vfio — as root on a host
 * without /dev/vfio, on a private overlay of /dev made for this namespace only (its device nodes
 * and submounts stay the host's). Then the shell becomes the program.
 */
const inner = () => `mode=$1 run=$2 sys=$3 vfio=$4; shift 4
fail() { echo "iommu-emu run: $*" >&2; exit 125; }
if [ "$mode" = direct ]; then
  mount -n -i -t fuse.iommu-emu -o ${directMountOptions(3)} iommu-emu "$run/live" || fail "FUSE mount on $run/live failed"
  exec 3>&-
fi
mount --bind "$sys" /sys || fail "mount --bind $sys /sys failed"
if [ -n "$vfio" ] && [ -d "$vfio" ]; then
  if [ ! -d /dev/vfio ] && [ "$mode" = direct ]; then
    subs=$(awk '$5 ~ "^/dev/" { print $5 }' /proc/self/mountinfo | sort -u)
    mount -t tmpfs -o mode=0755 iommu-emu "$run/dev.tmp" && mkdir "$run/dev.tmp/up" "$run/dev.tmp/work" &&
      mount --rbind /dev "$run/dev.lower" &&
      mount -t overlay -o "lowerdir=$run/dev.lower,upperdir=$run/dev.tmp/up,workdir=$run/dev.tmp/work" iommu-emu /dev ||
      fail "cannot give /dev a private overlay for /dev/vfio"
    for s in $subs; do mount --rbind "$run/dev.lower\${s#/dev}" "$s" || fail "cannot keep $s"; done
    mkdir /dev/vfio || fail "cannot make /dev/vfio"
  fi
  if [ -d /dev/vfio ]; then mount --bind "$vfio" /dev/vfio || fail "mount --bind $vfio /dev/vfio failed"; fi
fi
exec "$@"`;

export function unshareArgs(asRoot: boolean): string[] {
  return asRoot ? ['--mount', '--propagation', 'private'] : ['--user', '--map-root-user', '--mount', '--propagation', 'private'];
}

/** Whether this process may make the namespaces; the reason when not. */
export function namespacesAvailable(asRoot = process.getuid?.() === 0): { ok: true } | { ok: false; reason: string } {
  const r = spawnSync('unshare', [...unshareArgs(asRoot), 'true'], { encoding: 'utf8', timeout: 10_000 });
  if (r.error) return { ok: false, reason: (r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'unshare(1) is not installed (util-linux)' : r.error.message };
  if (r.status !== 0) return { ok: false, reason: (r.stderr || `unshare exited with ${r.status}`).trim().split('\n')[0]! };
  return { ok: true };
}

export const runCommand: Command = {
  options: { ...hostOptions, static: { type: 'boolean' } },
  allowPositionals: true,
  async run(args, io) {
    if (!args.positionals.length) throw new UsageError('run needs a COMMAND after --');
    const m = machineFrom(args, DEFAULT_HOST, io);
    const host = (args.values.host as string | undefined) ?? DEFAULT_HOST;
    const asRoot = process.getuid?.() === 0;
    const ns = namespacesAvailable(asRoot);
    if (!ns.ok)
      throw new ExitError(
        3,
        `run: cannot create a private mount namespace${asRoot ? '' : ' (user namespace, not root)'}: ${ns.reason}\n` +
          `  Do it by hand instead:\n` +
          `    iommu-emu export DIR --host ${host}\n` +
          `    sudo unshare --mount --propagation private sh -c 'mount --bind DIR/sys /sys && exec COMMAND'\n` +
          `  or point the program at DIR/sys if it takes a sysfs root.`,
      );
    const server = await RunServer.start(m, {
      tmpdir: io.env.TMPDIR || undefined,
      ownerUid: process.getuid?.() ?? 0,
      ownerGid: process.getgid?.() ?? 0,
      onError: (e) => io.stderr(`iommu-emu run: server: ${e.message}\n`),
    });
    try {
      const live = flag(args, 'static') ? ({ ok: false, reason: '--static' } as const) : liveMountMode(io.env);
      const liveDir = path.join(server.dir, 'live');
      const vfio = m.fs.existsSync('/dev/vfio') ? path.join(liveDir, 'dev', 'vfio') : '';
      if (live.ok && live.mode === 'direct') {
        for (const d of ['live', 'dev.lower', 'dev.tmp']) nodeFs.mkdirSync(path.join(server.dir, d));
        const fd = openDirect(server);
        return await spawnInNamespace(['direct', server.dir, path.join(liveDir, 'sys'), vfio], args.positionals, asRoot, io, [fd]);
      }
      if (live.ok && live.mode === 'helper') {
        nodeFs.mkdirSync(liveDir);
        let helper;
        try {
          helper = await startHelper(server, liveDir, io.env);
        } catch (e) {
          if (!(e instanceof MountError)) throw e;
          nodeFs.rmdirSync(liveDir);
          return await runStatic(m, server, args.positionals, asRoot, io, `the FUSE helper could not mount: ${e.message}`);
        }
        try {
          return await spawnInNamespace(['bind', server.dir, path.join(liveDir, 'sys'), vfio], args.positionals, asRoot, io);
        } finally {
          await unmountHelper(liveDir, io.env);
          helper.conn.socket.end();
          await helper.exited;
        }
      }
      const why = live.ok ? undefined : live.reason;
      return await runStatic(m, server, args.positionals, asRoot, io, why === '--static' ? undefined : why);
    } finally {
      await server.close();
    }
  },
};

/** fusermount3 -u (lazily if the program left something running on it). */
async function unmountHelper(dir: string, env: NodeJS.ProcessEnv): Promise<void> {
  for (const extra of [[], ['-z']]) {
    const r = spawnSync('fusermount3', ['-u', ...extra, dir], { env, encoding: 'utf8', timeout: 10_000 });
    if (r.status === 0) return;
  }
}

async function runStatic(m: Machine, server: RunServer, argv: string[], asRoot: boolean, io: CommandIO, why?: string): Promise<number> {
  if (why)
    io.stderr(
      `iommu-emu run: no live /sys here (${why}); the program gets a static snapshot: writes do not reach the emulated kernel.\n` +
        `  For a live tree run as root, or install fuse3 (fusermount3) and build the helper with make.\n`,
    );
  const tree = path.join(server.dir, 'tree');
  try {
    exportTree(m, tree, { metadata: exportMetadata(m) });
    return await spawnInNamespace(['bind', server.dir, path.join(tree, 'sys'), ''], argv, asRoot, io);
  } finally {
    nodeFs.rmSync(tree, { recursive: true, force: true });
  }
}

function spawnInNamespace(how: [mode: string, run: string, sys: string, vfio: string], argv: string[], asRoot: boolean, io: CommandIO, fds: number[] = []): Promise<number> {
  return new Promise((resolve, reject) => {
    // Without a terminal the program gets a process group of its own, and a signal to us reaches
    // all of it: a shell's children would otherwise outlive it, holding the output pipes (and
    // run) open. On a terminal the whole foreground group already gets ^C, and the program must
    // stay in that group to read its input.
    const ownGroup = !process.stdin.isTTY;
    const child = spawn('unshare', [...unshareArgs(asRoot), '--', 'sh', '-c', inner(), 'sh', ...how, ...argv], {
      stdio: ['inherit', 'pipe', 'pipe', ...fds],
      env: io.env,
      detached: ownGroup,
    });
    // The child has its own copies now; the server keeps reading its own.
    child.stdout!.on('data', (b: Buffer) => io.stdout(b));
    child.stderr!.on('data', (b: Buffer) => io.stderr(b.toString('utf8')));
    const forward = (sig: NodeJS.Signals) => () => {
      try {
        if (ownGroup && child.pid) process.kill(-child.pid, sig);
        else child.kill(sig);
      } catch {
        // Already gone.
      }
    };
    const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((s) => [s, forward(s)] as const);
    for (const [s, h] of handlers) process.on(s, h);
    const done = () => {
      for (const [s, h] of handlers) process.off(s, h);
    };
    child.on('error', (e) => {
      done();
      reject(e);
    });
    child.on('close', (code, signal) => {
      done();
      resolve(code ?? 128 + (signal ? os.constants.signals[signal] : 0));
    });
  });
}
