// SPDX-License-Identifier: GPL-2.0-only
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  SCHEMA_DIR,
  SchemaFileError,
  compilePathPattern,
  expectedMode,
  loadSysfsSchema,
  matchPattern,
  matchPatternPrefix,
  sysfsSchema,
} from './schema';
import { compareKernelVersion, inVersionRange, kernelVersion } from '../kernel/version';

test('the shipped schema loads: one file per ABI document, unique ids', t => {
  const s = loadSysfsSchema();
  t.deepEqual([...s.files], [
    'sysfs-bus-pci.json',
    'sysfs-class-iommu-amd-iommu.json',
    'sysfs-class-iommu-intel-iommu.json',
    'sysfs-class-iommu.json',
    'sysfs-class-net.json',
    'sysfs-devices-node.json',
    'sysfs-devices-system-cpu.json',
    'sysfs-devices-vfio-dev.json',
    'sysfs-firmware-acpi.json',
    'sysfs-kernel-iommu_groups.json',
    'sysfs-module.json',
  ]);
  t.is(new Set(s.entries.map(e => e.id)).size, s.entries.length);
  for (const e of s.entries) {
    t.regex(e.document, new RegExp(`^Documentation/ABI/(testing|stable)/${e.file.replace(/\.json$/, '')}$`), e.id);
    if (e.abi) t.is(e.what, e.abi.What, e.id);
  }
});

const kver: [string, [number, number, number]][] = [
  ['6.8.0-45-generic', [6, 8, 0]],
  ['v5.15', [5, 15, 0]],
  ['5.3-rc1', [5, 3, 0]],
  ['6.18.44-fc-v782', [6, 18, 44]],
  ['4.10.17', [4, 10, 17]],
];
for (const [text, [major, minor, patch]] of kver) {
  test(`kernelVersion ${text}`, t => {
    t.like(kernelVersion(text), { major, minor, patch });
  });
}

test('kernelVersion rejects junk; comparisons and ranges', t => {
  t.throws(() => kernelVersion('linux'), { message: /not a kernel version/ });
  const v = kernelVersion;
  t.true(compareKernelVersion(v('5.10'), v('5.9')) > 0);
  t.true(compareKernelVersion(v('5.11'), v('5.11.0-1-generic')) === 0);
  t.true(inVersionRange(v('5.10.200'), { since: '5.2', until: '5.11' }));
  t.false(inVersionRange(v('5.11'), { since: '5.2', until: '5.11' }));
  t.false(inVersionRange(v('4.10'), { since: '4.11' }));
});

const patterns: [string, string, boolean][] = [
  ['/sys/kernel/iommu_groups/<grp_id>/type', '/sys/kernel/iommu_groups/17/type', true],
  ['/sys/kernel/iommu_groups/<grp_id>/type', '/sys/kernel/iommu_groups/017/type', false],
  ['/sys/bus/pci/devices/<bdf>', '/sys/bus/pci/devices/0000:00:1f.0', true],
  ['/sys/bus/pci/devices/<bdf>', '/sys/bus/pci/devices/0000:00:1F.0', false],
  ['/sys/bus/pci/devices/<bdf>', '/sys/bus/pci/devices/0000:00:20.0', false],
  ['/sys/devices/pci<domain>:<bus>/<bdf>+/vendor', '/sys/devices/pci0000:00/0000:00:1c.0/0000:01:00.0/vendor', true],
  ['/sys/devices/pci<domain>:<bus>/<bdf>+/vendor', '/sys/devices/pci0000:00/vendor', false],
  ['/sys/kernel/iommu_groups/<grp_id>/devices/<bdf_name>', '/sys/kernel/iommu_groups/3/devices/0000:00:02.0.1', true],
];
for (const [pat, p, want] of patterns) {
  test(`pattern ${pat} ${want ? 'matches' : 'rejects'} ${p}`, t => {
    t.is(matchPattern(compilePathPattern(pat), p), want);
  });
}

test('prefix matching drives the walk; unknown placeholders are refused', t => {
  const p = compilePathPattern('/sys/devices/pci<domain>:<bus>/<bdf>+/vfio-dev/vfio<index>');
  t.true(matchPatternPrefix(p, '/sys/devices'));
  t.true(matchPatternPrefix(p, '/sys/devices/pci0000:00/0000:00:1c.0/0000:01:00.0'));
  t.false(matchPatternPrefix(p, '/sys/devices/pci0000:00/0000:00:1c.0/power'));
  t.false(matchPatternPrefix(p, '/sys/devices/pci0000:00/0000:00:1c.0/vfio-dev/vfio0'));
  t.throws(() => compilePathPattern('/sys/kernel/iommu_groups/<group>'), { message: /unknown placeholder <group>/ });
});

