// SPDX-License-Identifier: GPL-2.0-only
/**
 * The iommufd selftest (tools/testing/selftests/iommu/iommufd.c) ported fixture by fixture:
 * `iommufd` (the command protocol, options, the VFIO compat ioctls without a domain),
 * `iommufd_ioas` with no domain, one, two and a memory-limited mock domain, `iommufd_mock_domain`
 * (alignment sweeps, replace, HWPT rotation), `iommufd_dirty_tracking` (bitmaps of 8k to 320k
 * buffers, aligned and not) and `vfio_compat_mock_domain` (type1 v1 and v1v2 through iommufd).
 * Every call is a raw ioctl on /dev/iommu of a kernel built with CONFIG_IOMMUFD_TEST, whose mock
 * IOMMU driver (2 KiB pages, aperture [MOCK_APERTURE_START, MOCK_APERTURE_LAST]) stands in for
 * hardware, exactly as on a real kernel.
 *
 * @note emulation: the hugepage variants (MAP_HUGETLB), the 64M/128M dirty-tracking buffers,
 * ro_unshare (/proc/self/exe) and the PASID-capable mock device are not ported; the access_rw
 * sweep is the selftest's, its random data from a fixed-seed generator.
 * @see tools/testing/selftests/iommu/iommufd.c, iommufd_utils.h
 */
import {
  abi,
  IOMMU_DESTROY,
  IOMMU_FAULT_QUEUE_ALLOC,
  IOMMU_GET_HW_INFO,
  IOMMU_HW_CAP_DIRTY_TRACKING,
  IOMMU_HW_INFO_FLAG_INPUT_TYPE,
  IOMMU_HW_INFO_TYPE_DEFAULT,
  IOMMU_HWPT_ALLOC,
  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_DATA_NONE,
  IOMMU_HWPT_DIRTY_TRACKING_ENABLE,
  IOMMU_HWPT_FAULT_ID_VALID,
  IOMMU_HWPT_GET_DIRTY_BITMAP,
  IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR,
  IOMMU_HWPT_INVALIDATE,
  IOMMU_HWPT_SET_DIRTY_TRACKING,
  IOMMU_IOAS_ALLOC,
  IOMMU_IOAS_ALLOW_IOVAS,
  IOMMU_IOAS_COPY,
  IOMMU_IOAS_IOVA_RANGES,
  IOMMU_IOAS_MAP,
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  IOMMU_IOAS_UNMAP,
  IOMMU_OPTION,
  IOMMU_OPTION_HUGE_PAGES,
  IOMMU_OPTION_OP_GET,
  IOMMU_OPTION_OP_SET,
  IOMMU_OPTION_RLIMIT_MODE,
  IOMMU_PGFAULT_PERM_READ,
  IOMMU_PGFAULT_PERM_WRITE,
  IOMMU_TEST_IOTLB_DEFAULT,
  IOMMU_TEST_INVALIDATE_FLAG_ALL,
  IOMMU_TEST_OP_ACCESS_PAGES,
  IOMMU_TEST_OP_ACCESS_REPLACE_IOAS,
  IOMMU_TEST_OP_ACCESS_RW,
  IOMMU_TEST_OP_CREATE_ACCESS,
  IOMMU_TEST_OP_DESTROY_ACCESS_PAGES,
  IOMMU_TEST_OP_DIRTY,
  IOMMU_TEST_OP_MD_CHECK_IOTLB,
  IOMMU_TEST_OP_TRIGGER_IOPF,
  IOMMU_HW_INFO_TYPE_SELFTEST,
  IOMMU_HW_INFO_SELFTEST_REGVAL,
  IOMMU_HWPT_DATA_SELFTEST,
  IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
  IOMMU_HWPT_INVALIDATE_DATA_SELFTEST_INVALID,
  IOMMU_VFIO_IOAS,
  IOMMU_VFIO_IOAS_CLEAR,
  IOMMU_VFIO_IOAS_GET,
  IOMMU_VFIO_IOAS_SET,
  IOMMUFD_CMD_BASE,
  IOMMUFD_PAGE_RESP_SUCCESS,
  IOMMUFD_TYPE,
  MOCK_ACCESS_RW_SLOW_PATH,
  MOCK_ACCESS_RW_WRITE,
  MOCK_APERTURE_LAST,
  MOCK_APERTURE_START,
  MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES,
  MOCK_FLAGS_DEVICE_NO_DIRTY,
  MOCK_NESTED_DOMAIN_IOTLB_ID_MAX,
  MOCK_NESTED_DOMAIN_IOTLB_NUM,
  VFIO_API_VERSION,
  VFIO_CHECK_EXTENSION,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_DMA_UNMAP_FLAG_ALL,
  VFIO_GET_API_VERSION,
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_INFO_CAPS,
  VFIO_IOMMU_INFO_PGSIZES,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
  VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_SET_IOMMU,
  VFIO_TYPE1_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  _IO,
  iommu_destroy,
  iommu_fault_alloc,
  iommu_hw_info,
  iommu_hwpt_alloc,
  iommu_hwpt_get_dirty_bitmap,
  iommu_hwpt_invalidate,
  iommu_hwpt_invalidate_selftest,
  iommu_hwpt_page_response,
  iommu_hwpt_pgfault,
  iommu_hwpt_selftest,
  iommu_hwpt_set_dirty_tracking,
  iommu_ioas_alloc,
  iommu_ioas_allow_iovas,
  iommu_ioas_copy,
  iommu_ioas_iova_ranges,
  iommu_ioas_map,
  iommu_ioas_unmap,
  iommu_iova_range,
  iommu_option,
  iommu_test_hw_info,
  iommu_vfio_ioas,
  vfio_info_cap_header,
  vfio_iommu_type1_dma_map,
  vfio_iommu_type1_dma_unmap,
  vfio_iommu_type1_info,
  vfio_iommu_type1_info_cap_iova_range,
  vfio_iommu_type1_info_dma_avail,
  vfio_iova_range,
  type Feature,
  type Machine,
} from '../../lib/index';
import { suite, type SuiteT } from '../lib/suite';
import {
  BUFFER_SIZE,
  DEFAULT_MEMORY_LIMIT,
  Iommufd,
  MOCK_PAGE_SIZE,
  PAGE_SIZE,
  selftestKernel,
  teardownIommufd,
  testBit,
  type SelftestKernel,
} from '../lib/iommufd';

const h = suite('iommufd_test');

const U64_MAX = (1n << 64n) - 1n;
const RW = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;

/** What every fixture holds: the kernel (machine and global buffer) and an open /dev/iommu. */
interface Base {
  readonly k: SelftestKernel;
  readonly m: Machine;
  readonly buffer: bigint;
  readonly fd: Iommufd;
}

function openBase(t: SuiteT, need?: Feature): Base {
  const k = selftestKernel(t, need);
  return { k, m: k.m, buffer: k.buffer, fd: new Iommufd(t, k.m) };
}

/** A fixed-seed generator for the selftest's rand() fills. */
function rng(seed = 1): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x >>> 8;
  };
}

function randomBytes(n: number, next: () => number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = next() & 0xff;
  return b;
}

const equal = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

/* ---------------------------------------------------------------- FIXTURE(iommufd) */

const iommufd = h.fixture<Base>('iommufd', {
  setup: t => openBase(t),
  teardown: (t, s) => teardownIommufd(t, s.k, s.fd),
});

iommufd.test('simple_close', () => {});

iommufd.test('cmd_fail', (t, s) => {
  t.expectErrno('ENOENT', s.fd.tryDestroy(0));
  t.expectErrno('EFAULT', s.fd.ioctl(IOMMU_DESTROY, 0n));
  const p = s.fd.put(iommu_destroy, { size: iommu_destroy.size, id: 0 });
  t.expectErrno('ENOTTY', s.fd.ioctl(_IO(IOMMUFD_TYPE, IOMMUFD_CMD_BASE - 1), p));
});

/**
 * The running kernel's sizeof(struct) — what a selftest compiled against that kernel's header
 * puts in `size`: iommu_hwpt_alloc grew in 6.7 (nesting) and 6.11 (fault_id), iommu_hw_info in
 * 6.7 (out_capabilities).
 */
function kernelSizeof(m: Machine, layout: abi.StructLayout<any>): number {
  const grew: Record<string, readonly (readonly [Feature, string])[]> = {
    iommu_hwpt_alloc: [
      ['iommufd_hwpt_alloc', '__reserved'],
      ['iommufd_nesting', 'data_uptr'],
      ['iommufd_fault_queue', '__reserved2'],
    ],
    iommu_hw_info: [
      ['iommufd_hw_info', '__reserved'],
      ['iommufd_dirty_tracking', 'out_capabilities'],
    ],
  };
  const rows = grew[layout.name];
  if (!rows) return layout.size;
  let end = rows[0]![1];
  for (const [f, last] of rows) if (m.kernel.has(f)) end = last;
  return abi.structPrefix(layout, end as never).size;
}

const LENGTH_ROWS: readonly { layout: abi.StructLayout<any>; req: number; last: string; feature: Feature }[] = [
  { layout: iommu_destroy, req: IOMMU_DESTROY, last: 'id', feature: 'iommufd' },
  { layout: iommu_hw_info, req: IOMMU_GET_HW_INFO, last: '__reserved', feature: 'iommufd_hw_info' },
  { layout: iommu_hwpt_alloc, req: IOMMU_HWPT_ALLOC, last: '__reserved', feature: 'iommufd_hwpt_alloc' },
  { layout: iommu_hwpt_invalidate, req: IOMMU_HWPT_INVALIDATE, last: '__reserved', feature: 'iommufd_hwpt_invalidate' },
  { layout: iommu_ioas_alloc, req: IOMMU_IOAS_ALLOC, last: 'out_ioas_id', feature: 'iommufd' },
  { layout: iommu_ioas_iova_ranges, req: IOMMU_IOAS_IOVA_RANGES, last: 'out_iova_alignment', feature: 'iommufd' },
  { layout: iommu_ioas_allow_iovas, req: IOMMU_IOAS_ALLOW_IOVAS, last: 'allowed_iovas', feature: 'iommufd' },
  { layout: iommu_ioas_map, req: IOMMU_IOAS_MAP, last: 'iova', feature: 'iommufd' },
  { layout: iommu_ioas_copy, req: IOMMU_IOAS_COPY, last: 'src_iova', feature: 'iommufd' },
  { layout: iommu_ioas_unmap, req: IOMMU_IOAS_UNMAP, last: 'length', feature: 'iommufd' },
  { layout: iommu_option, req: IOMMU_OPTION, last: 'val64', feature: 'iommufd' },
  { layout: iommu_vfio_ioas, req: IOMMU_VFIO_IOAS, last: '__reserved', feature: 'iommufd' },
];

