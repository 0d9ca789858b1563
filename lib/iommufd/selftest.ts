// SPDX-License-Identifier: GPL-2.0-only
/**
 * drivers/iommu/iommufd/selftest.c (studied at 6.12.117) — CONFIG_IOMMUFD_TEST: the mock IOMMU
 * driver tools/testing/selftests/iommu runs against, registered with the IOMMU core like any
 * driver, and IOMMU_TEST_CMD.
 *
 * - Mock devices (iommufd_mockN, each in a group of its own) are created by MOCK_DOMAIN, bound
 *   to the context and attached to an IOAS or HWPT; destroying the selftest object undoes it.
 * - Mock paging domains map 2 KiB mock pages (MOCK_IO_PAGE_SIZE) in the aperture
 *   [MOCK_APERTURE_START, MOCK_APERTURE_LAST]; every entry remembers the CPU page and offset it
 *   points at and a dirty bit, which MD_CHECK_MAP and the dirty-tracking ops read.
 * - Mock nested domains keep a 4-entry IOTLB that HWPT_INVALIDATE clears.
 * - Access objects (an fd each) pin pages and read and write through the IOAS into the owning
 *   process's live memory.
 *
 * @note emulation: mock devices and their groups are not in /sys (the kernel's are, on the
 * iommufd_mock bus), and their group ids come from their own counter.
 */
import { encode, decode, copyFromUser, copyToUser } from '../abi';
import { kerr } from '../errno';
import type { IommuOps, IommuUserData } from '../iommu/drivers';
import { PAGE_SIZE } from '../kernel/page';
import type { IommuDirtyOps, IommuDomain, IommuDomainOps, IommuGroup, IommuUnit, PciDevice } from '../model/host';
import { Ida } from '../model/ida';
import { range } from '../model/iova';
import { File, FileOperations, anonInodeGetfile, fput } from '../task/file_table';
import type { IommuDriver, IommuSpec } from '../topology/topology';
import { O_CLOEXEC, O_RDWR } from '../uapi/fcntl';
import { IOMMU_HWPT_ALLOC_DIRTY_TRACKING, IOMMU_HWPT_ALLOC_NEST_PARENT, IOMMU_PGFAULT_FLAGS_LAST_PAGE, IOMMU_PGFAULT_FLAGS_PASID_VALID } from '../uapi/iommufd';
import {
  IOMMU_HWPT_DATA_SELFTEST,
  IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
  IOMMU_HW_INFO_SELFTEST_REGVAL,
  IOMMU_HW_INFO_TYPE_SELFTEST,
  IOMMU_TEST_INVALIDATE_FLAG_ALL,
  IOMMU_TEST_OP_ACCESS_PAGES,
  IOMMU_TEST_OP_ACCESS_REPLACE_IOAS,
  IOMMU_TEST_OP_ACCESS_RW,
  IOMMU_TEST_OP_ADD_RESERVED,
  IOMMU_TEST_OP_CREATE_ACCESS,
  IOMMU_TEST_OP_DESTROY_ACCESS_PAGES,
  IOMMU_TEST_OP_DIRTY,
  IOMMU_TEST_OP_MD_CHECK_IOTLB,
  IOMMU_TEST_OP_MD_CHECK_MAP,
  IOMMU_TEST_OP_MD_CHECK_REFS,
  IOMMU_TEST_OP_MOCK_DOMAIN,
  IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS,
  IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE,
  IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT,
  IOMMU_TEST_OP_TRIGGER_IOPF,
  MOCK_ACCESS_RW_SLOW_PATH,
  MOCK_ACCESS_RW_WRITE,
  MOCK_APERTURE_LAST,
  MOCK_APERTURE_START,
  MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES,
  MOCK_FLAGS_ACCESS_SYZ,
  MOCK_FLAGS_ACCESS_WRITE,
  MOCK_FLAGS_DEVICE_HUGE_IOVA,
  MOCK_FLAGS_DEVICE_NO_DIRTY,
  MOCK_NESTED_DOMAIN_IOTLB_ID_MAX,
  MOCK_NESTED_DOMAIN_IOTLB_NUM,
  iommu_hwpt_invalidate_selftest,
  iommu_hwpt_selftest,
  iommu_test_cmd,
  iommu_test_hw_info,
} from '../uapi/iommufd_test';
import type { IommufdDevice } from './device';
import {
  IommufdAccess,
  iommufdAccessAttach,
  iommufdAccessCreate,
  iommufdAccessDestroy,
  iommufdAccessPinPages,
  iommufdAccessReplace,
  iommufdAccessRw,
  iommufdAccessUnpinPages,
  iommufdDeviceAttach,
  iommufdDeviceBind,
  iommufdDeviceDetach,
  iommufdDeviceReplace,
  iommufdDeviceUnbind,
} from './device';
import type { IommufdHwPagetable } from './hw_pagetable';
import { ULONG_MAX } from './io_pagetable';
import { iommufdGetIoas } from './ioas';
import type { IommufdCtx, IommufdObject, IommufdState, IommufdUcmd } from './main';

