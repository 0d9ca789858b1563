// SPDX-License-Identifier: GPL-2.0-only
/**
 * Profile rows at their edges: each case is a kernel on either side of a row's first (or last)
 * release, with the evidence the row cites. Versions are full where a backport or an rc matters.
 */
import test from 'ava';
import { FEATURES, Feature, KernelProfile, kernelProfile } from './profile';
import { compareKernelVersion, inVersionRange, kernelVersion, parseKernelVersion } from './version';
import schema from '../topology/schema.json';

type Edge = readonly [Feature, string, boolean, string];

const edges: Edge[] = [
  // 4dbd258ff63e, "IOMMU Updates for Linux v5.4"
  ['resv_merge_adjacent', '5.3.18', false, 'v5.3 keeps the recursive insert'],
  ['resv_merge_adjacent', '5.4-rc1', true, '4dbd258ff63e in the v5.4 merge window'],
  // 273df9635385 (v4.12) .. cd2c9fcf5c66 (v4.17)
  ['arm_dma_pci_windows', '4.11', false, 'v4.11.0 reserves the windows only on the DMA path'],
  ['arm_dma_pci_windows', '4.12', true, '273df9635385'],
  ['arm_dma_pci_windows', '4.16.18', true, 'still in 4.16.y'],
  ['arm_dma_pci_windows', '4.17', false, 'cd2c9fcf5c66'],
  // iort_iommu_msi_get_resv_regions: absent in v4.16.13, present in v4.17.0
  ['iort_its_msi', '4.16.13', false, 'absent in v4.16.13'],
  ['iort_its_msi', '4.17', true, 'present in v4.17.0'],
  // 94a9921e2c25, "IOMMU Updates for Linux v6.16"
  ['amd_ht_range_ignore', '6.15.9', false, 'not before v6.16'],
  ['amd_ht_range_ignore', '6.16', true, '94a9921e2c25'],
  // Alex Mastro's EOVERFLOW series, Linux 6.18-rc4 shortlog
  ['vfio_dma_eoverflow', '6.17', false, 'not in v6.17'],
  ['vfio_dma_eoverflow', '6.18-rc3', false, 'not yet in 6.18-rc3'],
  ['vfio_dma_eoverflow', '6.18-rc4', true, 'in the 6.18-rc4 shortlog'],
  ['vfio_dma_eoverflow', '6.18', true, 'v6.18'],
  // "VFIO updates for v6.3-rc1"
  ['vfio_update_vaddr_needs_iommu', '6.2', false, 'v6.2 still advertises VFIO_UPDATE_VADDR to mdevs'],
  ['vfio_update_vaddr_needs_iommu', '6.3', true, 'v6.3-rc1 pull'],
  // "iommu/vt-d: Remove rmrr check in domain attaching device path" and a48ce36e2786, v6.6
  ['intel_rmrr_locked', '6.5', true, 'the RMRR lock is still in v6.5'],
  ['intel_rmrr_locked', '6.6', false, 'removed in the v6.6 Intel IOMMU updates'],
  ['iommu_require_direct', '6.5', false, 'require_direct is not in v6.5'],
  ['iommu_require_direct', '6.6', true, 'a48ce36e2786 in v6.6'],
  // d8018a0e9195: upstream 5.5-rc3, Cc: stable # v5.3+, in 5.4.7
  ['intel_isa_range_relaxable', '5.4.6', false, 'before the 5.4.y backport'],
  ['intel_isa_range_relaxable', '5.4.7', true, 'the 5.4.y backport'],
  ['intel_isa_range_relaxable', '5.4.0-100-generic', false, 'Ubuntu ABI 100 is not 5.4.100: such kernels say kernel.features'],
  ['intel_isa_range_relaxable', '5.5-rc2', false, 'upstream only from rc3'],
  ['intel_isa_range_relaxable', '5.5.0-rc3', true, 'uname -r of 5.5-rc3'],
  // the "DMA\n" newline fix 24f307d8abf7: v5.2, and 4.19.y
  ['group_type_dma_newline', '4.19.98', false, 'before the 4.19.y backport'],
  ['group_type_dma_newline', '4.19.99', true, 'the 4.19.y backport'],
  ['group_type_dma_newline', '5.1', false, 'v5.1 prints DMA without the newline'],
  ['group_type_dma_newline', '5.2', true, 'v5.2'],
  // a5bf3cfce8cb
  ['of_iommu_addresses', '6.2', false, 'no of_iommu_get_resv_regions'],
  ['of_iommu_addresses', '6.3', true, 'a5bf3cfce8cb'],
  // RMRR bridge scopes: "Handle RMRR with PCI bridge device scopes", tag iommu-updates-v5.3
  ['intel_rmrr_bridge_scope', '5.2', false, 'i_dev != device'],
  ['intel_rmrr_bridge_scope', '5.3', true, 'is_downstream_to_pci_bridge'],
  // 8aafaaf22121 (v5.1-rc) and 387caf0b759a
  ['amd_ivmd_exclusion_reserved', '5.0', false, 'exclusion ranges only program the unit'],
  ['amd_ivmd_exclusion_reserved', '5.4', true, '8aafaaf22121'],
  ['amd_ivmd_exclusion_unity', '5.5', false, 'still flagged EXCL_RANGE'],
  ['amd_ivmd_exclusion_unity', '5.6', true, '387caf0b759a'],
  // BIND_IOMMUFD minsz copy: 86624ba3b522 (v6.17) until 2f03f21fe751 (v6.19)
  ['vfio_bind_minsz_copy', '6.16', false, 'no token support yet'],
  ['vfio_bind_minsz_copy', '6.17', true, '86624ba3b522'],
  ['vfio_bind_minsz_copy', '6.18', true, 'v6.18.0'],
  ['vfio_bind_minsz_copy', '6.18.2', true, 'before the 6.18.y fix'],
  ['vfio_bind_minsz_copy', '6.18.3', false, '2f03f21fe751 in 6.18.3'],
  ['vfio_bind_minsz_copy', '6.19', false, '2f03f21fe751'],
  // drivers only from their kernel
  ['drv_virtio_iommu', '5.2', false, 'no virtio-iommu driver'],
  ['drv_virtio_iommu', '5.3', true, 'virtio-iommu driver'],
];

