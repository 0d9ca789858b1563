// SPDX-License-Identifier: GPL-2.0-only
/**
 * include/uapi/linux/vfio.h — the constants and struct layouts a VMM uses, as of the current
 * upstream header (pad fields, VFIO_DEVICE_BIND_FLAG_TOKEN, PASID attach/detach), plus the
 * vfio-pci region offset encoding from include/linux/vfio_pci_core.h that userspace hard-codes.
 *
 * Every VFIO ioctl is `_IO(VFIO_TYPE, VFIO_BASE + n)`: no direction or size is encoded, argsz
 * carries the size. The same number means different things on container, group and device fds.
 */
import { aligned_u64, anonUnion, flex, s32, struct, u16, u32, u64, u8 } from '../abi';
import { _IO } from './ioctl';

export const VFIO_API_VERSION = 0;

/* Extensions (VFIO_CHECK_EXTENSION / VFIO_SET_IOMMU arguments) */
export const VFIO_TYPE1_IOMMU = 1;
export const VFIO_SPAPR_TCE_IOMMU = 2;
export const VFIO_TYPE1v2_IOMMU = 3;
export const VFIO_DMA_CC_IOMMU = 4;
export const VFIO_EEH = 5;
export const __VFIO_RESERVED_TYPE1_NESTING_IOMMU = 6;
export const VFIO_SPAPR_TCE_v2_IOMMU = 7;
export const VFIO_NOIOMMU_IOMMU = 8;
export const VFIO_UNMAP_ALL = 9;
export const VFIO_UPDATE_VADDR = 10;

/** `(';')` */
export const VFIO_TYPE = 0x3b;
export const VFIO_BASE = 100;

export const vfio_info_cap_header = struct('vfio_info_cap_header', { id: u16, version: u16, next: u32 });

/* -------- container fd (/dev/vfio/vfio) -------- */
/** VFIO_GET_API_VERSION — _IO(VFIO_TYPE, VFIO_BASE + 0) */
export const VFIO_GET_API_VERSION = _IO(VFIO_TYPE, VFIO_BASE + 0);
/** VFIO_CHECK_EXTENSION — _IO(VFIO_TYPE, VFIO_BASE + 1), arg is the extension by value */
export const VFIO_CHECK_EXTENSION = _IO(VFIO_TYPE, VFIO_BASE + 1);
/** VFIO_SET_IOMMU — _IO(VFIO_TYPE, VFIO_BASE + 2), arg is the IOMMU type by value */
export const VFIO_SET_IOMMU = _IO(VFIO_TYPE, VFIO_BASE + 2);

/* -------- group fd (/dev/vfio/$GROUP) -------- */
export const vfio_group_status = struct('vfio_group_status', { argsz: u32, flags: u32 });
export const VFIO_GROUP_FLAGS_VIABLE = 1 << 0;
export const VFIO_GROUP_FLAGS_CONTAINER_SET = 1 << 1;
/** VFIO_GROUP_GET_STATUS — _IO(VFIO_TYPE, VFIO_BASE + 3) */
export const VFIO_GROUP_GET_STATUS = _IO(VFIO_TYPE, VFIO_BASE + 3);
/** VFIO_GROUP_SET_CONTAINER — _IO(VFIO_TYPE, VFIO_BASE + 4), arg points at an `int` fd */
export const VFIO_GROUP_SET_CONTAINER = _IO(VFIO_TYPE, VFIO_BASE + 4);
/** VFIO_GROUP_UNSET_CONTAINER — _IO(VFIO_TYPE, VFIO_BASE + 5) */
export const VFIO_GROUP_UNSET_CONTAINER = _IO(VFIO_TYPE, VFIO_BASE + 5);
/** VFIO_GROUP_GET_DEVICE_FD — _IO(VFIO_TYPE, VFIO_BASE + 6), arg points at a device name string */
export const VFIO_GROUP_GET_DEVICE_FD = _IO(VFIO_TYPE, VFIO_BASE + 6);

