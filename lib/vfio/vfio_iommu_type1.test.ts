// SPDX-License-Identifier: GPL-2.0-only
import test from 'ava';
import { decode, encode, walkCapChain } from '../abi';
import { PROT_READ } from '../uapi/fcntl';
import { user } from '../cred';
import type { Errno } from '../errno';
import { ResvType } from '../model/resv_region';
import {
  VFIO_CHECK_EXTENSION,
  VFIO_DMA_CC_IOMMU,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_VADDR,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_DMA_UNMAP_FLAG_ALL,
  VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
  VFIO_DMA_UNMAP_FLAG_VADDR,
  VFIO_IOMMU_DIRTY_PAGES,
  VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP,
  VFIO_IOMMU_DIRTY_PAGES_FLAG_START,
  VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP,
  VFIO_IOMMU_ENABLE,
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_INFO_CAPS,
  VFIO_IOMMU_INFO_PGSIZES,
  VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
  VFIO_TYPE1_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  VFIO_UNMAP_ALL,
  VFIO_UPDATE_VADDR,
  vfio_bitmap,
  vfio_iommu_type1_dirty_bitmap,
  vfio_iommu_type1_dirty_bitmap_get,
  vfio_iommu_type1_info,
} from '../uapi';
import { DmaTree } from './dma_tree';
import { O_RDWR } from '../uapi/fcntl';
import { Type1Fixture, bindVfioPci, mapRaw, rcCode, setContainerRaw, type1Fixture, unmapRaw, vfioGroupOf } from '../testing/vfio';
import { vfioIommuAperResize, vfioIommuResvExclude } from './vfio_iommu_type1';

const MiB = 1n << 20n;
const KERNELS = ['latest', '6.6', '6.1', '5.10'] as const;
type Kernel = (typeof KERNELS)[number];
const U64_MAX = (1n << 64n) - 1n;

interface Case {
  readonly name: string;
  /** Expected errno (0: success) — or per kernel. */
  readonly code: Errno | 0 | ((k: Kernel) => Errno | 0);
  readonly run: (f: Type1Fixture) => number;
  readonly type?: number;
  readonly setup?: (f: Type1Fixture) => void;
  /** Runs on the machine before the container is set up (module parameters). */
  readonly pre?: (m: Type1Fixture['m']) => void;
}

const newer = (yes: Errno | 0, no: Errno | 0) => (k: Kernel) => (k === 'latest' ? yes : no);

function runTable(title: string, cases: readonly Case[]): void {
  for (const k of KERNELS) {
    for (const c of cases) {
      test(`${title}: ${c.name} [${k}]`, (t) => {
        const f = type1Fixture('intel-vtd-server', { kernel: k, type: c.type, setup: c.pre });
        c.setup?.(f);
        const want = typeof c.code === 'function' ? c.code(k) : c.code;
        t.is(rcCode(c.run(f)), want);
      });
    }
  }
}

const map = (f: Type1Fixture, iova: bigint, size: bigint, extra: Partial<{ flags: number; vaddr: bigint; argsz: number }> = {}) =>
  mapRaw(f.m, f.cfd, { iova, size, vaddr: extra.vaddr ?? f.ram, flags: extra.flags, argsz: extra.argsz });

// ---- VFIO_IOMMU_MAP_DMA, in vfio_dma_do_map's order --------------------------------------

