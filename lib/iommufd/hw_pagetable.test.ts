// SPDX-License-Identifier: GPL-2.0-only
/**
 * HWPT_ALLOC, GET_HW_INFO, dirty tracking and HWPT_INVALIDATE: errno tables in the kernel's
 * order of checks (hw_pagetable.c, device.c), against the selftest's mock devices.
 */
import test from 'ava';
import { Input, decode, encode } from '../abi';
import type { Errno } from '../errno';
import * as I from '../uapi/iommufd';
import * as T from '../uapi/iommufd_test';
import { IommufdFd, PAGE, RW, selftestMachine } from '../testing/iommufd';

const HWPT = I.IOMMU_HWPT_ALLOC;
const NEST = I.IOMMU_HWPT_ALLOC_NEST_PARENT;
const DIRTY = I.IOMMU_HWPT_ALLOC_DIRTY_TRACKING;

function setup(devFlags?: number) {
  const m = selftestMachine();
  const fd = IommufdFd.open(m);
  const ioas = fd.ioasAlloc();
  const md = fd.mockDomain(ioas, devFlags);
  const alloc = (v: Input<typeof I.iommu_hwpt_alloc>, size = I.iommu_hwpt_alloc.size) => fd.io(HWPT, I.iommu_hwpt_alloc, { dev_id: md.idev, pt_id: ioas, ...v }, size);
  const selftestData = (iotlb: number, len = 4) => ({ data_type: T.IOMMU_HWPT_DATA_SELFTEST, data_len: len, data_uptr: fd.alloc(encode(T.iommu_hwpt_selftest, { iotlb })) });
  return { m, fd, ioas, md, alloc, selftestData };
}

test('HWPT_ALLOC errno table (paging), in the kernel order', (t) => {
  const s = setup();
  const parent = s.alloc({ flags: NEST });
  t.is(parent.rc, 0);
  const fault = s.fd.io(I.IOMMU_FAULT_QUEUE_ALLOC, I.iommu_fault_alloc, {}).out.out_fault_id;
  const cases: [string, Input<typeof I.iommu_hwpt_alloc>, Errno][] = [
    ['__reserved', { __reserved: 1, dev_id: 99 }, 'EOPNOTSUPP'],
    ['data_len without a type', { data_len: 4, dev_id: 99 }, 'EINVAL'],
    ['a type without data_len', { data_type: T.IOMMU_HWPT_DATA_SELFTEST, dev_id: 99 }, 'EINVAL'],
    ['no such device', { dev_id: 99 }, 'ENOENT'],
    ['dev_id names an IOAS', { dev_id: s.ioas }, 'ENOENT'],
    ['no such pt', { pt_id: 99 }, 'EINVAL'],
    ['pt_id is the device', { pt_id: s.md.idev }, 'EINVAL'],
    ['unknown flag', { flags: 1 << 7 }, 'EOPNOTSUPP'],
    ['FAULT_ID_VALID on a paging HWPT (6.12: nested only)', { flags: I.IOMMU_HWPT_FAULT_ID_VALID, fault_id: fault }, 'EOPNOTSUPP'],
    ['driver data for a paging HWPT', { ...s.selftestData(1) }, 'EOPNOTSUPP'],
  ];
  for (const [what, v, want] of cases) t.is(s.alloc(v).rc, want, what);
  const before = s.fd.ictx.objects.size;
  t.is(s.alloc({ flags: DIRTY }).rc, 0, 'the mock device tracks dirty pages');
  t.is(s.fd.ictx.objects.size, before + 1);
  t.is(s.alloc({}, 24).rc, 0, 'the 6.6 struct (24 bytes) is enough');
});

