// SPDX-License-Identifier: GPL-2.0-only
/**
 * include/uapi/linux/iommufd.h — command numbers (the enum up to 0x94), the structs of the
 * commands the emulator implements, and their flag/op constants. Each struct is declared in its
 * newest shape; structs that grew by appending members (iommu_hwpt_alloc: 24 bytes in 6.6, 40 in
 * 6.7, 48 since 6.11; iommu_hw_info: 32 in 6.6, 40 since 6.7) have their older shapes derived
 * with structPrefix(layout, lastMember); lib/iommufd/main.ts says which shape each kernel
 * version has.
 *
 * Every command is `_IO(IOMMUFD_TYPE, nr)` and starts with `__u32 size`; see
 * lib/abi/uaccess.ts:iommufdCmdFromUser for the size protocol.
 */
import { aligned_u64, anonUnion, array, s32, struct, u16, u32, u8 } from '../abi';
import { _IO } from './ioctl';

/** `(';')`, shared with VFIO_TYPE: iommufd's numbers start where VFIO's end. */
export const IOMMUFD_TYPE = 0x3b;

export const IOMMUFD_CMD_BASE = 0x80;
export const IOMMUFD_CMD_DESTROY = IOMMUFD_CMD_BASE;
export const IOMMUFD_CMD_IOAS_ALLOC = 0x81;
export const IOMMUFD_CMD_IOAS_ALLOW_IOVAS = 0x82;
export const IOMMUFD_CMD_IOAS_COPY = 0x83;
export const IOMMUFD_CMD_IOAS_IOVA_RANGES = 0x84;
export const IOMMUFD_CMD_IOAS_MAP = 0x85;
export const IOMMUFD_CMD_IOAS_UNMAP = 0x86;
export const IOMMUFD_CMD_OPTION = 0x87;
export const IOMMUFD_CMD_VFIO_IOAS = 0x88;
export const IOMMUFD_CMD_HWPT_ALLOC = 0x89;
export const IOMMUFD_CMD_GET_HW_INFO = 0x8a;
export const IOMMUFD_CMD_HWPT_SET_DIRTY_TRACKING = 0x8b;
export const IOMMUFD_CMD_HWPT_GET_DIRTY_BITMAP = 0x8c;
export const IOMMUFD_CMD_HWPT_INVALIDATE = 0x8d;
export const IOMMUFD_CMD_FAULT_QUEUE_ALLOC = 0x8e;
export const IOMMUFD_CMD_IOAS_MAP_FILE = 0x8f;
export const IOMMUFD_CMD_VIOMMU_ALLOC = 0x90;
export const IOMMUFD_CMD_VDEVICE_ALLOC = 0x91;
export const IOMMUFD_CMD_IOAS_CHANGE_PROCESS = 0x92;
export const IOMMUFD_CMD_VEVENTQ_ALLOC = 0x93;
export const IOMMUFD_CMD_HW_QUEUE_ALLOC = 0x94;

export const iommu_destroy = struct('iommu_destroy', { size: u32, id: u32 });
/** IOMMU_DESTROY — _IO(IOMMUFD_TYPE, IOMMUFD_CMD_DESTROY) */
export const IOMMU_DESTROY = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_DESTROY);

export const iommu_ioas_alloc = struct('iommu_ioas_alloc', { size: u32, flags: u32, out_ioas_id: u32 });
/** IOMMU_IOAS_ALLOC — _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_ALLOC) */
export const IOMMU_IOAS_ALLOC = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_ALLOC);

/** `last` is inclusive. */
export const iommu_iova_range = struct('iommu_iova_range', { start: aligned_u64, last: aligned_u64 });

export const iommu_ioas_iova_ranges = struct('iommu_ioas_iova_ranges', {
  size: u32,
  ioas_id: u32,
  num_iovas: u32,
  __reserved: u32,
  /** user pointer to `struct iommu_iova_range[num_iovas]` */
  allowed_iovas: aligned_u64,
  out_iova_alignment: aligned_u64,
});
/** IOMMU_IOAS_IOVA_RANGES — _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_IOVA_RANGES) */
export const IOMMU_IOAS_IOVA_RANGES = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_IOVA_RANGES);

export const iommu_ioas_allow_iovas = struct('iommu_ioas_allow_iovas', {
  size: u32,
  ioas_id: u32,
  num_iovas: u32,
  __reserved: u32,
  allowed_iovas: aligned_u64,
});
/** IOMMU_IOAS_ALLOW_IOVAS — _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_ALLOW_IOVAS) */
export const IOMMU_IOAS_ALLOW_IOVAS = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_ALLOW_IOVAS);

