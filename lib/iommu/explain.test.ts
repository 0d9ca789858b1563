// SPDX-License-Identifier: GPL-2.0-only
/** Every reserved_regions line has a source; entries the kernel ignores are named with the row. */
import test from 'ava';
import { builtinHostNames } from '../hosts';
import { KERNEL_PROFILES } from '../kernel/profile';
import { createMachine } from '../machine';
import { machine, nic, read } from '../testing/topo';
import { explainGroupResvRegions, ignoredFirmware } from './explain';

const FUNCTION = /^\d{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]: (\w+_get_resv_regions|iort_iommu_get_rmrs|viommu_add_resv_mem|recorded): \S/;

for (const host of builtinHostNames()) {
  test(`explain: every reserved_regions line of ${host} has a source, on every kernel profile`, (t) => {
    for (const kernel of KERNEL_PROFILES) {
      const m = createMachine(host, { kernel });
      for (const g of m.host.groups()) {
        const text = m.fs.existsSync(`/sys/kernel/iommu_groups/${g.id}/reserved_regions`) ? read(m, `/sys/kernel/iommu_groups/${g.id}/reserved_regions`) : '';
        const lines = text.split('\n').filter(Boolean);
        const ex = kernel === '4.10' ? [] : explainGroupResvRegions(m.host, g);
        t.deepEqual(ex.map((e) => e.line), lines, `${host}@${kernel} group ${g.id}: the explanation is of the lines sysfs prints`);
        for (const e of ex) {
          t.true(e.sources.length > 0, `${host}@${kernel} ${e.line}`);
          for (const s of e.sources) t.regex(s, FUNCTION, `${host}@${kernel} ${e.line}`);
        }
      }
    }
  });
}

test('explain: merged lines list every region they absorbed, from each device', (t) => {
  const m = machine({
    iommus: [{ driver: 'intel-iommu' }],
    devices: [nic('0000:00:02.0', { class: '0x030000' }), nic('0000:00:02.1', { class: '0x0c0330' })],
    firmware: { rmrr: [{ base: '0x1000', end: '0x1fff', devices: ['0000:00:02.0'] }, { base: '0x2000', end: '0x2fff', devices: ['0000:00:02.1'] }] },
  });
  const ex = explainGroupResvRegions(m.host, m.host.findDevice('0000:00:02.0')!.group!);
  t.is(ex[0]!.line, '0x0000000000001000 0x0000000000002fff direct-relaxable');
  t.deepEqual(ex[0]!.sources, [
    '0000:00:02.0: intel_iommu_get_resv_regions: RMRR[0] 0x1000..0x1fff (scope 0000:00:02.0)',
    '0000:00:02.1: intel_iommu_get_resv_regions: RMRR[1] 0x2000..0x2fff (scope 0000:00:02.1)',
  ]);
  t.is(ex[1]!.sources.length, 2, 'the IOAPIC window of both functions');
});

const ignoredCases: [string, Parameters<typeof machine>[0], string, RegExp][] = [
  ['IORT RMR before 6.0', { kernel: '5.15', arch: 'aarch64', iommus: [{ driver: 'arm-smmu-v3', base: '0x9050000' }], devices: [nic('0000:01:00.0')], firmware: { iortRmr: [{ base: '0xe0000000', length: '0x10000', devices: ['0000:01:00.0'] }] } }, 'firmware.iortRmr[0]', /profile row iort_rmr .* is from 6\.0/],
  ['DT iommu-addresses before 6.3', { kernel: '6.1', arch: 'aarch64', iommus: [{ driver: 'arm-smmu-v3', base: '0x9050000' }], devices: [nic('0000:01:00.0')], firmware: { dtIommuAddresses: [{ device: '0000:01:00.0', iova: '0x80000000', length: '0x1000' }] } }, 'firmware.dtIommuAddresses[0]', /of_iommu_addresses .* from 6\.3/],
  ['an RMRR on an AMD host', { iommus: [{ driver: 'amd-iommu' }], devices: [nic('0000:00:03.0')], firmware: { rmrr: [{ base: '0x1000', end: '0x1fff', devices: ['0000:00:03.0'] }] } }, 'firmware.rmrr[0]', /read only by intel-iommu, and this host has no such unit/],
  ['an RMRR whose device is not translated', { iommus: [{ driver: 'intel-iommu' }], devices: [nic('0000:00:03.0', { iommu: null })], firmware: { rmrr: [{ base: '0x1000', end: '0x1fff', devices: ['0000:00:03.0'] }] } }, 'firmware.rmrr[0]', /none of its devices \(0000:00:03\.0\) is translated by intel-iommu/],
  ['an IVMD exclusion range before 5.1', { kernel: '5.0', iommus: [{ driver: 'amd-iommu' }], devices: [nic('0000:00:03.0')], firmware: { ivmd: [{ start: '0x1000', length: '0x1000', devices: ['0000:00:03.0'], exclusion: true }] } }, 'firmware.ivmd[0]', /amd_ivmd_exclusion_reserved/],
  ['a virtio-iommu before its driver', { kernel: '5.2', arch: 'aarch64', iommus: [{ driver: 'virtio-iommu' }], devices: [nic('0000:00:02.0')] }, 'iommus[0] (virtio0, virtio-iommu)', /no such driver on 5\.2: profile row drv_virtio_iommu/],
];
for (const [name, topo, entry, why] of ignoredCases) {
  test(`ignored firmware: ${name}`, (t) => {
    const hit = ignoredFirmware(machine(topo).host).find((x) => x.entry === entry);
    t.truthy(hit, entry);
    t.regex(hit!.why, why);
  });
}

test('ignored firmware: nothing on a host whose every entry is reported', (t) => {
  t.deepEqual(ignoredFirmware(createMachine('intel-vtd-server').host), []);
});
