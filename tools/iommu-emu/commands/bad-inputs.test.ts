// SPDX-License-Identifier: GPL-2.0-only
/**
 * The bad-input corpus: broken and hostile topology files, recorded trees, .umockdev files,
 * output targets and HTTP requests. Each is answered with one clear error naming what and
 * where, exit 2 (CLI) or a 4xx with an errno (HTTP), nothing read from outside the input (links
 * out of a tree are refused, FIFOs and devices are never opened, sizes are capped) and nothing
 * written: no file, no directory, no temporary, and an existing non-regular target untouched.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { tempDir } from '../../../lib/testing/tmp';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Agent, createMachine, exportTree, loadBuiltinHost } from '../../../lib/index';
import { main } from '../main';
import { bufferIO } from '../io';

const GOOD_DEV = '{ bdf: "0000:00:03.0", vendor: 0x8086, device: 0x1572, class: 0x020000 }';
const topo = (devices: string, extra = '', iommus = '[ { driver: intel-iommu } ]') => `name: t\nkernel: "6.8"\narch: x86_64\niommus: ${iommus}\ndevices:\n${devices}\n${extra}`;

interface CliCase {
  readonly name: string;
  /**
   * Files in the case's directory (a trailing "/" makes a directory; "->" a link; "fifo:" a
   * FIFO; "rm:" removes; "big:" makes a file of that many bytes).
   */
  readonly files: Record<string, string>;
  readonly argv: (dir: string) => string[];
  readonly error: RegExp;
  /** The CLI's environment (default: none). */
  readonly env?: Record<string, string>;
  /** Expected exit code (default 2). */
  readonly code?: number;
  /** Afterwards: what must still hold (e.g. a device node is still a device node). */
  readonly after?: (dir: string) => string | undefined;
}

