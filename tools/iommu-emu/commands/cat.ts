// SPDX-License-Identifier: GPL-2.0-only
import { DEFAULT_HOST } from '../../../lib/index';
import { agentOptions, withAgent } from '../agent';
import { Command, str } from '../command';
import { hostOptions, machineFrom } from '../host_args';
import { UsageError } from '../errors';

export const catCommand: Command = {
  options: { ...hostOptions, ...agentOptions },
  allowPositionals: true,
  async run(args, io) {
    if (args.positionals.length !== 1) throw new UsageError('cat takes exactly one PATH');
    const p = args.positionals[0]!;
    if (!p.startsWith('/')) throw new UsageError(`PATH must be absolute: ${p}`);
    if (str(args, 'agent') !== undefined) {
      io.stdout(await withAgent(args, io, (c, id) => c.readFile(id, p)));
      return;
    }
    const m = machineFrom(args, DEFAULT_HOST, io);
    io.stdout(m.fs.readFileSync(p) as Buffer);
  },
};