/* -------- device fd -------- */
export const vfio_device_info = struct('vfio_device_info', {
  argsz: u32,
  flags: u32,
  num_regions: u32,
  num_irqs: u32,
  cap_offset: u32,
  pad: u32,
});
export const VFIO_DEVICE_FLAGS_RESET = 1 << 0;
export const VFIO_DEVICE_FLAGS_PCI = 1 << 1;
export const VFIO_DEVICE_FLAGS_PLATFORM = 1 << 2;
export const VFIO_DEVICE_FLAGS_AMBA = 1 << 3;
export const VFIO_DEVICE_FLAGS_CCW = 1 << 4;
export const VFIO_DEVICE_FLAGS_AP = 1 << 5;
export const VFIO_DEVICE_FLAGS_FSL_MC = 1 << 6;
export const VFIO_DEVICE_FLAGS_CAPS = 1 << 7;
export const VFIO_DEVICE_FLAGS_CDX = 1 << 8;
/** VFIO_DEVICE_GET_INFO — _IO(VFIO_TYPE, VFIO_BASE + 7) */
export const VFIO_DEVICE_GET_INFO = _IO(VFIO_TYPE, VFIO_BASE + 7);

export const VFIO_DEVICE_API_PCI_STRING = 'vfio-pci';
export const VFIO_DEVICE_API_PLATFORM_STRING = 'vfio-platform';
export const VFIO_DEVICE_API_AMBA_STRING = 'vfio-amba';
export const VFIO_DEVICE_API_CCW_STRING = 'vfio-ccw';
export const VFIO_DEVICE_API_AP_STRING = 'vfio-ap';

export const VFIO_DEVICE_INFO_CAP_ZPCI_BASE = 1;
export const VFIO_DEVICE_INFO_CAP_ZPCI_GROUP = 2;
export const VFIO_DEVICE_INFO_CAP_ZPCI_UTIL = 3;
export const VFIO_DEVICE_INFO_CAP_ZPCI_PFIP = 4;
export const VFIO_DEVICE_INFO_CAP_PCI_ATOMIC_COMP = 5;

export const vfio_region_info = struct('vfio_region_info', {
  argsz: u32,
  flags: u32,
  index: u32,
  cap_offset: u32,
  size: aligned_u64,
  offset: aligned_u64,
});
export const VFIO_REGION_INFO_FLAG_READ = 1 << 0;
export const VFIO_REGION_INFO_FLAG_WRITE = 1 << 1;
export const VFIO_REGION_INFO_FLAG_MMAP = 1 << 2;
export const VFIO_REGION_INFO_FLAG_CAPS = 1 << 3;
/** VFIO_DEVICE_GET_REGION_INFO — _IO(VFIO_TYPE, VFIO_BASE + 8) */
export const VFIO_DEVICE_GET_REGION_INFO = _IO(VFIO_TYPE, VFIO_BASE + 8);

export const VFIO_REGION_INFO_CAP_SPARSE_MMAP = 1;
export const VFIO_REGION_INFO_CAP_TYPE = 2;
export const VFIO_REGION_INFO_CAP_MSIX_MAPPABLE = 3;
export const VFIO_REGION_INFO_CAP_NVLINK2_SSATGT = 4;
export const VFIO_REGION_INFO_CAP_NVLINK2_LNKSPD = 5;

export const vfio_region_sparse_mmap_area = struct('vfio_region_sparse_mmap_area', {
  offset: aligned_u64,
  size: aligned_u64,
});
export const vfio_region_info_cap_sparse_mmap = struct('vfio_region_info_cap_sparse_mmap', {
  header: vfio_info_cap_header,
  nr_areas: u32,
  reserved: u32,
  areas: flex(vfio_region_sparse_mmap_area),
});
export const vfio_region_info_cap_type = struct('vfio_region_info_cap_type', {
  header: vfio_info_cap_header,
  type: u32,
  subtype: u32,
});
/** `(1 << 31)`, held as the `__u32` the type field is. */
export const VFIO_REGION_TYPE_PCI_VENDOR_TYPE = 0x8000_0000;
export const VFIO_REGION_TYPE_PCI_VENDOR_MASK = 0xffff;
export const VFIO_REGION_TYPE_GFX = 1;
export const VFIO_REGION_TYPE_CCW = 2;
export const VFIO_REGION_TYPE_MIGRATION_DEPRECATED = 3;

export const vfio_irq_info = struct('vfio_irq_info', { argsz: u32, flags: u32, index: u32, count: u32 });
export const VFIO_IRQ_INFO_EVENTFD = 1 << 0;
export const VFIO_IRQ_INFO_MASKABLE = 1 << 1;
export const VFIO_IRQ_INFO_AUTOMASKED = 1 << 2;
export const VFIO_IRQ_INFO_NORESIZE = 1 << 3;
/** VFIO_DEVICE_GET_IRQ_INFO — _IO(VFIO_TYPE, VFIO_BASE + 9) */
export const VFIO_DEVICE_GET_IRQ_INFO = _IO(VFIO_TYPE, VFIO_BASE + 9);

