// SPDX-License-Identifier: GPL-2.0-only
/**
 * The fleet migration planner: across every host a VM may run on or migrate to, the union of
 * reserved regions (who reserves what), the intersection of usable IOVA, and a guest memory
 * layout safe for device hot-plug on all of them — the VMM's conventional layout when it is
 * safe, else the nearest one the VMM can make, else a precise explanation. This is the seed's
 * scenario: the guest map is chosen where the VM starts, and a device hot-plugged after a
 * migration must find it free on the new host.
 */
import { IovaRange, U64_MAX, intersectRanges, range, unionRanges } from '../model/iova';
import { checkGuest } from './check';
import type { GuestMap, GuestRegion } from './guest_map';
import { HostView, hostUsable } from './host_view';
import { AMD_ABOVE_1TB_START, CpuVendor, PRESETS, buildPreset, parsePresetSpec } from './presets';
import { GiB, MiB, alignDown, alignUp, formatSize, shortHex } from './size';

export interface BlockingHost {
  readonly name: string;
  readonly source: string;
  readonly groups: readonly number[];
}

/** A range some hosts cannot map: a reserved region (by type) or the end of an IOMMU aperture. */
export interface Blocker extends IovaRange {
  readonly type: 'direct' | 'reserved' | 'msi' | 'aperture';
  readonly hosts: readonly BlockingHost[];
}

export interface LayoutMove {
  readonly region: string;
  readonly from: IovaRange;
  readonly to: IovaRange;
  readonly why: string;
}

export interface LayoutPlan {
  readonly ram: bigint;
  readonly preset: string;
  /** The VMM's own layout for this RAM size. */
  readonly conventional: GuestMap;
  /** A layout safe on every host (the conventional one when it is), or undefined. */
  readonly layout: GuestMap | undefined;
  readonly moves: readonly LayoutMove[];
  /** How the VMM can be made to use the layout (a machine option, a vCPU model), when it differs. */
  readonly how: readonly string[];
  /** Why no layout exists, precisely, when none does. */
  readonly explanation: readonly string[];
  /** Conflicts of the conventional layout: which host blocks which guest range. */
  readonly conventionalConflicts: readonly { readonly guest: string; readonly overlap: IovaRange; readonly blocker: Blocker }[];
  /** Windows for assigned devices' BARs that some host cannot map (P2P only). */
  readonly warnings: readonly string[];
}

export interface PlanResult {
  readonly hosts: readonly { readonly name: string; readonly source: string; readonly arch: string; readonly kernel: string; readonly groups: number; readonly usable: readonly IovaRange[] }[];
  readonly blockers: readonly Blocker[];
  /** IOVA every group of every host can map. */
  readonly common: readonly IovaRange[];
  readonly layouts: readonly LayoutPlan[];
}

export class PlanError extends Error {
  override readonly name = 'PlanError';
}

export interface PlanOptions {
  /** Guest RAM sizes: one layout per size. */
  readonly ram: readonly bigint[];
  /** A preset spec without RAM (`q35`, `q35,cpu=amd`, `virt`); default by the hosts' architecture. */
  readonly vmm?: string | undefined;
}

const cmp = (a: IovaRange, b: IovaRange) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.last < b.last ? -1 : a.last > b.last ? 1 : 0);