/** TEST_LENGTH: below min_size EINVAL; one non-zero byte past the struct E2BIG; that byte zero behaves as the exact size. */
iommufd.test('cmd_length', (t, s) => {
  for (const row of LENGTH_ROWS) {
    if (!s.m.kernel.has(row.feature)) continue;
    const size = kernelSizeof(s.m, row.layout);
    const minSize = abi.offsetofend(row.layout, row.last as never);
    const p = s.fd.put(row.layout, {}, size + 8);
    const setSize = (n: number, extra: number) => {
      s.m.mem.write(p, new Uint8Array(new Uint32Array([n]).buffer));
      s.m.mem.write(p + BigInt(size), new Uint8Array([extra]));
    };
    const name = row.layout.name;
    setSize(minSize - 1, 0xff);
    if (!t.expectErrno('EINVAL', s.fd.ioctl(row.req, p))) t.log('%s: size %d', name, minSize - 1);
    setSize(size + 1, 0xff);
    if (!t.expectErrno('E2BIG', s.fd.ioctl(row.req, p))) t.log('%s: size %d with a non-zero tail', name, size + 1);
    setSize(size, 0xff);
    const rc = s.fd.ioctl(row.req, p);
    setSize(size + 1, 0);
    if (!t.expectEq(rc, s.fd.ioctl(row.req, p))) t.log('%s: a zero tail is the exact size', name);
  }
});

iommufd.test('cmd_ex_fail', (t, s) => {
  const p = s.fd.put(iommu_destroy, { size: iommu_destroy.size + 8, id: 0 }, iommu_destroy.size + 8);
  const set = (size: number, future: bigint) => {
    s.m.mem.write(p, new Uint8Array(new Uint32Array([size]).buffer));
    s.m.mem.write(p + BigInt(iommu_destroy.size), new Uint8Array(new BigUint64Array([future]).buffer));
  };
  t.expectErrno('ENOENT', s.fd.ioctl(IOMMU_DESTROY, p));
  set(iommu_destroy.size + 8, 1n);
  t.expectErrno('E2BIG', s.fd.ioctl(IOMMU_DESTROY, p));
  set(iommu_destroy.size, 1n);
  t.expectErrno('ENOENT', s.fd.ioctl(IOMMU_DESTROY, p));
  set(iommu_destroy.size - 1, 1n);
  t.expectErrno('EINVAL', s.fd.ioctl(IOMMU_DESTROY, p));
});

function option(fd: Iommufd, option_id: number, op: number, val64: bigint, object_id = 0) {
  const r = fd.cmd(IOMMU_OPTION, iommu_option, { option_id, op, val64, object_id });
  return { rc: r.rc, val64: r.out.val64 };
}

iommufd.test('global_options', (t, s) => {
  let r = option(s.fd, IOMMU_OPTION_RLIMIT_MODE, IOMMU_OPTION_OP_GET, 1n);
  t.assertEq(0, r.rc);
  t.assertEq(0n, r.val64);
  t.assertEq(0, option(s.fd, IOMMU_OPTION_RLIMIT_MODE, IOMMU_OPTION_OP_SET, 1n).rc);
  t.expectErrno('EINVAL', option(s.fd, IOMMU_OPTION_RLIMIT_MODE, IOMMU_OPTION_OP_SET, 2n).rc);
  r = option(s.fd, IOMMU_OPTION_RLIMIT_MODE, IOMMU_OPTION_OP_GET, 2n);
  t.assertEq(0, r.rc);
  t.assertEq(1n, r.val64);
  t.assertEq(0, option(s.fd, IOMMU_OPTION_RLIMIT_MODE, IOMMU_OPTION_OP_SET, 0n).rc);
  t.expectErrno('ENOENT', option(s.fd, IOMMU_OPTION_HUGE_PAGES, IOMMU_OPTION_OP_GET, 0n).rc);
  t.expectErrno('ENOENT', option(s.fd, IOMMU_OPTION_HUGE_PAGES, IOMMU_OPTION_OP_SET, 0n).rc);
});

/* VFIO compatibility ioctls on a bare iommufd */

iommufd.test('simple_ioctls', (t, s) => {
  t.assertEq(VFIO_API_VERSION, s.fd.ioctl(VFIO_GET_API_VERSION, 0));
  t.assertEq(1, s.fd.ioctl(VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU));
});

iommufd.test('unmap_cmd', (t, s) => {
  const p = s.fd.put(vfio_iommu_type1_dma_unmap, { argsz: 1, iova: MOCK_APERTURE_START, size: PAGE_SIZE });
  t.expectErrno('EINVAL', s.fd.ioctl(VFIO_IOMMU_UNMAP_DMA, p));
  s.m.mem.write(p, abi.encode(vfio_iommu_type1_dma_unmap, { argsz: vfio_iommu_type1_dma_unmap.size, flags: 1 << 31, iova: MOCK_APERTURE_START, size: PAGE_SIZE }));
  t.expectErrno('EINVAL', s.fd.ioctl(VFIO_IOMMU_UNMAP_DMA, p));
  s.m.mem.write(p, abi.encode(vfio_iommu_type1_dma_unmap, { argsz: vfio_iommu_type1_dma_unmap.size, flags: 0, iova: MOCK_APERTURE_START, size: PAGE_SIZE }));
  t.expectErrno('ENODEV', s.fd.ioctl(VFIO_IOMMU_UNMAP_DMA, p));
});

iommufd.test('map_cmd', (t, s) => {
  const map = (argsz: number, flags: number) =>
    s.fd.ioctl(VFIO_IOMMU_MAP_DMA, s.fd.put(vfio_iommu_type1_dma_map, { argsz, flags, vaddr: s.buffer, iova: MOCK_APERTURE_START, size: PAGE_SIZE }));
  t.expectErrno('EINVAL', map(1, 0));
  t.expectErrno('EINVAL', map(vfio_iommu_type1_dma_map.size, 1 << 31));
  t.expectErrno('ENODEV', map(vfio_iommu_type1_dma_map.size, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)); // requires a domain
});

iommufd.test('info_cmd', (t, s) => {
  t.expectErrno('EINVAL', s.fd.ioctl(VFIO_IOMMU_GET_INFO, s.fd.put(vfio_iommu_type1_info, { argsz: 1 })));
  t.expectErrno('ENODEV', s.fd.ioctl(VFIO_IOMMU_GET_INFO, s.fd.put(vfio_iommu_type1_info, { argsz: vfio_iommu_type1_info.size })));
});