runTable('MAP_DMA', [
  { name: 'argsz below 32', code: 'EINVAL', run: (f) => map(f, MiB, MiB, { argsz: 31 }) },
  { name: 'unknown flag', code: 'EINVAL', run: (f) => map(f, MiB, MiB, { flags: 3 | (1 << 3) }) },
  { name: 'argument not mapped', code: 'EFAULT', run: (f) => f.m.sys.ioctl(f.cfd, 0x3b71, 0x1000n) },
  { name: 'size 0', code: 'EINVAL', run: (f) => map(f, MiB, 0n) },
  { name: 'iova + size wraps', code: newer('EOVERFLOW', 'EINVAL'), run: (f) => map(f, U64_MAX - 0xfffn, 0x2000n) },
  { name: 'vaddr + size wraps', code: newer('EOVERFLOW', 'EINVAL'), run: (f) => map(f, MiB, 0x2000n, { vaddr: U64_MAX - 0xfffn }) },
  { name: 'wrap is checked before prot', code: newer('EOVERFLOW', 'EINVAL'), run: (f) => map(f, U64_MAX - 0xfffn, 0x2000n, { flags: 0 }) },
  { name: 'neither READ nor WRITE', code: 'EINVAL', run: (f) => map(f, MiB, MiB, { flags: 0 }) },
  { name: 'READ with VADDR', code: 'EINVAL', run: (f) => map(f, MiB, MiB, { flags: VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_VADDR }) },
  { name: 'size not page aligned', code: 'EINVAL', run: (f) => map(f, MiB, MiB + 1n) },
  { name: 'iova not page aligned', code: 'EINVAL', run: (f) => map(f, MiB + 0x800n, MiB) },
  { name: 'vaddr not page aligned', code: 'EINVAL', run: (f) => map(f, MiB, MiB, { vaddr: f.ram + 0x10n }) },
  { name: 'VADDR with nothing mapped there', code: (k) => (k === '5.10' ? 'EINVAL' : 'ENOENT'), run: (f) => map(f, MiB, MiB, { flags: VFIO_DMA_MAP_FLAG_VADDR }) },
  { name: 'VADDR on a live (valid-vaddr) mapping', code: 'EINVAL', setup: (f) => void map(f, MiB, MiB), run: (f) => map(f, MiB, MiB, { flags: VFIO_DMA_MAP_FLAG_VADDR }) },
  { name: 'exact re-map (DPDK: already mapped)', code: 'EEXIST', setup: (f) => void map(f, MiB, MiB), run: (f) => map(f, MiB, MiB) },
  { name: 'partial overlap at the start', code: 'EEXIST', setup: (f) => void map(f, 2n * MiB, MiB), run: (f) => map(f, MiB + MiB / 2n, MiB) },
  { name: 'partial overlap at the end', code: 'EEXIST', setup: (f) => void map(f, 2n * MiB, MiB), run: (f) => map(f, 2n * MiB + 0x1000n, MiB) },
  { name: 'overlap checked before alignment? no: alignment first', code: 'EINVAL', setup: (f) => void map(f, MiB, MiB), run: (f) => map(f, MiB, MiB + 1n) },
  { name: 'adjacent below is fine', code: 0, setup: (f) => void map(f, 2n * MiB, MiB), run: (f) => map(f, MiB, MiB) },
  {
    name: 'dma_entry_limit reached',
    code: 'ENOSPC',
    pre: (m) => (m.params.dma_entry_limit = 2),
    setup: (f) => (map(f, 4n * MiB, MiB), map(f, 8n * MiB, MiB)),
    run: (f) => map(f, MiB, MiB),
  },
  { name: 'inside the MSI window', code: 'EINVAL', run: (f) => map(f, 0xfee00000n, MiB) },
  { name: 'straddles the MSI window', code: 'EINVAL', run: (f) => map(f, 0xfed00000n, 2n * MiB) },
  { name: 'beyond the 48-bit aperture', code: 'EINVAL', run: (f) => map(f, 1n << 48n, MiB) },
  { name: 'overlap is checked before the IOVA list', code: 'EEXIST', setup: (f) => void map(f, MiB, MiB), run: (f) => map(f, MiB, MiB) },
  { name: 'vaddr not mapped in the process', code: 'EFAULT', run: (f) => map(f, MiB, MiB, { vaddr: 0x1000_0000n }) },
  { name: 'vaddr runs past its mapping', code: 'EFAULT', run: (f) => map(f, MiB, 128n * MiB) },
  { name: 'device-writable map of read-only memory', code: 'EFAULT', run: (f) => map(f, MiB, MiB, { vaddr: f.m.mem.mmap(MiB, { prot: PROT_READ }) }) },
  {
    name: 'read-only map of read-only memory',
    code: 0,
    run: (f) => map(f, MiB, MiB, { vaddr: f.m.mem.mmap(MiB, { prot: PROT_READ }), flags: VFIO_DMA_MAP_FLAG_READ }),
  },
  {
    name: 'RLIMIT_MEMLOCK without CAP_IPC_LOCK',
    code: 'ENOMEM',
    setup: (f) => f.m.setCredentials(user(1000)),
    run: (f) => map(f, MiB, 16n * MiB),
  },
  { name: 'success', code: 0, run: (f) => map(f, MiB, 16n * MiB) },
]);

