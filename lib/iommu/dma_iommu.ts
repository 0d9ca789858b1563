// SPDX-License-Identifier: GPL-2.0-only
/**
 * @see drivers/iommu/dma-iommu.c:iommu_dma_get_resv_regions — the firmware part shared by the
 * ARM SMMUs, virtio-iommu and apple-dart: IORT (ITS doorbells, RMRs) and DT `iommu-addresses`;
 * on v4.11-era kernels also the PCI host-bridge windows.
 */
import { IOMMU_MMIO, IOMMU_NOEXEC, IOMMU_READ, IOMMU_WRITE, ResvRegion, ResvType, resvRegion } from '../model/resv_region';
import type { ResvDevice } from '../model/host';
import { ResvContext, SZ_64K, hexRange } from './context';
import { PAGE_SIZE } from '../kernel/page';

/** Kernel PAGE_SIZE of an arm64 ACPI kernel: CONFIG_ARM64_4K_PAGES, the defconfig, as every emulated kernel. */
const ARM64_PAGE_SIZE = PAGE_SIZE;

/** @see drivers/acpi/arm64/iort.c:iort_iommu_msi_get_resv_regions, iort_get_rmrs */
function iortIommuGetResvRegions(dev: ResvDevice, { kernel, firmware }: ResvContext): ResvRegion[] {
  const out: ResvRegion[] = [];
  if (kernel.has('iort_its_msi')) {
    firmware.its.forEach((its, i) => {
      if (its.devices && !its.devices.includes(dev.bdf)) return;
      out.push(resvRegion(its.base + SZ_64K, SZ_64K, IOMMU_WRITE | IOMMU_NOEXEC | IOMMU_MMIO, ResvType.MSI, `iort_iommu_msi_get_resv_regions: ITS[${i}] doorbell its@0x${its.base.toString(16)}`));
    });
  }
  if (kernel.has('iort_rmr')) {
    firmware.iortRmr.forEach((rmr, i) => {
      if (!rmr.devices.includes(dev.bdf)) return;
      const type = rmr.remapPermitted ? ResvType.DIRECT_RELAXABLE : ResvType.DIRECT;
      // A descriptor not 64K-aligned (FW_BUG) continues page-aligned: base & PAGE_MASK,
      // PAGE_ALIGN(length + offset_in_page(base)). @see drivers/acpi/arm64/iort.c:iort_rmr_alloc
      let { base, length } = rmr;
      if (base % SZ_64K || length % SZ_64K) {
        const off = base & (ARM64_PAGE_SIZE - 1n);
        base -= off;
        length = (length + off + ARM64_PAGE_SIZE - 1n) & ~(ARM64_PAGE_SIZE - 1n);
      }
      const what = `RMR[${i}] ${hexRange(rmr.base, rmr.base + rmr.length - 1n)}${rmr.remapPermitted ? ' remap-permitted' : ''}`;
      out.push(resvRegion(base, length, IOMMU_READ | IOMMU_WRITE, type, `iort_iommu_get_rmrs: ${what}`));
    });
  }
  return out;
}

/** @see drivers/iommu/of_iommu.c:of_iommu_get_resv_regions, iommu_resv_region_get_type */
function ofIommuGetResvRegions(dev: ResvDevice, { kernel, firmware }: ResvContext): ResvRegion[] {
  const out: ResvRegion[] = [];
  if (!kernel.has('of_iommu_addresses')) return out;
  firmware.dtIommuAddresses.forEach((e, i) => {
    if (e.device !== dev.bdf) return;
    // No reg, or a reg whose resource has start >= end (length <= 1), is a plain reservation;
    // a reg equal to the IOVA range is direct; anything else is treated as a reservation.
    let type = ResvType.RESERVED;
    if (e.reg && e.reg.length > 1n && e.reg.start === e.iova && e.reg.length === e.length) type = ResvType.DIRECT;
    out.push(resvRegion(e.iova, e.length, IOMMU_READ | IOMMU_WRITE, type, `of_iommu_get_resv_regions: dtIommuAddresses[${i}] iommu-addresses ${hexRange(e.iova, e.iova + e.length - 1n)}${e.reg ? ` reg 0x${e.reg.start.toString(16)}+0x${e.reg.length.toString(16)}` : ''}`));
  });
  return out;
}

export function iommuDmaGetResvRegions(dev: ResvDevice, ctx: ResvContext): ResvRegion[] {
  const out: ResvRegion[] = [];
  if (ctx.kernel.has('arm_dma_pci_windows')) {
    ctx.firmware.pciHostBridgeWindows.forEach((w, i) =>
      out.push(resvRegion(w.start, w.end - w.start + 1n, 0, ResvType.RESERVED, `iommu_dma_get_resv_regions: pciHostBridgeWindows[${i}] ${hexRange(w.start, w.end)}`)),
    );
  }
  out.push(...iortIommuGetResvRegions(dev, ctx), ...ofIommuGetResvRegions(dev, ctx));
  return out;
}
