// SPDX-License-Identifier: GPL-2.0-only
/**
 * CPUs and NUMA nodes, PCI locality masks, net interfaces of NICs on network drivers, the
 * VT-d/AMD-Vi unit attribute groups and the vfio-dev class device files.
 */
import test from 'ava';
import { createMachine } from '../machine';
import type { Machine } from '../machine';
import { machine, nic, read } from '../testing/topo';
import { iommufdMachine, sysfsWrite } from '../testing/vfio';
import { cpulistString, cpumaskString } from './system';
import { validateSysfsTree, violations } from './validate';

const ls = (m: Machine, p: string) => (m.fs.readdirSync(p) as string[]).sort();

// lib/vsprintf.c:bitmap_string (%*pb) and bitmap_list_string (%*pbl)
const masks: [number[], number, string, string][] = [
  [[0, 1, 2, 3], 4, 'f', '0-3'],
  [[0, 1, 2, 3], 8, '0f', '0-3'],
  [[4, 5, 6, 7], 8, 'f0', '4-7'],
  [[0, 2, 3, 8], 12, '10d', '0,2-3,8'],
  [[0, 33], 36, '2,00000001', '0,33'],
  [[63], 64, '80000000,00000000', '63'],
  [[], 8, '00', ''],
];
for (const [cpus, nbits, mask, list] of masks)
  test(`cpumask ${JSON.stringify(cpus)} of ${nbits} CPUs prints ${mask} / ${JSON.stringify(list)}`, (t) => {
    t.is(cpumaskString(cpus, nbits), mask);
    t.is(cpulistString(cpus), list);
  });

test('amd-epyc: one node per numa_node the devices name, CPUs and masks consistent, locality on the devices', (t) => {
  const m = createMachine('amd-epyc');
  t.deepEqual(ls(m, '/sys/devices/system/node').filter((n) => n.startsWith('node')), ['node0', 'node1']);
  t.is(read(m, '/sys/devices/system/node/online'), '0-1\n');
  t.is(read(m, '/sys/devices/system/cpu/online'), '0-7\n');
  t.is(read(m, '/sys/devices/system/node/node1/cpulist'), '4-7\n');
  t.is(read(m, '/sys/devices/system/node/node1/cpumap'), 'f0\n');
  t.is(read(m, '/sys/devices/system/node/node0/distance'), '10 20\n');
  t.is(String(m.fs.readlinkSync('/sys/devices/system/cpu/cpu5/node1')), '../../node/node1');
  t.is(read(m, '/sys/devices/system/cpu/cpu5/topology/physical_package_id'), '1\n');
  t.is(read(m, '/sys/devices/system/cpu/cpu5/topology/package_cpus_list'), '4-7\n');
  t.false(m.fs.existsSync('/sys/devices/system/cpu/cpu0/online'));
  t.is(read(m, '/sys/bus/pci/devices/0000:41:00.0/local_cpulist'), '4-7\n', 'numa_node 1');
  t.is(read(m, '/sys/bus/pci/devices/0000:41:00.0/local_cpus'), 'f0\n');
  t.is(read(m, '/sys/bus/pci/devices/0000:00:14.0/local_cpulist'), '0-7\n', 'no node: every online CPU');
  t.deepEqual(violations(validateSysfsTree(m.fs, '/sys', { kernelVersion: '6.8', strict: true })), []);
});

