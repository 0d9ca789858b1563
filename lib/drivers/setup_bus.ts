// SPDX-License-Identifier: GPL-2.0-only
/**
 * Bus numbers and resource assignment for a topology, as firmware and the PCI core leave them:
 * every bridge forwards a secondary..subordinate bus range and an I/O, a memory and a
 * prefetchable window that cover the BARs of everything below it; every BAR the topology leaves
 * unplaced gets an address inside its bridge's window.
 * @see drivers/pci/probe.c:pci_scan_bridge_extend (primary/secondary/subordinate)
 * @see drivers/pci/setup-bus.c:pbus_size_io, pbus_size_mem, __pci_bus_assign_resources
 * @note emulation: assignment is one deterministic depth-first pass (windows aligned to 1 MiB for
 * memory, 4 KiB for I/O) instead of the kernel's size-sorted packing; it leaves no overlap and
 * every window covers its children, which is what readers of the tree rely on.
 */
import type { AddrRange, BarSpec, DeviceSpec } from '../topology/topology';

export const isBridgeClass = (cls: number): boolean => cls >> 8 === 0x0604;

/** The type-1 header state of one bridge. Windows are inclusive; absent = disabled. */
export interface BridgeWindows {
  readonly primary: number;
  readonly secondary: number;
  readonly subordinate: number;
  readonly io?: AddrRange;
  readonly mem?: AddrRange;
  readonly pref?: AddrRange;
}

/** PCI Express device/port type (PCI_EXP_FLAGS_TYPE). @see include/uapi/linux/pci_regs.h */
export const PCI_EXP_TYPE_ENDPOINT = 0x0;
export const PCI_EXP_TYPE_ROOT_PORT = 0x4;
export const PCI_EXP_TYPE_UPSTREAM = 0x5;
export const PCI_EXP_TYPE_DOWNSTREAM = 0x6;
export const PCI_EXP_TYPE_RC_END = 0x9;

export interface PciLayout {
  /** The specs with every BAR and ROM placed (`address`, `romAddress` set). */
  readonly specs: DeviceSpec[];
  readonly bridges: ReadonlyMap<string, BridgeWindows>;
  /** PCIe port type of every PCIe function. */
  readonly pcieType: ReadonlyMap<string, number>;
  /** Functions whose header says multi-function (the topology's word, else: a slot with several functions). */
  readonly multifunction: ReadonlySet<string>;
  /** Negotiated link (GT/s, lanes) of every PCIe function that has one; width 0: link down. */
  readonly link: ReadonlyMap<string, PcieLink>;
}

export interface PcieLink {
  readonly speed: number;
  readonly width: number;
}

/** The function's LnkCap: the topology's values, or the defaults the topology file documents. */
export const pcieLinkCap = (d: DeviceSpec): PcieLink => ({ speed: d.linkSpeed ?? 8, width: d.linkWidth ?? (isBridgeClass(d.class) ? 16 : 4) });

const MEM_GRAN = 0x100000n;
const IO_GRAN = 0x1000n;
const alignUp = (x: bigint, a: bigint) => (x + a - 1n) & ~(a - 1n);
const busOf = (bdf: string) => parseInt(bdf.slice(5, 7), 16);

type Space = 'io' | 'mem' | 'pref';

/** Which window a BAR is routed through: 64-bit prefetchable BARs use the prefetchable one. */
export function barSpace(b: Pick<BarSpec, 'type' | 'prefetchable'>): Space {
  if (b.type === 'io') return 'io';
  return b.type === 'mem64' && b.prefetchable ? 'pref' : 'mem';
}

/** Where unplaced BARs start: the host bridge's windows (below and above 4 GiB) when given. */
function spaceBases(hostWindows: readonly AddrRange[]): Record<Space, bigint> {
  const low = hostWindows.find((w) => w.end < 1n << 32n);
  const high = hostWindows.find((w) => w.start >= 1n << 32n);
  return { io: 0x1000n, mem: low ? alignUp(low.start, MEM_GRAN) : 0xc0000000n, pref: high ? alignUp(high.start, MEM_GRAN) : 0x4000000000n };
}

const byDevfn = (a: DeviceSpec, b: DeviceSpec) => (a.bdf < b.bdf ? -1 : a.bdf > b.bdf ? 1 : 0);