/* enum iommufd_ioas_map_flags */
export const IOMMU_IOAS_MAP_FIXED_IOVA = 1 << 0;
export const IOMMU_IOAS_MAP_WRITEABLE = 1 << 1;
export const IOMMU_IOAS_MAP_READABLE = 1 << 2;

export const iommu_ioas_map = struct('iommu_ioas_map', {
  size: u32,
  flags: u32,
  ioas_id: u32,
  __reserved: u32,
  user_va: aligned_u64,
  length: aligned_u64,
  iova: aligned_u64,
});
/** IOMMU_IOAS_MAP — _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_MAP) */
export const IOMMU_IOAS_MAP = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_MAP);

/** Same flags and semantics as iommu_ioas_map, from a memfd (`start` is the file offset). */
export const iommu_ioas_map_file = struct('iommu_ioas_map_file', {
  size: u32,
  flags: u32,
  ioas_id: u32,
  fd: s32,
  start: aligned_u64,
  length: aligned_u64,
  iova: aligned_u64,
});

export const iommu_ioas_copy = struct('iommu_ioas_copy', {
  size: u32,
  flags: u32,
  dst_ioas_id: u32,
  src_ioas_id: u32,
  length: aligned_u64,
  dst_iova: aligned_u64,
  src_iova: aligned_u64,
});
/** IOMMU_IOAS_COPY — _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_COPY) */
export const IOMMU_IOAS_COPY = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_COPY);

export const iommu_ioas_unmap = struct('iommu_ioas_unmap', {
  size: u32,
  ioas_id: u32,
  iova: aligned_u64,
  length: aligned_u64,
});
/** IOMMU_IOAS_UNMAP — _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_UNMAP) */
export const IOMMU_IOAS_UNMAP = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_UNMAP);

/* enum iommufd_option, enum iommufd_option_ops */
export const IOMMU_OPTION_RLIMIT_MODE = 0;
export const IOMMU_OPTION_HUGE_PAGES = 1;
export const IOMMU_OPTION_OP_SET = 0;
export const IOMMU_OPTION_OP_GET = 1;

export const iommu_option = struct('iommu_option', {
  size: u32,
  option_id: u32,
  op: u16,
  __reserved: u16,
  object_id: u32,
  val64: aligned_u64,
});
/** IOMMU_OPTION — _IO(IOMMUFD_TYPE, IOMMUFD_CMD_OPTION) */
export const IOMMU_OPTION = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_OPTION);

/* enum iommufd_vfio_ioas_op */
export const IOMMU_VFIO_IOAS_GET = 0;
export const IOMMU_VFIO_IOAS_SET = 1;
export const IOMMU_VFIO_IOAS_CLEAR = 2;

export const iommu_vfio_ioas = struct('iommu_vfio_ioas', { size: u32, ioas_id: u32, op: u16, __reserved: u16 });
/** IOMMU_VFIO_IOAS — _IO(IOMMUFD_TYPE, IOMMUFD_CMD_VFIO_IOAS) */
export const IOMMU_VFIO_IOAS = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_VFIO_IOAS);

/* enum iommufd_hwpt_alloc_flags */
export const IOMMU_HWPT_ALLOC_NEST_PARENT = 1 << 0;
export const IOMMU_HWPT_ALLOC_DIRTY_TRACKING = 1 << 1;
export const IOMMU_HWPT_FAULT_ID_VALID = 1 << 2;
export const IOMMU_HWPT_ALLOC_PASID = 1 << 3;

/* enum iommu_hwpt_data_type */
export const IOMMU_HWPT_DATA_NONE = 0;
export const IOMMU_HWPT_DATA_VTD_S1 = 1;
export const IOMMU_HWPT_DATA_ARM_SMMUV3 = 2;

/* enum iommu_hwpt_vtd_s1_flags */
export const IOMMU_VTD_S1_SRE = 1 << 0;
export const IOMMU_VTD_S1_EAFE = 1 << 1;
export const IOMMU_VTD_S1_WPE = 1 << 2;

/** IOMMU_HWPT_DATA_VTD_S1: the guest's stage-1 table for a nested HWPT. */
export const iommu_hwpt_vtd_s1 = struct('iommu_hwpt_vtd_s1', {
  flags: aligned_u64,
  pgtbl_addr: aligned_u64,
  addr_width: u32,
  __reserved: u32,
});