test('HWPT_ALLOC nested: a manual NEST_PARENT parent of the same driver, selftest data, its IOTLB filled', (t) => {
  const s = setup();
  const auto = s.md.hwpt;
  const plain = s.alloc({}).out.out_hwpt_id;
  const parent = s.alloc({ flags: NEST }).out.out_hwpt_id;
  const nested = (pt: number, v: Input<typeof I.iommu_hwpt_alloc> = {}) => s.alloc({ pt_id: pt, ...s.selftestData(T.IOMMU_TEST_IOTLB_DEFAULT), ...v }).rc;
  t.is(nested(auto), 'EINVAL', 'an automatic HWPT cannot be a parent');
  t.is(nested(plain), 'EINVAL', 'not allocated NEST_PARENT');
  t.is(nested(parent, { flags: NEST }), 'EOPNOTSUPP', 'only FAULT_ID_VALID');
  t.is(nested(parent, { data_type: 0xbeef }), 'EOPNOTSUPP', 'a data type the driver does not know');
  t.is(nested(parent, { data_len: 8 }), 'EINVAL', 'data longer than the driver struct');
  const ok = s.alloc({ pt_id: parent, ...s.selftestData(T.IOMMU_TEST_IOTLB_DEFAULT) });
  t.is(ok.rc, 0);
  const id = ok.out.out_hwpt_id;
  const iotlb = (i: number, v: number) => s.fd.test(T.IOMMU_TEST_OP_MD_CHECK_IOTLB, id, { check_iotlb: { id: i, iotlb: v } }).rc;
  t.deepEqual([0, 1, 2, 3].map((i) => iotlb(i, T.IOMMU_TEST_IOTLB_DEFAULT)), [0, 0, 0, 0]);
  t.is(iotlb(4, T.IOMMU_TEST_IOTLB_DEFAULT), 'EINVAL');
  t.is(s.fd.destroy(parent), 'EBUSY', 'the nested HWPT holds its parent');
  t.is(s.fd.test(T.IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, s.md.stdev, { mock_domain_replace: { pt_id: id } }).rc, 0, 'a device attaches to the nested HWPT');
  t.is(s.fd.destroy(id), 'EBUSY');
  t.is(s.fd.test(T.IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, s.md.stdev, { mock_domain_replace: { pt_id: parent } }).rc, 0);
  t.is(s.fd.destroy(id), 0);
  t.is(s.fd.destroy(parent), 'EBUSY', 'the device is on it now');
});

test('HWPT_INVALIDATE: checks, then the driver handles entries until one fails; entry_num written back every time', (t) => {
  const s = setup();
  const parent = s.alloc({ flags: NEST }).out.out_hwpt_id;
  const nested = s.alloc({ pt_id: parent, ...s.selftestData(T.IOMMU_TEST_IOTLB_DEFAULT) }).out.out_hwpt_id;
  const entries = (...e: [number, number][]) => {
    const b = new Uint8Array(8 * Math.max(e.length, 1));
    e.forEach(([flags, id], i) => encode(T.iommu_hwpt_invalidate_selftest, { flags, iotlb_id: id }, b, 8 * i));
    return s.fd.alloc(b);
  };
  const inv = (v: Input<typeof I.iommu_hwpt_invalidate>) => {
    const r = s.fd.io(I.IOMMU_HWPT_INVALIDATE, I.iommu_hwpt_invalidate, { hwpt_id: nested, data_type: T.IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, entry_len: 8, ...v });
    return [r.rc, r.out.entry_num];
  };
  const iotlb = (i: number) => [0, T.IOMMU_TEST_IOTLB_DEFAULT].find((v) => s.fd.test(T.IOMMU_TEST_OP_MD_CHECK_IOTLB, nested, { check_iotlb: { id: i, iotlb: v } }).rc === 0);
  t.deepEqual(inv({ __reserved: 1, entry_num: 1 }), ['EOPNOTSUPP', 0]);
  t.deepEqual(inv({ entry_num: 1, data_uptr: 0n }), ['EINVAL', 0], 'entries without a pointer');
  t.deepEqual(inv({ entry_num: 1, data_uptr: entries([0, 0]), entry_len: 0 }), ['EINVAL', 0]);
  t.deepEqual(inv({ entry_num: 1, data_uptr: entries([0, 0]), entry_len: 4097 }), ['EINVAL', 0], 'longer than a page');
  t.deepEqual(inv({ hwpt_id: parent, entry_num: 0 }), ['ENOENT', 0], 'a paging HWPT');
  t.deepEqual(inv({ entry_num: 0 }), [0, 0], 'nothing to do');
  t.deepEqual(inv({ entry_num: 1, data_uptr: entries([0, 0]), data_type: T.IOMMU_HWPT_INVALIDATE_DATA_SELFTEST_INVALID }), ['EINVAL', 0]);
  t.deepEqual(inv({ entry_num: 1, data_uptr: entries([0, 0]), entry_len: 4 }), ['EINVAL', 0], 'an entry shorter than the driver struct');
  t.deepEqual(inv({ entry_num: 2, data_uptr: entries([0, 0], [2, 1]) }), ['EOPNOTSUPP', 1], 'the first handled, then an unknown flag');
  t.is(iotlb(0), 0);
  t.is(iotlb(1), T.IOMMU_TEST_IOTLB_DEFAULT);
  t.deepEqual(inv({ entry_num: 2, data_uptr: entries([0, 1], [0, 4]) }), ['EINVAL', 1], 'an IOTLB id past 3');
  t.deepEqual(inv({ entry_num: 1, data_uptr: entries([T.IOMMU_TEST_INVALIDATE_FLAG_ALL, 77]) }), ['EINVAL', 0], 'the id is checked before ALL (the header says ALL ignores it)');
  t.deepEqual(inv({ entry_num: 1, data_uptr: entries([T.IOMMU_TEST_INVALIDATE_FLAG_ALL, 3]) }), [0, 1]);
  t.deepEqual([0, 1, 2, 3].map(iotlb), [0, 0, 0, 0]);
});

