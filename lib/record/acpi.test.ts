// SPDX-License-Identifier: GPL-2.0-only
/**
 * record reads the firmware tables of a tree back into firmware entries (instead of fitting
 * them to reserved_regions), falls back to fitting without them, and says which it did.
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { exportTree } from '../export/export';
import { builtinHostNames } from '../hosts';
import { createMachine } from '../machine';
import { topo } from '../testing/topo';
import { FirmwareSpec, topologyFromJSON } from '../topology/topology';
import { openRecordRoot } from './root';
import { recordSys } from './recorder';

function record(m: ReturnType<typeof createMachine>, mangle?: (sys: string) => void) {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'iommu-emu-acpi-'));
  try {
    exportTree(m, path.join(base, 'x'), { metadata: { kernel: m.kernel.release, arch: m.topology.arch } });
    mangle?.(path.join(base, 'x', 'sys'));
    const opened = openRecordRoot(path.join(base, 'x'));
    return recordSys(opened.source, opened.options);
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
}

/** The firmware the kernel reads from ACPI, in a comparable shape. */
const acpiPart = (f: FirmwareSpec) => ({
  rmrr: f.rmrr.map((r) => ({ ...r, devices: [...r.devices].sort() })),
  ivmd: f.ivmd.map((r) => ({ ...r, devices: [...r.devices].sort() })),
  iortRmr: f.iortRmr.map((r) => ({ ...r, devices: [...r.devices].sort() })),
  its: f.its.map((r) => ({ base: r.base, devices: r.devices && [...r.devices].sort() })),
});

for (const host of builtinHostNames().filter((h) => !h.startsWith('virtio'))) {
  test(`${host}: export → record reads the firmware entries back from the ACPI tables and replays byte for byte`, (t) => {
    const m = createMachine(host);
    const rec = record(m);
    t.deepEqual(acpiPart(rec.topology.firmware), acpiPart(m.topology.firmware));
    t.true(rec.notes.some((n) => /firmware entries read from (DMAR|IVRS|IORT)/.test(n.message)), JSON.stringify(rec.notes));
    t.deepEqual(rec.differences, []);
  });
}

test('an RMRR on a bridge comes back on the bridge (fitting could only name the devices below it)', (t) => {
  const doc = topo({
    devices: [
      { bdf: '0000:00:1c.0', vendor: '0x8086', device: '0xa338', class: '0x060400', driver: 'pcieport', acs: true },
      { bdf: '0000:02:00.0', parent: '0000:00:1c.0', vendor: '0x144d', device: '0xa808', class: '0x010802', driver: 'nvme' },
    ],
    firmware: { rmrr: [{ base: '0x7b000000', end: '0x7b0fffff', devices: ['0000:00:1c.0'] }] },
  });
  const m = createMachine(doc);
  const rec = record(m);
  t.deepEqual(acpiPart(rec.topology.firmware).rmrr, [{ base: 0x7b000000n, end: 0x7b0fffffn, devices: ['0000:00:1c.0'] }]);
  t.deepEqual(rec.differences, []);
  // Without the table, the recorder fits an RMRR to the regions instead.
  const fitted = record(m, (sys) => fs.rmSync(path.join(sys, 'firmware'), { recursive: true }));
  t.false(fitted.notes.some((n) => /read from DMAR/.test(n.message)));
  t.true(fitted.topology.firmware.rmrr.length > 0);
  t.notDeepEqual(acpiPart(fitted.topology.firmware).rmrr, acpiPart(m.topology.firmware).rmrr);
});

test('IVMD read-only and exclusion ranges, IORT RMRs with remap permitted and stream IDs come back', (t) => {
  for (const doc of [
    topo({
      iommus: [{ driver: 'amd-iommu' }],
      devices: [{ bdf: '0000:00:03.0', vendor: '0x8086', device: '0x1572', class: '0x020000', driver: 'i40e' }],
      firmware: { ivmd: [{ start: '0xd7000000', length: '0x1000', devices: ['0000:00:03.0'], write: false }, { start: '0xd6000000', length: '0x10000', devices: ['0000:00:03.0'], exclusion: true }] },
    }),
    topo({
      arch: 'aarch64',
      kernel: '6.8',
      iommus: [{ driver: 'arm-smmu-v3', base: '0x9050000' }],
      devices: [{ bdf: '0000:00:03.0', vendor: '0x19e5', device: '0x1822', class: '0x020000', driver: 'hinic', streamIds: [0x77] }],
      firmware: { iortRmr: [{ base: '0x80000000', length: '0x10000', devices: ['0000:00:03.0'], remapPermitted: true }] },
    }),
  ]) {
    const m = createMachine(doc);
    const rec = record(m);
    t.deepEqual(acpiPart(rec.topology.firmware), acpiPart(topologyFromJSON(doc).firmware));
  }
});

test('a damaged table is reported and not used; the regions are fitted instead', (t) => {
  const m = createMachine('intel-vtd-server');
  const rec = record(m, (sys) => {
    const p = path.join(sys, 'firmware/acpi/tables/DMAR');
    fs.chmodSync(p, 0o600);
    const b = fs.readFileSync(p);
    b[b.length - 1]! ^= 0x5a;
    fs.writeFileSync(p, b);
  });
  t.true(rec.notes.some((n) => n.level === 'warning' && /DMAR: bad checksum.*not used/.test(n.message)));
  t.is(rec.topology.firmware.rmrr.length, m.topology.firmware.rmrr.length, 'fitted from reserved_regions');
});
