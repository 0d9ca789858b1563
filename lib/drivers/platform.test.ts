// SPDX-License-Identifier: GPL-2.0-only
/** Platform (non-PCI) devices behind IOMMUs: links, groups, regions, per firmware kind. */
import test from 'ava';
import { O_WRONLY } from '../uapi/fcntl';
import { explainGroupResvRegions, ignoredFirmware } from '../iommu/explain';
import { validateSysfsTree, violations } from '../sysfs/validate';
import { TopologyError, parseTopology } from '../topology/topology';
import { machine, nic, read, topo } from '../testing/topo';
import type { Machine } from '../machine';

const SW_MSI = '0x0000000008000000 0x00000000080fffff msi\n';
const AMD_MSI_HT = '0x00000000fee00000 0x00000000feefffff msi\n0x000000fd00000000 0x000000ffffffffff reserved\n';
const groupOfPlat = (m: Machine, name: string) => String(m.fs.readlinkSync(`/sys/bus/platform/devices/${name}/iommu_group`)).split('/').pop()!;
const rrOf = (m: Machine, name: string) => read(m, `/sys/kernel/iommu_groups/${groupOfPlat(m, name)}/reserved_regions`);

/** An AMD laptop: the eMMC controller is an ACPI device (AMDI0040) with an IVHD F0h entry. */
const amdEmmc = () =>
  machine({
    iommus: [{ driver: 'amd-iommu', bdf: '0000:00:00.2' }],
    devices: [nic('0000:00:00.2', { class: '0x080600', driver: null, iommu: null }), nic('0000:01:00.0')],
    platformDevices: [{ name: 'AMDI0040:00', hid: 'AMDI0040', driver: 'sdhci-acpi', description: 'eMMC controller' }],
    firmware: { ivmd: [{ start: '0xd7000000', length: '0x1000', devices: ['AMDI0040:00'] }] },
  });

/** An Allwinner H6 board: the display engine sits behind the sun50i IOMMU, which reports nothing. */
const sun50i = (kernel = '6.8') =>
  machine({
    kernel,
    arch: 'aarch64',
    iommus: [{ driver: 'sun50i-iommu', base: '0x30f0000' }],
    devices: [],
    platformDevices: [
      { name: '1100000.mixer', compatible: 'allwinner,sun50i-h6-de3-mixer-0', driver: 'sun4i-drm' },
      { name: '1c0e000.video-codec', compatible: 'allwinner,sun50i-h6-video-engine' },
    ],
    firmware: { dtIommuAddresses: [{ device: '1100000.mixer', iova: '0xbe000000', length: '0x800000', reg: { start: '0xbe000000', length: '0x800000' } }] },
  });

/** A DT arm64 SoC whose SMMUv3 translates a platform DMA engine with a boot framebuffer. */
const smmuDt = (kernel = '6.8') =>
  machine({
    kernel,
    arch: 'aarch64',
    iommus: [{ driver: 'arm-smmu-v3', base: '0x9050000' }],
    devices: [],
    platformDevices: [{ name: '9000000.dma-controller', compatible: 'arm,pl330', driver: 'dma-pl330' }],
    firmware: { dtIommuAddresses: [{ device: '9000000.dma-controller', iova: '0xfb000000', length: '0x800000', reg: { start: '0xfb000000', length: '0x800000' } }] },
  });

test('platform device (ACPI): /sys/bus/platform/devices link, iommu_group, unit link; AMD regions incl. its IVMD', (t) => {
  const m = amdEmmc();
  t.is(String(m.fs.readlinkSync('/sys/bus/platform/devices/AMDI0040:00')), '../../../devices/platform/AMDI0040:00');
  t.is(String(m.fs.readlinkSync('/sys/devices/platform/AMDI0040:00/subsystem')), '../../../bus/platform');
  t.is(String(m.fs.readlinkSync('/sys/devices/platform/AMDI0040:00/driver')), '../../../bus/platform/drivers/sdhci-acpi');
  t.true(m.fs.existsSync('/sys/bus/platform/drivers/sdhci-acpi/AMDI0040:00'));
  const g = groupOfPlat(m, 'AMDI0040:00');
  t.deepEqual(m.fs.readdirSync(`/sys/kernel/iommu_groups/${g}/devices`), ['AMDI0040:00']);
  t.true(m.fs.existsSync('/sys/class/iommu/ivhd0/devices/AMDI0040:00'));
  t.is(rrOf(m, 'AMDI0040:00'), '0x00000000d7000000 0x00000000d7000fff direct\n' + AMD_MSI_HT);
});