/** Each bus's devices by devfn, keyed by the bridge above them (undefined: the root bus). */
export function specsByParent(specs: readonly DeviceSpec[]): Map<string | undefined, DeviceSpec[]> {
  const kids = new Map<string | undefined, DeviceSpec[]>();
  for (const d of specs) {
    const l = kids.get(d.parent) ?? [];
    l.push(d);
    kids.set(d.parent, l);
  }
  for (const l of kids.values()) l.sort(byDevfn);
  return kids;
}

export function pciAssignResources(input: readonly DeviceSpec[], hostWindows: readonly AddrRange[] = []): PciLayout {
  const kids = specsByParent(input);
  const childrenOf = (bdf: string | undefined) => kids.get(bdf) ?? [];

  // Bus numbers: a bridge's secondary bus is the bus its children sit on; an empty bridge gets
  // the next bus number nobody uses, in depth-first order, as a BIOS numbering pass would.
  const used = new Set(input.map((d) => busOf(d.bdf)));
  let nextFree = Math.max(0, ...used) + 1;
  const secondary = new Map<string, number>();
  const subordinate = new Map<string, number>();
  const number = (d: DeviceSpec): number => {
    const below = childrenOf(d.bdf);
    let sec: number;
    if (below.length) sec = busOf(below[0]!.bdf);
    else {
      while (used.has(nextFree)) nextFree++;
      sec = Math.min(nextFree++, 0xff);
      used.add(sec);
    }
    secondary.set(d.bdf, sec);
    let sub = sec;
    for (const c of below) if (isBridgeClass(c.class)) sub = Math.max(sub, number(c));
    subordinate.set(d.bdf, sub);
    return sub;
  };
  for (const d of childrenOf(undefined)) if (isBridgeClass(d.class)) number(d);
  // Bridges below a non-bridge parent cannot exist (the topology refuses them), so every bridge is numbered.
  const visit = (d: DeviceSpec) => {
    if (isBridgeClass(d.class) && !secondary.has(d.bdf)) number(d);
    childrenOf(d.bdf).forEach(visit);
  };
  childrenOf(undefined).forEach(visit);

  // Resources, depth first.
  const cur = spaceBases(hostWindows);
  const placed = new Map<string, DeviceSpec>();
  const windows = new Map<string, { io?: AddrRange; mem?: AddrRange; pref?: AddrRange }>();
  const maxBar = (d: DeviceSpec, s: Space): bigint => {
    let m = 0n;
    for (const b of d.bars) if (barSpace(b) === s && b.address === undefined && b.size > m) m = b.size;
    if (s === 'mem' && d.rom && d.rom > m) m = d.rom;
    for (const c of childrenOf(d.bdf)) {
      const x = maxBar(c, s);
      if (x > m) m = x;
    }
    return m;
  };
  const place = (d: DeviceSpec) => {
    placed.set(d.bdf, placeBars(d, cur));
    if (!isBridgeClass(d.class)) return;
    for (const s of ['io', 'mem', 'pref'] as const) {
      const gran = s === 'io' ? IO_GRAN : MEM_GRAN;
      const a = maxBar({ ...d, bars: [], rom: undefined }, s);
      cur[s] = alignUp(cur[s], a > gran ? a : gran);
      const given = d.windows?.[s];
      if (given && given.start > cur[s]) cur[s] = given.start;
    }
    childrenOf(d.bdf).forEach(place);
    // The window is the hull of everything placed below, at the window granularity; a recorded
    // bridge keeps the windows it had.
    const w: { io?: AddrRange; mem?: AddrRange; pref?: AddrRange } = {};
    for (const s of ['io', 'mem', 'pref'] as const) {
      const given = d.windows?.[s];
      if (given) {
        w[s] = given;
        continue;
      }
      const gran = s === 'io' ? IO_GRAN : MEM_GRAN;
      let lo: bigint | undefined;
      let hi = 0n;
      const cover = (start: bigint, size: bigint) => {
        if (lo === undefined || start < lo) lo = start;
        if (start + size > hi) hi = start + size;
      };
      for (const c of subtree(d.bdf)) {
        const p = placed.get(c.bdf)!;
        for (const b of p.bars) if (barSpace(b) === s) cover(b.address!, b.size);
        if (s === 'mem' && p.romAddress !== undefined && p.rom) cover(p.romAddress, p.rom);
      }
      if (lo === undefined) continue;
      hi = alignUp(hi, gran);
      w[s] = { start: lo & ~(gran - 1n), end: hi - 1n };
      if (hi > cur[s]) cur[s] = hi;
    }
    windows.set(d.bdf, w);
  };
  const subtree = (bdf: string): DeviceSpec[] => childrenOf(bdf).flatMap((c) => [c, ...subtree(c.bdf)]);
  childrenOf(undefined).forEach(place);
  // Devices whose parent chain is broken (refused by the topology) still get addresses.
  for (const d of input) if (!placed.has(d.bdf)) place(d);

  const bridges = new Map<string, BridgeWindows>();
  for (const [bdf, sec] of secondary)
    bridges.set(bdf, { primary: busOf(bdf), secondary: sec, subordinate: subordinate.get(bdf)!, ...windows.get(bdf) });

  const byBdf = new Map(input.map((d) => [d.bdf, d]));
  const pcieType = new Map<string, number>();
  const typeOf = (d: DeviceSpec): number => {
    const parent = d.parent === undefined ? undefined : byBdf.get(d.parent);
    if (!isBridgeClass(d.class)) return parent ? PCI_EXP_TYPE_ENDPOINT : PCI_EXP_TYPE_RC_END;
    if (!parent) return PCI_EXP_TYPE_ROOT_PORT;
    return pcieType.get(parent.bdf) === PCI_EXP_TYPE_UPSTREAM ? PCI_EXP_TYPE_DOWNSTREAM : PCI_EXP_TYPE_UPSTREAM;
  };
  const walkTypes = (l: readonly DeviceSpec[]) => {
    for (const d of l) {
      if (d.pcie) pcieType.set(d.bdf, typeOf(d));
      walkTypes(childrenOf(d.bdf));
    }
  };
  walkTypes(childrenOf(undefined));

  // Both ends of a link train to the lower speed and width; a port with nothing below is down.
  const link = new Map<string, PcieLink>();
  for (const d of input) {
    const t = pcieType.get(d.bdf);
    if (t === undefined || t === PCI_EXP_TYPE_RC_END) continue;
    const down = t === PCI_EXP_TYPE_ROOT_PORT || t === PCI_EXP_TYPE_DOWNSTREAM;
    const up = d.parent === undefined ? undefined : byBdf.get(d.parent);
    const peer = down ? childrenOf(d.bdf).find((c) => c.pcie) : up?.pcie ? up : undefined;
    const a = pcieLinkCap(d);
    const b = peer && pcieLinkCap(peer);
    link.set(d.bdf, b ? { speed: Math.min(a.speed, b.speed), width: Math.min(a.width, b.width) } : { speed: a.speed, width: 0 });
  }
  const slot = (bdf: string) => bdf.slice(0, -2);
  const perSlot = new Map<string, number>();
  for (const d of input) perSlot.set(slot(d.bdf), (perSlot.get(slot(d.bdf)) ?? 0) + 1);
  const multifunction = new Set(input.filter((d) => d.multifunction ?? perSlot.get(slot(d.bdf))! > 1).map((d) => d.bdf));
  return { specs: input.map((d) => placed.get(d.bdf)!), bridges, pcieType, link, multifunction };
}

