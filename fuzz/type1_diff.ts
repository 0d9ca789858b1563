// SPDX-License-Identifier: GPL-2.0-only
/**
 * The differential test of type1 MAP_DMA / UNMAP_DMA: random sequences run against the emulator
 * (through `m.sys.ioctl` and `m.mem`, as a C program would) and against the reference model of
 * ./type1_model.ts; every return code, every size UNMAP writes back and the entries left
 * (GET_INFO's DMA_AVAIL) must agree. On a divergence fast-check shrinks the sequence and the
 * shortest failing one is printed with its seed and a replay line.
 */
import * as fc from 'fast-check';
import {
  PROT_READ,
  PROT_WRITE,
  ROOT,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_TYPE1_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  VfioContainerHandle,
  abi,
  createMachine,
  user,
  vfio_bitmap,
  vfio_iommu_type1_dma_map,
  vfio_iommu_type1_dma_unmap,
  type Machine,
} from '../lib/index';
import { FuzzFailure, openType1, rcName } from './common';
import { knownBug } from './known';
import { MapCall, PAGE, Type1Model, UnmapCall, type Outcome } from './type1_model';

/** The emulated process's RAM for mappings: RW, a hole, read-only, PROT_NONE, RW again (pages). */
export const RAM_BASE = 0x7e00_0000_0000n;
const RAM_LAYOUT: readonly [pages: number, prot: number | undefined][] = [
  [2048, PROT_READ | PROT_WRITE],
  [8, undefined],
  [128, PROT_READ],
  [8, 0],
  [1904, PROT_READ | PROT_WRITE],
];
const RAM_PAGES = RAM_LAYOUT.reduce((n, [p]) => n + p, 0);
/** RLIMIT_MEMLOCK of an unprivileged process: 8 MiB. */
const MEMLOCK_PAGES = (8n << 20n) / PAGE;

export interface Scenario {
  readonly host: string;
  readonly kernel: string;
  readonly v2: boolean;
  readonly entryLimit: number;
  /** Where the IOVA window sits: 0 = inside the first valid range, 1 = across its end, 2 = low IOVAs. */
  readonly window: number;
}

interface Real {
  readonly m: Machine;
  readonly cfd: number;
  readonly arg: bigint;
  readonly info: VfioContainerHandle;
  readonly hasAvail: boolean;
}

export interface DiffState {
  readonly model: Type1Model;
  readonly real: Real;
  readonly scenario: Scenario;
  readonly windowBase: bigint;
}

export const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  host: fc.constantFrom('intel-vtd-server', 'amd-epyc', 'arm64-smmuv3', 'intel-vtd-server'),
  kernel: fc.constantFrom('latest', 'latest', '6.12', '5.15', '5.5', '5.3'),
  v2: fc.boolean(),
  entryLimit: fc.oneof({ weight: 3, arbitrary: fc.constant(65535) }, { weight: 2, arbitrary: fc.integer({ min: 0, max: 12 }) }),
  window: fc.integer({ min: 0, max: 2 }),
});

/** Build the machine, the container and the model for one sequence. */
export function setupDiff(sc: Scenario): DiffState {
  const m = createMachine(sc.host, { kernel: sc.kernel });
  m.params.dma_entry_limit = sc.entryLimit;
  let at = RAM_BASE;
  for (const [pages, prot] of RAM_LAYOUT) {
    if (prot !== undefined) m.mem.mmap(BigInt(pages) * PAGE, { addr: at, prot });
    at += BigInt(pages) * PAGE;
  }
  const opened = openType1(m, sc.v2 ? VFIO_TYPE1v2_IOMMU : VFIO_TYPE1_IOMMU);
  if (!opened) throw new FuzzFailure(`${sc.host}: no group could be attached to a type1 container`);
  const arg = m.mem.mmap(4096);
  const info = new VfioContainerHandle(m, opened.cfd);
  const i = info.info();
  const k = m.kernel;
  const ranges = i.iovaRanges ?? [];
  let pg = 1n;
  while ((i.iovaPgsizes & pg) === 0n) pg <<= 1n;
  const model = new Type1Model(
    {
      v2: sc.v2,
      eoverflow: k.has('vfio_dma_eoverflow'),
      unmapAll: k.has('vfio_unmap_all'),
      updateVaddr: k.has('vfio_update_vaddr'),
      entryLimit: k.has('vfio_dma_entry_limit'),
      dirtyBitmap: k.has('vfio_migration_cap'),
    },
    ranges,
    m.mem.mappings.map((v) => ({ start: v.start, end: v.end, prot: v.prot })),
    sc.entryLimit,
    MEMLOCK_PAGES,
    pg,
  );
  const first = ranges[0] ?? { start: 0n, last: (1n << 48n) - 1n };
  const windowBase =
    sc.window === 1 && first.last - first.start > 1024n * PAGE
      ? ((first.last + 1n) & ~(PAGE - 1n)) - 256n * PAGE
      : sc.window === 2
        ? first.start
        : ((first.start + 0x10_0000n) & ~(PAGE - 1n));
  return { model, real: { m, cfd: opened.cfd, arg, info, hasAvail: i.dmaAvail !== undefined }, scenario: sc, windowBase };
}

