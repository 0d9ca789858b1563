// SPDX-License-Identifier: GPL-2.0-only
/**
 * drivers/vfio/pci/vfio_pci_rdwr.c: read/write of the BAR, ROM and VGA regions through the
 * device fd. BAR contents are a sparse page store per open device.
 * @note emulation: BARs are plain memory (no device registers, no MSI-X table hole); the ROM
 * reads as zeros; the legacy VGA ranges read as zeros and drop writes.
 */
import { kerr } from '../errno';
import { PAGE_BYTES } from '../kernel/page';
import { barResources } from '../drivers/pci_config';
import { VFIO_PCI_OFFSET_MASK, VFIO_PCI_ROM_REGION_INDEX } from '../uapi';
import { vfioPciMemoryEnabled } from './vfio_pci_config';
import type { VfioDevice } from './vfio_main';
import { pciCore } from './vfio_pci_core';

const PAGE = PAGE_BYTES;
const pageKey = (n: number): bigint => BigInt(Math.floor(n / PAGE));

/** @see drivers/vfio/pci/vfio_pci_rdwr.c:vfio_pci_bar_rw */
export function vfioPciBarRw(vdev: VfioDevice, bar: number, pos: bigint, data: Uint8Array | number, iswrite: boolean): Uint8Array | number {
  const r = barResources(vdev.pdev.spec).find((x) => x.index === bar);
  if (!r) throw kerr('EINVAL');
  const off = pos & VFIO_PCI_OFFSET_MASK;
  if (off >= r.size) throw kerr('EINVAL');
  const want = typeof data === 'number' ? data : data.length;
  const count = Number(BigInt(want) < r.size - off ? BigInt(want) : r.size - off);
  if (r.spec?.type !== 'io' && !vfioPciMemoryEnabled(vdev)) throw kerr('EIO');
  const store = pciCore(vdev).barData(bar);
  if (iswrite) {
    const src = data as Uint8Array;
    for (let i = 0; i < count; ) {
      const a = Number(off) + i;
      const page = pageKey(a);
      const n = Math.min(count - i, PAGE - (a % PAGE));
      let p = store.get(page);
      if (!p) store.set(page, (p = new Uint8Array(PAGE)));
      p.set(src.subarray(i, i + n), a % PAGE);
      i += n;
    }
    return count;
  }
  const out = new Uint8Array(count);
  if (bar === VFIO_PCI_ROM_REGION_INDEX) return out;
  for (let i = 0; i < count; ) {
    const a = Number(off) + i;
    const n = Math.min(count - i, PAGE - (a % PAGE));
    const p = store.get(pageKey(a));
    if (p) out.set(p.subarray(a % PAGE, (a % PAGE) + n), i);
    i += n;
  }
  return out;
}

/** @see drivers/vfio/pci/vfio_pci_rdwr.c:vfio_pci_vga_rw */
export function vfioPciVgaRw(vdev: VfioDevice, pos: bigint, data: Uint8Array | number, iswrite: boolean): Uint8Array | number {
  if (!pciCore(vdev).hasVga) throw kerr('EINVAL');
  const off = pos & VFIO_PCI_OFFSET_MASK;
  if (off > 0xbffffn) throw kerr('EINVAL');
  const p = Number(off);
  let end: number;
  if (p >= 0xa0000 && p <= 0xbffff) end = 0xc0000;
  else if (p >= 0x3b0 && p <= 0x3bb) end = 0x3bc;
  else if (p >= 0x3c0 && p <= 0x3df) end = 0x3e0;
  else throw kerr('EINVAL');
  const want = typeof data === 'number' ? data : data.length;
  const count = Math.min(want, end - p);
  return iswrite ? count : new Uint8Array(count);
}
