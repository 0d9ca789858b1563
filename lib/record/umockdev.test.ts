// SPDX-License-Identifier: GPL-2.0-only
/** .umockdev export/import, and the real umockdev-run where it is installed. */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { builtinHostNames, createMachine } from '../index';
import { gStrcompress, gStrescape, importUmockdev, recordSys, toUmockdev } from '.';

test('g_strescape / g_strcompress round trip every byte', (t) => {
  const all = Buffer.from([...Array(256).keys()]);
  t.true(gStrcompress(gStrescape(all)).equals(all));
  t.is(gStrescape(Buffer.from('0x8086\n')), '0x8086\\n');
  t.is(gStrescape(Buffer.from('a"b\\c\t')), 'a\\"b\\\\c\\t');
});

for (const host of builtinHostNames()) {
  test(`export → import → record replays every device and unit attribute: ${host}`, (t) => {
    const m = createMachine(host);
    const u = toUmockdev(m);
    t.true(u.notes.some((n) => /iommu_groups/.test(n)), 'the loss of the group directories is reported');
    const imp = importUmockdev(u.text, `${host}.umockdev`);
    t.true(imp.notes.some((n) => /reserved_regions and type are derived/.test(n)));
    const rec = recordSys(imp.source, { kernel: m.kernel.version.text, arch: m.topology.arch });
    // What a .umockdev cannot carry: group dirs (reserved_regions, type) and the driver dirs.
    // The bus's own files (rescan, drivers_probe, uevent) belong to no device either.
    const lost = /^\/sys\/(kernel\/iommu_groups\/\d+\/(reserved_regions|type)|bus\/pci\/drivers\/|bus\/pci\/drivers$|bus\/pci\/(rescan|drivers_probe|uevent)$|devices\/.*\/vfio-dev|class\/vfio-dev)/;
    t.deepEqual(rec.differences.filter((d) => !lost.test(d.path)), []);
  });
}

test('non-PCI devices are reported, not silently dropped', (t) => {
  const text = 'P: /devices/platform/serial8250/tty/ttyS0\nN: ttyS0\nE: SUBSYSTEM=tty\nA: dev=4:64\\n\n\nP: /devices/pci0000:00/0000:00:03.0\nE: SUBSYSTEM=pci\nA: vendor=0x8086\\n\nA: device=0x1572\\n\nA: class=0x020000\\n\n';
  const imp = importUmockdev(text, 'mixed.umockdev');
  t.true(imp.notes.some((n) => /1 tty device\(s\) cannot map onto an IOMMU topology.*ttyS0/.test(n)));
  t.true(imp.notes.some((n) => /N \(device nodes\)/.test(n)));
  const rec = recordSys(imp.source, { kernel: '6.8' });
  t.is(rec.topology.devices.length, 1);
});

const hasUmockdev = spawnSync('umockdev-run', ['--version'], { encoding: 'utf8' }).status === 0;

(hasUmockdev ? test : test.skip)(`the real umockdev-run accepts the export and serves the same bytes${hasUmockdev ? '' : ' (skipped: umockdev-run is not installed; Debian: apt-get install -y umockdev)'}`, (t) => {
  const m = createMachine('intel-vtd-server');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iommu-emu-umockdev-'));
  const file = path.join(dir, 'h.umockdev');
  fs.writeFileSync(file, toUmockdev(m).text);
  const files = ['vendor', 'device', 'class', 'revision', 'resource', 'driver_override', 'numa_node', 'irq', 'modalias'];
  const bdf = '0000:00:02.0';
  const script = files.map((f) => `cat /sys/bus/pci/devices/${bdf}/${f}`).join('; ') + `; readlink /sys/bus/pci/devices/${bdf}/iommu_group; ls /sys/class/iommu; od -An -tx1 -N64 /sys/bus/pci/devices/${bdf}/config`;
  const r = spawnSync('umockdev-run', ['-d', file, '--', 'sh', '-c', script], { encoding: 'latin1', timeout: 60_000 });
  fs.rmSync(dir, { recursive: true, force: true });
  t.is(r.status, 0, r.stderr);
  const want =
    files.map((f) => String(m.fs.readFileSync(`/sys/bus/pci/devices/${bdf}/${f}`, 'latin1'))).join('') +
    `${String(m.fs.readlinkSync(`/sys/bus/pci/devices/${bdf}/iommu_group`))}\ndmar0\n`;
  t.is(r.stdout.slice(0, want.length), want);
  const cfg = Buffer.from(r.stdout.slice(want.length).trim().split(/\s+/).join(''), 'hex');
  t.true(cfg.equals(Buffer.from((m.fs.readFileSync(`/sys/bus/pci/devices/${bdf}/config`) as Buffer).subarray(0, 64))));
});
