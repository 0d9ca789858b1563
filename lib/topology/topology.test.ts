// SPDX-License-Identifier: GPL-2.0-only
/** Topology files: every problem names the file, the path inside it and what was expected. */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { TopologyError, jsonPointerToPath, parseTopology, topologyFromJSON } from './topology';

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
  ['bad kernel', with_((d) => (d.kernel = 'six')), 'kernel', /must be a kernel version like "6\.8", "5\.4\.7", "5\.5-rc3"/],
  ['kernel as a JSON number', with_((d) => (d.kernel = 5.1)), 'kernel', /is the number 5\.1, not a version: quote it/],
  ['kernel object with a bad version', with_((d) => (d.kernel = { version: 'six' })), 'kernel.version', /must be a kernel version like/],
  ['kernel object with an unknown feature', with_((d) => (d.kernel = { version: '5.14.0-70.el9', features: { rmr: true } })), 'kernel.features.rmr', /is not a profile row/],
  ['kernel object with a non-boolean feature', with_((d) => (d.kernel = { version: '5.14', features: { iort_rmr: 'yes' } })), 'kernel.features.iort_rmr', /boolean/],
  ['bad driver', with_((d) => (d.iommus[0].driver = 'intel')), 'iommus[0].driver', /must be one of/],
  ['bad bdf', with_((d) => (d.devices[0].bdf = '00:03.0')), 'devices[0].bdf', /must be a PCI address .* like "0000:00:1f\.0"/],
  ['u64 string past 64 bits', with_((d) => (d.firmware = { rmrr: [{ base: '0x10000000000000000', end: '0x10000000000000fff', devices: ['0000:00:03.0'] }] })), 'firmware.rmrr[0].base', /0x10000000000000000 exceeds 64 bits/],
  ['decimal string past 64 bits', with_((d) => (d.firmware = { rmrr: [{ base: '0', end: '18446744073709551616', devices: ['0000:00:03.0'] }] })), 'firmware.rmrr[0].end', /18446744073709551616 exceeds 64 bits/],
  ['JSON integer literal past 64 bits', with_((d) => (d.firmware = { rmrr: [{ base: 1e20, end: '0x1fff', devices: ['0000:00:03.0'] }] })), 'firmware.rmrr[0].base', /100000000000000000000 exceeds 64 bits/],
  ['IVMD with neither length nor end', with_((d) => (d.iommus = [{ driver: 'amd-iommu' }], d.firmware = { ivmd: [{ start: '0x1000', devices: ['0000:00:03.0'] }] })), 'firmware.ivmd[0].length', /exactly one/],
  ['IVMD of length 0', with_((d) => (d.iommus = [{ driver: 'amd-iommu' }], d.firmware = { ivmd: [{ start: '0x1000', length: 0, devices: ['0000:00:03.0'] }] })), 'firmware.ivmd[0].length', /> 0/],
  ['ACPI and device-tree entries on one host', with_((d) => (d.iommus = [{ driver: 'arm-smmu-v3', base: '0x9050000' }], d.arch = 'aarch64', d.firmware = { its: [{ base: '0x202100000' }], dtIommuAddresses: [{ device: '0000:00:03.0', iova: '0x80000000', length: '0x1000' }] })), 'firmware.dtIommuAddresses', /ACPI \(firmware\.its\) or a device tree, not both/],
  ['vendor too large', with_((d) => (d.devices[0].vendor = 70000)), 'devices[0].vendor', /integer 0..0xffff/],
  ['duplicate bdf', with_((d) => d.devices.push({ ...d.devices[0] })), 'devices[1].bdf', /duplicate device 0000:00:03\.0/],
  ['duplicate ifname', with_((d) => { d.devices[0].ifname = 'eth7'; d.devices.push({ ...d.devices[0], bdf: '0000:00:04.0' }); }), 'devices[1].ifname', /interface eth7 is also devices\[0\]'s/],
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
    t.true(e.message.endsWith('(the topology format, field by field: docs/topology.md)'), 'every topology error points at the guide');
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

// Numbers a double cannot hold: read exactly (JSON literals, YAML integers), never turned into 0.
const TOP = '0xfffffffffffff000';
const exact: [string, string, string][] = [
  ['JSON integer literal past 2^53', 'h.json', JSON.stringify({ ...base, iommus: [{ driver: 'intel-iommu' }], firmware: { rmrr: [{ base: 'BASE', end: 'END', devices: ['0000:00:03.0'] }] } }).replace('"BASE"', '18446744073709547520').replace('"END"', '18446744073709551615')],
  ['YAML hex integer past 2^53', 'h.yaml', `name: h
kernel: "6.8"
arch: x86_64
iommus: [{ driver: intel-iommu }]
devices:
  - { bdf: "0000:00:03.0", vendor: 0x8086, device: 0x1572, class: 0x020000 }
firmware:
  rmrr: [{ base: ${TOP}, end: 0xffffffffffffffff, devices: ["0000:00:03.0"] }]
`],
];
for (const [name, file, text] of exact) {
  test(`topology numbers: ${name} is read exactly`, (t) => {
    const topo = parseTopology(text, { file });
    t.is(topo.firmware.rmrr[0]!.base, BigInt(TOP));
    t.is(topo.firmware.rmrr[0]!.end, (1n << 64n) - 1n);
  });
}

test('topology numbers: a JS object number past 2^53 is an error naming the path, not a silent 0', (t) => {
  const doc = JSON.parse(with_((d) => (d.firmware = { rmrr: [{ base: 0, end: '0x1fff', devices: ['0000:00:03.0'] }] })));
  doc.firmware.rmrr[0].base = 2 ** 64 - 4096;
  const e = t.throws(() => topologyFromJSON(doc, 'obj'), { instanceOf: TopologyError }) as TopologyError;
  t.is(e.issues[0]!.path, 'firmware.rmrr[0].base');
  t.regex(e.issues[0]!.message, /past 2\^53, where numbers lose digits: write it as a quoted string/);
});

test('topology kernel: 5.10 unquoted in YAML is an error that shows the text and asks for quotes', (t) => {
  const e = t.throws(() => parseTopology('name: h\nkernel: 5.10\narch: x86_64\niommus: []\ndevices: []\n', { file: 'h.yaml' }), { instanceOf: TopologyError }) as TopologyError;
  t.is(e.issues[0]!.path, 'kernel');
  t.regex(e.issues[0]!.message, /5\.10 unquoted is the YAML number 5\.1, not a version: write kernel: "5\.10"/);
});

test('topology kernel: {version, features} gives the version and the overrides', (t) => {
  const topo = parseTopology(JSON.stringify({ ...base, kernel: { version: '5.14.0-70.el9', features: { iort_rmr: true, vfio_pci_id_table: false } } }), { file: 'h.json' });
  t.is(topo.kernel, '5.14.0-70.el9');
  t.deepEqual(topo.kernelFeatures, { iort_rmr: true, vfio_pci_id_table: false });
});

test('topology IVMD: the older exclusive end still reads as start + length', (t) => {
  const topo = parseTopology(JSON.stringify({ ...base, iommus: [{ driver: 'amd-iommu' }], firmware: { ivmd: [{ start: '0xd5000000', end: '0xd5100000', devices: ['0000:00:03.0'] }] } }), { file: 'h.json' });
  t.is(topo.firmware.ivmd[0]!.length, 0x100000n);
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

test('TopologyInput (lib/topology/input.ts) is what scripts/gen-topology-types.js generates from schema.json', async (t) => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const gen = require('../../scripts/gen-topology-types.js') as { generate(): Promise<string>; out: string };
  t.is(readFileSync(gen.out, 'utf8'), await gen.generate(), 'run node scripts/gen-topology-types.js after editing schema.json');
});
