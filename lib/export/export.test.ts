// SPDX-License-Identifier: GPL-2.0-only
import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { builtinHostNames } from '../hosts';
import { tempDir } from '../testing/tmp';
import { createMachine } from '../machine';
import { ExportError, exportTree, walkEmulated } from './export';

const tmp = (t: ExecutionContext) => tempDir(t, 'iommu-emu-export-');

test('export writes every file, mode and relative link of the emulated sys/ tree', (t) => {
  const m = createMachine('intel-vtd-server');
  const dir = path.join(tmp(t), 'out');
  const r = exportTree(m, dir);
  t.true(r.files > 100 && r.links > 50);
  for (const e of walkEmulated(m, '/sys')) {
    const real = path.join(dir, e.path);
    const st = fs.lstatSync(real);
    // Directories keep the owner's write bit (sysfs' own 0555 mount point would make rm -rf fail).
    if (e.kind !== 'link') t.is(st.mode & 0o7777, e.kind === 'dir' ? e.mode | 0o200 : e.mode, e.path);
    // A write-only attribute (0200) is an empty file nobody but root may read back.
    if (e.kind === 'file') t.true(e.mode & 0o400 || process.getuid?.() === 0 ? fs.readFileSync(real).equals(e.content!) : st.size === e.content!.length, e.path);
    if (e.kind === 'link') t.is(fs.readlinkSync(real), e.target!, e.path);
  }
  t.is(fs.readFileSync(path.join(dir, 'sys/bus/pci/devices/0000:01:00.0/iommu_group/reserved_regions'), 'utf8'), '0x00000000fee00000 0x00000000feefffff msi\n');
});

test('export refuses a non-empty target and leaves no temporary directory behind', (t) => {
  const parent = tmp(t);
  const dir = path.join(parent, 'out');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'keep'), 'x');
  t.throws(() => exportTree(createMachine('amd-epyc'), dir), { instanceOf: ExportError, message: /not empty/ });
  t.deepEqual(fs.readdirSync(parent), ['out']);
  t.deepEqual(fs.readdirSync(dir), ['keep']);
  fs.writeFileSync(path.join(parent, 'file'), 'x');
  t.throws(() => exportTree(createMachine('amd-epyc'), path.join(parent, 'file')), { instanceOf: ExportError, message: /not a directory/ });
  t.throws(() => exportTree(createMachine('amd-epyc'), path.join(parent, 'no/such/out')), { instanceOf: ExportError, message: /no such directory/ });
});

test('export into an existing empty directory replaces it atomically', (t) => {
  const parent = tmp(t);
  const dir = path.join(parent, 'out');
  fs.mkdirSync(dir);
  exportTree(createMachine('arm64-smmuv3'), dir);
  t.deepEqual(fs.readdirSync(parent), ['out']);
  t.true(fs.existsSync(path.join(dir, 'sys/kernel/iommu_groups/0/reserved_regions')));
});

test('a link that would point outside the tree aborts the export with nothing written', (t) => {
  const m = createMachine('arm64-smmuv3');
  m.vol.symlinkSync('../../../../../../etc', '/sys/kernel/escape');
  const parent = tmp(t);
  t.throws(() => exportTree(m, path.join(parent, 'out')), { instanceOf: ExportError, message: /outside the exported tree/ });
  t.deepEqual(fs.readdirSync(parent), []);
});

/** Whether this machine lets us bind-mount in a private mount namespace. */
function canUnshare(): string | undefined {
  const r = spawnSync('unshare', ['-m', 'sh', '-c', 'mount --bind / /mnt 2>/dev/null || mount -t tmpfs none /mnt'], { encoding: 'utf8' });
  if (r.error) return `unshare not available: ${r.error.message}`;
  if (r.status !== 0) return `unshare -m refused here: ${(r.stderr || '').trim() || `exit ${r.status}`}`;
  return undefined;
}

const nsReason = canUnshare();
const lspci = spawnSync('lspci', ['--version'], { encoding: 'utf8' });
const lspciReason = lspci.error ? 'lspci (Debian package pciutils) is not installed' : undefined;

for (const host of builtinHostNames()) {
  const run = nsReason ? test.skip : test;
  run(`${host}: exported tree bind-mounted over /sys is read by cat and readlink${nsReason ? ` (skipped: ${nsReason})` : ''}`, (t) => {
    const m = createMachine(host);
    const dir = path.join(tmp(t), 'out');
    exportTree(m, dir);
    const script = 'cat /sys/kernel/iommu_groups/*/reserved_regions; for d in /sys/bus/pci/devices/*; do [ -e "$d/iommu_group" ] && echo "${d##*/} $(readlink "$d/iommu_group")"; done; true';
    const r = spawnSync('unshare', ['-m', 'sh', '-c', `mount --bind '${dir}/sys' /sys && ${script}`], { encoding: 'utf8' });
    t.is(r.status, 0, r.stderr);
    const expected: string[] = [];
    const groups = (m.fs.readdirSync('/sys/kernel/iommu_groups') as string[]).sort();
    for (const g of groups) expected.push(String(m.fs.readFileSync(`/sys/kernel/iommu_groups/${g}/reserved_regions`, 'utf8')));
    t.true(r.stdout.startsWith(expected.join('')));
    for (const d of m.host.devices) {
      if (!d.group) continue;
      t.true(r.stdout.includes(`${d.bdf} ${String(m.fs.readlinkSync(`${d.sysfsPath}/iommu_group`))}\n`), d.bdf);
    }
  });
  const runL = nsReason || lspciReason ? test.skip : test;
  runL(`${host}: lspci -k lists every device and its driver from the exported tree${nsReason || lspciReason ? ` (skipped: ${nsReason ?? lspciReason})` : ''}`, (t) => {
    const m = createMachine(host);
    const dir = path.join(tmp(t), 'out');
    exportTree(m, dir);
    const r = spawnSync('unshare', ['-m', 'sh', '-c', `mount --bind '${dir}/sys' /sys && lspci -k -D`], { encoding: 'utf8' });
    t.is(r.status, 0, r.stderr);
    for (const d of m.host.devices) {
      t.regex(r.stdout, new RegExp(`^${d.bdf.replace(/\./g, '\\.')} `, 'm'), d.bdf);
      if (d.driver) t.true(r.stdout.includes(`Kernel driver in use: ${d.driver}`), `${d.bdf} ${d.driver}`);
    }
  });
}