const U64 = (1n << 64n) - 1n;
/** A page count: mostly small, sometimes large enough to reach RLIMIT_MEMLOCK in a few maps. */
const pagesArb = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 1, max: 16 }) },
  { weight: 2, arbitrary: fc.integer({ min: 17, max: 900 }) },
  { weight: 1, arbitrary: fc.constantFrom(RAM_PAGES, 2048, 2049, 2056, 2057, 2184) },
);
/** An offset into the IOVA window, in pages. */
const slotArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 63 }) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 511 }) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 8191 }) },
);
const wildU64 = fc.oneof(
  fc.constantFrom(0n, 1n, PAGE - 1n, 1n << 32n, 1n << 47n, 1n << 48n, 1n << 63n, U64 - PAGE + 1n, U64, U64 - 2n * PAGE + 1n, 0xfee0_0000n, 0xfef0_0000n),
  fc.bigInt({ min: 0n, max: U64 }),
);

/** iova: { slot } is windowBase + slot pages; { raw } is used as it is. */
type Addr = { readonly slot: number; readonly off: number } | { readonly raw: bigint };
const iovaArb: fc.Arbitrary<Addr> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ slot: slotArb, off: fc.constant(0) }) },
  { weight: 1, arbitrary: fc.record({ slot: slotArb, off: fc.integer({ min: 1, max: 4095 }) }) },
  { weight: 1, arbitrary: wildU64.map((raw) => ({ raw })) },
);
/** size: pages, or raw bytes (0, unaligned, huge, exact and overflowing ends). */
type Size = { readonly pages: number } | { readonly raw: bigint } | { readonly toEnd: bigint };
const sizeArb: fc.Arbitrary<Size> = fc.oneof(
  { weight: 14, arbitrary: pagesArb.map((pages) => ({ pages })) },
  { weight: 1, arbitrary: fc.oneof(fc.constantFrom(0n, 1n, PAGE + 1n, 1n << 63n, U64), fc.bigInt({ min: 0n, max: U64 })).map((raw) => ({ raw })) },
  { weight: 1, arbitrary: fc.constantFrom(0n, 1n, PAGE).map((toEnd) => ({ toEnd })) },
);
/** vaddr: a page of the RAM layout (straddling the hole, the read-only and PROT_NONE parts), or raw. */
const vaddrArb: fc.Arbitrary<Addr> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ slot: fc.integer({ min: -8, max: RAM_PAGES + 8 }), off: fc.constant(0) }) },
  { weight: 1, arbitrary: fc.record({ slot: fc.integer({ min: 0, max: RAM_PAGES }), off: fc.integer({ min: 1, max: 4095 }) }) },
  { weight: 1, arbitrary: wildU64.map((raw) => ({ raw })) },
);

const iovaOf = (s: DiffState, a: Addr): bigint => ('raw' in a ? a.raw : (s.windowBase + BigInt(a.slot) * PAGE + BigInt(a.off)) & U64);
const vaddrOf = (a: Addr): bigint => ('raw' in a ? a.raw : (RAM_BASE + BigInt(a.slot) * PAGE + BigInt(a.off)) & U64);
const sizeOf = (iova: bigint, z: Size): bigint => ('pages' in z ? BigInt(z.pages) * PAGE : 'raw' in z ? z.raw : (U64 - iova + 1n + z.toEnd) & U64);
const show = (a: Addr) => ('raw' in a ? `0x${a.raw.toString(16)}` : `win+${a.slot}p${a.off ? `+${a.off}` : ''}`);
const showV = (a: Addr) => ('raw' in a ? `0x${a.raw.toString(16)}` : `ram+${a.slot}p${a.off ? `+${a.off}` : ''}`);
const showZ = (z: Size) => ('pages' in z ? `${z.pages}p` : 'raw' in z ? `0x${z.raw.toString(16)}` : `to-2^64+${z.toEnd}`);

