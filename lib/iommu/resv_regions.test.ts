// SPDX-License-Identifier: GPL-2.0-only
/** Each platform's get_resv_regions, as seen in the group's reserved_regions file, per kernel. */
import test from 'ava';
import { machine, nic, regionsOf } from '../testing/topo';
import type { IommuInput, TopologyInput } from '../topology/topology';

const MSI_X86 = '0x00000000fee00000 0x00000000feefffff msi\n';
const HT = '0x000000fd00000000 0x000000ffffffffff reserved\n';
const SW_MSI = '0x0000000008000000 0x00000000080fffff msi\n';

interface Case {
  name: string;
  kernel?: string;
  arch?: TopologyInput['arch'];
  iommus: IommuInput[];
  devices: ReturnType<typeof nic>[];
  firmware?: TopologyInput['firmware'];
  /** The group of this device. */
  of: string;
  expect: string;
}

const intel: IommuInput[] = [{ driver: 'intel-iommu' }];
const amd: IommuInput[] = [{ driver: 'amd-iommu' }];
const smmu: IommuInput[] = [{ driver: 'arm-smmu-v3', base: '0x9050000' }];
const gpu = (bdf: string) => nic(bdf, { device: '0x3e92', class: '0x030000', driver: 'i915' });
const usb = (bdf: string) => nic(bdf, { device: '0xa36d', class: '0x0c0330', driver: 'xhci_hcd' });
const raid = (bdf: string) => nic(bdf, { device: '0x0014', class: '0x010400', driver: 'megaraid_sas' });
const isa = (bdf: string) => nic(bdf, { device: '0xa30a', class: '0x060100', driver: null });
const bridge = (bdf: string) => nic(bdf, { device: '0x1901', class: '0x060400', driver: 'pcieport', acs: true });
const rmrr = (base: string, end: string, ...devices: string[]) => ({ rmrr: [{ base, end, devices }] });

