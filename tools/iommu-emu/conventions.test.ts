// SPDX-License-Identifier: GPL-2.0-only
/**
 * CLI conventions a user relies on: --version, per-command help with every option described,
 * --json output that matches its JSON Schema (one vocabulary across commands and the agent),
 * "not on kernel X (since Y)" where a kernel lacks something, a quiet end on a closed pipe.
 */
import test from 'ava';
import Ajv from 'ajv';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Agent, CLI_SCHEMAS, COMMON_SCHEMA, RESV_TYPE_STRING, VMM_CLI_SCHEMAS, loadBuiltinHost, schemaAjv, topologyFromJSON, vmmSchemaAjv } from '../../lib/index';
import topologySchema from '../../lib/topology/schema.json';
import { tempDir } from '../../lib/testing/tmp';
import { COMMANDS } from './commands';
import { bufferIO } from './io';
import { main } from './main';

const run = async (...argv: string[]) => {
  const io = bufferIO();
  const code = await main(argv, io);
  return { code, out: io.out(), err: io.err() };
};

const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };

test('--version and -V print the package version', async (t) => {
  for (const f of ['--version', '-V']) {
    const r = await run(f);
    t.is(r.code, 0);
    t.is(r.out, `${pkg.version}\n`);
  }
});

for (const name of Object.keys(COMMANDS)) {
  test(`help ${name} and ${name} --help print its usage and describe every option`, async (t) => {
    const a = await run('help', name);
    const b = await run(name, '--help');
    t.is(a.code, 0);
    t.is(b.code, 0);
    t.is(a.out, b.out);
    t.regex(a.out, new RegExp(`^usage: iommu-emu ${name}\\b`));
    for (const [opt, o] of Object.entries(COMMANDS[name]!.options)) {
      const line = a.out.split('\n').find((l) => new RegExp(`^  (-\\w, )?\\s*--${opt}\\b`).test(l));
      t.truthy(line, `--${opt} has a line in help ${name}`);
      t.true(line!.replace(/^\s*(-\w, )?\s*--\S+( \S+)?\s+/, '').length >= 10, `--${opt} is described: ${line}`);
      t.true(o.description.length >= 10);
    }
  });
}