/**
 * A device added at run time: its unplaced BARs go above everything already assigned.
 * @note emulation: real hot-plug slots reserve window space (pci=hpmemsize); here the bridge
 * windows are not grown.
 */
export function pciAssignHotplug(spec: DeviceSpec, existing: readonly DeviceSpec[]): DeviceSpec {
  const cur = spaceBases([]);
  for (const d of existing) {
    for (const b of d.bars) {
      const s = barSpace(b);
      if (b.address !== undefined && b.address + b.size > cur[s] && (s !== 'mem' || b.address < 1n << 32n)) cur[s] = b.address + b.size;
    }
    if (d.romAddress !== undefined && d.rom && d.romAddress + d.rom > cur.mem) cur.mem = d.romAddress + d.rom;
  }
  return placeBars(spec, cur);
}

/** Gives every unplaced BAR (in index order) and the ROM the next aligned address of its space. */
function placeBars(d: DeviceSpec, cur: Record<Space, bigint>): DeviceSpec {
  const bars = [...d.bars]
    .sort((x, y) => x.index - y.index)
    .map((b): BarSpec => {
      if (b.address !== undefined) return b;
      const s = barSpace(b);
      const address = alignUp(cur[s], b.size);
      cur[s] = address + b.size;
      return { ...b, address };
    });
  let romAddress = d.romAddress;
  if (d.rom && romAddress === undefined) {
    romAddress = alignUp(cur.mem, d.rom);
    cur.mem = romAddress + d.rom;
  }
  return { ...d, bars, ...(romAddress !== undefined ? { romAddress } : {}) };
}
