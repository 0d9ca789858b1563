// SPDX-License-Identifier: GPL-2.0-only
/** @see drivers/iommu/intel/iommu.c:intel_iommu_get_resv_regions */
import type { KernelProfile } from '../kernel/profile';
import { IOMMU_READ, IOMMU_WRITE, ResvRegion, ResvType, resvRegion } from '../model/resv_region';
import { PCI_BASE_CLASS_DISPLAY, PCI_CLASS_BRIDGE_ISA, PCI_CLASS_SERIAL_USB, ResvDevice } from '../model/host';
import type { GetResvRegions, ResvContext } from './context';
import { hexRange } from './context';
import type { IommuSpec } from '../topology/topology';

export const IOAPIC_RANGE_START = 0xfee00000n;
export const IOAPIC_RANGE_END = 0xfeefffffn;
/** DMA_PTE_READ | DMA_PTE_WRITE share the values of IOMMU_READ | IOMMU_WRITE. */
const DMA_PTE_RW = IOMMU_READ | IOMMU_WRITE;
const FN = 'intel_iommu_get_resv_regions';

/** @see drivers/iommu/intel/iommu.c:device_rmrr_is_relaxable (IS_USB_DEVICE || IS_GFX_DEVICE) */
export const deviceRmrrIsRelaxable = (d: ResvDevice): boolean =>
  d.class >> 8 === PCI_CLASS_SERIAL_USB || d.class >> 16 === PCI_BASE_CLASS_DISPLAY;

/**
 * `i_dev == device || is_downstream_to_pci_bridge(device, i_dev)`; before v5.3 only the exact
 * device in the scope (`i_dev != device` skipped everything else).
 */
function inScope(dev: ResvDevice, scope: string, kernel: KernelProfile): boolean {
  if (!kernel.has('intel_rmrr_bridge_scope')) return dev.bdf === scope;
  for (let d: ResvDevice | undefined = dev; d; d = d.parent) if (d.bdf === scope) return true;
  return false;
}

/**
 * A device that firmware needs identity-mapped (an RMRR that is not relaxable) cannot leave the
 * DMA-API domain on kernels that lock it. @see drivers/iommu/intel/iommu.c:device_is_rmrr_locked
 */
export function deviceIsRmrrLocked(dev: ResvDevice, firmware: ResvContext['firmware'], kernel: KernelProfile): boolean {
  return !deviceRmrrIsRelaxable(dev) && firmware.rmrr.some((r) => r.devices.some((s) => inScope(dev, s, kernel)));
}

export const intelIommuGetResvRegions: GetResvRegions = (dev, { kernel, firmware, topology }) => {
  const out: ResvRegion[] = [];
  firmware.rmrr.forEach((rmrr, i) => {
    // One region per matching scope entry, as the kernel walks every active dev scope.
    for (const s of rmrr.devices) {
      if (!inScope(dev, s, kernel)) continue;
      const type =
        kernel.has('direct_relaxable') && deviceRmrrIsRelaxable(dev) ? ResvType.DIRECT_RELAXABLE : ResvType.DIRECT;
      const via = s === dev.bdf ? `scope ${s}` : `scope ${s}, a bridge above ${dev.bdf}`;
      out.push(resvRegion(rmrr.base, rmrr.end - rmrr.base + 1n, DMA_PTE_RW, type, `${FN}: RMRR[${i}] ${hexRange(rmrr.base, rmrr.end)} (${via})`));
    }
  });
  if (kernel.has('intel_isa_range') && topology.kconfig.CONFIG_INTEL_IOMMU_FLOPPY_WA && dev.class >> 8 === PCI_CLASS_BRIDGE_ISA) {
    const type = kernel.has('intel_isa_range_relaxable') ? ResvType.DIRECT_RELAXABLE : ResvType.DIRECT;
    out.push(resvRegion(0n, 1n << 24n, DMA_PTE_RW, type, `${FN}: ISA bridge floppy workaround (CONFIG_INTEL_IOMMU_FLOPPY_WA)`));
  }
  out.push(resvRegion(IOAPIC_RANGE_START, IOAPIC_RANGE_END - IOAPIC_RANGE_START + 1n, 0, ResvType.MSI, `${FN}: IOAPIC window`));
  return out;
};

/** Where firmware puts the n-th DMAR unit when the topology gives no base. */
export const intelUnitBase = (spec: IommuSpec, index: number): bigint => spec.base ?? 0xfed90000n + 0x1000n * BigInt(index);

/**
 * CAP_REG / ECAP_REG of a unit: the topology's, else what a server part reports for its address
 * width: 64K domain ids, SAGAW for the widths it walks, 2M/1G superpages, page-selective
 * invalidation; ECAP: coherent, queued invalidation, device TLB, pass-through, snoop control,
 * interrupt remapping (+ x2APIC) when the unit remaps.
 * @see drivers/iommu/intel/iommu.h (cap_ndoms, cap_sagaw, cap_mgaw, ecap_ir_support …)
 */
export function intelUnitCap(spec: IommuSpec): { cap: bigint; ecap: bigint } {
  const width = BigInt(spec.addressWidth ?? 48);
  const sagaw = width > 48n ? 0xcn : width > 39n ? 0x4n : 0x2n;
  const cap =
    spec.cap ??
    (6n | (1n << 5n) | (1n << 6n) | (sagaw << 8n) | ((width - 1n) << 16n) | (1n << 22n) | (0x22n << 24n) | (0x3n << 34n) | (1n << 39n) | (7n << 40n) | (0x3fn << 48n) | (1n << 54n) | (1n << 55n));
  const ir = spec.interruptRemapping ? (1n << 3n) | (1n << 4n) : 0n;
  const ecap = spec.ecap ?? (1n | (1n << 1n) | (1n << 2n) | ir | (1n << 6n) | (1n << 7n) | (0x50n << 8n) | (0xfn << 20n));
  return { cap, ecap };
}

/** `domains_supported`: 2^(4 + 2·ND). @see drivers/iommu/intel/iommu.h:cap_ndoms */
export const capNdoms = (cap: bigint): bigint => 1n << (4n + 2n * (cap & 7n));
