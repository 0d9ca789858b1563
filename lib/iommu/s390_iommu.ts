// SPDX-License-Identifier: GPL-2.0-only
/** @see drivers/iommu/s390-iommu.c:s390_iommu_get_resv_regions */
import { ResvRegion, ResvType, resvRegion } from '../model/resv_region';
import type { GetResvRegions } from './context';

export const ZPCI_TABLE_SIZE_RT = 1n << 42n;

export const s390IommuGetResvRegions: GetResvRegions = (dev) => {
  const out: ResvRegion[] = [];
  const start = dev.spec.startDma ?? 0x100000000n;
  const end = dev.spec.endDma ?? ZPCI_TABLE_SIZE_RT - 1n;
  if (start) out.push(resvRegion(0n, start, 0, ResvType.RESERVED, `s390_iommu_get_resv_regions: below start_dma 0x${start.toString(16)}`));
  if (end < ZPCI_TABLE_SIZE_RT - 1n)
    out.push(resvRegion(end + 1n, ZPCI_TABLE_SIZE_RT - end - 1n, 0, ResvType.RESERVED, `s390_iommu_get_resv_regions: above end_dma 0x${end.toString(16)}`));
  return out;
};
