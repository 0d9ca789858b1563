// SPDX-License-Identifier: GPL-2.0-only
/** The rendered /sys: formats, modes, link targets and depths, ida numbering, version differences. */
import test from 'ava';
import { builtinHostNames } from '../hosts';
import { KERNEL_PROFILES } from '../kernel/profile';
import { createMachine } from '../machine';
import type { Machine } from '../machine';
import { groupOf, machine, nic, read } from '../testing/topo';
import type { IommuInput, TopologyInput } from '../topology/topology';

const LINE = /^0x[0-9a-f]{16} 0x[0-9a-f]{16} (direct|direct-relaxable|reserved|msi)$/;
const TYPE_ORDER = ['direct', 'direct-relaxable', 'reserved', 'msi'];
const groups = (m: Machine) => (m.fs.readdirSync('/sys/kernel/iommu_groups') as string[]).map(Number).sort((a, b) => a - b);
const mode = (m: Machine, p: string) => (Number(m.fs.lstatSync(p).mode) & 0o7777).toString(8);

for (const host of builtinHostNames()) {
  for (const kernel of ['4.11', '5.3', '6.8', 'latest']) {
    test(`${host} @ ${kernel}: every reserved_regions line matches the kernel format and order`, (t) => {
      const m = createMachine(host, { kernel });
      // A unit whose driver is newer than the kernel is not there: no groups at all.
      t.is(groups(m).length > 0, m.host.units.length > 0);
      for (const g of groups(m)) {
        const text = read(m, `/sys/kernel/iommu_groups/${g}/reserved_regions`);
        t.true(text === '' || text.endsWith('\n'));
        const lines = text.split('\n').slice(0, -1);
        let prev: [bigint, number] | undefined;
        for (const l of lines) {
          t.regex(l, LINE);
          const [start, , type] = l.split(' ');
          const key: [bigint, number] = [BigInt(start!), TYPE_ORDER.indexOf(type!)];
          // 4.11 does not order equal starts by type; starts are still ascending.
          if (prev) t.true(prev[0] < key[0] || (prev[0] === key[0] && (kernel === '4.11' || prev[1] <= key[1])), `${g}: ${l}`);
          prev = key;
        }
      }
    });
  }
}

// IOMMU drivers exist from their kernel on (profile rows drv_*): before it the unit is not probed.
const driverCases: [string, IommuInput, TopologyInput['arch'], string, boolean][] = [
  ['virtio-iommu on x86 needs ACPI VIOT (5.14)', { driver: 'virtio-iommu', bdf: '0000:00:03.0' }, 'x86_64', '5.13', false],
  ['virtio-iommu on x86 with VIOT', { driver: 'virtio-iommu', bdf: '0000:00:03.0' }, 'x86_64', '5.14', true],
  ['virtio-iommu on a DT arm64 guest (5.3)', { driver: 'virtio-iommu', bdf: '0000:00:03.0' }, 'aarch64', '5.3', true],
  ['virtio-iommu before its driver', { driver: 'virtio-iommu', bdf: '0000:00:03.0' }, 'aarch64', '4.14', false],
  ['apple-dart before 5.15', { driver: 'apple-dart' }, 'aarch64', '5.14', false],
  ['apple-dart on 5.15', { driver: 'apple-dart' }, 'aarch64', '5.15', true],
  ['intel-iommu on any profile', { driver: 'intel-iommu' }, 'x86_64', '4.10', true],
];
for (const [name, unit, arch, kernel, present] of driverCases) {
  test(`IOMMU drivers by kernel: ${name} (${kernel}): ${present ? 'groups' : 'no unit, no groups'}`, (t) => {
    const m = machine({ kernel, arch, iommus: [unit], devices: [nic('0000:00:02.0')] });
    t.is(m.host.units.length, present ? 1 : 0);
    t.is(m.fs.existsSync('/sys/bus/pci/devices/0000:00:02.0/iommu_group'), present);
  });
}

test('a vfio-pci binding that cannot probe (no group) leaves the device unbound, not the machine unbuilt', (t) => {
  const m = createMachine('virtio-iommu-guest', { kernel: '5.13' });
  t.false(m.fs.existsSync('/sys/bus/pci/devices/0000:00:04.0/driver'));
  t.is(groups(m).length, 0);
});