export const iommu_hwpt_alloc = struct('iommu_hwpt_alloc', {
  size: u32,
  flags: u32,
  dev_id: u32,
  pt_id: u32,
  out_hwpt_id: u32,
  __reserved: u32,
  data_type: u32,
  data_len: u32,
  data_uptr: aligned_u64,
  fault_id: u32,
  __reserved2: u32,
});
/** IOMMU_HWPT_ALLOC — _IO(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_ALLOC) */
export const IOMMU_HWPT_ALLOC = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_ALLOC);

/* enum iommu_hw_info_type */
export const IOMMU_HW_INFO_TYPE_NONE = 0;
export const IOMMU_HW_INFO_TYPE_DEFAULT = 0;
export const IOMMU_HW_INFO_TYPE_INTEL_VTD = 1;
export const IOMMU_HW_INFO_TYPE_ARM_SMMUV3 = 2;
export const IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV = 3;

/* enum iommufd_hw_capabilities, enum iommufd_hw_info_flags */
export const IOMMU_HW_CAP_DIRTY_TRACKING = 1 << 0;
export const IOMMU_HW_CAP_PCI_PASID_EXEC = 1 << 1;
export const IOMMU_HW_CAP_PCI_PASID_PRIV = 1 << 2;
export const IOMMU_HW_INFO_FLAG_INPUT_TYPE = 1 << 0;

/* enum iommu_hw_info_vtd_flags */
export const IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17 = 1 << 0;

/** IOMMU_HW_INFO_TYPE_INTEL_VTD data: the raw capability registers. */
export const iommu_hw_info_vtd = struct('iommu_hw_info_vtd', {
  flags: u32,
  __reserved: u32,
  cap_reg: aligned_u64,
  ecap_reg: aligned_u64,
});

export const iommu_hw_info = struct('iommu_hw_info', {
  size: u32,
  flags: u32,
  dev_id: u32,
  data_len: u32,
  data_uptr: aligned_u64,
  union: anonUnion({ in_data_type: u32, out_data_type: u32 }),
  out_max_pasid_log2: u8,
  __reserved: array(u8, 3),
  out_capabilities: aligned_u64,
});
/** IOMMU_GET_HW_INFO — _IO(IOMMUFD_TYPE, IOMMUFD_CMD_GET_HW_INFO) */
export const IOMMU_GET_HW_INFO = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_GET_HW_INFO);

/* enum iommufd_hwpt_set_dirty_tracking_flags */
export const IOMMU_HWPT_DIRTY_TRACKING_ENABLE = 1;

export const iommu_hwpt_set_dirty_tracking = struct('iommu_hwpt_set_dirty_tracking', {
  size: u32,
  flags: u32,
  hwpt_id: u32,
  __reserved: u32,
});
/** IOMMU_HWPT_SET_DIRTY_TRACKING — _IO(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_SET_DIRTY_TRACKING) */
export const IOMMU_HWPT_SET_DIRTY_TRACKING = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_SET_DIRTY_TRACKING);

/* enum iommufd_hwpt_get_dirty_bitmap_flags */
export const IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR = 1;

/** Bit n of `data` (u64 words, little-endian) is the page_size page at iova + n * page_size. */
export const iommu_hwpt_get_dirty_bitmap = struct('iommu_hwpt_get_dirty_bitmap', {
  size: u32,
  hwpt_id: u32,
  flags: u32,
  __reserved: u32,
  iova: aligned_u64,
  length: aligned_u64,
  page_size: aligned_u64,
  data: aligned_u64,
});
/** IOMMU_HWPT_GET_DIRTY_BITMAP — _IO(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_GET_DIRTY_BITMAP) */
export const IOMMU_HWPT_GET_DIRTY_BITMAP = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_GET_DIRTY_BITMAP);

/* enum iommu_hwpt_invalidate_data_type, enum iommu_hwpt_vtd_s1_invalidate_flags */
export const IOMMU_HWPT_INVALIDATE_DATA_VTD_S1 = 0;
export const IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3 = 1;
export const IOMMU_VTD_INV_FLAGS_LEAF = 1 << 0;

export const iommu_hwpt_vtd_s1_invalidate = struct('iommu_hwpt_vtd_s1_invalidate', {
  addr: aligned_u64,
  npages: aligned_u64,
  flags: u32,
  __reserved: u32,
});