/** Union of reserved regions (and aperture ends) with who reserves them; identical hosts are folded. */
export function fleetBlockers(hosts: readonly HostView[]): Blocker[] {
  const map = new Map<string, { start: bigint; last: bigint; type: Blocker['type']; hosts: Map<HostView, Set<number>> }>();
  const add = (start: bigint, last: bigint, type: Blocker['type'], h: HostView, group: number) => {
    const key = `${start}:${last}:${type}`;
    let e = map.get(key);
    if (!e) map.set(key, (e = { start, last, type, hosts: new Map() }));
    let s = e.hosts.get(h);
    if (!s) e.hosts.set(h, (s = new Set()));
    s.add(group);
  };
  // Hosts with one signature have the same blockers: compute them for the first, list them all.
  const kinds = new Map<string, HostView[]>();
  for (const h of hosts) {
    const k = h.signature ?? `host:${kinds.size}`;
    const list = kinds.get(k);
    if (list) list.push(h);
    else kinds.set(k, [h]);
  }
  for (const [, same] of kinds) {
    const h = same[0]!;
    for (const g of h.groups) {
      if (!g.translated) continue;
      const carved: IovaRange[] = [];
      for (const r of g.reserved) {
        if (r.type === 'direct-relaxable') continue;
        add(r.start, r.last, r.type, h, g.id);
        carved.push(r);
      }
      // What the group cannot map beyond its reserved regions: the aperture's ends.
      let at = 0n;
      const outside: IovaRange[] = [];
      for (const u of g.usable) {
        if (u.start > at) outside.push(range(at, u.start - 1n));
        at = u.last + 1n;
      }
      if (at <= U64_MAX) outside.push(range(at, U64_MAX));
      const explained = unionRanges(carved);
      for (const o of outside) {
        let rest: IovaRange[] = [o];
        for (const c of explained) rest = rest.flatMap((p) => (c.last < p.start || c.start > p.last ? [p] : [...(p.start < c.start ? [range(p.start, c.start - 1n)] : []), ...(c.last < p.last ? [range(c.last + 1n, p.last)] : [])]));
        for (const p of rest) add(p.start, p.last, 'aperture', h, g.id);
      }
    }
  }
  const kindOf = new Map<HostView, HostView[]>();
  for (const [, same] of kinds) kindOf.set(same[0]!, same);
  return [...map.values()]
    .map((e) => ({
      start: e.start,
      last: e.last,
      type: e.type,
      hosts: [...e.hosts].flatMap(([h, s]) => {
        const groups = [...s].sort((a, b) => a - b);
        return (kindOf.get(h) ?? [h]).map((x) => ({ name: x.name, source: x.source, groups }));
      }),
    }))
    .sort((a, b) => cmp(a, b) || a.type.localeCompare(b.type));
}

/** IOVA every group of every host can map; hosts with the same usable list are intersected once. */
export function fleetCommon(hosts: readonly HostView[]): IovaRange[] {
  const seen = new Set<string>();
  const sigs = new Set<string>();
  let acc: IovaRange[] | undefined;
  for (const h of hosts) {
    if (h.signature) {
      if (sigs.has(h.signature)) continue;
      sigs.add(h.signature);
    }
    const u = hostUsable(h);
    const key = u.map((r) => `${r.start}-${r.last}`).join(',');
    if (seen.has(key)) continue;
    seen.add(key);
    acc = acc ? intersectRanges(acc, u) : u;
  }
  return acc ?? [];
}

const within = (common: readonly IovaRange[], r: IovaRange) => common.some((c) => c.start <= r.start && r.last <= c.last);

/** The lowest `align`-aligned start >= `from` where `size` bytes fit in one common range. */
function firstFit(common: readonly IovaRange[], from: bigint, size: bigint, align: bigint): bigint | undefined {
  for (const c of common) {
    if (c.last < from) continue;
    const start = alignUp(c.start > from ? c.start : from, align);
    if (start + size - 1n <= c.last) return start;
  }
  return undefined;
}

function blockersOf(blockers: readonly Blocker[], r: IovaRange): { overlap: IovaRange; blocker: Blocker }[] {
  const out: { overlap: IovaRange; blocker: Blocker }[] = [];
  for (const b of blockers) {
    if (b.last < r.start || b.start > r.last) continue;
    out.push({ overlap: range(b.start > r.start ? b.start : r.start, b.last < r.last ? b.last : r.last), blocker: b });
  }
  return out;
}

export const describeHosts = (hs: readonly BlockingHost[], max = 3): string =>
  `${hs
    .slice(0, max)
    .map((h) => `${h.name} (group${h.groups.length > 1 ? 's' : ''} ${h.groups.join(',')})`)
    .join(', ')}${hs.length > max ? ` and ${hs.length - max} more host${hs.length - max > 1 ? 's' : ''}` : ''}`;

const describe = (b: Blocker): string =>
  b.type === 'aperture' ? `${describeHosts(b.hosts)}: beyond the IOMMU aperture (${shortHex(b.start)}..${shortHex(b.last)})` : `${describeHosts(b.hosts)}: ${b.type} ${shortHex(b.start)}..${shortHex(b.last)}`;

function rebuild(map: GuestMap, regions: GuestRegion[]): GuestMap {
  return { ...map, regions: [...regions].sort((a, b) => (a.start < b.start ? -1 : 1)) };
}