export const MOCK_IO_PAGE_SIZE = PAGE_SIZE / 2n;
export const MOCK_HUGE_PAGE_SIZE = 512n * MOCK_IO_PAGE_SIZE;
/** The mock driver's name in the IOMMU core. */
export const MOCK_DRIVER = 'iommufd-mock';
/** `iommufd_test_memory_limit`'s initial value. */
const MEMORY_LIMIT_DEFAULT = 65536;
/** Mock groups' ids start here (they are not in the IOMMU core's table). */
const MOCK_GROUP_ID_BASE = 0x10000;

/** One mock page-table entry: the CPU page and offset it maps, and its bits. */
interface MockPfn {
  readonly page: Uint8Array;
  readonly offset: number;
  dirty: boolean;
  readonly huge: boolean;
}

/** `struct mock_iommu_domain` */
interface MockDomain extends IommuDomain {
  readonly mock: { tracking: boolean; readonly pfns: Map<bigint, MockPfn> };
}

/** `struct mock_iommu_domain_nested` */
interface MockNestedDomain extends IommuDomain {
  readonly parentDomain: MockDomain;
  readonly iotlb: number[];
}

/** `struct mock_dev` */
interface MockDev extends PciDevice {
  readonly mockFlags: number;
  readonly mockId: number;
}

/** The selftest's module state. */
export class MockState {
  memoryLimit = MEMORY_LIMIT_DEFAULT;
  readonly devIda = new Ida();
  private nextGroup = MOCK_GROUP_ID_BASE;
  readonly unit: IommuUnit;

  constructor(readonly st: IommufdState) {
    const spec = { name: 'iommufd_selftest_iommu', driver: MOCK_DRIVER as IommuDriver, interruptRemapping: true, htRangeIgnore: false } as IommuSpec;
    this.unit = {
      spec,
      name: spec.name,
      driver: spec.driver,
      sysfsPath: '/sys/devices/platform/iommufd_selftest_iommu/iommu/iommufd_selftest_iommu',
      aperture: range(MOCK_APERTURE_START, MOCK_APERTURE_LAST),
      pgsizeBitmap: MOCK_IO_PAGE_SIZE,
      msiIsolated: true,
    };
  }

  groupId(): number {
    return this.nextGroup++;
  }
}

const mockState = (ictx: IommufdCtx): MockState => ictx.st.selftest as MockState;
const isMockDev = (dev: PciDevice): dev is MockDev => (dev as MockDev).mockFlags !== undefined;
const isMockDomain = (d: IommuDomain): d is MockDomain => (d as MockDomain).mock !== undefined && d.type === 'unmanaged';
const isMockNested = (d: IommuDomain): d is MockNestedDomain => (d as MockNestedDomain).iotlb !== undefined && d.type === 'nested';

/** @see drivers/iommu/iommufd/selftest.c:mock_domain_nop_attach — no dirty tracking on NO_DIRTY devices. */
function mockDomainNopAttach(domain: IommuDomain, dev: PciDevice): void {
  if (domain.dirtyOps && isMockDev(dev) && dev.mockFlags & MOCK_FLAGS_DEVICE_NO_DIRTY) throw kerr('EINVAL');
}

/** @see drivers/iommu/iommufd/selftest.c:mock_domain_map_pages, mock_domain_unmap_pages */
const mockDomainOps = (shouldFail: () => boolean): IommuDomainOps => ({
  mapPages(domain, iova, page, offset, length) {
    const m = (domain as MockDomain).mock;
    if (shouldFail()) throw kerr('ENOENT');
    if (iova % MOCK_IO_PAGE_SIZE || BigInt(length) % MOCK_IO_PAGE_SIZE) throw new Error(`mock map_pages of ${length} bytes at 0x${iova.toString(16)}: not 2 KiB pages`);
    for (let done = 0n; done < BigInt(length); done += MOCK_IO_PAGE_SIZE)
      m.pfns.set((iova + done) / MOCK_IO_PAGE_SIZE, { page, offset: offset + Number(done), dirty: false, huge: false });
  },
  unmapPages(domain, iova, length) {
    const m = (domain as MockDomain).mock;
    for (let done = 0n; done < length; done += MOCK_IO_PAGE_SIZE) m.pfns.delete((iova + done) / MOCK_IO_PAGE_SIZE);
  },
  free(domain) {
    if ((domain as MockDomain).mock.pfns.size) throw new Error('mock_domain_free with pages mapped');
  },
});

