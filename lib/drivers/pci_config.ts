// SPDX-License-Identifier: GPL-2.0-only
/**
 * PCI configuration space and resources derived from a topology device, consistent with the
 * text attributes (vendor, device, class, revision, subsystem ids).
 * @see include/uapi/linux/pci_regs.h, drivers/pci/probe.c:__pci_read_base, drivers/pci/pci-sysfs.c:resource_show
 */
import type { BarSpec, DeviceSpec } from '../topology/topology';
import { BridgeWindows, PCI_EXP_TYPE_DOWNSTREAM, PCI_EXP_TYPE_RC_END, PCI_EXP_TYPE_ROOT_PORT, PcieLink, isBridgeClass, pcieLinkCap } from './setup_bus';
import {
  PCI_BASE_ADDRESS_0,
  PCI_CAPABILITY_LIST,
  PCI_CAP_ID_EXP,
  PCI_CAP_ID_MSI,
  PCI_CAP_ID_MSIX,
  PCI_CAP_ID_PM,
  PCI_CFG_SPACE_EXP_SIZE,
  PCI_CFG_SPACE_SIZE,
  PCI_CLASS_PROG,
  PCI_COMMAND,
  PCI_DEVICE_ID,
  PCI_HEADER_TYPE,
  PCI_INTERRUPT_LINE,
  PCI_INTERRUPT_PIN,
  PCI_REVISION_ID,
  PCI_ROM_ADDRESS,
  PCI_STATUS,
  PCI_STATUS_CAP_LIST,
  PCI_SUBSYSTEM_ID,
  PCI_SUBSYSTEM_VENDOR_ID,
  PCI_VENDOR_ID,
  PCI_ACS_CAP,
  PCI_ACS_CR,
  PCI_ACS_CTRL,
  PCI_ACS_RR,
  PCI_ACS_SV,
  PCI_ACS_TB,
  PCI_ACS_UF,
  PCI_BIST,
  PCI_BRIDGE_CONTROL,
  PCI_CACHE_LINE_SIZE,
  PCI_CAP_EXP_ENDPOINT_SIZEOF_V2,
  PCI_CAP_ID_SSVID,
  PCI_EXP_DEVCAP,
  PCI_EXP_DEVCAP_FLR,
  PCI_EXP_DEVCTL,
  PCI_EXP_DEVCTL2,
  PCI_EXP_DEVSTA,
  PCI_EXP_FLAGS,
  PCI_EXP_FLAGS_SLOT,
  PCI_EXP_LNKCAP,
  PCI_EXP_LNKCAP2,
  PCI_EXP_LNKCAP_DLLLARC,
  PCI_EXP_LNKCTL,
  PCI_EXP_LNKCTL2,
  PCI_EXP_LNKCTL_CCC,
  PCI_EXP_LNKSTA,
  PCI_EXP_LNKSTA_DLLLA,
  PCI_EXP_LNKSTA_SLC,
  PCI_EXP_RTCTL,
  PCI_EXP_SLTCAP,
  PCI_EXP_SLTCTL,
  PCI_EXP_SLTSTA,
  PCI_EXP_SLTSTA_PDS,
  PCI_EXT_CAP_ID_ACS,
  PCI_IO_BASE,
  PCI_IO_LIMIT,
  PCI_LATENCY_TIMER,
  PCI_MEMORY_BASE,
  PCI_MEMORY_LIMIT,
  PCI_MSIX_FLAGS,
  PCI_MSI_FLAGS,
  PCI_PM_CTRL,
  PCI_PREF_BASE_UPPER32,
  PCI_PREF_LIMIT_UPPER32,
  PCI_PREF_MEMORY_BASE,
  PCI_PREF_MEMORY_LIMIT,
  PCI_PREF_RANGE_TYPE_64,
  PCI_PRIMARY_BUS,
  PCI_SECONDARY_BUS,
  PCI_SEC_LATENCY_TIMER,
  PCI_SEC_STATUS,
  PCI_SSVID_DEVICE_ID,
  PCI_SSVID_VENDOR_ID,
  PCI_SUBORDINATE_BUS,
} from '../uapi/pci_regs';

