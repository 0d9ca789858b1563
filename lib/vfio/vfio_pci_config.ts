// SPDX-License-Identifier: GPL-2.0-only
/**
 * drivers/vfio/pci/vfio_pci_config.c: the config region (index 7) as the user sees it — a
 * virtualised copy of config space taken at open, with the BARs and the ROM BAR virtualised
 * (writes stay in the copy, reads show the address bits the BAR size allows, the sizing idiom
 * works) and the read-only header fields protected.
 * @note emulation: capability registers (MSI/MSI-X control, PCIe control, PM) read through and
 * ignore writes; the kernel virtualises some of their bits.
 */
import { kerr } from '../errno';
import { barResources } from '../drivers/pci_config';
import type { VfioDevice } from './vfio_main';
import { pciCore } from './vfio_pci_core';
import { PCI_BASE_ADDRESS_0, PCI_BASE_ADDRESS_5, PCI_CACHE_LINE_SIZE, PCI_COMMAND, PCI_INTERRUPT_LINE, PCI_LATENCY_TIMER, PCI_ROM_ADDRESS, PCI_ROM_ADDRESS_ENABLE } from '../uapi/pci_regs';

const PCI_BASE_ADDRESS_5_END = PCI_BASE_ADDRESS_5 + 4;

/** Bytes a user write reaches in the virtual config space (outside the BARs). */
const writable = (off: number): boolean =>
  off === PCI_COMMAND || off === PCI_COMMAND + 1 || off === PCI_CACHE_LINE_SIZE || off === PCI_LATENCY_TIMER || off === PCI_INTERRUPT_LINE;

const isBarByte = (off: number): boolean => (off >= PCI_BASE_ADDRESS_0 && off < PCI_BASE_ADDRESS_5_END) || (off >= PCI_ROM_ADDRESS && off < PCI_ROM_ADDRESS + 4);

/** Per-open config state: the virtual copy and whether the BARs need their fix-up. */
export interface VfioPciConfigState {
  readonly vconfig: Uint8Array;
  bardirty: boolean;
}

export function vfioConfigInit(vdev: VfioDevice): VfioPciConfigState {
  return { vconfig: Uint8Array.from(vdev.pdev.config), bardirty: true };
}

/**
 * Mask every virtual BAR to its size and restore its flag bits; unimplemented BARs read 0.
 * @see drivers/vfio/pci/vfio_pci_config.c:vfio_bar_fixup
 */
function vfioBarFixup(vdev: VfioDevice, cs: VfioPciConfigState): void {
  const v = new DataView(cs.vconfig.buffer);
  const res = barResources(vdev.pdev.spec);
  const orig = new DataView(vdev.pdev.config.buffer);
  for (let i = 0; i < 6; i++) {
    const off = PCI_BASE_ADDRESS_0 + 4 * i;
    const r = res.find((x) => x.index === i);
    if (!r) {
      if (!res.some((x) => x.index === i - 1 && x.spec?.type === 'mem64')) v.setUint32(off, 0, true);
      continue;
    }
    const mask = ~(r.size - 1n);
    const flags = orig.getUint32(off, true) & (r.spec?.type === 'io' ? 0x3 : 0xf);
    v.setUint32(off, ((v.getUint32(off, true) & Number(mask & 0xffffffffn)) | flags) >>> 0, true);
    if (r.spec?.type === 'mem64') v.setUint32(off + 4, (v.getUint32(off + 4, true) & Number((mask >> 32n) & 0xffffffffn)) >>> 0, true);
  }
  const rom = res.find((x) => x.index === 6);
  if (rom) {
    const mask = Number((~(rom.size - 1n) | BigInt(PCI_ROM_ADDRESS_ENABLE)) & 0xffffffffn);
    v.setUint32(PCI_ROM_ADDRESS, (v.getUint32(PCI_ROM_ADDRESS, true) & mask) >>> 0, true);
  } else v.setUint32(PCI_ROM_ADDRESS, 0, true);
  cs.bardirty = false;
}

/**
 * A config access at `pos` (offset inside the region): out of range as a whole → EFAULT.
 * @see drivers/vfio/pci/vfio_pci_config.c:vfio_pci_config_rw, vfio_config_do_rw
 */
export function vfioPciConfigRead(vdev: VfioDevice, len: number, pos: bigint): Uint8Array {
  const cs = pciCore(vdev).config;
  checkRange(cs, len, pos);
  if (cs.bardirty) vfioBarFixup(vdev, cs);
  return cs.vconfig.slice(Number(pos), Number(pos) + len);
}

export function vfioPciConfigWrite(vdev: VfioDevice, data: Uint8Array, pos: bigint): number {
  const cs = pciCore(vdev).config;
  checkRange(cs, data.length, pos);
  const at = Number(pos);
  for (let i = 0; i < data.length; i++) {
    const off = at + i;
    if (isBarByte(off)) {
      cs.vconfig[off] = data[i]!;
      cs.bardirty = true;
    } else if (writable(off)) cs.vconfig[off] = data[i]!;
  }
  return data.length;
}

function checkRange(cs: VfioPciConfigState, len: number, pos: bigint): void {
  const size = BigInt(cs.vconfig.length);
  if (len === 0) return;
  if (pos < 0n || pos >= size || pos + BigInt(len) > size) throw kerr('EFAULT');
}

/** Memory decode enabled in the user's view of the command register. */
export function vfioPciMemoryEnabled(vdev: VfioDevice): boolean {
  return (pciCore(vdev).config.vconfig[PCI_COMMAND]! & 0x2) !== 0;
}