test('help with an unknown command, or two, is a usage error', async (t) => {
  const r = await run('help', 'frob');
  t.is(r.code, 2);
  t.regex(r.err, /unknown command "frob" \(commands: show, /);
  t.is((await run('help', 'show', 'cat')).code, 2);
});

test('--token on the command line is refused with where to put it instead', async (t) => {
  const r = await run('show', '--agent', 'http://127.0.0.1:1', '--token', 'x');
  t.is(r.code, 2);
  t.regex(r.err, /visible to every user.*--token-file FILE or IOMMU_EMU_AGENT_TOKEN/);
  t.is((await run('serve', '--token=x')).code, 2);
});

const ajv = schemaAjv();
const validateVmm = (id: string, v: unknown) => {
  const f = vmmSchemaAjv().getSchema(id)!;
  return f(v) ? '' : vmmSchemaAjv().errorsText(f.errors);
};
const validate = (id: string, v: unknown) => {
  const f = ajv.getSchema(id)!;
  return f(v) ? '' : ajv.errorsText(f.errors);
};
/** The topology schema is draft-07 (the format of topology files). */
const validTopology = (v: unknown) => {
  // maxU64 (a numeric string fits in 64 bits) is the library's own keyword; topologyFromJSON checks it.
  const a = new Ajv({ strict: true, allowUnionTypes: true }).addKeyword({ keyword: 'maxU64', type: 'string', schemaType: 'boolean' });
  const f = a.compile(topologySchema);
  return f(v) ? '' : a.errorsText(f.errors);
};

test('every command that prints data has --json, and its output matches the schema in lib/schemas/cli', async (t) => {
  const dir = tempDir(t, 'iommu-emu-json-');
  // Platform devices in a group (bus platform, no vendor/device/class).
  fs.writeFileSync(path.join(dir, 'platform.yaml'), [
    'name: amd-acpi', 'kernel: "6.8"', 'arch: x86_64', 'iommus: [{ driver: amd-iommu }]', 'devices: []',
    'platformDevices:', '  - { name: "AMDI0040:00", hid: AMDI0040, driver: sdhci-acpi, description: eMMC controller }', '',
  ].join('\n'));
  const cases: [string, string[]][] = [
    ['hosts', ['hosts', '--json']],
    ['show', ['show', '--json']],
    ['show', ['show', '--json', '--host', 'arm64-msi-bypass', '--kernel', '4.10']],
    ['show', ['show', '--json', '--host', 'amd-epyc', '--kernel', '2.6']],
    ['show', ['show', '--json', '--explain', '--host', 'arm64-msi-bypass', '--kernel', '5.15']],
    ['show', ['show', '--json', '--host', path.join(dir, 'platform.yaml')]],
    ['cat', ['cat', '--json', '/sys/kernel/iommu_groups/2/reserved_regions']],
    ['cat', ['cat', '--json', '/sys/bus/pci/devices/0000:00:02.0/config']],
    ['cat', ['cat', '--json', '/sys/kernel/iommu_groups/2']],
    ['cat', ['cat', '--json', '/sys/bus/pci/devices/0000:00:02.0']],
    ['vfio-info', ['vfio-info', '--json', '--group', '7']],
    ['vfio-info', ['vfio-info', '--json', '--group', '7', '--kernel', '5.3', '--type1']],
    ['vfio-info', ['vfio-info', '--json', '--group', '7', '--iommufd']],
    ['validate', ['validate', '--json']],
    ['export', ['export', '--json', path.join(dir, 'tree')]],
    ['export', ['export', '--json', '--format', 'umockdev', path.join(dir, 'x.umockdev')]],
    // The VMM tools (issue 13): their schemas are lib/vmm/schemas/ (draft 2020-12, beside the guest map's).
    ['usable', ['usable', '--json', '--host', 'amd-epyc']],
    ['check-guest', ['check-guest', '--json', '--host', 'amd-epyc', '--guest', 'q35:2T,machine=7.0', '--group', '4']],
    ['plan', ['plan', '--json', '--hosts', 'arm64-smmuv3', 'arm64-msi-bypass', '--ram', '16G']],
    ['msi-place', ['msi-place', '--json', '--host', 'arm64-msi-bypass']],
    ['diff-abi', ['diff-abi', '--json', '--plugin', path.join(__dirname, '..', '..', 'plugins', 'usable_regions.ts')]],
  ];
  const covered = new Set<string>();
  for (const [name, argv] of cases) {
    const r = await run(...argv);
    // check-guest exits 1 on a conflict, plan when no layout is safe everywhere; the JSON is printed all the same.
    t.is(r.code, name === 'check-guest' || name === 'plan' ? 1 : 0, `${argv.join(' ')}: ${r.err}`);
    t.is(CLI_SCHEMAS[name] ? validate(CLI_SCHEMAS[name]!.$id!, JSON.parse(r.out)) : validateVmm(VMM_CLI_SCHEMAS[name]!.$id!, JSON.parse(r.out)), '', argv.join(' '));
    covered.add(name);
  }
  const rec = await run('record', '--root', path.join(dir, 'tree'), '--json');
  t.is(rec.code, 0, rec.err);
  t.is(validTopology(JSON.parse(rec.out)), '', 'record --json writes a topology');
  t.notThrows(() => topologyFromJSON(JSON.parse(rec.out), 'record --json'), 'and one the library loads');
  // Every command with a --json option is covered above and has a schema.
  for (const [name, c] of Object.entries(COMMANDS)) {
    if (!('json' in c.options)) continue;
    if (name === 'record') continue;
    t.true(covered.has(name), `${name} --json is checked against a schema`);
  }
  t.deepEqual(Object.keys(COMMANDS).filter((n) => !('json' in COMMANDS[n]!.options)).sort(), ['irq', 'map', 'mount', 'run', 'serve'], 'only irq, map (a picture: --svg, --html), mount, run and serve print no JSON');
});

test('show --json: every reserved line has its sources, ignored entries their row and evidence, platform devices their bus', async (t) => {
  const j = JSON.parse((await run('show', '--json', '--host', 'arm64-msi-bypass', '--kernel', '5.15')).out);
  for (const g of j.groups) for (const x of g.reserved_regions) t.true(x.source.length > 0 && !x.source[0].startsWith('(unexplained'), `group ${g.id} ${x.start}`);
  t.like(j.ignored[0], { entry: 'firmware.iortRmr[0]', row: 'iort_rmr' });
  t.regex(j.ignored[0].evidence, /iort_get_rmrs/);
  for (const g of j.groups) for (const d of g.devices) t.is(d.bus, 'pci');
});

test('the schema names the reserved_regions types the kernel prints, no more, no fewer', (t) => {
  const defs = COMMON_SCHEMA.$defs as Record<string, { properties: Record<string, { enum?: string[] }> }>;
  t.deepEqual(new Set(defs.reserved_region!.properties.type!.enum), new Set(Object.values(RESV_TYPE_STRING)));
});

test('the same thing has the same shape: show --json equals show --agent --json, and groups equal the agent\'s', async (t) => {
  const agent = new Agent({ defaultHost: loadBuiltinHost('amd-epyc') });
  const url = await agent.listen(0, '127.0.0.1');
  try {
    const local = JSON.parse((await run('show', '--json', '--host', 'amd-epyc')).out);
    const remote = JSON.parse((await run('show', '--json', '--agent', url)).out);
    t.is(remote.machine, 'default');
    delete remote.machine;
    t.deepEqual(remote, local);
    const res = await fetch(`${url}/v1/machines/default/groups`);
    t.deepEqual(((await res.json()) as { groups: unknown }).groups, local.groups);
    const info = JSON.parse((await run('vfio-info', '--json', '--group', '4', '--host', 'amd-epyc')).out);
    t.truthy(info.iommu.iova_ranges.length);
    t.deepEqual(info.iommu.iova_ranges, local.groups.find((g: { id: number }) => g.id === 4).usable_ranges, 'VFIO reports the usable ranges show computes');
  } finally {
    await agent.close();
  }
});

const kernelCases: [string[], RegExp, number][] = [
  [['vfio-info', '--group', '7', '--kernel', '2.6'], /^iommu-emu: VFIO is not on kernel 2\.6 \(since 3\.6\); pass --kernel 3\.6 or later\n$/, 2],
  [['show', '--kernel', '3.5'], /^vfio: not on kernel 3\.5 \(since 3\.6\)$/m, 0],
  [['show', '--kernel', '4.10'], /^ {2}reserved_regions: not on kernel 4\.10 \(since 4\.11\)$/m, 0],
  [['show', '--kernel', '4.18'], /^group 2 {2}type: not on kernel 4\.18 \(since 4\.19\)$/m, 0],
  [['vfio-info', '--group', '7', '--kernel', '5.3'], /^ {2}usable IOVA ranges: not on kernel 5\.3 \(since 5\.4\)$/m, 0],
  [['vfio-info', '--group', '7', '--kernel', '5.9'], /^ {2}dma_avail {5}not on kernel 5\.9 \(since 5\.10\)$/m, 0],
];
for (const [argv, msg, code] of kernelCases) {
  test(`a kernel without it says so: iommu-emu ${argv.join(' ')}`, async (t) => {
    const r = await run(...argv);
    t.is(r.code, code, r.err);
    t.regex(code ? r.err : r.out, msg);
    if (!code) t.notRegex(r.out, /\(empty\)|\(0\)/);
  });
}

test('a closed pipe ends the CLI quietly (no stack trace): export --format umockdev - | head -1', (t) => {
  // Far more than a pipe buffer holds (64 KiB), so the writer meets the closed pipe.
  const dir = tempDir(t, 'iommu-emu-pipe-');
  const devices = Array.from({ length: 48 }, (_, i) => ({ bdf: `0000:${(i + 1).toString(16).padStart(2, '0')}:00.0`, vendor: '0x8086', device: '0x1572', class: '0x020000', driver: 'i40e' }));
  fs.writeFileSync(path.join(dir, 'big.json'), JSON.stringify({ name: 'big', kernel: '6.8', arch: 'x86_64', iommus: [{ driver: 'intel-iommu' }], devices }));
  const bin = path.join(__dirname, 'bin.ts');
  const r = spawnSync('sh', ['-c', `"${process.execPath}" -r ts-node/register/transpile-only "${bin}" export --format umockdev - --host "${dir}/big.json" 2>"${dir}/err" | head -1; echo "status $?"`], {
    encoding: 'utf8',
    cwd: path.join(__dirname, '..', '..'),
    timeout: 60_000,
  });
  t.regex(r.stdout, /^P: \/devices\/.*\nstatus 0\n$/);
  const err = fs.readFileSync(path.join(dir, 'err'), 'utf8');
  t.notRegex(err, /EPIPE|Error:|\n\s+at /, err);
});

test('long work shows progress on stderr when it is a terminal, and nothing when it is not', async (t) => {
  const dir = tempDir(t, 'iommu-emu-progress-');
  t.is((await run('export', path.join(dir, 'tree'))).code, 0);
  const quiet = bufferIO({}, process.cwd(), false);
  t.is(await main(['record', '--root', path.join(dir, 'tree'), '--out', path.join(dir, 'a.yaml')], quiet), 0, quiet.err());
  t.notRegex(quiet.err(), /…/);
  const tty = bufferIO({}, process.cwd(), true);
  t.is(await main(['record', '--root', path.join(dir, 'tree'), '--out', path.join(dir, 'b.yaml')], tty), 0, tty.err());
  t.regex(tty.err(), /^iommu-emu: record: reading \d+ PCI devices…\niommu-emu: record: replaying the topology \(\d+ devices\)…\niommu-emu: record: comparing the replay with the tree…\n/);
  t.is(fs.readFileSync(path.join(dir, 'a.yaml'), 'utf8'), fs.readFileSync(path.join(dir, 'b.yaml'), 'utf8'), 'the output is the same');
});

test('record headers say where things came from in words, nothing internal', async (t) => {
  const dir = tempDir(t, 'iommu-emu-header-');
  t.is((await run('export', path.join(dir, 'tree'), '--kernel', '5.15')).code, 0);
  const cases: [string[], RegExp][] = [
    [[], /^# Kernel 5\.15: as the export says\.$/m],
    [['--kernel', '6.1'], /^# Kernel 6\.1: given with --kernel\.$/m],
  ];
  for (const [extra, want] of cases) {
    const r = await run('record', '--root', path.join(dir, 'tree'), ...extra);
    t.is(r.code, 0, r.err);
    const header = r.out.split('\n').filter((l) => l.startsWith('#')).join('\n');
    t.regex(header, /^# Recorded by iommu-emu \S+ from /);
    t.regex(header, want);
    t.notRegex(header, /\b(option|metadata|inferred)\)/);
  }
});