const cases: Case[] = [
  // drivers/iommu/intel/iommu.c:intel_iommu_get_resv_regions
  { name: 'intel: every translated device gets the IOAPIC msi window', iommus: intel, devices: [nic('0000:00:03.0')], of: '0000:00:03.0', expect: MSI_X86 },
  { name: 'intel: RMRR of a GPU is direct-relaxable', iommus: intel, devices: [gpu('0000:00:02.0')], firmware: rmrr('0x7b800000', '0x7fffffff', '0000:00:02.0'), of: '0000:00:02.0', expect: '0x000000007b800000 0x000000007fffffff direct-relaxable\n' + MSI_X86 },
  { name: 'intel: RMRR of a USB controller is direct-relaxable', iommus: intel, devices: [usb('0000:00:14.0')], firmware: rmrr('0x7a8e0000', '0x7a8fffff', '0000:00:14.0'), of: '0000:00:14.0', expect: '0x000000007a8e0000 0x000000007a8fffff direct-relaxable\n' + MSI_X86 },
  { name: 'intel: RMRR of a RAID controller is direct', iommus: intel, devices: [raid('0000:00:05.0')], firmware: rmrr('0x6f000000', '0x6f0fffff', '0000:00:05.0'), of: '0000:00:05.0', expect: '0x000000006f000000 0x000000006f0fffff direct\n' + MSI_X86 },
  { name: 'intel 4.11: a GPU RMRR is plain direct (no relaxable type yet)', kernel: '4.11', iommus: intel, devices: [gpu('0000:00:02.0')], firmware: rmrr('0x7b800000', '0x7fffffff', '0000:00:02.0'), of: '0000:00:02.0', expect: '0x000000007b800000 0x000000007fffffff direct\n' + MSI_X86 },
  { name: 'intel: an RMRR scoped to a bridge applies downstream', iommus: intel, devices: [bridge('0000:00:01.0'), raid('0000:01:00.0').valueOf() as ReturnType<typeof nic>].map((d) => (d.bdf === '0000:01:00.0' ? { ...d, parent: '0000:00:01.0' } : d)), firmware: rmrr('0x6f000000', '0x6f0fffff', '0000:00:01.0'), of: '0000:01:00.0', expect: '0x000000006f000000 0x000000006f0fffff direct\n' + MSI_X86 },
  // before v5.3 (is_downstream_to_pci_bridge) only the exact device in the scope matched
  { name: 'intel 5.2: an RMRR scoped to a bridge does not apply downstream', kernel: '5.2', iommus: intel, devices: [bridge('0000:00:01.0'), { ...raid('0000:01:00.0'), parent: '0000:00:01.0' }], firmware: rmrr('0x6f000000', '0x6f0fffff', '0000:00:01.0'), of: '0000:01:00.0', expect: MSI_X86 },
  { name: 'intel 5.2: an RMRR scoped to the device itself applies', kernel: '5.2', iommus: intel, devices: [raid('0000:00:05.0')], firmware: rmrr('0x6f000000', '0x6f0fffff', '0000:00:05.0'), of: '0000:00:05.0', expect: '0x000000006f000000 0x000000006f0fffff direct\n' + MSI_X86 },
  { name: 'intel: an RMRR scoped elsewhere does not apply', iommus: intel, devices: [raid('0000:00:05.0'), nic('0000:00:06.0')], firmware: rmrr('0x6f000000', '0x6f0fffff', '0000:00:05.0'), of: '0000:00:06.0', expect: MSI_X86 },
  { name: 'intel 4.11: no ISA range', kernel: '4.11', iommus: intel, devices: [isa('0000:00:1f.0')], of: '0000:00:1f.0', expect: MSI_X86 },
  { name: 'intel 5.3: ISA bridge range is direct', kernel: '5.3', iommus: intel, devices: [isa('0000:00:1f.0')], of: '0000:00:1f.0', expect: '0x0000000000000000 0x0000000000ffffff direct\n' + MSI_X86 },
  // d8018a0e9195: upstream v5.5-rc3, stable v5.4.7
  { name: 'intel 5.4.6: ISA bridge range is still direct', kernel: '5.4.6', iommus: intel, devices: [isa('0000:00:1f.0')], of: '0000:00:1f.0', expect: '0x0000000000000000 0x0000000000ffffff direct\n' + MSI_X86 },
  { name: 'intel 5.4.7: ISA bridge range is direct-relaxable (stable backport)', kernel: '5.4.7', iommus: intel, devices: [isa('0000:00:1f.0')], of: '0000:00:1f.0', expect: '0x0000000000000000 0x0000000000ffffff direct-relaxable\n' + MSI_X86 },
  { name: 'intel 5.5-rc2: ISA bridge range is still direct', kernel: '5.5-rc2', iommus: intel, devices: [isa('0000:00:1f.0')], of: '0000:00:1f.0', expect: '0x0000000000000000 0x0000000000ffffff direct\n' + MSI_X86 },
  { name: 'intel 5.5.0-rc3: ISA bridge range is direct-relaxable', kernel: '5.5.0-rc3', iommus: intel, devices: [isa('0000:00:1f.0')], of: '0000:00:1f.0', expect: '0x0000000000000000 0x0000000000ffffff direct-relaxable\n' + MSI_X86 },
  { name: 'intel 5.5: ISA bridge range is direct-relaxable', kernel: '5.5', iommus: intel, devices: [isa('0000:00:1f.0')], of: '0000:00:1f.0', expect: '0x0000000000000000 0x0000000000ffffff direct-relaxable\n' + MSI_X86 },
  // drivers/iommu/amd/iommu.c:amd_iommu_get_resv_regions
  { name: 'amd: msi window and HyperTransport hole', iommus: amd, devices: [nic('0000:00:03.0')], of: '0000:00:03.0', expect: MSI_X86 + HT },
  { name: 'amd 6.8: HT-range-ignore hardware still lists the hole (older kernel)', iommus: [{ driver: 'amd-iommu', htRangeIgnore: true }], devices: [nic('0000:00:03.0')], of: '0000:00:03.0', expect: MSI_X86 + HT },
  { name: 'amd latest: HT-range-ignore hardware drops the hole', kernel: 'latest', iommus: [{ driver: 'amd-iommu', htRangeIgnore: true }], devices: [nic('0000:00:03.0')], of: '0000:00:03.0', expect: MSI_X86 },
  { name: 'amd: IVMD unity map (start + length) is direct', iommus: amd, devices: [nic('0000:00:03.0')], firmware: { ivmd: [{ start: '0xd5000000', length: '0x100000', devices: ['0000:00:03.0'] }] }, of: '0000:00:03.0', expect: '0x00000000d5000000 0x00000000d50fffff direct\n' + MSI_X86 + HT },
  // drivers/iommu/amd/init.c:init_unity_map_range — address_start = PAGE_ALIGN(start), end = start + PAGE_ALIGN(length)
  { name: 'amd: IVMD start and length are page-aligned up', iommus: amd, devices: [nic('0000:00:03.0')], firmware: { ivmd: [{ start: '0xd5000800', length: '0x1800', devices: ['0000:00:03.0'] }] }, of: '0000:00:03.0', expect: '0x00000000d5001000 0x00000000d5002fff direct\n' + MSI_X86 + HT },
  // 8aafaaf22121 (v5.1-rc): exclusion ranges enter the unity list flagged EXCL_RANGE → reserved; 387caf0b759a: plain r/w unity map → direct
  { name: 'amd 5.0: IVMD exclusion range is not reported', kernel: '5.0', iommus: amd, devices: [nic('0000:00:03.0')], firmware: { ivmd: [{ start: '0xd6000000', length: '0x10000', devices: ['0000:00:03.0'], exclusion: true }] }, of: '0000:00:03.0', expect: MSI_X86 + HT },
  { name: 'amd 5.4: IVMD exclusion range is reserved', kernel: '5.4', iommus: amd, devices: [nic('0000:00:03.0')], firmware: { ivmd: [{ start: '0xd6000000', length: '0x10000', devices: ['0000:00:03.0'], exclusion: true }] }, of: '0000:00:03.0', expect: '0x00000000d6000000 0x00000000d600ffff reserved\n' + MSI_X86 + HT },
  { name: 'amd 6.8: IVMD exclusion range is a unity map: direct', iommus: amd, devices: [nic('0000:00:03.0')], firmware: { ivmd: [{ start: '0xd6000000', length: '0x10000', devices: ['0000:00:03.0'], exclusion: true, write: false }] }, of: '0000:00:03.0', expect: '0x00000000d6000000 0x00000000d600ffff direct\n' + MSI_X86 + HT },
  // 94a9921e2c25 (v6.16): amd_iommu_ht_range_ignore() reads the EFR2 common to all units
  { name: 'amd 6.15: HT-range-ignore hardware still lists the hole', kernel: '6.15', iommus: [{ driver: 'amd-iommu', htRangeIgnore: true }], devices: [nic('0000:00:03.0')], of: '0000:00:03.0', expect: MSI_X86 + HT },
  { name: 'amd 6.16: HT-range-ignore hardware drops the hole', kernel: '6.16', iommus: [{ driver: 'amd-iommu', htRangeIgnore: true }], devices: [nic('0000:00:03.0')], of: '0000:00:03.0', expect: MSI_X86 },
  { name: 'amd latest: one unit without HT-range-ignore keeps the hole for devices of the other unit too', kernel: 'latest', iommus: [{ driver: 'amd-iommu', htRangeIgnore: true }, { driver: 'amd-iommu' }], devices: [nic('0000:00:03.0', { iommu: 'ivhd0' }), nic('0000:40:03.0', { iommu: 'ivhd1' })], of: '0000:00:03.0', expect: MSI_X86 + HT },
  // arm-smmu(-v3) + dma-iommu (IORT, DT)
  { name: 'smmuv3: the software MSI window', arch: 'aarch64', iommus: smmu, devices: [nic('0000:01:00.0')], of: '0000:01:00.0', expect: SW_MSI },
  { name: 'smmu (v2): the software MSI window', arch: 'aarch64', iommus: [{ driver: 'arm-smmu', base: '0x2b400000' }], devices: [nic('0000:01:00.0')], of: '0000:01:00.0', expect: SW_MSI },
  { name: 'smmuv3 + IORT ITS bypass: hardware msi doorbell page beside the software window', arch: 'aarch64', iommus: smmu, devices: [nic('0000:01:00.0')], firmware: { its: [{ base: '0x202100000' }] }, of: '0000:01:00.0', expect: SW_MSI + '0x0000000202110000 0x000000020211ffff msi\n' },
  { name: 'smmuv3 4.16.13: no ITS doorbell region yet', kernel: '4.16.13', arch: 'aarch64', iommus: smmu, devices: [nic('0000:01:00.0')], firmware: { its: [{ base: '0x202100000' }] }, of: '0000:01:00.0', expect: SW_MSI },
  { name: 'smmuv3 4.17: the ITS doorbell is a hardware msi region', kernel: '4.17', arch: 'aarch64', iommus: smmu, devices: [nic('0000:01:00.0')], firmware: { its: [{ base: '0x202100000' }] }, of: '0000:01:00.0', expect: SW_MSI + '0x0000000202110000 0x000000020211ffff msi\n' },
  { name: 'smmuv3 4.14: no ITS doorbell region yet', kernel: '4.14', arch: 'aarch64', iommus: smmu, devices: [nic('0000:01:00.0')], firmware: { its: [{ base: '0x202100000' }] }, of: '0000:01:00.0', expect: SW_MSI },
  // 273df9635385 (v4.12) .. cd2c9fcf5c66 (v4.17)
  { name: 'smmuv3 4.11: PCI host-bridge windows are not in sysfs yet', kernel: '4.11', arch: 'aarch64', iommus: smmu, devices: [nic('0000:01:00.0')], firmware: { pciHostBridgeWindows: [{ start: '0x10000000', end: '0x3effffff' }] }, of: '0000:01:00.0', expect: SW_MSI },
  { name: 'smmuv3 4.16.18: PCI host-bridge windows are reserved', kernel: '4.16.18', arch: 'aarch64', iommus: smmu, devices: [nic('0000:01:00.0')], firmware: { pciHostBridgeWindows: [{ start: '0x10000000', end: '0x3effffff' }] }, of: '0000:01:00.0', expect: SW_MSI + '0x0000000010000000 0x000000003effffff reserved\n' },
  { name: 'smmuv3 4.17: PCI host-bridge windows are gone', kernel: '4.17', arch: 'aarch64', iommus: smmu, devices: [nic('0000:01:00.0')], firmware: { pciHostBridgeWindows: [{ start: '0x10000000', end: '0x3effffff' }] }, of: '0000:01:00.0', expect: SW_MSI },
  { name: 'smmuv3 4.12: PCI host-bridge windows are reserved', kernel: '4.12', arch: 'aarch64', iommus: smmu, devices: [nic('0000:01:00.0')], firmware: { pciHostBridgeWindows: [{ start: '0x10000000', end: '0x3effffff' }, { start: '0x8000000000', end: '0xffffffffff' }] }, of: '0000:01:00.0', expect: SW_MSI + '0x0000000010000000 0x000000003effffff reserved\n0x0000008000000000 0x000000ffffffffff reserved\n' },
  { name: 'smmuv3 6.8: PCI host-bridge windows are not in sysfs', arch: 'aarch64', iommus: smmu, devices: [nic('0000:01:00.0')], firmware: { pciHostBridgeWindows: [{ start: '0x10000000', end: '0x3effffff' }] }, of: '0000:01:00.0', expect: SW_MSI },
  { name: 'IORT RMR without remap-permitted is direct', arch: 'aarch64', iommus: smmu, devices: [nic('0000:01:00.0')], firmware: { iortRmr: [{ base: '0xe0000000', length: '0x10000', devices: ['0000:01:00.0'] }] }, of: '0000:01:00.0', expect: SW_MSI + '0x00000000e0000000 0x00000000e000ffff direct\n' },
  { name: 'IORT RMR with remap-permitted is direct-relaxable', arch: 'aarch64', iommus: smmu, devices: [nic('0000:01:00.0')], firmware: { iortRmr: [{ base: '0xe0000000', length: '0x10000', devices: ['0000:01:00.0'], remapPermitted: true }] }, of: '0000:01:00.0', expect: SW_MSI + '0x00000000e0000000 0x00000000e000ffff direct-relaxable\n' },
  { name: 'IORT RMR not 64K-aligned is widened to whole pages', arch: 'aarch64', iommus: smmu, devices: [nic('0000:01:00.0')], firmware: { iortRmr: [{ base: '0xe0000800', length: '0x1000', devices: ['0000:01:00.0'] }] }, of: '0000:01:00.0', expect: SW_MSI + '0x00000000e0000000 0x00000000e0001fff direct\n' },
  { name: 'IORT RMR before 6.0 is ignored', kernel: '5.15', arch: 'aarch64', iommus: smmu, devices: [nic('0000:01:00.0')], firmware: { iortRmr: [{ base: '0xe0000000', length: '0x10000', devices: ['0000:01:00.0'] }] }, of: '0000:01:00.0', expect: SW_MSI },
  // a5bf3cfce8cb (v6.3): of_iommu_get_resv_regions
  { name: 'DT iommu-addresses on 6.2: not reported', kernel: '6.2', arch: 'aarch64', iommus: smmu, devices: [nic('0000:01:00.0')], firmware: { dtIommuAddresses: [{ device: '0000:01:00.0', iova: '0x80000000', length: '0x20000000' }] }, of: '0000:01:00.0', expect: SW_MSI },
  { name: 'DT iommu-addresses on 6.3: reported', kernel: '6.3', arch: 'aarch64', iommus: smmu, devices: [nic('0000:01:00.0')], firmware: { dtIommuAddresses: [{ device: '0000:01:00.0', iova: '0x80000000', length: '0x20000000' }] }, of: '0000:01:00.0', expect: SW_MSI + '0x0000000080000000 0x000000009fffffff reserved\n' },
  { name: 'DT iommu-addresses without reg: reserved', arch: 'aarch64', iommus: smmu, devices: [nic('0000:01:00.0')], firmware: { dtIommuAddresses: [{ device: '0000:01:00.0', iova: '0x80000000', length: '0x20000000' }] }, of: '0000:01:00.0', expect: SW_MSI + '0x0000000080000000 0x000000009fffffff reserved\n' },
  { name: 'DT iommu-addresses equal to reg: direct', arch: 'aarch64', iommus: smmu, devices: [nic('0000:01:00.0')], firmware: { dtIommuAddresses: [{ device: '0000:01:00.0', iova: '0xfb000000', length: '0x800000', reg: { start: '0xfb000000', length: '0x800000' } }] }, of: '0000:01:00.0', expect: SW_MSI + '0x00000000fb000000 0x00000000fb7fffff direct\n' },
  { name: 'DT iommu-addresses not equal to reg: reserved', arch: 'aarch64', iommus: smmu, devices: [nic('0000:01:00.0')], firmware: { dtIommuAddresses: [{ device: '0000:01:00.0', iova: '0xfb000000', length: '0x800000', reg: { start: '0xa0000000', length: '0x800000' } }] }, of: '0000:01:00.0', expect: SW_MSI + '0x00000000fb000000 0x00000000fb7fffff reserved\n' },
  { name: 'DT iommu-addresses with a one-byte reg (phys start == end): reserved', arch: 'aarch64', iommus: smmu, devices: [nic('0000:01:00.0')], firmware: { dtIommuAddresses: [{ device: '0000:01:00.0', iova: '0xfb000000', length: '0x1', reg: { start: '0xfb000000', length: '0x1' } }] }, of: '0000:01:00.0', expect: SW_MSI + '0x00000000fb000000 0x00000000fb000000 reserved\n' },
  // drivers/iommu/virtio-iommu.c
  { name: 'virtio-iommu without probe MSI: software MSI window', iommus: [{ driver: 'virtio-iommu' }], devices: [nic('0000:00:02.0')], of: '0000:00:02.0', expect: SW_MSI },
  { name: 'virtio-iommu with a probe MSI range: no software window', iommus: [{ driver: 'virtio-iommu' }], devices: [nic('0000:00:02.0')], firmware: { virtioIommuProbe: [{ start: '0xfee00000', end: '0xfeefffff', subtype: 'msi' }] }, of: '0000:00:02.0', expect: MSI_X86 },
  { name: 'virtio-iommu probe reserved range plus software window', iommus: [{ driver: 'virtio-iommu' }], devices: [nic('0000:00:02.0')], firmware: { virtioIommuProbe: [{ start: '0x0', end: '0xfff', subtype: 'reserved' }] }, of: '0000:00:02.0', expect: '0x0000000000000000 0x0000000000000fff reserved\n' + SW_MSI },
  // drivers/iommu/apple-dart.c, drivers/iommu/s390-iommu.c
  { name: 'apple-dart: one 16K doorbell page', arch: 'aarch64', iommus: [{ driver: 'apple-dart', msiDoorbell: '0xfffff000' }], devices: [nic('0000:01:00.0')], of: '0000:01:00.0', expect: '0x00000000fffFc000 0x00000000ffffffff msi\n'.toLowerCase() },
  { name: 's390: below start_dma and above end_dma', arch: 's390x', iommus: [{ driver: 's390-iommu' }], devices: [nic('0000:00:00.0', { startDma: '0x100000000', endDma: '0x1ffffffffff' })], of: '0000:00:00.0', expect: '0x0000000000000000 0x00000000ffffffff reserved\n0x0000020000000000 0x000003ffffffffff reserved\n' },
  // the group is the merged union over its devices
  { name: 'multi-function device without ACS: one group, union of both functions', iommus: intel, devices: [gpu('0000:00:02.0'), usb('0000:00:02.1')], firmware: { rmrr: [{ base: '0x1000', end: '0x1fff', devices: ['0000:00:02.0'] }, { base: '0x2000', end: '0x2fff', devices: ['0000:00:02.1'] }] }, of: '0000:00:02.1', expect: '0x0000000000001000 0x0000000000002fff direct-relaxable\n' + MSI_X86 },
];

