// SPDX-License-Identifier: GPL-2.0-only
/**
 * The bounded, seeded slice of `make fuzz` that `make test` runs (a few seconds), the reference
 * model's own rules as a table, the report format every failure prints, and the known bugs the
 * fuzzers found, each pinned as a failing test with its shortest case.
 */
import test from 'ava';
import * as fc from 'fast-check';
import { PROT_READ, PROT_WRITE, ROOT, VFIO_IOMMU_MAP_DMA, VFIO_TYPE1_IOMMU, abi, createMachine, errnoName, user, vfio_iommu_type1_dma_map } from '../lib/index';
import { FuzzFailure, openType1 } from './common';
import { fuzz, report } from './run';
import { MAP_READ, MAP_VADDR, MAP_WRITE, PAGE, Type1Model, UNMAP_ALL, UNMAP_VADDR, type ModelFeatures, type Outcome } from './type1_model';

const SEED = 20251201;

test('ioctl fuzz slice: 15,000 calls on every fd kind, host and profile keep every invariant', (t) => {
  const r = fuzz('ioctl', 15_000, SEED, { length: 1000, runsPerBatch: 5 });
  t.true(r.ok, r.report);
  t.true(r.count >= 15_000);
  t.log(`${r.count} calls in ${r.runs} sequences, ${r.seconds.toFixed(1)} s`);
});

test('type1 differential slice: 10,000 MAP/UNMAP operations agree with the reference model', (t) => {
  const r = fuzz('diff', 10_000, SEED, { length: 200 });
  t.true(r.ok, r.report);
  t.true(r.count >= 10_000);
  t.log(`${r.count} operations in ${r.runs} sequences, ${r.seconds.toFixed(1)} s`);
});

test('a failure prints its seed, the shrunk case and a one-line replay command', (t) => {
  const prop = fc.property(fc.array(fc.nat({ max: 100 })), (xs) => {
    if (xs.some((x) => x > 50)) throw new FuzzFailure(`saw ${xs.find((x) => x > 50)}`);
  });
  const r = fc.check(prop, { seed: 7 }) as fc.RunDetails<unknown>;
  const text = report('ioctl', 10, r);
  t.regex(text, /^fuzz ioctl: FAILED \(seed 7, path [\d:]+\)/);
  t.regex(text, /broken invariant: saw 51/, 'shrunk to the smallest failing value');
  t.regex(text, /replay: make fuzz-replay FUZZ=ioctl SEED=7 FUZZ_PATH=[\d:]+ FUZZ_LEN=10$/m);
});

// ---- the model's rules (drivers/vfio/vfio_iommu_type1.c: vfio_dma_do_map, vfio_dma_do_unmap) --

const NEW: ModelFeatures = { v2: true, eoverflow: true, unmapAll: true, updateVaddr: true, entryLimit: true, dirtyBitmap: true };
const RAM = 0x10_0000_0000n;
const model = (f: Partial<ModelFeatures> = {}, entries = 65535, memlock = 2048n) =>
  new Type1Model({ ...NEW, ...f }, [{ start: 0n, last: 0xfedf_ffffn }], [{ start: RAM, end: RAM + 64n * PAGE, prot: PROT_READ | PROT_WRITE }, { start: RAM + 65n * PAGE, end: RAM + 66n * PAGE, prot: PROT_READ }], entries, memlock);
const map = (iova: bigint, pages: bigint, o: { flags?: number; vaddr?: bigint; unprivileged?: boolean; size?: bigint } = {}) => ({
  argsz: 32,
  flags: o.flags ?? MAP_READ | MAP_WRITE,
  vaddr: o.vaddr ?? RAM,
  iova,
  size: o.size ?? pages * PAGE,
  unprivileged: o.unprivileged ?? false,
});
const unmap = (iova: bigint, pages: bigint, flags = 0) => ({ argsz: 24, flags, iova, size: pages * PAGE });
const res = (o: Outcome) => ('errno' in o ? o.errno : `ok${o.unmapped !== undefined ? ` ${o.unmapped / PAGE}p` : ''}`);