export const vfio_irq_set = struct('vfio_irq_set', {
  argsz: u32,
  flags: u32,
  index: u32,
  start: u32,
  count: u32,
  data: flex(u8),
});
export const VFIO_IRQ_SET_DATA_NONE = 1 << 0;
export const VFIO_IRQ_SET_DATA_BOOL = 1 << 1;
export const VFIO_IRQ_SET_DATA_EVENTFD = 1 << 2;
export const VFIO_IRQ_SET_ACTION_MASK = 1 << 3;
export const VFIO_IRQ_SET_ACTION_UNMASK = 1 << 4;
export const VFIO_IRQ_SET_ACTION_TRIGGER = 1 << 5;
export const VFIO_IRQ_SET_DATA_TYPE_MASK = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_DATA_EVENTFD;
export const VFIO_IRQ_SET_ACTION_TYPE_MASK =
  VFIO_IRQ_SET_ACTION_MASK | VFIO_IRQ_SET_ACTION_UNMASK | VFIO_IRQ_SET_ACTION_TRIGGER;
/** VFIO_DEVICE_SET_IRQS — _IO(VFIO_TYPE, VFIO_BASE + 10) */
export const VFIO_DEVICE_SET_IRQS = _IO(VFIO_TYPE, VFIO_BASE + 10);
/** VFIO_DEVICE_RESET — _IO(VFIO_TYPE, VFIO_BASE + 11) */
export const VFIO_DEVICE_RESET = _IO(VFIO_TYPE, VFIO_BASE + 11);

/* vfio-pci fixed region and IRQ indexes */
export const VFIO_PCI_BAR0_REGION_INDEX = 0;
export const VFIO_PCI_BAR1_REGION_INDEX = 1;
export const VFIO_PCI_BAR2_REGION_INDEX = 2;
export const VFIO_PCI_BAR3_REGION_INDEX = 3;
export const VFIO_PCI_BAR4_REGION_INDEX = 4;
export const VFIO_PCI_BAR5_REGION_INDEX = 5;
export const VFIO_PCI_ROM_REGION_INDEX = 6;
export const VFIO_PCI_CONFIG_REGION_INDEX = 7;
export const VFIO_PCI_VGA_REGION_INDEX = 8;
export const VFIO_PCI_NUM_REGIONS = 9;

export const VFIO_PCI_INTX_IRQ_INDEX = 0;
export const VFIO_PCI_MSI_IRQ_INDEX = 1;
export const VFIO_PCI_MSIX_IRQ_INDEX = 2;
export const VFIO_PCI_ERR_IRQ_INDEX = 3;
export const VFIO_PCI_REQ_IRQ_INDEX = 4;
export const VFIO_PCI_NUM_IRQS = 5;

/** include/linux/vfio_pci_core.h: kernel-internal, but every vfio-pci consumer hard-codes it. */
export const VFIO_PCI_OFFSET_SHIFT = 40n;
export const VFIO_PCI_OFFSET_MASK = (1n << VFIO_PCI_OFFSET_SHIFT) - 1n;
export const VFIO_PCI_INDEX_TO_OFFSET = (index: number | bigint): bigint => BigInt(index) << VFIO_PCI_OFFSET_SHIFT;
export const VFIO_PCI_OFFSET_TO_INDEX = (off: bigint): number => Number(off >> VFIO_PCI_OFFSET_SHIFT);

export const vfio_pci_dependent_device = struct('vfio_pci_dependent_device', {
  union: anonUnion({ group_id: u32, devid: u32 }),
  segment: u16,
  bus: u8,
  devfn: u8,
});
/** Written into the `__u32 devid`; reads back as 0xffffffff. */
export const VFIO_PCI_DEVID_OWNED = 0;
export const VFIO_PCI_DEVID_NOT_OWNED = -1;