test('modes: reserved_regions 0444, type 0644 (0444 before 5.11), driver files 0200, dirs 0755', (t) => {
  const m = createMachine('intel-vtd-server');
  t.is(mode(m, '/sys/kernel/iommu_groups/0/reserved_regions'), '444');
  t.is(mode(m, '/sys/kernel/iommu_groups/0/type'), '644');
  t.is(mode(m, '/sys/kernel/iommu_groups/0'), '755');
  t.is(mode(m, '/sys'), '555');
  for (const f of ['bind', 'unbind', 'new_id', 'remove_id']) t.is(mode(m, `/sys/bus/pci/drivers/vfio-pci/${f}`), '200');
  for (const f of ['vendor', 'device', 'class', 'revision', 'subsystem_vendor', 'subsystem_device', 'irq', 'resource', 'modalias'])
    t.is(mode(m, `/sys/bus/pci/devices/0000:01:00.0/${f}`), '444', f);
  for (const f of ['config', 'driver_override', 'numa_node', 'enable', 'uevent']) t.is(mode(m, `/sys/bus/pci/devices/0000:01:00.0/${f}`), '644', f);
  t.is(mode(createMachine('intel-vtd-server', { kernel: '5.10' }), '/sys/kernel/iommu_groups/0/type'), '444');
});

test('kernel versions: which group files exist and what type prints', (t) => {
  const files = (kernel: string) => (createMachine('intel-vtd-server', { kernel }).fs.readdirSync('/sys/kernel/iommu_groups/0') as string[]).sort().join(',');
  t.is(files('4.10'), 'devices');
  t.is(files('4.11'), 'devices,reserved_regions');
  t.is(files('4.18'), 'devices,reserved_regions');
  t.is(files('4.19'), 'devices,reserved_regions,type');
  t.is(files('6.8'), 'devices,reserved_regions,type');
  const type = (kernel: string, host = 'arm64-smmuv3') => read(createMachine(host, { kernel }), '/sys/kernel/iommu_groups/0/type');
  t.is(type('5.1'), 'DMA');
  t.is(type('5.2'), 'DMA\n');
  t.is(type('5.14', 'intel-vtd-server'), 'DMA\n');
  t.is(type('5.15', 'intel-vtd-server'), 'DMA-FQ\n');
  t.is(type('6.8'), 'DMA\n');
});

test('symlinks: relative kernfs targets whose ../ count climbs to /sys', (t) => {
  const m = createMachine('intel-vtd-server');
  const nic = '/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0';
  const g = groupOf(m, '0000:01:00.0');
  t.is(String(m.fs.readlinkSync('/sys/bus/pci/devices/0000:01:00.0')), '../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0');
  t.is(String(m.fs.readlinkSync(`${nic}/iommu_group`)), `../../../../kernel/iommu_groups/${g}`);
  t.is(String(m.fs.readlinkSync('/sys/devices/pci0000:00/0000:00:02.0/iommu_group')), `../../../kernel/iommu_groups/${groupOf(m, '0000:00:02.0')}`);
  t.is(String(m.fs.readlinkSync(`/sys/kernel/iommu_groups/${g}/devices/0000:01:00.0`)), '../../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0');
  t.is(String(m.fs.readlinkSync(`${nic}/iommu`)), '../../../virtual/iommu/dmar0');
  t.is(String(m.fs.readlinkSync(`${nic}/driver`)), '../../../../bus/pci/drivers/i40e');
  t.is(String(m.fs.readlinkSync(`${nic}/subsystem`)), '../../../../bus/pci');
  t.is(String(m.fs.readlinkSync('/sys/class/iommu/dmar0')), '../../devices/virtual/iommu/dmar0');
  t.is(String(m.fs.readlinkSync('/sys/devices/virtual/iommu/dmar0/devices/0000:01:00.0')), '../../../../pci0000:00/0000:00:01.0/0000:01:00.0');
  t.is(String(m.fs.readlinkSync('/sys/bus/pci/drivers/i40e/0000:01:00.0')), '../../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0');
  const amd = createMachine('amd-epyc');
  t.is(String(amd.fs.readlinkSync('/sys/bus/pci/devices/0000:41:00.0/iommu')), '../../0000:00:00.2/iommu/ivhd0');
  const arm = createMachine('arm64-smmuv3');
  t.is(String(arm.fs.readlinkSync('/sys/class/iommu/smmu3.0x0000000009050000')), '../../devices/platform/arm-smmu-v3.0.auto/iommu/smmu3.0x0000000009050000');
  const viommu = createMachine('virtio-iommu-guest');
  t.is(String(viommu.fs.readlinkSync('/sys/class/iommu/virtio0')), '../../devices/pci0000:00/0000:00:03.0/virtio0/iommu/virtio0');
  // Every link resolves.
  for (const host of builtinHostNames()) {
    const h = createMachine(host);
    const walk = (p: string): void => {
      for (const e of h.fs.readdirSync(p, { withFileTypes: true }) as { name: string; isDirectory(): boolean; isSymbolicLink(): boolean }[]) {
        const q = `${p}/${e.name}`;
        if (e.isSymbolicLink()) t.notThrows(() => h.fs.statSync(q), q);
        else if (e.isDirectory()) walk(q);
      }
    };
    walk('/sys');
  }
});

