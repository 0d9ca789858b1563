// SPDX-License-Identifier: GPL-2.0-only
/**
 * Store semantics and errno of every writable attribute, as userspace sees them through
 * write(2) (`machine.sys`), plus the same through `machine.fs` (Node-style errors).
 */
import test from 'ava';
import { user } from '../cred';
import { ERRNO, Errno } from '../errno';
import { O_RDONLY, O_WRONLY } from '../uapi/fcntl';
import type { Machine } from '../machine';
import { walkEmulated } from '../export/export';
import { groupOf, machine, nic, read } from '../testing/topo';

const E = (e: Errno) => -ERRNO[e][0];
const NIC = '0000:00:03.0';
const DEV = `/sys/bus/pci/devices/${NIC}`;

/** write(2) of `data` to `path`: the return value of write, or of open when it fails. */
function sysWrite(m: Machine, path: string, data: string): number {
  const fd = m.sys.open(path, O_WRONLY);
  if (fd < 0) return fd;
  try {
    return m.sys.write(fd, data);
  } finally {
    m.sys.close(fd);
  }
}

const twoNics = (kernel = '6.8') =>
  machine({ kernel, devices: [nic(NIC), nic('0000:00:04.0', { driver: null }), nic('0000:00:05.0', { driver: 'vfio-pci' })] });

interface StoreCase {
  name: string;
  kernel?: string;
  setup?: (m: Machine) => void;
  path: string;
  data: string;
  rc: number | ((data: string) => number);
  after?: (m: Machine) => [string, string][];
}

const ok = (data: string) => data.length;

// drivers/base/driver.c:driver_set_override, drivers/pci/pci-sysfs.c:driver_override_{show,store}
const driverOverride: StoreCase[] = [
  { name: 'set', path: `${DEV}/driver_override`, data: 'vfio-pci', rc: ok, after: () => [[`${DEV}/driver_override`, 'vfio-pci\n']] },
  { name: 'trailing newline is cut', path: `${DEV}/driver_override`, data: 'vfio-pci\n', rc: ok, after: () => [[`${DEV}/driver_override`, 'vfio-pci\n']] },
  { name: 'cut at the first newline', path: `${DEV}/driver_override`, data: 'pci-stub\nxyz', rc: ok, after: () => [[`${DEV}/driver_override`, 'pci-stub\n']] },
  { name: 'lone newline clears', setup: (m) => sysWrite(m, `${DEV}/driver_override`, 'vfio-pci'), path: `${DEV}/driver_override`, data: '\n', rc: ok, after: () => [[`${DEV}/driver_override`, '(null)\n']] },
  { name: 'PAGE_SIZE-1 bytes is EINVAL', path: `${DEV}/driver_override`, data: 'x'.repeat(4095), rc: E('EINVAL'), after: () => [[`${DEV}/driver_override`, '(null)\n']] },
  { name: 'PAGE_SIZE-2 bytes is accepted', path: `${DEV}/driver_override`, data: 'x'.repeat(4094), rc: ok },
  { name: 'does not unbind the current driver', path: `${DEV}/driver_override`, data: 'vfio-pci', rc: ok, after: (m) => [[`${DEV}/driver_override`, 'vfio-pci\n'], ['driver', String(m.fs.readlinkSync(`${DEV}/driver`))]] },
];