test('schema lookups: kinds, required children, modes per version', t => {
  const s = sysfsSchema();
  t.is(s.match('/sys/kernel/iommu_groups/4/reserved_regions')?.id, 'iommu_groups.group.reserved_regions');
  t.is(s.match('/sys/devices/pci0000:00/0000:00:00.2/iommu', 'dir')?.id, 'iommu.unit.container');
  t.is(s.match('/sys/devices/pci0000:00/0000:00:02.0/iommu', 'link')?.id, 'pci.device.iommu');
  t.is(s.match('/sys/kernel/iommu_groups/4/devices/0000:00:02.0')?.id, 'iommu_groups.group.devices.pci');
  t.is(s.match('/sys/kernel/iommu_groups/4/devices/fe200000.gpu')?.id, 'iommu_groups.group.devices.other');
  t.is(s.match('/sys/kernel/iommu_groups/4/bogus'), undefined);
  const req = (kv: string): string[] => s.requiredChildren('/sys/kernel/iommu_groups/4', kernelVersion(kv)).map(r => r.name).sort();
  t.deepEqual(req('4.10'), ['devices']);
  t.deepEqual(req('4.18'), ['devices', 'reserved_regions']);
  t.deepEqual(req('6.8'), ['devices', 'reserved_regions', 'type']);
  const type = s.byId('iommu_groups.group.type');
  t.truthy(type);
  if (!type) return;
  t.is(expectedMode(type, kernelVersion('5.10')), 0o444);
  t.is(expectedMode(type, kernelVersion('5.11')), 0o644);
  t.is(expectedMode(type, kernelVersion('4.18')), undefined);
});

function brokenCopy(t: { teardown(fn: () => void): void }, file: string, mutate: (json: any) => void): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sysfs-schema-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const f of fs.readdirSync(SCHEMA_DIR)) fs.copyFileSync(path.join(SCHEMA_DIR, f), path.join(dir, f));
  const p = path.join(dir, file);
  const json: unknown = JSON.parse(fs.readFileSync(p, 'utf8'));
  mutate(json);
  fs.writeFileSync(p, JSON.stringify(json));
  return dir;
}

const broken: [string, string, (j: any) => void, string, RegExp][] = [
  ['mode without leading 0', 'sysfs-kernel-iommu_groups.json', j => { j.entries[2].mode = '444'; }, '/entries/2/mode', /pattern|must match/],
  ['unknown kind', 'sysfs-bus-pci.json', j => { j.entries[0].kind = 'socket'; }, '/entries/0/kind', /allowed values/],
  ['unexpected property', 'sysfs-class-iommu.json', j => { j.entries[1].linkk = {}; }, '/entries/1', /unexpected property "linkk"/],
  ['missing source', 'sysfs-devices-vfio-dev.json', j => { delete j.entries[3].source; }, '/entries/3', /missing property "source"/],
  ['link without link rule', 'sysfs-bus-pci.json', j => { delete j.entries[1].link; }, '/entries/1', /link/],
  ['unknown placeholder', 'sysfs-kernel-iommu_groups.json', j => { j.entries[3].path = '/sys/kernel/iommu_groups/<group>/type'; }, '/entries/3/path', /unknown placeholder <group>/],
  ['bad line regex', 'sysfs-kernel-iommu_groups.json', j => { j.entries[2].line = '^0x[0-9a-f'; }, '/entries/2/line', /bad regex/],
  ['empty version range', 'sysfs-kernel-iommu_groups.json', j => { j.entries[3].mode[0].until = '4.1'; }, '/entries/3/mode/0', /empty version range/],
  ['duplicate id across files', 'sysfs-class-iommu.json', j => { j.entries[0].id = 'bus.pci.devices'; }, '/entries/0/id', /duplicate entry id/],
];
for (const [name, file, mutate, jsonPath, msg] of broken) {
  test(`a broken schema file is rejected with file and JSON path: ${name}`, t => {
    const dir = brokenCopy(t, file, mutate);
    const err = t.throws(() => loadSysfsSchema(dir), { instanceOf: SchemaFileError });
    t.is(err?.file, file);
    t.is(err?.jsonPath, jsonPath);
    t.regex(err?.message ?? '', msg);
    t.true(err?.message.startsWith(`${file}: at ${jsonPath}: `));
  });
}

test('a schema file that is not JSON names the file', t => {
  const dir = brokenCopy(t, 'sysfs-bus-pci.json', () => undefined);
  fs.writeFileSync(path.join(dir, 'sysfs-bus-pci.json'), '{ "document": ');
  const err = t.throws(() => loadSysfsSchema(dir), { instanceOf: SchemaFileError });
  t.regex(err?.message ?? '', /^sysfs-bus-pci\.json: at \/: not valid JSON/);
});
