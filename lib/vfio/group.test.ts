// SPDX-License-Identifier: GPL-2.0-only
import test from 'ava';
import { constants } from 'node:fs';
import { encode } from '../abi';
import { user } from '../cred';
import type { Errno } from '../errno';
import { O_RDWR } from '../uapi/fcntl';
import { Machine, createMachine } from '../machine';
import {
  VFIO_API_VERSION,
  VFIO_CHECK_EXTENSION,
  VFIO_DMA_CC_IOMMU,
  VFIO_GET_API_VERSION,
  VFIO_GROUP_FLAGS_CONTAINER_SET,
  VFIO_GROUP_FLAGS_VIABLE,
  VFIO_GROUP_GET_DEVICE_FD,
  VFIO_GROUP_GET_STATUS,
  VFIO_GROUP_UNSET_CONTAINER,
  VFIO_IOMMU_DIRTY_PAGES,
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_NOIOMMU_IOMMU,
  VFIO_SET_IOMMU,
  VFIO_SPAPR_TCE_IOMMU,
  VFIO_TYPE1_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  VFIO_UNMAP_ALL,
  VFIO_UPDATE_VADDR,
  __VFIO_RESERVED_TYPE1_NESTING_IOMMU,
  vfio_group_status,
} from '../uapi';
import { eventfd } from '../fs/eventfd';
import { bindVfioPci, iommufdMachine, rcCode, setContainerRaw, sysfsWrite, vfioGroupOf } from '../testing/vfio';

const NVME = '0000:02:00.0';
const NVME_GROUP = 7;

interface Open {
  m: Machine;
  cfd: number;
  gfd: number;
}

function open(host = 'intel-vtd-server', kernel = 'latest', group = NVME_GROUP): Open {
  const m = createMachine(host, { kernel });
  return { m, cfd: m.sys.open('/dev/vfio/vfio', O_RDWR), gfd: m.sys.open(`/dev/vfio/${group}`, O_RDWR) };
}

function status(m: Machine, gfd: number, argsz = 8): { rc: number; flags: number } {
  const p = m.mem.alloc(encode(vfio_group_status, { argsz, flags: 0xdead }));
  const rc = m.sys.ioctl(gfd, VFIO_GROUP_GET_STATUS, p);
  return { rc, flags: new DataView(m.mem.read(p, 8).buffer).getUint32(4, true) };
}

const devName = (m: Machine, s: string) => m.mem.alloc(new TextEncoder().encode(`${s}\0`));
const getDeviceFd = (o: Open, name = NVME) => o.m.sys.ioctl(o.gfd, VFIO_GROUP_GET_DEVICE_FD, devName(o.m, name));

// ---- nodes --------------------------------------------------------------------------------

test('/dev/vfio/vfio is misc 10:196 0666; a group node appears when a device binds to vfio-pci', (t) => {
  const m = iommufdMachine();
  const st = m.fs.statSync('/dev/vfio/vfio');
  t.is(Number(st.mode) & constants.S_IFMT, constants.S_IFCHR);
  t.is(Number(st.mode) & 0o777, 0o666);
  t.is(Number(st.rdev), (10 << 8) | 196);
  t.deepEqual(m.fs.readdirSync('/dev/vfio').sort(), [String(NVME_GROUP), 'devices', 'vfio']);
  const nic = vfioGroupOf(m, '0000:01:00.0');
  t.is(bindVfioPci(m, '0000:01:00.0'), '0000:01:00.0'.length);
  t.true(m.fs.existsSync(`/dev/vfio/${nic.id}`));
  sysfsWrite(m, '/sys/bus/pci/drivers/vfio-pci/unbind', '0000:01:00.0');
  t.false(m.fs.existsSync(`/dev/vfio/${nic.id}`));
});

