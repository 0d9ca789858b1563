// SPDX-License-Identifier: GPL-2.0-only
/**
 * Native iommufd, the `iommufd` mode of the VFIO selftests: the device cdev bound to /dev/iommu
 * (VFIO_DEVICE_BIND_IOMMUFD), attached to an IOAS (VFIO_DEVICE_ATTACH_IOMMUFD_PT), the IOVA
 * ranges that attach produces against the group's reserved_regions, and the hot-plug rule of the
 * seed scenario in iommufd's words: an IOAS whose mappings cover a reserved region refuses the
 * attach (EADDRINUSE) and stays as it was; an attached IOAS refuses a map into one (EINVAL).
 * QEMU reads the ranges the way it does (hw/vfio/iommufd.c): a probe with no room (EMSGSIZE,
 * num_iovas set), then the fetch.
 *
 * Needs a kernel with iommufd and the device cdev: on the emulator `--kconfig CONFIG_IOMMUFD=y`
 * (CONFIG_VFIO_DEVICE_CDEV follows it); SKIPs elsewhere, saying which.
 * @see drivers/vfio/device_cdev.c, drivers/vfio/iommufd.c, drivers/iommu/iommufd/device.c
 */
import {
  abi,
  IOMMU_IOAS_ALLOC,
  IOMMU_IOAS_IOVA_RANGES,
  IOMMU_IOAS_MAP,
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  IOMMU_IOAS_UNMAP,
  O_RDWR,
  VFIO_DEVICE_ATTACH_IOMMUFD_PT,
  VFIO_DEVICE_BIND_IOMMUFD,
  VFIO_DEVICE_DETACH_IOMMUFD_PT,
  VFIO_DEVICE_GET_INFO,
  VFIO_TYPE1v2_IOMMU,
  iommu_ioas_alloc,
  iommu_ioas_iova_ranges,
  iommu_ioas_map,
  iommu_ioas_unmap,
  iommu_iova_range,
  vfio_device_attach_iommufd_pt,
  vfio_device_bind_iommufd,
  vfio_device_detach_iommufd_pt,
  vfio_device_info,
  type Machine,
} from '../../lib/index';
import { suite, needMachine, type SuiteT } from '../lib/suite';
import { ALL_IOMMU_MODES, get, iommuInfo, iommuInit, needIommufd, put, vfioGroup } from '../lib/iommu';
import type { Region } from '../lib/sysfs';

const h = suite('vfio_iommufd_test');

const MODE = ALL_IOMMU_MODES.find(m => m.containerPath === undefined)!;
const RW = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;
const MiB = 1n << 20n;

interface Self {
  readonly m: Machine;
  readonly groupId: string;
  readonly bdf: string;
  /** /dev/vfio/devices/vfioN of `bdf`. */
  readonly cdevPath: string;
  readonly iommufd: number;
  readonly cdev: number;
}

const dev = h.fixture<Self>(MODE.name, {
  setup(t) {
    const m = needMachine(t);
    needIommufd(t, m);
    if (!m.kernel.has('vfio_device_cdev')) t.skip(`kernel ${m.kernel.release}: no VFIO device cdev (6.6 and later)`);
    if (!m.fs.existsSync('/dev/vfio/devices')) t.skip('no /dev/vfio/devices: a kernel built without CONFIG_VFIO_DEVICE_CDEV');
    const groupId = vfioGroup(t);
    const bdf = t.sysfs.groupDevices(groupId).find(b => t.sysfs.pciDriver(b) === 'vfio-pci')!;
    const [node] = t.sysfs.list(`/sys/bus/pci/devices/${bdf}/vfio-dev`);
    t.assertNotNull(node ?? null);
    const cdevPath = `/dev/vfio/devices/${node}`;
    const iommufd = m.sys.open('/dev/iommu', O_RDWR);
    t.assertLe(0, iommufd);
    const cdev = m.sys.open(cdevPath, O_RDWR);
    t.assertLe(0, cdev);
    return { m, groupId, bdf, cdevPath, iommufd, cdev };
  },
  teardown(_t, s) {
    s.m.sys.close(s.cdev);
    s.m.sys.close(s.iommufd);
  },
});