test('GET_HW_INFO: flags and reserved bytes EOPNOTSUPP; the mock data, zero-filled past it; data_len rewritten; dirty capability', (t) => {
  const s = setup();
  const info = (v: Input<typeof I.iommu_hw_info>, size = I.iommu_hw_info.size) => s.fd.io(I.IOMMU_GET_HW_INFO, I.iommu_hw_info, { dev_id: s.md.idev, ...v }, size);
  t.is(info({ flags: 1 }).rc, 'EOPNOTSUPP', 'no input type before 6.17');
  t.is(info({ __reserved: [0, 1, 0] }).rc, 'EOPNOTSUPP');
  t.is(info({ dev_id: 99 }).rc, 'ENOENT');
  t.is(info({ data_len: 8, data_uptr: 0x10n }).rc, 'EFAULT');
  const buf = s.fd.alloc(new Uint8Array(16).fill(0xaa));
  const r = info({ data_len: 16, data_uptr: buf });
  t.is(r.rc, 0);
  t.is(r.out.out_data_type, T.IOMMU_HW_INFO_TYPE_SELFTEST);
  t.is(r.out.data_len, T.iommu_test_hw_info.size, 'what the kernel has, not what was asked');
  t.is(r.out.out_capabilities, BigInt(I.IOMMU_HW_CAP_DIRTY_TRACKING));
  t.is(decode(T.iommu_test_hw_info, s.m.mem.read(buf, 8)).test_reg, T.IOMMU_HW_INFO_SELFTEST_REGVAL);
  t.deepEqual([...s.m.mem.read(buf + 8n, 8)], [0, 0, 0, 0, 0, 0, 0, 0], 'the rest of the buffer zeroed');
  const short = s.fd.alloc(new Uint8Array(8).fill(0xaa));
  t.is(info({ data_len: 4, data_uptr: short }).rc, 0);
  t.deepEqual([...s.m.mem.read(short, 8)], [0, 0, 0, 0, 0xaa, 0xaa, 0xaa, 0xaa], 'only data_len bytes written');
  const v6 = info({}, 32);
  t.is(v6.rc, 0, 'the 6.6 struct (no out_capabilities) is accepted');
  const nd = setup(T.MOCK_FLAGS_DEVICE_NO_DIRTY);
  t.is(nd.fd.io(I.IOMMU_GET_HW_INFO, I.iommu_hw_info, { dev_id: nd.md.idev }).out.out_capabilities, 0n);
});