test('MAP_DMA: dma_entry_limit is a module parameter read at SET_IOMMU; every failed map gives its slot back', (t) => {
  const f = type1Fixture('intel-vtd-server', { setup: (m) => (m.params.dma_entry_limit = 3) });
  t.is(map(f, 0x10000000n, MiB, { vaddr: 0x10n }), -22);
  t.is(map(f, 0x10000000n, MiB, { vaddr: 0x1000_0000n }), -14);
  for (let i = 0n; i < 3n; i++) t.is(map(f, MiB * (i + 1n), MiB), 0);
  t.is(rcCode(map(f, 8n * MiB, MiB)), 'ENOSPC');
  t.is(unmapRaw(f.m, f.cfd, { iova: MiB, size: MiB }).rc, 0);
  t.is(map(f, 8n * MiB, MiB), 0);
});

test('MAP_DMA: no limit before v5.1', (t) => {
  const f = type1Fixture('intel-vtd-server', { kernel: '4.19', setup: (m) => (m.params.dma_entry_limit = 1) });
  t.is(map(f, MiB, MiB), 0);
  t.is(map(f, 2n * MiB, MiB), 0);
});

test('MAP_DMA: adjacent mappings never merge (two unmaps needed, each its own size)', (t) => {
  const f = type1Fixture();
  t.is(map(f, MiB, MiB), 0);
  t.is(map(f, 2n * MiB, MiB, { vaddr: f.ram + MiB }), 0);
  t.is(rcCode(unmapRaw(f.m, f.cfd, { iova: MiB, size: MiB / 2n }).rc), 'EINVAL');
  t.deepEqual(unmapRaw(f.m, f.cfd, { iova: MiB, size: MiB }), { rc: 0, size: MiB });
  t.deepEqual(unmapRaw(f.m, f.cfd, { iova: 2n * MiB, size: MiB }), { rc: 0, size: MiB });
});

// ---- VFIO_IOMMU_UNMAP_DMA ---------------------------------------------------------------

const bitmapTail = (pgsize: bigint, size: bigint, data: bigint) => encode(vfio_bitmap, { pgsize, size, data });
const withMaps = (f: Type1Fixture) => {
  map(f, MiB, 2n * MiB);
  map(f, 4n * MiB, MiB, { vaddr: f.ram + 2n * MiB });
};
const unmap = (f: Type1Fixture, iova: bigint, size: bigint, flags = 0, tail?: Uint8Array, argsz?: number) => unmapRaw(f.m, f.cfd, { iova, size, flags, tail, argsz }).rc;

runTable('UNMAP_DMA', [
  { name: 'argsz below 24', code: 'EINVAL', run: (f) => unmap(f, MiB, MiB, 0, undefined, 23) },
  { name: 'unknown flag', code: 'EINVAL', run: (f) => unmap(f, MiB, MiB, 1 << 3) },
  { name: 'GET_DIRTY_BITMAP with ALL', code: 'EINVAL', run: (f) => unmap(f, 0n, 0n, VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | VFIO_DMA_UNMAP_FLAG_ALL) },
  { name: 'GET_DIRTY_BITMAP with VADDR', code: 'EINVAL', run: (f) => unmap(f, MiB, MiB, VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | VFIO_DMA_UNMAP_FLAG_VADDR) },
  { name: 'GET_DIRTY_BITMAP, argsz without the bitmap', code: 'EINVAL', run: (f) => unmap(f, MiB, MiB, VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) },
  {
    name: 'GET_DIRTY_BITMAP, bitmap in kernel space',
    code: 'EINVAL',
    run: (f) => unmap(f, MiB, MiB, VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, bitmapTail(0x1000n, 64n, 0xffff_8000_0000_0000n)),
  },
  {
    name: 'GET_DIRTY_BITMAP, bitmap too small',
    code: 'EINVAL',
    run: (f) => unmap(f, MiB, 2n * MiB, VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, bitmapTail(0x1000n, 8n, f.m.mem.alloc(8))),
  },
  { name: 'argument not mapped', code: 'EFAULT', run: (f) => f.m.sys.ioctl(f.cfd, 0x3b72, 0n) },
  { name: 'iova not aligned', code: 'EINVAL', run: (f) => unmap(f, MiB + 1n, MiB) },
  { name: 'ALL with an iova', code: 'EINVAL', run: (f) => unmap(f, MiB, 0n, VFIO_DMA_UNMAP_FLAG_ALL) },
  { name: 'ALL with a size', code: 'EINVAL', run: (f) => unmap(f, 0n, MiB, VFIO_DMA_UNMAP_FLAG_ALL) },
  { name: 'size 0', code: 'EINVAL', run: (f) => unmap(f, MiB, 0n) },
  { name: 'size not aligned', code: 'EINVAL', run: (f) => unmap(f, MiB, 0x800n) },
  { name: 'iova + size wraps', code: newer('EOVERFLOW', 'EINVAL'), run: (f) => unmap(f, U64_MAX - 0xfffn, 0x2000n) },
  {
    name: 'GET_DIRTY_BITMAP while not tracking',
    code: 'EINVAL',
    setup: withMaps,
    run: (f) => unmap(f, MiB, 2n * MiB, VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, bitmapTail(0x1000n, 64n, f.m.mem.alloc(64))),
  },
  { name: 'v2: range starts inside a mapping', code: 'EINVAL', setup: withMaps, run: (f) => unmap(f, 2n * MiB, 4n * MiB) },
  { name: 'v2: range ends inside a mapping', code: 'EINVAL', setup: withMaps, run: (f) => unmap(f, 0n, 2n * MiB) },
  { name: 'v2: an empty range is success', code: 0, setup: withMaps, run: (f) => unmap(f, 16n * MiB, MiB) },
  { name: 'v2: covering both', code: 0, setup: withMaps, run: (f) => unmap(f, 0n, 8n * MiB) },
  { name: 'v1: starting inside a mapping is success', code: 0, type: VFIO_TYPE1_IOMMU, setup: withMaps, run: (f) => unmap(f, 2n * MiB, MiB) },
  { name: 'UNMAP_ALL', code: (k) => (k === '5.10' ? 'EINVAL' : 0), setup: withMaps, run: (f) => unmap(f, 0n, 0n, VFIO_DMA_UNMAP_FLAG_ALL) },
  { name: 'VADDR invalidation twice (flag unknown before 5.12)', code: 'EINVAL', setup: (f) => (withMaps(f), unmap(f, MiB, 2n * MiB, VFIO_DMA_UNMAP_FLAG_VADDR)), run: (f) => unmap(f, 0n, 8n * MiB, VFIO_DMA_UNMAP_FLAG_VADDR) },
]);

