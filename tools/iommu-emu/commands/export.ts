// SPDX-License-Identifier: GPL-2.0-only
import { DEFAULT_HOST, exportTree } from '../../../lib/index';
import { Command, hostOptions, machineFrom } from '../command';
import { UsageError } from '../errors';

export const exportCommand: Command = {
  summary: 'write the emulated sys/ tree (files, modes, relative links) into a new directory',
  usage: 'export DIR [--host NAME|FILE] [--kernel VERSION]',
  options: { ...hostOptions },
  allowPositionals: true,
  run(args, io) {
    if (args.positionals.length !== 1) throw new UsageError('export takes exactly one DIR');
    const m = machineFrom(args, DEFAULT_HOST);
    const r = exportTree(m, args.positionals[0]!);
    io.stderr(`exported ${m.topology.name}: ${r.files} files, ${r.links} links, ${r.dirs} directories into ${r.dir}/sys\n`);
  },
};
