// SPDX-License-Identifier: GPL-2.0-only
import { DEFAULT_HOST, FEATURES, Machine, explainGroupResvRegions, ignoredFirmware } from '../../../lib/index';
import { Command, flag, str } from '../command';
import { hostOptions, machineFrom } from '../host_args';
import { agentOptions, withAgent } from '../agent';
import type { GroupEntry } from '../../../lib/index';

export interface ShownRegion {
  readonly start: string;
  readonly end: string;
  readonly type: string;
  /** The device regions this line was built from (`<bdf>: <driver function>: <entry>`); several: merged. */
  readonly source: readonly string[];
}
export interface ShownIgnored {
  readonly entry: string;
  readonly why: string;
  readonly row?: string;
  /** The row's evidence (commit, release). */
  readonly evidence?: string;
}
export interface ShownDevice {
  /** The PCI address, or a platform device's name. */
  readonly bdf: string;
  readonly bus: 'pci' | 'platform';
  readonly vendor: string;
  readonly device: string;
  readonly class: string;
  readonly driver: string | null;
  readonly iommu: string | null;
  readonly name?: string;
}
export interface ShownGroup {
  readonly id: number;
  readonly type: string | null;
  readonly name: string | null;
  readonly devices: ShownDevice[];
  readonly reserved_regions: ShownRegion[];
  readonly vfio: boolean;
}
export interface ShowResult {
  readonly host: string;
  readonly kernel: string;
  readonly arch: string;
  readonly iommus: { name: string; driver: string }[];
  readonly groups: ShownGroup[];
  /** Devices no IOMMU translates (no group). */
  readonly ungrouped: ShownDevice[];
  /** Firmware entries and IOMMU units this kernel does not report, and why. */
  readonly ignored: ShownIgnored[];
}

const G = '/sys/kernel/iommu_groups';

/** What a user would learn from sysfs: read through the machine's fs, like any consumer. */
export function showMachine(m: Machine): ShowResult {
  const read = (p: string) => String(m.fs.readFileSync(p, 'utf8'));
  const exists = (p: string) => m.fs.existsSync(p);
  const device = (bdf: string): ShownDevice => {
    if (!exists(`/sys/bus/pci/devices/${bdf}`) && exists(`/sys/bus/platform/devices/${bdf}`)) {
      const p = `/sys/bus/platform/devices/${bdf}`;
      const spec = m.topology.platformDevices.find((x) => x.name === bdf);
      return {
        bdf,
        bus: 'platform',
        vendor: '',
        device: '',
        class: '',
        driver: exists(`${p}/driver`) ? String(m.fs.readlinkSync(`${p}/driver`)).split('/').pop()! : null,
        iommu: exists(`${p}/iommu`) ? String(m.fs.readlinkSync(`${p}/iommu`)).split('/').pop()! : null,
        ...(spec?.description || spec?.hid || spec?.compatible ? { name: spec.description ?? spec.hid ?? spec.compatible } : {}),
      };
    }
    const d = `/sys/bus/pci/devices/${bdf}`;
    const drv = exists(`${d}/driver`) ? String(m.fs.readlinkSync(`${d}/driver`)).split('/').pop()! : null;
    // An AMD IOMMU's own PCI function has an iommu/ directory (its unit), not a link.
    const unit = exists(`${d}/iommu`) && m.fs.lstatSync(`${d}/iommu`).isSymbolicLink() ? String(m.fs.readlinkSync(`${d}/iommu`)).split('/').pop()! : null;
    const spec = m.topology.devices.find((x) => x.bdf === bdf);
    return {
      bdf,
      bus: 'pci',
      vendor: read(`${d}/vendor`).trim(),
      device: read(`${d}/device`).trim(),
      class: read(`${d}/class`).trim(),
      driver: drv,
      iommu: unit,
      ...(spec?.name ? { name: spec.name } : {}),
    };
  };
  const ids = exists(G) ? (m.fs.readdirSync(G) as string[]).map(Number).sort((a, b) => a - b) : [];
  const grouped = new Set<string>();
  const groups = ids.map((id): ShownGroup => {
    const gd = `${G}/${id}`;
    const devs = (m.fs.readdirSync(`${gd}/devices`) as string[]).map((l) => String(m.fs.realpathSync(`${gd}/devices/${l}`)).split('/').pop()!);
    devs.forEach((b) => grouped.add(b));
    const rr = exists(`${gd}/reserved_regions`) ? read(`${gd}/reserved_regions`) : '';
    const group = m.host.findGroup(id);
    const explained = group ? explainGroupResvRegions(m.host, group) : [];
    return {
      id,
      type: exists(`${gd}/type`) ? read(`${gd}/type`).trim() : null,
      name: exists(`${gd}/name`) ? read(`${gd}/name`).trim() : null,
      devices: devs.map(device),
      reserved_regions: rr
        .split('\n')
        .filter(Boolean)
        .map((l, i) => {
          const [start, end, type] = l.split(' ');
          // The bookkeeping must describe the very line sysfs printed; anything else is a bug.
          const e = explained[i];
          return { start: start!, end: end!, type: type!, source: e && e.line === l ? e.sources : ['(unexplained: the emulator\'s record and sysfs disagree)'] };
        }),
      vfio: exists(`/dev/vfio/${id}`) || exists(`/dev/vfio/noiommu-${id}`),
    };
  });
  const all = (m.fs.readdirSync('/sys/bus/pci/devices') as string[]).sort();
  return {
    host: m.topology.name,
    kernel: m.kernel.release,
    arch: m.topology.arch,
    iommus: m.host.units.map((u) => ({ name: u.name, driver: u.driver })),
    groups,
    ungrouped: all.filter((b) => !grouped.has(b)).map(device),
    ignored: ignoredFirmware(m.host).map((x) => ({ ...x, ...(x.row ? { evidence: FEATURES[x.row].source } : {}) })),
  };
}