test('UNMAP_DMA: size written back is the exact bytes unmapped (DPDK/rust-vmm compare it)', (t) => {
  const f = type1Fixture();
  withMaps(f);
  t.deepEqual(unmapRaw(f.m, f.cfd, { iova: MiB, size: 2n * MiB }), { rc: 0, size: 2n * MiB });
  t.deepEqual(unmapRaw(f.m, f.cfd, { iova: 0n, size: 16n * MiB }), { rc: 0, size: MiB });
  t.deepEqual(unmapRaw(f.m, f.cfd, { iova: 0n, size: 16n * MiB }), { rc: 0, size: 0n });
});

test('UNMAP_DMA: on error the user struct is not written back', (t) => {
  const f = type1Fixture();
  withMaps(f);
  t.deepEqual(unmapRaw(f.m, f.cfd, { iova: 2n * MiB, size: 4n * MiB }), { rc: -22, size: 4n * MiB });
});

test('UNMAP_DMA: v1 removes a mapping whose first byte is covered, in full', (t) => {
  const f = type1Fixture('intel-vtd-server', { type: VFIO_TYPE1_IOMMU });
  withMaps(f);
  t.deepEqual(unmapRaw(f.m, f.cfd, { iova: 2n * MiB, size: MiB }), { rc: 0, size: 0n });
  t.deepEqual(unmapRaw(f.m, f.cfd, { iova: MiB, size: 0x1000n }), { rc: 0, size: 2n * MiB });
});

test('UNMAP_DMA: UNMAP_ALL returns the total; not an extension before v5.12', (t) => {
  const f = type1Fixture();
  withMaps(f);
  t.deepEqual(unmapRaw(f.m, f.cfd, { iova: 0n, size: 0n, flags: VFIO_DMA_UNMAP_FLAG_ALL }), { rc: 0, size: 3n * MiB });
  const old = type1Fixture('intel-vtd-server', { kernel: '5.10' });
  t.is(old.m.sys.ioctl(old.cfd, VFIO_CHECK_EXTENSION, VFIO_UNMAP_ALL), 0);
  t.is(rcCode(unmapRaw(old.m, old.cfd, { iova: 0n, size: 0n, flags: VFIO_DMA_UNMAP_FLAG_ALL }).rc), 'EINVAL');
});