test('ida: group ids are the lowest free, in bus-walk probe order, and reused after hot-unplug', (t) => {
  const m = machine({
    devices: [
      nic('0000:00:01.0', { class: '0x060400', driver: 'pcieport', acs: true }),
      nic('0000:00:02.0'),
      nic('0000:01:00.0', { parent: '0000:00:01.0' }),
      nic('0000:00:03.0'),
    ],
  });
  // Root bus first (01.0, 02.0, 03.0), then the bridge's secondary bus.
  t.deepEqual(['0000:00:01.0', '0000:00:02.0', '0000:00:03.0', '0000:01:00.0'].map((b) => groupOf(m, b)), [0, 1, 2, 3]);
  m.host.hotUnplug('0000:00:02.0');
  t.deepEqual(groups(m), [0, 2, 3]);
  m.host.hotplug({ ...m.host.topology.devices[1]!, bdf: '0000:00:04.0' });
  t.is(groupOf(m, '0000:00:04.0'), 1);
  m.host.hotplug({ ...m.host.topology.devices[1]!, bdf: '0000:00:05.0' });
  t.is(groupOf(m, '0000:00:05.0'), 4);
});

test('grouping: non-ACS bridge shares its group downstream; multi-function without ACS shares a group', (t) => {
  const m = machine({
    devices: [
      nic('0000:00:01.0', { class: '0x060400', driver: 'pcieport', acs: false }),
      nic('0000:01:00.0', { parent: '0000:00:01.0' }),
      nic('0000:01:00.1', { parent: '0000:00:01.0' }),
      nic('0000:00:1f.0', { class: '0x060100', driver: null }),
      nic('0000:00:1f.3'),
      nic('0000:00:1c.0', { acs: true }),
      nic('0000:00:1c.1', { acs: true }),
      nic('0000:00:05.0', { group: 'x' }),
      nic('0000:00:06.0', { group: 'x' }),
    ],
  });
  t.is(groupOf(m, '0000:01:00.0'), groupOf(m, '0000:00:01.0'));
  t.is(groupOf(m, '0000:01:00.1'), groupOf(m, '0000:00:01.0'));
  t.is(groupOf(m, '0000:00:1f.3'), groupOf(m, '0000:00:1f.0'));
  t.not(groupOf(m, '0000:00:1c.0'), groupOf(m, '0000:00:1c.1'));
  t.is(groupOf(m, '0000:00:05.0'), groupOf(m, '0000:00:06.0'));
  const g = groupOf(m, '0000:00:01.0');
  t.deepEqual((m.fs.readdirSync(`/sys/kernel/iommu_groups/${g}/devices`) as string[]).sort(), ['0000:00:01.0', '0000:01:00.0', '0000:01:00.1']);
});

test('PCI attributes: formats and a config space consistent with them', (t) => {
  const m = createMachine('intel-vtd-server');
  const d = '/sys/bus/pci/devices/0000:01:00.0';
  t.is(read(m, `${d}/vendor`), '0x8086\n');
  t.is(read(m, `${d}/device`), '0x1572\n');
  t.is(read(m, `${d}/class`), '0x020000\n');
  t.is(read(m, `${d}/revision`), '0x01\n');
  t.is(read(m, `${d}/subsystem_vendor`), '0x8086\n');
  t.is(read(m, `${d}/subsystem_device`), '0x0007\n');
  t.is(read(m, `${d}/irq`), '16\n');
  t.is(read(m, `${d}/numa_node`), '0\n');
  t.is(read(m, `${d}/driver_override`), '(null)\n');
  t.is(read(m, `${d}/modalias`), 'pci:v00008086d00001572sv00008086sd00000007bc02sc00i00\n');
  const res = read(m, `${d}/resource`).split('\n').slice(0, -1);
  t.is(res.length, 13);
  t.regex(res[0]!, /^0x[0-9a-f]{16} 0x[0-9a-f]{16} 0x000000000014220c$/);
  t.is(res[1], '0x0000000000000000 0x0000000000000000 0x0000000000000000');
  const cfg = m.fs.readFileSync(`${d}/config`) as Buffer;
  t.is(cfg.length, 4096);
  t.is(cfg.readUInt16LE(0), 0x8086);
  t.is(cfg.readUInt16LE(2), 0x1572);
  t.is(cfg[8], 0x01);
  t.is(cfg.readUIntLE(9, 3), 0x020000);
  t.is(cfg.readUInt16LE(0x2c), 0x8086);
  t.is(cfg.readUInt16LE(0x2e), 0x0007);
  t.is((m.fs.readFileSync('/sys/bus/pci/devices/0000:00:14.0/config') as Buffer).length, 256);
});

