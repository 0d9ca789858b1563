// SPDX-License-Identifier: GPL-2.0-only
/**
 * remove, rescan, reset, drivers_probe and the bus rescan with their kernel semantics: a removed
 * device disappears with its group membership; a rescan brings it back as a new device (lowest
 * free group id, the first matching driver, no driver_override); each file's errno.
 */
import test from 'ava';
import { ERRNO, Errno } from '../errno';
import { createMachine } from '../machine';
import type { Machine } from '../machine';
import { groupOf, machine, nic, read } from '../testing/topo';
import { sysfsWrite } from '../testing/vfio';
import { validateSysfsTree, violations } from './validate';

const E = (e: Errno) => -ERRNO[e][0];
const D = (bdf: string) => `/sys/bus/pci/devices/${bdf}`;
const groups = (m: Machine) => (m.fs.readdirSync('/sys/kernel/iommu_groups') as string[]).map(Number).sort((a, b) => a - b);

interface Case {
  readonly name: string;
  readonly path: string;
  readonly data: string;
  readonly rc: number | 'all';
}
const NIC = '0000:01:00.0';
// drivers/pci/pci-sysfs.c (kstrtoul), drivers/base/bus.c:drivers_probe_store
const cases: Case[] = [
  { name: 'remove: junk is EINVAL', path: `${D(NIC)}/remove`, data: 'yes', rc: E('EINVAL') },
  { name: 'remove: a leading blank is EINVAL', path: `${D(NIC)}/remove`, data: ' 1', rc: E('EINVAL') },
  { name: 'remove: 0 does nothing', path: `${D(NIC)}/remove`, data: '0', rc: 'all' },
  { name: 'remove: 1 with a newline', path: `${D(NIC)}/remove`, data: '1\n', rc: 'all' },
  { name: 'reset: only 1 is accepted', path: `${D(NIC)}/reset`, data: '2', rc: E('EINVAL') },
  { name: 'reset: 1', path: `${D(NIC)}/reset`, data: '1', rc: 'all' },
  { name: 'rescan: hex is a number too', path: '/sys/bus/pci/rescan', data: '0x1', rc: 'all' },
  { name: 'rescan: junk is EINVAL', path: '/sys/bus/pci/rescan', data: 'x', rc: E('EINVAL') },
  { name: 'rescan: past 2^64 is ERANGE', path: '/sys/bus/pci/rescan', data: '18446744073709551616', rc: E('ERANGE') },
  { name: 'drivers_probe: an unknown device is ENODEV', path: '/sys/bus/pci/drivers_probe', data: '0000:09:00.0', rc: E('ENODEV') },
  { name: 'drivers_probe: a bound device is fine', path: '/sys/bus/pci/drivers_probe', data: `${NIC}\n`, rc: 'all' },
  { name: 'uevent of the bus takes an action', path: '/sys/bus/pci/uevent', data: 'nonsense', rc: E('EINVAL') },
];
for (const c of cases)
  test(`${c.name}`, (t) => {
    const m = createMachine('intel-vtd-server');
    t.is(sysfsWrite(m, c.path, c.data), c.rc === 'all' ? c.data.length : c.rc);
  });

test('remove takes the device, its interface and its group membership; rescan brings it back with the lowest free group id and its driver', (t) => {
  const m = createMachine('intel-vtd-server');
  const before = groups(m);
  const g = groupOf(m, NIC);
  sysfsWrite(m, `${D(NIC)}/remove`, '1');
  t.false(m.fs.existsSync(D(NIC)));
  t.false(m.fs.existsSync('/sys/class/net/enp1s0f0'));
  t.false(m.fs.existsSync(`/sys/bus/pci/drivers/i40e/${NIC}`));
  t.false(m.fs.existsSync(`/sys/kernel/iommu_groups/${g}/devices/${NIC}`), 'it leaves its group');
  t.true(m.fs.existsSync(`/sys/kernel/iommu_groups/${g}/devices/0000:01:00.1`), 'its sibling stays');
  sysfsWrite(m, `${D('0000:01:00.1')}/remove`, '1');
  t.false(m.fs.existsSync(`/sys/kernel/iommu_groups/${g}`), 'the last device gone, the group is freed');
  t.deepEqual(groups(m), before.filter((x) => x !== g));
  sysfsWrite(m, '/sys/bus/pci/rescan', '1');
  t.true(m.fs.existsSync(D(NIC)));
  t.is(groupOf(m, NIC), g, 'the lowest free id is the one they left');
  t.is(groupOf(m, '0000:01:00.1'), g);
  t.regex(String(m.fs.readlinkSync(`${D(NIC)}/driver`)), /i40e$/, 'the matching driver binds again');
  t.deepEqual(groups(m), before);
  t.deepEqual(violations(validateSysfsTree(m.fs, '/sys', { kernelVersion: '6.8' })), []);
});