/** Ops executed (for the figures). */
export const counters = { ops: 0 };

function expectSame(s: DiffState, what: string, rc: number, want: Outcome): void {
  const got = rc === 0 ? 'ok' : rcName(rc);
  const exp = 'errno' in want ? want.errno : 'ok';
  if (got !== exp && got !== 'ok' && exp !== 'ok' && knownBug(got, exp, what)) return;
  if (got !== exp) throw new FuzzFailure(`${what}: emulator ${got}, model ${exp} (mappings ${fmtMappings(s)}, locked ${s.model.lockedPages} pages, entries left ${s.model.dmaAvail})`);
}

const fmtMappings = (s: DiffState): string =>
  `[${s.model
    .mappings()
    .map((d) => `0x${d.iova.toString(16)}+${d.size / PAGE}p${d.vaddrInvalid ? '(vaddr invalid)' : ''}`)
    .join(', ')}]`;

function checkAvail(s: DiffState, what: string): void {
  if (!s.real.hasAvail) return;
  const avail = s.real.info.info().dmaAvail;
  if (avail !== s.model.dmaAvail) throw new FuzzFailure(`${what}: DMA_AVAIL says ${avail}, model ${s.model.dmaAvail} entries left`);
}

class MapCmd implements fc.Command<DiffState, DiffState> {
  constructor(
    readonly argsz: number,
    readonly flags: number,
    readonly vaddr: Addr,
    readonly iova: Addr,
    readonly size: Size,
    readonly unprivileged: boolean,
  ) {}
  check = () => true;
  run(_m: DiffState, s: DiffState): void {
    counters.ops++;
    const iova = iovaOf(s, this.iova);
    const call: MapCall = { argsz: this.argsz, flags: this.flags, vaddr: vaddrOf(this.vaddr), iova, size: sizeOf(iova, this.size), unprivileged: this.unprivileged };
    const { m, cfd, arg } = s.real;
    m.mem.write(arg, abi.encode(vfio_iommu_type1_dma_map, { argsz: call.argsz, flags: call.flags, vaddr: call.vaddr, iova: call.iova, size: call.size }));
    if (this.unprivileged) m.setCredentials(user(1000));
    let rc: number;
    try {
      rc = m.sys.ioctl(cfd, VFIO_IOMMU_MAP_DMA, arg);
    } finally {
      m.setCredentials(ROOT);
    }
    const want = s.model.map(call);
    expectSame(s, this.toString(), rc, want);
    checkAvail(s, this.toString());
  }
  toString(): string {
    return `map(argsz=${this.argsz}, flags=${this.flags}, vaddr=${showV(this.vaddr)}, iova=${show(this.iova)}, size=${showZ(this.size)}${this.unprivileged ? ', unprivileged' : ''})`;
  }
}

class UnmapCmd implements fc.Command<DiffState, DiffState> {
  constructor(
    readonly argsz: number,
    readonly flags: number,
    readonly iova: Addr,
    readonly size: Size,
    readonly bitmap: { pgsizeShift: number; size: bigint } | undefined,
  ) {}
  check = () => true;
  run(_m: DiffState, s: DiffState): void {
    counters.ops++;
    const { m, cfd, arg } = s.real;
    const all = this.flags & 2 && 'raw' in this.iova;
    const iova = all ? 0n : iovaOf(s, this.iova);
    const size = all ? 0n : sizeOf(iova, this.size);
    const bm = this.bitmap && { pgsize: 1n << BigInt(this.bitmap.pgsizeShift), size: this.bitmap.size, data: arg + 2048n };
    const call: UnmapCall = { argsz: this.argsz, flags: this.flags, iova, size, ...(bm ? { bitmap: bm } : {}) };
    const head = abi.encode(vfio_iommu_type1_dma_unmap, { argsz: call.argsz, flags: call.flags, iova, size });
    m.mem.write(arg, head);
    if (bm) m.mem.write(arg + BigInt(head.length), abi.encode(vfio_bitmap, bm));
    const rc = m.sys.ioctl(cfd, VFIO_IOMMU_UNMAP_DMA, arg);
    const back = new DataView(m.mem.read(arg + 16n, 8).buffer).getBigUint64(0, true);
    const want = s.model.unmap(call);
    expectSame(s, this.toString(), rc, want);
    const wantBack = 'unmapped' in want && want.unmapped !== undefined ? want.unmapped : size;
    if (back !== wantBack) throw new FuzzFailure(`${this.toString()}: size written back 0x${back.toString(16)}, model 0x${wantBack.toString(16)} (mappings ${fmtMappings(s)})`);
    checkAvail(s, this.toString());
  }
  toString(): string {
    const all = this.flags & 2 && 'raw' in this.iova;
    return `unmap(argsz=${this.argsz}, flags=${this.flags}, ${all ? 'iova=0, size=0' : `iova=${show(this.iova)}, size=${showZ(this.size)}`}${this.bitmap ? `, bitmap(pgsize=2^${this.bitmap.pgsizeShift}, size=${this.bitmap.size})` : ''})`;
  }
}

