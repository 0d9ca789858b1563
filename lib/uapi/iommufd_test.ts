// SPDX-License-Identifier: GPL-2.0-only
/**
 * drivers/iommu/iommufd/iommufd_test.h — the uapi of IOMMU_TEST_CMD (CONFIG_IOMMUFD_TEST), which
 * tools/testing/selftests/iommu builds against: the test ops, struct iommu_test_cmd and the mock
 * driver's data types. Declared as the 6.12 tree has it; sizes pinned by lib/uapi/iommufd.test.ts
 * against lib/uapi/c/iommufd_layout.c -DSELFTEST.
 */
import { aligned_u64, anonUnion, struct, u32, u64 } from '../abi';
import { _IO } from './ioctl';
import { IOMMUFD_CMD_BASE, IOMMUFD_TYPE } from './iommufd';

/* enum: IOMMU_TEST_OP_* */
export const IOMMU_TEST_OP_ADD_RESERVED = 1;
export const IOMMU_TEST_OP_MOCK_DOMAIN = 2;
export const IOMMU_TEST_OP_MD_CHECK_MAP = 3;
export const IOMMU_TEST_OP_MD_CHECK_REFS = 4;
export const IOMMU_TEST_OP_CREATE_ACCESS = 5;
export const IOMMU_TEST_OP_DESTROY_ACCESS_PAGES = 6;
export const IOMMU_TEST_OP_ACCESS_PAGES = 7;
export const IOMMU_TEST_OP_ACCESS_RW = 8;
export const IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT = 9;
export const IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE = 10;
export const IOMMU_TEST_OP_ACCESS_REPLACE_IOAS = 11;
export const IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS = 12;
export const IOMMU_TEST_OP_DIRTY = 13;
export const IOMMU_TEST_OP_MD_CHECK_IOTLB = 14;
export const IOMMU_TEST_OP_TRIGGER_IOPF = 15;

export const MOCK_APERTURE_START = 1n << 24n;
export const MOCK_APERTURE_LAST = (1n << 31n) - 1n;

export const MOCK_FLAGS_ACCESS_WRITE = 1 << 0;
export const MOCK_FLAGS_ACCESS_SYZ = 1 << 16;
export const MOCK_ACCESS_RW_WRITE = 1 << 0;
export const MOCK_ACCESS_RW_SLOW_PATH = 1 << 2;
export const MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES = 1 << 0;
export const MOCK_FLAGS_DEVICE_NO_DIRTY = 1 << 0;
export const MOCK_FLAGS_DEVICE_HUGE_IOVA = 1 << 1;
export const MOCK_NESTED_DOMAIN_IOTLB_ID_MAX = 3;
export const MOCK_NESTED_DOMAIN_IOTLB_NUM = 4;

export const iommu_test_cmd = struct('iommu_test_cmd', {
  size: u32,
  op: u32,
  id: u32,
  __reserved: u32,
  union: anonUnion({
    add_reserved: struct('add_reserved', { start: aligned_u64, length: aligned_u64 }),
    mock_domain: struct('mock_domain', { out_stdev_id: u32, out_hwpt_id: u32, out_idev_id: u32 }),
    mock_domain_flags: struct('mock_domain_flags', { out_stdev_id: u32, out_hwpt_id: u32, out_idev_id: u32, dev_flags: u32 }),
    mock_domain_replace: struct('mock_domain_replace', { pt_id: u32 }),
    check_map: struct('check_map', { iova: aligned_u64, length: aligned_u64, uptr: aligned_u64 }),
    check_refs: struct('check_refs', { length: aligned_u64, uptr: aligned_u64, refs: u32 }),
    create_access: struct('create_access', { out_access_fd: u32, flags: u32 }),
    destroy_access_pages: struct('destroy_access_pages', { access_pages_id: u32 }),
    access_pages: struct('access_pages', { flags: u32, out_access_pages_id: u32, iova: aligned_u64, length: aligned_u64, uptr: aligned_u64 }),
    access_rw: struct('access_rw', { iova: aligned_u64, length: aligned_u64, uptr: aligned_u64, flags: u32 }),
    memory_limit: struct('memory_limit', { limit: u32 }),
    access_replace_ioas: struct('access_replace_ioas', { ioas_id: u32 }),
    dirty: struct('dirty', { flags: u32, iova: aligned_u64, length: aligned_u64, page_size: aligned_u64, uptr: aligned_u64, out_nr_dirty: aligned_u64 }),
    check_iotlb: struct('check_iotlb', { id: u32, iotlb: u32 }),
    trigger_iopf: struct('trigger_iopf', { dev_id: u32, pasid: u32, grpid: u32, perm: u32, addr: u64 }),
  }),
  last: u32,
});
/** IOMMU_TEST_CMD — _IO(IOMMUFD_TYPE, IOMMUFD_CMD_BASE + 32) */
export const IOMMU_TEST_CMD = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_BASE + 32);

/** IOMMU_GET_HW_INFO data of mock devices. */
export const IOMMU_HW_INFO_TYPE_SELFTEST = 0xfeedbeef;
export const IOMMU_HW_INFO_SELFTEST_REGVAL = 0xdeadbeef;
export const iommu_test_hw_info = struct('iommu_test_hw_info', { flags: u32, test_reg: u32 });

/** IOMMU_HWPT_ALLOC data type of mock nested domains. */
export const IOMMU_HWPT_DATA_SELFTEST = 0xdead;
export const IOMMU_TEST_IOTLB_DEFAULT = 0xbadbeef;
export const iommu_hwpt_selftest = struct('iommu_hwpt_selftest', { iotlb: u32 });

/** IOMMU_HWPT_INVALIDATE data types of mock nested domains. */
export const IOMMU_HWPT_INVALIDATE_DATA_SELFTEST = 0xdeadbeef;
export const IOMMU_HWPT_INVALIDATE_DATA_SELFTEST_INVALID = 0xdadbeef;
export const IOMMU_TEST_INVALIDATE_FLAG_ALL = 1 << 0;
export const iommu_hwpt_invalidate_selftest = struct('iommu_hwpt_invalidate_selftest', { flags: u32, iotlb_id: u32 });