test('UNMAP/MAP VADDR: invalidate, re-map with a new vaddr, attach blocked meanwhile', (t) => {
  const f = type1Fixture();
  withMaps(f);
  t.deepEqual(unmapRaw(f.m, f.cfd, { iova: MiB, size: 2n * MiB, flags: VFIO_DMA_UNMAP_FLAG_VADDR }), { rc: 0, size: 2n * MiB });
  t.is(rcCode(map(f, MiB, MiB, { flags: VFIO_DMA_MAP_FLAG_VADDR })), 'EINVAL');
  t.is(map(f, MiB, 2n * MiB, { flags: VFIO_DMA_MAP_FLAG_VADDR, vaddr: f.ram + 8n * MiB }), 0);
  t.is(rcCode(map(f, MiB, 2n * MiB, { flags: VFIO_DMA_MAP_FLAG_VADDR })), 'EINVAL');
});

// ---- GET_INFO ----------------------------------------------------------------------------

function getInfo(f: Type1Fixture, argsz: number): { rc: number; raw: Uint8Array; info: ReturnType<typeof decode<typeof vfio_iommu_type1_info>> } {
  const len = Math.max(argsz, 24, 256);
  const bytes = new Uint8Array(len).fill(0xee);
  bytes.set(encode(vfio_iommu_type1_info, { argsz }).subarray(0, 8));
  const p = f.m.mem.alloc(bytes);
  const rc = f.m.sys.ioctl(f.cfd, VFIO_IOMMU_GET_INFO, p);
  const raw = f.m.mem.read(p, len);
  return { rc, raw, info: decode(vfio_iommu_type1_info, raw) };
}

runTable('GET_INFO', [
  { name: 'argsz below 16', code: 'EINVAL', run: (f) => getInfo(f, 15).rc },
  { name: 'argument not mapped', code: 'EFAULT', run: (f) => f.m.sys.ioctl(f.cfd, VFIO_IOMMU_GET_INFO, 8n) },
  { name: 'argsz 16', code: 0, run: (f) => getInfo(f, 16).rc },
]);

test('GET_INFO: QEMU loop terminates, argsz never grows once it fits, chain padded per profile', (t) => {
  for (const [k, need, iovaAt] of [
    ['latest', 88 + 32, 72],
    ['6.1', 84 + 32, 68],
  ] as const) {
    const f = type1Fixture('intel-vtd-server', { kernel: k });
    let argsz = 24;
    let calls = 0;
    let r = getInfo(f, argsz);
    for (; r.info.argsz > argsz && calls < 10; calls++) {
      argsz = r.info.argsz;
      r = getInfo(f, argsz);
    }
    t.is(calls, 1, k);
    t.is(argsz, need, k);
    t.is(r.info.argsz, need, k);
    t.is(r.info.flags, VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS);
    t.is(r.info.cap_offset, 24);
    const chain = walkCapChain(r.raw, 24).caps;
    t.deepEqual(
      chain.map((c) => c.id),
      [2, 3, 1],
    );
    t.is(chain.find((c) => c.id === VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE)!.offset, iovaAt, k);
    const big = getInfo(f, 4096);
    t.is(big.info.argsz, 4096, 'a larger buffer keeps its argsz');
  }
});

test('GET_INFO: too small a buffer gets CAPS, the needed argsz, cap_offset 0 and no chain', (t) => {
  const f = type1Fixture();
  const r = getInfo(f, 24);
  t.is(r.rc, 0);
  t.is(r.info.flags, VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS);
  t.is(r.info.cap_offset, 0);
  t.is(r.info.iova_pgsizes, 0x40201000n);
  t.true(r.raw.subarray(24, 64).every((b) => b === 0xee));
});

test('GET_INFO: bytes copied back — min(argsz, 24) since 6.6, 16 or 20 before', (t) => {
  const latest = getInfo(type1Fixture(), 20);
  t.deepEqual([...latest.raw.subarray(16, 24)], [0, 0, 0, 0, 0xee, 0xee, 0xee, 0xee]);
  const old16 = getInfo(type1Fixture('intel-vtd-server', { kernel: '6.1' }), 16);
  t.deepEqual([...old16.raw.subarray(16, 24)], new Array(8).fill(0xee));
  const old24 = getInfo(type1Fixture('intel-vtd-server', { kernel: '6.1' }), 24);
  t.deepEqual([...old24.raw.subarray(16, 24)], [0, 0, 0, 0, 0xee, 0xee, 0xee, 0xee]);
});

