// SPDX-License-Identifier: GPL-2.0-only
/**
 * The fail_nth sweep (tools/testing/selftests/iommu/iommufd_fail_nth.c's idea, run against the
 * emulator's own unwinding): for every ioctl, arm the calling task's fail-nth at 1, 2, 3 … and
 * run the call on a fresh setup until a run passes every fault site. Each run whose injected
 * fault surfaced must return an errno, leak no object, fd, pin or charge, and leave the
 * contexts, IOASes, groups and domains exactly as they were.
 */
import test from 'ava';
import { encode } from '../abi';
import { ERRNO, Errno } from '../errno';
import type { Machine } from '../machine';
import { MAP_SHARED, O_RDWR } from '../uapi/fcntl';
import * as I from '../uapi/iommufd';
import * as T from '../uapi/iommufd_test';
import * as V from '../uapi/vfio';
import { IommufdFd, PAGE, RW, selftestMachine } from '../testing/iommufd';
import { iommufdMachine, setContainerRaw } from '../testing/vfio';
import type { IommufdHwPagetable } from './hw_pagetable';
import type { IommufdIoas } from './ioas';
import { IommufdCtx, iommufdStateOf } from './main';
import type { MockState } from './selftest';

/** Everything a failing call must leave as it was. */
function digest(m: Machine, buffers: readonly bigint[]): unknown {
  const st = iommufdStateOf(m.kernelContext)!;
  const ctxs = new Set<IommufdCtx>();
  for (const t of m.tasks.all) for (const [, f] of t.files.entries()) if (f.privateData instanceof IommufdCtx) ctxs.add(f.privateData);
  const objects = [...ctxs].map((c) => ({
    ids: [...c.objects.values()].map((o) => `${o.id}:${o.type}:${o.users}:${o.shorttermUsers}:${o.finalized}`),
    vfioIoas: c.vfioIoas?.id,
    account: c.accountMode,
    noIommu: c.noIommuMode,
    groups: c.groups.size,
    ioas: [...c.objects.values()]
      .filter((o) => o.type === 'ioas')
      .map((o) => {
        const { iopt, hwptList } = o.impl as IommufdIoas;
        return {
          areas: iopt.areas.map((a) => `${a.start}-${a.last}:${a.pages.refs}:${a.numAccesses}:${[...a.pages.pinned.values()].map((p) => p.users).join(',')}`),
          reserved: iopt.reserved.map((r) => `${r.start}-${r.last}`),
          allowed: iopt.allowed.map((r) => `${r.start}-${r.last}`),
          alignment: iopt.iovaAlignment,
          domains: iopt.domains.length,
          accesses: iopt.accesses.length,
          large: iopt.disableLargePages,
          hwpts: hwptList.length,
        };
      }),
    mock: [...c.objects.values()]
      .filter((o) => o.type === 'hwpt_paging')
      .map((o) => ((o.impl as IommufdHwPagetable).domain as unknown as { mock?: { pfns: Map<bigint, unknown>; tracking: boolean } }).mock)
      .map((x) => (x ? `${x.pfns.size}:${x.tracking}` : '-')),
  }));
  const ms = st.selftest as MockState | undefined;
  return {
    objects,
    fds: m.tasks.all.map((t) => t.files.entries().map(([fd, f]) => `${fd}:${f.fop.name}`)),
    mm: m.tasks.all.map((t) => `${t.mm.pinnedVm}/${t.mm.lockedVm}`),
    user: [...st.userLockedVm],
    pins: buffers.map((b) => [0n, 1n, 2n, 3n].map((i) => st.pins.get(m.mem.pinPages(b + i * PAGE, 1, 0)[0]!) ?? 0)),
    groups: m.host.groups().map((g) => `${g.id}:${g.ownerCnt}:${g.owner !== null}:${g.domain?.type ?? '-'}`),
    mockDevs: ms ? [0, 1, 2, 3, 4, 5].filter((i) => ms.devIda.has(i)) : [],
  };
}

interface Setup {
  readonly m: Machine;
  readonly fd: IommufdFd;
  readonly buffers: bigint[];
  readonly v: Record<string, number | bigint>;
}

interface Scenario {
  readonly name: string;
  /**
   * The kernel commits before it copies the result back (iommufd_ucmd_respond after the change,
   * no unwind): a failure of that last copy returns EFAULT with the change made.
   */
  readonly commits?: true;
  setup(): Setup;
  /** The call under test: its raw result (< 0 is an errno). */
  run(s: Setup): number;
}