/** @see drivers/iommu/iommufd/selftest.c:mock_domain_set_dirty_tracking, mock_domain_read_and_clear_dirty */
const mockDirtyOps: IommuDirtyOps = {
  setDirtyTracking(domain, enable) {
    if (enable && !domain.dirtyOps) throw kerr('EINVAL');
    (domain as MockDomain).mock.tracking = enable;
  },
  readAndClearDirty(domain, iova, size, noClear, record) {
    const m = (domain as MockDomain).mock;
    if (!m.tracking && record) throw kerr('EINVAL');
    const end = iova + size;
    do {
      let pgsize = MOCK_IO_PAGE_SIZE;
      const ent = m.pfns.get(iova / MOCK_IO_PAGE_SIZE);
      if (!ent) {
        iova += pgsize;
        continue;
      }
      if (ent.huge) pgsize = MOCK_HUGE_PAGE_SIZE;
      const head = iova & ~(pgsize - 1n);
      let dirty = false;
      for (let cur = head; cur < head + pgsize - 1n; cur += MOCK_IO_PAGE_SIZE) {
        const e = m.pfns.get(cur / MOCK_IO_PAGE_SIZE);
        if (!e || !e.dirty) continue;
        dirty = true;
        if (!noClear) e.dirty = false;
      }
      if (dirty) record?.(iova, pgsize);
      iova += pgsize;
    } while (iova < end);
  },
};

/** @see drivers/iommu/iommufd/selftest.c:mock_domain_alloc_paging */
function mockDomainAllocPaging(st: MockState, dev: PciDevice | undefined, shouldFail: () => boolean): MockDomain {
  if (shouldFail()) throw kerr('ENOMEM');
  let pgsize = MOCK_IO_PAGE_SIZE;
  if (dev && isMockDev(dev) && dev.mockFlags & MOCK_FLAGS_DEVICE_HUGE_IOVA) pgsize |= MOCK_HUGE_PAGE_SIZE;
  return {
    type: 'unmanaged',
    driver: MOCK_DRIVER,
    unit: st.unit,
    geometry: range(MOCK_APERTURE_START, MOCK_APERTURE_LAST),
    pgsizeBitmap: pgsize,
    nesting: false,
    groups: new Set<IommuGroup>(),
    ops: mockDomainOps(shouldFail),
    mock: { tracking: false, pfns: new Map() },
  };
}

/** @see drivers/iommu/iommufd/selftest.c:mock_domain_cache_invalidate_user */
const mockNestedOps: IommuDomainOps = {
  cacheInvalidateUser(domain, array) {
    const n = domain as MockNestedDomain;
    let processed = 0;
    try {
      if (array.type !== IOMMU_HWPT_INVALIDATE_DATA_SELFTEST) throw kerr('EINVAL');
      for (let i = 0; i < array.entryNum; i++) {
        const inv = decode(iommu_hwpt_invalidate_selftest, array.copyEntry(i, iommu_hwpt_invalidate_selftest.size, iommu_hwpt_invalidate_selftest.size));
        if (inv.flags & ~IOMMU_TEST_INVALIDATE_FLAG_ALL) throw kerr('EOPNOTSUPP');
        if (inv.iotlb_id > MOCK_NESTED_DOMAIN_IOTLB_ID_MAX) throw kerr('EINVAL');
        if (inv.flags & IOMMU_TEST_INVALIDATE_FLAG_ALL) n.iotlb.fill(0);
        else n.iotlb[inv.iotlb_id] = 0;
        processed++;
      }
    } finally {
      array.entryNum = processed;
    }
  },
};

/**
 * `domain_alloc_user`: paging domains with NEST_PARENT and DIRTY_TRACKING (no driver data; dirty
 * tracking refused on NO_DIRTY devices: EOPNOTSUPP), or nested domains of a mock parent with
 * IOMMU_HWPT_DATA_SELFTEST data (its iotlb value fills the IOTLB).
 * @see drivers/iommu/iommufd/selftest.c:mock_domain_alloc_user, __mock_domain_alloc_nested
 */
function mockDomainAllocUser(st: MockState, shouldFail: () => boolean, dev: PciDevice, flags: number, parent: IommuDomain | undefined, data: IommuUserData | undefined): IommuDomain {
  if (!parent) {
    const hasDirty = (flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING) !== 0;
    const noDirtyOps = isMockDev(dev) && (dev.mockFlags & MOCK_FLAGS_DEVICE_NO_DIRTY) !== 0;
    if (flags & ~(IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_DIRTY_TRACKING)) throw kerr('EOPNOTSUPP');
    if (data || (hasDirty && noDirtyOps)) throw kerr('EOPNOTSUPP');
    const d = mockDomainAllocPaging(st, dev, shouldFail);
    return hasDirty ? { ...d, dirtyOps: mockDirtyOps } : d;
  }
  if (!data || data.type !== IOMMU_HWPT_DATA_SELFTEST || flags) throw kerr('EOPNOTSUPP');
  if (!isMockDomain(parent)) throw kerr('EINVAL');
  const cfg = decode(iommu_hwpt_selftest, data.copy(IOMMU_HWPT_DATA_SELFTEST, iommu_hwpt_selftest.size, iommu_hwpt_selftest.size));
  if (shouldFail()) throw kerr('ENOMEM');
  const nested: MockNestedDomain = {
    type: 'nested',
    driver: MOCK_DRIVER,
    unit: st.unit,
    geometry: range(0n, 0n),
    pgsizeBitmap: 0n,
    nesting: false,
    groups: new Set<IommuGroup>(),
    ops: mockNestedOps,
    parentDomain: parent,
    iotlb: new Array<number>(MOCK_NESTED_DOMAIN_IOTLB_NUM).fill(cfg.iotlb),
  };
  return nested;
}