test('no-IOMMU groups are /dev/vfio/noiommu-N and need CAP_SYS_RAWIO', (t) => {
  const m = createMachine({
    name: 'noiommu',
    kernel: '6.8',
    arch: 'x86_64',
    cmdline: { 'vfio.enable_unsafe_noiommu_mode': true },
    iommus: [],
    devices: [{ bdf: '0000:00:03.0', vendor: 0x8086, device: 0x10d3, class: 0x020000, driver: 'vfio-pci', bars: [{ index: 0, size: 0x20000, type: 'mem32' }] }],
  } as never);
  const g = vfioGroupOf(m, '0000:00:03.0');
  t.true(m.fs.existsSync(`/dev/vfio/noiommu-${g.id}`));
  const cfd = m.sys.open('/dev/vfio/vfio', O_RDWR);
  t.is(m.sys.ioctl(cfd, VFIO_CHECK_EXTENSION, VFIO_NOIOMMU_IOMMU), 1);
  m.setCredentials(user(0, 0, ['CAP_DAC_OVERRIDE']));
  t.is(rcCode(m.sys.open(`/dev/vfio/noiommu-${g.id}`, O_RDWR)), 'EPERM');
  m.setCredentials(user(0, 0, ['CAP_DAC_OVERRIDE', 'CAP_SYS_RAWIO']));
  const gfd = m.sys.open(`/dev/vfio/noiommu-${g.id}`, O_RDWR);
  t.is(setContainerRaw(m, gfd, cfd), 0);
  t.is(rcCode(m.sys.ioctl(cfd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU)), 'ENODEV');
  t.is(m.sys.ioctl(cfd, VFIO_SET_IOMMU, VFIO_NOIOMMU_IOMMU), 0);
  t.is(rcCode(m.sys.ioctl(cfd, VFIO_IOMMU_MAP_DMA, 0n)), 'ENOTTY');
  t.true(getDeviceFd({ m, cfd, gfd }, '0000:00:03.0') > 0);
});

// ---- group fd ------------------------------------------------------------------------------

test('group: single open (EBUSY), reopen after close', (t) => {
  const o = open();
  t.true(o.gfd > 0);
  t.is(rcCode(o.m.sys.open(`/dev/vfio/${NVME_GROUP}`, O_RDWR)), 'EBUSY');
  o.m.sys.close(o.gfd);
  t.true(o.m.sys.open(`/dev/vfio/${NVME_GROUP}`, O_RDWR) > 0);
});

test('GET_STATUS: exactly VIABLE fresh (rust-vmm), VIABLE|CONTAINER_SET attached, argsz/EFAULT checks', (t) => {
  const o = open();
  t.deepEqual(status(o.m, o.gfd), { rc: 0, flags: VFIO_GROUP_FLAGS_VIABLE });
  t.is(status(o.m, o.gfd).flags, 1);
  t.is(rcCode(status(o.m, o.gfd, 7).rc), 'EINVAL');
  t.is(rcCode(o.m.sys.ioctl(o.gfd, VFIO_GROUP_GET_STATUS, 0n)), 'EFAULT');
  t.is(setContainerRaw(o.m, o.gfd, o.cfd), 0);
  t.deepEqual(status(o.m, o.gfd), { rc: 0, flags: VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET });
});

test('GET_STATUS: not viable while another device of the group is on a host driver', (t) => {
  const m = createMachine('intel-vtd-server');
  const g = vfioGroupOf(m, '0000:01:00.0');
  t.is(vfioGroupOf(m, '0000:01:00.1'), g);
  bindVfioPci(m, '0000:01:00.0');
  const cfd = m.sys.open('/dev/vfio/vfio', O_RDWR);
  const gfd = m.sys.open(`/dev/vfio/${g.id}`, O_RDWR);
  t.deepEqual(status(m, gfd), { rc: 0, flags: 0 });
  t.is(rcCode(setContainerRaw(m, gfd, cfd)), 'EPERM');
  bindVfioPci(m, '0000:01:00.1');
  t.deepEqual(status(m, gfd), { rc: 0, flags: VFIO_GROUP_FLAGS_VIABLE });
  t.is(setContainerRaw(m, gfd, cfd), 0);
});

test('SET_CONTAINER claims DMA ownership: host drivers refuse to bind, the type store is refused', (t) => {
  const m = createMachine('intel-vtd-server');
  const g = vfioGroupOf(m, '0000:01:00.0');
  bindVfioPci(m, '0000:01:00.0');
  bindVfioPci(m, '0000:01:00.1');
  const cfd = m.sys.open('/dev/vfio/vfio', O_RDWR);
  const gfd = m.sys.open(`/dev/vfio/${g.id}`, O_RDWR);
  t.is(setContainerRaw(m, gfd, cfd), 0);
  sysfsWrite(m, '/sys/bus/pci/drivers/vfio-pci/unbind', '0000:01:00.1');
  sysfsWrite(m, '/sys/bus/pci/devices/0000:01:00.1/driver_override', 'i40e');
  t.is(rcCode(sysfsWrite(m, '/sys/bus/pci/drivers/i40e/bind', '0000:01:00.1')), 'EBUSY');
  t.is(rcCode(sysfsWrite(m, `/sys/kernel/iommu_groups/${g.id}/type`, 'identity')), 'EPERM');
  t.is(m.sys.ioctl(gfd, VFIO_GROUP_UNSET_CONTAINER), 0);
  t.is(sysfsWrite(m, '/sys/bus/pci/drivers/i40e/bind', '0000:01:00.1'), '0000:01:00.1'.length);
});

