// SPDX-License-Identifier: GPL-2.0-only
/**
 * The RFC's interface, which the LPC 2016 discussion moved away from: VFIO reports the MSI
 * reserved window in the VFIO_IOMMU_GET_INFO capability chain of a type1 container (Eric Auger's
 * "vfio/type1: Introduce MSI_RESV capability", 2016). Only a process holding a container with a
 * group attached can read it — the seed's objection: after a migration there is no VFIO fd to ask
 * before the guest layout must already be right.
 * @note emulation: the id and layout are this prototype's (the RFC's were never merged).
 */
import { RESV_TYPE, abi, definePlugin, vfio_info_cap_header, vfioType1InfoCapability } from '../lib/index';

/** Outside the mainline ids (1 IOVA_RANGE, 2 MIGRATION, 3 DMA_AVAIL). */
export const VFIO_IOMMU_TYPE1_INFO_CAP_MSI_RESV = 0x8001;
export const vfio_iommu_type1_info_cap_msi_resv = abi.struct('vfio_iommu_type1_info_cap_msi_resv', {
  header: vfio_info_cap_header,
  flags: abi.u32,
  reserved: abi.u32,
  start: abi.u64,
  size: abi.u64,
});

export default definePlugin({
  name: 'vfio_msi_resv_cap',
  summary: "the RFC's VFIO_IOMMU_GET_INFO capability reporting the MSI reserved window",
  modules: [
    vfioType1InfoCapability('msi_resv', (k, view) => {
      const base = view.msiCookies[0];
      if (base === undefined) return undefined;
      const win = view.groups.flatMap((g) => k.host.groupResvRegions(g)).find((r) => r.type === RESV_TYPE.SW_MSI && r.start === base)!;
      return abi.encode(vfio_iommu_type1_info_cap_msi_resv, { header: { id: VFIO_IOMMU_TYPE1_INFO_CAP_MSI_RESV, version: 1, next: 0 }, flags: 0, reserved: 0, start: win.start, size: win.last - win.start + 1n });
    }),
  ],
});
