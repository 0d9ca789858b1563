// SPDX-License-Identifier: GPL-2.0-only
/**
 * The firmware tables: layouts against the ACPI/ACPICA sizes, checksums, the way back (parse of
 * build gives the topology's firmware), refusals of damaged tables, and `iasl -d` (acpica-tools)
 * disassembling each table into the fields the topology says.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sizeof } from '../abi';
import type { StructLayout } from '../abi';
import { builtinHostNames } from '../hosts';
import { amdUnitCap } from '../iommu/amd_iommu';
import { intelUnitBase } from '../iommu/intel_iommu';
import { createMachine } from '../machine';
import { topo } from '../testing/topo';
import { Topology, topologyFromJSON } from '../topology/topology';
import * as A from './actbl';
import { AcpiTableError, acpiChecksum, buildDmar, buildIort, buildIvrs, buildMadtIts, parseDmar, parseIort, parseIvrs } from './tables';

// ACPI 6.5 §5.2.6, VT-d 4.1 §8, AMD IOMMU 3.08 §5.2, IORT E.e: the structure sizes firmware writes.
const sizes: [StructLayout<any>, number][] = [
  [A.acpi_table_header, 36],
  [A.acpi_table_dmar, 48],
  [A.acpi_dmar_hardware_unit, 16],
  [A.acpi_dmar_reserved_memory, 24],
  [A.acpi_dmar_device_scope, 6],
  [A.acpi_table_ivrs, 48],
  [A.acpi_ivrs_hardware_11, 40],
  [A.acpi_ivrs_memory, 32],
  [A.acpi_ivrs_device4, 4],
  [A.acpi_ivrs_device8c, 8],
  [A.acpi_table_iort, 48],
  [A.acpi_iort_node, 16],
  [A.acpi_iort_id_mapping, 20],
  [A.acpi_iort_smmu_v3, 52],
  [A.acpi_iort_root_complex, 20],
  [A.acpi_iort_rmr, 12],
  [A.acpi_iort_rmr_desc, 20],
  [A.acpi_table_madt, 44],
  [A.acpi_madt_generic_translator, 20],
];
for (const [l, n] of sizes) test(`sizeof(struct ${l.name}) is ${n}`, (t) => t.is(sizeof(l), n));

/** A topology with every firmware entry kind: bridges two deep, RMRRs, IVMDs, RMRs, ITS. */
const intel = topologyFromJSON(
  topo({
    iommus: [{ driver: 'intel-iommu', addressWidth: 39 }],
    devices: [
      { bdf: '0000:00:01.0', vendor: '0x8086', device: '0x1901', class: '0x060400', driver: 'pcieport' },
      { bdf: '0000:01:00.0', parent: '0000:00:01.0', vendor: '0x8086', device: '0x1902', class: '0x060400', driver: 'pcieport' },
      { bdf: '0000:02:03.0', parent: '0000:01:00.0', vendor: '0x8086', device: '0x1572', class: '0x020000', driver: 'i40e' },
      { bdf: '0000:00:14.0', vendor: '0x8086', device: '0xa36d', class: '0x0c0330', driver: 'xhci_hcd' },
    ],
    firmware: { rmrr: [{ base: '0x7a8e0000', end: '0x7a8fffff', devices: ['0000:00:14.0', '0000:02:03.0'] }, { base: '0x1000', end: '0x1fff', devices: ['0000:02:03.0'] }] },
  }),
);
const amd = topologyFromJSON(
  topo({
    iommus: [{ driver: 'amd-iommu', bdf: '0000:00:00.2' }],
    devices: [
      { bdf: '0000:00:00.2', vendor: '0x1022', device: '0x1481', class: '0x080600', driver: null, iommu: null },
      { bdf: '0000:00:03.0', vendor: '0x8086', device: '0x1572', class: '0x020000', driver: 'i40e' },
      { bdf: '0000:00:04.0', vendor: '0x8086', device: '0x1572', class: '0x020000', driver: 'i40e' },
    ],
    firmware: {
      ivmd: [
        { start: '0xd5000000', length: '0x100000', devices: ['0000:00:03.0', '0000:00:04.0'] },
        { start: '0xd6000000', length: '0x10000', devices: ['0000:00:04.0'], exclusion: true },
        { start: '0xd7000000', length: '0x1000', devices: ['0000:00:03.0'], write: false },
      ],
    },
  }),
);
const arm = topologyFromJSON(
  topo({
    arch: 'aarch64',
    iommus: [{ driver: 'arm-smmu-v3', base: '0x9050000' }],
    devices: [
      { bdf: '0000:00:01.0', vendor: '0x19e5', device: '0xa120', class: '0x060400', driver: 'pcieport' },
      { bdf: '0000:01:00.0', parent: '0000:00:01.0', vendor: '0x19e5', device: '0x1822', class: '0x020000', driver: 'hinic' },
      { bdf: '0000:01:00.1', parent: '0000:00:01.0', vendor: '0x19e5', device: '0x1822', class: '0x020000', driver: 'hinic', streamIds: [0x4242] },
    ],
    firmware: {
      its: [{ base: '0x202100000' }],
      iortRmr: [
        { base: '0x80000000', length: '0x10000', devices: ['0000:01:00.0'] },
        { base: '0x90000000', length: '0x20000', devices: ['0000:01:00.1'], remapPermitted: true },
      ],
    },
  }),
);

