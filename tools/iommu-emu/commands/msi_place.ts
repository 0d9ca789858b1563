// SPDX-License-Identifier: GPL-2.0-only
import { msiPlaceJson, parseSize, placeMsiForHost } from '../../../lib/index';
import type { HostMsiPlacement } from '../../../lib/index';
import { Command, flag, hostOptions, str } from '../command';
import { UsageError } from '../errors';
import { agentHostOptions, hostViewFrom, jsonText } from '../vmm_args';

const h = (x: bigint) => `0x${x.toString(16)}`;

export function formatMsiPlace(p: HostMsiPlacement): string {
  const lines = [`msi-place on ${p.host}: the LPC 2016 proposal (0xfee00000 as on x86, else deterministically below 4 GiB)`];
  for (const c of p.current) lines.push(`  today: ${c.kind} MSI ${h(c.start)}..${h(c.last)} on group${c.groups.length > 1 ? 's' : ''} ${c.groups.join(',')}`);
  for (const r of p.reasoning) lines.push(`  - ${r}`);
  lines.push(p.hardwareFixed ? '  result: hardware-fixed at 0xfee00000' : p.window ? `  result: reserve ${h(p.window.start)}..${h(p.window.last)} (${p.how})` : '  result: no window below 4 GiB');
  return `${lines.join('\n')}\n`;
}

export const msiPlaceCommand: Command = {
  summary: 'where to put the MSI doorbell window and what size to reserve (the seed\'s proposal), with the reasoning',
  options: {
    ...hostOptions,
    doorbells: { type: 'string', value: 'N', description: 'MSI doorbells the window must hold (default: the host\'s ITS count, else 1)' },
    'page-size': { type: 'string', value: 'P', description: 'IOMMU page each doorbell is mapped with (default: the host IOMMU\'s smallest page, e.g. 4K or 64K)' },
    json: { type: 'boolean', description: 'print JSON (schema: lib/vmm/schemas/msi-place.schema.json)' },
    ...agentHostOptions,
  },
  async run(args, io) {
    const d = str(args, 'doorbells');
    if (d !== undefined && !/^[1-9]\d{0,5}$/.test(d)) throw new UsageError(`--doorbells must be a positive number, got ${JSON.stringify(d)}`);
    const ps = str(args, 'page-size');
    const pageSize = ps === undefined ? undefined : parseSize(ps);
    if (ps !== undefined && (pageSize === undefined || pageSize === 0n || (pageSize & (pageSize - 1n)) !== 0n)) throw new UsageError(`--page-size must be a power of two (4K, 16K, 64K), got ${JSON.stringify(ps)}`);
    const host = await hostViewFrom(args, io);
    const p = placeMsiForHost(host, { doorbells: d === undefined ? undefined : Number(d), pageSize });
    io.stdout(flag(args, 'json') ? jsonText(msiPlaceJson(p)) : formatMsiPlace(p));
    return p.window || p.hardwareFixed ? 0 : 1;
  },
};