iommufd.test('set_iommu_cmd', (t, s) => {
  t.expectErrno('ENODEV', s.fd.ioctl(VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
  t.expectErrno('ENODEV', s.fd.ioctl(VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU));
});

iommufd.test('vfio_ioas', (t, s) => {
  const vfioIoas = (op: number, ioas_id = 0) => s.fd.cmd(IOMMU_VFIO_IOAS, iommu_vfio_ioas, { op, ioas_id });
  t.expectErrno('ENODEV', vfioIoas(IOMMU_VFIO_IOAS_GET).rc); // no compat IOAS yet
  t.expectErrno('ENOENT', vfioIoas(IOMMU_VFIO_IOAS_SET).rc);
  const ioas = s.fd.ioasAlloc();
  t.assertEq(0, vfioIoas(IOMMU_VFIO_IOAS_SET, ioas).rc);
  const got = vfioIoas(IOMMU_VFIO_IOAS_GET);
  t.assertEq(0, got.rc);
  t.assertEq(ioas, got.out.ioas_id);
  t.assertEq(0, vfioIoas(IOMMU_VFIO_IOAS_CLEAR).rc);
  t.expectErrno('ENODEV', vfioIoas(IOMMU_VFIO_IOAS_GET).rc);
});

/* ---------------------------------------------------------------- FIXTURE(iommufd_ioas) */

interface IoasVariant {
  readonly mockDomains: number;
  readonly memoryLimit: number;
}

interface Ioas extends Base {
  readonly ioas: number;
  readonly stdev: number;
  readonly hwpt: number;
  readonly device: number;
  /** MOCK_APERTURE_START once a domain is attached, else 0. */
  baseIova: bigint;
}

const ioasFixture = h.fixture<Ioas, IoasVariant>('iommufd_ioas', {
  setup(t, v) {
    const b = openBase(t);
    const ioas = b.fd.ioasAlloc();
    b.fd.setTempMemoryLimit(v.memoryLimit || DEFAULT_MEMORY_LIMIT);
    let stdev = 0;
    let hwpt = 0;
    let device = 0;
    let baseIova = 0n;
    for (let i = 0; i < v.mockDomains; i++) {
      ({ stdev, hwpt, idev: device } = b.fd.mockDomain(ioas));
      baseIova = MOCK_APERTURE_START;
    }
    return { ...b, ioas, stdev, hwpt, device, baseIova };
  },
  teardown(t, s) {
    s.fd.setTempMemoryLimit(DEFAULT_MEMORY_LIMIT);
    teardownIommufd(t, s.k, s.fd);
  },
});
ioasFixture.variant('no_domain', { mockDomains: 0, memoryLimit: 0 });
ioasFixture.variant('mock_domain', { mockDomains: 1, memoryLimit: 0 });
ioasFixture.variant('two_mock_domain', { mockDomains: 2, memoryLimit: 0 });
ioasFixture.variant('mock_domain_limit', { mockDomains: 1, memoryLimit: 16 });

ioasFixture.test('ioas_auto_destroy', () => {});

ioasFixture.test('ioas_destroy', (t, s) => {
  if (s.stdev) t.expectErrno('EBUSY', s.fd.tryDestroy(s.ioas)); // a device has a HWPT using it
  else s.fd.destroy(s.ioas);
});

function hwptAllocNested(s: Ioas, pt: number, flags: number, dataType: number, data: bigint, dataLen: number, faultId = 0) {
  return s.fd.tryHwptAlloc(s.device, pt, flags, { data_type: dataType, data_len: dataLen, data_uptr: data, fault_id: faultId });
}

function invalidate(s: Ioas, hwpt: number, reqs: bigint, dataType: number, entryLen: number, num: number) {
  const r = s.fd.cmd(IOMMU_HWPT_INVALIDATE, iommu_hwpt_invalidate, { hwpt_id: hwpt, data_uptr: reqs, data_type: dataType, entry_len: entryLen, entry_num: num });
  return { rc: r.rc, num: r.out.entry_num };
}

function checkIotlb(t: SuiteT, s: Base, hwpt: number, id: number, expected: number): void {
  t.assertEq(0, s.fd.test(IOMMU_TEST_OP_MD_CHECK_IOTLB, hwpt, { check_iotlb: { id, iotlb: expected } }).rc);
}

function checkIotlbAll(t: SuiteT, s: Base, hwpt: number, expected: number): void {
  for (let i = 0; i < MOCK_NESTED_DOMAIN_IOTLB_NUM; i++) checkIotlb(t, s, hwpt, i, expected);
}

/** test_cmd_trigger_iopf: the fault arrives on the queue fd; the response goes back by its cookie. */
function triggerIopf(s: Base, devId: number, faultFd: number): number {
  const rc = s.fd.test(IOMMU_TEST_OP_TRIGGER_IOPF, 0, {
    trigger_iopf: { dev_id: devId, pasid: 1, grpid: 2, perm: IOMMU_PGFAULT_PERM_READ | IOMMU_PGFAULT_PERM_WRITE, addr: 0xdeadbeafn },
  }).rc;
  if (rc) return rc;
  const buf = new Uint8Array(iommu_hwpt_pgfault.size);
  if (s.m.sys.read(faultFd, buf) <= 0) return -5;
  const fault = abi.decode(iommu_hwpt_pgfault, buf);
  if (s.m.sys.write(faultFd, abi.encode(iommu_hwpt_page_response, { cookie: fault.cookie, code: IOMMUFD_PAGE_RESP_SUCCESS })) <= 0) return -5;
  return 0;
}

ioasFixture.test('alloc_hwpt_nested', (t, s) => {
  if (!s.m.kernel.has('iommufd_nesting')) t.skip(`kernel ${s.m.kernel.release}: no nested HWPTs`);
  const minDataLen = abi.offsetofend(iommu_hwpt_selftest, 'iotlb');
  const data = s.fd.put(iommu_hwpt_selftest, { iotlb: IOMMU_TEST_IOTLB_DEFAULT });
  const dataSize = iommu_hwpt_selftest.size;
  const hasFault = s.m.kernel.has('iommufd_fault_queue');
  if (!s.device) {
    t.expectErrno('ENOENT', s.fd.tryHwptAlloc(s.device, s.ioas, 0).rc);
    t.expectErrno('ENOENT', hwptAllocNested(s, 0, 0, IOMMU_HWPT_DATA_SELFTEST, data, dataSize).rc);
    t.expectErrno('ENOENT', s.fd.tryReplace(s.stdev, 0));
    return;
  }
  t.expectErrno('ENOENT', s.fd.tryHwptAlloc(s.ioas, s.device, 0).rc);
  t.expectErrno('EINVAL', s.fd.tryHwptAlloc(s.device, s.device, 0).rc);
  if (hasFault) t.expectErrno('EOPNOTSUPP', s.fd.tryHwptAlloc(s.device, s.ioas, IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_FAULT_ID_VALID).rc);
  const parent = s.fd.hwptAlloc(s.device, s.ioas, IOMMU_HWPT_ALLOC_NEST_PARENT);
  const parentNotWork = s.fd.hwptAlloc(s.device, s.ioas, 0);

  t.expectErrno('EINVAL', hwptAllocNested(s, parent, 0, IOMMU_HWPT_DATA_NONE, data, dataSize).rc);
  t.expectErrno('EOPNOTSUPP', hwptAllocNested(s, parent, 0, IOMMU_HWPT_DATA_SELFTEST + 1, data, dataSize).rc);
  t.expectErrno('EINVAL', hwptAllocNested(s, parent, 0, IOMMU_HWPT_DATA_SELFTEST, data, minDataLen - 1).rc);
  t.expectErrno('EFAULT', hwptAllocNested(s, parent, 0, IOMMU_HWPT_DATA_SELFTEST, 0n, dataSize).rc);
  t.expectErrno('EOPNOTSUPP', hwptAllocNested(s, parent, IOMMU_HWPT_ALLOC_NEST_PARENT, IOMMU_HWPT_DATA_SELFTEST, data, dataSize).rc);
  t.expectErrno('EINVAL', hwptAllocNested(s, parentNotWork, 0, IOMMU_HWPT_DATA_SELFTEST, data, dataSize).rc);

  let faultId = 0;
  let faultFd = -1;
  if (hasFault) {
    const f = s.fd.cmd(IOMMU_FAULT_QUEUE_ALLOC, iommu_fault_alloc, {});
    t.assertEq(0, f.rc);
    faultId = f.out.out_fault_id;
    faultFd = f.out.out_fault_fd;
    t.assertNe(0, faultId);
    t.assertNe(0, faultFd);
  }
  const nested = [0, 1].map(() => {
    const r = hwptAllocNested(s, parent, 0, IOMMU_HWPT_DATA_SELFTEST, data, dataSize);
    t.assertEq(0, r.rc);
    return r.id;
  });
  let iopfHwpt = 0;
  if (hasFault) {
    t.expectErrno('ENOENT', hwptAllocNested(s, parent, IOMMU_HWPT_FAULT_ID_VALID, IOMMU_HWPT_DATA_SELFTEST, data, dataSize, 0xffffffff).rc);
    const r = hwptAllocNested(s, parent, IOMMU_HWPT_FAULT_ID_VALID, IOMMU_HWPT_DATA_SELFTEST, data, dataSize, faultId);
    t.assertEq(0, r.rc);
    iopfHwpt = r.id;
  }
  checkIotlbAll(t, s, nested[0]!, IOMMU_TEST_IOTLB_DEFAULT);
  checkIotlbAll(t, s, nested[1]!, IOMMU_TEST_IOTLB_DEFAULT);

  t.expectErrno('EINVAL', hwptAllocNested(s, nested[0]!, 0, IOMMU_HWPT_DATA_SELFTEST, data, dataSize).rc); // nested on nested
  t.expectErrno('EBUSY', s.fd.tryDestroy(parent)); // the parent of nested HWPTs

  if (s.m.kernel.has('iommufd_hwpt_invalidate')) {
    const reqs = s.fd.put(iommu_hwpt_invalidate_selftest, {}, 2 * iommu_hwpt_invalidate_selftest.size);
    const req = (i: number, flags: number, iotlb_id: number) =>
      s.m.mem.write(reqs + BigInt(i * iommu_hwpt_invalidate_selftest.size), abi.encode(iommu_hwpt_invalidate_selftest, { flags, iotlb_id }));
    const len = iommu_hwpt_invalidate_selftest.size;
    const SELF = IOMMU_HWPT_INVALIDATE_DATA_SELFTEST;
    const err = (errno: string, hwpt: number, p: bigint, type: number, l: number, n: number, done = 0) => {
      const r = invalidate(s, hwpt, p, type, l, n);
      t.expectErrno(errno, r.rc);
      t.expectEq(done, r.num);
    };
    err('ENOENT', parent, reqs, SELF, len, 1);
    let r = invalidate(s, nested[0]!, reqs, SELF, len, 0);
    t.assertEq(0, r.rc);
    t.assertEq(0, r.num);
    err('EINVAL', nested[0]!, reqs, IOMMU_HWPT_INVALIDATE_DATA_SELFTEST_INVALID, len, 1);
    err('EINVAL', nested[0]!, reqs, SELF, len + 1, 1);
    err('EINVAL', nested[0]!, reqs, SELF, 1, 1);
    req(0, 0xffffffff, 0);
    err('EOPNOTSUPP', nested[0]!, reqs, SELF, len, 1);
    req(0, 0, 0);
    err('EINVAL', nested[0]!, 0n, SELF, len, 1);
    err('EINVAL', nested[0]!, reqs, SELF, 0, 1);
    req(0, 0, MOCK_NESTED_DOMAIN_IOTLB_ID_MAX + 1);
    err('EINVAL', nested[0]!, reqs, SELF, len, 1);

    req(0, 0, 0);
    req(1, 0xffffffff, 1);
    err('EOPNOTSUPP', nested[0]!, reqs, SELF, len, 2, 1);
    checkIotlb(t, s, nested[0]!, 0, 0);
    for (const i of [1, 2, 3]) checkIotlb(t, s, nested[0]!, i, IOMMU_TEST_IOTLB_DEFAULT);

    req(0, 0, 0);
    req(1, 0, MOCK_NESTED_DOMAIN_IOTLB_ID_MAX + 1);
    err('EINVAL', nested[0]!, reqs, SELF, len, 2, 1);
    checkIotlb(t, s, nested[0]!, 0, 0);
    for (const i of [1, 2, 3]) checkIotlb(t, s, nested[0]!, i, IOMMU_TEST_IOTLB_DEFAULT);

    req(0, 0, 1);
    r = invalidate(s, nested[0]!, reqs, SELF, len, 1);
    t.assertEq(0, r.rc);
    t.assertEq(1, r.num);
    checkIotlb(t, s, nested[0]!, 1, 0);
    for (const i of [2, 3]) checkIotlb(t, s, nested[0]!, i, IOMMU_TEST_IOTLB_DEFAULT);

    req(0, 0, 2);
    req(1, 0, 3);
    r = invalidate(s, nested[0]!, reqs, SELF, len, 2);
    t.assertEq(0, r.rc);
    t.assertEq(2, r.num);
    checkIotlbAll(t, s, nested[0]!, 0);

    req(0, IOMMU_TEST_INVALIDATE_FLAG_ALL, 0);
    r = invalidate(s, nested[1]!, reqs, SELF, len, 1);
    t.assertEq(0, r.rc);
    t.assertEq(1, r.num);
    checkIotlbAll(t, s, nested[1]!, 0);
  }

  s.fd.replace(s.stdev, nested[0]!);
  t.expectErrno('EBUSY', s.fd.tryDestroy(nested[0]!));
  s.fd.replace(s.stdev, nested[1]!);
  t.expectErrno('EBUSY', s.fd.tryDestroy(nested[1]!));
  s.fd.destroy(nested[0]!);
  if (hasFault) {
    s.fd.replace(s.stdev, iopfHwpt);
    t.expectErrno('EBUSY', s.fd.tryDestroy(iopfHwpt));
    t.assertEq(0, triggerIopf(s, s.device, faultFd));
  }
  s.fd.replace(s.stdev, parent);
  s.fd.destroy(nested[1]!);
  if (hasFault) s.fd.destroy(iopfHwpt);
  s.fd.replace(s.stdev, s.ioas);
  s.fd.destroy(parent);
  s.fd.destroy(parentNotWork);
  if (hasFault) {
    t.assertEq(0, s.m.sys.close(faultFd));
    s.fd.destroy(faultId);
  }
});

ioasFixture.test('hwpt_attach', (t, s) => {
  if (s.stdev) s.fd.mockDomain(s.hwpt);
  else t.expectErrno('ENOENT', s.fd.tryMockDomain(s.hwpt).rc);
});

ioasFixture.test('ioas_area_destroy', (t, s) => {
  s.fd.map(s.ioas, s.buffer, PAGE_SIZE, s.baseIova);
  if (s.stdev) t.expectErrno('EBUSY', s.fd.tryDestroy(s.ioas));
  else s.fd.destroy(s.ioas);
});

ioasFixture.test('ioas_area_auto_destroy', (_t, s) => {
  for (let i = 0n; i < 10n; i++) s.fd.map(s.ioas, s.buffer, PAGE_SIZE, s.baseIova + i * PAGE_SIZE);
});

function getHwInfo(s: Base, devId: number, dataType: number, data: bigint, dataLen: number) {
  const flags = dataType !== IOMMU_HW_INFO_TYPE_DEFAULT ? IOMMU_HW_INFO_FLAG_INPUT_TYPE : 0;
  const r = s.fd.cmd(IOMMU_GET_HW_INFO, iommu_hw_info, { flags, dev_id: devId, data_len: dataLen, data_uptr: data, in_data_type: dataType });
  return { rc: r.rc, out: r.out };
}

/** _test_cmd_get_hw_info's own checks: the selftest type, its exact length, zeroed trailing bytes, the register value. */
function checkHwInfo(t: SuiteT, s: Base, devId: number, dataType: number, data: bigint, dataLen: number): bigint {
  const r = getHwInfo(s, devId, dataType, data, dataLen);
  t.assertEq(0, r.rc);
  t.assertEq(IOMMU_HW_INFO_TYPE_SELFTEST, r.out.out_data_type);
  t.assertEq(iommu_test_hw_info.size, r.out.data_len);
  if (data !== 0n && dataLen > r.out.data_len) t.assertTrue(s.m.mem.read(data + BigInt(r.out.data_len), dataLen - r.out.data_len).every(b => b === 0));
  if (data !== 0n) {
    const info = abi.decode(iommu_test_hw_info, s.m.mem.read(data, iommu_test_hw_info.size));
    if (dataLen >= abi.offsetofend(iommu_test_hw_info, 'test_reg')) t.assertEq(IOMMU_HW_INFO_SELFTEST_REGVAL, info.test_reg);
    if (dataLen >= abi.offsetofend(iommu_test_hw_info, 'flags')) t.assertEq(0, info.flags);
  }
  return r.out.out_capabilities;
}

ioasFixture.test('get_hw_info', (t, s) => {
  if (!s.m.kernel.has('iommufd_hw_info')) t.skip(`kernel ${s.m.kernel.release}: no IOMMU_GET_HW_INFO`);
  const exact = s.fd.put(iommu_test_hw_info, {});
  const larger = s.fd.put(iommu_test_hw_info, {}, iommu_test_hw_info.size + 8);
  if (!s.device) {
    t.expectErrno('ENOENT', getHwInfo(s, s.device, IOMMU_HW_INFO_TYPE_DEFAULT, exact, iommu_test_hw_info.size).rc);
    t.expectErrno('ENOENT', getHwInfo(s, s.device, IOMMU_HW_INFO_TYPE_DEFAULT, larger, iommu_test_hw_info.size + 8).rc);
    return;
  }
  checkHwInfo(t, s, s.device, IOMMU_HW_INFO_TYPE_DEFAULT, 0n, 0);
  checkHwInfo(t, s, s.device, IOMMU_HW_INFO_TYPE_DEFAULT, exact, iommu_test_hw_info.size);
  if (s.m.kernel.has('iommufd_hw_queue')) {
    // IOMMU_HW_INFO_FLAG_INPUT_TYPE: a type the driver does not report, then its own.
    t.expectErrno('EOPNOTSUPP', getHwInfo(s, s.device, IOMMU_HW_INFO_TYPE_SELFTEST + 1, exact, iommu_test_hw_info.size).rc);
    checkHwInfo(t, s, s.device, IOMMU_HW_INFO_TYPE_SELFTEST, exact, iommu_test_hw_info.size);
  }
  checkHwInfo(t, s, s.device, IOMMU_HW_INFO_TYPE_DEFAULT, larger, iommu_test_hw_info.size + 8);
  checkHwInfo(t, s, s.device, IOMMU_HW_INFO_TYPE_DEFAULT, exact, abi.offsetofend(iommu_test_hw_info, 'flags'));
  if (s.m.kernel.has('iommufd_hw_info_pasid')) t.assertEq(0, getHwInfo(s, s.device, IOMMU_HW_INFO_TYPE_DEFAULT, 0n, 0).out.out_max_pasid_log2);
});

ioasFixture.test('area', (t, s) => {
  for (let i = 0n; i < 10n; i++) t.expectErrno('ENOENT', s.fd.tryUnmap(s.ioas, i * PAGE_SIZE, PAGE_SIZE).rc); // nothing mapped
  for (let i = 0n; i < 10n; i++) s.fd.map(s.ioas, s.buffer, PAGE_SIZE, s.baseIova + i * PAGE_SIZE);
  for (let i = 0n; i < 10n; i++) s.fd.unmap(s.ioas, s.baseIova + i * PAGE_SIZE, PAGE_SIZE);

  // Split fails
  s.fd.map(s.ioas, s.buffer, 2n * PAGE_SIZE, s.baseIova + 16n * PAGE_SIZE);
  t.expectErrno('ENOENT', s.fd.tryUnmap(s.ioas, s.baseIova + 16n * PAGE_SIZE, PAGE_SIZE).rc);
  t.expectErrno('ENOENT', s.fd.tryUnmap(s.ioas, s.baseIova + 17n * PAGE_SIZE, PAGE_SIZE).rc);

  // Over map fails
  for (const [len, at] of [
    [2n, 16n],
    [1n, 16n],
    [1n, 17n],
    [2n, 15n],
    [3n, 15n],
  ] as const)
    s.fd.errMap('EEXIST', s.ioas, s.buffer, len * PAGE_SIZE, s.baseIova + at * PAGE_SIZE);

  s.fd.unmap(s.ioas, 0n, U64_MAX);
  s.fd.unmap(s.ioas, 0n, U64_MAX);
});

ioasFixture.test('unmap_fully_contained_areas', (t, s) => {
  const base = s.baseIova + 4n * PAGE_SIZE;
  for (let i = 0n; i < 4n; i++) s.fd.map(s.ioas, s.buffer, 8n * PAGE_SIZE, base + i * 16n * PAGE_SIZE);
  t.expectErrno('ENOENT', s.fd.tryUnmap(s.ioas, base - 4n * PAGE_SIZE, 8n * PAGE_SIZE).rc);
  t.expectErrno('ENOENT', s.fd.tryUnmap(s.ioas, base + 3n * 16n * PAGE_SIZE + 8n * PAGE_SIZE - 4n * PAGE_SIZE, 8n * PAGE_SIZE).rc);
  const r = s.fd.tryUnmap(s.ioas, base - 4n * PAGE_SIZE, 3n * 16n * PAGE_SIZE + 8n * PAGE_SIZE + 4n * PAGE_SIZE);
  t.assertEq(0, r.rc);
  t.assertEq(32n * PAGE_SIZE, r.length);
});

const lowestBit = (n: bigint): bigint => n & -n;

function allowIovas(s: Base, ioas: number, ranges: readonly { start: bigint; last: bigint }[]): number {
  const p = s.fd.put(iommu_iova_range, {}, Math.max(1, ranges.length) * iommu_iova_range.size);
  ranges.forEach((r, i) => s.m.mem.write(p + BigInt(i * iommu_iova_range.size), abi.encode(iommu_iova_range, r)));
  return s.fd.cmd(IOMMU_IOAS_ALLOW_IOVAS, iommu_ioas_allow_iovas, { ioas_id: ioas, num_iovas: ranges.length, allowed_iovas: p }).rc;
}

ioasFixture.test('area_auto_iova', (t, s) => {
  const reserved = { start: 4n * PAGE_SIZE, length: 100n * PAGE_SIZE };
  const iovas: bigint[] = [];
  for (let i = 0; i < 10; i++) iovas[i] = s.fd.map(s.ioas, s.buffer, PAGE_SIZE);
  for (let i = 0; i < 10; i++) s.fd.unmap(s.ioas, iovas[i]!, PAGE_SIZE);

  // The kernel aligns automatic IOVAs to the length's lowest set bit.
  for (let i = 0; i < 10; i++) {
    const length = PAGE_SIZE * BigInt(i + 1);
    iovas[i] = s.fd.map(s.ioas, s.stdev ? s.buffer : 1n << 31n, length);
    t.expectEq(0n, iovas[i]! % lowestBit(length));
  }
  for (let i = 0; i < 10; i++) s.fd.unmap(s.ioas, iovas[i]!, PAGE_SIZE * BigInt(i + 1));

  // Avoids a reserved region
  t.assertEq(0, s.fd.addReserved(s.ioas, reserved.start, reserved.length));
  for (let i = 0; i < 10; i++) {
    const length = PAGE_SIZE * BigInt(i + 1);
    iovas[i] = s.fd.map(s.ioas, s.buffer, length);
    t.expectEq(0n, iovas[i]! % lowestBit(length));
    t.expectFalse(iovas[i]! > reserved.start && iovas[i]! < reserved.start + reserved.length);
  }
  for (let i = 0; i < 10; i++) s.fd.unmap(s.ioas, iovas[i]!, PAGE_SIZE * BigInt(i + 1));

  t.expectErrno('EADDRINUSE', allowIovas(s, s.ioas, [{ start: PAGE_SIZE, last: PAGE_SIZE * 600n }])); // an allowed range over a reserved one

  const range = s.stdev
    ? { start: MOCK_APERTURE_START + PAGE_SIZE, last: MOCK_APERTURE_START + PAGE_SIZE * 600n - 1n }
    : { start: PAGE_SIZE * 200n, last: PAGE_SIZE * 600n - 1n };
  t.assertEq(0, allowIovas(s, s.ioas, [range]));
  for (let i = 0; i < 10; i++) {
    const length = PAGE_SIZE * BigInt(i + 1);
    iovas[i] = s.fd.map(s.ioas, s.buffer, length);
    t.expectEq(0n, iovas[i]! % lowestBit(length));
    t.expectTrue(iovas[i]! >= range.start && iovas[i]! <= range.last);
    t.expectTrue(iovas[i]! + length > range.start && iovas[i]! + length <= range.last + 1n);
  }
  for (let i = 0; i < 10; i++) s.fd.unmap(s.ioas, iovas[i]!, PAGE_SIZE * BigInt(i + 1));
});

ioasFixture.test('area_allowed', (t, s) => {
  const range = { start: s.baseIova, last: s.baseIova + PAGE_SIZE * 600n };
  t.assertEq(0, allowIovas(s, s.ioas, [range]));
  t.expectErrno('EADDRINUSE', s.fd.addReserved(s.ioas, range.start + PAGE_SIZE, PAGE_SIZE)); // a reserved range over an allowed one
  t.assertEq(0, allowIovas(s, s.ioas, []));
  t.assertEq(0, s.fd.addReserved(s.ioas, range.start + PAGE_SIZE, PAGE_SIZE));
  t.expectErrno('EADDRINUSE', allowIovas(s, s.ioas, [range])); // an allowed range over a reserved one
});

function copy(s: Base, v: abi.Input<typeof iommu_ioas_copy>): number {
  return s.fd.cmd(IOMMU_IOAS_COPY, iommu_ioas_copy, { flags: IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE, ...v }).rc;
}

ioasFixture.test('copy_area', (t, s) => {
  s.fd.map(s.ioas, s.buffer, PAGE_SIZE, s.baseIova);
  t.assertEq(0, copy(s, { dst_ioas_id: s.ioas, src_ioas_id: s.ioas, length: PAGE_SIZE, src_iova: s.baseIova, dst_iova: s.baseIova + PAGE_SIZE })); // inside one IOAS
  const dst = s.fd.ioasAlloc();
  t.assertEq(0, copy(s, { dst_ioas_id: dst, src_ioas_id: s.ioas, length: PAGE_SIZE, src_iova: s.baseIova, dst_iova: 0n })); // between IOASes
});

ioasFixture.test('iova_ranges', (t, s) => {
  const ranges = s.buffer;
  const cap = Number(BUFFER_SIZE) / iommu_iova_range.size;
  const read = (i: number) => abi.decode(iommu_iova_range, s.m.mem.read(ranges + BigInt(i * iommu_iova_range.size), iommu_iova_range.size));
  const query = (num: number) => {
    const r = s.fd.cmd(IOMMU_IOAS_IOVA_RANGES, iommu_ioas_iova_ranges, { ioas_id: s.ioas, num_iovas: num, allowed_iovas: ranges });
    return { rc: r.rc, num: r.out.num_iovas, align: r.out.out_iova_alignment };
  };
  const clear = () => s.m.mem.write(ranges, new Uint8Array(Number(BUFFER_SIZE)));

  let r = query(cap);
  t.assertEq(0, r.rc);
  t.expectEq(1, r.num);
  if (!s.stdev) {
    t.expectEq(0n, read(0).start);
    t.expectEq(U64_MAX, read(0).last);
    t.expectEq(1n, r.align);
  } else {
    t.expectEq(MOCK_APERTURE_START, read(0).start);
    t.expectEq(MOCK_APERTURE_LAST, read(0).last);
    t.expectEq(MOCK_PAGE_SIZE, r.align);
  }

  clear();
  r = query(0);
  t.expectErrno('EMSGSIZE', r.rc); // buffer too small
  t.expectEq(1, r.num);
  t.expectEq(0n, read(0).start);
  t.expectEq(0n, read(0).last);

  t.assertEq(0, s.fd.addReserved(s.ioas, PAGE_SIZE, PAGE_SIZE));
  r = query(cap);
  t.assertEq(0, r.rc);
  if (!s.stdev) {
    t.expectEq(2, r.num);
    t.expectEq(0n, read(0).start);
    t.expectEq(PAGE_SIZE - 1n, read(0).last);
    t.expectEq(PAGE_SIZE * 2n, read(1).start);
    t.expectEq(U64_MAX, read(1).last);
  } else {
    t.expectEq(1, r.num);
    t.expectEq(MOCK_APERTURE_START, read(0).start);
    t.expectEq(MOCK_APERTURE_LAST, read(0).last);
  }

  clear();
  r = query(1);
  if (!s.stdev) {
    t.expectErrno('EMSGSIZE', r.rc);
    t.expectEq(2, r.num);
    t.expectEq(0n, read(0).start);
    t.expectEq(PAGE_SIZE - 1n, read(0).last);
  } else {
    t.assertEq(0, r.rc);
    t.expectEq(1, r.num);
    t.expectEq(MOCK_APERTURE_START, read(0).start);
    t.expectEq(MOCK_APERTURE_LAST, read(0).last);
  }
  t.expectEq(0n, read(1).start);
  t.expectEq(0n, read(1).last);
  clear();
});

/* Accesses: the emulated-device users of an IOAS (pin for DMA, or read/write through it) */

function createAccess(t: SuiteT, s: Base, ioas: number, flags: number): number {
  const r = s.fd.test(IOMMU_TEST_OP_CREATE_ACCESS, ioas, { create_access: { flags } });
  t.assertEq(0, r.rc);
  return r.out.create_access.out_access_fd;
}

function accessPages(s: Base, access: number, iova: bigint, length: bigint, uptr: bigint) {
  const r = s.fd.test(IOMMU_TEST_OP_ACCESS_PAGES, access, { access_pages: { iova, length, uptr } });
  return { rc: r.rc, id: r.out.access_pages.out_access_pages_id };
}

const destroyAccessPages = (s: Base, access: number, id: number): number => s.fd.test(IOMMU_TEST_OP_DESTROY_ACCESS_PAGES, access, { destroy_access_pages: { access_pages_id: id } }).rc;

ioasFixture.test('access_pin', (t, s) => {
  const access = createAccess(t, s, s.ioas, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
  for (let npages = 1n; npages < BUFFER_SIZE / PAGE_SIZE; npages++) {
    const length = npages * PAGE_SIZE;
    s.fd.map(s.ioas, s.buffer, BUFFER_SIZE, MOCK_APERTURE_START);
    let a = accessPages(s, access, MOCK_APERTURE_START, length, s.buffer);
    t.assertEq(0, a.rc);
    t.assertEq(0, destroyAccessPages(s, access, a.id));

    // Double user
    a = accessPages(s, access, MOCK_APERTURE_START, length, s.buffer);
    t.assertEq(0, a.rc);
    const b = accessPages(s, access, MOCK_APERTURE_START, length, s.buffer);
    t.assertEq(0, b.rc);
    t.assertEq(0, destroyAccessPages(s, access, b.id));
    t.assertEq(0, destroyAccessPages(s, access, a.id));

    // Add/remove a domain with a user
    a = accessPages(s, access, MOCK_APERTURE_START, length, s.buffer);
    t.assertEq(0, a.rc);
    const d = s.fd.mockDomain(s.ioas);
    s.fd.checkMockIova([d.hwpt], s.buffer, MOCK_APERTURE_START, BUFFER_SIZE);
    s.fd.destroy(d.stdev);
    t.assertEq(0, destroyAccessPages(s, access, a.id));
    s.fd.unmap(s.ioas, MOCK_APERTURE_START, BUFFER_SIZE);
  }
  t.assertEq(0, s.m.sys.close(access));
});

ioasFixture.test('access_pin_unmap', (t, s) => {
  const access = createAccess(t, s, s.ioas, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
  s.fd.map(s.ioas, s.buffer, BUFFER_SIZE, MOCK_APERTURE_START);
  const a = accessPages(s, access, MOCK_APERTURE_START, BUFFER_SIZE, s.buffer);
  t.assertEq(0, a.rc);
  s.fd.unmap(s.ioas, MOCK_APERTURE_START, BUFFER_SIZE);
  t.expectErrno('ENOENT', destroyAccessPages(s, access, a.id)); // the unmap callback removed it
});

/**
 * The lengths of the byte sweep: the selftest tries every one below sizeof(tmp) = 64.
 * @note emulation: a subset (each side of 1, 8, 32 and the largest), for run time; the offsets
 * are all of the selftest's.
 */
const RW_LENGTHS = [1, 2, 3, 7, 8, 9, 16, 31, 32, 33, 50, 63];

/**
 * check_access_rw: fill the buffer with random data, then read and write through the access at
 * every byte offset ±50 around a page boundary; then one whole-buffer read.
 */
function checkAccessRw(t: SuiteT, s: Base, access: number, iova: bigint, defFlags: number): void {
  const next = rng(0x5eed);
  s.m.mem.write(s.buffer, randomBytes(Number(BUFFER_SIZE), next));
  const tmp = s.fd.mmap(PAGE_SIZE);
  for (let at = iova + PAGE_SIZE - 50n; at < iova + PAGE_SIZE + 50n; at++) {
    for (const length of RW_LENGTHS) {
      const off = s.buffer + (at - iova);
      t.assertEq(0, s.fd.test(IOMMU_TEST_OP_ACCESS_RW, access, { access_rw: { iova: at, length: BigInt(length), uptr: tmp, flags: defFlags } }).rc);
      t.assertTrue(equal(s.m.mem.read(off, length), s.m.mem.read(tmp, length)));
      s.m.mem.write(tmp, randomBytes(64, next));
      t.assertEq(0, s.fd.test(IOMMU_TEST_OP_ACCESS_RW, access, { access_rw: { iova: at, length: BigInt(length), uptr: tmp, flags: defFlags | MOCK_ACCESS_RW_WRITE } }).rc);
      t.assertTrue(equal(s.m.mem.read(off, length), s.m.mem.read(tmp, length)));
    }
  }
  const all = s.fd.mmap(BUFFER_SIZE);
  t.assertEq(0, s.fd.test(IOMMU_TEST_OP_ACCESS_RW, access, { access_rw: { iova, length: BUFFER_SIZE, uptr: all, flags: defFlags } }).rc);
  t.assertTrue(equal(s.m.mem.read(s.buffer, Number(BUFFER_SIZE)), s.m.mem.read(all, Number(BUFFER_SIZE))));
}

ioasFixture.test('access_rw', (t, s) => {
  const access = createAccess(t, s, s.ioas, 0);
  const iova = s.fd.map(s.ioas, s.buffer, BUFFER_SIZE);
  checkAccessRw(t, s, access, iova, 0);
  checkAccessRw(t, s, access, iova, MOCK_ACCESS_RW_SLOW_PATH);
  s.fd.unmap(s.ioas, iova, BUFFER_SIZE);
  t.assertEq(0, s.m.sys.close(access));
});

ioasFixture.test('access_rw_unaligned', (t, s) => {
  const access = createAccess(t, s, s.ioas, 0);
  const iova = s.baseIova + MOCK_PAGE_SIZE;
  s.fd.map(s.ioas, s.buffer, BUFFER_SIZE, iova);
  checkAccessRw(t, s, access, iova, 0);
  s.fd.unmap(s.ioas, iova, BUFFER_SIZE);
  t.assertEq(0, s.m.sys.close(access));
});

/** A child maps the (shared) buffer into the fd it inherited, then exits. */
function mapFromChild(t: SuiteT, s: Ioas, stayAlive: boolean) {
  const child = s.m.init.fork();
  const p = child.sys.mmap(PAGE_SIZE);
  child.mem.write(
    p,
    abi.encode(iommu_ioas_map, { size: iommu_ioas_map.size, flags: IOMMU_IOAS_MAP_FIXED_IOVA | RW, ioas_id: s.ioas, user_va: s.buffer, length: BUFFER_SIZE, iova: MOCK_APERTURE_START }),
  );
  t.assertEq(0, child.sys.ioctl(s.fd.fd, IOMMU_IOAS_MAP, p));
  if (!stayAlive) child.exit(0);
  return child;
}

ioasFixture.test('fork_gone', (t, s) => {
  const access = createAccess(t, s, s.ioas, 0);
  mapFromChild(t, s, false);
  if (s.stdev) {
    // A domain pinned everything inside the child: this copies from one domain to another.
    s.fd.mockDomain(s.ioas);
    checkAccessRw(t, s, access, MOCK_APERTURE_START, 0);
  } else {
    // Pinning now would need the child's mm, which is gone.
    t.expectErrno('EFAULT', s.fd.tryMockDomain(s.ioas).rc);
  }
  t.assertEq(0, s.m.sys.close(access));
});

ioasFixture.test('fork_present', (t, s) => {
  const access = createAccess(t, s, s.ioas, 0);
  const child = mapFromChild(t, s, true);
  s.fd.mockDomain(s.ioas);
  checkAccessRw(t, s, access, MOCK_APERTURE_START, 0);
  child.exit(0);
  t.assertEq(0, s.m.sys.close(access));
});

ioasFixture.test('ioas_option_huge_pages', (t, s) => {
  let r = option(s.fd, IOMMU_OPTION_HUGE_PAGES, IOMMU_OPTION_OP_GET, 3n, s.ioas);
  t.assertEq(0, r.rc);
  t.assertEq(1n, r.val64);
  t.assertEq(0, option(s.fd, IOMMU_OPTION_HUGE_PAGES, IOMMU_OPTION_OP_SET, 0n, s.ioas).rc);
  r = option(s.fd, IOMMU_OPTION_HUGE_PAGES, IOMMU_OPTION_OP_GET, 3n, s.ioas);
  t.assertEq(0, r.rc);
  t.assertEq(0n, r.val64);
  t.expectErrno('EINVAL', option(s.fd, IOMMU_OPTION_HUGE_PAGES, IOMMU_OPTION_OP_SET, 2n, s.ioas).rc);
  t.assertEq(0, option(s.fd, IOMMU_OPTION_HUGE_PAGES, IOMMU_OPTION_OP_SET, 1n, s.ioas).rc);
});

ioasFixture.test('ioas_iova_alloc', (t, s, v) => {
  for (let length = 1n; length !== PAGE_SIZE * 2n; length++) {
    if (v.mockDomains && length % MOCK_PAGE_SIZE) {
      s.fd.errMap('EINVAL', s.ioas, s.buffer, length);
    } else {
      const iova = s.fd.map(s.ioas, s.buffer, length);
      s.fd.unmap(s.ioas, iova, length);
    }
  }
});

ioasFixture.test('ioas_align_change', (t, s, v) => {
  // The alignment cannot be raised with OPTION_HUGE_PAGES while a domain and a map exist.
  if (v.mockDomains) return;
  const set = (val64: bigint) => option(s.fd, IOMMU_OPTION_HUGE_PAGES, IOMMU_OPTION_OP_SET, val64, s.ioas).rc;
  s.fd.map(s.ioas, s.buffer, PAGE_SIZE, MOCK_APERTURE_START);
  t.assertEq(0, set(0n)); // PAGE_SIZE alignment when everything is aligned
  s.fd.errMap('EINVAL', s.ioas, s.buffer + MOCK_PAGE_SIZE, PAGE_SIZE, MOCK_APERTURE_START + PAGE_SIZE);
  t.assertEq(0, set(0n));
  t.assertEq(0, set(1n));
  s.fd.map(s.ioas, s.buffer + MOCK_PAGE_SIZE, PAGE_SIZE, MOCK_APERTURE_START + PAGE_SIZE);
  t.expectErrno('EADDRINUSE', set(0n)); // a misaligned area blocks the upgrade
  s.fd.unmap(s.ioas, MOCK_APERTURE_START + PAGE_SIZE, PAGE_SIZE);
  s.fd.unmap(s.ioas, MOCK_APERTURE_START, PAGE_SIZE);
});

ioasFixture.test('copy_sweep', (t, s, v) => {
  const dst = s.fd.ioasAlloc();
  const last = v.mockDomains ? MOCK_APERTURE_START + BUFFER_SIZE - 1n : MOCK_APERTURE_START + BUFFER_SIZE - 2n;
  s.fd.map(s.ioas, s.buffer, last - MOCK_APERTURE_START + 1n, MOCK_APERTURE_START);
  for (let iova = MOCK_APERTURE_START - PAGE_SIZE; iova <= last; iova += 511n) {
    const rc = copy(s, { src_ioas_id: s.ioas, dst_ioas_id: dst, dst_iova: MOCK_APERTURE_START, length: MOCK_PAGE_SIZE, src_iova: iova });
    if (iova < MOCK_APERTURE_START || iova + MOCK_PAGE_SIZE - 1n > last) {
      t.expectErrno('ENOENT', rc);
    } else {
      t.assertEq(0, rc);
      s.fd.unmap(dst, MOCK_APERTURE_START, MOCK_PAGE_SIZE);
    }
  }
  s.fd.destroy(dst);
});

/* ---------------------------------------------------------------- FIXTURE(iommufd_mock_domain) */

interface MockDomain extends Base {
  readonly ioas: number;
  readonly hwpts: number[];
  readonly stdevs: number[];
  readonly idevs: number[];
  readonly bufSize: bigint;
}

const mockDomain = h.fixture<MockDomain, { domains: number }>('iommufd_mock_domain', {
  setup(t, v) {
    const b = openBase(t);
    const ioas = b.fd.ioasAlloc();
    const hwpts: number[] = [];
    const stdevs: number[] = [];
    const idevs: number[] = [];
    for (let i = 0; i < v.domains; i++) {
      const d = b.fd.mockDomain(ioas);
      hwpts.push(d.hwpt);
      stdevs.push(d.stdev);
      idevs.push(d.idev);
    }
    return { ...b, ioas, hwpts, stdevs, idevs, bufSize: PAGE_SIZE * 8n };
  },
  teardown: (t, s) => teardownIommufd(t, s.k, s.fd),
});
mockDomain.variant('one_domain', { domains: 1 });
mockDomain.variant('two_domains', { domains: 2 });

mockDomain.test('basic', (t, s) => {
  const iova = s.fd.map(s.ioas, s.buffer, PAGE_SIZE);
  s.fd.checkMockIova(s.hwpts, s.buffer, iova, PAGE_SIZE);
  const buf = s.m.sys.mmap(s.bufSize, { flags: 0 });
  t.assertEq(0, s.m.sys.munmap(buf + s.bufSize / 2n, s.bufSize / 2n));
  s.fd.errMap('EFAULT', s.ioas, buf, s.bufSize, undefined);
  t.assertEq(0, s.m.sys.munmap(buf, s.bufSize / 2n));
  s.fd.errMap('EFAULT', s.ioas, buf, s.bufSize, undefined);
});

/** Map every (start, end) pair of MOCK_PAGE_SIZE granularity in an 8-page buffer; `extra` adds and drops a domain meanwhile. */
function allAligns(t: SuiteT, s: MockDomain, extra: boolean): void {
  const buf = s.fd.mmap(s.bufSize);
  s.fd.checkRefs(buf, s.bufSize, 0);
  for (let start = 0n; start < s.bufSize; start += MOCK_PAGE_SIZE) {
    for (let end = start + MOCK_PAGE_SIZE; end < s.bufSize; end += MOCK_PAGE_SIZE) {
      const length = end - start;
      const iova = s.fd.map(s.ioas, buf + start, length);
      let hwpts = s.hwpts;
      let stdev = 0;
      if (extra) {
        const d = s.fd.mockDomain(s.ioas);
        stdev = d.stdev;
        hwpts = [s.hwpts[0]!, d.hwpt];
      }
      s.fd.checkMockIova(hwpts, buf + start, iova, length);
      const first = (start / PAGE_SIZE) * PAGE_SIZE;
      s.fd.checkRefs(buf + first, (end / PAGE_SIZE) * PAGE_SIZE - first, 1);
      if (extra) s.fd.destroy(stdev);
      s.fd.unmap(s.ioas, iova, length);
    }
  }
  s.fd.checkRefs(buf, s.bufSize, 0);
}

mockDomain.test('all_aligns', (t, s) => allAligns(t, s, false));
mockDomain.test('all_aligns_copy', (t, s) => allAligns(t, s, true));

mockDomain.test('user_copy', (t, s) => {
  const copyTo = (src: number, srcIova: bigint) =>
    copy(s, { dst_ioas_id: s.ioas, dst_iova: MOCK_APERTURE_START, length: BUFFER_SIZE, src_ioas_id: src, src_iova: srcIova });
  // Pin the pages in an IOAS with no domains, then copy to an IOAS with domains.
  const ioas = s.fd.ioasAlloc();
  let srcIova = s.fd.map(ioas, s.buffer, BUFFER_SIZE);
  const access = createAccess(t, s, ioas, MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
  let a = accessPages(s, access, srcIova, BUFFER_SIZE, s.buffer);
  t.assertEq(0, a.rc);
  t.assertEq(0, copyTo(ioas, srcIova));
  s.fd.checkMockIova(s.hwpts, s.buffer, MOCK_APERTURE_START, BUFFER_SIZE);

  // Replace the IOAS of the access with a new one
  const newIoas = s.fd.ioasAlloc();
  srcIova = s.fd.map(newIoas, s.buffer, BUFFER_SIZE);
  t.assertEq(0, s.fd.test(IOMMU_TEST_OP_ACCESS_REPLACE_IOAS, access, { access_replace_ioas: { ioas_id: newIoas } }).rc);
  s.fd.unmap(s.ioas, MOCK_APERTURE_START, BUFFER_SIZE);
  s.fd.destroy(ioas);

  a = accessPages(s, access, srcIova, BUFFER_SIZE, s.buffer);
  t.assertEq(0, a.rc);
  t.assertEq(0, copyTo(newIoas, srcIova));
  s.fd.checkMockIova(s.hwpts, s.buffer, MOCK_APERTURE_START, BUFFER_SIZE);
  t.assertEq(0, destroyAccessPages(s, access, a.id));
  t.assertEq(0, s.m.sys.close(access));
  s.fd.destroy(newIoas);
});

mockDomain.test('replace', (t, s, v) => {
  const ioas = s.fd.ioasAlloc();
  s.fd.replace(s.stdevs[0]!, ioas);
  // Replacing the IOAS frees the prior automatic HWPT.
  if (v.domains === 1) t.expectErrno('ENOENT', s.fd.tryReplace(s.stdevs[0]!, s.hwpts[0]!));
  s.fd.replace(s.stdevs[0]!, ioas);
  if (v.domains >= 2) {
    s.fd.replace(s.stdevs[0]!, s.hwpts[1]!);
    s.fd.replace(s.stdevs[0]!, s.hwpts[1]!);
    s.fd.replace(s.stdevs[0]!, s.hwpts[0]!);
  }
  s.fd.replace(s.stdevs[0]!, s.ioas);
  s.fd.destroy(ioas);
});

mockDomain.test('alloc_hwpt', (t, s, v) => {
  if (!s.m.kernel.has('iommufd_hwpt_alloc')) t.skip(`kernel ${s.m.kernel.release}: no IOMMU_HWPT_ALLOC`);
  for (let i = 0; i < v.domains; i++) {
    t.expectErrno('EOPNOTSUPP', s.fd.tryHwptAlloc(s.idevs[i]!, s.ioas, ~IOMMU_HWPT_ALLOC_NEST_PARENT >>> 0).rc);
    const h0 = s.fd.hwptAlloc(s.idevs[i]!, s.ioas, 0);
    const h1 = s.m.kernel.has('iommufd_nesting') ? s.fd.hwptAlloc(s.idevs[i]!, s.ioas, IOMMU_HWPT_ALLOC_NEST_PARENT) : s.fd.hwptAlloc(s.idevs[i]!, s.ioas, 0);
    s.fd.replace(s.stdevs[i]!, h0);
    t.expectErrno('EBUSY', s.fd.tryDestroy(h0));
    s.fd.replace(s.stdevs[i]!, h1);
    t.expectErrno('EBUSY', s.fd.tryDestroy(h1));
    s.fd.replace(s.stdevs[i]!, s.ioas);
    s.fd.destroy(h1);
    const d = s.fd.mockDomain(h0);
    s.fd.destroy(d.stdev);
    s.fd.destroy(h0);
  }
});

/* ---------------------------------------------------------------- FIXTURE(iommufd_dirty_tracking) */

interface Dirty extends Base {
  readonly ioas: number;
  readonly hwpt: number;
  readonly stdev: number;
  readonly idev: number;
  readonly dbuf: bigint;
  readonly bitmap: bigint;
  readonly bitmapBits: bigint;
}

const dirty = h.fixture<Dirty, { bufferSize: bigint }>('iommufd_dirty_tracking', {
  setup(t, v) {
    const b = openBase(t, 'iommufd_dirty_tracking');
    const dbuf = b.fd.mmap(v.bufferSize, 0x01 /* MAP_SHARED */);
    const bitmapBits = v.bufferSize / MOCK_PAGE_SIZE;
    // One extra page for the unaligned bitmaps.
    const bitmap = b.fd.mmap(((bitmapBits + 7n) / 8n + 2n * PAGE_SIZE) & ~(PAGE_SIZE - 1n));
    const ioas = b.fd.ioasAlloc();
    const d = b.fd.mockDomain(ioas);
    return { ...b, ioas, hwpt: d.hwpt, stdev: d.stdev, idev: d.idev, dbuf, bitmap, bitmapBits };
  },
  teardown: (t, s) => teardownIommufd(t, s.k, s.fd),
});
for (const [name, kib] of [
  ['domain_dirty8k', 8n],
  ['domain_dirty16k', 16n],
  ['domain_dirty64k', 64n],
  ['domain_dirty128k', 128n],
  ['domain_dirty320k', 320n],
] as const)
  dirty.variant(name, { bufferSize: kib * 1024n });

dirty.test('enforce_dirty', (t, s) => {
  const hwpt = s.fd.hwptAlloc(s.idev, s.ioas, IOMMU_HWPT_ALLOC_DIRTY_TRACKING);
  const d = s.fd.mockDomain(hwpt);
  t.expectErrno('EINVAL', s.fd.tryMockDomain(hwpt, MOCK_FLAGS_DEVICE_NO_DIRTY).rc); // a device without dirty tracking on a dirty-tracking HWPT
  s.fd.destroy(d.stdev);
  s.fd.destroy(hwpt);

  const ioas = s.fd.ioasAlloc();
  const nd = s.fd.mockDomain(ioas, MOCK_FLAGS_DEVICE_NO_DIRTY);
  t.expectErrno('EOPNOTSUPP', s.fd.tryHwptAlloc(nd.idev, ioas, IOMMU_HWPT_ALLOC_DIRTY_TRACKING).rc); // the IOMMU of the device cannot track
  s.fd.destroy(nd.stdev);
});

const setDirtyTracking = (s: Base, hwpt: number, on: boolean): number =>
  s.fd.cmd(IOMMU_HWPT_SET_DIRTY_TRACKING, iommu_hwpt_set_dirty_tracking, { flags: on ? IOMMU_HWPT_DIRTY_TRACKING_ENABLE : 0, hwpt_id: hwpt }).rc;

dirty.test('set_dirty_tracking', (t, s) => {
  const hwpt = s.fd.hwptAlloc(s.idev, s.ioas, IOMMU_HWPT_ALLOC_DIRTY_TRACKING);
  const d = s.fd.mockDomain(hwpt);
  t.assertEq(0, setDirtyTracking(s, hwpt, true));
  t.assertEq(0, setDirtyTracking(s, hwpt, false));
  s.fd.destroy(d.stdev);
  s.fd.destroy(hwpt);
});

dirty.test('device_dirty_capability', (t, s) => {
  const hwpt = s.fd.hwptAlloc(s.idev, s.ioas, 0);
  const d = s.fd.mockDomain(hwpt);
  const caps = checkHwInfo(t, s, s.idev, IOMMU_HW_INFO_TYPE_DEFAULT, 0n, 0);
  t.assertEq(BigInt(IOMMU_HW_CAP_DIRTY_TRACKING), caps & BigInt(IOMMU_HW_CAP_DIRTY_TRACKING));
  s.fd.destroy(d.stdev);
  s.fd.destroy(hwpt);
});

/**
 * test_mock_dirty_bitmaps: the mock marks every other PTE dirty (IOMMU_TEST_OP_DIRTY), the user
 * bitmap shows exactly those, and a second read shows none (or the same with NO_CLEAR).
 */
function mockDirtyBitmaps(t: SuiteT, s: Dirty, hwpt: number, length: bigint, pageSize: bigint, pteSize: bigint, bitmap: bigint, nbits: bigint, flags: number): void {
  const npte = pteSize / pageSize;
  const pteset = 2n * npte;
  const nr = nbits / pteset || 1n;
  const bytes = Number((nbits + 7n) / 8n);
  const marks = new Uint8Array(bytes);
  for (let i = 0n; i < nbits; i += pteset) marks[Number(i / 8n)]! |= 1 << Number(i % 8n);
  s.m.mem.write(bitmap, marks);
  const r = s.fd.test(IOMMU_TEST_OP_DIRTY, hwpt, { dirty: { iova: MOCK_APERTURE_START, length, page_size: pageSize, uptr: bitmap } });
  t.assertEq(0, r.rc);
  t.assertEq(nr, r.out.dirty.out_nr_dirty);

  const get = () => {
    s.m.mem.write(bitmap, new Uint8Array(bytes));
    const g = s.fd.cmd(IOMMU_HWPT_GET_DIRTY_BITMAP, iommu_hwpt_get_dirty_bitmap, { hwpt_id: hwpt, flags, iova: MOCK_APERTURE_START, length, page_size: pageSize, data: bitmap });
    t.assertEq(0, g.rc);
  };
  get();
  for (let i = 0n; i < nbits; i += pteset) {
    for (let j = 0n; j < pteset; j++) if (!t.expectEq(j < npte, testBit(s.m, bitmap, i + j))) return void t.log('bit %d after the first read', i + j);
  }
  get();
  for (let i = 0n; i < nbits; i += pteset) {
    for (let j = 0n; j < pteset; j++)
      if (!t.expectEq(j < npte && (flags & IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR) !== 0, testBit(s.m, bitmap, i + j))) return void t.log('bit %d after the second read', i + j);
  }
}

function dirtyBitmapTest(t: SuiteT, s: Dirty, v: { bufferSize: bigint }, flags: number): void {
  const ioas = s.fd.ioasAlloc();
  s.fd.map(ioas, s.dbuf, v.bufferSize, MOCK_APERTURE_START);
  const hwpt = s.fd.hwptAlloc(s.idev, ioas, IOMMU_HWPT_ALLOC_DIRTY_TRACKING);
  t.assertEq(0, setDirtyTracking(s, hwpt, true));
  for (const off of [0n, MOCK_PAGE_SIZE, 0xff1n]) mockDirtyBitmaps(t, s, hwpt, v.bufferSize, MOCK_PAGE_SIZE, MOCK_PAGE_SIZE, s.bitmap + off, s.bitmapBits, flags);
  s.fd.destroy(hwpt);
}

dirty.test('get_dirty_bitmap', (t, s, v) => dirtyBitmapTest(t, s, v, 0));
dirty.test('get_dirty_bitmap_no_clear', (t, s, v) => dirtyBitmapTest(t, s, v, IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR));

/* ---------------------------------------------------------------- FIXTURE(vfio_compat_mock_domain) */

interface Compat extends Base {
  readonly ioas: number;
}

const compat = h.fixture<Compat, { version: number }>('vfio_compat_mock_domain', {
  setup(t, v) {
    const b = openBase(t);
    const ioas = b.fd.ioasAlloc();
    b.fd.mockDomain(ioas); // what VFIO would consider a group
    t.assertEq(0, b.fd.cmd(IOMMU_VFIO_IOAS, iommu_vfio_ioas, { op: IOMMU_VFIO_IOAS_SET, ioas_id: ioas }).rc);
    t.assertEq(0, b.fd.ioctl(VFIO_SET_IOMMU, v.version));
    return { ...b, ioas };
  },
  teardown: (t, s) => teardownIommufd(t, s.k, s.fd),
});
compat.variant('Ver1v2', { version: VFIO_TYPE1v2_IOMMU });
compat.variant('Ver1v0', { version: VFIO_TYPE1_IOMMU });

compat.test('simple_close', () => {});

compat.test('option_huge_pages', (t, s, v) => {
  const r = option(s.fd, IOMMU_OPTION_HUGE_PAGES, IOMMU_OPTION_OP_GET, 3n, s.ioas);
  t.assertEq(0, r.rc);
  t.assertEq(v.version === VFIO_TYPE1_IOMMU ? 0n : 1n, r.val64);
});

/** ioctl_check_buf: the command is in the global buffer; everything past its argsz must stay 0xAA. */
function ioctlCheckBuf(t: SuiteT, s: Compat, req: number): void {
  const len = new DataView(s.m.mem.read(s.buffer, 4).buffer).getUint32(0, true);
  s.m.mem.write(s.buffer + BigInt(len), new Uint8Array(Number(BUFFER_SIZE) - len).fill(0xaa));
  t.assertEq(0, s.fd.ioctl(req, s.buffer));
  t.assertTrue(s.m.mem.read(s.buffer + BigInt(len), Number(BUFFER_SIZE) - len).every(b => b === 0xaa));
}

function checkInfoCapChain(t: SuiteT, s: Compat, info: abi.Decoded<typeof vfio_iommu_type1_info>): void {
  t.assertLe(info.cap_offset + vfio_info_cap_header.size, info.argsz);
  let off = info.cap_offset;
  for (;;) {
    const cap = abi.decode(vfio_info_cap_header, s.m.mem.read(s.buffer + BigInt(off), vfio_info_cap_header.size));
    const capSize = (cap.next ? cap.next : info.argsz) - off;
    if (cap.id === VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
      const data = abi.decode(vfio_iommu_type1_info_cap_iova_range, s.m.mem.read(s.buffer + BigInt(off), vfio_iommu_type1_info_cap_iova_range.size));
      t.assertEq(1, data.header.version);
      t.assertEq(1, data.nr_iovas);
      const r = abi.decode(vfio_iova_range, s.m.mem.read(s.buffer + BigInt(off + vfio_iommu_type1_info_cap_iova_range.size), vfio_iova_range.size));
      t.expectEq(MOCK_APERTURE_START, r.start);
      t.expectEq(MOCK_APERTURE_LAST, r.end);
    } else if (cap.id === VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL) {
      t.assertEq(1, cap.version);
      // sizeof(struct vfio_iommu_type1_info_dma_avail), padded to 8 once chains are aligned.
      const size = vfio_iommu_type1_info_dma_avail.size;
      t.assertEq(s.m.kernel.has('vfio_caps_aligned') ? (size + 7) & ~7 : size, capSize);
    } else {
      t.assertTrue(false); // unknown capability ${cap.id}
    }
    if (!cap.next) break;
    t.assertLe(cap.next + vfio_info_cap_header.size, info.argsz);
    t.assertLe(off, cap.next);
    off = cap.next;
  }
}

compat.test('get_info', (t, s) => {
  const info = () => abi.decode(vfio_iommu_type1_info, s.m.mem.read(s.buffer, vfio_iommu_type1_info.size));
  const ask = (argsz: number) => s.m.mem.write(s.buffer, abi.encode(vfio_iommu_type1_info, { argsz }));
  const FLAGS = VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS;
  // Pre-cap ABI
  ask(abi.offsetof(vfio_iommu_type1_info, 'cap_offset'));
  ioctlCheckBuf(t, s, VFIO_IOMMU_GET_INFO);
  t.assertNe(0n, info().iova_pgsizes);
  t.assertEq(FLAGS, info().flags);
  // The size of the cap chain
  ask(vfio_iommu_type1_info.size);
  ioctlCheckBuf(t, s, VFIO_IOMMU_GET_INFO);
  t.assertNe(0n, info().iova_pgsizes);
  t.assertEq(FLAGS, info().flags);
  t.assertEq(0, info().cap_offset);
  t.assertLt(vfio_iommu_type1_info.size, info().argsz);
  // Every size in between: the kernel never writes a corrupted chain.
  const capLen = info().argsz;
  for (let i = vfio_iommu_type1_info.size; i < capLen; i++) {
    ask(i);
    ioctlCheckBuf(t, s, VFIO_IOMMU_GET_INFO);
    t.assertEq(FLAGS, info().flags);
    if (info().cap_offset) checkInfoCapChain(t, s, info());
  }
  s.m.mem.write(s.buffer, new Uint8Array(Number(BUFFER_SIZE)));
});

compat.test('map', (t, s) => {
  const map = (vaddr: bigint, iova: bigint, size: bigint) =>
    s.fd.ioctl(VFIO_IOMMU_MAP_DMA, s.fd.put(vfio_iommu_type1_dma_map, { argsz: vfio_iommu_type1_dma_map.size, flags: VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE, vaddr, iova, size }));
  const unmap = (iova: bigint, size: bigint, flags = 0) => {
    const p = s.fd.put(vfio_iommu_type1_dma_unmap, { argsz: vfio_iommu_type1_dma_unmap.size, flags, iova, size });
    const rc = s.fd.ioctl(VFIO_IOMMU_UNMAP_DMA, p);
    return { rc, size: s.fd.get(vfio_iommu_type1_dma_unmap, p).size };
  };
  t.assertEq(0, map(s.buffer, MOCK_APERTURE_START, BUFFER_SIZE));
  let u = unmap(MOCK_APERTURE_START, BUFFER_SIZE);
  t.assertEq(0, u.rc);
  t.assertEq(BUFFER_SIZE, u.size);
  // The empty unmap: ENOENT until "iommufd: Make vfio_compats unmap succeed if the range is already empty".
  if (s.m.kernel.has('iommufd_compat_unmap_empty_ok')) t.assertEq(0, unmap(MOCK_APERTURE_START, BUFFER_SIZE).rc);
  else t.expectErrno('ENOENT', unmap(MOCK_APERTURE_START, BUFFER_SIZE).rc);

  // UNMAP_FLAG_ALL requires 0 iova/size
  t.assertEq(0, map(s.buffer, MOCK_APERTURE_START, BUFFER_SIZE));
  t.expectErrno('EINVAL', unmap(MOCK_APERTURE_START, BUFFER_SIZE, VFIO_DMA_UNMAP_FLAG_ALL).rc);
  u = unmap(0n, 0n, VFIO_DMA_UNMAP_FLAG_ALL);
  t.assertEq(0, u.rc);
  t.assertEq(BUFFER_SIZE, u.size);

  // Small pages, unmapped in a shuffled order
  const pages: bigint[] = [];
  for (let i = 0n; i < BUFFER_SIZE / PAGE_SIZE; i++) {
    pages.push(MOCK_APERTURE_START + i * PAGE_SIZE);
    t.assertEq(0, map(s.buffer + i * PAGE_SIZE, MOCK_APERTURE_START + i * PAGE_SIZE, PAGE_SIZE));
  }
  const next = rng(7);
  for (let i = 0; i < pages.length; i++) {
    const other = next() % (pages.length - i);
    [pages[i], pages[other]] = [pages[other]!, pages[i]!];
  }
  for (const iova of pages) t.assertEq(0, unmap(iova, PAGE_SIZE).rc);
});

export const main = h.main;
h.runIfMain(module);