const rules: [string, (m: Type1Model) => Outcome, string, Partial<ModelFeatures>?][] = [
  ['size 0 → EINVAL before the overflow check', (m) => m.map(map(U(64) - PAGE, 0n)), 'EINVAL'],
  ['iova + size wraps → EOVERFLOW (6.19+)', (m) => m.map(map(U(64) - PAGE + 1n, 2n)), 'EOVERFLOW'],
  ['iova + size wraps → EINVAL before 6.19', (m) => m.map(map(U(64) - PAGE + 1n, 2n)), 'EINVAL', { eoverflow: false }],
  ['no READ/WRITE → EINVAL', (m) => m.map(map(0n, 1n, { flags: 0 })), 'EINVAL'],
  ['unaligned vaddr → EINVAL', (m) => m.map(map(0n, 1n, { vaddr: RAM + 1n })), 'EINVAL'],
  ['overlap → EEXIST', (m) => (m.map(map(0n, 4n)), m.map(map(3n * PAGE, 2n))), 'EEXIST'],
  ['no entries left → ENOSPC (before the IOVA check)', (m) => (m.map(map(0n, 1n)), m.map(map(0xff00_0000n, 1n))), 'ENOSPC'],
  ['outside the IOVA list → EINVAL', (m) => m.map(map(0xfee0_0000n, 1n)), 'EINVAL'],
  ['an unmapped page → EFAULT', (m) => m.map(map(0n, 65n)), 'EFAULT'],
  ['a read-only page mapped device-writable → EFAULT', (m) => m.map(map(0n, 1n, { vaddr: RAM + 65n * PAGE })), 'EFAULT'],
  ['a read-only page mapped device-read-only → ok', (m) => m.map(map(0n, 1n, { vaddr: RAM + 65n * PAGE, flags: MAP_READ })), 'ok'],
  ['past RLIMIT_MEMLOCK before any fault → ENOMEM', (m) => (m.map(map(0n, 40n)), m.map(map(0x100_0000n, 30n, { unprivileged: true }))), 'ENOMEM'],
  ['the same with CAP_IPC_LOCK → ok', (m) => (m.map(map(0n, 40n)), m.map(map(0x100_0000n, 30n))), 'ok'],
  ['the faulting page is the first past the limit → EFAULT', (m) => (m.map(map(0n, 60n)), m.map(map(0x100_0000n, 5n, { unprivileged: true, vaddr: RAM + 60n * PAGE }))), 'EFAULT'],
  ['a fault after the limit → ENOMEM', (m) => (m.map(map(0n, 60n)), m.map(map(0x100_0000n, 7n, { unprivileged: true, vaddr: RAM + 58n * PAGE }))), 'ENOMEM'],
  ['the limit used up, the first page faults → EFAULT', (m) => (m.map(map(0n, 64n)), m.map(map(0x100_0000n, 1n, { unprivileged: true, vaddr: RAM + 64n * PAGE }))), 'EFAULT'],
  ['VADDR on nothing → ENOENT', (m) => m.map(map(0n, 1n, { flags: MAP_VADDR })), 'ENOENT'],
  ['VADDR on a valid vaddr → EINVAL', (m) => (m.map(map(0n, 1n)), m.map(map(0n, 1n, { flags: MAP_VADDR }))), 'EINVAL'],
  ['VADDR after invalidation → ok', (m) => (m.map(map(0n, 1n)), m.unmap(unmap(0n, 1n, UNMAP_VADDR)), m.map(map(0n, 1n, { flags: MAP_VADDR }))), 'ok'],
  ['invalidating twice → EINVAL', (m) => (m.map(map(0n, 1n)), m.unmap(unmap(0n, 1n, UNMAP_VADDR)), m.unmap(unmap(0n, 1n, UNMAP_VADDR))), 'EINVAL'],
  ['v2: bisecting a mapping → EINVAL', (m) => (m.map(map(0n, 4n)), m.unmap(unmap(PAGE, 1n))), 'EINVAL'],
  ['v2: covering two mappings → both', (m) => (m.map(map(0n, 2n)), m.map(map(4n * PAGE, 2n)), m.unmap(unmap(0n, 8n))), 'ok 4p'],
  ['v1: starting inside a mapping → ok, nothing', (m) => (m.map(map(0n, 4n)), m.unmap(unmap(PAGE, 1n))), 'ok 0p', { v2: false }],
  ['v1: covering a mapping\'s start → all of it', (m) => (m.map(map(0n, 4n)), m.unmap(unmap(0n, 1n))), 'ok 4p', { v2: false }],
  ['UNMAP_ALL with a size → EINVAL', (m) => m.unmap(unmap(0n, 1n, UNMAP_ALL)), 'EINVAL'],
  ['UNMAP_ALL → everything', (m) => (m.map(map(0n, 2n)), m.map(map(8n * PAGE, 3n)), m.unmap({ argsz: 24, flags: UNMAP_ALL, iova: 0n, size: 0n })), 'ok 5p'],
  ['UNMAP_ALL before 5.12 → EINVAL (unknown flag)', (m) => m.unmap({ argsz: 24, flags: UNMAP_ALL, iova: 0n, size: 0n }), 'EINVAL', { unmapAll: false }],
];
function U(bits: number): bigint {
  return (1n << BigInt(bits)) - 1n;
}
for (const [name, op, want, f] of rules) {
  test(`type1 model rule: ${name}`, (t) => {
    t.is(res(op(model(f, name.includes('ENOSPC') ? 1 : 65535, 64n))), want);
  });
}

// ---- bugs the fuzzers found, fixed (fuzz/known.ts lists the open ones) -----------------------

test('found by make fuzz (seed 40): a faulting page that is also the first past RLIMIT_MEMLOCK is EFAULT, not ENOMEM', (t) => {
  // The shortest case: lock the whole 8 MiB, then map one page of a hole.
  const m = createMachine('intel-vtd-server');
  const ram = 0x7e00_0000_0000n;
  m.mem.mmap(2048n * PAGE, { addr: ram });
  const o = openType1(m, VFIO_TYPE1_IOMMU)!;
  const arg = m.mem.mmap(PAGE);
  const mapIt = (vaddr: bigint, iova: bigint, pages: bigint, unprivileged: boolean) => {
    m.mem.write(arg, abi.encode(vfio_iommu_type1_dma_map, { argsz: 32, flags: 3, vaddr, iova, size: pages * PAGE }));
    if (unprivileged) m.setCredentials(user(1000));
    const rc = m.sys.ioctl(o.cfd, VFIO_IOMMU_MAP_DMA, arg);
    m.setCredentials(ROOT);
    return rc;
  };
  t.is(mapIt(ram, 0x100000n, 2048n, true), 0, 'the whole RLIMIT_MEMLOCK');
  const rc = mapIt(ram + 2048n * PAGE, 0x1000_0000n, 1n, true);
  t.is(rc > 0 ? 'ok' : errnoName(-rc), 'EFAULT', 'vfio_pin_pages_remote faults on the page before it counts it');
});
