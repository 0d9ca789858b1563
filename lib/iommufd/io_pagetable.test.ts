// SPDX-License-Identifier: GPL-2.0-only
import test from 'ava';
import { AnyErrno, isKernelError, kerr } from '../errno';
import { U64_MAX } from '../model/iova';
import { ResvType } from '../model/resv_region';
import {
  HPAGE_SIZE,
  IOMMU_READ,
  IOMMU_WRITE,
  IoPagetable,
  IoptDomain,
  IoptPagesOps,
  holes,
  spans,
} from './io_pagetable';
import { IoptPages, PagesEnv, ioptAllocPages } from './pages';
import { ROOT } from '../cred';
import { UserMemory } from '../mm/mm';
import { TaskSet } from '../task/sched';

const K = 1024n;
const PAGE = 4096n;
const RW = IOMMU_READ | IOMMU_WRITE;

const code = (fn: () => unknown): AnyErrno | 'ok' => {
  try {
    fn();
    return 'ok';
  } catch (e) {
    if (isKernelError(e)) return e.code;
    throw e;
  }
};

/** Pages objects need an owner task and a pin environment; these tests never pin. */
const TASK = new TaskSet(new UserMemory(), ROOT).init;
const ENV: PagesEnv = { pins: new WeakMap(), userLockedVm: new Map(), current: () => TASK, shouldFail: () => false };
const alloc = (uptr: bigint, length: bigint, writable: boolean): IoptPages => ioptAllocPages(ENV, TASK, uptr, length, writable);
const pages = (uptr: bigint, length: bigint, writable = true): IoptPages => alloc(uptr, length, writable);
/** Map `length` bytes of a fresh buffer at `iova` (undefined: automatic). */
const map = (iopt: IoPagetable, iova: bigint | undefined, length: bigint, uptr = 0x7f00_0000_0000n, prot = RW): bigint =>
  iopt.mapUserPages(pages(uptr, length), uptr, length, iova, prot);

const domain = (pgsize: bigint, apertureStart = 0n, apertureEnd = U64_MAX): IoptDomain => ({
  pgsizeBitmap: pgsize,
  geometry: { start: apertureStart, last: apertureEnd },
});

test('spans join overlapping and touching nodes; holes are the gaps, clipped to the window', (t) => {
  const nodes = [
    { start: 0x10n, last: 0x1fn },
    { start: 0x20n, last: 0x2fn },
    { start: 0x28n, last: 0x40n },
    { start: 0x80n, last: 0x8fn },
  ];
  t.deepEqual(spans(nodes, 0n, 0xffn), [
    { start: 0n, last: 0xfn, hole: true },
    { start: 0x10n, last: 0x40n, hole: false },
    { start: 0x41n, last: 0x7fn, hole: true },
    { start: 0x80n, last: 0x8fn, hole: false },
    { start: 0x90n, last: 0xffn, hole: true },
  ]);
  t.deepEqual(holes(nodes, 0x18n, 0x85n), [{ start: 0x41n, last: 0x7fn }]);
  t.deepEqual(holes([], 0n, U64_MAX), [{ start: 0n, last: U64_MAX }]);
  t.deepEqual(holes([{ start: 0n, last: U64_MAX }], 0n, U64_MAX), []);
});

test('a fresh table: one usable range [0, 2^64-1], alignment 1', (t) => {
  const iopt = new IoPagetable();
  t.deepEqual(iopt.iovaRanges(), [{ start: 0n, last: U64_MAX }]);
  t.is(iopt.iovaAlignment, 1n);
});

interface AllocCase {
  name: string;
  setup?: (iopt: IoPagetable) => void;
  uptr: bigint;
  length: bigint;
  want: bigint | AnyErrno;
}

