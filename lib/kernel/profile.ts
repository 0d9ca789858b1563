// SPDX-License-Identifier: GPL-2.0-only
/**
 * Kernel-version profiles. Every behaviour that differs between kernel versions is one row of
 * FEATURES, with the first version that has it (and the first that no longer has it); the rest
 * of the emulator asks `profile.has('…')` and never compares versions itself.
 */
import { KernelVersion, VersionRange, formatKernelVersion, inVersionRange, parseKernelVersion } from './version';

export interface FeatureRow extends VersionRange {
  readonly what: string;
  /**
   * Where the change is: the commit and the release it is in, with the evidence. "recalled, not
   * re-verified" marks versions nobody has checked against a tree, the commit or the pull mail.
   */
  readonly source: string;
}

export const FEATURES = {
  vfio: {
    since: '3.6',
    what: 'VFIO: /dev/vfio/vfio, group nodes and the type1 IOMMU backend (vfio-pci binds, but nothing is exposed before)',
    source: 'drivers/vfio/vfio.c, drivers/vfio/vfio_iommu_type1.c ("vfio: Type1 IOMMU implementation"; the VFIO pull merged for v3.6, Aug 2012)',
  },
  reserved_regions: {
    since: '4.11',
    what: '/sys/kernel/iommu_groups/N/reserved_regions exists',
    source: 'drivers/iommu/iommu.c:iommu_group_show_resv_regions (bc7d12b91bd3 "iommu: Implement reserved_regions iommu-group sysfs file", Eric Auger, v4.11)',
  },
  resv_merge_adjacent: {
    since: '5.4',
    what: 'group regions: sorted by (start, type), same-type overlapping AND adjacent regions merge',
    source: 'drivers/iommu/iommu.c:iommu_insert_resv_region (4dbd258ff63e "iommu: Revisit iommu_insert_resv_region() implementation": shortlog of "[git pull] IOMMU Updates for Linux v5.4", Joerg Roedel, 2019-09-16; its v3 was posted 2019-08-21)',
  },
  direct_relaxable: {
    since: '5.3',
    what: 'IOMMU_RESV_DIRECT_RELAXABLE exists: USB/GFX RMRRs print direct-relaxable',
    source: 'drivers/iommu/intel-iommu.c:device_rmrr_is_relaxable (tag iommu-updates-v5.3: "reserved regions requested by the firmware ... can be \'relaxed\' now")',
  },
  intel_rmrr_bridge_scope: {
    since: '5.3',
    what: 'an RMRR whose device scope is a PCI bridge applies to every device below it (older: the exact device only), for regions and the RMRR lock',
    source: 'drivers/iommu/intel-iommu.c:intel_iommu_get_resv_regions, device_has_rmrr (is_downstream_to_pci_bridge, "iommu/vt-d: Handle RMRR with PCI bridge device scopes", Eric Auger, tag iommu-updates-v5.3; v4.11–v5.2 code tests i_dev != device)',
  },
  intel_isa_range: {
    since: '5.3',
    what: 'VT-d reports the 16 MiB ISA/floppy identity range on ISA bridges',
    source: 'drivers/iommu/intel/iommu.c:intel_iommu_get_resv_regions (CONFIG_INTEL_IOMMU_FLOPPY_WA, v5.3; release recalled)',
  },
  intel_isa_range_relaxable: {
    since: '5.5-rc3',
    stable: ['5.4.7'],
    what: 'the ISA range is direct-relaxable (v5.3, v5.4.0–5.4.6 and v5.5-rc1/rc2 print direct)',
    source: 'drivers/iommu/intel-iommu.c:intel_iommu_get_resv_regions (d8018a0e9195 "iommu/vt-d: Set ISA bridge reserved region as relaxable", Alex Williamson, posted 2019-12-11; upstream in an IOMMU fixes pull for v5.5-rc3; stable: [PATCH 5.4 370/434] of "[PATCH 5.4 000/434] 5.4.7-stable review", 2019-12-29)',
  },
  arm_dma_pci_windows: {
    since: '4.12',
    until: '4.17',
    what: 'arm64 iommu_dma_get_resv_regions also reports PCI host-bridge windows as reserved',
    source: 'drivers/iommu/dma-iommu.c:iommu_dma_get_resv_regions (273df9635385 "iommu/dma: Make PCI window reservation generic", v4.12; removed by cd2c9fcf5c66 "iommu/dma: Move PCI window region reservation back into dma specific path", v4.17; v4.11.0 has only iova_reserve_pci_windows on the DMA path — issue 9 review)',
  },
  iort_its_msi: {
    since: '4.17',
    what: 'IORT ITS doorbells of SMMU-bypass platforms are reported as hardware msi regions',
    source: 'drivers/acpi/arm64/iort.c:iort_iommu_msi_get_resv_regions (absent in v4.16.13, present in v4.17.0 — issue 9 review)',
  },
  group_type_attr: {
    since: '4.19',
    what: '/sys/kernel/iommu_groups/N/type exists (read-only until 5.11)',
    source: 'drivers/iommu/iommu.c:iommu_group_show_type (c52c72d3dee8; tag iommu-updates-v4.19: "New sysfs attribute for iommu groups to export the type of the default domain")',
  },
  group_type_dma_newline: {
    since: '5.2',
    stable: ['4.19.99'],
    what: 'type prints "DMA\\n" (before the fix DMA alone lacked the newline)',
    source: 'drivers/iommu/iommu.c:iommu_group_show_type (24f307d8abf7 "iommu: Add missing new line for dma type", Lu Baolu, posted 2019-05-24, IOMMU fixes for v5.2; 4.19.y: in the shortlog of "[PATCH 4.19 000/639] 4.19.99-stable review", 2020-01-24)',
  },
  group_type_writable: {
    since: '5.11',
    what: 'type is 0644 and accepts identity/DMA/DMA-FQ/auto',
    source: 'drivers/iommu/iommu.c:iommu_group_store_type (Documentation/ABI/testing/sysfs-kernel-iommu_groups: KernelVersion v5.11)',
  },
  dma_fq: {
    since: '5.15',
    what: 'DMA-FQ domain type (read and write)',
    source: 'drivers/iommu/iommu.c:iommu_group_show_type (IOMMU_DOMAIN_DMA_FQ, Robin Murphy\'s "iommu: Refactor DMA domain strictness" series; tag iommu-updates-v5.15: "Rework IOVA setup and default domain type setting ... to support runtime switching between certain types of default domains")',
  },
  s390_dma_fq: {
    since: '6.7',
    what: 's390 PCI DMA goes through dma-iommu, so s390 joins the lazy (DMA-FQ) default; before, s390 groups boot strict DMA',
    source: 'drivers/iommu/s390-iommu.c (c76c067e488c "s390/pci: Use dma-iommu layer", Niklas Schnelle: in the iommu tree "targeting the v6.7 merge window", linux-next conflict note of 2023-10-19)',
  },
  type_store_owner_cnt: {
    since: '6.4',
    what: 'type store: multi-device groups allowed; a bound driver gives EPERM (older: EINVAL for >1 device, EBUSY when bound)',
    source: 'drivers/iommu/iommu.c:iommu_group_store_type (Lu Baolu, "iommu: Use group ownership to avoid driver attachment": v1 posted 2023-02-13 and still in review on 2023-02-15, so after the v6.3 window; v6.4 not pinned to the pull)',
  },
  iort_rmr: {
    since: '6.0',
    what: 'IORT RMR nodes become direct / direct-relaxable regions',
    source: 'drivers/acpi/arm64/iort.c:iort_get_rmrs (491cf4a6735a "ACPI/IORT: Add support to retrieve IORT RMR reserved regions", Shameer Kolothum; its later fixes are tagged "Cc: stable # 6.0.x")',
  },
  of_iommu_addresses: {
    since: '6.3',
    what: 'device-tree reserved-memory iommu-addresses become reserved / direct regions',
    source: 'drivers/iommu/of_iommu.c:of_iommu_get_resv_regions (a5bf3cfce8cb "iommu: Implement of_iommu_get_resv_regions()", Thierry Reding: last series posted 2023-01-20, the v6.3 window; v6.3 per the issue 9 review)',
  },
  amd_ivmd_exclusion_reserved: {
    since: '5.1',
    stable: ['5.0.12'],
    what: 'AMD IVMD exclusion ranges enter the unity-map list flagged EXCL_RANGE and print reserved (before: not reported at all)',
    source: 'drivers/iommu/amd_iommu.c:amd_iommu_get_resv_regions (8aafaaf22121 "iommu/amd: Reserve exclusion range in iova-domain", Joerg Roedel, a v5.1-rc fix (rc not pinned); stable: "[PATCH 5.0 000/101] 5.0.12-stable review" 2019-05-02, and the same-day 4.14.y ([PATCH 4.14 47/49]) and 4.19.y queues, releases not pinned)',
  },
  amd_ivmd_exclusion_unity: {
    since: '5.6',
    what: 'AMD IVMD exclusion ranges are plain r/w unity maps: they print direct (the reserved branch is dead)',
    source: 'drivers/iommu/amd_iommu_init.c:init_unity_map_range (387caf0b759a "iommu/amd: Treat per-device exclusion ranges as r/w unity-mapped regions", Adrian Huang: shortlog of "[git pull] IOMMU Updates for Linux v5.6", Joerg Roedel, 2020-02-05)',
  },
  amd_ht_range_ignore: {
    since: '6.16',
    what: 'AMD skips the HyperTransport hole when every unit reports HT-range-ignore (EFR2, one global decision)',
    source: 'drivers/iommu/amd/iommu.c:amd_iommu_get_resv_regions (94a9921e2c25 "iommu/amd: Add support for HTRangeIgnore feature"; amd_iommu_ht_range_ignore() is check_feature2(FEATURE_HT_RANGE_IGNORE) on the EFR2 common to all units; v6.16 per the "IOMMU Updates for Linux v6.16" pull (issue 9 review; the commit sits in the v6.16-cycle iommu next branch))',
  },
  vfio_caps_aligned: {
    since: '6.6',
    what: 'VFIO capability chains are padded to 8 bytes (type1 and iommufd\'s VFIO compat GET_INFO alike)',
    source: 'drivers/vfio/vfio_main.c:vfio_info_cap_add and drivers/iommu/iommufd/vfio_compat.c:iommufd_vfio_iommu_get_info ("vfio: align capability structures", a881b496)',
  },
  vfio_dma_eoverflow: {
    since: '6.18-rc4',
    what: 'type1 map/unmap/dirty-bitmap ranges that wrap return EOVERFLOW (EINVAL before)',
    source: 'drivers/vfio/vfio_iommu_type1.c:vfio_dma_do_map (6012379ede6a "vfio/type1: sanitize for overflow using check_*_overflow()" and ef270ec44637 "vfio/type1: handle DMA map/unmap up to the addressable limit", Alex Mastro, v4 2025-10-20; a 6.18-rc fix, rc4 per the Linux 6.18-rc4 shortlog (issue 9 review))',
  },
  vfio_unmap_all: {
    since: '5.12',
    what: 'VFIO_UNMAP_ALL extension and VFIO_DMA_UNMAP_FLAG_ALL',
    source: 'drivers/vfio/vfio_iommu_type1.c:vfio_dma_do_unmap',
  },
  vfio_iova_range_cap: {
    since: '5.4',
    what: 'VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE and the iova list',
    source: 'drivers/vfio/vfio_iommu_type1.c:vfio_iommu_iova_build_caps',
  },
  vfio_migration_cap: {
    since: '5.8',
    what: 'VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION and VFIO_IOMMU_DIRTY_PAGES',
    source: 'drivers/vfio/vfio_iommu_type1.c:vfio_iommu_migration_build_caps',
  },
  vfio_dma_avail_cap: {
    since: '5.10',
    stable: ['5.4.90'],
    what: 'VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL',
    source: 'drivers/vfio/vfio_iommu_type1.c:vfio_iommu_dma_avail_build_caps (7d6e1329652e "vfio iommu: Add dma available capability", v5.10; 5.4.y: [PATCH 5.4 02/62] of the 5.4.90-rc1 review, 2021-01-15, added after the IOVA-range cap)',
  },
  vfio_dma_entry_limit: {
    since: '5.1',
    what: 'type1 dma_entry_limit (65535 mappings per container) → ENOSPC',
    source: 'drivers/vfio/vfio_iommu_type1.c:vfio_dma_do_map ("vfio/type1: Limit DMA mappings per container", CVE-2019-3882)',
  },
  vfio_update_vaddr: {
    since: '5.12',
    what: 'VFIO_UPDATE_VADDR extension, VFIO_DMA_MAP_FLAG_VADDR and VFIO_DMA_UNMAP_FLAG_VADDR',
    source: 'drivers/vfio/vfio_iommu_type1.c:vfio_dma_do_map (Steve Sistare, v5.12)',
  },
  vfio_update_vaddr_needs_iommu: {
    since: '6.3',
    what: 'CHECK_EXTENSION(VFIO_UPDATE_VADDR) is 0 before SET_IOMMU (and with emulated groups); attaching a group while vaddrs are invalidated is EBUSY',
    source: 'drivers/vfio/vfio_iommu_type1.c:vfio_iommu_type1_check_extension, vfio_iommu_type1_attach_group ("vfio/type1: exclude mdevs from VFIO_UPDATE_VADDR", Steve Sistare: "[GIT PULL] VFIO updates for v6.3-rc1", 2023-02-24; a 6.1.y stable-rc push of 2023-03-07 carries it too, release not pinned)',
  },
  vfio_pci_msix_mappable: {
    since: '4.16',
    what: 'the MSI-X BAR is mmap-able whole (REGION_INFO_CAP_MSIX_MAPPABLE); before, a sparse-mmap cap excluded the table',
    source: 'drivers/vfio/pci/vfio_pci.c:msix_mmappable_cap ("vfio-pci: Allow mapping MSIX BAR")',
  },
  vfio_pci_dyn_msix: {
    since: '6.5',
    what: 'vfio-pci dynamic MSI-X: MSI-X IRQ info drops NORESIZE, vectors can be added while enabled',
    source: 'drivers/vfio/pci/vfio_pci_intrs.c:vfio_msi_alloc_irq (e4163438e015 "vfio/pci: Support dynamic MSI-X", 6c8017c6a58d "vfio/pci: Clear VFIO_IRQ_INFO_NORESIZE for MSI-X", Reinette Chatre; V5 reviewed 2023-05-17, after v6.4-rc1: the v6.5 merge window)',
  },
  vfio_pci_id_table: {
    since: '5.15',
    what: 'vfio-pci has an id table (one override-only PCI_ANY_ID entry, driver_data 0) instead of none',
    source: 'drivers/vfio/pci/vfio_pci.c:vfio_pci_table (cc6711b0bf36 "PCI / VFIO: Add \'override_only\' support for VFIO PCI sub system", Max Gurtovoy: [PATCH V3 10/13] of the vfio_pci_core split, 2021-08-22, the v5.15 merge window)',
  },
  vfio_type1_nesting: {
    since: '4.0',
    until: '6.13',
    what: 'VFIO_TYPE1_NESTING_IOMMU (6): advertised by type1; attach enables nesting, which only the ARM SMMUs support',
    source: 'drivers/vfio/vfio_iommu_type1.c:vfio_iommu_type1_open (removed by 35890f85573c "vfio: Remove VFIO_TYPE1_NESTING_IOMMU", [PATCH v4 01/12] of Jason Gunthorpe\'s SMMUv3 nesting series, 2024-10-30: the v6.13 merge window)',
  },
  intel_rmrr_locked: {
    since: '3.17',
    until: '6.6',
    what: 'VT-d refuses to attach a device with a non-relaxable RMRR to an unmanaged (VFIO) domain: EPERM',
    source: 'drivers/iommu/intel/iommu.c:device_is_rmrr_locked (removed by d3aedf94f480 "iommu/vt-d: Remove rmrr check in domain attaching device path": "[git pull] IOMMU Updates for Linux v6.6", 2023-09-01, "Lift RESV_DIRECT check from VT-d driver to core")',
  },
  iommu_require_direct: {
    since: '6.6',
    what: 'a group with a device that has a direct region cannot be claimed for userspace DMA: EINVAL',
    source: 'drivers/iommu/iommu.c:__iommu_device_set_domain (a48ce36e2786 "iommu: Prevent RESV_DIRECT devices from blocking domains", dev->iommu->require_direct: "[git pull] IOMMU Updates for Linux v6.6", 2023-09-01)',
  },
  iommufd: {
    since: '6.2',
    what: '/dev/iommu (iommufd): DESTROY, IOAS_ALLOC/ALLOW_IOVAS/COPY/IOVA_RANGES/MAP/UNMAP, OPTION, VFIO_IOAS',
    source: 'drivers/iommu/iommufd/main.c:iommufd_ioctl_ops, from 2ff4bed7fee7 "iommufd: File descriptor, context, kconfig and makefiles" (series v6, lore 6-v6-a196d26f289e+11787-iommufd_jgg); Debian 12\'s linux-libc-dev 6.1 has no linux/iommufd.h, so after 6.1; the release itself recalled',
  },
  iommufd_hwpt_alloc: {
    since: '6.6',
    what: 'IOMMU_HWPT_ALLOC (paging HWPTs; struct iommu_hwpt_alloc ends at __reserved: 24 bytes) and VFIO_DEVICE_ATTACH_IOMMUFD_PT replace',
    source: 'pull "iommufd updates" merge 4debf77169ee (its mail lore ZO/Te6LU1ENf58ZW@nvidia.com lists IOMMU_HWPT_ALLOC, VFIO_DEVICE_ATTACH_IOMMUFD_PT, IOMMU_GET_HW_INFO; sent end of August 2023, after v6.5: the 6.6 merge window)',
  },
  iommufd_hw_info: {
    since: '6.6',
    what: 'IOMMU_GET_HW_INFO (struct iommu_hw_info ends at __reserved: 32 bytes)',
    source: 'same pull as iommufd_hwpt_alloc (merge 4debf77169ee)',
  },
  iommufd_nesting: {
    since: '6.7',
    what: 'nested HWPTs: iommu_hwpt_alloc gains data_type/data_len/data_uptr (40 bytes), IOMMU_HWPT_ALLOC_NEST_PARENT, IOMMU_HWPT_DATA_VTD_S1',
    source: 'include/uapi/linux/iommufd.h at torvalds/linux 03476e687eb0 (enum ends at HWPT_GET_DIRTY_BITMAP; release recalled)',
  },
  iommufd_dirty_tracking: {
    since: '6.7',
    what: 'HWPT_SET_DIRTY_TRACKING, HWPT_GET_DIRTY_BITMAP, IOMMU_HWPT_ALLOC_DIRTY_TRACKING, iommu_hw_info.out_capabilities (40 bytes)',
    source: 'include/uapi/linux/iommufd.h at torvalds/linux 03476e687eb0 (release recalled)',
  },
  iommufd_hwpt_invalidate: {
    since: '6.8',
    what: 'IOMMU_HWPT_INVALIDATE (nested HWPT cache invalidation, entry_num in/out)',
    source: 'J. Gunthorpe, google/syzkaller#4552 "Iommufd v6.8 updates" (adds the HWPT_INVALIDATE descriptions)',
  },
  iommufd_fault_queue: {
    since: '6.11',
    what: 'IOMMU_FAULT_QUEUE_ALLOC (fault fd: read page faults, write responses), IOMMU_HWPT_FAULT_ID_VALID and iommu_hwpt_alloc.fault_id (48 bytes)',
    source: 'pull "iommufd updates" merge ef7c8f2b1fb4 (its mail lists "IO Page Fault Reporting to userspace via iommufd" and "iommufd: Add iommufd fault object"); release recalled',
  },
  iommufd_compat_unmap_empty_ok: {
    since: '6.18',
    what: 'VFIO compat UNMAP_DMA of a range with nothing mapped succeeds with size 0 (was ENOENT)',
    source: 'afb47765f923 "iommufd: Make vfio_compats unmap succeed if the range is already empty": queued for the 6.17.y and 6.12.y stables ([PATCH 6.17 008/247], [PATCH 6.12 005/185] on linux-stable-mirror), so mainline 6.18; present in Debian 6.12.117 as that backport, which the 6.12 profile (6.12.0) does not model',
  },
  iommufd_viommu: {
    since: '6.13',
    what: 'IOMMU_VIOMMU_ALLOC and IOMMU_VDEVICE_ALLOC (not in the 6.12.117 tree)',
    source: 'drivers/iommu/iommufd/main.c of linux-source-6.12 6.12.117 has no VIOMMU op; release recalled',
  },
  iommufd_map_file: {
    since: '6.14',
    what: 'IOMMU_IOAS_MAP_FILE (map a memfd) and IOMMU_IOAS_CHANGE_PROCESS',
    source: 'commit "iommufd: Add IOMMU_IOAS_MAP_FILE" (S. Sistare, patch.msgid.link 1729861919-234514-8); release recalled',
  },
  iommufd_hw_info_pasid: {
    since: '6.14',
    what: 'iommu_hw_info.out_max_pasid_log2 (in the old __reserved bytes; Debian backported it to 6.12.y)',
    source: '"iommufd: Extend IOMMU_GET_HW_INFO to report PASID capability" (in linux-source-6.12 6.12.117); release recalled',
  },
  iommufd_veventq: {
    since: '6.15',
    what: 'IOMMU_VEVENTQ_ALLOC',
    source: 'series "iommufd: Add vIOMMU infrastructure (Part-3: vEVENTQ)"; release recalled',
  },
  iommufd_hw_queue: {
    since: '6.17',
    what: 'IOMMU_HW_QUEUE_ALLOC and IOMMU_HW_INFO_FLAG_INPUT_TYPE (iommu_hw_info.in_data_type)',
    source: 'include/uapi/linux/iommufd.h at torvalds/linux b4d90dbc4c1b (enum up to 0x94); release recalled',
  },
  vfio_device_cdev: {
    since: '6.6',
    what: '/dev/vfio/devices/vfioN and /sys/class/vfio-dev',
    source: 'drivers/vfio/device_cdev.c',
  },
  vfio_bind_token: {
    since: '6.17',
    what: 'VFIO_DEVICE_BIND_IOMMUFD: copy_struct_from_user (E2BIG), VFIO_DEVICE_BIND_FLAG_TOKEN and the VF-token check',
    source: 'drivers/vfio/device_cdev.c:vfio_df_check_token (86624ba3b522 "vfio/pci: Do vf_token checks for VFIO_DEVICE_BIND_IOMMUFD", Jason Gunthorpe, v3 2025-07-14; VFIO updates for v6.17-rc1. Also in a linux-6.15.y stable-rc push of 2025-08-12 (3969bf4713a4), release not pinned)',
  },
  vfio_bind_minsz_copy: {
    since: '6.17',
    until: '6.19',
    stableUntil: ['6.18.3'],
    what: 'BIND_IOMMUFD copies only up to out_devid (ksize = minsz): a non-zero token_uuid_ptr in a full-size struct is E2BIG',
    source: 'drivers/vfio/device_cdev.c:vfio_df_ioctl_bind_iommufd (fixed by 2f03f21fe751 "vfio: Fix ksize arg while copying user struct in vfio_df_ioctl_bind_iommufd()", Raghavendra Rao Ananta: "[GIT PULL] VFIO updates for v6.19-rc1", 2025-12-03, "using the correct size for the kernel structure, thereby actually allowing userspace to provide a non-zero UUID token"; stable: [PATCH 6.18 404/430] of the 6.18.3-rc1 review, 2025-12-29)',
  },
  // ---- IOMMU drivers: a unit renders only on kernels that have its driver ----
  drv_virtio_iommu: {
    since: '5.3',
    what: 'the virtio-iommu driver (device-tree platforms)',
    source: 'drivers/iommu/virtio-iommu.c ("iommu/virtio: Add virtio-iommu driver", Jean-Philippe Brucker; release recalled, not re-verified)',
  },
  drv_virtio_iommu_acpi: {
    since: '5.14',
    what: 'virtio-iommu described by ACPI VIOT (x86 and ACPI arm64 guests)',
    source: 'drivers/acpi/viot.c ("ACPI: Add driver for the VIOT table"; tag iommu-updates-v5.14: "Support for new VIOT ACPI table to make the VirtIO IOMMU available on x86")',
  },
  drv_apple_dart: {
    since: '5.15',
    what: 'the apple-dart IOMMU driver',
    source: 'drivers/iommu/apple-dart.c (Sven Peter; tag iommu-updates-v5.15: "New DART IOMMU driver for Apple Silicon M1 chips")',
  },
  drv_arm_smmu_v3: {
    since: '4.2',
    what: 'the arm-smmu-v3 IOMMU driver',
    source: 'drivers/iommu/arm-smmu-v3.c (Will Deacon; release recalled, not re-verified)',
  },
  drv_s390_iommu: {
    since: '4.8',
    what: 'the s390 IOMMU API driver',
    source: 'drivers/iommu/s390-iommu.c ("iommu/s390: Add iommu api for s390 pci devices"; release recalled, not re-verified)',
  },
  drv_sun50i_iommu: {
    since: '5.8',
    what: 'the sun50i (Allwinner H6) IOMMU driver; it has no get_resv_regions',
    source: 'drivers/iommu/sun50i-iommu.c (Maxime Ripard; release recalled, not re-verified)',
  },
  amd_features2: {
    since: '6.3',
    what: 'amd-iommu/features prints EFR2:EFR ("%llx:%llx"; before: EFR alone)',
    source: 'drivers/iommu/amd/init.c:amd_iommu_show_features ("iommu/amd: Add support for EFR2", recalled)',
  },
  vfio_pci_core_module: {
    since: '5.15',
    what: 'vfio-pci is split: vfio_pci uses vfio_pci_core.ko (lsmod, /sys/module/vfio_pci_core)',
    source: 'drivers/vfio/pci/Makefile ("vfio/pci: Introduce vfio_pci_core.ko", 7fa005caa35e)',
  },
  vfio_virqfd_module: {
    since: '3.18',
    until: '6.2',
    what: 'vfio_virqfd is a module of its own (folded into vfio.ko in v6.2)',
    source: 'drivers/vfio/Makefile ("vfio: Fold vfio_virqfd.ko into vfio.ko", e2d55709398e)',
  },
  builtin_module_kobject: {
    since: '6.15',
    what: 'a built-in driver always gets /sys/module/<KBUILD_MODNAME>/drivers/ and its module link (before: only when the built-in module has parameters)',
    source: 'drivers/base/module.c:module_add_driver ("drivers: base: handle module_kobject creation", f95bbfe18512)',
  },
} as const satisfies Record<string, FeatureRow>;