test('dirty tracking: DIRTY_TRACKING HWPTs only; NO_DIRTY devices refuse them (EOPNOTSUPP, EINVAL at attach); bits set, read, cleared', (t) => {
  const s = setup();
  const buf = s.m.sys.mmap(8n * PAGE);
  const plain = s.alloc({}).out.out_hwpt_id;
  t.is(s.fd.io(I.IOMMU_HWPT_SET_DIRTY_TRACKING, I.iommu_hwpt_set_dirty_tracking, { hwpt_id: plain, flags: 1 }).rc, 'EOPNOTSUPP', 'no dirty ops');
  const dirty = s.alloc({ flags: DIRTY }).out.out_hwpt_id;
  t.is(s.fd.io(I.IOMMU_HWPT_SET_DIRTY_TRACKING, I.iommu_hwpt_set_dirty_tracking, { hwpt_id: dirty, flags: 2 }).rc, 'EOPNOTSUPP');
  t.is(s.fd.io(I.IOMMU_HWPT_SET_DIRTY_TRACKING, I.iommu_hwpt_set_dirty_tracking, { hwpt_id: s.ioas, flags: 1 }).rc, 'ENOENT', 'an IOAS');
  const nd = s.fd.mockDomain(s.ioas, T.MOCK_FLAGS_DEVICE_NO_DIRTY);
  t.is(nd.rc, 0);
  t.is(s.fd.test(T.IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, nd.stdev, { mock_domain_replace: { pt_id: dirty } }).rc, 'EINVAL', 'attach_dev refuses a dirty domain on a NO_DIRTY device');
  t.is(s.fd.io(HWPT, I.iommu_hwpt_alloc, { dev_id: nd.idev, pt_id: s.ioas, flags: DIRTY }).rc, 'EOPNOTSUPP');
  const iova = s.fd.map(s.ioas, 8n * PAGE, undefined, RW, buf).out.iova;
  const get = (v: Input<typeof I.iommu_hwpt_get_dirty_bitmap>) => s.fd.io(I.IOMMU_HWPT_GET_DIRTY_BITMAP, I.iommu_hwpt_get_dirty_bitmap, { hwpt_id: dirty, iova, length: 8n * PAGE, page_size: PAGE, ...v });
  const bitmap = s.fd.alloc(8);
  const cases: [string, Input<typeof I.iommu_hwpt_get_dirty_bitmap>, Errno][] = [
    ['unknown flag', { flags: 2, data: bitmap }, 'EOPNOTSUPP'],
    ['__reserved', { __reserved: 1, data: bitmap }, 'EOPNOTSUPP'],
    ['a paging id that is not one', { hwpt_id: s.ioas, data: bitmap }, 'ENOENT'],
    ['length 0', { length: 0n, data: bitmap }, 'EINVAL'],
    ['iova + length wraps', { iova: (1n << 64n) - PAGE, length: 2n * PAGE, data: bitmap }, 'EOVERFLOW'],
    ['iova not aligned to the IOAS', { iova: iova + 1n, data: bitmap }, 'EINVAL'],
    ['page_size 0', { page_size: 0n, data: bitmap }, 'EINVAL'],
    ['range not in page_size units', { length: 3n * PAGE, page_size: 2n * PAGE, data: bitmap }, 'EINVAL'],
    ['not tracking yet', { data: bitmap }, 'EINVAL'],
  ];
  for (const [what, v, want] of cases) t.is(get(v).rc, want, what);
  t.is(s.fd.io(I.IOMMU_HWPT_SET_DIRTY_TRACKING, I.iommu_hwpt_set_dirty_tracking, { hwpt_id: dirty, flags: 1 }).rc, 0);
  t.is(s.fd.test(T.IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, s.md.stdev, { mock_domain_replace: { pt_id: dirty } }).rc, 0);
  const mark = s.fd.alloc(Uint8Array.of(0b1001_0001, 0b0000_0001));
  const d = s.fd.test(T.IOMMU_TEST_OP_DIRTY, dirty, { dirty: { iova, length: 8n * PAGE, page_size: PAGE / 2n, uptr: mark } });
  t.is(d.rc, 0);
  t.is(d.out.dirty.out_nr_dirty, 4n, 'mock pages 0, 4, 7, 8');
  t.is(get({ data: bitmap, flags: I.IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR }).rc, 0);
  t.is(s.m.mem.read(bitmap, 1)[0], 0b0001_1101, 'CPU pages 0, 2, 3, 4 (mock pages 0, 4, 7, 8)');
  s.m.mem.write(bitmap, new Uint8Array(8));
  t.is(get({ data: bitmap }).rc, 0);
  t.is(s.m.mem.read(bitmap, 1)[0], 0b0001_1101, 'NO_CLEAR left the bits');
  s.m.mem.write(bitmap, new Uint8Array(8));
  t.is(get({ data: bitmap }).rc, 0);
  t.is(s.m.mem.read(bitmap, 1)[0], 0, 'read and cleared');
  const odd = s.fd.alloc(16);
  t.is(s.fd.test(T.IOMMU_TEST_OP_DIRTY, dirty, { dirty: { iova, length: 8n * PAGE, page_size: PAGE / 2n, uptr: mark } }).rc, 0);
  t.is(get({ data: odd + 3n }).rc, 0, 'a bitmap at any byte address');
  t.is(s.m.mem.read(odd + 3n, 1)[0], 0b0001_1101);
});
