// SPDX-License-Identifier: GPL-2.0-only
import test from 'ava';
import { LayoutCase, testLayouts } from '../testing/layout_cases';
import { encode, iommufdCmdFromUser, structPrefix } from '../abi';
import { UserMemory } from '../mm/mm';
import { _IOC_NR, _IOC_SIZE, _IOC_TYPE, ioctlName } from './ioctl';
import * as I from './iommufd';
import * as T from './iommufd_test';


/*
 * Expected numbers: gcc 12.2 x86_64 output of lib/uapi/c/iommufd_layout.c against the 6.12 tree's
 * own include/uapi/linux/iommufd.h (Debian linux-source-6.12 6.12.117-1~deb12u1; Debian 12's
 * linux-libc-dev is 6.1 and has no iommufd.h), and, for the members newer than 6.12
 * (iommu_hw_info's in_data_type union), the upstream header at torvalds/linux b4d90dbc4c1b.
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
  {
    layout: I.iommu_ioas_map_file,
    size: 40,
    fields: {
      size: [0, 4],
      flags: [4, 8],
      ioas_id: [8, 12],
      fd: [12, 16],
      start: [16, 24],
      length: [24, 32],
      iova: [32, 40],
    },
    last: ['iova', 40],
  },
  {
    layout: I.iommu_hwpt_vtd_s1,
    size: 24,
    fields: { flags: [0, 8], pgtbl_addr: [8, 16], addr_width: [16, 20], __reserved: [20, 24] },
  },
  {
    layout: I.iommu_hw_info_vtd,
    size: 24,
    fields: { flags: [0, 4], __reserved: [4, 8], cap_reg: [8, 16], ecap_reg: [16, 24] },
  },
  {
    layout: I.iommu_hwpt_set_dirty_tracking,
    size: 16,
    fields: { size: [0, 4], flags: [4, 8], hwpt_id: [8, 12], __reserved: [12, 16] },
    last: ['__reserved', 16],
  },
  {
    layout: I.iommu_hwpt_get_dirty_bitmap,
    size: 48,
    fields: {
      size: [0, 4],
      hwpt_id: [4, 8],
      flags: [8, 12],
      __reserved: [12, 16],
      iova: [16, 24],
      length: [24, 32],
      page_size: [32, 40],
      data: [40, 48],
    },
    last: ['data', 48],
  },
  {
    layout: I.iommu_hwpt_vtd_s1_invalidate,
    size: 24,
    fields: { addr: [0, 8], npages: [8, 16], flags: [16, 20], __reserved: [20, 24] },
  },
  {
    layout: I.iommu_hwpt_invalidate,
    size: 32,
    fields: {
      size: [0, 4],
      hwpt_id: [4, 8],
      data_uptr: [8, 16],
      data_type: [16, 20],
      entry_len: [20, 24],
      entry_num: [24, 28],
      __reserved: [28, 32],
    },
    last: ['__reserved', 32],
  },
  {
    layout: I.iommu_hwpt_pgfault,
    size: 40,
    fields: {
      flags: [0, 4],
      dev_id: [4, 8],
      pasid: [8, 12],
      grpid: [12, 16],
      perm: [16, 20],
      __reserved: [20, 24],
      addr: [24, 32],
      length: [32, 36],
      cookie: [36, 40],
    },
  },
  { layout: I.iommu_hwpt_page_response, size: 8, fields: { cookie: [0, 4], code: [4, 8] } },
  {
    layout: I.iommu_fault_alloc,
    size: 16,
    fields: { size: [0, 4], flags: [4, 8], out_fault_id: [8, 12], out_fault_fd: [12, 16] },
    last: ['out_fault_fd', 16],
  },
];

testLayouts(test, layouts);

/*
 * Older shapes of the structs that grew. 6.7: the iommu_hwpt_alloc and iommu_hw_info of the
 * upstream header at torvalds/linux 03476e687eb0 (its command enum ends at
 * HWPT_GET_DIRTY_BITMAP), transcribed into iommufd_layout.c -DSHAPE_6_7 (40 and 40 bytes,
 * data_uptr ending at 40, hw_info's __u32 __reserved at 28..32). 6.6: the struct ended where the
 * kernel's op table still puts min_size (IOCTL_OP(..., __reserved) for both in 6.12 main.c),
 * i.e. 24 bytes of __u32 and 32 bytes up to __reserved.
 */
const shapes: [string, number, number][] = [
  ['iommu_hwpt_alloc ending at __reserved (6.6)', structPrefix(I.iommu_hwpt_alloc, '__reserved').size, 24],
  ['iommu_hwpt_alloc ending at data_uptr (6.7)', structPrefix(I.iommu_hwpt_alloc, 'data_uptr').size, 40],
  ['iommu_hwpt_alloc ending at __reserved2 (6.11)', structPrefix(I.iommu_hwpt_alloc, '__reserved2').size, 48],
  ['iommu_hw_info ending at __reserved (6.6)', structPrefix(I.iommu_hw_info, '__reserved').size, 32],
  ['iommu_hw_info ending at out_capabilities (6.7)', structPrefix(I.iommu_hw_info, 'out_capabilities').size, 40],
  ['6.6 iommu_hwpt_alloc aligns to 4 (no u64 yet)', structPrefix(I.iommu_hwpt_alloc, '__reserved').align, 4],
];

