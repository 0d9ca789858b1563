// SPDX-License-Identifier: GPL-2.0-only
import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { U64_MAX } from './iova';
import {
  RESV_LINE_RE,
  RESV_TYPE_NAMES,
  RESV_TYPE_RANK,
  RESV_TYPE_STRING,
  ResvRegion,
  ResvType,
  formatResvRegion,
  mergeResvRegions,
  parseResvLine,
  resvRegion,
} from './resv_region';

const { DIRECT, DIRECT_RELAXABLE, RESERVED, MSI, SW_MSI } = ResvType;
const r = (start: bigint, last: bigint, type: ResvType): ResvRegion => resvRegion(start, last - start + 1n, 0, type);
const render = (list: ResvRegion[]) => list.map(formatResvRegion).join('');

interface Case {
  name: string;
  /** Regions per device, inserted in this order. */
  devices: ResvRegion[][];
  algorithm?: 'v4.11' | 'v5.4';
  expect: string;
}

// kernel-sysfs-abi.md §1.4: the worked examples and properties of iommu_insert_resv_region.
const cases: Case[] = [
  {
    name: 'A: adjacent same type merges',
    devices: [[r(0x1000n, 0x1fffn, DIRECT), r(0x2000n, 0x2fffn, DIRECT)]],
    expect: '0x0000000000001000 0x0000000000002fff direct\n',
  },
  {
    name: 'B: same range, different types, reserved inserted second',
    devices: [[r(0xfee00000n, 0xfeefffffn, MSI), r(0xfee00000n, 0xfeefffffn, RESERVED)]],
    expect: '0x00000000fee00000 0x00000000feefffff reserved\n0x00000000fee00000 0x00000000feefffff msi\n',
  },
  {
    name: 'B: same range, different types, msi inserted second',
    devices: [[r(0xfee00000n, 0xfeefffffn, RESERVED), r(0xfee00000n, 0xfeefffffn, MSI)]],
    expect: '0x00000000fee00000 0x00000000feefffff reserved\n0x00000000fee00000 0x00000000feefffff msi\n',
  },
  {
    name: 'C: hw MSI and sw MSI over one range print two identical msi lines',
    devices: [[r(0x8000000n, 0x80fffffn, SW_MSI)], [r(0x8000000n, 0x80fffffn, MSI)]],
    expect: '0x0000000008000000 0x00000000080fffff msi\n0x0000000008000000 0x00000000080fffff msi\n',
  },
  {
    name: 'D: cascade — a grown region absorbs later same-type regions, other types keep their lines',
    devices: [[r(0x0n, 0xfffn, DIRECT), r(0x1800n, 0x18ffn, MSI), r(0x3000n, 0x3fffn, DIRECT)], [r(0x800n, 0x37ffn, DIRECT)]],
    expect: '0x0000000000000000 0x0000000000003fff direct\n0x0000000000001800 0x00000000000018ff msi\n',
  },
  {
    name: 'E: two devices of a group with the IOAPIC window give one line',
    devices: [[r(0xfee00000n, 0xfeefffffn, MSI)], [r(0xfee00000n, 0xfeefffffn, MSI)]],
    expect: '0x00000000fee00000 0x00000000feefffff msi\n',
  },
  {
    name: 'sorted by start, ties by enum: direct < direct-relaxable < reserved < msi < sw-msi',
    devices: [[r(0x1000n, 0x1fffn, SW_MSI), r(0x1000n, 0x1fffn, MSI), r(0x1000n, 0x1fffn, RESERVED), r(0x1000n, 0x1fffn, DIRECT_RELAXABLE), r(0x1000n, 0x1fffn, DIRECT), r(0x0n, 0xeffn, RESERVED)]],
    expect:
      '0x0000000000000000 0x0000000000000eff reserved\n0x0000000000001000 0x0000000000001fff direct\n0x0000000000001000 0x0000000000001fff direct-relaxable\n' +
      '0x0000000000001000 0x0000000000001fff reserved\n0x0000000000001000 0x0000000000001fff msi\n0x0000000000001000 0x0000000000001fff msi\n',
  },
  {
    name: 'a gap of one byte keeps same-type regions apart',
    devices: [[r(0x1000n, 0x1ffen, RESERVED), r(0x2000n, 0x2fffn, RESERVED)]],
    expect: '0x0000000000001000 0x0000000000001ffe reserved\n0x0000000000002000 0x0000000000002fff reserved\n',
  },
  {
    name: 'containment absorbs the inner region and keeps the outer start',
    devices: [[r(0x2000n, 0x2fffn, DIRECT)], [r(0x1000n, 0x4fffn, DIRECT)]],
    expect: '0x0000000000001000 0x0000000000004fff direct\n',
  },
  {
    name: 'different types never merge even when adjacent',
    devices: [[r(0x1000n, 0x1fffn, DIRECT), r(0x2000n, 0x2fffn, DIRECT_RELAXABLE)]],
    expect: '0x0000000000001000 0x0000000000001fff direct\n0x0000000000002000 0x0000000000002fff direct-relaxable\n',
  },
  {
    name: 'u64 wrap: a region ending at 2^64-1 stops merges of its type, even of contained regions',
    devices: [[r(0xffffffffffff0000n, U64_MAX, RESERVED), r(0xfffffffffffff000n, 0xfffffffffffff0ffn, RESERVED)]],
    expect: '0xffffffffffff0000 0xffffffffffffffff reserved\n0xfffffffffffff000 0xfffffffffffff0ff reserved\n',
  },
  {
    name: 'v4.11: adjacent same-type regions stay apart',
    algorithm: 'v4.11',
    devices: [[r(0x1000n, 0x1fffn, DIRECT), r(0x2000n, 0x2fffn, DIRECT)]],
    expect: '0x0000000000001000 0x0000000000001fff direct\n0x0000000000002000 0x0000000000002fff direct\n',
  },
  {
    name: 'v4.11: overlapping same-type regions merge, contained ones are dropped',
    algorithm: 'v4.11',
    devices: [[r(0x1000n, 0x2fffn, RESERVED), r(0x2000n, 0x3fffn, RESERVED), r(0x1800n, 0x18ffn, RESERVED)]],
    expect: '0x0000000000001000 0x0000000000003fff reserved\n',
  },
  {
    name: 'v4.11: equal start is not ordered by type — insertion order wins',
    algorithm: 'v4.11',
    devices: [[r(0xfee00000n, 0xfeefffffn, MSI), r(0xfee00000n, 0xfeefffffn, RESERVED)]],
    expect: '0x00000000fee00000 0x00000000feefffff msi\n0x00000000fee00000 0x00000000feefffff reserved\n',
  },
  {
    name: 'empty group: empty file',
    devices: [],
    expect: '',
  },
];

