// SPDX-License-Identifier: GPL-2.0-only
/**
 * Keep the emulated tree mounted live at DIR (DIR/sys, DIR/dev) while the user works, in the
 * foreground: every read renders from the model, every write runs the kernel's store().
 * SIGINT/SIGTERM unmount and exit 0. As root the mount is made directly; otherwise through
 * fusermount3 and the helper.
 */
import * as nodeFs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_HOST, MountError, RunServer, liveMountMode, mountLive } from '../../../lib/index';
import { Command } from '../command';
import { hostOptions, machineFrom } from '../host_args';
import { ExitError, UsageError } from '../errors';

export const mountCommand: Command = {
  options: { ...hostOptions },
  allowPositionals: true,
  async run(args, io) {
    if (args.positionals.length !== 1) throw new UsageError('mount takes exactly one DIR');
    const dir = path.resolve(io.cwd, args.positionals[0]!);
    let st: nodeFs.Stats;
    try {
      st = nodeFs.statSync(dir);
    } catch {
      throw new UsageError(`${dir}: no such directory`);
    }
    if (!st.isDirectory()) throw new UsageError(`${dir}: not a directory`);
    const m = machineFrom(args, DEFAULT_HOST, io);
    const live = liveMountMode(io.env);
    if (!live.ok) throw new ExitError(3, `mount: cannot mount a live /sys here: ${live.reason}\n  For files instead: iommu-emu export DIR`);
    const server = await RunServer.start(m, {
      tmpdir: io.env.TMPDIR || undefined,
      ownerUid: process.getuid?.() ?? 0,
      ownerGid: process.getgid?.() ?? 0,
      onError: (e) => io.stderr(`iommu-emu mount: server: ${e.message}\n`),
    });
    let mount;
    try {
      mount = await mountLive(server, dir, live.mode, io.env);
    } catch (e) {
      await server.close();
      if (e instanceof MountError) throw new ExitError(1, `mount: ${e.message}`);
      throw e;
    }
    io.stderr(
      `iommu-emu: ${m.topology.name} (kernel ${m.kernel.version.text}) mounted live at ${dir} (${live.mode === 'direct' ? 'direct' : 'fusermount3'}); ` +
        `control socket ${server.socketPath}. Ctrl-C or SIGTERM unmounts.\n`,
    );
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    await mount.unmount();
    await server.close();
    io.stderr(`iommu-emu: unmounted ${dir}\n`);
    return 0;
  },
};