/** The mock driver's `struct iommu_ops`, registered with the IOMMU core at module init. */
function mockOps(st: MockState): IommuOps {
  const shouldFail = () => st.st.faults.shouldFail();
  return {
    name: MOCK_DRIVER,
    getResvRegions: () => [],
    defaultAddressWidth: 31,
    defaultPgsizes: () => MOCK_IO_PAGE_SIZE,
    sysfsParent: 'virtual',
    aperture: () => range(MOCK_APERTURE_START, MOCK_APERTURE_LAST),
    attachDev: mockDomainNopAttach,
    capable(_unit, cap, dev) {
      if (cap === 'IOMMU_CAP_CACHE_COHERENCY') return true;
      if (cap === 'IOMMU_CAP_DIRTY_TRACKING') return !(dev && isMockDev(dev) && dev.mockFlags & MOCK_FLAGS_DEVICE_NO_DIRTY);
      return false;
    },
    hwInfo: () => ({ type: IOMMU_HW_INFO_TYPE_SELFTEST, data: encode(iommu_test_hw_info, { flags: 0, test_reg: IOMMU_HW_INFO_SELFTEST_REGVAL }) }),
    domainAllocPaging: (dev) => mockDomainAllocPaging(st, dev, shouldFail),
    domainAllocUser: (dev, flags, parent, data) => mockDomainAllocUser(st, shouldFail, dev, flags, parent, data),
  };
}

/** Module init of the selftest: the mock driver joins the IOMMU core. @see selftest.c:iommufd_test_init */
export function iommufdTestInit(st: IommufdState): void {
  const ms = new MockState(st);
  st.k.host.iommu.registerDriver(mockOps(ms));
  st.selftest = ms;
}

// ---- mock devices --------------------------------------------------------------------------

/**
 * A mock device in a group of its own: flags other than NO_DIRTY and HUGE_IOVA → EINVAL.
 * @see drivers/iommu/iommufd/selftest.c:mock_dev_create
 */
function mockDevCreate(ictx: IommufdCtx, flags: number): MockDev {
  if (flags & ~(MOCK_FLAGS_DEVICE_NO_DIRTY | MOCK_FLAGS_DEVICE_HUGE_IOVA)) throw kerr('EINVAL');
  const ms = mockState(ictx);
  ictx.alloc();
  ictx.alloc(); // ida_alloc
  const id = ms.devIda.alloc();
  const name = `iommufd_mock${id}`;
  const spec = { bdf: name, vendor: 0, device: 0, class: 0, revision: 0, subsystem_vendor: 0, subsystem_device: 0, driver: null, iommu: ms.unit.name, irq: 0, numa_node: -1, pcie: false, bars: [], msi: 0, msix: 0, intx: false, resetMethods: [] };
  const dev: MockDev = {
    spec,
    bdf: name,
    domain: 0,
    bus: 0,
    slot: 0,
    func: 0,
    vendor: 0,
    device: 0,
    class: 0,
    revision: 0,
    subsystemVendor: 0,
    subsystemDevice: 0,
    bars: [],
    sysfsPath: `/sys/bus/iommufd_mock/devices/${name}`,
    parent: undefined,
    unit: ms.unit,
    driver: null,
    driverOverride: null,
    group: undefined,
    groupLinkName: undefined,
    vfioDevIndex: undefined,
    config: new Uint8Array(64),
    removed: false,
    mockFlags: flags,
    mockId: id,
  };
  const group: IommuGroup = { id: ms.groupId(), devices: [dev], platformDevices: [], name: undefined, defaultDomain: null, bootDomain: null, ownerCnt: 0, owner: null, noiommu: false, domain: null };
  dev.group = group;
  dev.groupLinkName = name;
  return dev;
}

/** @see drivers/iommu/iommufd/selftest.c:mock_dev_destroy, mock_dev_release */
function mockDevDestroy(ictx: IommufdCtx, dev: MockDev): void {
  dev.removed = true;
  dev.group = undefined;
  mockState(ictx).devIda.free(dev.mockId);
}

/** `struct selftest_obj` (TYPE_IDEV) */
interface SelftestObj {
  readonly ictx: IommufdCtx;
  readonly mockDev: MockDev;
  idev: IommufdDevice;
}

/**
 * MOCK_DOMAIN / MOCK_DOMAIN_FLAGS: a mock device, bound and attached to `id` (an IOAS or a
 * HWPT); out: the selftest object, the HWPT and the device ids.
 * @see drivers/iommu/iommufd/selftest.c:iommufd_test_mock_domain
 */