// drivers/base/bus.c:bind_store, unbind_store
const bindUnbind: StoreCase[] = [
  { name: 'unbind from the bound driver', path: '/sys/bus/pci/drivers/i40e/unbind', data: `${NIC}\n`, rc: ok },
  { name: 'unbind from another driver is ENODEV', path: '/sys/bus/pci/drivers/vfio-pci/unbind', data: NIC, rc: E('ENODEV') },
  { name: 'unbind of an unknown device is ENODEV', path: '/sys/bus/pci/drivers/i40e/unbind', data: '0000:09:00.0', rc: E('ENODEV') },
  { name: 'bind of a bound device is EBUSY', setup: (m) => sysWrite(m, `${DEV}/driver_override`, 'vfio-pci'), path: '/sys/bus/pci/drivers/vfio-pci/bind', data: NIC, rc: E('EBUSY') },
  { name: 'vfio-pci binds only through driver_override or new_id', path: '/sys/bus/pci/drivers/vfio-pci/bind', data: '0000:00:04.0', rc: E('ENODEV') },
  { name: 'bind after driver_override', setup: (m) => sysWrite(m, '/sys/bus/pci/devices/0000:00:04.0/driver_override', 'vfio-pci'), path: '/sys/bus/pci/drivers/vfio-pci/bind', data: '0000:00:04.0\n', rc: ok, after: (m) => [['driver', String(m.fs.readlinkSync('/sys/bus/pci/devices/0000:00:04.0/driver'))]] },
  { name: 'an override naming another driver blocks a matching driver', setup: (m) => sysWrite(m, '/sys/bus/pci/devices/0000:00:04.0/driver_override', 'pci-stub'), path: '/sys/bus/pci/drivers/i40e/bind', data: '0000:00:04.0', rc: E('ENODEV') },
  { name: 'a host driver binds a device its id table matches', path: '/sys/bus/pci/drivers/i40e/bind', data: '0000:00:04.0', rc: ok },
  { name: 'bind of an unknown device is ENODEV', path: '/sys/bus/pci/drivers/i40e/bind', data: 'nonsense', rc: E('ENODEV') },
];

// drivers/pci/pci-driver.c:new_id_store, remove_id_store
const dynids: StoreCase[] = [
  { name: 'new_id with one field is EINVAL', path: '/sys/bus/pci/drivers/vfio-pci/new_id', data: '8086', rc: E('EINVAL') },
  { name: 'new_id with no hex is EINVAL', path: '/sys/bus/pci/drivers/vfio-pci/new_id', data: 'zz zz', rc: E('EINVAL') },
  { name: 'new_id binds every unbound matching device', path: '/sys/bus/pci/drivers/vfio-pci/new_id', data: '8086 1572', rc: ok, after: (m) => [['driver', String(m.fs.readlinkSync('/sys/bus/pci/devices/0000:00:04.0/driver'))]] },
  { name: 'new_id accepts 0x prefixes and upper case', path: '/sys/bus/pci/drivers/vfio-pci/new_id', data: '0x8086 0X1572', rc: ok },
  { name: 'new_id of an id the driver already matches is EEXIST', setup: (m) => sysWrite(m, '/sys/bus/pci/drivers/vfio-pci/new_id', '8086 1572'), path: '/sys/bus/pci/drivers/vfio-pci/new_id', data: '8086 1572', rc: E('EEXIST') },
  { name: 'new_id with all 7 fields skips the EEXIST check', setup: (m) => sysWrite(m, '/sys/bus/pci/drivers/vfio-pci/new_id', '8086 1572'), path: '/sys/bus/pci/drivers/vfio-pci/new_id', data: '8086 1572 ffffffff ffffffff 0 0 0', rc: ok },
  { name: 'new_id with driver_data unknown to an id table is EINVAL', path: '/sys/bus/pci/drivers/i40e/new_id', data: '8086 1234 ffffffff ffffffff 0 0 5', rc: E('EINVAL') },
  { name: 'new_id on vfio-pci: its override-only id table (5.15+) allows driver_data 0 only', path: '/sys/bus/pci/drivers/vfio-pci/new_id', data: '8086 1572 ffffffff ffffffff 0 0 1', rc: E('EINVAL') },
  { name: '5.14: vfio-pci has no id table, so any driver_data is accepted', kernel: '5.14', path: '/sys/bus/pci/drivers/vfio-pci/new_id', data: '8086 1572 ffffffff ffffffff 0 0 1', rc: ok },
  { name: 'remove_id of an id never added is ENODEV', path: '/sys/bus/pci/drivers/vfio-pci/remove_id', data: '8086 1572', rc: E('ENODEV') },
  { name: 'remove_id compares the class under the mask it is given (none: any class)', setup: (m) => sysWrite(m, '/sys/bus/pci/drivers/vfio-pci/new_id', 'dead beef ffffffff ffffffff 020000 ffff00'), path: '/sys/bus/pci/drivers/vfio-pci/remove_id', data: 'dead beef', rc: ok },
  { name: 'remove_id with a class that differs under its mask is ENODEV', setup: (m) => sysWrite(m, '/sys/bus/pci/drivers/vfio-pci/new_id', 'dead beef'), path: '/sys/bus/pci/drivers/vfio-pci/remove_id', data: 'dead beef ffffffff ffffffff 020000 ffff00', rc: E('ENODEV') },
  { name: 'remove_id with one field is EINVAL', path: '/sys/bus/pci/drivers/vfio-pci/remove_id', data: '8086', rc: E('EINVAL') },
  { name: 'remove_id of an added id', setup: (m) => sysWrite(m, '/sys/bus/pci/drivers/vfio-pci/new_id', '8086 1572'), path: '/sys/bus/pci/drivers/vfio-pci/remove_id', data: '8086 1572', rc: ok },
];

