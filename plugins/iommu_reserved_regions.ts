// SPDX-License-Identifier: GPL-2.0-only
/**
 * The LPC 2016 suggestion that the SMMU driver advertise its regions under /sys/class/iommu/:
 * `/sys/class/iommu/<unit>/reserved_regions`, in the group file's format, with the regions the
 * unit's driver gives every device behind it (MSI windows, the HyperTransport hole, ITS
 * doorbells) — known before a device is bound or even present, but without per-device firmware
 * entries (RMRR, IVMD, RMR), which only the group's file has.
 */
import { definePlugin, formatResvRegion, unitAttribute } from '../lib/index';

export default definePlugin({
  name: 'iommu_reserved_regions',
  summary: 'per-IOMMU reserved_regions under /sys/class/iommu/<unit>/ (the regions every device behind it gets)',
  modules: [unitAttribute('reserved_regions', (k, u) => k.host.iommu.unitResvRegions(u).map(formatResvRegion).join(''))],
});