function iommufdTestMockDomain(ucmd: IommufdUcmd<typeof iommu_test_cmd>): number {
  const { cmd, ictx } = ucmd;
  const sobjObj = ictx.objectAlloc<SelftestObj>('selftest');
  const flags = cmd.op === IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS ? cmd.mock_domain_flags.dev_flags : 0;
  let mdev: MockDev | undefined;
  let idev: IommufdDevice | undefined;
  let attached = false;
  try {
    mdev = mockDevCreate(ictx, flags);
    idev = iommufdDeviceBind(ictx, mdev, true);
    const ptId = { id: cmd.id };
    iommufdDeviceAttach(idev, ptId);
    attached = true;
    cmd.mock_domain = { out_hwpt_id: ptId.id, out_stdev_id: sobjObj.id, out_idev_id: idev.obj.id };
    cmd.mock_domain_flags = { ...cmd.mock_domain, dev_flags: flags };
    ucmd.respond();
  } catch (e) {
    if (attached) iommufdDeviceDetach(idev!);
    if (idev) iommufdDeviceUnbind(idev);
    if (mdev) mockDevDestroy(ictx, mdev);
    ictx.objectAbort(sobjObj);
    throw e;
  }
  const sobj: SelftestObj = { ictx, mockDev: mdev, idev: idev! };
  sobjObj.impl = sobj;
  sobjObj.ops = {
    destroy: () => {
      iommufdDeviceDetach(sobj.idev);
      iommufdDeviceUnbind(sobj.idev);
      mockDevDestroy(ictx, sobj.mockDev);
    },
  };
  ictx.objectFinalize(sobjObj);
  return 0;
}

/** @see drivers/iommu/iommufd/selftest.c:iommufd_test_mock_domain_replace */
function iommufdTestMockDomainReplace(ucmd: IommufdUcmd<typeof iommu_test_cmd>): number {
  const { cmd, ictx } = ucmd;
  const obj = ictx.getObject<SelftestObj>(cmd.id, 'selftest');
  try {
    const ptId = { id: cmd.mock_domain_replace.pt_id };
    iommufdDeviceReplace(obj.impl.idev, ptId);
    cmd.mock_domain_replace = { pt_id: ptId.id };
    ucmd.respond();
    return 0;
  } finally {
    ictx.putObject(obj);
  }
}

/** An extra reserved range in the IOAS (owned by nobody). @see selftest.c:iommufd_test_add_reserved */
function iommufdTestAddReserved(ucmd: IommufdUcmd<typeof iommu_test_cmd>): number {
  const { cmd, ictx } = ucmd;
  const { start, length } = cmd.add_reserved;
  if (!length) throw kerr('EINVAL');
  if (start + length - 1n > ULONG_MAX) throw kerr('EOVERFLOW');
  const obj = iommufdGetIoas(ictx, cmd.id);
  try {
    obj.impl.iopt.reserveIova(start, start + length - 1n, null);
    return 0;
  } finally {
    ictx.putObject(obj);
  }
}

/** A mock paging HWPT by id: ENOENT; another driver's domain EINVAL. @see selftest.c:get_md_pagetable */
function getMdPagetable(ictx: IommufdCtx, id: number): IommufdObject<IommufdHwPagetable> {
  const obj = ictx.getObject<IommufdHwPagetable>(id, 'hwpt_paging');
  if (!isMockDomain(obj.impl.domain)) {
    ictx.putObject(obj);
    throw kerr('EINVAL');
  }
  return obj;
}

/** `get_user_pages_fast(uptr, 1, 0)` of the caller: the page under a user address (EFAULT). */
const gupPage = (ucmd: IommufdUcmd<any>, uptr: bigint): Uint8Array => ucmd.current.mm.pinPages(uptr & ~(PAGE_SIZE - 1n), 1, 0)[0]!; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * MD_CHECK_MAP: every mock page of [iova, +length) maps the page and offset under the user VA
 * (EINVAL otherwise, or for arguments not in 2 KiB units).
 * @see drivers/iommu/iommufd/selftest.c:iommufd_test_md_check_pa
 */
function iommufdTestMdCheckPa(ucmd: IommufdUcmd<typeof iommu_test_cmd>): number {
  const { cmd, ictx } = ucmd;
  let { iova, length, uptr } = cmd.check_map;
  if (iova % MOCK_IO_PAGE_SIZE || length % MOCK_IO_PAGE_SIZE || uptr % MOCK_IO_PAGE_SIZE || uptr + length > ULONG_MAX) throw kerr('EINVAL');
  const obj = getMdPagetable(ictx, cmd.id);
  try {
    const m = (obj.impl.domain as MockDomain).mock;
    for (; length; length -= MOCK_IO_PAGE_SIZE) {
      const page = gupPage(ucmd, uptr);
      const ent = m.pfns.get(iova / MOCK_IO_PAGE_SIZE);
      if (!ent || ent.page !== page || BigInt(ent.offset) !== uptr % PAGE_SIZE) throw kerr('EINVAL');
      iova += MOCK_IO_PAGE_SIZE;
      uptr += MOCK_IO_PAGE_SIZE;
    }
    return 0;
  } finally {
    ictx.putObject(obj);
  }
}

