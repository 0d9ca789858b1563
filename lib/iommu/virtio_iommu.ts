// SPDX-License-Identifier: GPL-2.0-only
/** @see drivers/iommu/virtio-iommu.c:viommu_get_resv_regions, viommu_add_resv_mem */
import { IOMMU_MMIO, IOMMU_NOEXEC, IOMMU_WRITE, ResvRegion, ResvType, resvRegion } from '../model/resv_region';
import { MSI_IOVA_BASE, MSI_IOVA_LENGTH } from './arm_smmu';
import type { GetResvRegions } from './context';
import { hexRange } from './context';
import { iommuDmaGetResvRegions } from './dma_iommu';

const MSI_PROT = IOMMU_WRITE | IOMMU_NOEXEC | IOMMU_MMIO;

export const viommuGetResvRegions: GetResvRegions = (dev, ctx) => {
  // The endpoint's probe properties, kept sorted by start as viommu_add_resv_mem does.
  const probed: ResvRegion[] = ctx.firmware.virtioIommuProbe
    .map((p, i) => ({ p, i }))
    .filter(({ p }) => !p.devices || p.devices.includes(dev.bdf))
    .map(({ p, i }) => {
      const src = `viommu_add_resv_mem: virtioIommuProbe[${i}] RESV_MEM ${p.subtype} ${hexRange(p.start, p.end)}`;
      return p.subtype === 'msi'
        ? resvRegion(p.start, p.end - p.start + 1n, MSI_PROT, ResvType.MSI, src)
        : resvRegion(p.start, p.end - p.start + 1n, 0, ResvType.RESERVED, src);
    })
    .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const out = [...probed];
  if (!probed.some((r) => r.type === ResvType.MSI))
    out.push(resvRegion(MSI_IOVA_BASE, MSI_IOVA_LENGTH, MSI_PROT, ResvType.SW_MSI, 'viommu_get_resv_regions: sw-msi window MSI_IOVA_BASE (virtio-iommu)'));
  out.push(...iommuDmaGetResvRegions(dev, ctx));
  return out;
};
