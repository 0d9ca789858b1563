// SPDX-License-Identifier: GPL-2.0-only
/** Topology files: every problem names the file, the path inside it and what was expected. */
import test from 'ava';
import { TopologyError, jsonPointerToPath, parseTopology } from './topology';

const base = {
  name: 'h',
  kernel: '6.8',
  arch: 'x86_64',
  iommus: [{ driver: 'intel-iommu' }],
  devices: [{ bdf: '0000:00:03.0', vendor: '0x8086', device: '0x1572', class: '0x020000' }],
};
const with_ = (patch: (d: any) => void) => { // eslint-disable-line @typescript-eslint/no-explicit-any
  const d = JSON.parse(JSON.stringify(base));
  patch(d);
  return JSON.stringify(d);
};

const cases: [string, string, string, RegExp][] = [
  ['missing name', with_((d) => delete d.name), 'name', /required/],
  ['unknown top-level key', with_((d) => (d.colour = 'red')), 'colour', /unknown property/],
  ['bad arch', with_((d) => (d.arch = 'mips')), 'arch', /must be one of/],
  ['bad kernel', with_((d) => (d.kernel = 'six')), 'kernel', /must match/],
  ['bad driver', with_((d) => (d.iommus[0].driver = 'intel')), 'iommus[0].driver', /must be one of/],
  ['bad bdf', with_((d) => (d.devices[0].bdf = '00:03.0')), 'devices[0].bdf', /must match/],
  ['vendor too large', with_((d) => (d.devices[0].vendor = 70000)), 'devices[0].vendor', /integer 0..0xffff/],
  ['duplicate bdf', with_((d) => d.devices.push({ ...d.devices[0] })), 'devices[1].bdf', /duplicate device 0000:00:03\.0/],
  ['parent missing', with_((d) => (d.devices[0].parent = '0000:00:01.0')), 'devices[0].parent', /no device 0000:00:01\.0/],
  ['parent not a bridge', with_((d) => { d.devices.push({ bdf: '0000:00:01.0', vendor: 1, device: 2, class: '0x020000' }); d.devices[0].parent = '0000:00:01.0'; }), 'devices[0].parent', /not a PCI bridge/],
  ['unknown iommu unit', with_((d) => (d.devices[0].iommu = 'dmar7')), 'devices[0].iommu', /no IOMMU unit named "dmar7"/],
  ['duplicate unit names', with_((d) => d.iommus.push({ driver: 'intel-iommu', name: 'dmar0' })), 'iommus[1].name', /duplicate/],
  ['smmu without base', with_((d) => (d.iommus = [{ driver: 'arm-smmu-v3' }])), 'iommus[0].base', /required for arm-smmu-v3/],
  ['RMRR end before base', with_((d) => (d.firmware = { rmrr: [{ base: '0x2000', end: '0x1000', devices: ['0000:00:03.0'] }] })), 'firmware.rmrr[0].end', /must be ≥ start/],
  ['RMRR unknown device', with_((d) => (d.firmware = { rmrr: [{ base: '0x1000', end: '0x1fff', devices: ['0000:00:09.0'] }] })), 'firmware.rmrr[0].devices[0]', /no device 0000:00:09\.0/],
  ['address not a number', with_((d) => (d.firmware = { rmrr: [{ base: 'lots', end: '0x1fff', devices: ['0000:00:03.0'] }] })), 'firmware.rmrr[0].base', /non-negative integer/],
  ['BAR not a power of two', with_((d) => (d.devices[0].bars = [{ index: 0, size: 3000 }])), 'devices[0].bars[0].size', /power of two/],
  ['BAR 5 cannot be 64-bit', with_((d) => (d.devices[0].bars = [{ index: 5, size: 4096, type: 'mem64' }])), 'devices[0].bars[0].index', /BAR5/],
  ['BAR slot taken by the upper half of a 64-bit BAR', with_((d) => (d.devices[0].bars = [{ index: 0, size: 4096 }, { index: 1, size: 4096, type: 'mem32' }])), 'devices[0].bars[1].index', /twice/],
  ['IVMD empty range', with_((d) => (d.iommus = [{ driver: 'amd-iommu' }], d.firmware = { ivmd: [{ start: '0x1000', end: '0x1000', devices: ['0000:00:03.0'] }] })), 'firmware.ivmd[0].end', /must be > start/],
  ['RMR of length 0', with_((d) => (d.firmware = { iortRmr: [{ base: 0, length: 0, devices: ['0000:00:03.0'] }] })), 'firmware.iortRmr[0].length', /> 0/],
  ['parent loop', with_((d) => { d.devices = [{ bdf: '0000:00:01.0', vendor: 1, device: 2, class: '0x060400', parent: '0000:00:02.0' }, { bdf: '0000:00:02.0', vendor: 1, device: 2, class: '0x060400', parent: '0000:00:01.0' }]; }), 'devices[0].parent', /loops/],
  // Names that become sysfs entries, as the kernel treats them (lib/kobject.c, fs/namei.c).
  ['driver named "."', with_((d) => (d.devices[0].driver = '.')), 'devices[0].driver', /"\." cannot name a sysfs entry: path lookup takes it for the directory itself.*\/sys\/bus\/pci\/drivers\/\.\)/],
  ['driver named ".."', with_((d) => (d.devices[0].driver = '..')), 'devices[0].driver', /"\.\." cannot name a sysfs entry/],
  ['driver with a "/"', with_((d) => (d.devices[0].driver = 'a/b')), 'devices[0].driver', /must match .*: must not contain "\/" \(the kernel would register it as "a!b"\)/],
  ['unit named "."', with_((d) => (d.iommus[0].name = '.')), 'iommus[0].name', /"\." cannot name a sysfs entry.*\/sys\/class\/iommu\/\.\)/],
  ['unit named ".."', with_((d) => (d.iommus[0].name = '..')), 'iommus[0].name', /"\.\." cannot name a sysfs entry/],
  ['unit with a "/"', with_((d) => (d.iommus[0].name = 'dmar/0')), 'iommus[0].name', /must not contain "\/" \(the kernel would register it as "dmar!0"\)/],
  ['unit with an empty name', with_((d) => (d.iommus[0].name = '')), 'iommus[0].name', /must match .*: must not be empty/],
  ['JSON syntax', '{"name": ', '', /JSON syntax/],
  ['YAML syntax', 'name: [unclosed\n', '', /YAML syntax/],
  ['not an object', '[]', '', /must be object/],
];