/**
 * MD_CHECK_REFS: every page of the user range has `refs` pins (EIO otherwise; EINVAL for a range
 * not in pages; EFAULT unmapped).
 * @see drivers/iommu/iommufd/selftest.c:iommufd_test_md_check_refs
 */
function iommufdTestMdCheckRefs(ucmd: IommufdUcmd<typeof iommu_test_cmd>): number {
  let { length, uptr } = ucmd.cmd.check_refs;
  const refs = ucmd.cmd.check_refs.refs;
  if (length % PAGE_SIZE || uptr % PAGE_SIZE || uptr + length > ULONG_MAX) throw kerr('EINVAL');
  for (; length; length -= PAGE_SIZE) {
    const page = gupPage(ucmd, uptr);
    if ((ucmd.ictx.pins.get(page) ?? 0) !== refs) throw kerr('EIO');
    uptr += PAGE_SIZE;
  }
  return 0;
}

/** MD_CHECK_IOTLB: a nested mock HWPT's IOTLB entry has the value (EINVAL). @see selftest.c:iommufd_test_md_check_iotlb */
function iommufdTestMdCheckIotlb(ucmd: IommufdUcmd<typeof iommu_test_cmd>): number {
  const { cmd, ictx } = ucmd;
  const obj = ictx.getObject<IommufdHwPagetable>(cmd.id, 'hwpt_nested');
  try {
    const d = obj.impl.domain;
    if (!isMockNested(d)) throw kerr('EINVAL');
    const { id, iotlb } = cmd.check_iotlb;
    if (id > MOCK_NESTED_DOMAIN_IOTLB_ID_MAX || d.iotlb[id] !== iotlb) throw kerr('EINVAL');
    return 0;
  } finally {
    ictx.putObject(obj);
  }
}

// ---- access objects -----------------------------------------------------------------------

interface AccessItem {
  readonly iova: bigint;
  readonly length: bigint;
  readonly id: number;
}

/** `struct selftest_access`: an iommufd access behind an fd. */
class SelftestAccess {
  access: IommufdAccess | undefined;
  readonly items: AccessItem[] = [];
  nextId = 0;

  /** The access ops' unmap: unpin every item overlapping [iova, iova+length). @see selftest.c:iommufd_test_access_unmap */
  unmap(iova: bigint, length: bigint): void {
    const last = iova + length - 1n;
    for (const item of [...this.items]) {
      if (iova > item.iova + item.length - 1n || last < item.iova) continue;
      this.items.splice(this.items.indexOf(item), 1);
      iommufdAccessUnpinPages(this.access!, item.iova, item.length);
    }
  }
}

/** The access fd: closing it destroys the access. @see selftest.c:iommufd_test_staccess_release */
const staccessFops = {
  name: 'iommufd_test_staccess',
  release(f: File<SelftestAccess>) {
    const s = f.privateData;
    if (s.access) {
      s.unmap(0n, ULONG_MAX);
      iommufdAccessDestroy(s.access);
    }
  },
} as const satisfies FileOperations<SelftestAccess>;

/** The access behind an fd of the caller: EBADFD for no file or another kind. @see selftest.c:iommufd_access_get */
function iommufdAccessGet(ucmd: IommufdUcmd<any>, fd: number): SelftestAccess { // eslint-disable-line @typescript-eslint/no-explicit-any
  const f = ucmd.current.files.peek(fd);
  if (!f || f.fop !== (staccessFops as FileOperations<unknown>)) throw kerr('EBADFD');
  return f.privateData as SelftestAccess;
}

/**
 * CREATE_ACCESS: an access of IOAS `id` behind a new fd (out_access_fd); flags beyond
 * NEEDS_PIN_PAGES → EOPNOTSUPP; a full fd table is ENOMEM, as the kernel maps it.
 * @see drivers/iommu/iommufd/selftest.c:iommufd_test_create_access
 */
function iommufdTestCreateAccess(ucmd: IommufdUcmd<typeof iommu_test_cmd>): number {
  const { cmd, ictx, current } = ucmd;
  const flags = cmd.create_access.flags;
  if (flags & ~MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES) throw kerr('EOPNOTSUPP');
  ictx.alloc();
  const staccess = new SelftestAccess();
  const file = anonInodeGetfile('[iommufd_test_staccess]', staccessFops, staccess, O_RDWR, current.cred);
  let fd: number | undefined;
  let access: IommufdAccess | undefined;
  try {
    try {
      fd = current.files.getUnusedFdFlags(O_CLOEXEC);
    } catch {
      throw kerr('ENOMEM');
    }
    access = iommufdAccessCreate(ictx, { needsPinPages: (flags & MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES) !== 0, unmap: (iova, length) => staccess.unmap(iova, length) });
    iommufdAccessAttach(access, cmd.id);
    cmd.create_access = { out_access_fd: fd, flags };
    ucmd.respond();
  } catch (e) {
    if (access) iommufdAccessDestroy(access);
    if (fd !== undefined) current.files.putUnusedFd(fd);
    fput(file);
    throw e;
  }
  staccess.access = access;
  current.files.fdInstall(fd, file);
  return 0;
}