export const vfio_pci_hot_reset_info = struct('vfio_pci_hot_reset_info', {
  argsz: u32,
  flags: u32,
  count: u32,
  devices: flex(vfio_pci_dependent_device),
});
export const VFIO_PCI_HOT_RESET_FLAG_DEV_ID = 1 << 0;
export const VFIO_PCI_HOT_RESET_FLAG_DEV_ID_OWNED = 1 << 1;
/** VFIO_DEVICE_GET_PCI_HOT_RESET_INFO — _IO(VFIO_TYPE, VFIO_BASE + 12) */
export const VFIO_DEVICE_GET_PCI_HOT_RESET_INFO = _IO(VFIO_TYPE, VFIO_BASE + 12);

export const vfio_pci_hot_reset = struct('vfio_pci_hot_reset', {
  argsz: u32,
  flags: u32,
  count: u32,
  group_fds: flex(s32),
});
/** VFIO_DEVICE_PCI_HOT_RESET — _IO(VFIO_TYPE, VFIO_BASE + 13) */
export const VFIO_DEVICE_PCI_HOT_RESET = _IO(VFIO_TYPE, VFIO_BASE + 13);
/** VFIO_DEVICE_QUERY_GFX_PLANE — _IO(VFIO_TYPE, VFIO_BASE + 14) */
export const VFIO_DEVICE_QUERY_GFX_PLANE = _IO(VFIO_TYPE, VFIO_BASE + 14);
/** VFIO_DEVICE_GET_GFX_DMABUF — _IO(VFIO_TYPE, VFIO_BASE + 15) */
export const VFIO_DEVICE_GET_GFX_DMABUF = _IO(VFIO_TYPE, VFIO_BASE + 15);
/** VFIO_DEVICE_IOEVENTFD — _IO(VFIO_TYPE, VFIO_BASE + 16) */
export const VFIO_DEVICE_IOEVENTFD = _IO(VFIO_TYPE, VFIO_BASE + 16);

export const vfio_device_feature = struct('vfio_device_feature', { argsz: u32, flags: u32, data: flex(u8) });
export const VFIO_DEVICE_FEATURE_MASK = 0xffff;
export const VFIO_DEVICE_FEATURE_GET = 1 << 16;
export const VFIO_DEVICE_FEATURE_SET = 1 << 17;
export const VFIO_DEVICE_FEATURE_PROBE = 1 << 18;
/** VFIO_DEVICE_FEATURE — _IO(VFIO_TYPE, VFIO_BASE + 17) */
export const VFIO_DEVICE_FEATURE = _IO(VFIO_TYPE, VFIO_BASE + 17);

export const VFIO_DEVICE_FEATURE_PCI_VF_TOKEN = 0;
export const VFIO_DEVICE_FEATURE_MIGRATION = 1;
export const VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE = 2;
export const VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY = 3;
export const VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP = 4;
export const VFIO_DEVICE_FEATURE_LOW_POWER_EXIT = 5;
export const VFIO_DEVICE_FEATURE_DMA_LOGGING_START = 6;
export const VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP = 7;
export const VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT = 8;
export const VFIO_DEVICE_FEATURE_MIG_DATA_SIZE = 9;
export const VFIO_DEVICE_FEATURE_BUS_MASTER = 10;
export const VFIO_DEVICE_FEATURE_DMA_BUF = 11;

/* device cdev (/dev/vfio/devices/vfioN) + iommufd */
export const vfio_device_bind_iommufd = struct('vfio_device_bind_iommufd', {
  argsz: u32,
  flags: u32,
  iommufd: s32,
  out_devid: u32,
  token_uuid_ptr: aligned_u64,
});
export const VFIO_DEVICE_BIND_FLAG_TOKEN = 1 << 0;
/** VFIO_DEVICE_BIND_IOMMUFD — _IO(VFIO_TYPE, VFIO_BASE + 18) */
export const VFIO_DEVICE_BIND_IOMMUFD = _IO(VFIO_TYPE, VFIO_BASE + 18);

export const vfio_device_attach_iommufd_pt = struct('vfio_device_attach_iommufd_pt', {
  argsz: u32,
  flags: u32,
  pt_id: u32,
  pasid: u32,
});
export const VFIO_DEVICE_ATTACH_PASID = 1 << 0;
/** VFIO_DEVICE_ATTACH_IOMMUFD_PT — _IO(VFIO_TYPE, VFIO_BASE + 19) */
export const VFIO_DEVICE_ATTACH_IOMMUFD_PT = _IO(VFIO_TYPE, VFIO_BASE + 19);