export function formatShow(r: ShowResult, explain = false): string {
  const lines: string[] = [];
  lines.push(`host ${r.host}  kernel ${r.kernel}  arch ${r.arch}  iommu ${r.iommus.map((u) => `${u.name} (${u.driver})`).join(', ') || 'none'}`);
  lines.push('');
  const dev = (d: ShownDevice) =>
    d.bus === 'platform'
      ? `  ${d.bdf}  platform device  driver ${(d.driver ?? '-').padEnd(12)}${d.name ? `  ${d.name}` : ''}`
      : `  ${d.bdf}  ${d.vendor.slice(2)}:${d.device.slice(2)}  class ${d.class.slice(2)}  driver ${(d.driver ?? '-').padEnd(12)}${d.name ? `  ${d.name}` : ''}`;
  for (const g of r.groups) {
    lines.push(`group ${g.id}  type ${g.type ?? '-'}${g.name ? `  name ${g.name}` : ''}${g.vfio ? `  /dev/vfio/${g.name === 'vfio-noiommu' ? 'noiommu-' : ''}${g.id}` : ''}`);
    for (const d of g.devices) lines.push(dev(d));
    if (!g.reserved_regions.length) lines.push('  reserved_regions: (empty)');
    for (const x of g.reserved_regions) {
      lines.push(`  reserved ${x.start} ${x.end} ${x.type}`);
      if (!explain) continue;
      if (x.source.length > 1) lines.push(`           merged from ${x.source.length} regions:`);
      for (const s of x.source) lines.push(`           <- ${s}`);
    }
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

/** `show --agent`: the agent's view of groups, reserved and usable IOVA ranges. */
export function formatAgentGroups(machine: string, groups: readonly GroupEntry[]): string {
  const lines = [`agent machine ${machine}`, ''];
  for (const g of groups) {
    lines.push(`group ${g.id}  type ${g.type ?? '-'}${g.name ? `  name ${g.name}` : ''}${g.vfio ? `  /dev/vfio/${g.id}` : ''}`);
    for (const d of g.devices) lines.push(`  ${d.bdf}  driver ${(d.driver ?? '-').padEnd(12)}  iommu ${d.iommu ?? '-'}`);
    if (!g.reserved.length) lines.push('  reserved_regions: (empty)');
    for (const x of g.reserved) lines.push(`  reserved ${x.start} ${x.last} ${x.type}`);
    for (const x of g.usable) lines.push(`  usable   ${x.start} ${x.last}`);
    lines.push('');
  }
  return lines.join('\n');
}

export const showCommand: Command = {
  options: { ...hostOptions, json: { type: 'boolean' }, explain: { type: 'boolean' }, ...agentOptions },
  async run(args, io) {
    if (str(args, 'agent') !== undefined) {
      const [id, groups] = await withAgent(args, io, async (c, id) => [id, await c.groups(id)] as const);
      io.stdout(flag(args, 'json') ? `${JSON.stringify({ machine: id, groups }, null, 2)}\n` : formatAgentGroups(id, groups));
      return;
    }
    const r = showMachine(machineFrom(args, DEFAULT_HOST, io));
    io.stdout(flag(args, 'json') ? `${JSON.stringify(r, null, 2)}\n` : formatShow(r, flag(args, 'explain')));
  },
};