export { PCI_CFG_SPACE_EXP_SIZE, PCI_CFG_SPACE_SIZE };

// include/linux/ioport.h
const IORESOURCE_IO = 0x100;
const IORESOURCE_MEM = 0x200;
const IORESOURCE_PREFETCH = 0x2000;
const IORESOURCE_READONLY = 0x4000;
const IORESOURCE_SIZEALIGN = 0x40000;
const IORESOURCE_MEM_64 = 0x100000;

export interface BarResource {
  readonly index: number;
  readonly start: bigint;
  readonly size: bigint;
  /** `struct resource` flags as resource_show prints them. */
  readonly flags: number;
  readonly spec?: BarSpec;
}

const alignUp = (x: bigint, a: bigint) => (x + a - 1n) & ~(a - 1n);

/**
 * The device's resources. A host's specs have every BAR placed (lib/drivers/setup_bus.ts); a bare
 * spec's unplaced BARs get deterministic addresses per bus/slot/function.
 */
export function barResources(spec: DeviceSpec): BarResource[] {
  const [bus, slot, func] = [spec.bdf.slice(5, 7), spec.bdf.slice(8, 10), spec.bdf.slice(11)].map((x) => BigInt(parseInt(x, 16)));
  let c64 = 0x4000000000n + (bus! << 36n) + (slot! << 31n) + (func! << 28n);
  let c32 = 0xc0000000n + (bus! << 20n) + (slot! << 15n) + (func! << 12n);
  let cio = 0x1000n + (bus! << 8n) + (slot! << 4n);
  const out: BarResource[] = [];
  for (const b of [...spec.bars].sort((x, y) => x.index - y.index)) {
    let start: bigint;
    let flags: number;
    if (b.type === 'io') {
      start = b.address ?? alignUp(cio, b.size);
      cio = start + b.size;
      flags = IORESOURCE_IO | IORESOURCE_SIZEALIGN | 0x1;
    } else if (b.type === 'mem64') {
      start = b.address ?? alignUp(c64, b.size);
      c64 = start + b.size;
      flags = IORESOURCE_MEM | IORESOURCE_SIZEALIGN | IORESOURCE_MEM_64 | 0x4;
    } else {
      start = b.address ?? alignUp(c32, b.size);
      c32 = start + b.size;
      flags = IORESOURCE_MEM | IORESOURCE_SIZEALIGN;
    }
    if (b.prefetchable && b.type !== 'io') flags |= IORESOURCE_PREFETCH | 0x8;
    out.push({ index: b.index, start, size: b.size, flags, spec: b });
  }
  if (spec.rom) {
    const start = spec.romAddress ?? alignUp(c32, spec.rom);
    out.push({ index: 6, start, size: spec.rom, flags: IORESOURCE_MEM | IORESOURCE_PREFETCH | IORESOURCE_READONLY | IORESOURCE_SIZEALIGN });
  }
  return out;
}


/** What the PCI core knows about a function beyond its spec: its bridge state and its link. */
export interface PciFunctionInfo {
  readonly bridge?: BridgeWindows;
  /** PCI_EXP_FLAGS_TYPE, for PCIe functions. */
  readonly pcieType?: number;
  readonly link?: PcieLink;
  /** Header type bit 7. */
  readonly multifunction?: boolean;
}

const BRIDGE_IO_FLAGS = IORESOURCE_IO;
const BRIDGE_MEM_FLAGS = IORESOURCE_MEM;
const BRIDGE_PREF_FLAGS = IORESOURCE_MEM | IORESOURCE_PREFETCH | IORESOURCE_MEM_64 | PCI_PREF_RANGE_TYPE_64;