export const vfio_device_detach_iommufd_pt = struct('vfio_device_detach_iommufd_pt', {
  argsz: u32,
  flags: u32,
  pasid: u32,
});
export const VFIO_DEVICE_DETACH_PASID = 1 << 0;
/** VFIO_DEVICE_DETACH_IOMMUFD_PT — _IO(VFIO_TYPE, VFIO_BASE + 20) */
export const VFIO_DEVICE_DETACH_IOMMUFD_PT = _IO(VFIO_TYPE, VFIO_BASE + 20);
/** VFIO_MIG_GET_PRECOPY_INFO — _IO(VFIO_TYPE, VFIO_BASE + 21), on the migration data fd */
export const VFIO_MIG_GET_PRECOPY_INFO = _IO(VFIO_TYPE, VFIO_BASE + 21);

/* -------- Type1 IOMMU (container fd after VFIO_SET_IOMMU) -------- */
export const vfio_iommu_type1_info = struct('vfio_iommu_type1_info', {
  argsz: u32,
  flags: u32,
  iova_pgsizes: aligned_u64,
  cap_offset: u32,
  pad: u32,
});
export const VFIO_IOMMU_INFO_PGSIZES = 1 << 0;
export const VFIO_IOMMU_INFO_CAPS = 1 << 1;

export const VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE = 1;
/** `end` is inclusive. */
export const vfio_iova_range = struct('vfio_iova_range', { start: u64, end: u64 });
export const vfio_iommu_type1_info_cap_iova_range = struct('vfio_iommu_type1_info_cap_iova_range', {
  header: vfio_info_cap_header,
  nr_iovas: u32,
  reserved: u32,
  iova_ranges: flex(vfio_iova_range),
});

export const VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION = 2;
export const vfio_iommu_type1_info_cap_migration = struct('vfio_iommu_type1_info_cap_migration', {
  header: vfio_info_cap_header,
  flags: u32,
  pgsize_bitmap: u64,
  max_dirty_bitmap_size: u64,
});

export const VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL = 3;
export const vfio_iommu_type1_info_dma_avail = struct('vfio_iommu_type1_info_dma_avail', {
  header: vfio_info_cap_header,
  avail: u32,
});

/** VFIO_IOMMU_GET_INFO — _IO(VFIO_TYPE, VFIO_BASE + 12) */
export const VFIO_IOMMU_GET_INFO = _IO(VFIO_TYPE, VFIO_BASE + 12);

export const vfio_iommu_type1_dma_map = struct('vfio_iommu_type1_dma_map', {
  argsz: u32,
  flags: u32,
  vaddr: u64,
  iova: u64,
  size: u64,
});
export const VFIO_DMA_MAP_FLAG_READ = 1 << 0;
export const VFIO_DMA_MAP_FLAG_WRITE = 1 << 1;
export const VFIO_DMA_MAP_FLAG_VADDR = 1 << 2;
/** VFIO_IOMMU_MAP_DMA — _IO(VFIO_TYPE, VFIO_BASE + 13) */
export const VFIO_IOMMU_MAP_DMA = _IO(VFIO_TYPE, VFIO_BASE + 13);

export const vfio_bitmap = struct('vfio_bitmap', {
  pgsize: u64,
  size: u64,
  /** `__u64 __user *`: a user pointer, 8 bytes on LP64. */
  data: u64,
});

export const vfio_iommu_type1_dma_unmap = struct('vfio_iommu_type1_dma_unmap', {
  argsz: u32,
  flags: u32,
  iova: u64,
  size: u64,
  data: flex(u8),
});
export const VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP = 1 << 0;
export const VFIO_DMA_UNMAP_FLAG_ALL = 1 << 1;
export const VFIO_DMA_UNMAP_FLAG_VADDR = 1 << 2;
/** VFIO_IOMMU_UNMAP_DMA — _IO(VFIO_TYPE, VFIO_BASE + 14) */
export const VFIO_IOMMU_UNMAP_DMA = _IO(VFIO_TYPE, VFIO_BASE + 14);

/** VFIO_IOMMU_ENABLE — _IO(VFIO_TYPE, VFIO_BASE + 15) (sPAPR) */
export const VFIO_IOMMU_ENABLE = _IO(VFIO_TYPE, VFIO_BASE + 15);
/** VFIO_IOMMU_DISABLE — _IO(VFIO_TYPE, VFIO_BASE + 16) (sPAPR) */
export const VFIO_IOMMU_DISABLE = _IO(VFIO_TYPE, VFIO_BASE + 16);