test('platform device (DT) behind SMMUv3: sw-msi plus its iommu-addresses from 6.3; none before', (t) => {
  t.is(rrOf(smmuDt('6.8'), '9000000.dma-controller'), SW_MSI + '0x00000000fb000000 0x00000000fb7fffff direct\n');
  t.is(rrOf(smmuDt('6.2'), '9000000.dma-controller'), SW_MSI);
});

test('sun50i-iommu has no get_resv_regions: empty reserved_regions, one group for the unit, show says why', (t) => {
  const m = sun50i();
  t.is(groupOfPlat(m, '1100000.mixer'), groupOfPlat(m, '1c0e000.video-codec'));
  t.is(rrOf(m, '1100000.mixer'), '');
  t.true(m.fs.existsSync('/sys/class/iommu/30f0000.iommu'));
  t.is(String(m.fs.readlinkSync('/sys/class/iommu/30f0000.iommu')), '../../devices/platform/30f0000.iommu/iommu/30f0000.iommu');
  const why = ignoredFirmware(m.host).find((x) => x.entry === 'firmware.dtIommuAddresses[0]');
  t.regex(why!.why, /30f0000\.iommu \(sun50i-iommu\) has no get_resv_regions/);
  t.false(machine({ kernel: '5.7', arch: 'aarch64', iommus: [{ driver: 'sun50i-iommu', base: '0x30f0000' }], devices: [], platformDevices: [{ name: '1100000.mixer', compatible: 'allwinner,sun50i-h6-de3-mixer-0' }] }).fs.existsSync('/sys/bus/platform/devices/1100000.mixer/iommu_group'), 'no driver before 5.8');
});

test('platform groups: explain names the device, the type store counts it (a bound driver: EPERM)', (t) => {
  const m = smmuDt();
  const g = m.host.findPlatformDevice('9000000.dma-controller')!.group!;
  t.regex(explainGroupResvRegions(m.host, g)[1]!.sources[0]!, /^9000000\.dma-controller: of_iommu_get_resv_regions: dtIommuAddresses\[0\]/);
  const fd = m.sys.open(`/sys/kernel/iommu_groups/${g.id}/type`, O_WRONLY);
  t.is(m.sys.write(fd, 'identity'), -1);
});

test('a tree with platform devices conforms to sysfs-schema/', (t) => {
  for (const m of [amdEmmc(), sun50i(), smmuDt()]) t.deepEqual(violations(validateSysfsTree(m.fs as never, '/sys', { kernelVersion: m.kernel.release })), []);
});

const bad: [string, Record<string, unknown>, string, RegExp][] = [
  ['neither hid nor compatible', { platformDevices: [{ name: 'X:00' }] }, 'platformDevices[0]', /exactly one/],
  ['both hid and compatible', { platformDevices: [{ name: 'AMDI0040:00', hid: 'AMDI0040', compatible: 'a,b' }] }, 'platformDevices[0]', /exactly one/],
  ['unknown unit', { platformDevices: [{ name: 'AMDI0040:00', hid: 'AMDI0040', iommu: 'ivhd9' }] }, 'platformDevices[0].iommu', /no IOMMU unit named "ivhd9"/],
  ['duplicate name', { platformDevices: [{ name: 'AMDI0040:00', hid: 'AMDI0040' }, { name: 'AMDI0040:00', hid: 'AMDI0040' }] }, 'platformDevices[1].name', /duplicate platform device/],
  ['a DT node on an ACPI host', { firmware: { rmrr: [{ base: '0x1000', end: '0x1fff', devices: ['0000:00:03.0'] }] }, platformDevices: [{ name: '1100000.mixer', compatible: 'allwinner,sun50i-h6-de3-mixer-0' }] }, 'platformDevices[0].compatible', /ACPI \(firmware\.rmrr\) or a device tree, not both/],
  ['a firmware scope naming no device', { firmware: { rmrr: [{ base: '0x1000', end: '0x1fff', devices: ['AMDI0040:00'] }] } }, 'firmware.rmrr[0].devices[0]', /no device AMDI0040:00 in devices\[\] or platformDevices\[\]/],
  ['a bad device reference', { firmware: { rmrr: [{ base: '0x1000', end: '0x1fff', devices: ['00:03.0 '] }] } }, 'firmware.rmrr[0].devices[0]', /PCI address like "0000:00:1f\.0" or the name of a platformDevices\[\] entry/],
];
for (const [name, over, path, msg] of bad) {
  test(`platform device topology errors: ${name}`, (t) => {
    const doc = { ...topo({ devices: [nic('0000:00:03.0')] }), ...over };
    const e = t.throws(() => parseTopology(JSON.stringify(doc), { file: 'p.json' }), { instanceOf: TopologyError }) as TopologyError;
    const hit = e.issues.find((i) => i.path === path);
    t.truthy(hit, e.message);
    t.regex(hit!.message, msg);
  });
}