/**
 * `resource`: one `0x%016llx 0x%016llx 0x%016llx` line per resource slot: 6 BARs + ROM, the six
 * SR-IOV BARs with CONFIG_PCI_IOV, and four bridge windows on bridges (13/17, or 7/11). A bridge
 * window prints the flags pci_read_bridge_{io,mmio,mmio_pref} gave it; a disabled one is zeros.
 * @see drivers/pci/pci-sysfs.c:resource_show, drivers/pci/probe.c:pci_read_bridge_mmio_pref
 */
export function resourceFile(spec: DeviceSpec, pciIov = true, bridge?: BridgeWindows): string {
  const slots = pciIov ? 13 : 7;
  const n = slots + (isBridgeClass(spec.class) ? 4 : 0);
  const res = barResources(spec);
  const hex = (x: bigint) => `0x${x.toString(16).padStart(16, '0')}`;
  const line = (start: bigint, end: bigint, flags: number) => `${hex(start)} ${hex(end)} ${hex(BigInt(flags))}\n`;
  const zero = line(0n, 0n, 0);
  let out = '';
  for (let i = 0; i < n; i++) {
    if (i >= slots) {
      const w = [bridge?.io, bridge?.mem, bridge?.pref][i - slots];
      const flags = [BRIDGE_IO_FLAGS, BRIDGE_MEM_FLAGS, BRIDGE_PREF_FLAGS][i - slots]!;
      out += w ? line(w.start, w.end, flags) : zero;
      continue;
    }
    const r = res.find((x) => x.index === i);
    out += r ? line(r.start, r.start + r.size - 1n, r.flags) : zero;
  }
  return out;
}

/** LnkCap/LnkSta speed codes. @see include/uapi/linux/pci_regs.h (PCI_EXP_LNKCAP_SLS_*) */
const SPEED_CODE: Readonly<Record<number, number>> = { 2.5: 1, 5: 2, 8: 3, 16: 4, 32: 5, 64: 6 };
const PCI_CFG_EXT_START = 0x100;

interface CapPlan {
  readonly id: number;
  readonly len: number;
  readonly fill: (v: DataView, at: number) => void;
}

/**
 * The config space a function reads back: the type 0 or type 1 header consistent with the text
 * attributes, the bridge's bus numbers and windows, the standard capability list (PM, MSI, MSI-X,
 * SSVID on bridges with subsystem ids, PCI Express with the port type and the trained link) and,
 * on PCIe functions, the ACS extended capability where the topology says `acs: true`.
 * @see include/uapi/linux/pci_regs.h
 */