interface GroupCase {
  readonly name: string;
  readonly code: Errno | 0;
  readonly run: (o: Open) => number;
  /** Default: the intel-vtd-server NVMe group on the latest kernel. */
  readonly host?: string;
  readonly kernel?: string;
  readonly group?: number;
}

const groupCases: GroupCase[] = [
  { name: 'SET_CONTAINER: arg not mapped', code: 'EFAULT', run: (o) => o.m.sys.ioctl(o.gfd, 0x3b68, 0n) },
  { name: 'SET_CONTAINER: not an fd', code: 'EBADF', run: (o) => setContainerRaw(o.m, o.gfd, 99) },
  { name: 'SET_CONTAINER: twice', code: 'EINVAL', run: (o) => (setContainerRaw(o.m, o.gfd, o.cfd), setContainerRaw(o.m, o.gfd, o.cfd)) },
  { name: 'SET_CONTAINER: not a container fd', code: 'EBADFD', run: (o) => setContainerRaw(o.m, o.gfd, eventfd(o.m)) },
  { name: 'SET_CONTAINER', code: 0, run: (o) => setContainerRaw(o.m, o.gfd, o.cfd) },
  { name: 'UNSET_CONTAINER: not set', code: 'EINVAL', run: (o) => o.m.sys.ioctl(o.gfd, VFIO_GROUP_UNSET_CONTAINER) },
  {
    name: 'UNSET_CONTAINER: device fd open',
    code: 'EBUSY',
    run: (o) => (setContainerRaw(o.m, o.gfd, o.cfd), o.m.sys.ioctl(o.cfd, VFIO_SET_IOMMU, 3), getDeviceFd(o), o.m.sys.ioctl(o.gfd, VFIO_GROUP_UNSET_CONTAINER)),
  },
  { name: 'UNSET_CONTAINER', code: 0, run: (o) => (setContainerRaw(o.m, o.gfd, o.cfd), o.m.sys.ioctl(o.gfd, VFIO_GROUP_UNSET_CONTAINER)) },
  { name: 'GET_DEVICE_FD: name not mapped', code: 'EFAULT', run: (o) => o.m.sys.ioctl(o.gfd, VFIO_GROUP_GET_DEVICE_FD, 0n) },
  { name: 'GET_DEVICE_FD: no NUL within a page', code: 'EINVAL', run: (o) => o.m.sys.ioctl(o.gfd, VFIO_GROUP_GET_DEVICE_FD, o.m.mem.alloc(new Uint8Array(8192).fill(0x41))) },
  { name: 'GET_DEVICE_FD: unknown device', code: 'ENODEV', run: (o) => getDeviceFd(o, '0000:09:00.0') },
  { name: 'GET_DEVICE_FD: device of another group', code: 'ENODEV', run: (o) => getDeviceFd(o, '0000:01:00.0') },
  { name: 'GET_DEVICE_FD: bad option', code: 'EINVAL', run: (o) => getDeviceFd(o, `${NVME} foo`) },
  { name: 'GET_DEVICE_FD: vf_token on a non-SR-IOV device', code: 'EINVAL', run: (o) => getDeviceFd(o, `${NVME} vf_token=2ab74924-c335-45f4-9b16-8569e5b08258`) },
  { name: 'GET_DEVICE_FD: no container', code: 'EINVAL', run: (o) => getDeviceFd(o) },
  { name: 'GET_DEVICE_FD: container without IOMMU', code: 'EINVAL', run: (o) => (setContainerRaw(o.m, o.gfd, o.cfd), getDeviceFd(o)) },
  { name: 'GET_DEVICE_FD: a character other than a space after the BDF is no match', code: 'ENODEV', run: (o) => getDeviceFd(o, `${NVME}x`) },
  { name: 'GET_DEVICE_FD: a tab after the BDF is no match', code: 'ENODEV', run: (o) => getDeviceFd(o, `${NVME}\t`) },
  { name: 'GET_DEVICE_FD: a tab after the separating space is an unknown option', code: 'EINVAL', run: (o) => (setContainerRaw(o.m, o.gfd, o.cfd), o.m.sys.ioctl(o.cfd, VFIO_SET_IOMMU, 3), getDeviceFd(o, `${NVME} \t`)) },
  { name: 'GET_DEVICE_FD: trailing whitespace matches', code: 0, run: (o) => (setContainerRaw(o.m, o.gfd, o.cfd), o.m.sys.ioctl(o.cfd, VFIO_SET_IOMMU, 3), getDeviceFd(o, `${NVME}  `)) },
  { name: 'unknown group ioctl', code: 'ENOTTY', run: (o) => o.m.sys.ioctl(o.gfd, VFIO_IOMMU_MAP_DMA, 0n) },
];