for (const c of cases) {
  test(`get_resv_regions: ${c.name}`, (t) => {
    const m = machine({ kernel: c.kernel ?? '6.8', arch: c.arch ?? 'x86_64', iommus: c.iommus, devices: c.devices, firmware: c.firmware });
    t.is(regionsOf(m, c.of), c.expect);
  });
}

test('4.10 has no reserved_regions file', (t) => {
  const m = machine({ kernel: '4.10', devices: [nic('0000:00:03.0')] });
  t.deepEqual((m.fs.readdirSync('/sys/kernel/iommu_groups/0') as string[]).sort(), ['devices']);
});

test('the group list is rebuilt on every read: hot-plugging a device into a group changes it', (t) => {
  const m = machine({ devices: [nic('0000:00:1f.3', { group: 'lpc' })] });
  t.is(regionsOf(m, '0000:00:1f.3'), MSI_X86);
  const spec = m.host.topology.devices[0]!;
  m.host.hotplug({ ...spec, bdf: '0000:00:1f.0', class: 0x060100, driver: null });
  t.is(regionsOf(m, '0000:00:1f.3'), '0x0000000000000000 0x0000000000ffffff direct-relaxable\n' + MSI_X86);
  m.host.hotUnplug('0000:00:1f.0');
  t.is(regionsOf(m, '0000:00:1f.3'), MSI_X86);
});
