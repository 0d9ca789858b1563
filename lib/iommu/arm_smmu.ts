// SPDX-License-Identifier: GPL-2.0-only
/**
 * @see drivers/iommu/arm/arm-smmu/arm-smmu.c:arm_smmu_get_resv_regions
 * @see drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c:arm_smmu_get_resv_regions
 */
import { IOMMU_MMIO, IOMMU_NOEXEC, IOMMU_WRITE, ResvType, resvRegion } from '../model/resv_region';
import type { GetResvRegions } from './context';
import { iommuDmaGetResvRegions } from './dma_iommu';

export const MSI_IOVA_BASE = 0x8000000n;
export const MSI_IOVA_LENGTH = 0x100000n;

export const armSmmuGetResvRegions: GetResvRegions = (dev, ctx) => [
  resvRegion(MSI_IOVA_BASE, MSI_IOVA_LENGTH, IOMMU_WRITE | IOMMU_NOEXEC | IOMMU_MMIO, ResvType.SW_MSI, `arm_smmu_get_resv_regions: sw-msi window MSI_IOVA_BASE (${dev.unit?.driver ?? 'arm-smmu'})`),
  ...iommuDmaGetResvRegions(dev, ctx),
];