for (const c of cases) {
  test(`iommu_insert_resv_region: ${c.name}`, (t) => {
    t.is(render(mergeResvRegions(c.devices, c.algorithm ?? 'v5.4')), c.expect);
  });
}

test('merge output does not depend on device order (no wrap involved)', (t) => {
  const devs = [
    [r(0x0n, 0xfffn, DIRECT), r(0x5000n, 0x5fffn, MSI)],
    [r(0x1000n, 0x1fffn, DIRECT), r(0x5000n, 0x5fffn, SW_MSI)],
    [r(0x800n, 0x27ffn, DIRECT), r(0x3000n, 0x3fffn, RESERVED)],
  ];
  const a = render(mergeResvRegions(devs));
  t.is(render(mergeResvRegions([...devs].reverse())), a);
  t.is(render(mergeResvRegions([devs[1]!, devs[0]!, devs[2]!])), a);
});

test('merging keeps the prot of the surviving (earlier) region', (t) => {
  const merged = mergeResvRegions([[resvRegion(0x1000n, 0x1000n, 3, DIRECT), resvRegion(0x2000n, 0x1000n, 1, DIRECT)]]);
  t.is(merged.length, 1);
  t.is(merged[0]!.prot, 3);
});

const lineCases: { line: string; want: ReturnType<typeof parseResvLine> }[] = [
  { line: '0x00000000fee00000 0x00000000feefffff msi', want: { start: 0xfee00000n, last: 0xfeefffffn, type: 'msi' } },
  { line: '0x0000000000000000 0x0000000000ffffff direct-relaxable', want: { start: 0n, last: 0xffffffn, type: 'direct-relaxable' } },
  { line: '0xffffffffffffffff 0xffffffffffffffff reserved', want: { start: U64_MAX, last: U64_MAX, type: 'reserved' } },
  { line: '0x00000000fee00000 0x00000000feefffff sw-msi', want: undefined },
  { line: '0x00000000FEE00000 0x00000000feefffff msi', want: undefined },
  { line: '0xfee00000 0xfeefffff msi', want: undefined },
  { line: '0x00000000fee00000 0x00000000feefffff msi ', want: undefined },
  { line: '', want: undefined },
];

for (const c of lineCases) {
  test(`parseResvLine(${JSON.stringify(c.line)})`, (t) => {
    t.deepEqual(parseResvLine(c.line), c.want);
  });
}

test('the printed names, their ranks and the formatter agree; every formatted line parses back', (t) => {
  t.deepEqual([...RESV_TYPE_NAMES], [0, 1, 2, 3].map((i) => RESV_TYPE_STRING[i as ResvType]));
  t.deepEqual(RESV_TYPE_NAMES.map((n) => RESV_TYPE_RANK[n]), [0, 1, 2, 3]);
  t.is(RESV_TYPE_STRING[ResvType.SW_MSI], 'msi');
  for (const type of [DIRECT, DIRECT_RELAXABLE, RESERVED, MSI, SW_MSI]) {
    const line = formatResvRegion(r(0x1000n, 0x1fffn, type));
    t.deepEqual(parseResvLine(line.slice(0, -1)), { start: 0x1000n, last: 0x1fffn, type: RESV_TYPE_STRING[type] });
  }
});

test("the sysfs schema's reserved_regions line grammar is the model's", (t) => {
  const schema = JSON.parse(fs.readFileSync(path.join(__dirname, '../../sysfs-schema/sysfs-kernel-iommu_groups.json'), 'utf8')) as {
    entries: { id: string; line?: string }[];
  };
  const entry = schema.entries.find((a) => a.id === 'iommu_groups.group.reserved_regions')!;
  // The schema's pattern has no capture groups around the addresses; otherwise it is the same grammar.
  t.is(entry.line, RESV_LINE_RE.source.replace(/\(\[0-9a-f\]\{16\}\)/g, '[0-9a-f]{16}'));
});