const bdfAt = (bus: number, dev: number, fn: number) => `0000:${bus.toString(16).padStart(2, '0')}:${dev.toString(16).padStart(2, '0')}.${fn}`;
/** The path resolver record builds from a tree, here from the topology. */
const resolver = (t: Topology) => (bus: number, p: readonly (readonly [number, number])[]) => {
  let b: number | undefined = bus;
  let out: string | undefined;
  for (const [d, f] of p) {
    if (b === undefined) return undefined;
    out = bdfAt(b, d, f);
    if (!t.devices.some((x) => x.bdf === out)) return undefined;
    const child = t.devices.find((x) => x.parent === out);
    b = child ? parseInt(child.bdf.slice(5, 7), 16) : undefined;
  }
  return out;
};
const ofRid = (t: Topology) => (rid: number) => t.devices.find((d) => d.bdf === bdfAt(rid >> 8, (rid >> 3) & 0x1f, rid & 7))?.bdf;
const ofSid = (t: Topology) => (sid: number) =>
  t.devices.filter((d) => (d.streamIds ?? [(parseInt(d.bdf.slice(5, 7), 16) << 8) | (parseInt(d.bdf.slice(8, 10), 16) << 3) | parseInt(d.bdf.slice(11), 16)]).includes(sid)).map((d) => d.bdf);

test('every generated table sums to zero and its header length is its size', (t) => {
  const tables = [buildDmar(intel, intelUnitBase), buildIvrs(amd, amdUnitCap), buildIort(arm), buildMadtIts(arm)];
  for (const h of builtinHostNames()) {
    const m = createMachine(h);
    tables.push(buildDmar(m.host.topology, intelUnitBase), buildIvrs(m.host.topology, amdUnitCap), buildIort(m.host.topology), buildMadtIts(m.host.topology));
  }
  const made = tables.filter((x): x is Uint8Array => x !== undefined);
  t.true(made.length >= 8);
  for (const b of made) {
    t.is(acpiChecksum(b), 0, String.fromCharCode(...b.subarray(0, 4)));
    t.is(new DataView(b.buffer, b.byteOffset).getUint32(4, true), b.length);
  }
});

test('DMAR back to RMRRs: scopes through two bridges name the device again', (t) => {
  const r = parseDmar(buildDmar(intel, intelUnitBase)!, resolver(intel));
  t.is(r.unresolved, 0);
  t.deepEqual(r.rmrr.map((x) => ({ ...x })), intel.firmware.rmrr.map((x) => ({ base: x.base, end: x.end, devices: [...x.devices] })));
});

