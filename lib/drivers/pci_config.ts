// SPDX-License-Identifier: GPL-2.0-only
/**
 * PCI configuration space and resources derived from a topology device, consistent with the
 * text attributes (vendor, device, class, revision, subsystem ids).
 * @see include/uapi/linux/pci_regs.h, drivers/pci/probe.c:__pci_read_base, drivers/pci/pci-sysfs.c:resource_show
 */
import type { BarSpec, DeviceSpec } from '../topology/topology';
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

/** Deterministic addresses for BARs the topology leaves unplaced: a window per bus/slot/function. */
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
    const start = alignUp(c32, spec.rom);
    out.push({ index: 6, start, size: spec.rom, flags: IORESOURCE_MEM | IORESOURCE_PREFETCH | IORESOURCE_READONLY | IORESOURCE_SIZEALIGN });
  }
  return out;
}

const isBridgeClass = (cls: number) => cls >> 8 === 0x0604;

/**
 * Where the MSI-X table and PBA of a device sit (the capability's Table and PBA Offset/BIR
 * registers): in the smallest memory BAR whose upper half holds both, the table at the half (a
 * page boundary) and the PBA on the next page, as NVMe and NIC BAR layouts have them; else at the
 * start of the largest memory BAR, the PBA right after the table. Nothing without a memory BAR.
 * @note emulation: hardware fixes these; a topology gives only the vector count, so the layout
 * is chosen here once, and vfio-pci's sparse mmap and QEMU's checks read it from config space.
 * @see include/uapi/linux/pci_regs.h:PCI_MSIX_TABLE, PCI_MSIX_PBA
 */
export function msixPlacement(spec: DeviceSpec): { bir: number; table: bigint; pba: bigint } | undefined {
  if (!spec.msix) return undefined;
  const tableSize = BigInt(spec.msix) * 16n;
  const pbaSize = BigInt(Math.ceil(spec.msix / 64)) * 8n;
  const page = 4096n;
  const roundUp = (n: bigint, a: bigint): bigint => ((n + a - 1n) / a) * a;
  const mem = spec.bars.filter((b) => b.type !== 'io').sort((a, b) => (a.size < b.size ? -1 : a.size > b.size ? 1 : a.index - b.index));
  for (const b of mem) {
    const half = b.size / 2n;
    if (half >= page && roundUp(tableSize, page) + pbaSize <= half) return { bir: b.index, table: half, pba: half + roundUp(tableSize, page) };
  }
  const big = mem[mem.length - 1];
  if (!big || tableSize + pbaSize > big.size) return undefined;
  return { bir: big.index, table: 0n, pba: roundUp(tableSize, 8n) };
}

/**
 * `resource`: one `0x%016llx 0x%016llx 0x%016llx` line per resource slot: 6 BARs + ROM, the six
 * SR-IOV BARs with CONFIG_PCI_IOV, and four bridge windows on bridges (13/17, or 7/11).
 */
export function resourceFile(spec: DeviceSpec, pciIov = true): string {
  const n = (pciIov ? 13 : 7) + (isBridgeClass(spec.class) ? 4 : 0);
  const res = barResources(spec);
  const hex = (x: bigint) => `0x${x.toString(16).padStart(16, '0')}`;
  let out = '';
  for (let i = 0; i < n; i++) {
    const r = res.find((x) => x.index === i);
    out += r ? `${hex(r.start)} ${hex(r.start + r.size - 1n)} ${hex(BigInt(r.flags))}\n` : `${hex(0n)} ${hex(0n)} ${hex(0n)}\n`;
  }
  return out;
}

export function buildConfigSpace(spec: DeviceSpec): Uint8Array {
  if (spec.config) return Uint8Array.from(spec.config);
  const cfg = new Uint8Array(spec.pcie ? PCI_CFG_SPACE_EXP_SIZE : PCI_CFG_SPACE_SIZE);
  const v = new DataView(cfg.buffer);
  const bridge = isBridgeClass(spec.class);
  v.setUint16(PCI_VENDOR_ID, spec.vendor, true);
  v.setUint16(PCI_DEVICE_ID, spec.device, true);
  v.setUint16(PCI_COMMAND, 0x0006, true); // memory + bus master enabled
  v.setUint16(PCI_STATUS, PCI_STATUS_CAP_LIST, true);
  v.setUint8(PCI_REVISION_ID, spec.revision);
  v.setUint8(PCI_CLASS_PROG, spec.class & 0xff);
  v.setUint8(PCI_CLASS_PROG + 1, (spec.class >> 8) & 0xff);
  v.setUint8(PCI_CLASS_PROG + 2, (spec.class >> 16) & 0xff);
  const multifunction = spec.multifunction ?? false;
  v.setUint8(PCI_HEADER_TYPE, (bridge ? 0x01 : 0x00) | (multifunction ? 0x80 : 0));
  if (!bridge) {
    for (const r of barResources(spec)) {
      if (r.index === 6) {
        v.setUint32(PCI_ROM_ADDRESS, Number(r.start & 0xfffff800n), true);
        continue;
      }
      const off = PCI_BASE_ADDRESS_0 + 4 * r.index;
      if (r.flags & IORESOURCE_IO) v.setUint32(off, Number(r.start & 0xfffffffcn) | 0x1, true);
      else {
        const low = Number(r.start & 0xfffffff0n) | (r.flags & 0xf);
        v.setUint32(off, low >>> 0, true);
        if (r.flags & IORESOURCE_MEM_64) v.setUint32(off + 4, Number(r.start >> 32n), true);
      }
    }
    v.setUint16(PCI_SUBSYSTEM_VENDOR_ID, spec.subsystem_vendor, true);
    v.setUint16(PCI_SUBSYSTEM_ID, spec.subsystem_device, true);
  }
  v.setUint8(PCI_INTERRUPT_LINE, spec.irq & 0xff);
  v.setUint8(PCI_INTERRUPT_PIN, spec.intx ? 0x01 : 0x00);
  // Capability list: PM → MSI → MSI-X → PCIe
  const caps: [number, number][] = [[PCI_CAP_ID_PM, 8]];
  if (spec.msi) caps.push([PCI_CAP_ID_MSI, 24]);
  if (spec.msix) caps.push([PCI_CAP_ID_MSIX, 12]);
  if (spec.pcie) caps.push([PCI_CAP_ID_EXP, 60]);
  let ptr = 0x40;
  v.setUint8(PCI_CAPABILITY_LIST, ptr);
  caps.forEach(([id, len], i) => {
    const next = i + 1 < caps.length ? ptr + len : 0;
    v.setUint8(ptr, id);
    v.setUint8(ptr + 1, next);
    if (id === PCI_CAP_ID_PM) v.setUint16(ptr + 2, 0x0003, true);
    if (id === PCI_CAP_ID_MSI) v.setUint16(ptr + 2, 0x0080 | (Math.min(5, Math.ceil(Math.log2(Math.max(1, spec.msi)))) << 1), true);
    if (id === PCI_CAP_ID_MSIX) {
      v.setUint16(ptr + 2, (spec.msix - 1) & 0x7ff, true);
      const at = msixPlacement(spec);
      if (at) {
        v.setUint32(ptr + 4, (Number(at.table) | at.bir) >>> 0, true);
        v.setUint32(ptr + 8, (Number(at.pba) | at.bir) >>> 0, true);
      }
    }
    if (id === PCI_CAP_ID_EXP) v.setUint16(ptr + 2, 0x0002 | ((bridge ? 0x4 : 0x0) << 4), true);
    ptr = next;
  });
  return cfg;
}