test('topology nodes: CPUs as written; a device on a node that does not exist is refused', (t) => {
  const m = machine({ nodes: [{ cpus: '0-1,4' }, { id: 3, cpus: '2-3', memory: '0x40000000' }], devices: [nic('0000:00:03.0', { numa_node: 3 })] });
  t.deepEqual(ls(m, '/sys/devices/system/node').filter((n) => n.startsWith('node')), ['node0', 'node3']);
  t.is(read(m, '/sys/devices/system/cpu/present'), '0-4\n');
  t.is(read(m, '/sys/bus/pci/devices/0000:00:03.0/local_cpus'), '0c\n');
  t.regex(read(m, '/sys/devices/system/node/node3/meminfo'), /^Node 3 MemTotal: +1048576 kB\n/);
  t.throws(() => machine({ nodes: [{ cpus: '0-3' }], devices: [nic('0000:00:03.0', { numa_node: 1 })] }), { message: /devices\[0\]\.numa_node: no node 1 in nodes\[\]/ });
  t.throws(() => machine({ nodes: [{ cpus: '0-3' }, { cpus: '3-4' }], devices: [nic('0000:00:03.0')] }), { message: /nodes\[1\]\.cpus: CPU 3 is also in nodes\[0\]/ });
  t.throws(() => machine({ nodes: [{ cpus: '3-1' }], devices: [nic('0000:00:03.0')] }), { message: /nodes\[0\]\.cpus: must be a CPU list/ });
});

test('net: a NIC on a network driver has its interface (udev path name, or the topology’s), vfio-pci and unbound NICs have none', (t) => {
  const m = createMachine('intel-vtd-server');
  t.deepEqual(ls(m, '/sys/bus/pci/devices/0000:01:00.0/net'), ['enp1s0f0']);
  t.deepEqual(ls(m, '/sys/bus/pci/devices/0000:01:00.1/net'), ['enp1s0f1']);
  t.is(String(m.fs.readlinkSync('/sys/class/net/enp1s0f0')), '../../devices/pci0000:00/0000:00:01.0/0000:01:00.0/net/enp1s0f0');
  t.is(read(m, '/sys/class/net/enp1s0f0/uevent'), 'INTERFACE=enp1s0f0\nIFINDEX=2\n');
  t.is(read(m, '/sys/class/net/enp1s0f1/address'), '02:00:00:01:00:01\n');
  sysfsWrite(m, '/sys/bus/pci/drivers/i40e/unbind', '0000:01:00.0');
  t.false(m.fs.existsSync('/sys/bus/pci/devices/0000:01:00.0/net'), 'unbinding the driver takes the interface away');
  t.false(m.fs.existsSync('/sys/class/net/enp1s0f0'));
  const n = machine({ devices: [nic('0000:00:03.0', { ifname: 'eth7', mac: '52:54:00:12:34:56' }), nic('0000:00:04.0', { driver: 'vfio-pci' })] });
  t.deepEqual(ls(n, '/sys/class/net'), ['eth7']);
  t.is(read(n, '/sys/class/net/eth7/address'), '52:54:00:12:34:56\n');
  t.deepEqual(violations(validateSysfsTree(n.fs, '/sys', { kernelVersion: '6.8', strict: true })), []);
});

test('net: a NIC off PCI domain 0 has the domain in its path name; a name already taken stays the kernel’s eth<n>', (t) => {
  const m = machine({ devices: [nic('0000:00:03.0'), nic('0001:00:03.0'), nic('0000:00:04.0', { ifname: 'enp0s3' })] });
  t.deepEqual(ls(m, '/sys/class/net'), ['enP1p0s3', 'enp0s3', 'eth0']);
  t.is(String(m.fs.readlinkSync('/sys/class/net/enp0s3')), '../../devices/pci0000:00/0000:00:03.0/net/enp0s3');
  t.is(read(m, '/sys/class/net/eth0/uevent'), 'INTERFACE=eth0\nIFINDEX=3\n');
});