/** `entry_num` is in/out: on return, how many entries were handled. */
export const iommu_hwpt_invalidate = struct('iommu_hwpt_invalidate', {
  size: u32,
  hwpt_id: u32,
  data_uptr: aligned_u64,
  data_type: u32,
  entry_len: u32,
  entry_num: u32,
  __reserved: u32,
});
/** IOMMU_HWPT_INVALIDATE — _IO(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_INVALIDATE) */
export const IOMMU_HWPT_INVALIDATE = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_INVALIDATE);

/* enum iommu_hwpt_pgfault_flags, enum iommu_hwpt_pgfault_perm */
export const IOMMU_PGFAULT_FLAGS_PASID_VALID = 1 << 0;
export const IOMMU_PGFAULT_FLAGS_LAST_PAGE = 1 << 1;
export const IOMMU_PGFAULT_PERM_READ = 1 << 0;
export const IOMMU_PGFAULT_PERM_WRITE = 1 << 1;
export const IOMMU_PGFAULT_PERM_EXEC = 1 << 2;
export const IOMMU_PGFAULT_PERM_PRIV = 1 << 3;

/** One record read(2) from a fault queue fd. */
export const iommu_hwpt_pgfault = struct('iommu_hwpt_pgfault', {
  flags: u32,
  dev_id: u32,
  pasid: u32,
  grpid: u32,
  perm: u32,
  __reserved: u32,
  addr: aligned_u64,
  length: u32,
  cookie: u32,
});

/* enum iommufd_page_response_code */
export const IOMMUFD_PAGE_RESP_SUCCESS = 0;
export const IOMMUFD_PAGE_RESP_INVALID = 1;

/** One response write(2) to a fault queue fd. */
export const iommu_hwpt_page_response = struct('iommu_hwpt_page_response', { cookie: u32, code: u32 });

export const iommu_fault_alloc = struct('iommu_fault_alloc', {
  size: u32,
  flags: u32,
  out_fault_id: u32,
  out_fault_fd: u32,
});
/** IOMMU_FAULT_QUEUE_ALLOC — _IO(IOMMUFD_TYPE, IOMMUFD_CMD_FAULT_QUEUE_ALLOC) */
export const IOMMU_FAULT_QUEUE_ALLOC = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_FAULT_QUEUE_ALLOC);
/** IOMMU_IOAS_MAP_FILE — _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_MAP_FILE) */
export const IOMMU_IOAS_MAP_FILE = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_MAP_FILE);

/* Numbers of commands without a layout here, so dispatchers can name and refuse them. */
export const IOMMU_VIOMMU_ALLOC = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_VIOMMU_ALLOC);
export const IOMMU_VDEVICE_ALLOC = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_VDEVICE_ALLOC);
export const IOMMU_IOAS_CHANGE_PROCESS = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_CHANGE_PROCESS);
export const IOMMU_VEVENTQ_ALLOC = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_VEVENTQ_ALLOC);
export const IOMMU_HW_QUEUE_ALLOC = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_HW_QUEUE_ALLOC);

/** Every iommufd request number by name, for ioctlName(). */
export const IOMMUFD_IOCTL_NAMES: Readonly<Record<string, number>> = Object.freeze({
  IOMMU_DESTROY,
  IOMMU_IOAS_ALLOC,
  IOMMU_IOAS_ALLOW_IOVAS,
  IOMMU_IOAS_COPY,
  IOMMU_IOAS_IOVA_RANGES,
  IOMMU_IOAS_MAP,
  IOMMU_IOAS_UNMAP,
  IOMMU_OPTION,
  IOMMU_VFIO_IOAS,
  IOMMU_HWPT_ALLOC,
  IOMMU_GET_HW_INFO,
  IOMMU_HWPT_SET_DIRTY_TRACKING,
  IOMMU_HWPT_GET_DIRTY_BITMAP,
  IOMMU_HWPT_INVALIDATE,
  IOMMU_FAULT_QUEUE_ALLOC,
  IOMMU_IOAS_MAP_FILE,
  IOMMU_VIOMMU_ALLOC,
  IOMMU_VDEVICE_ALLOC,
  IOMMU_IOAS_CHANGE_PROCESS,
  IOMMU_VEVENTQ_ALLOC,
  IOMMU_HW_QUEUE_ALLOC,
});