for (const c of groupCases) {
  test(`group: ${c.name}`, (t) => {
    t.is(rcCode(c.run(open())), c.code);
  });
}

test('device fds hold the group: closing the group fd keeps the container until the last device closes', (t) => {
  const o = open();
  setContainerRaw(o.m, o.gfd, o.cfd);
  o.m.sys.ioctl(o.cfd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU);
  const d1 = getDeviceFd(o);
  const d2 = getDeviceFd(o);
  t.true(d1 > 0 && d2 > 0);
  t.is(o.m.sys.close(o.gfd), 0);
  t.is(rcCode(o.m.sys.open(`/dev/vfio/${NVME_GROUP}`, O_RDWR)), 'EBUSY');
  const g = vfioGroupOf(o.m, NVME);
  t.truthy(g.owner);
  o.m.sys.close(d1);
  t.truthy(g.owner);
  o.m.sys.close(d2);
  t.is(g.owner, null);
  t.true(o.m.sys.open(`/dev/vfio/${NVME_GROUP}`, O_RDWR) > 0);
  t.is(rcCode(o.m.sys.ioctl(o.cfd, VFIO_IOMMU_GET_INFO, 0n)), 'EINVAL', 'the last group left: the container is unset again');
});

// ---- container fd -------------------------------------------------------------------------

test('container: API version; type1 ioctls before SET_IOMMU are EINVAL', (t) => {
  const o = open();
  t.is(o.m.sys.ioctl(o.cfd, VFIO_GET_API_VERSION), VFIO_API_VERSION);
  for (const req of [VFIO_IOMMU_GET_INFO, VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA, VFIO_IOMMU_DIRTY_PAGES, 0x3b7f])
    t.is(rcCode(o.m.sys.ioctl(o.cfd, req, 0n)), 'EINVAL', `0x${req.toString(16)}`);
});

test('CHECK_EXTENSION before SET_IOMMU polls the drivers: 1 exactly (DPDK), per kernel', (t) => {
  const want: Record<string, Record<number, number>> = {
    latest: { [VFIO_TYPE1_IOMMU]: 1, [VFIO_TYPE1v2_IOMMU]: 1, [VFIO_UNMAP_ALL]: 1, [VFIO_UPDATE_VADDR]: 0, [VFIO_DMA_CC_IOMMU]: 0, [VFIO_NOIOMMU_IOMMU]: 0 },
    '6.1': { [VFIO_TYPE1_IOMMU]: 1, [VFIO_TYPE1v2_IOMMU]: 1, [VFIO_UNMAP_ALL]: 1, [VFIO_UPDATE_VADDR]: 1, [VFIO_DMA_CC_IOMMU]: 0, [VFIO_NOIOMMU_IOMMU]: 0 },
    '5.10': { [VFIO_TYPE1_IOMMU]: 1, [VFIO_TYPE1v2_IOMMU]: 1, [VFIO_UNMAP_ALL]: 0, [VFIO_UPDATE_VADDR]: 0, [VFIO_DMA_CC_IOMMU]: 0, [VFIO_NOIOMMU_IOMMU]: 0 },
  };
  for (const [k, exts] of Object.entries(want)) {
    const o = open('intel-vtd-server', k);
    for (const [e, v] of Object.entries(exts)) t.is(o.m.sys.ioctl(o.cfd, VFIO_CHECK_EXTENSION, Number(e)), v, `${k} ext ${e}`);
    for (const e of [VFIO_SPAPR_TCE_IOMMU, 7, 99]) t.is(o.m.sys.ioctl(o.cfd, VFIO_CHECK_EXTENSION, e), 0);
    // Advertised until "vfio: Remove VFIO_TYPE1_NESTING_IOMMU".
    t.is(o.m.sys.ioctl(o.cfd, VFIO_CHECK_EXTENSION, __VFIO_RESERVED_TYPE1_NESTING_IOMMU), k === 'latest' ? 0 : 1, `${k} nesting`);
  }
});