const allocCases: AllocCase[] = [
  { name: 'length 0', uptr: 0n, length: 0n, want: 'EOVERFLOW' },
  { name: 'length >= ULONG_MAX/2', uptr: 0n, length: U64_MAX / 2n, want: 'EOVERFLOW' },
  {
    name: 'alignment below the table alignment',
    setup: (i) => i.tableAddDomain(domain(PAGE)),
    uptr: 0n,
    length: 16n,
    want: 'EINVAL',
  },
  { name: 'never IOVA 0: the first page is skipped', uptr: 0n, length: 1n, want: PAGE },
  { name: 'one page', uptr: 0x7f00_0000_0000n, length: PAGE, want: PAGE },
  { name: 'aligned to roundup_pow_of_two(length)', uptr: 0n, length: 3n * PAGE, want: 4n * PAGE },
  { name: 'uptr alignment caps it', uptr: 0x7f00_0000_3000n, length: 64n * K, want: PAGE },
  { name: 'uptr page offset kept', uptr: 0x7f00_0001_0010n, length: 16n, want: PAGE + 0x10n },
  { name: 'capped at HPAGE_SIZE', uptr: 0n, length: 64n * K * K, want: HPAGE_SIZE },
  {
    name: 'avoids reserved ranges',
    setup: (i) => i.reserveIova(PAGE, 2n * PAGE - 1n, undefined),
    uptr: 0n,
    length: PAGE,
    want: 2n * PAGE,
  },
  {
    name: 'avoids existing areas',
    setup: (i) => void map(i, PAGE, 3n * PAGE),
    uptr: 0n,
    length: 2n * PAGE,
    want: 4n * PAGE,
  },
  {
    name: 'inside the allowed ranges',
    setup: (i) => i.setAllowIova([{ start: 0x10_0000n, last: 0x1f_ffffn }]),
    uptr: 0n,
    length: PAGE,
    want: 0x10_0000n,
  },
  {
    name: 'an allowed range starting at 0 still skips page 0',
    setup: (i) => i.setAllowIova([{ start: 0n, last: 0xffffn }]),
    uptr: 0n,
    length: 1n,
    want: PAGE,
  },
  {
    name: 'no allowed range fits',
    setup: (i) => i.setAllowIova([{ start: PAGE, last: 2n * PAGE - 1n }]),
    uptr: 0n,
    length: 2n * PAGE,
    want: 'ENOSPC',
  },
  {
    name: 'allowed range full of reservations and areas',
    setup: (i) => {
      i.reserveIova(0x10_0000n, 0x10_0fffn, 'dev');
      i.setAllowIova([{ start: 0x10_1000n, last: 0x10_2fffn }]);
      map(i, 0x10_1000n, PAGE);
    },
    uptr: 0n,
    length: 2n * PAGE,
    want: 'ENOSPC',
  },
];

for (const c of allocCases) {
  test(`iopt_alloc_iova: ${c.name}`, (t) => {
    const iopt = new IoPagetable();
    c.setup?.(iopt);
    if (typeof c.want === 'bigint') t.is(iopt.allocIova(c.uptr, c.length), c.want);
    else t.is(code(() => iopt.allocIova(c.uptr, c.length)), c.want);
  });
}

test('iopt_alloc_iova: the selftest sweep (every length 1..8191 maps aligned to its lowest set bit, then unmaps)', (t) => {
  const iopt = new IoPagetable();
  const uptr = 0x7f00_0000_0000n;
  for (let len = 1n; len < 8192n; len++) {
    const iova = map(iopt, undefined, len, uptr);
    t.is(iova % lowest(len), 0n, `length ${len}`);
    t.true(iova >= PAGE);
    iopt.unmapIova(iova, len);
  }
  t.is(iopt.areas.length, 0);
});
const lowest = (x: bigint) => x & -x;

/* iopt_check_iova, in the kernel's order: alignment, overflow, reserved, existing area. */
const fixedCases: { name: string; iova: bigint; length: bigint; want: AnyErrno | 'ok' }[] = [
  { name: 'misaligned iova', iova: PAGE + 0x10n, length: PAGE, want: 'EINVAL' },
  { name: 'wraps past 2^64', iova: U64_MAX - PAGE + 1n, length: 2n * PAGE, want: 'EOVERFLOW' },
  { name: 'hits a reserved range', iova: 0x20_0000n, length: PAGE, want: 'EINVAL' },
  { name: 'reserved wins over an overlap', iova: 0x1f_f000n, length: 2n * PAGE, want: 'EINVAL' },
  { name: 'overlaps an area', iova: 0x10_1000n, length: PAGE, want: 'EEXIST' },
  { name: 'free', iova: 0x30_0000n, length: PAGE, want: 'ok' },
];