/** @see drivers/iommu/iommufd/selftest.c:iommufd_test_access_replace_ioas */
function iommufdTestAccessReplaceIoas(ucmd: IommufdUcmd<typeof iommu_test_cmd>): number {
  const s = iommufdAccessGet(ucmd, ucmd.cmd.id);
  iommufdAccessReplace(s.access!, ucmd.cmd.access_replace_ioas.ioas_id);
  return 0;
}

/**
 * ACCESS_PAGES: pin [iova, +length) through an access that needs pins (EOPNOTSUPP otherwise)
 * and check the pages are the ones under `uptr` (EBADE); out: the item id to unpin with.
 * @see drivers/iommu/iommufd/selftest.c:iommufd_test_access_pages, iommufd_test_check_pages
 */
function iommufdTestAccessPages(ucmd: IommufdUcmd<typeof iommu_test_cmd>): number {
  const { cmd, ictx } = ucmd;
  const { iova, length, uptr } = cmd.access_pages;
  const flags = cmd.access_pages.flags;
  if (length > 16n * 1024n * 1024n) throw kerr('ENOMEM');
  if (flags & ~(MOCK_FLAGS_ACCESS_WRITE | MOCK_FLAGS_ACCESS_SYZ)) throw kerr('EOPNOTSUPP');
  const s = iommufdAccessGet(ucmd, cmd.id);
  if (!s.access!.ops.needsPinPages) throw kerr('EOPNOTSUPP');
  ictx.alloc();
  const pages = iommufdAccessPinPages(s.access!, iova, length, flags & MOCK_FLAGS_ACCESS_WRITE);
  try {
    if (uptr) {
      let u = uptr - (iova - (iova & ~(PAGE_SIZE - 1n)));
      for (const p of pages) {
        if (gupPage(ucmd, u) !== p) throw kerr('EBADE');
        u += PAGE_SIZE;
      }
    }
    ictx.alloc();
    const item: AccessItem = { iova, length, id: s.nextId++ };
    s.items.push(item);
    cmd.access_pages = { ...cmd.access_pages, out_access_pages_id: item.id };
    try {
      ucmd.respond();
    } catch (e) {
      s.items.splice(s.items.indexOf(item), 1);
      throw e;
    }
  } catch (e) {
    iommufdAccessUnpinPages(s.access!, iova, length);
    throw e;
  }
  return 0;
}

/**
 * ACCESS_RW: copy between `uptr` and [iova, +length) through the access (flags WRITE, SLOW_PATH).
 * @see drivers/iommu/iommufd/selftest.c:iommufd_test_access_rw
 */
function iommufdTestAccessRw(ucmd: IommufdUcmd<typeof iommu_test_cmd>): number {
  const { cmd, ictx } = ucmd;
  const { iova, length, uptr, flags } = cmd.access_rw;
  if (length > 16n * 1024n * 1024n) throw kerr('ENOMEM');
  if (flags & ~(MOCK_ACCESS_RW_WRITE | MOCK_ACCESS_RW_SLOW_PATH | MOCK_FLAGS_ACCESS_SYZ)) throw kerr('EOPNOTSUPP');
  const s = iommufdAccessGet(ucmd, cmd.id);
  ictx.alloc();
  let tmp = new Uint8Array(Number(length));
  if (flags & MOCK_ACCESS_RW_WRITE) tmp = new Uint8Array(copyFromUser(ucmd.mem, uptr, Number(length)));
  iommufdAccessRw(s.access!, iova, tmp, flags & ~MOCK_FLAGS_ACCESS_SYZ);
  if (!(flags & MOCK_ACCESS_RW_WRITE)) copyToUser(ucmd.mem, uptr, tmp);
  return 0;
}

/** DESTROY_ACCESS_PAGES: unpin an item (ENOENT for an unknown id). @see selftest.c:iommufd_test_access_item_destroy */
function iommufdTestAccessItemDestroy(ucmd: IommufdUcmd<typeof iommu_test_cmd>): number {
  const s = iommufdAccessGet(ucmd, ucmd.cmd.id);
  const item = s.items.find((i) => i.id === ucmd.cmd.destroy_access_pages.access_pages_id);
  if (!item) throw kerr('ENOENT');
  s.items.splice(s.items.indexOf(item), 1);
  iommufdAccessUnpinPages(s.access!, item.iova, item.length);
  return 0;
}