const setIommuCases: GroupCase[] = [
  { name: 'no group', code: 'EINVAL', run: (o) => o.m.sys.ioctl(o.cfd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) },
  { name: 'already set', code: 'EINVAL', run: (o) => (setContainerRaw(o.m, o.gfd, o.cfd), o.m.sys.ioctl(o.cfd, VFIO_SET_IOMMU, 3), o.m.sys.ioctl(o.cfd, VFIO_SET_IOMMU, 1)) },
  { name: 'sPAPR', code: 'ENODEV', run: (o) => (setContainerRaw(o.m, o.gfd, o.cfd), o.m.sys.ioctl(o.cfd, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_IOMMU)) },
  { name: 'nesting (no longer advertised)', code: 'ENODEV', run: (o) => (setContainerRaw(o.m, o.gfd, o.cfd), o.m.sys.ioctl(o.cfd, VFIO_SET_IOMMU, 6)) },
  { name: 'nesting on 6.1: VT-d cannot enable it', kernel: '6.1', code: 'EINVAL', run: (o) => (setContainerRaw(o.m, o.gfd, o.cfd), o.m.sys.ioctl(o.cfd, VFIO_SET_IOMMU, 6)) },
  { name: 'nesting on 6.1: SMMUv3 can', kernel: '6.1', host: 'arm64-smmuv3', group: 4, code: 0, run: (o) => (setContainerRaw(o.m, o.gfd, o.cfd), o.m.sys.ioctl(o.cfd, VFIO_SET_IOMMU, 6)) },
  { name: 'no-IOMMU on a real group', code: 'ENODEV', run: (o) => (setContainerRaw(o.m, o.gfd, o.cfd), o.m.sys.ioctl(o.cfd, VFIO_SET_IOMMU, VFIO_NOIOMMU_IOMMU)) },
  { name: 'TYPE1', code: 0, run: (o) => (setContainerRaw(o.m, o.gfd, o.cfd), o.m.sys.ioctl(o.cfd, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU)) },
  { name: 'unknown container ioctl after SET_IOMMU', code: 'ENOTTY', run: (o) => (setContainerRaw(o.m, o.gfd, o.cfd), o.m.sys.ioctl(o.cfd, VFIO_SET_IOMMU, 3), o.m.sys.ioctl(o.cfd, 0x3b7f, 0n)) },
];

for (const c of setIommuCases) {
  test(`SET_IOMMU: ${c.name}`, (t) => {
    t.is(rcCode(c.run(open(c.host, c.kernel, c.group))), c.code);
  });
}

const noRemap = (allow: boolean) => ({
  name: 'no-ir',
  kernel: '6.8',
  arch: 'x86_64',
  cmdline: { 'vfio_iommu_type1.allow_unsafe_interrupts': allow },
  iommus: [{ driver: 'intel-iommu', interruptRemapping: false }],
  devices: [{ bdf: '0000:00:03.0', vendor: 0x8086, device: 0x10d3, class: 0x020000, driver: 'vfio-pci', bars: [{ index: 0, size: 0x20000, type: 'mem32' }] }],
});

test('SET_IOMMU: no interrupt remapping is EPERM unless allow_unsafe_interrupts', (t) => {
  for (const [allow, want] of [
    [false, 'EPERM'],
    [true, 0],
  ] as const) {
    const m = createMachine(noRemap(allow) as never);
    const g = vfioGroupOf(m, '0000:00:03.0');
    const cfd = m.sys.open('/dev/vfio/vfio', O_RDWR);
    const gfd = m.sys.open(`/dev/vfio/${g.id}`, O_RDWR);
    t.is(setContainerRaw(m, gfd, cfd), 0);
    t.is(rcCode(m.sys.ioctl(cfd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU)), want);
  }
});