test('GET_INFO: no capabilities before v5.4; dma_avail counts down', (t) => {
  const old = getInfo(type1Fixture('intel-vtd-server', { kernel: '5.3' }), 24);
  t.is(old.info.flags, VFIO_IOMMU_INFO_PGSIZES);
  t.is(old.info.argsz, 24);
  const f = type1Fixture();
  map(f, MiB, MiB);
  const r = getInfo(f, 256);
  const avail = walkCapChain(r.raw, 24).caps.find((c) => c.id === 3)!;
  t.is(new DataView(r.raw.buffer).getUint32(avail.offset + 8, true), 65534);
});

// 7d6e1329652e (v5.10) and its 5.4.y backport ([PATCH 5.4 02/62], 5.4.90), which adds the cap
// after the IOVA ranges instead of before them.
for (const [kernel, ids] of [['5.4.89', [1]], ['5.4.90', [1, 3]], ['5.9', [2, 1]], ['5.10', [2, 3, 1]]] as const) {
  test(`GET_INFO capability chain on ${kernel}: ids ${ids.join(', ')}`, (t) => {
    const r = getInfo(type1Fixture('intel-vtd-server', { kernel }), 512);
    t.deepEqual(walkCapChain(r.raw, 24).caps.map((c) => c.id), [...ids]);
  });
}

// ---- CHECK_EXTENSION / other container ioctls after SET_IOMMU -------------------------------

test('CHECK_EXTENSION after SET_IOMMU: exactly 1 for what type1 supports', (t) => {
  const f = type1Fixture();
  const ext = (e: number) => f.m.sys.ioctl(f.cfd, VFIO_CHECK_EXTENSION, e);
  t.is(ext(VFIO_TYPE1_IOMMU), 1);
  t.is(ext(VFIO_TYPE1v2_IOMMU), 1);
  t.is(ext(VFIO_UNMAP_ALL), 1);
  t.is(ext(VFIO_UPDATE_VADDR), 1);
  t.is(ext(VFIO_DMA_CC_IOMMU), 1);
  t.is(ext(6), 1, 'VFIO_TYPE1_NESTING_IOMMU: still advertised on 6.8');
  t.is(ext(2), 0);
  const latest = type1Fixture('intel-vtd-server', { kernel: 'latest' });
  t.is(latest.m.sys.ioctl(latest.cfd, VFIO_CHECK_EXTENSION, 6), 0, 'removed by "vfio: Remove VFIO_TYPE1_NESTING_IOMMU"');
  t.is(rcCode(f.m.sys.ioctl(f.cfd, VFIO_IOMMU_ENABLE, 0)), 'ENOTTY');
});

// ---- DIRTY_PAGES ------------------------------------------------------------------------

function dirty(f: Type1Fixture, flags: number, range?: { iova: bigint; size: bigint; pgsize: bigint; bsize: bigint; data: bigint }, argsz?: number): number {
  const head = encode(vfio_iommu_type1_dirty_bitmap, { argsz: argsz ?? 8 + (range ? 40 : 0), flags });
  const body = range ? encode(vfio_iommu_type1_dirty_bitmap_get, { iova: range.iova, size: range.size, bitmap: { pgsize: range.pgsize, size: range.bsize, data: range.data } }) : new Uint8Array(0);
  const bytes = new Uint8Array(head.length + body.length);
  bytes.set(head);
  bytes.set(body, head.length);
  return f.m.sys.ioctl(f.cfd, VFIO_IOMMU_DIRTY_PAGES, f.m.mem.alloc(bytes));
}
const getBitmap = (f: Type1Fixture, o: Partial<{ iova: bigint; size: bigint; pgsize: bigint; bsize: bigint; data: bigint }> = {}) =>
  dirty(f, VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP, { iova: MiB, size: 2n * MiB, pgsize: 0x1000n, bsize: 64n, data: f.m.mem.alloc(64), ...o });