const argszMap = fc.oneof({ weight: 20, arbitrary: fc.constant(32) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 40 }) });
const argszUnmap = fc.oneof({ weight: 20, arbitrary: fc.constant(24) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 56 }) });
const mapFlags = fc.oneof({ weight: 16, arbitrary: fc.constant(3) }, { weight: 2, arbitrary: fc.constantFrom(1, 2) }, { weight: 2, arbitrary: fc.constantFrom(0, 4, 5, 6, 7, 8, 0x80000000) });
const unmapFlags = fc.oneof({ weight: 14, arbitrary: fc.constant(0) }, { weight: 3, arbitrary: fc.constantFrom(2, 4) }, { weight: 2, arbitrary: fc.constantFrom(1, 3, 5, 6, 7, 8, 0x80000000) });

const mapArb = fc.tuple(argszMap, mapFlags, vaddrArb, iovaArb, sizeArb, fc.boolean()).map(([a, f, v, i, z, u]) => new MapCmd(a, f, v, i, z, u));
/** Large unprivileged maps side by side above the window: they run into RLIMIT_MEMLOCK. */
const memlockArb = fc
  .tuple(fc.integer({ min: 0, max: 15 }), fc.integer({ min: -4, max: 2200 }), fc.integer({ min: 64, max: 1400 }), fc.constantFrom(1, 3))
  .map(([k, v, pages, flags]) => new MapCmd(32, flags, { slot: v, off: 0 }, { slot: 8192 + k * 1400, off: 0 }, { pages }, true));
const unmapArb = fc
  .tuple(
    argszUnmap,
    unmapFlags,
    fc.oneof({ weight: 9, arbitrary: iovaArb }, { weight: 1, arbitrary: fc.constant<Addr>({ raw: 0n }) }),
    sizeArb,
    fc.option(fc.record({ pgsizeShift: fc.integer({ min: 12, max: 40 }), size: fc.oneof(fc.constantFrom(0n, 8n, 64n, 4096n), fc.bigInt({ min: 0n, max: 1n << 30n })) }), { freq: 4 }),
  )
  .map(([a, f, i, z, b]) => new UnmapCmd(a, f, i, z, (f & 1) || (b && a >= 48) ? (b ?? undefined) : undefined));

export const commandsArb = (maxCommands: number, replayPath?: string): fc.Arbitrary<Iterable<fc.Command<DiffState, DiffState>>> =>
  fc.commands(
    // fc.commands picks uniformly among these: four maps, one memlock map, two unmaps, one UNMAP_ALL.
    [mapArb, mapArb, mapArb, mapArb, memlockArb, unmapArb, unmapArb, fc.constant(new UnmapCmd(24, 2, { raw: 0n }, { raw: 0n }, undefined))],
    { maxCommands, size: 'max', ...(replayPath ? { replayPath } : {}) },
  );

/** One property: a scenario and a command sequence; throws FuzzFailure on a divergence. */
export const diffProperty = (maxCommands: number, replayPath?: string) =>
  fc.property(scenarioArb, commandsArb(maxCommands, replayPath), (sc, cmds) => {
    const s = setupDiff(sc);
    fc.modelRun(() => ({ model: s, real: s }), cmds);
  });
