// SPDX-License-Identifier: GPL-2.0-only
import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../../lib/testing/tmp';
import { bufferIO } from './io';
import { main } from './main';

const run = async (...argv: string[]) => {
  const io = bufferIO();
  const code = await main(argv, io);
  return { code, out: io.out(), err: io.err(), bytes: io.outBytes() };
};

test('show on the default host needs no arguments and lists groups with their regions', async (t) => {
  const r = await run('show');
  t.is(r.code, 0);
  t.regex(r.out, /^host intel-vtd-server {2}kernel 6\.8/);
  t.regex(r.out, /group 2 {2}type DMA-FQ\n {2}0000:00:02\.0 {2}8086:3e96 {2}class 030000 {2}driver i915/);
  t.regex(r.out, / {2}reserved 0x000000007b800000 0x000000007fffffff direct-relaxable\n/);
});

test('show --json is the same data, machine-readable', async (t) => {
  const r = await run('show', '--host', 'arm64-msi-bypass', '--json');
  t.is(r.code, 0);
  const j = JSON.parse(r.out);
  t.is(j.host, 'arm64-msi-bypass');
  const g = j.groups.find((x: { devices: { bdf: string }[] }) => x.devices.some((d) => d.bdf === '0000:02:00.0'));
  t.deepEqual(g.reserved_regions.map((x: { type: string }) => x.type), ['msi', 'direct-relaxable', 'msi']);
  t.true(g.vfio === null || /^\/dev\/vfio\/\d+$/.test(g.vfio));
});

for (const host of ['intel-vtd-server', 'amd-epyc', 'arm64-smmuv3', 'arm64-msi-bypass', 'virtio-iommu-guest']) {
  test(`show --explain on ${host}: every reserved line is followed by its sources; --json has them as source`, async (t) => {
    const r = await run('show', '--host', host, '--explain');
    t.is(r.code, 0);
    const lines = r.out.split('\n');
    const reserved = lines.flatMap((l, i) => (l.startsWith('  reserved 0x') ? [i] : []));
    t.true(reserved.length > 0);
    for (const i of reserved) t.regex(lines[i + 1]!, /^ {11}(<- \d{4}:\S+: \w+: |merged from \d+ regions:)/, lines[i]);
    const j = JSON.parse((await run('show', '--host', host, '--json')).out);
    for (const g of j.groups) for (const x of g.reserved_regions) t.true(x.source.length > 0 && !x.source[0].startsWith('(unexplained'), `${host} ${x.start}`);
  });
}

test('show names the firmware entries the chosen kernel ignores, with the profile row (text and --json)', async (t) => {
  const r = await run('show', '--host', 'arm64-msi-bypass', '--kernel', '5.15');
  t.regex(r.out, /not reported by kernel 5\.15:\n {2}firmware\.iortRmr\[0\]: not read by 5\.15: profile row iort_rmr .* is from 6\.0/);
  const j = JSON.parse((await run('show', '--host', 'arm64-msi-bypass', '--kernel', '5.15', '--json')).out);
  t.like(j.ignored[0], { entry: 'firmware.iortRmr[0]', row: 'iort_rmr' });
  t.regex(j.ignored[0].evidence, /iort_get_rmrs/);
});

test('show lists platform devices in their groups (text and --json)', async (t) => {
  const dir = tempDir(t, 'iommu-emu-show-');
  const file = path.join(dir, 'amd.yaml');
  fs.writeFileSync(file, [
    'name: amd-acpi', 'kernel: "6.8"', 'arch: x86_64', 'iommus: [{ driver: amd-iommu }]', 'devices: []',
    'platformDevices:', '  - { name: "AMDI0040:00", hid: AMDI0040, driver: sdhci-acpi, description: eMMC controller }', '',
  ].join('\n'));
  const r = await run('show', '--host', file);
  t.regex(r.out, /group 0 .*\n {2}AMDI0040:00 {2}platform device {2}driver sdhci-acpi +eMMC controller\n {2}reserved 0x00000000fee00000/);
  const j = JSON.parse((await run('show', '--host', file, '--json')).out);
  t.like(j.groups[0].devices[0], { bdf: 'AMDI0040:00', bus: 'platform', driver: 'sdhci-acpi', iommu: 'ivhd0' });
});

test('show --kernel runs the host under another kernel profile', async (t) => {
  const r = await run('show', '--host', 'intel-vtd-server', '--kernel', '5.3', '--json');
  const j = JSON.parse(r.out);
  t.is(j.kernel, '5.3');
  const lpc = j.groups.find((x: { devices: { bdf: string }[] }) => x.devices.some((d) => d.bdf === '0000:00:1f.0'));
  t.is(lpc.reserved_regions[0].type, 'direct');
  t.is(lpc.type, 'DMA');
});

test('cat prints one emulated file byte for byte', async (t) => {
  const r = await run('cat', '/sys/kernel/iommu_groups/0/reserved_regions', '--host', 'amd-epyc');
  t.is(r.code, 0);
  t.is(r.out, '0x00000000fee00000 0x00000000feefffff msi\n0x000000fd00000000 0x000000ffffffffff reserved\n');
  const cfg = await run('cat', '/sys/bus/pci/devices/0000:00:02.0/config');
  t.is(cfg.bytes.length, 4096);
});

test('hosts lists the built-in hosts and marks the default', async (t) => {
  const r = await run('hosts');
  t.regex(r.out, /^intel-vtd-server\*/m);
  const j = JSON.parse((await run('hosts', '--json')).out).hosts;
  t.true(j.length >= 5);
  t.true(j.every((h: { file: string }) => fs.existsSync(h.file)));
});

