// SPDX-License-Identifier: GPL-2.0-only
import test from 'ava';
import { LayoutCase, testLayouts } from '../testing/layout_cases';
import { StructLayout, encode, iommufdCmdFromUser, offsetof, offsetofend, sizeof } from '../abi';
import { UserMemory } from '../mm/mm';
import { _IOC_NR, _IOC_SIZE, _IOC_TYPE, ioctlName } from './ioctl';
import * as I from './iommufd';


/*
 * No iommufd.h on the build host: these are the reference's values (vfio-iommufd-abi.md §4.1,
 * "checked by compiling a transcription with gcc on x86_64"). iommu_hwpt_alloc and iommu_hw_info
 * are not in that table; their numbers follow from the current upstream header's member list
 * (all __u32 before an __aligned_u64 at 32/16; hwpt_alloc ends with fault_id and __reserved2,
 * hw_info has the in/out_data_type union, a __u8 and __u8[3]) under natural alignment.
 */
const layouts: LayoutCase[] = [
  { layout: I.iommu_destroy, size: 8, fields: { size: [0, 4], id: [4, 8] }, last: ['id', 8] },
  {
    layout: I.iommu_ioas_alloc,
    size: 12,
    fields: { size: [0, 4], flags: [4, 8], out_ioas_id: [8, 12] },
    last: ['out_ioas_id', 12],
  },
  { layout: I.iommu_iova_range, size: 16, fields: { start: [0, 8], last: [8, 16] } },
  {
    layout: I.iommu_ioas_iova_ranges,
    size: 32,
    fields: {
      size: [0, 4],
      ioas_id: [4, 8],
      num_iovas: [8, 12],
      __reserved: [12, 16],
      allowed_iovas: [16, 24],
      out_iova_alignment: [24, 32],
    },
    last: ['out_iova_alignment', 32],
  },
  {
    layout: I.iommu_ioas_allow_iovas,
    size: 24,
    fields: { size: [0, 4], ioas_id: [4, 8], num_iovas: [8, 12], __reserved: [12, 16], allowed_iovas: [16, 24] },
    last: ['allowed_iovas', 24],
  },
  {
    layout: I.iommu_ioas_map,
    size: 40,
    fields: {
      size: [0, 4],
      flags: [4, 8],
      ioas_id: [8, 12],
      __reserved: [12, 16],
      user_va: [16, 24],
      length: [24, 32],
      iova: [32, 40],
    },
    last: ['iova', 40],
  },
  {
    layout: I.iommu_ioas_copy,
    size: 40,
    fields: {
      size: [0, 4],
      flags: [4, 8],
      dst_ioas_id: [8, 12],
      src_ioas_id: [12, 16],
      length: [16, 24],
      dst_iova: [24, 32],
      src_iova: [32, 40],
    },
    last: ['src_iova', 40],
  },
  {
    layout: I.iommu_ioas_unmap,
    size: 24,
    fields: { size: [0, 4], ioas_id: [4, 8], iova: [8, 16], length: [16, 24] },
    last: ['length', 24],
  },
  {
    layout: I.iommu_option,
    size: 24,
    fields: {
      size: [0, 4],
      option_id: [4, 8],
      op: [8, 10],
      __reserved: [10, 12],
      object_id: [12, 16],
      val64: [16, 24],
    },
    last: ['val64', 24],
  },
  {
    layout: I.iommu_vfio_ioas,
    size: 12,
    fields: { size: [0, 4], ioas_id: [4, 8], op: [8, 10], __reserved: [10, 12] },
    last: ['__reserved', 12],
  },
  {
    layout: I.iommu_hwpt_alloc,
    size: 48,
    fields: {
      size: [0, 4],
      flags: [4, 8],
      dev_id: [8, 12],
      pt_id: [12, 16],
      out_hwpt_id: [16, 20],
      __reserved: [20, 24],
      data_type: [24, 28],
      data_len: [28, 32],
      data_uptr: [32, 40],
      fault_id: [40, 44],
      __reserved2: [44, 48],
    },
  },
  {
    layout: I.iommu_hw_info,
    size: 40,
    fields: {
      size: [0, 4],
      flags: [4, 8],
      dev_id: [8, 12],
      data_len: [12, 16],
      data_uptr: [16, 24],
      in_data_type: [24, 28],
      out_data_type: [24, 28],
      out_max_pasid_log2: [28, 29],
      __reserved: [29, 32],
      out_capabilities: [32, 40],
    },
  },
];