function planLayout(hosts: readonly HostView[], blockers: readonly Blocker[], common: readonly IovaRange[], vmm: string, ram: bigint, cpu: CpuVendor): LayoutPlan {
  const spec = { ...parsePresetSpec(vmm), ram };
  const conventional = buildPreset(spec, { cpu });
  const conflicts = conventional.regions.filter((r) => r.kind === 'ram').flatMap((r) => blockersOf(blockers, r).map((x) => ({ guest: r.name, ...x })));
  const base = { ram, preset: spec.preset.name, conventional, conventionalConflicts: conflicts };
  const warnP2p = (m: GuestMap) =>
    m.regions.filter((r) => r.kind === 'pci-mmio' && !within(common, r)).map((r) => `${r.name} ${shortHex(r.start)}..${shortHex(r.last)} (assigned devices' BARs): ${blockersOf(blockers, r).map((x) => describe(x.blocker)).join('; ')} — peer-to-peer DMA to BARs placed there would fail`);
  if (!conflicts.length) return { ...base, layout: conventional, moves: [], how: [], explanation: [], warnings: warnP2p(conventional) };

  const x86 = ['q35', 'pc', 'x86-1t', 'cloud-hypervisor'].includes(spec.preset.name);
  const explanation: string[] = [];
  if (!x86) {
    const ramRegions = conventional.regions.filter((r) => r.kind === 'ram');
    const first = ramRegions[0]!;
    const firstBlock = conflicts.sort((a, b) => (a.overlap.start < b.overlap.start ? -1 : 1))[0]!;
    explanation.push(
      `${conventional.vmm} puts guest RAM at fixed addresses (${ramRegions.map((r) => `${r.name} from ${shortHex(r.start)}`).join(', ')}); no option moves it`,
      ...conflicts.map((c) => `guest ${c.guest} ${shortHex(c.overlap.start)}..${shortHex(c.overlap.last)} is blocked by ${describe(c.blocker)}`),
      firstBlock.overlap.start > first.start
        ? `the largest RAM that avoids every blocker here is ${formatSize(alignDown(firstBlock.overlap.start - first.start, 2n * MiB))} (RAM ending below ${shortHex(firstBlock.overlap.start)})`
        : `even the first byte of guest RAM (${shortHex(first.start)}) is blocked`,
    );
    return { ...base, layout: undefined, moves: [], how: [], explanation, warnings: [] };
  }

  // x86: low RAM can shrink (QEMU max-ram-below-4g), high RAM can move up (QEMU's 1 TiB rule, or a VMM that places it).
  const moves: LayoutMove[] = [];
  const how: string[] = [];
  let regions = [...conventional.regions];
  const low = regions.find((r) => r.kind === 'ram' && r.start === 0n)!;
  const lowBlocks = blockersOf(blockers, low);
  let extraHigh = 0n;
  if (lowBlocks.length) {
    const firstBad = lowBlocks.map((b) => b.overlap.start).reduce((a, b) => (a < b ? a : b));
    let newLow = alignDown(firstBad, GiB);
    if (newLow === 0n) newLow = alignDown(firstBad, 2n * MiB);
    if (newLow === 0n || !within(common, range(0n, newLow - 1n))) {
      explanation.push(`guest RAM from 0 is blocked at ${shortHex(firstBad)} by ${lowBlocks.map((b) => describe(b.blocker)).join('; ')}: an x86 guest needs RAM at 0`);
      return { ...base, layout: undefined, moves: [], how: [], explanation, warnings: [] };
    }
    if (spec.preset.name === 'cloud-hypervisor') {
      explanation.push(`cloud-hypervisor fills RAM from 0 to 3 GiB with no option to end it earlier; ${lowBlocks.map((b) => describe(b.blocker)).join('; ')} blocks it at ${shortHex(firstBad)}`);
      return { ...base, layout: undefined, moves: [], how: [], explanation, warnings: [] };
    }
    const moved = { ...low, last: newLow - 1n };
    moves.push({ region: low.name, from: low, to: moved, why: `blocked at ${shortHex(firstBad)} by ${lowBlocks.map((b) => describe(b.blocker)).join('; ')}` });
    how.push(`QEMU: -machine ${spec.preset.name},max-ram-below-4g=${formatSize(newLow).replace(' ', '').replace('iB', '')}`);
    extraHigh = low.last - moved.last;
    regions = regions.map((r) => (r === low ? moved : r));
  }
  let high = regions.find((r) => r.kind === 'ram' && r.start !== 0n);
  if (extraHigh) {
    if (high) regions = regions.map((r) => (r === high ? (high = { ...r, last: r.last + extraHigh }) : r));
    else regions.push((high = { name: 'ram-above-4g', kind: 'ram', start: 4n * GiB, last: 4n * GiB + extraHigh - 1n }));
  }
  if (high && !within(common, high)) {
    const size = high.last - high.start + 1n;
    const at = firstFit(common, high.start, size, GiB);
    if (at === undefined) {
      const above = intersectRanges(common, [range(4n * GiB, U64_MAX)]);
      const largest = above.reduce<IovaRange | undefined>((m, r) => (!m || r.last - r.start > m.last - m.start ? r : m), undefined);
      explanation.push(
        `${formatSize(size)} of RAM above 4 GiB needs one contiguous usable range on every host`,
        largest ? `the largest range every host can map above 4 GiB is ${shortHex(largest.start)}..${shortHex(largest.last)} (${formatSize(largest.last - largest.start + 1n)})` : 'no host range above 4 GiB is usable on every host',
        ...blockersOf(blockers, range(high.start, U64_MAX)).slice(0, 8).map((b) => `blocked by ${describe(b.blocker)}`),
      );
      return { ...base, layout: undefined, moves, how, explanation, warnings: [] };
    }
    const to = { ...high, start: at, last: at + size - 1n };
    moves.push({ region: high.name, from: high, to, why: blockersOf(blockers, high).map((b) => `blocked by ${describe(b.blocker)}`).join('; ') });
    const amd = cpu === 'amd' || spec.options['cpu'] === 'amd';
    if (at === AMD_ABOVE_1TB_START && ['q35', 'pc', 'x86-1t'].includes(spec.preset.name))
      how.push(amd ? 'QEMU >= 7.1 with an AMD vCPU places above-4G RAM exactly here by itself (pc_memory_init, enforce_amd_1tb_hole); use machine type 7.1 or newer' : 'QEMU >= 7.1 places above-4G RAM exactly here for an AMD vCPU model (pc_memory_init, enforce_amd_1tb_hole)');
    else how.push(`above-4G RAM at ${shortHex(at)}: no ${spec.preset.name === 'cloud-hypervisor' ? 'cloud-hypervisor' : 'QEMU'} option places it at an arbitrary address; this layout needs a VMM that can`);
    regions = regions.map((r) => (r === high ? to : r));
    // The 64-bit PCI hole follows RAM.
    const h64 = regions.find((r) => r.name === 'pci-hole64');
    if (h64) {
      const len = h64.last - h64.start + 1n;
      const s = alignUp(to.last + 1n, GiB);
      regions = regions.map((r) => (r === h64 ? { ...r, start: s, last: s + len - 1n } : r));
    }
  }
  const layout = rebuild({ ...conventional, name: `${conventional.name} (planned)`, derivation: [...(conventional.derivation ?? []), ...moves.map((m) => `moved ${m.region} to ${shortHex(m.to.start)}..${shortHex(m.to.last)}: ${m.why}`)] }, regions);
  // The layout must pass the admission check on every host.
  const checked = new Set<string>();
  for (const h of hosts) {
    if (h.signature && checked.has(h.signature)) continue;
    if (h.signature) checked.add(h.signature);
    const r = checkGuest(h, layout);
    if (r.conflicts.some((c) => c.severity === 'error')) throw new PlanError(`internal: planned layout conflicts on ${h.name}`);
  }
  return { ...base, layout, moves, how, explanation: [], warnings: warnP2p(layout) };
}