test('IVRS back to IVMDs: unity (read/write), exclusion and read-only ranges', (t) => {
  const r = parseIvrs(buildIvrs(amd, amdUnitCap)!, ofRid(amd));
  t.deepEqual(r.ivmd.map((x) => ({ ...x })), amd.firmware.ivmd.map((x) => ({ start: x.start, length: x.length, exclusion: x.exclusion, read: x.read, write: x.write, devices: [...x.devices] })));
});

test('IORT back to RMRs (by stream ID) and the ITS doorbells a Hi161x SMMU reserves', (t) => {
  const r = parseIort(buildIort(arm)!, buildMadtIts(arm), ofSid(arm));
  t.deepEqual(r.iortRmr.map((x) => ({ ...x })), arm.firmware.iortRmr.map((x) => ({ base: x.base, length: x.length, devices: [...x.devices], remapPermitted: x.remapPermitted })));
  t.deepEqual(r.its, [{ base: 0x202100000n }]);
  const plain = topologyFromJSON({ ...structuredClone(arm.source), firmware: {} });
  t.deepEqual(parseIort(buildIort(plain)!, undefined, ofSid(plain)).its, [], 'a generic SMMUv3 reserves no doorbell');
});

test('damaged tables are refused with what is wrong', (t) => {
  const good = buildDmar(intel, intelUnitBase)!;
  const bad = Uint8Array.from(good);
  bad[60]! ^= 0xff;
  t.throws(() => parseDmar(bad, resolver(intel)), { instanceOf: AcpiTableError, message: /DMAR: bad checksum/ });
  t.throws(() => parseDmar(good.subarray(0, 20), resolver(intel)), { instanceOf: AcpiTableError, message: /shorter than an ACPI table header/ });
  t.throws(() => parseIvrs(good, ofRid(intel)), { instanceOf: AcpiTableError, message: /signature "DMAR", expected IVRS/ });
  const short = Uint8Array.from(good.subarray(0, 60));
  new DataView(short.buffer).setUint32(4, short.length, true);
  short[9] = 0;
  short[9] = (0x100 - acpiChecksum(short)) & 0xff;
  t.throws(() => parseDmar(short, resolver(intel)), { instanceOf: AcpiTableError, message: /subtable at offset 48 has length 24/ });
});

// ---- iasl -d --------------------------------------------------------------------------------

const iasl = spawnSync('iasl', ['-v'], { encoding: 'utf8' });
const iaslVersion = Number(/version (\d{8})/.exec(`${iasl.stdout}${iasl.stderr}`)?.[1] ?? 0);
const iaslTest = iasl.error ? test.skip : test;
const skipWhy = iasl.error ? ' (skipped: iasl is not installed; Debian package acpica-tools)' : '';

/** `iasl -d` in a fresh directory: its exit code and the .dsl it writes. */
function disassemble(name: string, bytes: Uint8Array): { status: number | null; dsl: string; out: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iommu-emu-iasl-'));
  try {
    fs.writeFileSync(path.join(dir, `${name}.dat`), bytes);
    const r = spawnSync('iasl', ['-d', `${name}.dat`], { cwd: dir, encoding: 'utf8' });
    const dslPath = path.join(dir, `${name}.dsl`);
    return { status: r.status, dsl: fs.existsSync(dslPath) ? fs.readFileSync(dslPath, 'utf8') : '', out: `${r.stdout}${r.stderr}` };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
const field = (name: string, value: string) => new RegExp(`\\] +${name.replace(/[()]/g, '\\$&')} : ${value}\\b`, 'i');
const hex = (n: bigint | number, w: number) => n.toString(16).toUpperCase().padStart(w, '0');

iaslTest(`iasl -d DMAR: width, the INCLUDE_PCI_ALL unit, every RMRR with the PCI path of each device${skipWhy}`, (t) => {
  for (const top of [intel, createMachine('intel-vtd-server').host.topology]) {
    const r = disassemble('dmar', buildDmar(top, intelUnitBase)!);
    t.is(r.status, 0, r.out);
    t.notRegex(r.dsl, /\*\*\*\* |Error|Invalid/, 'no complaint in the disassembly');
    t.regex(r.dsl, field('Host Address Width', hex((top.iommus[0]!.addressWidth ?? 48) - 1, 2)));
    t.regex(r.dsl, field('Register Base Address', hex(intelUnitBase(top.iommus[0]!, 0), 16)));
    for (const rm of top.firmware.rmrr) {
      t.regex(r.dsl, field('Base Address', hex(rm.base, 16)));
      t.regex(r.dsl, field('End Address (limit)', hex(rm.end, 16)));
    }
    // The path of a device behind two bridges lists every hop.
    if (top === intel) t.regex(r.dsl, /PCI Path : 01,00\s+\[[^\]]+\] +PCI Path : 00,00\s+\[[^\]]+\] +PCI Path : 03,00/);
  }
});