testLayouts(test, layouts);

const ioctls: Record<string, number> = {
  IOMMU_DESTROY: 0x3b80,
  IOMMU_IOAS_ALLOC: 0x3b81,
  IOMMU_IOAS_ALLOW_IOVAS: 0x3b82,
  IOMMU_IOAS_COPY: 0x3b83,
  IOMMU_IOAS_IOVA_RANGES: 0x3b84,
  IOMMU_IOAS_MAP: 0x3b85,
  IOMMU_IOAS_UNMAP: 0x3b86,
  IOMMU_OPTION: 0x3b87,
  IOMMU_VFIO_IOAS: 0x3b88,
  IOMMU_HWPT_ALLOC: 0x3b89,
  IOMMU_GET_HW_INFO: 0x3b8a,
  IOMMU_HWPT_SET_DIRTY_TRACKING: 0x3b8b,
  IOMMU_HWPT_GET_DIRTY_BITMAP: 0x3b8c,
  IOMMU_HWPT_INVALIDATE: 0x3b8d,
  IOMMU_FAULT_QUEUE_ALLOC: 0x3b8e,
  IOMMU_IOAS_MAP_FILE: 0x3b8f,
  IOMMU_VIOMMU_ALLOC: 0x3b90,
  IOMMU_VDEVICE_ALLOC: 0x3b91,
  IOMMU_IOAS_CHANGE_PROCESS: 0x3b92,
  IOMMU_VEVENTQ_ALLOC: 0x3b93,
  IOMMU_HW_QUEUE_ALLOC: 0x3b94,
};

test('every iommufd ioctl number (reference §4.1 table)', (t) => {
  const exported = I as unknown as Record<string, number>;
  for (const [name, value] of Object.entries(ioctls)) {
    t.is(exported[name], value, name);
    t.is(_IOC_SIZE(value), 0, `${name} encodes no size`);
    t.is(_IOC_TYPE(value), I.IOMMUFD_TYPE);
  }
  t.deepEqual({ ...I.IOMMUFD_IOCTL_NAMES }, ioctls);
  t.is(_IOC_NR(I.IOMMU_DESTROY), I.IOMMUFD_CMD_BASE);
  t.is(ioctlName(0x3b84, I.IOMMUFD_IOCTL_NAMES), 'IOMMU_IOAS_IOVA_RANGES (0x3b84)');
});

test('flag and op constants', (t) => {
  t.deepEqual([I.IOMMU_IOAS_MAP_FIXED_IOVA, I.IOMMU_IOAS_MAP_WRITEABLE, I.IOMMU_IOAS_MAP_READABLE], [1, 2, 4]);
  t.deepEqual([I.IOMMU_OPTION_RLIMIT_MODE, I.IOMMU_OPTION_HUGE_PAGES], [0, 1]);
  t.deepEqual([I.IOMMU_OPTION_OP_SET, I.IOMMU_OPTION_OP_GET], [0, 1]);
  t.deepEqual([I.IOMMU_VFIO_IOAS_GET, I.IOMMU_VFIO_IOAS_SET, I.IOMMU_VFIO_IOAS_CLEAR], [0, 1, 2]);
  t.is(I.IOMMU_HWPT_FAULT_ID_VALID, 4);
});

test('an older, shorter iommu_hw_info is zero-extended; a newer one with data past it is E2BIG', (t) => {
  const mem = new UserMemory();
  const v6_6 = encode(I.iommu_hw_info, { size: 32, dev_id: 2, out_capabilities: 5n }).subarray(0, 32);
  const p = mem.alloc(v6_6);
  const cmd = iommufdCmdFromUser(mem, I.iommu_hw_info, p, 32, 'data_uptr');
  t.is(cmd.dev_id, 2);
  t.is(cmd.out_capabilities, 0n);
  const newer = mem.alloc(Uint8Array.from([...encode(I.iommu_hw_info, { size: 48 }), 0, 0, 0, 0, 0, 0, 0, 1]));
  const err = t.throws(() => iommufdCmdFromUser(mem, I.iommu_hw_info, newer, 48, 'data_uptr'));
  t.is((err as { code?: string }).code, 'E2BIG');
});
