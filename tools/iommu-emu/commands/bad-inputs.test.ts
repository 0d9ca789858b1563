// SPDX-License-Identifier: GPL-2.0-only
/**
 * The bad-input corpus: broken topology files, recorded trees, .umockdev files and HTTP
 * requests. Each is answered with one clear error naming what and where, a non-zero exit (CLI)
 * or a 4xx with an errno (HTTP), and no partial output: no file, no directory, no temporary.
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Agent, createMachine, exportTree, loadBuiltinHost } from '../../../lib/index';
import { main } from '../main';
import { bufferIO } from '../io';

const GOOD_DEV = '{ bdf: "0000:00:03.0", vendor: 0x8086, device: 0x1572, class: 0x020000 }';
const topo = (devices: string, extra = '', iommus = '[ { driver: intel-iommu } ]') => `name: t\nkernel: "6.8"\narch: x86_64\niommus: ${iommus}\ndevices:\n${devices}\n${extra}`;

interface CliCase {
  readonly name: string;
  /** Files in the case's directory (a trailing "/" makes a directory; "->" a link). */
  readonly files: Record<string, string>;
  readonly argv: (dir: string) => string[];
  readonly error: RegExp;
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

function materialize(dir: string, files: Record<string, string>): void {
  if (TREE in files) exportTree(createMachine('intel-vtd-server'), path.join(dir, 't'), { metadata: { kernel: '6.8', arch: 'x86_64' } });
  for (const [name, text] of Object.entries(files)) {
    if (name === TREE) continue;
    if (name.startsWith('rm:')) {
      fs.rmSync(path.join(dir, name.slice(3)), { force: true });
      continue;
    }
    if (name.endsWith('->')) {
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

const cliCases = [...topologyCases, ...treeCases, ...umockdevCases];

for (const c of cliCases) {
  test(`bad input → clear error, non-zero exit, no output: ${c.name}`, async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iommu-emu-bad-'));
    try {
      materialize(dir, c.files);
      const before = fs.readdirSync(dir).sort();
      const io = bufferIO();
      const code = await main(c.argv(dir), io);
      t.not(code, 0);
      t.regex(io.err(), c.error);
      t.is(io.err().trim().split('\n').filter((l) => !/^iommu-emu: .*: (info|warning):|^ {2}/.test(l)).length >= 1, true);
      t.is(io.out(), '', 'nothing on stdout');
      t.deepEqual(fs.readdirSync(dir).sort(), before, 'no file, directory or temporary left behind');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
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

const json = { 'Content-Type': 'application/json' };
const httpCases: HttpCase[] = [
  { name: 'unknown endpoint', method: 'GET', path: '/v2/hosts', status: 404, code: 'ENOENT', message: /no such endpoint \/v2\/hosts \(the API is under \/v1\)/ },
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
  { name: 'map with a u64 that is not a number', method: 'POST', path: '/v1/machines/default/vfio/containers/c1/map', body: '{"iova":"0xzz","size":"0x1000"}', headers: json, status: 400, code: 'EINVAL', message: /body\.iova: must match pattern/ },
  { name: 'unmap with neither range nor all', method: 'POST', path: '/v1/machines/default/vfio/containers/c1/unmap', body: '{}', headers: json, status: 400, code: 'EINVAL', message: /body: needs exactly one of iova\+size or all/ },
  { name: 'unknown container', method: 'GET', path: '/v1/machines/default/vfio/containers/c77', status: 404, code: 'ENOENT', message: /no container "c77"/ },
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