for (const [f, v, on, why] of edges) {
  test(`profile row ${f} on ${v}: ${on ? 'on' : 'off'} (${why})`, (t) => {
    t.is(kernelProfile(v).has(f), on, FEATURES[f].source);
  });
}

test('every row names its source and is a well-formed range', (t) => {
  for (const [f, r] of Object.entries(FEATURES)) {
    t.true(r.source.length > 10, f);
    t.truthy(parseKernelVersion(r.since), `${f}.since`);
    if ('until' in r) t.true(compareKernelVersion(kernelVersion(r.since), kernelVersion(r.until as string)) < 0, `${f}: since < until`);
    for (const z of ('stable' in r ? (r.stable as readonly string[]) : [])) t.is(kernelVersion(z).rc, undefined, `${f}: stable ${z}`);
  }
});

test('the topology schema lists exactly the profile rows as kernel.features names', (t) => {
  const obj = (schema as any).properties.kernel.anyOf[1]; // eslint-disable-line @typescript-eslint/no-explicit-any
  t.deepEqual([...obj.properties.features.propertyNames.enum].sort(), Object.keys(FEATURES).sort());
});

test('versions: rc kernels sort before their release; bounds "X.Y" start at rc1', (t) => {
  const v = kernelVersion;
  t.true(compareKernelVersion(v('5.5-rc3'), v('5.5')) < 0);
  t.true(compareKernelVersion(v('5.5-rc3'), v('5.5-rc1')) > 0);
  t.is(compareKernelVersion(v('5.5.0-rc3'), v('5.5-rc3')), 0);
  t.is(compareKernelVersion(v('6.8'), v('6.8.0-45-generic')), 0);
  t.true(inVersionRange(v('5.4-rc1'), { since: '5.4' }));
  t.false(inVersionRange(v('5.4-rc1'), { since: '5.3', until: '5.4' }));
  t.true(inVersionRange(v('5.4.10'), { since: '5.5-rc3', stable: ['5.4.7'] }));
  t.false(inVersionRange(v('5.3.18'), { since: '5.5-rc3', stable: ['5.4.7'] }));
  t.false(inVersionRange(v('6.18.9'), { since: '6.17', until: '6.19', stableUntil: ['6.18.5'] }));
  t.true(inVersionRange(v('6.18.4'), { since: '6.17', until: '6.19', stableUntil: ['6.18.5'] }));
  t.is(kernelProfile('5.5-rc3').release, '5.5-rc3');
});

test('vendor kernels: features switch rows on or off against the version', (t) => {
  const p = new KernelProfile(kernelVersion('5.14.0-70.el9'), { iort_rmr: true, vfio_pci_id_table: false });
  t.true(p.has('iort_rmr'));
  t.false(p.has('vfio_pci_id_table'));
  t.false(kernelProfile('5.14').has('iort_rmr'));
  t.is(p.describe(), '5.14 +iort_rmr -vfio_pci_id_table');
  t.regex(p.why('iort_rmr'), /on by the topology's kernel\.features/);
  t.regex(kernelProfile('5.14').why('iort_rmr'), /^profile row iort_rmr \(IORT RMR nodes .*\) is from 6\.0$/);
});