test('older shapes of grown structs have the size their header gave them', (t) => {
  for (const [what, got, want] of shapes) t.is(got, want, what);
  t.is(structPrefix(I.iommu_hw_info, 'out_capabilities'), I.iommu_hw_info, 'the newest shape is the layout itself');
  t.deepEqual(
    structPrefix(I.iommu_hw_info, 'in_data_type').members.map((m) => m.name),
    ['size', 'flags', 'dev_id', 'data_len', 'data_uptr', 'in_data_type', 'out_data_type'],
    'a union member keeps the whole union',
  );
});

test('a command copied for an older kernel: its struct is E2BIG past the old end, newer members read 0', (t) => {
  const mem = new UserMemory();
  // A 6.11+ program sets fault_id; a 6.7 kernel's struct ends at data_uptr (40 bytes).
  const cmd = encode(I.iommu_hwpt_alloc, { size: 48, dev_id: 1, fault_id: 3 });
  const p = mem.alloc(cmd);
  const k67 = structPrefix(I.iommu_hwpt_alloc, 'data_uptr').size;
  const err = t.throws(() => iommufdCmdFromUser(mem, I.iommu_hwpt_alloc, p, 48, '__reserved', k67));
  t.is((err as { code?: string }).code, 'E2BIG');
  const zeroTail = mem.alloc(encode(I.iommu_hwpt_alloc, { size: 48, dev_id: 1 }));
  const v = iommufdCmdFromUser(mem, I.iommu_hwpt_alloc, zeroTail, 48, '__reserved', k67);
  t.is(v.dev_id, 1);
  t.is(v.fault_id, 0);
  // A 6.6 program's 24-byte struct on a 6.12 kernel: zero-extended.
  const old = mem.alloc(encode(I.iommu_hwpt_alloc, { size: 24, pt_id: 7 }).subarray(0, 24));
  t.is(iommufdCmdFromUser(mem, I.iommu_hwpt_alloc, old, 24, '__reserved').pt_id, 7);
});

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

test('flag and op constants (6.12 header)', (t) => {
  t.deepEqual([I.IOMMU_HWPT_DIRTY_TRACKING_ENABLE, I.IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR], [1, 1]);
  t.deepEqual([I.IOMMU_PGFAULT_FLAGS_PASID_VALID, I.IOMMU_PGFAULT_FLAGS_LAST_PAGE], [1, 2]);
  t.deepEqual([I.IOMMU_PGFAULT_PERM_READ, I.IOMMU_PGFAULT_PERM_WRITE, I.IOMMU_PGFAULT_PERM_EXEC, I.IOMMU_PGFAULT_PERM_PRIV], [1, 2, 4, 8]);
  t.deepEqual([I.IOMMUFD_PAGE_RESP_SUCCESS, I.IOMMUFD_PAGE_RESP_INVALID], [0, 1]);
  t.deepEqual([I.IOMMU_HWPT_ALLOC_NEST_PARENT, I.IOMMU_HWPT_ALLOC_DIRTY_TRACKING], [1, 2]);
  t.is(I.IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, 0);
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

/* The selftest uapi: gcc 12.2 output of lib/uapi/c/iommufd_layout.c -DSELFTEST against the 6.12 tree's iommufd_test.h. */
testLayouts(test, [
  {
    layout: T.iommu_test_cmd,
    size: 72,
    fields: {
      size: [0, 4],
      op: [4, 8],
      id: [8, 12],
      __reserved: [12, 16],
      add_reserved: [16, 32],
      mock_domain: [16, 28],
      mock_domain_flags: [16, 32],
      mock_domain_replace: [16, 20],
      check_map: [16, 40],
      check_refs: [16, 40],
      create_access: [16, 24],
      destroy_access_pages: [16, 20],
      access_pages: [16, 48],
      access_rw: [16, 48],
      memory_limit: [16, 20],
      access_replace_ioas: [16, 20],
      dirty: [16, 64],
      check_iotlb: [16, 24],
      trigger_iopf: [16, 40],
      last: [64, 68],
    },
    last: ['last', 68],
  },
  { layout: T.iommu_test_hw_info, size: 8, fields: { flags: [0, 4], test_reg: [4, 8] } },
  { layout: T.iommu_hwpt_selftest, size: 4, fields: { iotlb: [0, 4] } },
  { layout: T.iommu_hwpt_invalidate_selftest, size: 8, fields: { flags: [0, 4], iotlb_id: [4, 8] } },
]);

test('selftest union members sit where the C header puts them', (t) => {
  const at = (u: string, f: string) => {
    const m = T.iommu_test_cmd.members.find((x) => x.name === u)!;
    const s = m.type as typeof T.iommu_test_cmd;
    const inner = s.members.find((x) => x.name === f)!;
    return [m.offset + inner.offset, m.offset + inner.offset + inner.type.size];
  };
  t.deepEqual(at('add_reserved', 'length'), [24, 32]);
  t.deepEqual(at('mock_domain_flags', 'dev_flags'), [28, 32]);
  t.deepEqual(at('check_refs', 'refs'), [32, 36]);
  t.deepEqual(at('access_pages', 'uptr'), [40, 48]);
  t.deepEqual(at('access_rw', 'flags'), [40, 44]);
  t.deepEqual(at('dirty', 'iova'), [24, 32]);
  t.deepEqual(at('dirty', 'out_nr_dirty'), [56, 64]);
  t.deepEqual(at('check_iotlb', 'iotlb'), [20, 24]);
  t.deepEqual(at('trigger_iopf', 'addr'), [32, 40]);
  t.is(T.IOMMU_TEST_CMD, 0x3ba0);
});