/** A machine with the selftest, an iommufd, an IOAS (id 1), a 4-page shared buffer. */
function base(withMock: number): Setup {
  const m = selftestMachine();
  const fd = IommufdFd.open(m);
  const ioas = fd.ioasAlloc();
  const buf = m.sys.mmap(4n * PAGE, { flags: MAP_SHARED });
  const v: Record<string, number | bigint> = { ioas, buf };
  for (let i = 0; i < withMock; i++) {
    const md = fd.mockDomain(ioas);
    v[`stdev${i}`] = md.stdev;
    v[`hwpt${i}`] = md.hwpt;
    v[`idev${i}`] = md.idev;
  }
  return { m, fd, buffers: [buf], v };
}

const mapped = (withMock: number): Setup => {
  const s = base(withMock);
  const r = s.fd.map(s.v.ioas as number, 4n * PAGE, undefined, RW, s.v.buf as bigint);
  s.v.iova = r.out.iova;
  return s;
};

const rc = (x: number | Errno): number => (typeof x === 'number' ? x : -ERRNO[x][0]);

function withAccess(s: Setup): Setup {
  s.v.access = s.fd.test(T.IOMMU_TEST_OP_CREATE_ACCESS, s.v.ioas as number, { create_access: { flags: T.MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES } }).out.create_access.out_access_fd;
  return s;
}

/** The NVMe's cdev and an IOAS with a mapping; `bound`: already bound to the iommufd. */
function cdevSetup(bound: boolean): Setup {
  const m = iommufdMachine('intel-vtd-server', { kernel: '6.12' });
  const fd = IommufdFd.open(m);
  const ioas = fd.ioasAlloc();
  const buf = m.sys.mmap(4n * PAGE, { flags: MAP_SHARED });
  fd.map(ioas, 4n * PAGE, 0x10_0000n, RW, buf);
  const cdev = m.sys.open('/dev/vfio/devices/vfio0', O_RDWR);
  const bind = fd.alloc(encode(V.vfio_device_bind_iommufd, { argsz: 16, iommufd: fd.fd }).subarray(0, 16));
  if (bound && m.sys.ioctl(cdev, V.VFIO_DEVICE_BIND_IOMMUFD, bind) !== 0) throw new Error('bind');
  return { m, fd, buffers: [buf], v: { ioas, cdev, bind } };
}

/** iommufd's /dev/vfio/vfio and the NVMe's group, `steps` of SET_CONTAINER / GET_DEVICE_FD done. */
function compatSetup(steps: number): Setup {
  const m = iommufdMachine('intel-vtd-server', { kernel: '6.12', kconfig: { CONFIG_VFIO_CONTAINER: false, CONFIG_IOMMUFD_VFIO_CONTAINER: true } });
  const fd = IommufdFd.open(m, '/dev/vfio/vfio');
  const buf = m.sys.mmap(4n * PAGE, { flags: MAP_SHARED });
  const group = m.sys.open('/dev/vfio/7', O_RDWR);
  if (steps >= 1 && setContainerRaw(m, group, fd.fd) !== 0) throw new Error('SET_CONTAINER');
  if (steps >= 2 && m.sys.ioctl(group, V.VFIO_GROUP_GET_DEVICE_FD, fd.alloc(new TextEncoder().encode('0000:02:00.0\0'))) < 0) throw new Error('GET_DEVICE_FD');
  if (steps >= 2 && m.sys.ioctl(fd.fd, V.VFIO_SET_IOMMU, V.VFIO_TYPE1v2_IOMMU) !== 0) throw new Error('SET_IOMMU');
  return { m, fd, buffers: [buf], v: { buf, group } };
}