iaslTest(`iasl -d IVRS: the IVHD, every IVMD with its device, flags, start and length${skipWhy}`, (t) => {
  for (const top of [amd, createMachine('amd-epyc').host.topology]) {
    const r = disassemble('ivrs', buildIvrs(top, amdUnitCap)!);
    t.is(r.status, 0, r.out);
    t.notRegex(r.dsl, /\*\*\*\* |Error|Invalid/);
    t.regex(r.dsl, /Subtable Type : 11 \[Hardware Definition Block/);
    for (const m of top.firmware.ivmd)
      for (const b of m.devices) {
        const rid = (parseInt(b.slice(5, 7), 16) << 8) | (parseInt(b.slice(8, 10), 16) << 3) | parseInt(b.slice(11), 16);
        const flags = m.exclusion ? 0x08 : 0x01 | (m.read ? 2 : 0) | (m.write ? 4 : 0);
        t.regex(r.dsl, new RegExp(`Flags : ${hex(flags, 2)}\\s+\\[[^\\]]+\\] +Length : 0020\\s+\\[[^\\]]+\\] +DeviceId : ${hex(rid, 4)}[\\s\\S]*?Start Address : ${hex(m.start, 16)}\\s+\\[[^\\]]+\\] +Memory Length : ${hex(m.length, 16)}`), `${b} ${m.start.toString(16)}`);
      }
  }
});

iaslTest(`iasl -d IORT and APIC: ITS group, SMMUv3 with its base and model, the root complex, the ITS address${skipWhy}`, (t) => {
  // The msi-bypass host without its RMR (checked below, iasl version permitting).
  const src = structuredClone(createMachine('arm64-msi-bypass').topology.source) as Record<string, any>;
  delete src.firmware.iortRmr;
  const m = createMachine(src).host.topology;
  const r = disassemble('iort', buildIort(m)!);
  t.is(r.status, 0, r.out);
  t.notRegex(r.dsl, /\*\*\*\* |Error|Invalid/);
  t.regex(r.dsl, field('Node Count', '00000003'));
  t.regex(r.dsl, field('Base Address', hex(m.iommus[0]!.base!, 16)));
  t.regex(r.dsl, field('Model', '00000001'), 'the Hi161x model of an SMMU whose MSIs bypass it');
  t.regex(r.dsl, field('Output Reference', '00000030'), 'the SMMU maps to the ITS group at offset 0x30');
  const a = disassemble('apic', buildMadtIts(m)!);
  t.is(a.status, 0, a.out);
  t.regex(a.dsl, /Subtable Type : 0F \[Generic Interrupt Translator\]/);
  t.regex(a.dsl, field('Base Address', hex(m.firmware.its[0]!.base, 16)));
  // RMR nodes (type 6) need an iasl that knows IORT E.d (ACPICA 20220331 and later).
  const rmr = disassemble('iort', buildIort(arm)!);
  t.is(rmr.status, 0, rmr.out);
  if (iaslVersion >= 20220331) {
    t.regex(rmr.dsl, /Reserved Memory Range/);
    t.regex(rmr.dsl, field('Base Address', hex(0x90000000n, 16)));
  } else t.log(`iasl ${iaslVersion} predates IORT RMR nodes: checked that it still disassembles the table`);
});
