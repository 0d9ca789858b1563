// SPDX-License-Identifier: GPL-2.0-only
/** @see drivers/iommu/apple-dart.c:apple_dart_get_resv_regions */
import { IOMMU_MMIO, IOMMU_NOEXEC, IOMMU_WRITE, ResvRegion, ResvType, resvRegion } from '../model/resv_region';
import type { GetResvRegions } from './context';
import { iommuDmaGetResvRegions } from './dma_iommu';

/** CONFIG_PCIE_APPLE_MSI_DOORBELL_ADDR default. */
export const APPLE_MSI_DOORBELL_ADDR = 0xfffff000n;

export const appleDartGetResvRegions: GetResvRegions = (dev, ctx) => {
  const out: ResvRegion[] = [];
  const pageSize = BigInt(dev.unit?.spec.pageSize ?? 16384);
  const doorbell = (dev.unit?.spec.msiDoorbell ?? APPLE_MSI_DOORBELL_ADDR) & ~(pageSize - 1n);
  out.push(resvRegion(doorbell, pageSize, IOMMU_WRITE | IOMMU_NOEXEC | IOMMU_MMIO, ResvType.MSI, `apple_dart_get_resv_regions: MSI doorbell 0x${doorbell.toString(16)}`));
  out.push(...iommuDmaGetResvRegions(dev, ctx));
  return out;
};
