// SPDX-License-Identifier: GPL-2.0-only
/**
 * The legacy VFIO container and group: open, status, SET_CONTAINER/SET_IOMMU ordering, device
 * fds, and what a claimed group refuses (hot-plug-time driver binds, domain type changes).
 * @see drivers/vfio/container.c, drivers/vfio/group.c, drivers/iommu/iommu.c:iommu_group_claim_dma_owner
 */
import {
  O_RDWR,
  VFIO_CHECK_EXTENSION,
  VFIO_GROUP_FLAGS_CONTAINER_SET,
  VFIO_GROUP_FLAGS_VIABLE,
  VFIO_GROUP_GET_DEVICE_FD,
  VFIO_GROUP_GET_STATUS,
  VFIO_GROUP_SET_CONTAINER,
  VFIO_GROUP_UNSET_CONTAINER,
  VFIO_SET_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  vfio_group_status,
  type Machine,
} from '../../lib/index';
import { suite, kernelAtLeast, needMachine, type SuiteT } from '../lib/suite';
import { get, iommuInit, iommufdContainer, openContainer, openGroup, put, vfioGroup, CONTAINER_MODES } from '../lib/iommu';
import { tryWriteAttr } from '../lib/attr';
import { NON_DMA_API_DRIVERS, tryBind } from '../lib/pci';

const h = suite('vfio_group_test');

const fdArg = (m: Machine, fd: number): bigint => m.mem.alloc(new Uint8Array(new Int32Array([fd]).buffer));
const nameArg = (m: Machine, s: string): bigint => m.mem.alloc(Buffer.from(`${s}\0`));

function status(m: Machine, group: number, argsz = vfio_group_status.size): { rc: number; flags: number } {
  const p = put(m, vfio_group_status, { argsz });
  const rc = m.sys.ioctl(group, VFIO_GROUP_GET_STATUS, p);
  return { rc, flags: get(m, vfio_group_status, p).flags };
}

const vfio = h.fixture<{ m: Machine; id: string }>('vfio', {
  setup(t) {
    const m = needMachine(t);
    return { m, id: vfioGroup(t) };
  },
});

vfio.test('group_nodes_only_for_vfio_groups', (t, { m }) => {
  for (const id of t.sysfs.groups()) {
    const onVfio = t.sysfs.groupDevices(id).some(b => t.sysfs.pciDriver(b) === 'vfio-pci');
    t.expectEq(onVfio, m.fs.existsSync(`/dev/vfio/${id}`));
  }
  t.expectTrue(m.fs.existsSync('/dev/vfio/vfio'));
});

vfio.test('group_single_open', (t, { m, id }) => {
  const g = openGroup(t, m, id);
  t.expectErrno('EBUSY', m.sys.open(`/dev/vfio/${id}`, O_RDWR));
  t.assertEq(0, m.sys.close(g));
  const again = m.sys.open(`/dev/vfio/${id}`, O_RDWR);
  t.expectLe(0, again);
});

vfio.test('status_flags', (t, { m, id }) => {
  const c = openContainer(t, m);
  const g = openGroup(t, m, id);
  t.expectEq(VFIO_GROUP_FLAGS_VIABLE, status(m, g).flags);
  t.assertEq(0, m.sys.ioctl(g, VFIO_GROUP_SET_CONTAINER, fdArg(m, c)));
  t.expectEq(VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET, status(m, g).flags);
  t.assertEq(0, m.sys.ioctl(g, VFIO_GROUP_UNSET_CONTAINER));
  t.expectEq(VFIO_GROUP_FLAGS_VIABLE, status(m, g).flags);
});

/**
 * Each row: a call in the wrong state and the errno the kernel returns; `iommufd` where iommufd's
 * /dev/vfio/vfio (CONFIG_IOMMUFD_VFIO_CONTAINER) answers otherwise ('ok': it succeeds).
 */
const ORDER_ROWS: readonly { name: string; run: (m: Machine, c: number, g: number, bdf: string) => number; errno: string; iommufd?: string }[] = [
  // iommufd_vfio_set_iommu: no compat IOAS before a group is set (get_compat_ioas: ENODEV).
  { name: 'set_iommu_without_group', run: (m, c) => m.sys.ioctl(c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), errno: 'EINVAL', iommufd: 'ENODEV' },
  { name: 'unset_container_without_container', run: (m, _c, g) => m.sys.ioctl(g, VFIO_GROUP_UNSET_CONTAINER), errno: 'EINVAL' },
  // vfio_group_has_iommu() is true as soon as the group has an iommufd: no SET_IOMMU needed.
  {
    name: 'get_device_fd_without_iommu',
    run: (m, c, g, bdf) => (m.sys.ioctl(g, VFIO_GROUP_SET_CONTAINER, fdArg(m, c)), m.sys.ioctl(g, VFIO_GROUP_GET_DEVICE_FD, nameArg(m, bdf))),
    errno: 'EINVAL',
    iommufd: 'ok',
  },
  { name: 'set_container_twice', run: (m, c, g) => (m.sys.ioctl(g, VFIO_GROUP_SET_CONTAINER, fdArg(m, c)), m.sys.ioctl(g, VFIO_GROUP_SET_CONTAINER, fdArg(m, c))), errno: 'EINVAL' },
  { name: 'set_container_bad_fd', run: (m, _c, g) => m.sys.ioctl(g, VFIO_GROUP_SET_CONTAINER, fdArg(m, 999)), errno: 'EBADF' },
  // iommufd_vfio_set_iommu checks the type first (EINVAL); type1 looks for a driver (ENODEV).
  {
    name: 'set_iommu_unknown_type',
    run: (m, c, g) => (m.sys.ioctl(g, VFIO_GROUP_SET_CONTAINER, fdArg(m, c)), m.sys.ioctl(c, VFIO_SET_IOMMU, 0x7f)),
    errno: 'ENODEV',
    iommufd: 'EINVAL',
  },
  { name: 'status_argsz_too_small', run: (m, _c, g) => status(m, g, vfio_group_status.size - 1).rc, errno: 'EINVAL' },
  { name: 'status_bad_pointer', run: (m, _c, g) => m.sys.ioctl(g, VFIO_GROUP_GET_STATUS, 0n), errno: 'EFAULT' },
  { name: 'unknown_group_ioctl', run: (m, _c, g) => m.sys.ioctl(g, VFIO_CHECK_EXTENSION + 0x7f), errno: 'ENOTTY' },
];