for (const c of fixedCases) {
  test(`iopt_check_iova: ${c.name}`, (t) => {
    const iopt = new IoPagetable();
    iopt.tableAddDomain(domain(PAGE));
    map(iopt, 0x1f_f000n, PAGE);
    map(iopt, 0x10_0000n, 0x2000n);
    iopt.reserveIova(0x20_0000n, 0x20_ffffn, 'dev');
    t.is(code(() => iopt.checkIova(c.iova, c.length)), c.want);
  });
}

test('iopt_map_pages: length 0 or misaligned → EINVAL; WRITE on read-only memory → EPERM; nothing left behind', (t) => {
  const iopt = new IoPagetable();
  iopt.tableAddDomain(domain(PAGE));
  const p = pages(0x7f00_0000_0000n, PAGE, false);
  t.is(code(() => iopt.mapPages([{ pages: p, startByte: 0n, length: 0n }], 0n, PAGE, RW)), 'EINVAL');
  t.is(code(() => iopt.mapPages([{ pages: p, startByte: 0n, length: 0x800n }], 0x800n, PAGE, RW)), 'EINVAL');
  t.is(code(() => iopt.mapPages([{ pages: p, startByte: 0n, length: PAGE }], PAGE, PAGE, RW)), 'EPERM');
  t.is(iopt.areas.length, 0);
  t.is(iopt.mapPages([{ pages: p, startByte: 0n, length: PAGE }], PAGE, PAGE, IOMMU_READ), PAGE);
  t.is(iopt.areas.length, 1);
});

test('iopt_map_user_pages: with no domain the pages ops are never asked to pin', (t) => {
  let calls = 0;
  const ops: IoptPagesOps = {
    fillDomains: (_a, domains) => void (calls += domains.length),
    unfillDomains: () => undefined,
    fillDomain: () => void calls++,
    unfillDomain: () => undefined,
  };
  const iopt = new IoPagetable({ pagesOps: ops });
  map(iopt, 1n << 31n, PAGE, 1n << 31n);
  t.is(calls, 0);
  iopt.tableAddDomain(domain(PAGE));
  t.is(calls, 1, 'attaching loads the existing area');
});

test('iopt_map_user_pages: a failing domain fill undoes the map and drops the pages reference', (t) => {
  const ops: IoptPagesOps = {
    fillDomains: (_a, d) => {
      if (d.length) throw kerr('ENOMEM');
    },
    unfillDomains: () => undefined,
    fillDomain: () => undefined,
    unfillDomain: () => undefined,
  };
  const iopt = new IoPagetable({ pagesOps: ops });
  iopt.tableAddDomain(domain(PAGE));
  const p = pages(0x7f00_0000_0000n, PAGE);
  t.is(code(() => iopt.mapUserPages(p, 0x7f00_0000_0000n, PAGE, PAGE, RW)), 'ENOMEM');
  t.is(iopt.areas.length, 0);
  t.is(p.refs, 0);
});

test('allocation failure (fault injection) at the area kzalloc: ENOMEM, table unchanged', (t) => {
  let fail = false;
  const iopt = new IoPagetable({ faults: { shouldFail: () => fail } });
  fail = true;
  t.is(code(() => map(iopt, PAGE, PAGE)), 'ENOMEM');
  fail = false;
  t.is(iopt.areas.length, 0);
  t.is(map(iopt, PAGE, PAGE), PAGE);
});