export type Feature = keyof typeof FEATURES;

/** A vendor kernel's deviations from its base version: `{ iort_rmr: true }` (a backport). */
export type KernelFeatureOverrides = Readonly<Partial<Record<Feature, boolean>>>;

export const isFeature = (name: string): name is Feature => Object.prototype.hasOwnProperty.call(FEATURES, name);

export class KernelProfile {
  readonly version: KernelVersion;
  /** Features the topology switched on or off against the version's rows. */
  readonly overrides: KernelFeatureOverrides;
  private readonly enabled: ReadonlySet<Feature>;

  constructor(version: KernelVersion, overrides: KernelFeatureOverrides = {}) {
    this.version = version;
    this.overrides = overrides;
    const on = new Set<Feature>();
    for (const [name, row] of Object.entries(FEATURES) as [Feature, FeatureRow][]) {
      const forced = overrides[name];
      if (forced ?? inVersionRange(version, row)) on.add(name);
    }
    this.enabled = on;
  }

  has(f: Feature): boolean {
    return this.enabled.has(f);
  }

  /** "6.8", "5.4.7", "5.5-rc3": the version alone. */
  get release(): string {
    return formatKernelVersion(this.version);
  }

  /** The release plus the topology's feature overrides, for humans: "5.14.0 +iort_rmr". */
  describe(): string {
    const o = Object.entries(this.overrides) as [Feature, boolean][];
    return this.release + o.map(([f, on]) => ` ${on ? '+' : '-'}${f}`).join('');
  }

