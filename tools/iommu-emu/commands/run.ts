// SPDX-License-Identifier: GPL-2.0-only
/**
 * Run an unmodified program against an emulated host: the exported sys/ tree is bind-mounted
 * over /sys in a private mount namespace (a user namespace too when not root), the program is
 * exec'd there, its exit code comes back, and the temporary tree is removed whatever happens.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as nodeFs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_HOST, exportTree } from '../../../lib/index';
import { Command, hostOptions, machineFrom } from '../command';
import { ExitError, UsageError } from '../errors';
import type { CommandIO } from '../io';
import { exportMetadata } from './export';

/** The shell step inside the namespace: mount, then become the program. */
const INNER = 'mount --bind "$1" /sys || { echo "iommu-emu run: mount --bind $1 /sys failed" >&2; exit 125; }; shift; exec "$@"';

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
  summary: 'run a program with the emulated sys/ bind-mounted over /sys (private mount namespace)',
  usage: 'run [--host NAME|FILE] [--kernel VERSION] -- COMMAND [ARG…]',
  options: { ...hostOptions },
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
    const tmp = nodeFs.mkdtempSync(path.join(os.tmpdir(), 'iommu-emu-run-'));
    try {
      const tree = path.join(tmp, 'tree');
      exportTree(m, tree, { metadata: exportMetadata(m) });
      return await spawnInNamespace(path.join(tree, 'sys'), args.positionals, asRoot, io);
    } finally {
      nodeFs.rmSync(tmp, { recursive: true, force: true });
    }
  },
};

function spawnInNamespace(sysDir: string, argv: string[], asRoot: boolean, io: CommandIO): Promise<number> {
  return new Promise((resolve, reject) => {
    // Without a terminal the program gets a process group of its own, and a signal to us reaches
    // all of it: a shell's children would otherwise outlive it, holding the output pipes (and
    // run) open. On a terminal the whole foreground group already gets ^C, and the program must
    // stay in that group to read its input.
    const ownGroup = !process.stdin.isTTY;
    const child = spawn('unshare', [...unshareArgs(asRoot), '--', 'sh', '-c', INNER, 'sh', sysDir, ...argv], {
      stdio: ['inherit', 'pipe', 'pipe'],
      env: io.env,
      detached: ownGroup,
    });
    child.stdout.on('data', (b: Buffer) => io.stdout(b));
    child.stderr.on('data', (b: Buffer) => io.stderr(b.toString('utf8')));
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