// drivers/iommu/iommu.c:iommu_group_store_type
const groupType = (bdf: string) => (m: Machine) => `/sys/kernel/iommu_groups/${groupOf(m, bdf)}/type`;
/** VFIO's no-IOMMU group: one device on vfio-pci, no default domain. */
const noiommu = (kernel = '6.8') => {
  const m = machine({ kernel, iommus: [], cmdline: { 'vfio.enable_unsafe_noiommu_mode': true }, devices: [nic(NIC, { driver: null, driver_override: 'vfio-pci' })] });
  m.fs.writeFileSync('/sys/bus/pci/drivers/vfio-pci/bind', NIC);
  return m;
};
const typeCases: (Omit<StoreCase, 'path'> & { path: (m: Machine) => string; make?: (kernel?: string) => Machine })[] = [
  { name: 'bad string is EINVAL', path: groupType('0000:00:04.0'), data: 'dma', rc: E('EINVAL') },
  { name: 'DMA with a driver bound is EPERM (6.4+)', path: groupType(NIC), data: 'DMA', rc: E('EPERM') },
  { name: 'identity on an unbound device', path: groupType('0000:00:04.0'), data: 'identity\n', rc: ok, after: (m) => [[groupType('0000:00:04.0')(m), 'identity\n']] },
  { name: 'auto returns to the boot default', setup: (m) => sysWrite(m, groupType('0000:00:04.0')(m), 'identity'), path: groupType('0000:00:04.0'), data: 'auto', rc: ok, after: (m) => [[groupType('0000:00:04.0')(m), 'DMA-FQ\n']] },
  { name: 'DMA → DMA-FQ in place even with a driver bound', setup: (m) => m.host.findDevice(NIC)!.group!.defaultDomain = 'DMA', path: groupType(NIC), data: 'DMA-FQ', rc: ok, after: (m) => [[groupType(NIC)(m), 'DMA-FQ\n']] },
  { name: 'vfio-pci is not a DMA-API driver: type change allowed', path: groupType('0000:00:05.0'), data: 'DMA', rc: ok },
  { name: '5.15: a bound driver is EBUSY', kernel: '5.15', path: groupType(NIC), data: 'DMA', rc: E('EBUSY') },
  { name: '5.15: DMA → DMA-FQ in place with a driver bound', kernel: '5.15', setup: (m) => m.host.findDevice(NIC)!.group!.defaultDomain = 'DMA', path: groupType(NIC), data: 'DMA-FQ', rc: ok, after: (m) => [[groupType(NIC)(m), 'DMA-FQ\n']] },
  { name: '5.15: a multi-device group is EINVAL before anything else, DMA-FQ included', kernel: '5.15', setup: (m) => { m.host.hotplug({ ...m.host.topology.devices[1]!, bdf: '0000:00:04.1' }); m.host.findDevice('0000:00:04.0')!.group!.defaultDomain = 'DMA'; }, path: groupType('0000:00:04.0'), data: 'DMA-FQ', rc: E('EINVAL') },
  { name: '5.15: an unbound single-device group changes', kernel: '5.15', path: groupType('0000:00:04.0'), data: 'identity', rc: ok },
  { name: 'no default domain (vfio-noiommu) is EINVAL', make: noiommu, path: groupType(NIC), data: 'DMA', rc: E('EINVAL') },
  { name: '5.15: no default domain is found only after the bound-driver check (EBUSY)', kernel: '5.15', make: noiommu, path: groupType(NIC), data: 'DMA', rc: E('EBUSY') },
  { name: '5.15: a bad string is still EINVAL first on a no-default-domain group', kernel: '5.15', make: noiommu, path: groupType(NIC), data: 'dma', rc: E('EINVAL') },
  { name: '5.11: DMA-FQ does not exist yet', kernel: '5.11', path: groupType('0000:00:04.0'), data: 'DMA-FQ', rc: E('EINVAL') },
  { name: '5.10: type is read-only (open fails)', kernel: '5.10', path: groupType('0000:00:04.0'), data: 'DMA', rc: E('EACCES') },
];