test('export writes a tree; a second export into it is refused', async (t) => {
  const dir = path.join(tempDir(t, 'iommu-emu-cli-'), 'x');
  t.is((await run('export', dir, '--host', 'virtio-iommu-guest')).code, 0);
  t.true(fs.existsSync(path.join(dir, 'sys/kernel/iommu_groups/0/reserved_regions')));
  const again = await run('export', dir);
  t.is(again.code, 2);
  t.regex(again.err, /^iommu-emu: .*not empty/);
});

const bad: [string[], RegExp][] = [
  [['frobnicate'], /unknown command "frobnicate"/],
  [['show', '--bogus'], /Unknown option '--bogus'/],
  [['show', '--host', 'nope'], /no built-in host named "nope"/],
  [['show', '--host', '/no/such/file.yaml'], /\/no\/such\/file\.yaml: \(document\): cannot read: ENOENT/],
  [['show', '--kernel', 'banana'], /not a kernel version: "banana"/],
  [['cat'], /exactly one PATH/],
  [['cat', 'relative/path'], /must be absolute/],
  [['cat', '/sys/kernel/iommu_groups/99/type'], /ENOENT: no such file or directory, open '\/sys\/kernel\/iommu_groups\/99\/type'/],
  [['export'], /exactly one DIR/],
];
for (const [argv, msg] of bad) {
  test(`bad input: iommu-emu ${argv.join(' ')} → one clear line, exit 2`, async (t) => {
    const r = await run(...argv);
    t.is(r.code, 2);
    t.regex(r.err, msg);
    t.is(r.out, '');
  });
}

test('a bad topology file reports every problem with its path', async (t) => {
  const f = path.join(tempDir(t, 'iommu-emu-cli-'), 'h.yaml');
  fs.writeFileSync(f, 'name: h\nkernel: "6.8"\narch: x86_64\niommus: [{ driver: intel }]\ndevices:\n  - { bdf: "0000:00:03.0", vendor: 0x8086, device: 0x1572, class: 0x020000, parent: "0000:00:01.0" }\n');
  const r = await run('show', '--host', f);
  t.is(r.code, 2);
  t.regex(r.err, new RegExp(`${f}: iommus\\[0\\]\\.driver: must be one of`));
  t.is(r.out, '');
});

test('--help lists every command', async (t) => {
  const r = await run('--help');
  t.is(r.code, 0);
  for (const c of ['show', 'cat', 'export', 'hosts', 'record', 'serve', 'validate', 'vfio-info', 'run']) t.regex(r.out, new RegExp(`^  ${c}\\b`, 'm'));
  t.is((await run()).code, 2);
});

test('vfio-info prints the usable IOVA ranges VFIO reports after attaching a group', async (t) => {
  const r = await run('vfio-info', '--group', '7');
  t.is(r.code, 0, r.err);
  t.regex(r.out, /iova_pgsizes {2}0x0000000040201000 {2}\(4K, 2M, 1G\)/);
  t.regex(r.out, /usable IOVA ranges \(2\):\n {4}0x0000000000000000 0x00000000fedfffff\n {4}0x00000000fef00000 0x0000ffffffffffff\n$/);
  const j = JSON.parse((await run('vfio-info', '--group', '4', '--host', 'arm64-smmuv3', '--json')).out);
  t.deepEqual(j.iommu.iova_ranges[0], { start: '0x0000000000000000', last: '0x0000000007ffffff' });
  const none = await run('vfio-info', '--group', '0');
  t.is(none.code, 1);
  t.regex(none.err, /ENOENT.*\/dev\/vfio\/0/);
  t.is((await run('vfio-info')).code, 2);
});

test('vfio-info --iommufd binds the group\'s cdevs to an IOAS and prints the ranges the attach produces, against the IOMMU core\'s', async (t) => {
  const r = await run('vfio-info', '--group', '7', '--iommufd');
  t.is(r.code, 0, r.err);
  t.regex(r.out, /^IOMMU_IOAS_IOVA_RANGES after attaching group 7 through iommufd \(kernel 6\.8\)\n {2}device {8}0000:02:00\.0 {2}\/dev\/vfio\/devices\/vfio0 {2}devid \d+\n/);
  t.regex(r.out, /alignment {5}0x1000 \(4K\)\n/);
  t.regex(r.out, /ioctls {8}2 \(QEMU's probe/);
  t.regex(r.out, /usable IOVA ranges \(2\):\n {4}0x0000000000000000 0x00000000fedfffff\n {4}0x00000000fef00000 0x0000ffffffffffff\n/);
  t.regex(r.out, /usable IOVA for the group \(what type1 reports\): the same\n$/);
  const j = JSON.parse((await run('vfio-info', '--group', '4', '--host', 'arm64-smmuv3', '--iommufd', '--json')).out);
  t.deepEqual(j.iova_ranges[0], { start: '0x0000000000000000', last: '0x0000000007ffffff' });
  t.true(j.matches_group_usable_iova);
  const old = await run('vfio-info', '--group', '7', '--iommufd', '--kernel', '5.15');
  t.is(old.code, 2);
  t.regex(old.err, /kernel 5\.15 has no iommufd \(6\.2 and later\)/);
  t.regex((await run('vfio-info', '--group', '7', '--iommufd', '--kernel', '6.4')).err, /no VFIO device cdev \(6\.6 and later\)/);
  t.is((await run('vfio-info', '--group', '7', '--iommufd', '--type1')).code, 2);
  // A group reporting both a software and a hardware MSI window: iommufd refuses the combination.
  const both = await run('vfio-info', '--group', '3', '--host', 'arm64-msi-bypass', '--iommufd');
  t.is(both.code, 1);
  t.regex(both.err, /EINVAL.*VFIO_DEVICE_ATTACH_IOMMUFD_PT/);
});