const tracking = (f: Type1Fixture) => {
  withMaps(f);
  dirty(f, VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
};

runTable('DIRTY_PAGES', [
  { name: 'v1 container', code: 'EACCES', type: VFIO_TYPE1_IOMMU, run: (f) => dirty(f, VFIO_IOMMU_DIRTY_PAGES_FLAG_START) },
  { name: 'argsz below 8', code: 'EINVAL', run: (f) => dirty(f, VFIO_IOMMU_DIRTY_PAGES_FLAG_START, undefined, 7) },
  { name: 'unknown flag', code: 'EINVAL', run: (f) => dirty(f, 1 << 3) },
  { name: 'no flag', code: 'EINVAL', run: (f) => dirty(f, 0) },
  { name: 'two flags', code: 'EINVAL', run: (f) => dirty(f, VFIO_IOMMU_DIRTY_PAGES_FLAG_START | VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP) },
  { name: 'START twice', code: 0, setup: (f) => void dirty(f, VFIO_IOMMU_DIRTY_PAGES_FLAG_START), run: (f) => dirty(f, VFIO_IOMMU_DIRTY_PAGES_FLAG_START) },
  { name: 'STOP when stopped', code: 0, run: (f) => dirty(f, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP) },
  { name: 'GET_BITMAP without the range', code: 'EINVAL', run: (f) => dirty(f, VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP) },
  { name: 'GET_BITMAP size 0', code: 'EINVAL', setup: tracking, run: (f) => getBitmap(f, { size: 0n }) },
  { name: 'GET_BITMAP wraps', code: newer('EOVERFLOW', 'EINVAL'), setup: tracking, run: (f) => getBitmap(f, { iova: U64_MAX - 0xfffn, size: 0x2000n }) },
  { name: 'GET_BITMAP ending at 2^64 (older: iova + size < iova)', code: newer(0, 'EINVAL'), setup: tracking, run: (f) => getBitmap(f, { iova: U64_MAX - 0xfffn, size: 0x1000n }) },
  { name: 'GET_BITMAP bitmap in kernel space', code: 'EINVAL', setup: tracking, run: (f) => getBitmap(f, { data: 0xffff_8000_0000_0000n }) },
  { name: 'GET_BITMAP bitmap too small', code: 'EINVAL', setup: tracking, run: (f) => getBitmap(f, { size: 1024n * MiB, bsize: 8n }) },
  { name: 'GET_BITMAP other pgsize', code: 'EINVAL', setup: tracking, run: (f) => getBitmap(f, { pgsize: 0x200000n, size: 2n * MiB }) },
  { name: 'GET_BITMAP iova unaligned', code: 'EINVAL', setup: tracking, run: (f) => getBitmap(f, { iova: MiB + 1n }) },
  { name: 'GET_BITMAP while not tracking', code: 'EINVAL', setup: withMaps, run: (f) => getBitmap(f) },
  { name: 'GET_BITMAP bisecting a mapping', code: 'EINVAL', setup: tracking, run: (f) => getBitmap(f, { iova: 2n * MiB, size: MiB }) },
  { name: 'GET_BITMAP bitmap unmapped', code: 'EFAULT', setup: tracking, run: (f) => getBitmap(f, { data: 0x1000_0000n }) },
  { name: 'GET_BITMAP', code: 0, setup: tracking, run: (f) => getBitmap(f) },
]);

test('DIRTY_PAGES: every pinned page reads dirty; unmap with GET_DIRTY_BITMAP reports them', (t) => {
  const f = type1Fixture();
  tracking(f);
  const data = f.m.mem.alloc(256);
  t.is(getBitmap(f, { iova: 0n, size: 8n * MiB, bsize: 256n, data }), 0);
  const bits = f.m.mem.read(data, 256);
  // pages 256..767 (1..3 MiB) and 1024..1279 (4..5 MiB)
  t.is(bits[31], 0);
  t.is(bits[32], 0xff);
  t.is(bits[95], 0xff);
  t.is(bits[96], 0);
  t.is(bits[128], 0xff);
  t.is(bits[160], 0);
  const ubits = f.m.mem.alloc(64);
  t.deepEqual(unmapRaw(f.m, f.cfd, { iova: MiB, size: 2n * MiB, flags: VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, tail: bitmapTail(0x1000n, 64n, ubits) }), {
    rc: 0,
    size: 2n * MiB,
  });
  t.is(f.m.mem.read(ubits, 64)[63], 0xff);
});

test('DIRTY_PAGES: not a type1 ioctl before v5.8', (t) => {
  const f = type1Fixture('intel-vtd-server', { kernel: '5.4' });
  t.is(rcCode(dirty(f, VFIO_IOMMU_DIRTY_PAGES_FLAG_START)), 'ENOTTY');
});

// ---- the IOVA-list algorithm --------------------------------------------------------------

const r = (start: bigint, last: bigint) => ({ start, last });

test('aper_resize: trims to the aperture, with the kernel boundary quirks', (t) => {
  t.deepEqual(vfioIommuAperResize([], 0n, 0xffffn), [r(0n, 0xffffn)]);
  const list = [r(0x1000n, 0x1fffn), r(0x3000n, 0x3fffn), r(0x5000n, 0x5fffn)];
  t.deepEqual(vfioIommuAperResize(list, 0x1800n, 0x37ffn), [r(0x1800n, 0x1fffn), r(0x3000n, 0x37ffn)]);
  // The new start equals a node's last byte: the node goes instead of keeping one byte.
  t.deepEqual(vfioIommuAperResize(list, 0x1fffn, 0x5fffn), [r(0x3000n, 0x3fffn), r(0x5000n, 0x5fffn)]);
  // The new end equals a node's first byte: that node goes too.
  t.deepEqual(vfioIommuAperResize(list, 0n, 0x5000n), [r(0x1000n, 0x1fffn), r(0x3000n, 0x3fffn)]);
});

test('resv_exclude: carves every type but direct-relaxable; empty is EINVAL', (t) => {
  const reg = (start: bigint, last: bigint, type: ResvType) => ({ start, last, type, prot: 0 });
  const all = [r(0n, 0xffffffffn)];
  t.deepEqual(vfioIommuResvExclude(all, [reg(0xfee00000n, 0xfeefffffn, ResvType.MSI), reg(0x1000n, 0x1fffn, ResvType.DIRECT_RELAXABLE)]), [
    r(0n, 0xfedfffffn),
    r(0xfef00000n, 0xffffffffn),
  ]);
  for (const type of [ResvType.DIRECT, ResvType.RESERVED, ResvType.SW_MSI])
    t.deepEqual(vfioIommuResvExclude(all, [reg(0n, 0xfffn, type)]), [r(0x1000n, 0xffffffffn)]);
  t.throws(() => vfioIommuResvExclude(all, [reg(0n, 0xffffffffn, ResvType.RESERVED)]), { code: 'EINVAL' } as never);
});

// ---- the mapping tree ---------------------------------------------------------------------

test('DmaTree: agrees with a sorted array under random inserts/removes and stays balanced', (t) => {
  const tree = new DmaTree<{ iova: bigint; size: bigint }>();
  const ref = new Map<bigint, { iova: bigint; size: bigint }>();
  let seed = 12345;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
  for (let i = 0; i < 4000; i++) {
    const slot = BigInt(rnd(2000));
    const iova = slot * 0x4000n;
    if (ref.has(iova)) {
      tree.remove(ref.get(iova)!);
      ref.delete(iova);
    } else {
      const item = { iova, size: BigInt(1 + rnd(3)) * 0x1000n };
      tree.insert(item);
      ref.set(iova, item);
    }
  }
  const sorted = [...ref.values()].sort((a, b) => (a.iova < b.iova ? -1 : 1));
  t.deepEqual([...tree], sorted);
  t.is(tree.size, sorted.length);
  t.true(tree.height <= Math.ceil(1.45 * Math.log2(sorted.length + 2)));
  for (let probe = 0n; probe < 2000n * 0x4000n; probe += 0x1800n) {
    const want = sorted.find((d) => d.iova <= probe && probe < d.iova + d.size);
    t.is(tree.findContaining(probe), want);
    const first = sorted.find((d) => d.iova + d.size - 1n >= probe && d.iova <= probe + 0x7fffn);
    t.is(tree.firstOverlapping(probe, probe + 0x7fffn), first);
  }
});

// The attach check on invalidated vaddrs came with "exclude mdevs from VFIO_UPDATE_VADDR" (v6.3).
for (const [kernel, code] of [['6.2', 0], ['6.3', 'EBUSY'], ['latest', 'EBUSY']] as const) {
  test(`attach while vaddrs are invalidated [${kernel}] → ${code || 'attached'}`, (t) => {
    const f = type1Fixture('intel-vtd-server', { kernel });
    t.is(bindVfioPci(f.m, '0000:00:14.0'), 12);
    t.is(mapRaw(f.m, f.cfd, { iova: MiB, size: MiB, vaddr: f.ram }), 0);
    t.deepEqual(unmapRaw(f.m, f.cfd, { iova: MiB, size: MiB, flags: VFIO_DMA_UNMAP_FLAG_VADDR }), { rc: 0, size: MiB });
    const g2 = vfioGroupOf(f.m, '0000:00:14.0');
    const gfd2 = f.m.sys.open(`/dev/vfio/${g2.id}`, O_RDWR);
    t.is(rcCode(setContainerRaw(f.m, gfd2, f.cfd)), code);
  });
}
