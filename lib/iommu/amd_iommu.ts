// SPDX-License-Identifier: GPL-2.0-only
/** @see drivers/iommu/amd/iommu.c:amd_iommu_get_resv_regions */
import { IOMMU_READ, IOMMU_WRITE, ResvRegion, ResvType, resvRegion } from '../model/resv_region';
import type { GetResvRegions } from './context';

export const MSI_RANGE_START = 0xfee00000n;
export const MSI_RANGE_END = 0xfeefffffn;
export const HT_RANGE_START = 0xfd00000000n;
export const HT_RANGE_END = 0xffffffffffn;

export const amdIommuGetResvRegions: GetResvRegions = (dev, { kernel, firmware }) => {
  const out: ResvRegion[] = [];
  for (const e of firmware.ivmd) {
    if (!e.devices.includes(dev.bdf)) continue;
    const prot = (e.read ? IOMMU_READ : 0) | (e.write ? IOMMU_WRITE : 0);
    // IVMD end is exclusive here: length = end - start.
    const type = e.exclusion ? ResvType.RESERVED : ResvType.DIRECT;
    out.push(resvRegion(e.start, e.end - e.start, prot, type, e.exclusion ? 'IVMD exclusion range' : 'IVMD unity map'));
  }
  out.push(resvRegion(MSI_RANGE_START, MSI_RANGE_END - MSI_RANGE_START + 1n, 0, ResvType.MSI, 'MSI window'));
  if (kernel.has('amd_ht_range_ignore') && dev.unit?.spec.htRangeIgnore) return out;
  out.push(resvRegion(HT_RANGE_START, HT_RANGE_END - HT_RANGE_START + 1n, 0, ResvType.RESERVED, 'HyperTransport hole'));
  return out;
};
