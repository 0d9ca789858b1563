// SPDX-License-Identifier: GPL-2.0-only
import { formatSize, hostUsable, usableJson } from '../../../lib/index';
import type { HostView } from '../../../lib/index';
import { Command, flag, hostOptions } from '../command';
import { agentHostOptions, groupOption, groupsArg, hostViewFrom, jsonText } from '../vmm_args';

const hex = (x: bigint) => `0x${x.toString(16).padStart(16, '0')}`;

export function formatUsable(h: HostView, groups: readonly number[]): string {
  const chosen = groups.length ? h.groups.filter((g) => groups.includes(g.id)) : h.groups;
  const lines = [`usable IOVA on ${h.name} (kernel ${h.kernel}): what VFIO_IOMMU_GET_INFO and IOMMU_IOAS_IOVA_RANGES report after attach`];
  if (h.reservedUnknown) lines.push(`  note: kernel ${h.kernel} has no reserved_regions (since 4.11): only the aperture is known`);
  if (h.vfioChecksIova === false) lines.push(`  note: VFIO on kernel ${h.kernel} reports no usable ranges and does not enforce them (the IOVA-range capability is from 5.4)`);
  lines.push('');
  for (const g of chosen) {
    const devs = g.devices.map((d) => `${d.bdf}${d.name ? ` ${d.name}` : ''}`).join(', ');
    lines.push(`group ${g.id}  ${devs}`);
    if (!g.translated) {
      lines.push('  no IOMMU (no-IOMMU mode): nothing is usable', '');
      continue;
    }
    if (g.notAssignable) lines.push(`  not assignable: ${g.notAssignable}`);
    for (const r of g.reserved) lines.push(`  reserved ${hex(r.start)} ${hex(r.last)} ${r.type}${r.swMsi ? ' (software MSI window)' : ''}${r.type === 'direct-relaxable' ? ' (stays usable)' : ''}`);
    for (const u of g.usable) lines.push(`  usable   ${hex(u.start)} ${hex(u.last)}  ${formatSize(u.last - u.start + 1n)}`);
    lines.push('');
  }
  const all = hostUsable({ ...h, groups: chosen });
  lines.push(`${groups.length ? `groups ${groups.join(', ')}` : 'whole host'} (usable whichever of them is assigned: the groups' ranges intersected):`);
  for (const u of all) lines.push(`  usable   ${hex(u.start)} ${hex(u.last)}  ${formatSize(u.last - u.start + 1n)}`);
  return `${lines.join('\n')}\n`;
}

export const usableCommand: Command = {
  summary: 'usable IOVA ranges per IOMMU group and for the whole host (the aperture minus what VFIO carves out)',
  options: { ...hostOptions, ...groupOption, json: { type: 'boolean', description: 'print JSON (schema: lib/vmm/schemas/usable.schema.json)' }, ...agentHostOptions },
  variadic: ['group'],
  async run(args, io) {
    const h = await hostViewFrom(args, io);
    const groups = groupsArg(args, h);
    io.stdout(flag(args, 'json') ? jsonText(usableJson(h, groups)) : formatUsable(h, groups));
  },
};