function bind(s: Self, v: abi.Input<typeof vfio_device_bind_iommufd> = {}, cdev = s.cdev) {
  const p = put(s.m, vfio_device_bind_iommufd, { argsz: abi.offsetofend(vfio_device_bind_iommufd, 'out_devid'), iommufd: s.iommufd, ...v });
  const rc = s.m.sys.ioctl(cdev, VFIO_DEVICE_BIND_IOMMUFD, p);
  return { rc, devid: get(s.m, vfio_device_bind_iommufd, p).out_devid };
}

function attach(s: Self, ptId: number, v: abi.Input<typeof vfio_device_attach_iommufd_pt> = {}) {
  const p = put(s.m, vfio_device_attach_iommufd_pt, { argsz: abi.offsetofend(vfio_device_attach_iommufd_pt, 'pt_id'), pt_id: ptId, ...v });
  const rc = s.m.sys.ioctl(s.cdev, VFIO_DEVICE_ATTACH_IOMMUFD_PT, p);
  return { rc, ptId: get(s.m, vfio_device_attach_iommufd_pt, p).pt_id };
}

const detach = (s: Self): number =>
  s.m.sys.ioctl(s.cdev, VFIO_DEVICE_DETACH_IOMMUFD_PT, put(s.m, vfio_device_detach_iommufd_pt, { argsz: abi.offsetofend(vfio_device_detach_iommufd_pt, 'flags') }));

function ioasAlloc(t: SuiteT, s: Self): number {
  const p = put(s.m, iommu_ioas_alloc, { size: iommu_ioas_alloc.size });
  t.assertEq(0, s.m.sys.ioctl(s.iommufd, IOMMU_IOAS_ALLOC, p));
  return get(s.m, iommu_ioas_alloc, p).out_ioas_id;
}

function map(s: Self, ioas: number, iova: bigint, length: bigint): number {
  const vaddr = s.m.sys.mmap(length);
  const p = put(s.m, iommu_ioas_map, { size: iommu_ioas_map.size, flags: RW | IOMMU_IOAS_MAP_FIXED_IOVA, ioas_id: ioas, user_va: vaddr, length, iova });
  return s.m.sys.ioctl(s.iommufd, IOMMU_IOAS_MAP, p);
}

function unmap(s: Self, ioas: number, iova: bigint, length: bigint): { rc: number; length: bigint } {
  const p = put(s.m, iommu_ioas_unmap, { size: iommu_ioas_unmap.size, ioas_id: ioas, iova, length });
  const rc = s.m.sys.ioctl(s.iommufd, IOMMU_IOAS_UNMAP, p);
  return { rc, length: get(s.m, iommu_ioas_unmap, p).length };
}

/** QEMU's iommufd_cdev_get_info_iova_range: probe with no room (EMSGSIZE, num_iovas filled), then fetch. */
function iovaRanges(t: SuiteT, s: Self, ioas: number) {
  const probe = put(s.m, iommu_ioas_iova_ranges, { size: iommu_ioas_iova_ranges.size, ioas_id: ioas, num_iovas: 0 });
  t.expectErrno('EMSGSIZE', s.m.sys.ioctl(s.iommufd, IOMMU_IOAS_IOVA_RANGES, probe));
  const num = get(s.m, iommu_ioas_iova_ranges, probe).num_iovas;
  t.assertLt(0, num);
  const array = s.m.mem.alloc(num * iommu_iova_range.size);
  const fetch = put(s.m, iommu_ioas_iova_ranges, { size: iommu_ioas_iova_ranges.size, ioas_id: ioas, num_iovas: num, allowed_iovas: array });
  t.assertEq(0, s.m.sys.ioctl(s.iommufd, IOMMU_IOAS_IOVA_RANGES, fetch));
  const out = get(s.m, iommu_ioas_iova_ranges, fetch);
  t.assertEq(num, out.num_iovas);
  return { ranges: abi.decodeArray(iommu_iova_range, s.m.mem.read(array, num * iommu_iova_range.size), num), alignment: out.out_iova_alignment };
}