const SCENARIOS: Scenario[] = [
  { name: 'open /dev/iommu', setup: () => base(0), run: (s) => s.m.sys.open('/dev/iommu', O_RDWR) },
  { name: 'IOAS_ALLOC', setup: () => base(0), run: (s) => rc(s.fd.io(I.IOMMU_IOAS_ALLOC, I.iommu_ioas_alloc, {}).rc) },
  { name: 'IOAS_MAP without a domain', commits: true, setup: () => base(0), run: (s) => rc(s.fd.map(s.v.ioas as number, 4n * PAGE, undefined, RW, s.v.buf as bigint).rc) },
  { name: 'IOAS_MAP into a mock domain (pins)', commits: true, setup: () => base(1), run: (s) => rc(s.fd.map(s.v.ioas as number, 4n * PAGE, undefined, RW, s.v.buf as bigint).rc) },
  { name: 'IOAS_MAP into two mock domains', commits: true, setup: () => base(2), run: (s) => rc(s.fd.map(s.v.ioas as number, 4n * PAGE, 0x200_0000n, RW, s.v.buf as bigint).rc) },
  {
    name: 'IOAS_COPY into a domain-backed IOAS',
    commits: true,
    setup: () => {
      const s = mapped(1);
      const dst = s.fd.ioasAlloc();
      s.v.dst = dst;
      s.fd.mockDomain(dst);
      return s;
    },
    run: (s) => rc(s.fd.io(I.IOMMU_IOAS_COPY, I.iommu_ioas_copy, { flags: RW, src_ioas_id: s.v.ioas as number, dst_ioas_id: s.v.dst as number, src_iova: s.v.iova as bigint, length: 4n * PAGE }).rc),
  },
  { name: 'IOAS_UNMAP', commits: true, setup: () => mapped(1), run: (s) => rc(s.fd.unmap(s.v.ioas as number, s.v.iova as bigint, 4n * PAGE).rc) },
  {
    name: 'IOAS_ALLOW_IOVAS',
    setup: () => base(0),
    run: (s) => {
      const arr = s.fd.alloc(encode(I.iommu_iova_range, { start: 0x10_0000n, last: 0x1f_ffffn }));
      return rc(s.fd.io(I.IOMMU_IOAS_ALLOW_IOVAS, I.iommu_ioas_allow_iovas, { ioas_id: s.v.ioas as number, num_iovas: 1, allowed_iovas: arr }).rc);
    },
  },
  { name: 'IOAS_IOVA_RANGES', setup: () => base(1), run: (s) => rc(s.fd.iovaRanges(s.v.ioas as number).rc) },
  { name: 'OPTION HUGE_PAGES off', commits: true, setup: () => base(1), run: (s) => rc(s.fd.io(I.IOMMU_OPTION, I.iommu_option, { option_id: I.IOMMU_OPTION_HUGE_PAGES, op: I.IOMMU_OPTION_OP_SET, object_id: s.v.ioas as number, val64: 0n }).rc) },
  { name: 'MOCK_DOMAIN (bind + automatic HWPT + attach) over a mapped IOAS', setup: () => {
      const s = base(0);
      s.fd.map(s.v.ioas as number, 4n * PAGE, 0x200_0000n, RW, s.v.buf as bigint);
      return s;
    }, run: (s) => rc(s.fd.mockDomain(s.v.ioas as number).rc) },
  { name: 'HWPT_ALLOC paging, NEST_PARENT', setup: () => mapped(1), run: (s) => rc(s.fd.io(I.IOMMU_HWPT_ALLOC, I.iommu_hwpt_alloc, { dev_id: s.v.idev0 as number, pt_id: s.v.ioas as number, flags: I.IOMMU_HWPT_ALLOC_NEST_PARENT }).rc) },
  {
    name: 'HWPT_ALLOC nested with a fault queue',
    setup: () => {
      const s = mapped(1);
      s.v.parent = s.fd.io(I.IOMMU_HWPT_ALLOC, I.iommu_hwpt_alloc, { dev_id: s.v.idev0 as number, pt_id: s.v.ioas as number, flags: I.IOMMU_HWPT_ALLOC_NEST_PARENT }).out.out_hwpt_id;
      s.v.fault = s.fd.io(I.IOMMU_FAULT_QUEUE_ALLOC, I.iommu_fault_alloc, {}).out.out_fault_id;
      s.v.data = s.fd.alloc(encode(T.iommu_hwpt_selftest, { iotlb: T.IOMMU_TEST_IOTLB_DEFAULT }));
      return s;
    },
    run: (s) =>
      rc(
        s.fd.io(I.IOMMU_HWPT_ALLOC, I.iommu_hwpt_alloc, {
          dev_id: s.v.idev0 as number,
          pt_id: s.v.parent as number,
          flags: I.IOMMU_HWPT_FAULT_ID_VALID,
          data_type: T.IOMMU_HWPT_DATA_SELFTEST,
          data_len: 4,
          data_uptr: s.v.data as bigint,
          fault_id: s.v.fault as number,
        }).rc,
      ),
  },
  {
    name: 'MOCK_DOMAIN_REPLACE onto a manual HWPT of another IOAS',
    commits: true,
    setup: () => {
      const s = mapped(1);
      const other = s.fd.ioasAlloc();
      s.fd.map(other, 4n * PAGE, 0x200_0000n, RW, s.v.buf as bigint);
      s.v.target = s.fd.io(I.IOMMU_HWPT_ALLOC, I.iommu_hwpt_alloc, { dev_id: s.v.idev0 as number, pt_id: other }).out.out_hwpt_id;
      return s;
    },
    run: (s) => rc(s.fd.test(T.IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, s.v.stdev0 as number, { mock_domain_replace: { pt_id: s.v.target as number } }).rc),
  },
  { name: 'GET_HW_INFO', setup: () => base(1), run: (s) => rc(s.fd.io(I.IOMMU_GET_HW_INFO, I.iommu_hw_info, { dev_id: s.v.idev0 as number, data_len: 8, data_uptr: s.fd.alloc(8) }, 40).rc) },
  {
    name: 'HWPT_SET_DIRTY_TRACKING',
    setup: () => {
      const s = mapped(1);
      s.v.dirty = s.fd.io(I.IOMMU_HWPT_ALLOC, I.iommu_hwpt_alloc, { dev_id: s.v.idev0 as number, pt_id: s.v.ioas as number, flags: I.IOMMU_HWPT_ALLOC_DIRTY_TRACKING }).out.out_hwpt_id;
      return s;
    },
    run: (s) => rc(s.fd.io(I.IOMMU_HWPT_SET_DIRTY_TRACKING, I.iommu_hwpt_set_dirty_tracking, { hwpt_id: s.v.dirty as number, flags: 1 }).rc),
  },
  {
    name: 'HWPT_GET_DIRTY_BITMAP',
    setup: () => {
      const s = mapped(1);
      s.v.dirty = s.fd.io(I.IOMMU_HWPT_ALLOC, I.iommu_hwpt_alloc, { dev_id: s.v.idev0 as number, pt_id: s.v.ioas as number, flags: I.IOMMU_HWPT_ALLOC_DIRTY_TRACKING }).out.out_hwpt_id;
      s.fd.io(I.IOMMU_HWPT_SET_DIRTY_TRACKING, I.iommu_hwpt_set_dirty_tracking, { hwpt_id: s.v.dirty as number, flags: 1 });
      s.v.bitmap = s.fd.alloc(8);
      return s;
    },
    run: (s) => rc(s.fd.io(I.IOMMU_HWPT_GET_DIRTY_BITMAP, I.iommu_hwpt_get_dirty_bitmap, { hwpt_id: s.v.dirty as number, iova: s.v.iova as bigint, length: 4n * PAGE, page_size: PAGE, data: s.v.bitmap as bigint }).rc),
  },
  {
    name: 'HWPT_INVALIDATE of a nested HWPT',
    setup: () => {
      const s = mapped(1);
      const parent = s.fd.io(I.IOMMU_HWPT_ALLOC, I.iommu_hwpt_alloc, { dev_id: s.v.idev0 as number, pt_id: s.v.ioas as number, flags: I.IOMMU_HWPT_ALLOC_NEST_PARENT }).out.out_hwpt_id;
      const data = s.fd.alloc(encode(T.iommu_hwpt_selftest, { iotlb: T.IOMMU_TEST_IOTLB_DEFAULT }));
      s.v.nested = s.fd.io(I.IOMMU_HWPT_ALLOC, I.iommu_hwpt_alloc, { dev_id: s.v.idev0 as number, pt_id: parent, data_type: T.IOMMU_HWPT_DATA_SELFTEST, data_len: 4, data_uptr: data }).out.out_hwpt_id;
      s.v.inv = s.fd.alloc(encode(T.iommu_hwpt_invalidate_selftest, { flags: T.IOMMU_TEST_INVALIDATE_FLAG_ALL }));
      return s;
    },
    run: (s) => rc(s.fd.io(I.IOMMU_HWPT_INVALIDATE, I.iommu_hwpt_invalidate, { hwpt_id: s.v.nested as number, data_uptr: s.v.inv as bigint, data_type: T.IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, entry_len: 8, entry_num: 1 }).rc),
  },
  { name: 'FAULT_QUEUE_ALLOC', setup: () => base(0), run: (s) => rc(s.fd.io(I.IOMMU_FAULT_QUEUE_ALLOC, I.iommu_fault_alloc, {}).rc) },
  { name: 'CREATE_ACCESS', setup: () => mapped(0), run: (s) => rc(s.fd.test(T.IOMMU_TEST_OP_CREATE_ACCESS, s.v.ioas as number, { create_access: { flags: T.MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES } }).rc) },
  {
    name: 'ACCESS_PAGES (pins through an access)',
    setup: () => withAccess(mapped(0)),
    run: (s) => rc(s.fd.test(T.IOMMU_TEST_OP_ACCESS_PAGES, s.v.access as number, { access_pages: { iova: s.v.iova as bigint, length: 2n * PAGE, uptr: s.v.buf as bigint } }).rc),
  },
  {
    name: 'ACCESS_RW slow path (pins for the copy)',
    setup: () => withAccess(mapped(0)),
    run: (s) => rc(s.fd.test(T.IOMMU_TEST_OP_ACCESS_RW, s.v.access as number, { access_rw: { iova: s.v.iova as bigint + 100n, length: 2n * PAGE, uptr: s.fd.alloc(Number(2n * PAGE)), flags: T.MOCK_ACCESS_RW_SLOW_PATH } }).rc),
  },
  { name: 'VFIO cdev BIND_IOMMUFD', setup: () => cdevSetup(false), run: (s) => s.m.sys.ioctl(s.v.cdev as number, V.VFIO_DEVICE_BIND_IOMMUFD, s.v.bind as bigint) },
  {
    name: 'VFIO cdev ATTACH_IOMMUFD_PT to an IOAS with a mapping',
    setup: () => cdevSetup(true),
    run: (s) => s.m.sys.ioctl(s.v.cdev as number, V.VFIO_DEVICE_ATTACH_IOMMUFD_PT, s.fd.alloc(encode(V.vfio_device_attach_iommufd_pt, { argsz: 12, pt_id: s.v.ioas as number }).subarray(0, 12))),
  },
  { name: 'VFIO_GROUP_SET_CONTAINER with an iommufd', setup: () => compatSetup(0), run: (s) => setContainerRaw(s.m, s.v.group as number, s.fd.fd) },
  {
    name: 'VFIO_GROUP_GET_DEVICE_FD on an iommufd (bind + compat IOAS attach)',
    setup: () => compatSetup(1),
    run: (s) => s.m.sys.ioctl(s.v.group as number, V.VFIO_GROUP_GET_DEVICE_FD, s.fd.alloc(new TextEncoder().encode('0000:02:00.0\0'))),
  },
  {
    name: 'compat VFIO_IOMMU_MAP_DMA on /dev/vfio/vfio (mm accounting)',
    setup: () => compatSetup(2),
    run: (s) => s.m.sys.ioctl(s.fd.fd, V.VFIO_IOMMU_MAP_DMA, s.fd.alloc(encode(V.vfio_iommu_type1_dma_map, { argsz: 32, flags: V.VFIO_DMA_MAP_FLAG_READ | V.VFIO_DMA_MAP_FLAG_WRITE, vaddr: s.v.buf as bigint, iova: 0x10_0000n, size: 4n * PAGE }))),
  },
];