test('iopt_unmap_iova: exact, superset, partial (ENOENT after unmapping what came before), empty, unmap-all', (t) => {
  const iopt = new IoPagetable();
  map(iopt, 0x1000n, 0x1000n);
  map(iopt, 0x2000n, 0x1000n);
  map(iopt, 0x4000n, 0x2000n);
  t.is(code(() => iopt.unmapIova(0x1000n, 0n)), 'EINVAL');
  t.is(code(() => iopt.unmapIova(U64_MAX, 2n)), 'EOVERFLOW');
  const out = { unmapped: 0n };
  t.is(code(() => iopt.unmapIova(0x1000n, 0x4000n, out)), 'ENOENT', '[0x4000,0x5fff] sticks out');
  t.is(out.unmapped, 0x2000n, 'the two areas before it went');
  t.deepEqual(
    iopt.areas.map((a) => [a.start, a.last]),
    [[0x4000n, 0x5fffn]],
  );
  t.is(iopt.unmapIova(0x8000n, 0x1000n), 0n, 'an empty range unmaps nothing (the ioctl turns 0 into ENOENT)');
  t.is(iopt.unmapIova(0x3000n, 0x4000n), 0x2000n, 'a superset takes the whole area');
  map(iopt, 0x1000n, 0x1000n);
  t.is(iopt.unmapAll(), 0x1000n);
  t.is(iopt.unmapAll(), 0n, 'unmap-all of nothing succeeds');
});

test('iopt_unmap_iova_range: an area pinned by an access is released through notifyUnmap, else EDEADLK', (t) => {
  let cooperative = true;
  const iopt = new IoPagetable({
    notifyUnmap: () => {
      if (cooperative) for (const a of iopt.areas) a.numAccesses = 0;
    },
  });
  map(iopt, PAGE, PAGE);
  iopt.areas[0]!.numAccesses = 1;
  t.is(iopt.unmapAll(), PAGE);
  map(iopt, PAGE, PAGE);
  iopt.areas[0]!.numAccesses = 1;
  cooperative = false;
  t.is(code(() => iopt.unmapAll()), 'EDEADLK');
});

test('iopt_get_pages (IOAS_COPY source): contiguous areas join, a gap is ENOENT, references are counted', (t) => {
  const iopt = new IoPagetable();
  const a = pages(0x7f00_0000_0000n, 0x2000n);
  const b = pages(0x7f00_1000_0000n, 0x1000n);
  iopt.mapUserPages(a, 0x7f00_0000_0000n, 0x2000n, 0x1_0000n, RW);
  iopt.mapUserPages(b, 0x7f00_1000_0000n, 0x1000n, 0x1_2000n, RW);
  const list = iopt.getPages(0x1_1000n, 0x2000n);
  t.deepEqual(
    list.map((e) => [e.pages, e.startByte, e.length]),
    [
      [a, 0x1000n, 0x1000n],
      [b, 0n, 0x1000n],
    ],
  );
  t.is(a.refs, 2);
  const dst = new IoPagetable();
  t.is(dst.mapPages(list, 0x2000n, undefined, RW), PAGE, 'aligned like its first source byte (uptr+0x1000), not to 8 KiB');
  t.is(dst.areas.length, 2);
  t.is(code(() => iopt.getPages(0x1_0000n, 0x4000n)), 'ENOENT');
  t.is(code(() => iopt.getPages(0x1_0000n, 0n)), 'EINVAL');
  t.is(a.refs, 2, 'the failed lookup gave back what it took');
});