for (const row of ORDER_ROWS) {
  vfio.test(row.name, (t, { m, id }) => {
    const c = openContainer(t, m);
    const g = openGroup(t, m, id);
    const bdf = t.sysfs.groupDevices(id).find(b => t.sysfs.pciDriver(b) === 'vfio-pci')!;
    const want = iommufdContainer(m, CONTAINER_MODES[0]!) ? (row.iommufd ?? row.errno) : row.errno;
    if (want === 'ok') t.expectLe(0, row.run(m, c, g, bdf));
    else t.expectErrno(want, row.run(m, c, g, bdf));
  });
}

const modes = h.fixture<{ m: Machine; id: string }, (typeof CONTAINER_MODES)[number]>('iommu_mode', {
  setup(t) {
    const m = needMachine(t);
    return { m, id: vfioGroup(t) };
  },
});
for (const mode of CONTAINER_MODES) modes.variant(mode.name, mode);

modes.test('check_extension', (t, { m }, mode) => {
  const c = openContainer(t, m, mode.containerPath);
  t.expectEq(1, m.sys.ioctl(c, VFIO_CHECK_EXTENSION, mode.type));
  t.expectEq(0, m.sys.ioctl(c, VFIO_CHECK_EXTENSION, 0x7f));
});

modes.test('device_fd', (t, { m, id }, mode) => {
  const s = iommuInit(t, m, mode, id);
  const bdf = t.sysfs.groupDevices(id).find(b => t.sysfs.pciDriver(b) === 'vfio-pci')!;
  const dev = m.sys.ioctl(s.group, VFIO_GROUP_GET_DEVICE_FD, nameArg(m, bdf));
  t.expectLe(0, dev);
  t.expectErrno('ENODEV', m.sys.ioctl(s.group, VFIO_GROUP_GET_DEVICE_FD, nameArg(m, '0000:ff:1f.7')));
  // A second SET_IOMMU: type1 has its IOMMU already (EINVAL); iommufd's compat just re-applies the mode.
  if (iommufdContainer(m, mode)) t.expectEq(0, m.sys.ioctl(s.container, VFIO_SET_IOMMU, mode.type));
  else t.expectErrno('EINVAL', m.sys.ioctl(s.container, VFIO_SET_IOMMU, mode.type));
});

/** While userspace owns the group's DMA, a DMA-API driver cannot bind a member and the domain type is fixed. */
modes.test('owned_group_refuses_kernel_drivers', (t, { m, id }, mode) => {
  iommuInit(t, m, mode, id);
  const member = t.sysfs.groupDevices(id).find(b => t.sysfs.pciDriver(b) === undefined);
  if (member !== undefined) {
    const drv = t.sysfs.list('/sys/bus/pci/drivers').find(d => !NON_DMA_API_DRIVERS.has(d));
    if (drv !== undefined) {
      tryWriteAttr(m.sys, `/sys/bus/pci/devices/${member}/driver_override`, `${drv}\n`);
      t.expectErrno('EBUSY', tryBind(m.sys, drv, member));
    }
  }
  if (m.kernel.has('group_type_writable'))
    t.expectErrno(kernelAtLeast(t as SuiteT, '6.4') ? 'EPERM' : 'EBUSY', tryWriteAttr(m.sys, `/sys/kernel/iommu_groups/${id}/type`, 'identity\n'));
});

/** Hot-unplug of the only device closes the door: the group node goes away with the group. */
modes.test('hot_unplug_removes_group_node', (t, { m, id }) => {
  const bdfs = t.sysfs.groupDevices(id);
  for (const b of bdfs) if (t.sysfs.exists(`/sys/bus/pci/devices/${b}`)) m.host.hotUnplug(b);
  t.expectFalse(m.fs.existsSync(`/dev/vfio/${id}`));
  t.expectFalse(t.sysfs.exists(`/sys/kernel/iommu_groups/${id}`));
});

export const main = h.main;
h.runIfMain(module);