for (const [name, text, path, msg] of cases) {
  test(`topology errors: ${name}`, (t) => {
    const e = t.throws(() => parseTopology(text, { file: 'hosts/x.json' }), { instanceOf: TopologyError }) as TopologyError;
    const hit = e.issues.find((i) => i.path === path);
    t.truthy(hit, `no issue at "${path}": ${e.message}`);
    t.regex(hit!.message, msg);
    t.is(hit!.file, 'hosts/x.json');
    t.true(e.message.includes(`hosts/x.json: ${path || '(document)'}: `));
  });
}

test('YAML and JSON spellings of one host give the same topology', (t) => {
  const y = parseTopology(
    'name: h\nkernel: "6.8"\narch: x86_64\niommus: [{ driver: intel-iommu }]\ndevices:\n  - { bdf: "0000:00:03.0", vendor: 0x8086, device: 0x1572, class: 0x020000 }\n',
    { file: 'h.yaml' },
  );
  const j = parseTopology(JSON.stringify(base), { file: 'h.json' });
  t.deepEqual(y.devices, j.devices);
  t.is(j.iommus[0]!.name, 'dmar0');
  t.is(j.devices[0]!.vendor, 0x8086);
});

test('JSON pointers become dotted paths', (t) => {
  t.is(jsonPointerToPath('/devices/3/bdf'), 'devices[3].bdf');
  t.is(jsonPointerToPath(''), '');
  t.is(jsonPointerToPath('/cmdline/iommu.strict'), 'cmdline["iommu.strict"]');
});

test('names with dots that sysfs accepts still pass (".x", "a..b", "dmar.0")', (t) => {
  for (const name of ['.x', 'a..b', 'dmar.0', '...']) {
    const topo = parseTopology(with_((d) => ((d.iommus[0].name = name), (d.devices[0].driver = name))), { file: 'x.json' });
    t.is(topo.iommus[0]!.name, name);
    t.is(topo.devices[0]!.driver, name);
  }
});