export function planFleet(hosts: readonly HostView[], opts: PlanOptions): PlanResult {
  if (!hosts.length) throw new PlanError('plan needs at least one host');
  const arches = new Set(hosts.map((h) => h.arch));
  if (arches.size > 1) throw new PlanError(`hosts of different architectures cannot share a guest (${[...arches].join(', ')}): ${[...arches].map((a) => hosts.find((h) => h.arch === a)!.name).join(' vs ')}`);
  const arch = [...arches][0]!;
  const vmm = opts.vmm ?? (arch === 'aarch64' ? 'virt' : 'q35');
  const presetName = vmm.split(',')[0]!;
  const preset = PRESETS[presetName];
  if (!preset) throw new PlanError(`--vmm ${JSON.stringify(vmm)}: not a preset (${Object.keys(PRESETS).join(', ')})`);
  if (preset.arch !== arch) throw new PlanError(`--vmm ${presetName} is an ${preset.arch} layout; the hosts are ${arch}`);
  const cpu: CpuVendor = hosts.some((h) => h.iommus.some((u) => u.driver === 'amd-iommu')) ? 'amd' : 'intel';
  const blockers = fleetBlockers(hosts);
  const common = fleetCommon(hosts);
  const usableOf = new Map<string, IovaRange[]>();
  const usable = (h: HostView) => {
    if (!h.signature) return hostUsable(h);
    let u = usableOf.get(h.signature);
    if (!u) usableOf.set(h.signature, (u = hostUsable(h)));
    return u;
  };
  return {
    hosts: hosts.map((h) => ({ name: h.name, source: h.source, arch: h.arch, kernel: h.kernel, groups: h.groups.filter((g) => g.translated).length, usable: usable(h) })),
    blockers,
    common,
    layouts: opts.ram.map((ram) => planLayout(hosts, blockers, common, vmm, ram, cpu)),
  };
}