/**
 * DIRTY: set the dirty bit of the mock entries the user bitmap marks (the domain must be
 * tracking: EINVAL); out: how many were set.
 * @see drivers/iommu/iommufd/selftest.c:iommufd_test_dirty
 * @note emulation: as the kernel does, an entry is looked up by `iova / page_size`, which is its
 * mock-page index only when page_size is MOCK_IO_PAGE_SIZE.
 */
function iommufdTestDirty(ucmd: IommufdUcmd<typeof iommu_test_cmd>): number {
  const { cmd, ictx } = ucmd;
  const { iova, length, page_size, uptr } = cmd.dirty;
  if (!page_size || !length || iova % page_size || length % page_size || !uptr) throw kerr('EINVAL');
  const max = length / page_size;
  if (max > 16n * 1024n * 1024n * 8n) throw kerr('EOVERFLOW');
  const obj = getMdPagetable(ictx, cmd.id);
  try {
    const m = (obj.impl.domain as MockDomain).mock;
    if (!m.tracking) throw kerr('EINVAL');
    ictx.alloc();
    const bits = copyFromUser(ucmd.mem, uptr, Number((max + 7n) / 8n));
    let count = 0n;
    for (let i = 0n; i < max; i++) {
      if (!((bits[Number(i / 8n)]! >> Number(i % 8n)) & 1)) continue;
      const ent = m.pfns.get((iova + i * page_size) / page_size);
      if (ent) {
        ent.dirty = true;
        count++;
      }
    }
    cmd.dirty = { ...cmd.dirty, out_nr_dirty: count };
    ucmd.respond();
    return 0;
  } finally {
    ictx.putObject(obj);
  }
}

/**
 * TRIGGER_IOPF: a page request from a mock device (EINVAL for another device, ENOENT for no
 * device), reported to the domain its group is attached to.
 * @see drivers/iommu/iommufd/selftest.c:iommufd_test_trigger_iopf
 * @see drivers/iommu/io-pgfault.c:iommu_report_device_fault
 */
function iommufdTestTriggerIopf(ucmd: IommufdUcmd<typeof iommu_test_cmd>): number {
  const { cmd, ictx } = ucmd;
  const t = cmd.trigger_iopf;
  const obj = ictx.getObject<IommufdDevice>(t.dev_id, 'device');
  try {
    const dev = obj.impl.dev;
    if (!isMockDev(dev)) throw kerr('EINVAL');
    const domain = dev.group ? ictx.st.k.host.iommu.groupDomain(dev.group) : null;
    const flags = IOMMU_PGFAULT_FLAGS_LAST_PAGE | (t.pasid !== 0 ? IOMMU_PGFAULT_FLAGS_PASID_VALID : 0);
    domain?.iopfHandler?.({ flags, pasid: t.pasid, grpid: t.grpid, perm: t.perm, addr: t.addr, dev });
    return 0;
  } finally {
    ictx.putObject(obj);
  }
}

/** IOMMU_TEST_CMD. @see drivers/iommu/iommufd/selftest.c:iommufd_test */
export function iommufdTest(ucmd: IommufdUcmd<typeof iommu_test_cmd>): number {
  const cmd = ucmd.cmd;
  switch (cmd.op) {
    case IOMMU_TEST_OP_ADD_RESERVED:
      return iommufdTestAddReserved(ucmd);
    case IOMMU_TEST_OP_MOCK_DOMAIN:
    case IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS:
      return iommufdTestMockDomain(ucmd);
    case IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE:
      return iommufdTestMockDomainReplace(ucmd);
    case IOMMU_TEST_OP_MD_CHECK_MAP:
      return iommufdTestMdCheckPa(ucmd);
    case IOMMU_TEST_OP_MD_CHECK_REFS:
      return iommufdTestMdCheckRefs(ucmd);
    case IOMMU_TEST_OP_MD_CHECK_IOTLB:
      return iommufdTestMdCheckIotlb(ucmd);
    case IOMMU_TEST_OP_CREATE_ACCESS:
      return iommufdTestCreateAccess(ucmd);
    case IOMMU_TEST_OP_ACCESS_REPLACE_IOAS:
      return iommufdTestAccessReplaceIoas(ucmd);
    case IOMMU_TEST_OP_ACCESS_PAGES:
      return iommufdTestAccessPages(ucmd);
    case IOMMU_TEST_OP_ACCESS_RW:
      return iommufdTestAccessRw(ucmd);
    case IOMMU_TEST_OP_DESTROY_ACCESS_PAGES:
      return iommufdTestAccessItemDestroy(ucmd);
    case IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT:
      // Protect _batch_init(): not below sizeof(unsigned long) + sizeof(u32).
      if (cmd.memory_limit.limit < 12) throw kerr('EINVAL');
      mockState(ucmd.ictx).memoryLimit = cmd.memory_limit.limit;
      return 0;
    case IOMMU_TEST_OP_DIRTY:
      return iommufdTestDirty(ucmd);
    case IOMMU_TEST_OP_TRIGGER_IOPF:
      return iommufdTestTriggerIopf(ucmd);
    default:
      throw kerr('EOPNOTSUPP');
  }
}