test('allowed ranges and reservations exclude each other: EADDRINUSE either way, old state kept', (t) => {
  const iopt = new IoPagetable();
  iopt.reserveIova(0xfee0_0000n, 0xfeef_ffffn, 'dev');
  const before = iopt.allowed;
  t.is(code(() => iopt.setAllowIova([{ start: 0n, last: 0xffff_ffffn }])), 'EADDRINUSE');
  t.is(iopt.allowed, before);
  iopt.setAllowIova([{ start: 0x1_0000_0000n, last: 0x1_ffff_ffffn }]);
  t.is(code(() => iopt.reserveIova(0x1_8000_0000n, 0x1_8000_0fffn, 'dev2')), 'EADDRINUSE');
  map(iopt, 0x1000n, 0x1000n);
  t.is(code(() => iopt.reserveIova(0n, 0x1fffn, 'dev2')), 'EADDRINUSE');
  iopt.setAllowIova([]);
  iopt.reserveIova(0x1_8000_0000n, 0x1_8000_0fffn, 'dev2');
  t.deepEqual(iopt.iovaRanges(), [
    { start: 0n, last: 0xfedf_ffffn },
    { start: 0xfef0_0000n, last: 0x1_7fff_ffffn },
    { start: 0x1_8000_1000n, last: U64_MAX },
  ]);
  iopt.removeReservedIova('dev');
  t.is(iopt.iovaRanges().length, 2);
});

const x86Regions = [
  { start: 0xfee0_0000n, last: 0xfeef_ffffn, type: ResvType.MSI },
  { start: 0xc0_0000n, last: 0xcf_ffffn, type: ResvType.DIRECT_RELAXABLE },
  { start: 0xa000_0000n, last: 0xa00f_ffffn, type: ResvType.DIRECT },
];
const armRegions = [{ start: 0x800_0000n, last: 0x80f_ffffn, type: ResvType.SW_MSI }];

test('iopt_table_enforce_dev_resv_regions: every type but direct-relaxable; the sw_msi window start', (t) => {
  const iopt = new IoPagetable();
  t.is(iopt.tableEnforceDevResvRegions(x86Regions, 'dev', true), undefined);
  t.deepEqual(
    iopt.reserved.map((r) => [r.start, r.owner]),
    [
      [0xa000_0000n, 'dev'],
      [0xfee0_0000n, 'dev'],
    ],
  );
  t.is(iopt.tableEnforceDevResvRegions(armRegions, 'dev2', true), 0x800_0000n);
  t.is(iopt.tableEnforceDevResvRegions(armRegions, 'dev3', false), undefined, 'without sw_msi the window is only reserved');
});

const enforceCases: { name: string; setup: (i: IoPagetable) => void; regions: typeof x86Regions; want: AnyErrno }[] = [
  {
    name: 'a region over a mapping (guest RAM over the sw_msi window)',
    setup: (i) => void map(i, 0x800_0000n, 0x1000_0000n),
    regions: armRegions,
    want: 'EADDRINUSE',
  },
  {
    name: 'a region over an allowed range',
    setup: (i) => i.setAllowIova([{ start: 0xf000_0000n, last: 0xffff_ffffn }]),
    regions: x86Regions,
    want: 'EADDRINUSE',
  },
  {
    name: 'hardware and software MSI from one driver',
    setup: () => undefined,
    regions: [...x86Regions, ...armRegions],
    want: 'EINVAL',
  },
  {
    name: 'two software MSI windows',
    setup: () => undefined,
    regions: [...armRegions, { start: 0x900_0000n, last: 0x90f_ffffn, type: ResvType.SW_MSI }],
    want: 'EINVAL',
  },
];

for (const c of enforceCases) {
  test(`iopt_table_enforce_dev_resv_regions: ${c.name} → ${c.want}, none of the device's reservations stay`, (t) => {
    const iopt = new IoPagetable();
    c.setup(iopt);
    t.is(code(() => iopt.tableEnforceDevResvRegions(c.regions, 'dev', true)), c.want);
    t.deepEqual(iopt.reserved, []);
  });
}

