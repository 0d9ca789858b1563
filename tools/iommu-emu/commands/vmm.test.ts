// SPDX-License-Identifier: GPL-2.0-only
/** The VMM commands as a user runs them: exit codes, text a person reads, --json against its schema. */
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Agent, VMM_CLI_SCHEMAS, loadBuiltinHost, vmmSchemaAjv } from '../../../lib/index';
import { bufferIO } from '../io';
import { main } from '../main';

const run = async (...argv: string[]) => {
  const io = bufferIO();
  const code = await main(argv, io);
  return { code, out: io.out(), err: io.err() };
};
const ajv = vmmSchemaAjv();
const valid = (cmd: string, out: string) => {
  const f = ajv.getSchema(VMM_CLI_SCHEMAS[cmd]!.$id!)!;
  return f(JSON.parse(out)) ? '' : ajv.errorsText(f.errors);
};

test('every VMM command with --json matches its schema', async (t) => {
  const cases: [string, string[], number][] = [
    ['usable', ['usable', '--json'], 0],
    ['usable', ['usable', '--json', '--host', 'amd-epyc', '--group', '3', '4'], 0],
    ['usable', ['usable', '--json', '--host', 'arm64-smmuv3', '--kernel', '4.10'], 0],
    ['check-guest', ['check-guest', '--json', '--host', 'amd-epyc', '--guest', 'x86-1t', '--group', '4'], 1],
    ['check-guest', ['check-guest', '--json', '--host', 'arm64-smmuv3', '--guest', 'virt:8G'], 0],
    ['plan', ['plan', '--json', '--hosts', 'arm64-smmuv3', 'arm64-msi-bypass', '--ram', '16G', '4G'], 1],
    ['plan', ['plan', '--json', '--hosts', 'amd-epyc', '--ram', '2T', '--vmm', 'x86-1t'], 0],
    ['msi-place', ['msi-place', '--json', '--host', 'arm64-msi-bypass'], 0],
    ['msi-place', ['msi-place', '--json', '--host', 'intel-vtd-server', '--doorbells', '4', '--page-size', '64K'], 0],
  ];
  for (const [cmd, argv, code] of cases) {
    const r = await run(...argv);
    t.is(r.code, code, `${argv.join(' ')}: ${r.err}`);
    t.is(valid(cmd, r.out), '', argv.join(' '));
  }
});

test('check-guest exits 1 and names group, region, type and consequence; 0 when the layout is safe', async (t) => {
  const bad = await run('check-guest', '--host', 'amd-epyc', '--guest', 'q35:2T,machine=7.0', '--group', '4');
  t.is(bad.code, 1);
  t.regex(bad.out, /CONFLICT group 4: guest ram-above-4g 0xfd00000000\.\.0xffffffffff meets reserved 0xfd00000000\.\.0xffffffffff/);
  t.regex(bad.out, /HyperTransport/);
  t.regex(bad.out, /refuse the hot-plug: 1 conflict/);
  const good = await run('check-guest', '--host', 'amd-epyc', '--guest', 'q35:2T', '--group', '4');
  t.is(good.code, 0, good.out);
  t.regex(good.out, /AMD vCPU, machine latest \(enforce_amd_1tb_hole\).*1 TiB/);
});

test('bad input: an unknown preset option, a bad guest file, an unknown group are one clear line each, exit 2', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iommu-emu-vmmcli-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const f = path.join(dir, 'vm.yaml');
  fs.writeFileSync(f, 'regions:\n  - { name: ram, kind: ram, start: 0 }\n');
  for (const [argv, re] of [
    [['check-guest', '--guest', 'q35:16G,frob=1'], /--guest: q35: unknown option "frob=1"/],
    [['check-guest', '--guest', f], /vm\.yaml: \/regions\/0: give exactly one of "size" and "end"/],
    [['check-guest', '--guest', 'q35', '--group', '99'], /--group 99: host intel-vtd-server has no IOMMU group 99/],
    [['check-guest'], /--guest FILE\|PRESET is required/],
    [['plan'], /plan needs --hosts/],
    [['plan', '--hosts', 'intel-vtd-server', 'arm64-smmuv3'], /different architectures/],
    [['plan', '--hosts', 'amd-epyc', '--ram', '3'], /--ram: not a RAM size/],
    [['msi-place', '--page-size', '3K'], /--page-size must be a power of two/],
    [['map', '--svg', 'a', '--html', 'b'], /not both/],
  ] as const) {
    const r = await run(...argv);
    t.is(r.code, 2, `${argv.join(' ')}: ${r.out}`);
    t.regex(r.err, re);
  }
});

test('usable, check-guest and plan give the same answer from an agent as from the emulated host', async (t) => {
  const agent = new Agent({ defaultHost: loadBuiltinHost('arm64-msi-bypass') });
  const url = await agent.listen(0, '127.0.0.1');
  t.teardown(() => agent.close());
  const local = JSON.parse((await run('usable', '--json', '--host', 'arm64-msi-bypass')).out);
  const remote = JSON.parse((await run('usable', '--json', '--agent', url)).out);
  t.deepEqual(remote.usable_ranges, local.usable_ranges);
  t.deepEqual(remote.groups.map((g: { usable_ranges: unknown }) => g.usable_ranges), local.groups.map((g: { usable_ranges: unknown }) => g.usable_ranges));
  const viaAgent = await run('plan', '--json', '--agents', url, '--hosts', 'arm64-smmuv3', '--ram', '16G');
  t.is(viaAgent.code, 1);
  const p = JSON.parse(viaAgent.out);
  t.is(p.layouts[0].conventional_conflicts[0].blocker.hosts[0].name, 'arm64-msi-bypass');
});

test('map draws SVG with every band, the guest and conflicts; --html wraps it', async (t) => {
  const r = await run('map', '--host', 'amd-epyc', '--guest', 'x86-1t', '--group', '4');
  t.is(r.code, 0, r.err);
  t.regex(r.out, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  t.regex(r.out, /data-kind="reserved" data-start="0xfd00000000" data-last="0xffffffffff"/);
  t.regex(r.out, /data-kind="msi" data-start="0xfee00000" data-last="0xfeefffff"/);
  t.regex(r.out, /data-kind="conflict" data-start="0xfd00000000"/);
  t.regex(r.out, /data-kind="ram" data-start="0x100000000"/);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iommu-emu-map-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const html = path.join(dir, 'm.html');
  t.is((await run('map', '--host', 'amd-epyc', '--guest', 'x86-1t', '--html', html)).code, 0);
  const text = fs.readFileSync(html, 'utf8');
  t.regex(text, /^<!DOCTYPE html>/);
  t.regex(text, /<li>group 4: ram-above-4g 0xfd00000000\.\.0xffffffffff: DMA to these addresses/);
  const svg = path.join(dir, 'plan.svg');
  t.is((await run('plan', '--hosts', 'arm64-smmuv3', 'arm64-msi-bypass', '--svg', svg)).code, 1);
  t.regex(fs.readFileSync(svg, 'utf8'), /data-row="host" data-label="arm64-msi-bypass"/);
});