  features(): Feature[] {
    return [...this.enabled];
  }

  /** Why `f` is on or off here, in one line: the row's span, or the topology's override. */
  why(f: Feature): string {
    const r: FeatureRow = FEATURES[f];
    if (this.overrides[f] !== undefined) return `${f} ${this.overrides[f] ? 'on' : 'off'} by the topology's kernel.features`;
    const span = `from ${r.since}${r.until ? ` until ${r.until}` : ''}${r.stable?.length ? `, stable ${r.stable.join(', ')}` : ''}`;
    return `profile row ${f} (${r.what}) is ${span}`;
  }
}

/** Named profiles the issue asks for; any "X.Y[.Z]" works too. */
export const KERNEL_PROFILES = ['4.10', '4.11', '5.3', '5.5', '5.11', '5.15', '6.1', '6.6', '6.12', 'latest'] as const;
export const LATEST_KERNEL = '6.19';

export function kernelProfile(text: string, overrides?: KernelFeatureOverrides): KernelProfile {
  const v = parseKernelVersion(text === 'latest' ? LATEST_KERNEL : text);
  if (!v) throw new Error(`not a kernel version: ${JSON.stringify(text)} (expected e.g. "6.8", "5.4.7", "5.5-rc3" or "latest")`);
  return new KernelProfile(v, overrides);
}