const topologyCases: CliCase[] = [
  ['YAML syntax', 'name: t\nkernel: "6.8\ndevices: [', /bad\.yaml: \(document\): YAML syntax/],
  ['JSON syntax', '{"name": "t",', /bad\.json: \(document\): JSON syntax/],
  ['missing kernel', 'name: t\narch: x86_64\niommus: []\ndevices: []\n', /bad\.yaml: kernel: is required/],
  ['bad bdf', topo('  - { bdf: "00:03.0", vendor: 0x8086, device: 0x1572, class: 0x020000 }'), /bad\.yaml: devices\[0\]\.bdf: must be a PCI address .*like "0000:00:1f\.0"/],
  ['unknown device property', topo('  - { bdf: "0000:00:03.0", vendor: 0x8086, device: 0x1572, class: 0x020000, colour: red }'), /bad\.yaml: devices\[0\]\.colour: unknown property/],
  ['duplicate device', topo(`  - ${GOOD_DEV}\n  - ${GOOD_DEV}`), /bad\.yaml: devices\[1\]\.bdf: duplicate device 0000:00:03\.0/],
  ['parent not a bridge', topo(`  - ${GOOD_DEV}\n  - { bdf: "0000:01:00.0", parent: "0000:00:03.0", vendor: 0x8086, device: 0x1572, class: 0x020000 }`), /devices\[1\]\.parent: 0000:00:03\.0 is not a PCI bridge/],
  ['unknown IOMMU unit', topo('  - { bdf: "0000:00:03.0", vendor: 0x8086, device: 0x1572, class: 0x020000, iommu: dmar7 }'), /devices\[0\]\.iommu: no IOMMU unit named "dmar7"/],
  ['resvRegions end below start', topo('  - { bdf: "0000:00:03.0", vendor: 0x8086, device: 0x1572, class: 0x020000, resvRegions: [ { start: 0x2000, end: 0x1000, type: reserved } ] }'), /devices\[0\]\.resvRegions\[0\]\.end: end 0x1000 must be ≥ start 0x2000/],
  ['resvRegions bad type', topo('  - { bdf: "0000:00:03.0", vendor: 0x8086, device: 0x1572, class: 0x020000, resvRegions: [ { start: 0, end: 1, type: weird } ] }'), /devices\[0\]\.resvRegions\[0\]\.type: must be one of/],
  ['RMRR scope names no device', topo(`  - ${GOOD_DEV}`, 'firmware:\n  rmrr: [ { base: 0x1000, end: 0x1fff, devices: ["0000:00:09.0"] } ]'), /firmware\.rmrr\[0\]\.devices\[0\]: no device 0000:00:09\.0/],
  ['BAR size not a power of two', topo('  - { bdf: "0000:00:03.0", vendor: 0x8086, device: 0x1572, class: 0x020000, bars: [ { index: 0, size: 0x3000 } ] }'), /devices\[0\]\.bars\[0\]\.size: must be a power of two/],
  ['empty file', '', /bad\.yaml: \(document\): must be object/],
].map(([name, text, error]) => {
  const file = name === 'JSON syntax' ? 'bad.json' : 'bad.yaml';
  return { name: `topology: ${name as string}`, files: { [file]: text as string }, argv: (d: string) => ['export', path.join(d, 'out'), '--host', path.join(d, file)], error: error as RegExp };
});
topologyCases.push({ name: 'topology: no such file', files: {}, argv: (d) => ['export', path.join(d, 'out'), '--host', path.join(d, 'nope.yaml')], error: /nope\.yaml: \(document\): cannot read: ENOENT/ });
const hostIs = (d: string, file = 'bad.yaml') => ['export', path.join(d, 'out'), '--host', path.join(d, file)];
const BOMB = ['a: &a ["x","x","x","x","x","x","x","x","x"]', ...'bcdefg'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefg'[i]}`).join(',')}]`)].join('\n');
topologyCases.push(
  { name: 'topology: a FIFO (would block forever)', files: { 'fifo:bad.yaml': '' }, argv: hostIs, error: /bad\.yaml: \(document\): is a FIFO, not a regular file; not read/ },
  { name: 'topology: /dev/zero (endless)', files: {}, argv: (d) => ['export', path.join(d, 'out'), '--host', '/dev/zero'], error: /\/dev\/zero: \(document\): is a character device, not a regular file; not read/ },
  { name: 'topology: a directory', files: { 'bad.yaml/': '' }, argv: hostIs, error: /bad\.yaml: \(document\): is a directory, not a regular file/ },
  { name: 'topology: over the default 8 MiB cap', files: { 'big:bad.yaml': String((8 << 20) + 1) }, argv: hostIs, error: /bad\.yaml: \(document\): larger than 8 MiB \(8388609 bytes\), the topology file size limit; raise it with IOMMU_EMU_MAX_TOPOLOGY_BYTES=BYTES/ },
  { name: 'topology: over a lowered cap', files: { 'bad.yaml': topo(`  - ${GOOD_DEV}`) }, env: { IOMMU_EMU_MAX_TOPOLOGY_BYTES: '64' }, argv: hostIs, error: /bad\.yaml: \(document\): larger than 64 bytes \(\d+ bytes\), the topology file size limit; raise it with IOMMU_EMU_MAX_TOPOLOGY_BYTES=BYTES/ },
  { name: 'topology: the cap variable is not a byte count', files: { 'bad.yaml': topo(`  - ${GOOD_DEV}`) }, env: { IOMMU_EMU_MAX_TOPOLOGY_BYTES: 'lots' }, argv: hostIs, error: /IOMMU_EMU_MAX_TOPOLOGY_BYTES: not a byte count: "lots"/ },
  { name: 'topology: YAML alias bomb', files: { 'bad.yaml': BOMB }, argv: hostIs, error: /bad\.yaml: \(document\): YAML syntax: Excessive alias count/ },
  { name: 'topology: JSON nested 100,000 deep', files: { 'bad.json': `${'['.repeat(100000)}${']'.repeat(100000)}` }, argv: (d) => hostIs(d, 'bad.json'), error: /bad\.json: \(document\): must be object/ },
  { name: 'topology: YAML nested 20,000 deep', files: { 'bad.yaml': `${'['.repeat(20000)}${']'.repeat(20000)}` }, argv: hostIs, error: /bad\.yaml: \(document\): YAML syntax: Maximum call stack size exceeded/ },
  { name: 'topology: a driver named ".."', files: { 'bad.yaml': topo('  - { bdf: "0000:00:03.0", vendor: 0x8086, device: 0x1572, class: 0x020000, driver: ".." }') }, argv: hostIs, error: /bad\.yaml: devices\[0\]\.driver: "\.\." cannot name a sysfs entry/ },
  { name: 'topology: a unit named "."', files: { 'bad.yaml': topo(`  - ${GOOD_DEV}`, '', '[ { driver: intel-iommu, name: "." } ]') }, argv: hostIs, error: /bad\.yaml: iommus\[0\]\.name: "\." cannot name a sysfs entry/ },
);

/** A good exported tree to break: the case edits it. */
const TREE = '<tree>';
const treeCases: CliCase[] = [
  { name: 'tree: a file, not a directory', files: { x: 'hello' }, argv: (d) => ['record', '--root', path.join(d, 'x'), '--out', path.join(d, 'out.yaml')], error: /x: not a directory/ },
  { name: 'tree: neither an export nor a sys tree', files: { 'x/': '' }, argv: (d) => ['record', '--root', path.join(d, 'x'), '--out', path.join(d, 'out.yaml')], error: /neither an export \(DIR\/sys\) nor a sys tree/ },
  { name: 'tree: iommu-emu.json is not JSON', files: { [TREE]: '', 't/iommu-emu.json': '{ kernel: ' }, argv: rec(), error: /iommu-emu\.json: .*JSON/ },
  { name: 'tree: iommu-emu.json kernel is not a string', files: { [TREE]: '', 't/iommu-emu.json': '{"kernel": 6.8}' }, argv: rec(), error: /iommu-emu\.json: kernel: must be a string/ },
  { name: 'tree: absolute link', files: { [TREE]: '', 'rm:t/sys/bus/pci/devices/0000:00:02.0': '', 't/sys/bus/pci/devices/0000:00:02.0->': '/etc' }, argv: rec(), error: /0000:00:02\.0 -> \/etc: absolute link, not followed/ },
  { name: 'tree: link climbing out of /sys', files: { [TREE]: '', 'rm:t/sys/bus/pci/devices/0000:00:02.0': '', 't/sys/bus/pci/devices/0000:00:02.0->': '../../../../../etc' }, argv: rec(), error: /link leaves \/sys, not followed/ },
  { name: 'tree: vendor missing', files: { [TREE]: '', 'rm:t/sys/devices/pci0000:00/0000:00:02.0/vendor': '' }, argv: rec(), error: /0000:00:02\.0: vendor, device and class are required/ },
  { name: 'tree: vendor garbage', files: { [TREE]: '', 't/sys/devices/pci0000:00/0000:00:02.0/vendor': 'intel\n' }, argv: rec(), error: /0000:00:02\.0: vendor, device and class are required/ },
  { name: 'tree: reserved_regions line malformed', files: { [TREE]: '', 't/sys/kernel/iommu_groups/2/reserved_regions': '0x7b800000 0x7fffffff direct\n' }, argv: rec(), error: /iommu_groups\/2\/reserved_regions: line 1: .* is not "0x%016llx 0x%016llx <type>"/ },
  { name: 'tree: reserved_regions without the final newline', files: { [TREE]: '', 't/sys/kernel/iommu_groups/0/reserved_regions': '0x00000000fee00000 0x00000000feefffff msi' }, argv: rec(), error: /iommu_groups\/0\/reserved_regions: does not end with a newline/ },
  { name: 'tree: --kernel is not a version', files: { [TREE]: '' }, argv: (d) => [...rec()(d), '--kernel', 'banana'], error: /kernel "banana" is not a kernel version/ },
];
const val = (d: string) => ['validate', path.join(d, 't')];
treeCases.push(
  // Links out of the root, at every depth; the first is the reported attack (DIR/sys -> /sys).
  { name: 'tree: DIR/sys -> /sys (record)', files: { 't/': '', 't/sys->': '/sys' }, argv: rec(), error: /t\/sys: -> \/sys: absolute link leaves .*t, not followed/ },
  { name: 'tree: DIR/sys -> /sys (validate)', files: { 't/': '', 't/sys->': '/sys' }, argv: val, error: /t\/sys: -> \/sys: absolute link leaves .*t, not followed/ },
  { name: 'tree: DIR/sys -> ../elsewhere (record)', files: { 'elsewhere/bus/': '', 't/': '', 't/sys->': '../elsewhere' }, argv: rec(), error: /t\/sys: -> \.\.\/elsewhere: link leaves .*t, not followed/ },
  { name: 'tree: DIR/sys -> ../elsewhere (validate)', files: { 'elsewhere/kernel/': '', 't/': '', 't/sys->': '../elsewhere' }, argv: val, error: /t\/sys: -> \.\.\/elsewhere: link leaves .*t, not followed/ },
  { name: 'tree: DIR/bus -> /sys/bus, a sys tree itself (record)', files: { 't/': '', 't/bus->': '/sys/bus' }, argv: rec(), error: /t\/bus: -> \/sys\/bus: absolute link leaves .*t, not followed/ },
  { name: 'tree: DIR/kernel -> /sys/kernel, a sys tree itself (validate)', files: { 't/': '', 't/kernel->': '/sys/kernel' }, argv: val, error: /t\/kernel: -> \/sys\/kernel: absolute link leaves .*t, not followed/ },
  { name: 'tree: sys/bus -> /sys/bus, one level down', files: { [TREE]: '', 'rm:t/sys/bus': '', 't/sys/bus->': '/sys/bus' }, argv: rec(), error: /\/sys\/bus -> \/sys\/bus: absolute link, not followed/ },
  { name: 'tree: a device link deep inside climbing out', files: { [TREE]: '', 'rm:t/sys/bus/pci/devices/0000:00:02.0': '', 't/sys/bus/pci/devices/0000:00:02.0->': '../../../../../../../../../../etc' }, argv: rec(), error: /link leaves \/sys, not followed/ },
  { name: 'tree: an attribute linked to /dev/zero', files: { [TREE]: '', 'rm:t/sys/devices/pci0000:00/0000:00:02.0/vendor': '', 't/sys/devices/pci0000:00/0000:00:02.0/vendor->': '/dev/zero' }, argv: rec(), error: /vendor -> \/dev\/zero: absolute link, not followed/ },
  { name: 'tree: the metadata file linked out', files: { [TREE]: '', 'rm:t/iommu-emu.json': '', 't/iommu-emu.json->': '/etc/passwd' }, argv: rec(), error: /t\/iommu-emu\.json: -> \/etc\/passwd: absolute link leaves .*t, not followed/ },
  { name: 'tree: the metadata file linked out (validate)', files: { [TREE]: '', 'rm:t/iommu-emu.json': '', 't/iommu-emu.json->': '/etc/passwd' }, argv: val, error: /t\/iommu-emu\.json: is a symbolic link, not followed/ },
  // FIFOs and oversized files: never opened, never read past the cap.
  { name: 'tree: the metadata file is a FIFO (record)', files: { [TREE]: '', 'rm:t/iommu-emu.json': '', 'fifo:t/iommu-emu.json': '' }, argv: rec(), error: /t\/iommu-emu\.json: is a FIFO, not a regular file; not read/ },
  { name: 'tree: the metadata file is a FIFO (validate)', files: { [TREE]: '', 'rm:t/iommu-emu.json': '', 'fifo:t/iommu-emu.json': '' }, argv: val, error: /t\/iommu-emu\.json: is a FIFO, not a regular file; not read/ },
  { name: 'tree: an attribute is a FIFO (record)', files: { [TREE]: '', 'rm:t/sys/devices/pci0000:00/0000:00:02.0/vendor': '', 'fifo:t/sys/devices/pci0000:00/0000:00:02.0/vendor': '' }, argv: rec(), error: /0000:00:02\.0: vendor, device and class are required/ },
  { name: 'tree: an attribute is a FIFO (validate: reported, not read)', files: { [TREE]: '', 'rm:t/sys/kernel/iommu_groups/2/reserved_regions': '', 'fifo:t/sys/kernel/iommu_groups/2/reserved_regions': '' }, argv: val, code: 1, error: /\/sys\/kernel\/iommu_groups\/2\/reserved_regions: warning: unreadable: not a regular file \(a FIFO, device node or socket\); not read/ },
  { name: 'tree: an attribute over a lowered cap', files: { [TREE]: '' }, env: { IOMMU_EMU_MAX_ATTRIBUTE_BYTES: '64' }, argv: rec(), error: /config: larger than 64 bytes, the attribute size limit \(limit: 64 bytes; raise it with IOMMU_EMU_MAX_ATTRIBUTE_BYTES=BYTES\)/ },
  { name: 'tree: DIR is a FIFO', files: { 'fifo:t': '' }, argv: rec(), error: /t: not a directory/ },
);
function rec() {
  return (d: string) => ['record', '--root', path.join(d, 't'), '--out', path.join(d, 'out.yaml')];
}

const UM_DEV = 'P: /devices/pci0000:00/0000:00:03.0\nE: SUBSYSTEM=pci\nA: vendor=0x8086\\n\nA: device=0x1572\\n\nA: class=0x020000\\n\n';
const umockdevCases: CliCase[] = [
  ['does not start with P:', `E: SUBSYSTEM=pci\n${UM_DEV}`, /bad\.umockdev:1: device descriptions must start with a "P: \/devices\/path\/\.\.\." line/],
  ['P: not under /devices', 'P: /sys/devices/x\nE: SUBSYSTEM=pci\n', /bad\.umockdev:1: invalid device path '\/sys\/devices\/x': must start with \/devices\//],
  ['missing SUBSYSTEM', 'P: /devices/pci0000:00/0000:00:03.0\nA: vendor=0x8086\\n\n', /bad\.umockdev:1: missing SUBSYSTEM property in description of device/],
  ['duplicate SUBSYSTEM', 'P: /devices/pci0000:00/0000:00:03.0\nE: SUBSYSTEM=pci\nE: SUBSYSTEM=pci\n', /bad\.umockdev:3: duplicate SUBSYSTEM property/],
  ['odd hex digits', `${UM_DEV}H: config=868\n`, /bad\.umockdev:6: malformed hexadecimal value for config/],
  ['unknown line type', `${UM_DEV}Z: what\n`, /bad\.umockdev:6: unknown line type 'Z'/],
  ['attribute without =', `${UM_DEV}A: vendor\n`, /bad\.umockdev:6: malformed attribute line/],
  ['absolute link target', `${UM_DEV}L: driver=/sys/bus/pci/drivers/e1000\n`, /bad\.umockdev:6: link driver -> \/sys\/bus\/pci\/drivers\/e1000: absolute targets/],
  ['iommu_group link elsewhere', `${UM_DEV}L: iommu_group=../../../etc\n`, /bad\.umockdev:6: iommu_group -> \.\.\/\.\.\/\.\.\/etc: does not lead to \/sys\/kernel\/iommu_groups\/N/],
  ['path with ..', 'P: /devices/../etc\nE: SUBSYSTEM=pci\n', /bad\.umockdev:1: invalid device path '\/devices\/\.\.\/etc': \. and \.\. components/],
  ['attribute escaping the device', `${UM_DEV}A: ../../x=1\n`, /bad\.umockdev:6: attribute name '\.\.\/\.\.\/x' must be a relative path/],
  ['two P: in one paragraph', `${UM_DEV}P: /devices/pci0000:00/0000:00:04.0\n`, /bad\.umockdev:6: invalid P: line in description of device/],
  ['empty file', '', /bad\.umockdev: no device descriptions/],
  ['PCI name not a BDF', 'P: /devices/pci0000:00/eth0\nE: SUBSYSTEM=pci\n', /bad\.umockdev:1: PCI device \/devices\/pci0000:00\/eth0: name is not DDDD:BB:DD\.F/],
].map(([name, text, error]) => ({
  name: `umockdev: ${name as string}`,
  files: { 'bad.umockdev': text as string },
  argv: (d: string) => ['record', '--from-umockdev', path.join(d, 'bad.umockdev'), '--out', path.join(d, 'out.yaml')],
  error: error as RegExp,
}));

const fromUm = (d: string, file = 'bad.umockdev') => ['record', '--from-umockdev', path.join(d, file), '--out', path.join(d, 'out.yaml')];
umockdevCases.push(
  { name: 'umockdev: a FIFO (would block forever)', files: { 'fifo:bad.umockdev': '' }, argv: fromUm, error: /bad\.umockdev: is a FIFO, not a regular file; not read/ },
  { name: 'umockdev: /dev/zero (endless)', files: {}, argv: (d) => ['record', '--from-umockdev', '/dev/zero', '--out', path.join(d, 'out.yaml')], error: /\/dev\/zero: is a character device, not a regular file; not read/ },
  { name: 'umockdev: over a lowered file cap', files: { 'bad.umockdev': UM_DEV }, env: { IOMMU_EMU_MAX_UMOCKDEV_BYTES: '32' }, argv: fromUm, error: /bad\.umockdev: larger than 32 bytes \(\d+ bytes\), the \.umockdev file size limit; raise it with IOMMU_EMU_MAX_UMOCKDEV_BYTES=BYTES/ },
  { name: 'umockdev: a text attribute over the default 1 MiB cap', files: { 'bad.umockdev': `${UM_DEV}A: label=${'x'.repeat((1 << 20) + 1)}\n` }, argv: fromUm, error: /bad\.umockdev:6: attribute label: value larger than 1 MiB \(1048577 bytes\), the attribute size limit; raise it with IOMMU_EMU_MAX_ATTRIBUTE_BYTES=BYTES/ },
  { name: 'umockdev: 50 MB of escapes in one attribute (was 23 s)', files: { 'bad.umockdev': `${UM_DEV}A: label=${'\\101'.repeat(12_500_000)}\n` }, argv: fromUm, error: /bad\.umockdev:6: attribute label: value larger than 1 MiB, the attribute size limit/ },
  { name: 'umockdev: a hex attribute over a lowered cap', files: { 'bad.umockdev': `${UM_DEV}H: config=${'00'.repeat(65)}\n` }, env: { IOMMU_EMU_MAX_ATTRIBUTE_BYTES: '64' }, argv: fromUm, error: /bad\.umockdev:6: attribute config: value larger than 64 bytes \(65 bytes\), the attribute size limit; raise it with IOMMU_EMU_MAX_ATTRIBUTE_BYTES=BYTES/ },
);

/** Output targets that must not be replaced: each stays what it was. */
const outCases: CliCase[] = [];
const stillChar = (p: string) => (d: string) => (fs.statSync(path.resolve(d, p)).isCharacterDevice() ? undefined : `${p} is no longer a character device`);
const stillFifo = (p: string) => (d: string) => (fs.lstatSync(path.join(d, p)).isFIFO() ? undefined : `${p} is no longer a FIFO`);
for (const [how, argv] of [
  ['record --out', (d: string, target: string) => ['record', '--root', path.join(d, 't'), '--out', target]],
  ['export --format umockdev', (_d: string, target: string) => ['export', target, '--format', 'umockdev']],
] as const) {
  outCases.push(
    // A copy of /dev/null made in the case's directory, never the real one: a regression run as
    // root would replace the node it is given (it did to /dev/null before the fix).
    { name: `${how}: a device node`, files: { [TREE]: '', 'chr:out': '' }, argv: (d) => argv(d, path.join(d, 'out')), error: /out: is a character device, not a regular file; refusing to replace it/, after: stillChar('out') },
    { name: `${how}: a FIFO`, files: { [TREE]: '', 'fifo:out': '' }, argv: (d) => argv(d, path.join(d, 'out')), error: /out: is a FIFO, not a regular file; refusing to replace it/, after: stillFifo('out') },
    { name: `${how}: a directory`, files: { [TREE]: '', 'out/': '' }, argv: (d) => argv(d, path.join(d, 'out')), error: /out: is a directory, not a regular file; refusing to replace it/ },
    { name: `${how}: a link to /dev/null`, files: { [TREE]: '', 'out->': '/dev/null' }, argv: (d) => argv(d, path.join(d, 'out')), error: /out: links to \/dev\/null, which is a character device, not a regular file; refusing to replace it/, after: stillChar('/dev/null') },
    { name: `${how}: a dangling link`, files: { [TREE]: '', 'out->': 'nowhere/x' }, argv: (d) => argv(d, path.join(d, 'out')), error: /out: is a dangling symbolic link \(to nowhere\/x\); not written through/ },
  );
}

function materialize(dir: string, files: Record<string, string>): void {
  if (TREE in files) exportTree(createMachine('intel-vtd-server'), path.join(dir, 't'), { metadata: { kernel: '6.8', arch: 'x86_64' } });
  for (const [name, text] of Object.entries(files)) {
    if (name === TREE) continue;
    if (name.startsWith('rm:')) {
      fs.rmSync(path.join(dir, name.slice(3)), { force: true, recursive: true });
      continue;
    }
    if (name.startsWith('fifo:')) {
      fs.mkdirSync(path.dirname(path.join(dir, name.slice(5))), { recursive: true });
      const r = spawnSync('mkfifo', [path.join(dir, name.slice(5))]);
      if (r.status !== 0) throw new Error(`mkfifo failed: ${String(r.stderr)}`);
      continue;
    }
    if (name.startsWith('chr:')) {
      const r = spawnSync('mknod', [path.join(dir, name.slice(4)), 'c', '1', '3']);
      if (r.status !== 0) throw new Error(`mknod failed: ${String(r.stderr)}`);
      continue;
    }
    if (name.startsWith('big:')) {
      const fd = fs.openSync(path.join(dir, name.slice(4)), 'w');
      fs.ftruncateSync(fd, Number(text));
      fs.closeSync(fd);
      continue;
    }
    if (name.endsWith('->')) {
      fs.mkdirSync(path.dirname(path.join(dir, name.slice(0, -2))), { recursive: true });
      fs.symlinkSync(text, path.join(dir, name.slice(0, -2)));
      continue;
    }
    if (name.endsWith('/')) {
      fs.mkdirSync(path.join(dir, name), { recursive: true });
      continue;
    }
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.chmodSync(path.dirname(path.join(dir, name)), 0o755);
    fs.writeFileSync(path.join(dir, name), text);
  }
}

const cliCases = [...topologyCases, ...treeCases, ...umockdevCases, ...outCases];

const IS_ROOT = process.getuid?.() === 0;

for (const c of cliCases) {
  const needsRoot = Object.keys(c.files).some((f) => f.startsWith('chr:'));
  const reg = needsRoot && !IS_ROOT ? test.skip : test;
  reg(`bad input → clear error, exit 2, no output: ${c.name}${needsRoot && !IS_ROOT ? ' (skipped: making a device node needs root)' : ''}`, async (t) => {
    const dir = tempDir(t, 'iommu-emu-bad-');
    {
      materialize(dir, c.files);
      const before = fs.readdirSync(dir).sort();
      const devBefore = fs.readdirSync('/dev').sort();
      const io = bufferIO(c.env ?? {});
      const code = await main(c.argv(dir), io);
      t.is(code, c.code ?? 2, io.err());
      t.regex(`${io.err()}${io.out()}`, c.error);
      t.is(c.after?.(dir), undefined);
      t.deepEqual(fs.readdirSync('/dev').sort(), devBefore, 'nothing created in /dev');
      t.is(io.err().trim().split('\n').filter((l) => !/^iommu-emu: .*: (info|warning):|^ {2}/.test(l)).length >= 1, true);
      if ((c.code ?? 2) === 2) t.is(io.out(), '', 'nothing on stdout');
      t.deepEqual(fs.readdirSync(dir).sort(), before, 'no file, directory or temporary left behind');
    }
  });
}

interface HttpCase {
  readonly name: string;
  readonly method: string;
  readonly path: string;
  readonly body?: string;
  readonly headers?: Record<string, string>;
  readonly status: number;
  readonly code: string;
  readonly message: RegExp;
}

test('what stays allowed: links inside the tree, an output that is a link to a regular file', async (t) => {
  const dir = tempDir(t, 'iommu-emu-ok-');
  exportTree(createMachine('intel-vtd-server'), path.join(dir, 'real'), { metadata: { kernel: '6.8', arch: 'x86_64' } });
  fs.mkdirSync(path.join(dir, 't'));
  fs.renameSync(path.join(dir, 'real', 'sys'), path.join(dir, 't', 'sys.real'));
  fs.renameSync(path.join(dir, 'real', 'iommu-emu.json'), path.join(dir, 't', 'iommu-emu.json'));
  fs.symlinkSync('sys.real', path.join(dir, 't', 'sys'));
  fs.writeFileSync(path.join(dir, 'target.yaml'), 'old\n', { mode: 0o640 });
  fs.symlinkSync('target.yaml', path.join(dir, 'out.yaml'));
  const io = bufferIO();
  t.is(await main(['record', '--root', path.join(dir, 't'), '--out', path.join(dir, 'out.yaml')], io), 0, io.err());
  t.true(fs.lstatSync(path.join(dir, 'out.yaml')).isSymbolicLink(), 'the link is kept');
  t.regex(fs.readFileSync(path.join(dir, 'target.yaml'), 'utf8'), /^# Recorded by iommu-emu \S+ from /);
  t.is(fs.statSync(path.join(dir, 'target.yaml')).mode & 0o777, 0o640, 'the replaced file keeps its mode');
  const v = bufferIO();
  t.is(await main(['validate', path.join(dir, 't')], v), 0, v.out() + v.err());
});

const json = { 'Content-Type': 'application/json' };
const httpCases: HttpCase[] = [
  { name: 'unknown endpoint', method: 'GET', path: '/v2/hosts', status: 404, code: 'ENOENT', message: /no such endpoint \/v2\/hosts \(GET \/v1 lists them; the API is under \/v1\)/ },
  { name: 'method not allowed', method: 'DELETE', path: '/v1/hosts', status: 405, code: 'EOPNOTSUPP', message: /DELETE not allowed on \/v1\/hosts \(allowed: GET\)/ },
  { name: 'body not JSON', method: 'POST', path: '/v1/machines', body: '{host:', headers: json, status: 400, code: 'EINVAL', message: /body is not JSON/ },
  { name: 'wrong content type', method: 'POST', path: '/v1/machines', body: 'host=amd-epyc', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, status: 415, code: 'EINVAL', message: /Content-Type must be application\/json/ },
  { name: 'body over the limit', method: 'POST', path: '/v1/machines', body: JSON.stringify({ topology: { pad: 'x'.repeat(5000) } }), headers: json, status: 413, code: 'E2BIG', message: /exceeds the 4096-byte limit/ },
  { name: 'create with an unknown property', method: 'POST', path: '/v1/machines', body: '{"host":"amd-epyc","colour":"red"}', headers: json, status: 400, code: 'EINVAL', message: /body: must NOT have additional properties \(colour\)/ },
  { name: 'create with neither host nor topology', method: 'POST', path: '/v1/machines', body: '{"kernel":"6.8"}', headers: json, status: 400, code: 'EINVAL', message: /body: needs exactly one of host or topology/ },
  { name: 'create with a bad topology', method: 'POST', path: '/v1/machines', body: '{"topology":{"name":"t","kernel":"6.8","arch":"x86_64","iommus":[],"devices":[{"bdf":"nope"}]}}', headers: json, status: 400, code: 'EINVAL', message: /body\.topology: devices\[0\]\.bdf: must be a PCI address/ },
  { name: 'create with an unknown built-in', method: 'POST', path: '/v1/machines', body: '{"host":"cray-1"}', headers: json, status: 400, code: 'EINVAL', message: /no built-in host named "cray-1"/ },
  { name: 'create with a bad kernel', method: 'POST', path: '/v1/machines', body: '{"host":"amd-epyc","kernel":"banana"}', headers: json, status: 400, code: 'EINVAL', message: /body\.kernel: not a kernel version/ },
  { name: 'read without path', method: 'GET', path: '/v1/machines/default/file', status: 400, code: 'EINVAL', message: /path= must be an absolute path/ },
  { name: 'read a missing file', method: 'GET', path: '/v1/machines/default/file?path=/sys/nope', status: 404, code: 'ENOENT', message: /ENOENT/ },
  { name: 'write a read-only attribute', method: 'PUT', path: '/v1/machines/default/file', body: '{"path":"/sys/kernel/iommu_groups/0/reserved_regions","data":"x"}', headers: json, status: 403, code: 'EACCES', message: /EACCES/ },
  { name: 'write with a non-string data', method: 'PUT', path: '/v1/machines/default/file', body: '{"path":"/sys/x","data":5}', headers: json, status: 400, code: 'EINVAL', message: /body\.data: must be string/ },
  { name: 'unknown machine', method: 'GET', path: '/v1/machines/m999/groups', status: 404, code: 'ENOENT', message: /no machine "m999" \(have: default\)/ },
  { name: 'attach a group without /dev/vfio node', method: 'POST', path: '/v1/machines/default/vfio/containers/c1/groups', body: '{"group":0}', headers: json, status: 404, code: 'ENOENT', message: /open \/dev\/vfio\/0/ },
  { name: 'map with a u64 that is not a number', method: 'POST', path: '/v1/machines/default/vfio/containers/c1/map', body: '{"iova":"0xzz","size":"0x1000"}', headers: json, status: 400, code: 'EINVAL', message: /body\.iova: must be a u64: a "0x…" hex or decimal string, or a JSON number/ },
  { name: 'unmap with neither range nor all', method: 'POST', path: '/v1/machines/default/vfio/containers/c1/unmap', body: '{}', headers: json, status: 400, code: 'EINVAL', message: /body: needs exactly one of iova\+size or all/ },
  { name: 'unknown container', method: 'GET', path: '/v1/machines/default/vfio/containers/c77', status: 404, code: 'ENOENT', message: /no container "c77"/ },
  { name: 'create with a driver named ".."', method: 'POST', path: '/v1/machines', body: '{"topology":{"name":"t","kernel":"6.8","arch":"x86_64","iommus":[{"driver":"intel-iommu"}],"devices":[{"bdf":"0000:00:03.0","vendor":1,"device":2,"class":131072,"driver":".."}]}}', headers: json, status: 400, code: 'EINVAL', message: /body\.topology: devices\[0\]\.driver: "\.\." cannot name a sysfs entry/ },
];

test('bad HTTP requests → a 4xx with {error: {code, errno, message}}, and nothing created', async (t) => {
  const agent = new Agent({ defaultHost: loadBuiltinHost('intel-vtd-server'), maxBody: 4096 });
  const url = await agent.listen(0, '127.0.0.1');
  try {
    const open = await fetch(`${url}/v1/machines/default/vfio/containers`, { method: 'POST', headers: json, body: '{}' });
    t.is(open.status, 201);
    for (const c of httpCases) {
      const res = await fetch(`${url}${c.path}`, { method: c.method, headers: c.headers, body: c.body });
      const body = (await res.json()) as { error: { code: string; errno: number; message: string } };
      t.is(res.status, c.status, c.name);
      t.is(body.error.code, c.code, c.name);
      t.is(typeof body.error.errno, 'number', c.name);
      t.regex(body.error.message, c.message, c.name);
      t.is(agent.machineCount, 1, `${c.name}: no machine created`);
    }
    const tokened = new Agent({ token: 't' });
    const turl = await tokened.listen(0, '127.0.0.1');
    const res = await fetch(`${turl}/v1/hosts`);
    t.is(res.status, 401);
    t.deepEqual(((await res.json()) as { error: { code: string } }).error.code, 'EACCES');
    await tokened.close();
  } finally {
    await agent.close();
  }
  t.true(cliCases.length + httpCases.length + 1 >= 30, `${cliCases.length + httpCases.length + 1} broken inputs`);
});
