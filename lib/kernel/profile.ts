// SPDX-License-Identifier: GPL-2.0-only
/**
 * Kernel-version profiles. Every behaviour that differs between kernel versions is one row of
 * FEATURES, with the first version that has it (and the first that no longer has it); the rest
 * of the emulator asks `profile.has('…')` and never compares versions itself.
 */
import { KernelVersion, formatKernelVersion, inVersionRange, parseKernelVersion } from './version';

interface FeatureRow {
  readonly since: string;
  readonly until?: string;
  readonly what: string;
  /** Where the change is; "(recalled)" marks versions not re-verified against a tree. */
  readonly source: string;
}

export const FEATURES = {
  reserved_regions: {
    since: '4.11',
    what: '/sys/kernel/iommu_groups/N/reserved_regions exists',
    source: 'drivers/iommu/iommu.c:iommu_group_show_resv_regions (Eric Auger, v4.11)',
  },
  resv_merge_adjacent: {
    since: '5.3',
    what: 'group regions: sorted by (start, type), same-type overlapping AND adjacent regions merge',
    source: 'drivers/iommu/iommu.c:iommu_insert_resv_region (4dbd258ff63e, v5.3)',
  },
  direct_relaxable: {
    since: '5.3',
    what: 'IOMMU_RESV_DIRECT_RELAXABLE exists: USB/GFX RMRRs print direct-relaxable',
    source: 'drivers/iommu/intel-iommu.c:device_rmrr_is_relaxable (v5.3)',
  },
  intel_isa_range: {
    since: '5.3',
    what: 'VT-d reports the 16 MiB ISA/floppy identity range on ISA bridges',
    source: 'drivers/iommu/intel/iommu.c:intel_iommu_get_resv_regions (CONFIG_INTEL_IOMMU_FLOPPY_WA, v5.3)',
  },
  intel_isa_range_relaxable: {
    since: '5.5',
    what: 'the ISA range is direct-relaxable (v5.3/v5.4 printed direct)',
    source: 'drivers/iommu/intel-iommu.c:intel_iommu_get_resv_regions (Dec 2019 fix, recalled)',
  },
  arm_dma_pci_windows: {
    since: '4.11',
    until: '4.16',
    what: 'arm64 iommu_dma_get_resv_regions also reports PCI host-bridge windows as reserved',
    source: 'drivers/iommu/dma-iommu.c:iommu_dma_get_resv_regions (273df9635385; moved back into the DMA path in v4.16, recalled)',
  },
  iort_its_msi: {
    since: '4.16',
    what: 'IORT ITS doorbells of SMMU-bypass platforms are reported as hardware msi regions',
    source: 'drivers/acpi/arm64/iort.c:iort_iommu_msi_get_resv_regions (v4.16, recalled)',
  },
  group_type_attr: {
    since: '4.19',
    what: '/sys/kernel/iommu_groups/N/type exists (read-only until 5.11)',
    source: 'drivers/iommu/iommu.c:iommu_group_show_type (c52c72d3dee8; its fix is in the 4.19 stable queue)',
  },
  group_type_dma_newline: {
    since: '5.2',
    what: 'type prints "DMA\\n" (before the fix DMA alone lacked the newline)',
    source: 'drivers/iommu/iommu.c:iommu_group_show_type (24f307d8abf7 "iommu: Add missing new line for dma type")',
  },
  group_type_writable: {
    since: '5.11',
    what: 'type is 0644 and accepts identity/DMA/DMA-FQ/auto',
    source: 'drivers/iommu/iommu.c:iommu_group_store_type (ABI: v5.11)',
  },
  dma_fq: {
    since: '5.15',
    what: 'DMA-FQ domain type (read and write)',
    source: 'drivers/iommu/iommu.c:iommu_group_show_type (recalled)',
  },
  type_store_owner_cnt: {
    since: '6.4',
    what: 'type store: multi-device groups allowed; a bound driver gives EPERM (older: EINVAL for >1 device, EBUSY when bound)',
    source: 'drivers/iommu/iommu.c:iommu_group_store_type (rework, recalled)',
  },
  iort_rmr: {
    since: '6.0',
    what: 'IORT RMR nodes become direct / direct-relaxable regions',
    source: 'drivers/acpi/arm64/iort.c:iort_get_rmrs (recalled)',
  },
  amd_ht_range_ignore: {
    since: '6.13',
    what: 'AMD skips the HyperTransport hole on hardware that reports HT-range-ignore',
    source: 'drivers/iommu/amd/iommu.c:amd_iommu_get_resv_regions (amd_iommu_ht_range_ignore, recalled)',
  },
  vfio_caps_aligned: {
    since: '6.6',
    what: 'VFIO capability chains are padded to 8 bytes',
    source: 'drivers/vfio/vfio_main.c:vfio_info_cap_add ("vfio: align capability structures")',
  },
  vfio_dma_eoverflow: {
    since: '6.19',
    what: 'type1 map/unmap overflow returns EOVERFLOW (EINVAL before)',
    source: 'drivers/vfio/vfio_iommu_type1.c:vfio_dma_do_map ("handle DMA map/unmap up to the addressable limit")',
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
    what: 'VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL',
    source: 'drivers/vfio/vfio_iommu_type1.c:vfio_iommu_dma_avail_build_caps',
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
    since: '6.2',
    what: 'CHECK_EXTENSION(VFIO_UPDATE_VADDR) is 0 before SET_IOMMU (and with emulated groups)',
    source: 'drivers/vfio/vfio_iommu_type1.c:vfio_iommu_type1_check_extension (recalled)',
  },
  vfio_pci_msix_mappable: {
    since: '4.16',
    what: 'the MSI-X BAR is mmap-able whole (REGION_INFO_CAP_MSIX_MAPPABLE); before, a sparse-mmap cap excluded the table',
    source: 'drivers/vfio/pci/vfio_pci.c:msix_mmappable_cap ("vfio-pci: Allow mapping MSIX BAR")',
  },
  vfio_pci_dyn_msix: {
    since: '6.5',
    what: 'vfio-pci dynamic MSI-X: MSI-X IRQ info drops NORESIZE, vectors can be added while enabled',
    source: 'drivers/vfio/pci/vfio_pci_intrs.c:vfio_msi_alloc_irq ("vfio/pci: Support dynamic MSI-X", recalled)',
  },
  vfio_pci_id_table: {
    since: '5.15',
    what: 'vfio-pci has an id table (one override-only PCI_ANY_ID entry, driver_data 0) instead of none',
    source: 'drivers/vfio/pci/vfio_pci.c:vfio_pci_table ("PCI / VFIO: Add \'override_only\' support for VFIO PCI sub system", recalled)',
  },
  vfio_type1_nesting: {
    since: '4.0',
    until: '6.13',
    what: 'VFIO_TYPE1_NESTING_IOMMU (6): advertised by type1; attach enables nesting, which only the ARM SMMUs support',
    source: 'drivers/vfio/vfio_iommu_type1.c:vfio_iommu_type1_open (removed by "vfio: Remove VFIO_TYPE1_NESTING_IOMMU", recalled)',
  },
  intel_rmrr_locked: {
    since: '3.17',
    until: '6.3',
    what: 'VT-d refuses to attach a device with a non-relaxable RMRR to an unmanaged (VFIO) domain: EPERM',
    source: 'drivers/iommu/intel/iommu.c:device_is_rmrr_locked (replaced by require_direct, recalled)',
  },
  iommu_require_direct: {
    since: '6.3',
    what: 'a group with a device that has a direct region cannot be claimed for userspace DMA: EINVAL',
    source: 'drivers/iommu/iommu.c:__iommu_device_set_domain (dev->iommu->require_direct, recalled)',
  },
  iommufd: {
    since: '6.2',
    what: '/dev/iommu (iommufd)',
    source: 'drivers/iommu/iommufd/main.c',
  },
  vfio_device_cdev: {
    since: '6.6',
    what: '/dev/vfio/devices/vfioN and /sys/class/vfio-dev',
    source: 'drivers/vfio/device_cdev.c',
  },
  vfio_bind_token: {
    since: '6.17',
    what: 'VFIO_DEVICE_BIND_IOMMUFD: copy_struct_from_user (E2BIG), VFIO_DEVICE_BIND_FLAG_TOKEN and the VF-token check',
    source: 'drivers/vfio/device_cdev.c:vfio_df_check_token ("vfio/pci: Do vf_token checks for VFIO_DEVICE_BIND_IOMMUFD", be2e70b96c3e, Jul 2025; release recalled)',
  },
} as const satisfies Record<string, FeatureRow>;

export type Feature = keyof typeof FEATURES;

export class KernelProfile {
  readonly version: KernelVersion;
  private readonly enabled: ReadonlySet<Feature>;

  constructor(version: KernelVersion) {
    this.version = version;
    const on = new Set<Feature>();
    for (const [name, row] of Object.entries(FEATURES) as [Feature, FeatureRow][]) {
      if (inVersionRange(version, row)) on.add(name);
    }
    this.enabled = on;
  }

  has(f: Feature): boolean {
    return this.enabled.has(f);
  }

  get release(): string {
    return formatKernelVersion(this.version);
  }

  features(): Feature[] {
    return [...this.enabled];
  }
}

/** Named profiles the issue asks for; any "X.Y[.Z]" works too. */
export const KERNEL_PROFILES = ['4.10', '4.11', '5.3', '5.5', '5.11', '5.15', '6.1', '6.6', '6.12', 'latest'] as const;
export const LATEST_KERNEL = '6.19';

export function kernelProfile(text: string): KernelProfile {
  const v = parseKernelVersion(text === 'latest' ? LATEST_KERNEL : text);
  if (!v) throw new Error(`not a kernel version: ${JSON.stringify(text)} (expected e.g. "6.8" or "latest")`);
  return new KernelProfile(v);
}