export function buildConfigSpace(spec: DeviceSpec, info: PciFunctionInfo = {}): Uint8Array {
  if (spec.config) return Uint8Array.from(spec.config);
  const cfg = new Uint8Array(spec.pcie ? PCI_CFG_SPACE_EXP_SIZE : PCI_CFG_SPACE_SIZE);
  const v = new DataView(cfg.buffer);
  const bridge = isBridgeClass(spec.class);
  v.setUint16(PCI_VENDOR_ID, spec.vendor, true);
  v.setUint16(PCI_DEVICE_ID, spec.device, true);
  v.setUint16(PCI_COMMAND, bridge ? 0x0007 : 0x0006, true); // memory + bus master (+ I/O on bridges)
  v.setUint16(PCI_STATUS, PCI_STATUS_CAP_LIST, true);
  v.setUint8(PCI_REVISION_ID, spec.revision);
  v.setUint8(PCI_CLASS_PROG, spec.class & 0xff);
  v.setUint8(PCI_CLASS_PROG + 1, (spec.class >> 8) & 0xff);
  v.setUint8(PCI_CLASS_PROG + 2, (spec.class >> 16) & 0xff);
  const multifunction = info.multifunction ?? spec.multifunction ?? false;
  v.setUint8(PCI_HEADER_TYPE, (bridge ? 0x01 : 0x00) | (multifunction ? 0x80 : 0));
  for (const r of barResources(spec)) {
    if (r.index === 6) {
      if (!bridge) v.setUint32(PCI_ROM_ADDRESS, Number(r.start & 0xfffff800n), true);
      continue;
    }
    if (bridge && r.index > 1) continue;
    const off = PCI_BASE_ADDRESS_0 + 4 * r.index;
    if (r.flags & IORESOURCE_IO) v.setUint32(off, Number(r.start & 0xfffffffcn) | 0x1, true);
    else {
      const low = Number(r.start & 0xfffffff0n) | (r.flags & 0xf);
      v.setUint32(off, low >>> 0, true);
      if (r.flags & IORESOURCE_MEM_64) v.setUint32(off + 4, Number(r.start >> 32n), true);
    }
  }
  if (bridge) {
    const b = info.bridge;
    v.setUint8(PCI_PRIMARY_BUS, b?.primary ?? 0);
    v.setUint8(PCI_SECONDARY_BUS, b?.secondary ?? 0);
    v.setUint8(PCI_SUBORDINATE_BUS, b?.subordinate ?? 0);
    v.setUint8(PCI_SEC_LATENCY_TIMER, 0);
    // A disabled window has base above limit.
    const io = b?.io;
    v.setUint8(PCI_IO_BASE, io ? Number((io.start >> 8n) & 0xf0n) : 0xf0);
    v.setUint8(PCI_IO_LIMIT, io ? Number((io.end >> 8n) & 0xf0n) : 0x00);
    const mem = b?.mem;
    v.setUint16(PCI_MEMORY_BASE, mem ? Number((mem.start >> 16n) & 0xfff0n) : 0xfff0, true);
    v.setUint16(PCI_MEMORY_LIMIT, mem ? Number((mem.end >> 16n) & 0xfff0n) : 0x0000, true);
    const pref = b?.pref;
    v.setUint16(PCI_PREF_MEMORY_BASE, (pref ? Number((pref.start >> 16n) & 0xfff0n) : 0xfff0) | PCI_PREF_RANGE_TYPE_64, true);
    v.setUint16(PCI_PREF_MEMORY_LIMIT, (pref ? Number((pref.end >> 16n) & 0xfff0n) : 0x0000) | PCI_PREF_RANGE_TYPE_64, true);
    v.setUint32(PCI_PREF_BASE_UPPER32, pref ? Number(pref.start >> 32n) : 0, true);
    v.setUint32(PCI_PREF_LIMIT_UPPER32, pref ? Number(pref.end >> 32n) : 0, true);
    v.setUint16(PCI_BRIDGE_CONTROL, 0, true);
  } else {
    v.setUint16(PCI_SUBSYSTEM_VENDOR_ID, spec.subsystem_vendor, true);
    v.setUint16(PCI_SUBSYSTEM_ID, spec.subsystem_device, true);
  }
  v.setUint8(PCI_INTERRUPT_LINE, spec.irq & 0xff);
  v.setUint8(PCI_INTERRUPT_PIN, spec.intx ? 0x01 : 0x00);

  // Capability list: PM → MSI → MSI-X → SSVID (bridges) → PCIe
  const caps: CapPlan[] = [{ id: PCI_CAP_ID_PM, len: 8, fill: (c, at) => c.setUint16(at + 2, 0x0003, true) }];
  if (spec.msi)
    caps.push({ id: PCI_CAP_ID_MSI, len: 24, fill: (c, at) => c.setUint16(at + 2, 0x0080 | (Math.min(5, Math.ceil(Math.log2(Math.max(1, spec.msi)))) << 1), true) });
  if (spec.msix) caps.push({ id: PCI_CAP_ID_MSIX, len: 12, fill: (c, at) => c.setUint16(at + 2, (spec.msix - 1) & 0x7ff, true) });
  if (bridge && (spec.subsystem_vendor || spec.subsystem_device))
    caps.push({
      id: PCI_CAP_ID_SSVID,
      len: 8,
      fill: (c, at) => {
        c.setUint16(at + PCI_SSVID_VENDOR_ID, spec.subsystem_vendor, true);
        c.setUint16(at + PCI_SSVID_DEVICE_ID, spec.subsystem_device, true);
      },
    });
  if (spec.pcie) caps.push({ id: PCI_CAP_ID_EXP, len: PCI_CAP_EXP_ENDPOINT_SIZEOF_V2, fill: (c, at) => fillPcieCap(c, at, spec, info) });
  let ptr = 0x40;
  v.setUint8(PCI_CAPABILITY_LIST, ptr);
  caps.forEach((cap, i) => {
    const next = i + 1 < caps.length ? ptr + cap.len : 0;
    v.setUint8(ptr, cap.id);
    v.setUint8(ptr + 1, next);
    cap.fill(v, ptr);
    ptr = next;
  });

  if (spec.pcie && spec.acs === true) {
    // ACS: ports validate, block, redirect and forward; functions of a multi-function device
    // can only redirect. Linux enables SV|RR|CR|UF of what is there. @see drivers/pci/pci.c:pci_std_enable_acs
    const port = info.pcieType === PCI_EXP_TYPE_ROOT_PORT || info.pcieType === PCI_EXP_TYPE_DOWNSTREAM;
    const cap = port ? PCI_ACS_SV | PCI_ACS_TB | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF : PCI_ACS_RR | PCI_ACS_CR;
    v.setUint32(PCI_CFG_EXT_START, PCI_EXT_CAP_ID_ACS | (1 << 16), true);
    v.setUint16(PCI_CFG_EXT_START + PCI_ACS_CAP, cap, true);
    v.setUint16(PCI_CFG_EXT_START + PCI_ACS_CTRL, cap & (PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF), true);
  }
  return cfg;
}