test('no-IOMMU mode: a device with no IOMMU bound to vfio-pci gets a named vfio-noiommu group', (t) => {
  const m = machine({
    iommus: [],
    cmdline: { 'vfio.enable_unsafe_noiommu_mode': true },
    devices: [nic('0000:00:03.0', { driver: null, driver_override: 'vfio-pci' })],
  });
  t.deepEqual(groups(m), []);
  m.fs.writeFileSync('/sys/bus/pci/drivers/vfio-pci/bind', '0000:00:03.0');
  t.deepEqual(groups(m), [0]);
  t.is(read(m, '/sys/kernel/iommu_groups/0/name'), 'vfio-noiommu\n');
  t.is(read(m, '/sys/kernel/iommu_groups/0/reserved_regions'), '');
  t.is(read(m, '/sys/kernel/iommu_groups/0/type'), 'unknown\n');
  t.is(mode(m, '/sys/kernel/iommu_groups/0/name'), '444');
  t.throws(() => m.fs.writeFileSync('/sys/kernel/iommu_groups/0/type', 'DMA'), { code: 'EINVAL' });
  m.fs.writeFileSync('/sys/bus/pci/drivers/vfio-pci/unbind', '0000:00:03.0');
  t.deepEqual(groups(m), []);
  const off = machine({ iommus: [], devices: [nic('0000:00:03.0', { driver: null, driver_override: 'vfio-pci' })] });
  t.throws(() => off.fs.writeFileSync('/sys/bus/pci/drivers/vfio-pci/bind', '0000:00:03.0'), { code: 'EINVAL' });
});

test('machines are independent: a store on one leaves another untouched', (t) => {
  const a = createMachine('intel-vtd-server');
  const b = createMachine('intel-vtd-server');
  a.fs.writeFileSync('/sys/bus/pci/devices/0000:01:00.0/driver_override', 'vfio-pci');
  t.is(read(b, '/sys/bus/pci/devices/0000:01:00.0/driver_override'), '(null)\n');
});

test('every kernel profile renders every built-in host', (t) => {
  for (const host of builtinHostNames()) for (const k of KERNEL_PROFILES) t.notThrows(() => createMachine(host, { kernel: k }), `${host}@${k}`);
});

// s390 joined the lazy default only with "s390/pci: Use dma-iommu layer" (profile s390_dma_fq).
for (const [kernel, type] of [['6.6', 'DMA'], ['6.7', 'DMA-FQ']] as const) {
  test(`s390 boot default domain on ${kernel}: ${type}`, (t) => {
    const m = machine({ kernel, arch: 's390x', iommus: [{ driver: 's390-iommu' }], devices: [nic('0000:00:00.0')] });
    t.is(read(m, `/sys/kernel/iommu_groups/${groupOf(m, '0000:00:00.0')}/type`), `${type}\n`);
  });
}

test('a vendor kernel: kernel { version, features } turns on a backported row (RHEL-style 5.14 with IORT RMR)', (t) => {
  const rmr = { iortRmr: [{ base: '0xe0000000', length: '0x10000', devices: ['0000:01:00.0'] }] };
  const base = { arch: 'aarch64', iommus: [{ driver: 'arm-smmu-v3', base: '0x9050000' }], devices: [nic('0000:01:00.0')], firmware: rmr } satisfies Partial<TopologyInput>;
  const vendor = machine({ ...base, kernel: { version: '5.14.0-70.el9', features: { iort_rmr: true } } });
  const plain = machine({ ...base, kernel: '5.14.0-70.el9' });
  const rr = (m: Machine) => read(m, `/sys/kernel/iommu_groups/${groupOf(m, '0000:01:00.0')}/reserved_regions`);
  t.true(rr(vendor).includes('0x00000000e0000000 0x00000000e000ffff direct\n'));
  t.false(rr(plain).includes('0x00000000e0000000'));
  t.is(vendor.kernel.describe(), '5.14 +iort_rmr');
  // --kernel replaces the whole kernel, features included.
  t.false(machine({ ...base, kernel: { version: '5.14', features: { iort_rmr: true } } }, { kernel: '5.14' }).kernel.has('iort_rmr'));
});