export const vfio_iommu_type1_dirty_bitmap = struct('vfio_iommu_type1_dirty_bitmap', {
  argsz: u32,
  flags: u32,
  data: flex(u8),
});
export const VFIO_IOMMU_DIRTY_PAGES_FLAG_START = 1 << 0;
export const VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP = 1 << 1;
export const VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP = 1 << 2;
export const vfio_iommu_type1_dirty_bitmap_get = struct('vfio_iommu_type1_dirty_bitmap_get', {
  iova: u64,
  size: u64,
  bitmap: vfio_bitmap,
});
/** VFIO_IOMMU_DIRTY_PAGES — _IO(VFIO_TYPE, VFIO_BASE + 17) */
export const VFIO_IOMMU_DIRTY_PAGES = _IO(VFIO_TYPE, VFIO_BASE + 17);

/* sPAPR TCE / EEH numbers, so that the container's dispatcher can name them */
/** VFIO_IOMMU_SPAPR_TCE_GET_INFO — _IO(VFIO_TYPE, VFIO_BASE + 12) */
export const VFIO_IOMMU_SPAPR_TCE_GET_INFO = _IO(VFIO_TYPE, VFIO_BASE + 12);
/** VFIO_IOMMU_SPAPR_REGISTER_MEMORY — _IO(VFIO_TYPE, VFIO_BASE + 17) */
export const VFIO_IOMMU_SPAPR_REGISTER_MEMORY = _IO(VFIO_TYPE, VFIO_BASE + 17);
/** VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY — _IO(VFIO_TYPE, VFIO_BASE + 18) */
export const VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY = _IO(VFIO_TYPE, VFIO_BASE + 18);
/** VFIO_IOMMU_SPAPR_TCE_CREATE — _IO(VFIO_TYPE, VFIO_BASE + 19) */
export const VFIO_IOMMU_SPAPR_TCE_CREATE = _IO(VFIO_TYPE, VFIO_BASE + 19);
/** VFIO_IOMMU_SPAPR_TCE_REMOVE — _IO(VFIO_TYPE, VFIO_BASE + 20) */
export const VFIO_IOMMU_SPAPR_TCE_REMOVE = _IO(VFIO_TYPE, VFIO_BASE + 20);
/** VFIO_EEH_PE_OP — _IO(VFIO_TYPE, VFIO_BASE + 21) */
export const VFIO_EEH_PE_OP = _IO(VFIO_TYPE, VFIO_BASE + 21);

/** Every VFIO request number by name, for ioctlName(); several names share a number. */
export const VFIO_IOCTL_NAMES: Readonly<Record<string, number>> = Object.freeze({
  VFIO_GET_API_VERSION,
  VFIO_CHECK_EXTENSION,
  VFIO_SET_IOMMU,
  VFIO_GROUP_GET_STATUS,
  VFIO_GROUP_SET_CONTAINER,
  VFIO_GROUP_UNSET_CONTAINER,
  VFIO_GROUP_GET_DEVICE_FD,
  VFIO_DEVICE_GET_INFO,
  VFIO_DEVICE_GET_REGION_INFO,
  VFIO_DEVICE_GET_IRQ_INFO,
  VFIO_DEVICE_SET_IRQS,
  VFIO_DEVICE_RESET,
  VFIO_DEVICE_GET_PCI_HOT_RESET_INFO,
  VFIO_DEVICE_PCI_HOT_RESET,
  VFIO_DEVICE_QUERY_GFX_PLANE,
  VFIO_DEVICE_GET_GFX_DMABUF,
  VFIO_DEVICE_IOEVENTFD,
  VFIO_DEVICE_FEATURE,
  VFIO_DEVICE_BIND_IOMMUFD,
  VFIO_DEVICE_ATTACH_IOMMUFD_PT,
  VFIO_DEVICE_DETACH_IOMMUFD_PT,
  VFIO_MIG_GET_PRECOPY_INFO,
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_IOMMU_ENABLE,
  VFIO_IOMMU_DISABLE,
  VFIO_IOMMU_DIRTY_PAGES,
  VFIO_IOMMU_SPAPR_TCE_GET_INFO,
  VFIO_IOMMU_SPAPR_REGISTER_MEMORY,
  VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY,
  VFIO_IOMMU_SPAPR_TCE_CREATE,
  VFIO_IOMMU_SPAPR_TCE_REMOVE,
  VFIO_EEH_PE_OP,
});