test('a rescan gives a returning device the lowest free id, not its old one', (t) => {
  const m = createMachine('intel-vtd-server');
  const usb = '0000:00:14.0';
  const old = groupOf(m, usb);
  const lower = groups(m).find((x) => x < old)!;
  const holder = m.host.groups().find((x) => x.id === lower)!.devices.map((d) => d.bdf);
  for (const b of [usb, ...holder]) sysfsWrite(m, `${D(b)}/remove`, '1');
  // Both ids are free; the returning devices take them in bus walk order.
  sysfsWrite(m, '/sys/bus/pci/rescan', '1');
  const first = [usb, ...holder].sort()[0]!;
  t.is(groupOf(m, first), lower);
});

test('removing a bridge removes what is below it; rescanning the bus it is on brings all back', (t) => {
  const m = createMachine('intel-vtd-server');
  sysfsWrite(m, `${D('0000:00:01.0')}/remove`, '1');
  for (const b of ['0000:00:01.0', '0000:01:00.0', '0000:01:00.1']) t.false(m.fs.existsSync(D(b)), b);
  // A device rescan scans its own bus (00 here) and the buses below.
  sysfsWrite(m, `${D('0000:00:1c.0')}/rescan`, '1');
  for (const b of ['0000:00:01.0', '0000:01:00.0', '0000:01:00.1']) t.true(m.fs.existsSync(D(b)), b);
  t.is(String(m.fs.readlinkSync(`${D('0000:01:00.1')}/iommu_group`)).split('/').pop(), String(groupOf(m, '0000:01:00.1')));
});

test('a device rescan does not reach other buses; a rescanned device has no driver_override and vfio-pci (override-only) does not take it', (t) => {
  const m = createMachine('intel-vtd-server');
  sysfsWrite(m, `${D('0000:02:00.0')}/remove`, '1');
  sysfsWrite(m, `${D('0000:00:14.0')}/rescan`, '1');
  t.true(m.fs.existsSync(D('0000:02:00.0')), 'bus 02 is below 00:1c.0 on bus 00');
  t.false(m.fs.existsSync(`${D('0000:02:00.0')}/driver`), 'no nvme driver on this machine, and vfio-pci binds only by override');
  t.is(read(m, `${D('0000:02:00.0')}/driver_override`), '(null)\n');
  const n = machine({ devices: [{ bdf: '0000:00:01.0', vendor: '0x8086', device: '0x1901', class: '0x060400', driver: 'pcieport', acs: true }, nic('0000:01:00.0', { parent: '0000:00:01.0' }), nic('0000:00:03.0')] });
  sysfsWrite(n, `${D('0000:01:00.0')}/remove`, '1');
  sysfsWrite(n, `${D('0000:00:03.0')}/rescan`, '0');
  t.false(n.fs.existsSync(D('0000:01:00.0')), '0 scans nothing');
});

test('drivers_probe binds an unbound device to the first matching driver', (t) => {
  const m = machine({ devices: [nic('0000:00:03.0'), nic('0000:00:04.0', { driver: null })] });
  t.false(m.fs.existsSync(`${D('0000:00:04.0')}/driver`));
  t.is(sysfsWrite(m, '/sys/bus/pci/drivers_probe', '0000:00:04.0'), 12);
  t.regex(String(m.fs.readlinkSync(`${D('0000:00:04.0')}/driver`)), /i40e$/);
});

test('reset exists only where the device has a reset method', (t) => {
  const m = machine({ devices: [nic('0000:00:03.0', { resetMethods: [] }), nic('0000:00:04.0')] });
  t.false(m.fs.existsSync(`${D('0000:00:03.0')}/reset`));
  t.true(m.fs.existsSync(`${D('0000:00:04.0')}/reset`));
  t.is((Number(m.fs.statSync(`${D('0000:00:04.0')}/reset`).mode) & 0o777).toString(8), '200');
});