/** The regions iommufd reserves at attach: every reserved_regions line but direct-relaxable. */
const enforced = (t: SuiteT, groupId: string): Region[] => t.sysfs.regions(groupId).filter(r => r.type !== 'direct-relaxable');

/** Bound and attached to a fresh IOAS: { devid, ioas, hwpt }. */
function attached(t: SuiteT, s: Self) {
  const b = bind(s);
  t.assertEq(0, b.rc);
  const ioas = ioasAlloc(t, s);
  const a = attach(s, ioas);
  t.assertEq(0, a.rc);
  return { devid: b.devid, ioas, hwpt: a.ptId };
}

dev.test('bind_attach_detach', (t, s) => {
  const b = bind(s);
  t.assertEq(0, b.rc);
  t.expectNe(0, b.devid);
  t.expectErrno('EINVAL', bind(s).rc); // one device cannot be bound twice
  const ioas = ioasAlloc(t, s);
  const a = attach(s, ioas);
  t.assertEq(0, a.rc);
  t.expectNe(ioas, a.ptId); // the automatic HWPT
  t.expectEq(0, detach(s));
  t.expectEq(0, detach(s)); // detaching a detached device is a no-op
  const again = attach(s, a.ptId);
  t.expectErrno('ENOENT', again.rc); // the automatic HWPT went with the detach
  t.expectEq(0, attach(s, ioas).rc);
});

/** vfio_df_ioctl_bind_iommufd's checks in its order, then iommufd_ctx_from_fd's. */
dev.test('bind_errnos', (t, s) => {
  const minsz = abi.offsetofend(vfio_device_bind_iommufd, 'out_devid');
  t.expectErrno('EFAULT', s.m.sys.ioctl(s.cdev, VFIO_DEVICE_BIND_IOMMUFD, 0n));
  t.expectErrno('EINVAL', bind(s, { argsz: minsz - 1 }).rc);
  t.expectErrno('EINVAL', bind(s, { flags: 1 << 30 }).rc);
  t.expectErrno('EINVAL', bind(s, { iommufd: -1 }).rc);
  t.expectErrno('EBADF', bind(s, { iommufd: 999 }).rc);
  t.expectErrno('EBADFD', bind(s, { iommufd: s.cdev }).rc); // an fd, not an iommufd
  t.expectEq(0, bind(s).rc);
});

/** An unbound cdev answers nothing but BIND. */
dev.test('unbound_device_refuses_ioctls', (t, s) => {
  const p = put(s.m, vfio_device_info, { argsz: vfio_device_info.size });
  t.expectErrno('EINVAL', s.m.sys.ioctl(s.cdev, VFIO_DEVICE_GET_INFO, p));
  t.expectErrno('EINVAL', attach(s, 1).rc);
  t.assertEq(0, bind(s).rc);
  t.expectEq(0, s.m.sys.ioctl(s.cdev, VFIO_DEVICE_GET_INFO, p));
});

/** The usable IOVA after attach: sorted, disjoint, clear of every enforced region, the gaps exactly those regions. */
dev.test('iova_ranges_avoid_reserved_regions', (t, s) => {
  const { ioas } = attached(t, s);
  const { ranges, alignment } = iovaRanges(t, s, ioas);
  t.expectLe(4096n, alignment);
  t.expectEq(0n, alignment & (alignment - 1n));
  const resv = enforced(t, s.groupId);
  for (let i = 1; i < ranges.length; i++) {
    const gap = { start: ranges[i - 1]!.last + 1n, end: ranges[i]!.start - 1n };
    t.expectLe(gap.start, gap.end);
    // Every byte of a gap belongs to some enforced region.
    let at = gap.start;
    for (const r of [...resv].sort((a, b) => (a.start < b.start ? -1 : 1))) if (r.start <= at && r.end >= at) at = r.end + 1n;
    if (!t.expectTrue(at > gap.end)) t.log('gap [%s, %s] is not reserved from %s', gap.start.toString(16), gap.end.toString(16), at.toString(16));
  }
  for (const r of resv)
    for (const u of ranges) if (!t.expectTrue(u.last < r.start || u.start > r.end)) t.log('usable [%s, %s] overlaps %s', u.start.toString(16), u.last.toString(16), r.line);
});