test('iopt_table_add_domain: pgsize > PAGE_SIZE EINVAL; misaligned areas EADDRINUSE; aperture reserved and released', (t) => {
  const iopt = new IoPagetable();
  t.is(code(() => iopt.tableAddDomain(domain(8n * K))), 'EINVAL');
  map(iopt, 0x1800n, 0x800n);
  t.is(code(() => iopt.tableAddDomain(domain(PAGE))), 'EADDRINUSE');
  iopt.unmapAll();
  map(iopt, 0x100_0000n, PAGE);
  const mock = domain(2n * K, 1n << 24n, (1n << 31n) - 1n);
  iopt.tableAddDomain(mock);
  t.is(iopt.iovaAlignment, 2n * K);
  t.deepEqual(iopt.iovaRanges(), [{ start: 1n << 24n, last: (1n << 31n) - 1n }]);
  t.is(iopt.areas[0]!.storageDomain, mock);
  t.is(code(() => iopt.tableAddDomain(mock)), 'EEXIST');
  const second = domain(2n * K, 0n, (1n << 24n) + PAGE - 1n);
  t.is(code(() => iopt.tableAddDomain(second)), 'ok', 'touches only reservations, not the area');
  iopt.tableRemoveDomain(mock);
  t.is(iopt.areas[0]!.storageDomain, second);
  t.deepEqual(iopt.iovaRanges(), [{ start: 0n, last: (1n << 24n) + PAGE - 1n }]);
  iopt.tableRemoveDomain(second);
  t.is(iopt.iovaAlignment, 1n);
  t.is(iopt.areas[0]!.storageDomain, undefined);
});

test('an aperture that would exclude a mapped area: EADDRINUSE, no aperture reservation stays', (t) => {
  const iopt = new IoPagetable();
  map(iopt, PAGE, PAGE);
  t.is(code(() => iopt.tableAddDomain(domain(PAGE, 1n << 24n))), 'EADDRINUSE');
  t.deepEqual(iopt.reserved, []);
  t.is(iopt.iovaAlignment, 1n);
});

test('huge pages option: disabling with domain areas EINVAL; disabled means PAGE_SIZE alignment', (t) => {
  const iopt = new IoPagetable();
  iopt.disableLargePagesOrThrow();
  t.is(iopt.iovaAlignment, PAGE);
  iopt.enableLargePages();
  t.is(iopt.iovaAlignment, 1n);
  iopt.tableAddDomain(domain(PAGE));
  iopt.disableLargePagesOrThrow();
  iopt.enableLargePages();
  map(iopt, PAGE, PAGE);
  t.is(code(() => iopt.disableLargePagesOrThrow()), 'EINVAL');
});

test('iopt_cut_iova (VFIO type1 compat): splits at the cut; refused for a domain area with large pages', (t) => {
  const iopt = new IoPagetable();
  map(iopt, 0x10_0000n, 0x4000n);
  iopt.cutIova([0x10_0fffn, 0x10_3fffn]);
  t.deepEqual(
    iopt.areas.map((a) => [a.start, a.last, a.startByte]),
    [
      [0x10_0000n, 0x10_0fffn, 0n],
      [0x10_1000n, 0x10_3fffn, 0x1000n],
    ],
  );
  t.is(iopt.areas[0]!.pages.refs, 2);
  t.is(iopt.unmapIova(0x10_0000n, 0x1000n), 0x1000n);
  const withDomain = new IoPagetable();
  withDomain.tableAddDomain(domain(PAGE));
  map(withDomain, 0x10_0000n, 0x4000n);
  t.is(code(() => withDomain.cutIova([0x10_0fffn])), 'EINVAL');
  const small = new IoPagetable();
  small.tableAddDomain(domain(PAGE));
  small.disableLargePagesOrThrow();
  map(small, 0x10_0000n, 0x4000n);
  t.is(code(() => small.cutIova([0x10_07ffn])), 'EINVAL', 'misaligned cut');
  small.cutIova([0x10_0fffn]);
  t.is(small.areas.length, 2);
});

test('iopt_alloc_pages: length 0 / huge → EINVAL, wrap → EOVERFLOW; uptr and npages page-granular', (t) => {
  t.is(code(() => alloc(0x1000n, 0n, true)), 'EINVAL');
  t.is(code(() => alloc(0x1000n, U64_MAX, true)), 'EINVAL');
  t.is(code(() => alloc(U64_MAX - 0xfffn, 0x2000n, true)), 'EOVERFLOW');
  const p = alloc(0x1ff0n, 0x20n, true);
  t.is(p.uptr, 0x1000n);
  t.is(p.npages, 2n);
});
