// SPDX-License-Identifier: GPL-2.0-only
/**
 * Alex Williamson's suggestion at LPC 2016: report the usable ranges instead of the unusable
 * ones. `/sys/kernel/iommu_groups/<id>/usable_regions`: one `0x%016llx 0x%016llx` line per range
 * userspace can map for the group — the IOMMU core's usable-IOVA computation, which is also what
 * VFIO_IOMMU_GET_INFO reports after attach, readable before any VFIO fd exists.
 */
import { definePlugin, groupAttribute, hex64 } from '../lib/index';

export default definePlugin({
  name: 'usable_regions',
  summary: 'a usable_regions attribute per IOMMU group (usable IOVA ranges, not reserved ones)',
  modules: [groupAttribute('usable_regions', (k, g) => k.host.groupUsableIova(g).map((r) => `0x${hex64(r.start)} 0x${hex64(r.last)}\n`).join(''))],
});
