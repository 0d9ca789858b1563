// SPDX-License-Identifier: GPL-2.0-only
import { DEFAULT_HOST, fileJson } from '../../../lib/index';
import { agentOptions, withAgent } from '../agent';
import { Command, flag, hostOptions, jsonOption, jsonText, machineFrom, str } from '../command';
import { UsageError } from '../errors';

export const catCommand: Command = {
  summary: 'print one emulated file (e.g. /sys/kernel/iommu_groups/0/reserved_regions)',
  operands: 'PATH',
  details: 'The bytes read(2) returns, permission checks included. With --json: the file (text or base64),\na directory\'s entries or a link\'s target, as the agent\'s GET /v1/machines/{id}/file gives them.',
  options: { ...hostOptions, ...jsonOption, ...agentOptions },
  allowPositionals: true,
  async run(args, io) {
    if (args.positionals.length !== 1) throw new UsageError('cat takes exactly one PATH');
    const p = args.positionals[0]!;
    if (!p.startsWith('/')) throw new UsageError(`PATH must be absolute: ${p}`);
    const json = flag(args, 'json');
    if (str(args, 'agent') !== undefined) {
      io.stdout(await withAgent(args, io, async (c, id) => (json ? jsonText(await c.stat(id, p)) : c.readFile(id, p))));
      return;
    }
    const m = machineFrom(args, DEFAULT_HOST, io);
    if (json) io.stdout(jsonText(fileJson(m, p)));
    else io.stdout(m.fs.readFileSync(p) as Buffer);
  },
};