test('intel-iommu/ and amd-iommu/ attribute groups', (t) => {
  const i = createMachine('intel-vtd-server');
  const d = '/sys/class/iommu/dmar0/intel-iommu';
  t.deepEqual(ls(i, d), ['address', 'cap', 'domains_supported', 'domains_used', 'ecap', 'version']);
  t.is(read(i, `${d}/version`), '1:0\n');
  t.is(read(i, `${d}/address`), 'fed90000\n');
  const cap = BigInt(`0x${read(i, `${d}/cap`).trim()}`);
  t.is((cap >> 16n) & 0x3fn, 47n, 'MGAW is the address width - 1');
  t.is(read(i, `${d}/domains_supported`), `${1n << (4n + 2n * (cap & 7n))}\n`);
  t.truthy(BigInt(`0x${read(i, `${d}/ecap`).trim()}`) & 8n, 'interrupt remapping');
  const c = createMachine({ ...structuredClone(i.topology.source), iommus: [{ driver: 'intel-iommu', cap: '0xd2008c40660462', ecap: '0xf050da', base: '0xfed91000' }] });
  t.is(read(c, `${d}/cap`), 'd2008c40660462\n');
  t.is(read(c, `${d}/address`), 'fed91000\n');
  const a = '/sys/class/iommu/ivhd0/amd-iommu';
  t.deepEqual(ls(createMachine('amd-epyc'), a), ['cap', 'features']);
  t.regex(read(createMachine('amd-epyc', { kernel: '6.8' }), `${a}/features`), /^[0-9a-f]+:[0-9a-f]+\n$/);
  t.regex(read(createMachine('amd-epyc', { kernel: '6.1' }), `${a}/features`), /^[0-9a-f]+\n$/);
  t.is(String(i.fs.readlinkSync('/sys/class/iommu/dmar0/subsystem')), '../../../../class/iommu');
});

test('vfio-dev/vfioN: dev and uevent name the /dev/vfio/devices node', (t) => {
  const m = iommufdMachine();
  const d = '/sys/bus/pci/devices/0000:02:00.0/vfio-dev/vfio0';
  const st = m.fs.statSync('/dev/vfio/devices/vfio0');
  const rdev = Number(st.rdev);
  t.is(read(m, `${d}/dev`), `${(rdev >> 8) & 0xfff}:${(rdev & 0xff) | ((rdev >> 12) & 0xfff00)}\n`);
  t.regex(read(m, `${d}/uevent`), /^MAJOR=\d+\nMINOR=0\nDEVNAME=vfio\/devices\/vfio0\n/);
  t.is(String(m.fs.readlinkSync(`${d}/subsystem`)), '../../../../../../class/vfio-dev');
  t.is(String(m.fs.readlinkSync(`${d}/device`)), '../..');
});

// Only a device with the cdev has a dev_t: without CONFIG_VFIO_DEVICE_CDEV, or for a no-IOMMU
// device, the class device is there with its links but no `dev` and a bare `uevent`.
// @see drivers/vfio/vfio.h:vfio_device_add, drivers/vfio/device_cdev.c:vfio_init_device_cdev
const noDevt: [string, () => Machine, string][] = [
  ['no CONFIG_IOMMUFD (Debian 6.12)', () => createMachine('intel-vtd-server'), '0000:02:00.0'],
  ['CONFIG_IOMMUFD without CONFIG_VFIO_DEVICE_CDEV', () => iommufdMachine('intel-vtd-server', { kconfig: { CONFIG_VFIO_DEVICE_CDEV: false } }), '0000:02:00.0'],
  [
    'a no-IOMMU device with the cdev built',
    () =>
      createMachine({
        name: 'noiommu',
        kernel: '6.8',
        arch: 'x86_64',
        kconfig: { CONFIG_IOMMUFD: true },
        cmdline: { 'vfio.enable_unsafe_noiommu_mode': true },
        iommus: [],
        devices: [{ bdf: '0000:00:03.0', vendor: 0x8086, device: 0x10d3, class: 0x020000, driver: 'vfio-pci', bars: [{ index: 0, size: 0x20000, type: 'mem32' }] }],
      } as never),
    '0000:00:03.0',
  ],
];
for (const [name, make, bdf] of noDevt)
  test(`vfio-dev/vfioN without a dev_t: ${name}`, (t) => {
    const m = make();
    const d = `/sys/bus/pci/devices/${bdf}/vfio-dev/vfio0`;
    t.false(m.fs.existsSync('/dev/vfio/devices/vfio0'));
    t.deepEqual(ls(m, d), ['device', 'subsystem', 'uevent']);
    t.is(read(m, `${d}/uevent`), '');
    t.is(String(m.fs.readlinkSync(`${d}/device`)), '../..');
  });