// drivers/pci/pci-sysfs.c
const pciAttrs: StoreCase[] = [
  { name: 'vendor is read-only', path: `${DEV}/vendor`, data: '0x1234', rc: E('EACCES') },
  { name: 'reserved_regions is read-only', path: '/sys/kernel/iommu_groups/0/reserved_regions', data: 'x', rc: E('EACCES') },
  { name: 'enable takes 0/1', path: `${DEV}/enable`, data: '2', rc: E('EINVAL') },
  { name: 'numa_node takes a number', path: `${DEV}/numa_node`, data: 'x', rc: E('EINVAL') },
  { name: 'numa_node store', path: `${DEV}/numa_node`, data: '0\n', rc: ok, after: () => [[`${DEV}/numa_node`, '0\n']] },
  { name: 'numa_node of a node that is not online is EINVAL', path: `${DEV}/numa_node`, data: '1', rc: E('EINVAL'), after: () => [[`${DEV}/numa_node`, '-1\n']] },
  { name: 'numa_node -1 (no node) is accepted', path: `${DEV}/numa_node`, data: '-1', rc: ok },
  { name: 'uevent takes an action', path: `${DEV}/uevent`, data: 'frobnicate', rc: E('EINVAL') },
];

const run = (group: string, cases: StoreCase[]) => {
  for (const c of cases) {
    test(`${group}: ${c.name}`, (t) => {
      const m = twoNics(c.kernel);
      c.setup?.(m);
      const rc = typeof c.rc === 'function' ? c.rc(c.data) : c.rc;
      t.is(sysWrite(m, c.path, c.data), rc);
      for (const [p, want] of c.after?.(m) ?? []) {
        if (p === 'driver') t.regex(want, /(i40e|vfio-pci)$/);
        else t.is(read(m, p), want, p);
      }
    });
  }
};
run('driver_override', driverOverride);
run('bind/unbind', bindUnbind);
run('new_id/remove_id', dynids);
run('pci attributes', pciAttrs);
for (const c of typeCases) {
  test(`type: ${c.name}`, (t) => {
    const m = (c.make ?? twoNics)(c.kernel);
    c.setup?.(m);
    const rc = typeof c.rc === 'function' ? c.rc(c.data) : c.rc;
    t.is(sysWrite(m, c.path(m), c.data), rc);
    for (const [p, want] of c.after?.(m) ?? []) t.is(read(m, p), want);
  });
}

test('a failed store changes nothing: same bytes in every file', (t) => {
  const m = twoNics();
  const snapshot = () => JSON.stringify(walkEmulated(m, '/sys'));
  const before = snapshot();
  t.is(sysWrite(m, '/sys/bus/pci/drivers/vfio-pci/bind', '0000:00:04.0'), E('ENODEV'));
  t.is(sysWrite(m, `${DEV}/driver_override`, 'x'.repeat(5000)), E('EINVAL'));
  t.is(sysWrite(m, '/sys/bus/pci/drivers/vfio-pci/new_id', '8086'), E('EINVAL'));
  t.is(snapshot(), before);
});