function fillPcieCap(v: DataView, at: number, spec: DeviceSpec, info: PciFunctionInfo): void {
  const type = info.pcieType ?? 0;
  const port = type === PCI_EXP_TYPE_ROOT_PORT || type === PCI_EXP_TYPE_DOWNSTREAM;
  v.setUint16(at + PCI_EXP_FLAGS, 0x0002 | (type << 4) | (port ? PCI_EXP_FLAGS_SLOT : 0), true);
  // 256-byte payload, extended tags, role-based errors; FLR where the device resets that way.
  const flr = !isBridgeClass(spec.class) && spec.resetMethods.includes('flr') ? PCI_EXP_DEVCAP_FLR : 0;
  v.setUint32(at + PCI_EXP_DEVCAP, (0x00008021 | flr) >>> 0, true);
  v.setUint16(at + PCI_EXP_DEVCTL, 0x2910, true); // RlxdOrd, ExtTag, NoSnoop, 128-byte payload, 512-byte read requests
  v.setUint16(at + PCI_EXP_DEVSTA, 0, true);
  if (type === PCI_EXP_TYPE_RC_END) return; // an integrated endpoint has no link
  const cap = pcieLinkCap(spec);
  const code = SPEED_CODE[cap.speed] ?? 3;
  const devNo = parseInt(spec.bdf.slice(8, 10), 16);
  v.setUint32(at + PCI_EXP_LNKCAP, (code | (cap.width << 4) | 0x800 | (port ? PCI_EXP_LNKCAP_DLLLARC : 0) | (devNo << 24)) >>> 0, true);
  const link = info.link ?? cap;
  const up = link.width > 0;
  v.setUint16(at + PCI_EXP_LNKCTL, up ? PCI_EXP_LNKCTL_CCC : 0, true);
  v.setUint16(at + PCI_EXP_LNKSTA, (SPEED_CODE[link.speed] ?? code) | (link.width << 4) | PCI_EXP_LNKSTA_SLC | (port && up ? PCI_EXP_LNKSTA_DLLLA : 0), true);
  if (port) {
    v.setUint32(at + PCI_EXP_SLTCAP, (devNo + 1) << 19, true);
    v.setUint16(at + PCI_EXP_SLTSTA, up ? PCI_EXP_SLTSTA_PDS : 0, true);
  }
  v.setUint32(at + PCI_EXP_LNKCAP2, ((1 << code) - 1) << 1, true);
  v.setUint16(at + PCI_EXP_LNKCTL2, code, true);
}