const big = (_k: string, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v);

/** Totals across the sweep, printed once for the report. */
const totals = { calls: 0, faults: 0 };

for (const sc of SCENARIOS) {
  test(`fail_nth sweep: ${sc.name}`, (t) => {
    const ok = sc.setup();
    t.true(sc.run(ok) >= 0, `${sc.name}: succeeds without faults`);
    const success = digest(ok.m, ok.buffers);
    let committedAt: number | undefined;
    let n = 1;
    for (; n < 400; n++) {
      const s = sc.setup();
      const before = digest(s.m, s.buffers);
      const task = s.m.init;
      task.failNth = n;
      const r = sc.run(s);
      const left = task.failNth;
      task.failNth = 0;
      totals.calls++;
      if (left !== 0) {
        t.true(r >= 0, `${sc.name}: with every site passed (n=${n}) the call succeeds (${r})`);
        break;
      }
      totals.faults++;
      t.true(r < 0, `${sc.name}: fault site ${n} fired and the call still succeeded (${r})`);
      const after = digest(s.m, s.buffers);
      if (sc.commits && r === -14 && JSON.stringify(after, big) === JSON.stringify(success, big)) {
        committedAt = n;
        continue;
      }
      t.deepEqual(after, before, `${sc.name}: fault site ${n} (${r}) left state behind`);
    }
    if (committedAt !== undefined) t.is(committedAt, n - 1, `${sc.name}: only the final copy-back may fail after the change`);
    t.true(n > 1, `${sc.name}: at least one fault site`);
    t.log(`${n - 1} fault sites`);
  });
}

test.after(() => {
  process.stdout.write(`# fail_nth sweep: ${totals.calls} calls, ${totals.faults} with an injected fault\n`);
});