test('type store needs CAP_SYS_ADMIN and CAP_SYS_RAWIO', (t) => {
  const m = twoNics();
  const p = `/sys/kernel/iommu_groups/${groupOf(m, '0000:00:04.0')}/type`;
  m.setCredentials(user(0, 0, ['CAP_SYS_ADMIN', 'CAP_DAC_OVERRIDE']));
  t.is(sysWrite(m, p, 'identity'), E('EACCES'));
  m.setCredentials(user(0, 0, ['CAP_SYS_ADMIN', 'CAP_SYS_RAWIO', 'CAP_DAC_OVERRIDE']));
  t.is(sysWrite(m, p, 'identity'), 'identity'.length);
});

test('an unprivileged user cannot open 0644 attributes for writing, but can read them', (t) => {
  const m = twoNics();
  m.setCredentials(user(1000));
  t.is(m.sys.open(`${DEV}/driver_override`, O_WRONLY), E('EACCES'));
  const fd = m.sys.open(`${DEV}/driver_override`, O_RDONLY);
  t.true(fd >= 3);
  const buf = new Uint8Array(64);
  t.is(m.sys.read(fd, buf), 7);
  t.is(Buffer.from(buf.subarray(0, 7)).toString(), '(null)\n');
});

test('machine.fs: a store error is a Node-style error with code and errno', (t) => {
  const m = twoNics();
  const e = t.throws(() => m.fs.writeFileSync('/sys/bus/pci/drivers/vfio-pci/bind', '0000:00:04.0')) as NodeJS.ErrnoException;
  t.is(e.code, 'ENODEV');
  t.is(e.errno, -19);
  t.is(e.syscall, 'write');
  const ro = t.throws(() => m.fs.writeFileSync(`${DEV}/vendor`, '1')) as NodeJS.ErrnoException;
  t.is(ro.code, 'EACCES');
  m.setCredentials(user(1000));
  const unpriv = t.throws(() => m.fs.writeFileSync(`${DEV}/driver_override`, 'vfio-pci')) as NodeJS.ErrnoException;
  t.is(unpriv.code, 'EACCES');
});

test('machine.fs: callback and promise APIs reach the same store', async (t) => {
  const m = twoNics();
  await m.fs.promises.writeFile(`${DEV}/driver_override`, 'vfio-pci');
  t.is(read(m, `${DEV}/driver_override`), 'vfio-pci\n');
  const err = await new Promise<NodeJS.ErrnoException | null>((res) => m.fs.writeFile('/sys/bus/pci/drivers/vfio-pci/unbind', NIC, (e) => res((e ?? null) as NodeJS.ErrnoException | null)));
  t.is(err?.code, 'ENODEV');
  await t.throwsAsync(m.fs.promises.writeFile(`${DEV}/enable`, '7'), { code: 'EINVAL' });
});

test('binding to vfio-pci makes the group viable and /sys follows every change', (t) => {
  const m = twoNics();
  t.is(sysWrite(m, '/sys/bus/pci/drivers/i40e/unbind', NIC), NIC.length);
  t.false(m.fs.existsSync(`${DEV}/driver`));
  t.false(m.fs.existsSync(`/sys/bus/pci/drivers/i40e/${NIC}`));
  t.is(sysWrite(m, `${DEV}/driver_override`, 'vfio-pci'), 8);
  t.is(sysWrite(m, '/sys/bus/pci/drivers/vfio-pci/bind', NIC), NIC.length);
  t.is(String(m.fs.readlinkSync(`${DEV}/driver`)), '../../../bus/pci/drivers/vfio-pci');
  t.true(m.fs.existsSync(`/sys/bus/pci/drivers/vfio-pci/${NIC}`));
  t.true(m.host.groupViable(m.host.findDevice(NIC)!.group!));
});