/**
 * Which bits a write reaches, as the hardware implements its registers (read-only registers —
 * ids, revision, class, header type, capability structure — are zero here), and which bits are
 * write-1-to-clear status. The BARs implement the address bits their size allows.
 */
export function configWriteMasks(spec: DeviceSpec, cfg: Uint8Array): { write: Uint8Array; rw1c: Uint8Array } {
  const write = new Uint8Array(cfg.length);
  const rw1c = new Uint8Array(cfg.length);
  const set = (m: Uint8Array, off: number, width: 1 | 2 | 4, mask: number) => {
    for (let i = 0; i < width; i++) if (off + i < m.length) m[off + i] = (mask >>> (8 * i)) & 0xff;
  };
  const bridge = (cfg[PCI_HEADER_TYPE]! & 0x7f) === 1;
  set(write, PCI_COMMAND, 2, 0x07ff);
  set(rw1c, PCI_STATUS, 2, 0xf900);
  set(write, PCI_CACHE_LINE_SIZE, 1, 0xff);
  set(write, PCI_LATENCY_TIMER, 1, 0xff);
  set(write, PCI_INTERRUPT_LINE, 1, 0xff);
  void PCI_BIST; // no BIST: the register reads 0 and ignores writes
  for (const r of barResources(spec)) {
    const sizeMask = ~(r.size - 1n) & 0xffffffffffffffffn;
    if (r.index === 6) {
      if (!bridge) set(write, PCI_ROM_ADDRESS, 4, Number(sizeMask & 0xfffff800n) | 0x1);
      continue;
    }
    if (bridge && r.index > 1) continue;
    const off = PCI_BASE_ADDRESS_0 + 4 * r.index;
    if (r.flags & IORESOURCE_IO) set(write, off, 4, Number(sizeMask & 0xfffffffcn));
    else {
      set(write, off, 4, Number(sizeMask & 0xfffffff0n));
      if (r.flags & IORESOURCE_MEM_64) set(write, off + 4, 4, Number((sizeMask >> 32n) & 0xffffffffn));
    }
  }
  if (bridge) {
    for (const off of [PCI_PRIMARY_BUS, PCI_SECONDARY_BUS, PCI_SUBORDINATE_BUS, PCI_SEC_LATENCY_TIMER]) set(write, off, 1, 0xff);
    set(write, PCI_IO_BASE, 1, 0xf0);
    set(write, PCI_IO_LIMIT, 1, 0xf0);
    set(rw1c, PCI_SEC_STATUS, 2, 0xf900);
    for (const off of [PCI_MEMORY_BASE, PCI_MEMORY_LIMIT, PCI_PREF_MEMORY_BASE, PCI_PREF_MEMORY_LIMIT]) set(write, off, 2, 0xfff0);
    set(write, PCI_PREF_BASE_UPPER32, 4, 0xffffffff);
    set(write, PCI_PREF_LIMIT_UPPER32, 4, 0xffffffff);
    set(write, PCI_BRIDGE_CONTROL, 2, 0x007f);
  }
  const v = new DataView(cfg.buffer, cfg.byteOffset, cfg.byteLength);
  const seen = new Set<number>();
  for (let p = cfg[PCI_CAPABILITY_LIST]! & 0xfc; p >= 0x40 && p + 4 <= cfg.length && !seen.has(p); p = cfg[p + 1]! & 0xfc) {
    seen.add(p);
    switch (cfg[p]) {
      case PCI_CAP_ID_PM:
        set(write, p + PCI_PM_CTRL, 2, 0x0103);
        set(rw1c, p + PCI_PM_CTRL, 2, 0x8000);
        break;
      case PCI_CAP_ID_MSI: {
        const is64 = (v.getUint16(p + PCI_MSI_FLAGS, true) & 0x0080) !== 0;
        set(write, p + PCI_MSI_FLAGS, 2, 0x0071);
        set(write, p + 4, 4, 0xfffffffc);
        if (is64) set(write, p + 8, 4, 0xffffffff);
        set(write, p + (is64 ? 0x0c : 0x08), 2, 0xffff);
        break;
      }
      case PCI_CAP_ID_MSIX:
        set(write, p + PCI_MSIX_FLAGS, 2, 0xc000);
        break;
      case PCI_CAP_ID_EXP: {
        const type = (v.getUint16(p + PCI_EXP_FLAGS, true) >> 4) & 0xf;
        const port = type === PCI_EXP_TYPE_ROOT_PORT || type === PCI_EXP_TYPE_DOWNSTREAM;
        set(write, p + PCI_EXP_DEVCTL, 2, 0xffff);
        set(rw1c, p + PCI_EXP_DEVSTA, 2, 0x000f);
        if (type !== PCI_EXP_TYPE_RC_END) {
          set(write, p + PCI_EXP_LNKCTL, 2, port ? 0x0ff3 : 0x0fc3);
          if (port) set(rw1c, p + PCI_EXP_LNKSTA, 2, 0xc000);
          set(write, p + PCI_EXP_LNKCTL2, 2, 0x0fff);
        }
        if (port) {
          set(write, p + PCI_EXP_SLTCTL, 2, 0x1fff);
          set(rw1c, p + PCI_EXP_SLTSTA, 2, 0x011f);
        }
        if (type === PCI_EXP_TYPE_ROOT_PORT) set(write, p + PCI_EXP_RTCTL, 2, 0x001f);
        set(write, p + PCI_EXP_DEVCTL2, 2, 0xffff);
        break;
      }
      default:
        break;
    }
  }
  if (cfg.length > PCI_CFG_EXT_START) {
    const ext = new Set<number>();
    for (let p = PCI_CFG_EXT_START; p >= PCI_CFG_EXT_START && p + 8 <= cfg.length && !ext.has(p); ) {
      ext.add(p);
      const hdr = v.getUint32(p, true);
      if (hdr === 0) break;
      if ((hdr & 0xffff) === PCI_EXT_CAP_ID_ACS) set(write, p + PCI_ACS_CTRL, 2, v.getUint16(p + PCI_ACS_CAP, true) & 0x7f);
      p = (hdr >>> 20) & 0xffc;
    }
  }
  return { write, rw1c };
}

/**
 * A write to `config` at `pos`: each byte keeps its read-only bits, takes the written value in
 * its writable bits, and clears the write-1-to-clear bits written as 1. Returns the bytes
 * consumed (the kernel cuts the write at the end of the config space).
 * @see drivers/pci/pci-sysfs.c:pci_write_config, drivers/pci/access.c:pci_user_write_config_dword
 */
export function pciWriteConfig(spec: DeviceSpec, cfg: Uint8Array, data: Uint8Array, pos: number): number {
  if (pos >= cfg.length) return 0;
  const n = Math.min(data.length, cfg.length - pos);
  const { write, rw1c } = configWriteMasks(spec, cfg);
  for (let i = 0; i < n; i++) {
    const off = pos + i;
    const val = data[i]!;
    cfg[off] = ((cfg[off]! & ~write[off]! & ~(rw1c[off]! & val)) | (val & write[off]!)) & 0xff;
  }
  return n;
}
