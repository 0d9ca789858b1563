// SPDX-License-Identifier: GPL-2.0-only
import { DEFAULT_HOST, machineReport } from '../../../lib/index';
import type { DeviceJson, MachineReport } from '../../../lib/index';
import { Command, flag, hostOptions, jsonOption, jsonText, machineFrom, str } from '../command';
import { agentOptions, withAgent } from '../agent';

/**
 * The report as text; what the kernel lacks reads "not on kernel X (since Y)". With `explain`,
 * each reserved line is followed by the device regions it was built from, and each ignored
 * firmware entry by its profile row's evidence.
 */
export function formatShow(r: MachineReport, explain = false): string {
  const missing = new Map(r.unavailable.map((u) => [u.feature, `not on kernel ${r.kernel} (since ${u.since})`]));
  const lines: string[] = [];
  lines.push(`${r.machine !== undefined ? `agent machine ${r.machine}  ` : ''}host ${r.host}  kernel ${r.kernel}  arch ${r.arch}  iommu ${r.iommus.map((u) => `${u.name} (${u.driver})`).join(', ') || 'none'}`);
  if (missing.has('vfio')) lines.push(`vfio: ${missing.get('vfio')}`);
  lines.push('');
  const dev = (d: DeviceJson) =>
    d.bus === 'platform'
      ? `  ${d.bdf}  platform device  driver ${(d.driver ?? '-').padEnd(12)}${d.name ? `  ${d.name}` : ''}`
      : `  ${d.bdf}  ${d.vendor!.slice(2)}:${d.device!.slice(2)}  class ${d.class!.slice(2)}  driver ${(d.driver ?? '-').padEnd(12)}${d.name ? `  ${d.name}` : ''}`;
  for (const g of r.groups) {
    const type = g.type !== null ? ` ${g.type}` : missing.has('group_type_attr') ? `: ${missing.get('group_type_attr')}` : ' -';
    lines.push(`group ${g.id}  type${type}${g.name ? `  name ${g.name}` : ''}${g.vfio ? `  ${g.vfio}` : ''}`);
    for (const d of g.devices) lines.push(dev(d));
    if (g.reserved_regions === null) lines.push(`  reserved_regions: ${missing.get('reserved_regions') ?? 'absent'}`);
    else if (!g.reserved_regions.length) lines.push('  reserved_regions: (empty)');
    else
      for (const x of g.reserved_regions) {
        lines.push(`  reserved ${x.start} ${x.last} ${x.type}`);
        if (!explain) continue;
        if (x.source.length > 1) lines.push(`           merged from ${x.source.length} regions:`);
        for (const s of x.source) lines.push(`           <- ${s}`);
      }
    for (const x of g.usable_ranges) lines.push(`  usable   ${x.start} ${x.last}`);
    lines.push('');
  }
  if (r.ungrouped.length) {
    lines.push('not translated by an IOMMU (no group):');
    for (const d of r.ungrouped) lines.push(dev(d));
    lines.push('');
  }
  if (r.ignored.length) {
    lines.push(`not reported by kernel ${r.kernel}:`);
    for (const x of r.ignored) {
      lines.push(`  ${x.entry}: ${x.why}`);
      if (explain && x.evidence) lines.push(`      evidence: ${x.evidence}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

export const showCommand: Command = {
  summary: 'show groups, devices, drivers, reserved regions and usable IOVA ranges of a host',
  details:
    'Read from the emulated sysfs as any consumer would; "usable" is what VFIO type1 reports once the\n' +
    'group is attached (the aperture minus every reserved region that is not direct-relaxable).\n' +
    'With --explain, each reserved line is followed by the device regions it was built from (merged\n' +
    'lines list every one) and each firmware entry the kernel ignores by its evidence; --json always\n' +
    'carries them (source, ignored). With --agent, the same report of a machine on a running agent.',
  options: {
    ...hostOptions,
    explain: { type: 'boolean', description: 'after each reserved line, the device regions it was built from; after each ignored entry, its evidence' },
    ...jsonOption,
    ...agentOptions,
  },
  async run(args, io) {
    const r = str(args, 'agent') !== undefined ? await withAgent(args, io, (c, id) => c.report(id)) : machineReport(machineFrom(args, DEFAULT_HOST, io));
    io.stdout(flag(args, 'json') ? jsonText(r) : formatShow(r, flag(args, 'explain')));
  },
};
