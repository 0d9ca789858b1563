// SPDX-License-Identifier: GPL-2.0-only
/**
 * @see drivers/iommu/amd/iommu.c:amd_iommu_get_resv_regions
 * @see drivers/iommu/amd/init.c:init_unity_map_range, init_exclusion_range (IVMD parsing)
 */
import { IOMMU_READ, IOMMU_WRITE, ResvRegion, ResvType, resvRegion } from '../model/resv_region';
import type { GetResvRegions, ResvContext } from './context';
import { hexRange } from './context';
import type { IommuSpec } from '../topology/topology';

export const MSI_RANGE_START = 0xfee00000n;
export const MSI_RANGE_END = 0xfeefffffn;
export const HT_RANGE_START = 0xfd00000000n;
export const HT_RANGE_END = 0xffffffffffn;
/** The x86 kernel PAGE_SIZE. */
const PAGE_SIZE = 0x1000n;
const PAGE_ALIGN = (x: bigint): bigint => (x + PAGE_SIZE - 1n) & ~(PAGE_SIZE - 1n);
const FN = 'amd_iommu_get_resv_regions';

/**
 * HT-range-ignore is read from the EFR2 bits common to every unit (`get_global_efr()`), so one
 * unit without it keeps the hole on every device. @see drivers/iommu/amd/init.c:get_global_efr
 */
export function amdIommuHtRangeIgnore({ kernel, topology }: ResvContext): boolean {
  if (!kernel.has('amd_ht_range_ignore')) return false;
  const units = topology.iommus.filter((u) => u.driver === 'amd-iommu');
  return units.length > 0 && units.every((u) => u.htRangeIgnore);
}

export const amdIommuGetResvRegions: GetResvRegions = (dev, ctx) => {
  const { kernel, firmware } = ctx;
  const out: ResvRegion[] = [];
  firmware.ivmd.forEach((e, i) => {
    if (!e.devices.includes(dev.bdf)) return;
    // Before 8aafaaf22121 an exclusion range only programmed the unit's exclusion registers.
    if (e.exclusion && !kernel.has('amd_ivmd_exclusion_reserved')) return;
    const unity = !e.exclusion || kernel.has('amd_ivmd_exclusion_unity');
    // IVMD start and length are page-aligned up: address_end = PAGE_ALIGN(start) + PAGE_ALIGN(length).
    const start = PAGE_ALIGN(e.start);
    const length = PAGE_ALIGN(e.length);
    // A unity map keeps the IVMD's r/w flags; an exclusion range is r/w (387caf0b759a).
    const prot = e.exclusion ? IOMMU_READ | IOMMU_WRITE : (e.read ? IOMMU_READ : 0) | (e.write ? IOMMU_WRITE : 0);
    const what = e.exclusion ? (unity ? 'exclusion range as r/w unity map' : 'exclusion range') : 'unity map';
    out.push(resvRegion(start, length, prot, unity ? ResvType.DIRECT : ResvType.RESERVED, `${FN}: IVMD[${i}] ${hexRange(e.start, e.start + e.length - 1n)} ${what}`));
  });
  out.push(resvRegion(MSI_RANGE_START, MSI_RANGE_END - MSI_RANGE_START + 1n, 0, ResvType.MSI, `${FN}: MSI window`));
  if (amdIommuHtRangeIgnore(ctx)) return out;
  out.push(resvRegion(HT_RANGE_START, HT_RANGE_END - HT_RANGE_START + 1n, 0, ResvType.RESERVED, `${FN}: HyperTransport hole`));
  return out;
};

/**
 * The unit's capability header and extended feature registers: the topology's, else a Zen 3
 * class unit (EFR supported, IOTLB, NP cache; EFR with guest translation, PPR, x2APIC).
 * @see drivers/iommu/amd/amd_iommu_types.h (IOMMU_CAP_EFR, FEATURE_*)
 */
export function amdUnitCap(spec: IommuSpec): { cap: bigint; features: bigint; features2: bigint } {
  return { cap: spec.cap ?? 0x0d0b000fn, features: spec.ecap ?? 0x58f77ef22294a5an, features2: 0n };
}