/** The same usable IOVA the type1 backend reports for the group (when the legacy container exists). */
dev.test('iova_ranges_match_type1', (t, s) => {
  if (!s.m.fs.existsSync('/dev/vfio/vfio')) t.skip('no /dev/vfio/vfio to compare with');
  const { ioas } = attached(t, s);
  const fd = iovaRanges(t, s, ioas).ranges;
  s.m.sys.close(s.cdev);
  const legacy = iommuInit(t, s.m, { ...MODE, name: 'vfio_type1v2_iommu', type: VFIO_TYPE1v2_IOMMU, containerPath: '/dev/vfio/vfio' }, s.groupId);
  const type1 = iommuInfo(t, s.m, legacy.container).ranges ?? [];
  t.assertEq(type1.length, fd.length);
  type1.forEach((r, i) => {
    t.expectEq(r.start, fd[i]!.start);
    t.expectEq(r.end, fd[i]!.last);
  });
  for (const fdNo of [legacy.device, legacy.group, legacy.container]) s.m.sys.close(fdNo);
});

/** The seed scenario through iommufd: guest RAM mapped over a reserved window; the attach is refused and changes nothing. */
dev.test('attach_over_mapped_reserved_region', (t, s) => {
  const r = enforced(t, s.groupId).find(x => x.end - x.start + 1n >= 4096n);
  if (!r) t.skip(`group ${s.groupId} reserves nothing to map over`);
  t.assertEq(0, bind(s).rc);
  const ioas = ioasAlloc(t, s);
  const ramIova = (r!.start & ~(MiB - 1n)) - MiB;
  const ramSize = ((r!.end + 1n - ramIova + MiB - 1n) & ~(MiB - 1n)) + MiB;
  t.assertEq(0, map(s, ioas, ramIova, ramSize)); // no device yet: nothing is reserved
  const before = iovaRanges(t, s, ioas);
  t.expectErrno('EADDRINUSE', attach(s, ioas).rc);
  const after = iovaRanges(t, s, ioas);
  t.expectEq(JSON.stringify(before, (_k, v) => (typeof v === 'bigint' ? v.toString(16) : v)), JSON.stringify(after, (_k, v) => (typeof v === 'bigint' ? v.toString(16) : v)));
  const u = unmap(s, ioas, ramIova, ramSize);
  t.expectEq(0, u.rc);
  t.expectEq(ramSize, u.length); // the mapping was whole
  t.expectEq(0, attach(s, ioas).rc); // without it the device attaches
});

/** Once attached, the reserved regions are the IOAS's: a fixed map into one is EINVAL (iopt_check_iova). */
dev.test('map_into_reserved_region', (t, s) => {
  const r = enforced(t, s.groupId).find(x => x.end - x.start + 1n >= 4096n);
  if (!r) t.skip(`group ${s.groupId} reserves nothing`);
  const { ioas } = attached(t, s);
  t.expectErrno('EINVAL', map(s, ioas, r!.start & ~4095n, 4096n));
  t.assertEq(0, detach(s));
  t.expectEq(0, map(s, ioas, r!.start & ~4095n, 4096n)); // detached, the region is no longer the IOAS's
});

/** cdev and group exclude each other: a bound cdev blocks opening the group; an open group blocks BIND. */
dev.test('cdev_and_group_exclude_each_other', (t, s) => {
  const g = s.m.sys.open(`/dev/vfio/${s.groupId}`, O_RDWR);
  t.assertLe(0, g);
  t.expectErrno('EBUSY', bind(s).rc);
  t.assertEq(0, s.m.sys.close(g));
  t.assertEq(0, bind(s).rc);
  t.expectErrno('EBUSY', s.m.sys.open(`/dev/vfio/${s.groupId}`, O_RDWR));
  t.assertEq(0, s.m.sys.close(s.cdev));
  const again = s.m.sys.open(`/dev/vfio/${s.groupId}`, O_RDWR);
  t.expectLe(0, again);
  s.m.sys.close(again);
});

export const main = h.main;
h.runIfMain(module);
