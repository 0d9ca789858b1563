// SPDX-License-Identifier: GPL-2.0-only
import test from 'ava';
import { Input, decode, encode, walkCapChain } from '../abi';
import { U64_MAX } from '../model/iova';
import type { Machine } from '../machine';
import * as I from '../uapi/iommufd';
import * as V from '../uapi/vfio';
import { IommufdFd } from '../testing/iommufd';
import { iommufdMachine } from '../testing/vfio';
import type { IommufdIoas } from './ioas';
import { getCompatIoas } from './vfio_compat';

const PAGE = 4096n;

/**
 * /dev/vfio/vfio served by iommufd (CONFIG_IOMMUFD_VFIO_CONTAINER, the legacy container not
 * built), with the selftest for mock domains; `withIoas` gives it a compat IOAS the public way
 * (IOAS_ALLOC + IOMMU_VFIO_IOAS SET on the same fd).
 */
class Compat extends IommufdFd {
  readonly m: Machine;
  constructor(kernel = '6.12', withIoas = true) {
    const m = iommufdMachine('intel-vtd-server', {
      kernel,
      kconfig: { CONFIG_VFIO_CONTAINER: false, CONFIG_IOMMUFD_VFIO_CONTAINER: true, CONFIG_IOMMUFD_TEST: true },
    });
    const o = IommufdFd.open(m, '/dev/vfio/vfio');
    super(o.p, o.fd);
    this.m = m;
    if (withIoas) this.setCompatIoas();
  }
  setCompatIoas(): number {
    const id = this.ioasAlloc();
    this.io(I.IOMMU_VFIO_IOAS, I.iommu_vfio_ioas, { op: I.IOMMU_VFIO_IOAS_SET, ioas_id: id });
    return id;
  }
  get mem() {
    return this.p.mem;
  }
  get ioas(): IommufdIoas {
    const o = getCompatIoas(this.ictx);
    this.ictx.putObject(o);
    return o.impl;
  }
  ioctl(cmd: number, arg: bigint) {
    return this.raw(cmd, arg);
  }
  private scratch: bigint | undefined;
  vmap(iova: bigint, size: bigint, flags = V.VFIO_DMA_MAP_FLAG_READ | V.VFIO_DMA_MAP_FLAG_WRITE, argsz = 32, vaddr = this.mem.mmap(size)) {
    this.scratch ??= this.mem.mmap(PAGE);
    this.mem.write(this.scratch, encode(V.vfio_iommu_type1_dma_map, { argsz, flags, vaddr, iova, size }));
    return this.ioctl(V.VFIO_IOMMU_MAP_DMA, this.scratch);
  }
  vunmap(v: Input<typeof V.vfio_iommu_type1_dma_unmap>) {
    const p = this.alloc(encode(V.vfio_iommu_type1_dma_unmap, { argsz: 24, ...v }));
    const rc = this.ioctl(V.VFIO_IOMMU_UNMAP_DMA, p);
    return { rc, size: decode(V.vfio_iommu_type1_dma_unmap, this.mem.read(p, 24)).size };
  }
}

test('API version, extensions, SET_IOMMU: TYPE1/TYPE1v2 only; ENODEV without a compat IOAS; DIRTY_PAGES ENOTTY', (t) => {
  const c = new Compat('6.12', false);
  t.is(c.ioctl(V.VFIO_GET_API_VERSION, 0n), 0);
  const ext = (e: number) => c.ioctl(V.VFIO_CHECK_EXTENSION, BigInt(e));
  t.deepEqual(
    [V.VFIO_TYPE1_IOMMU, V.VFIO_TYPE1v2_IOMMU, V.VFIO_UNMAP_ALL, V.VFIO_UPDATE_VADDR, V.__VFIO_RESERVED_TYPE1_NESTING_IOMMU, V.VFIO_NOIOMMU_IOMMU, 99].map(ext),
    [1, 1, 1, 0, 0, 1, 0],
    'VFIO_NOIOMMU_IOMMU: IS_ENABLED(CONFIG_VFIO_NOIOMMU), which the emulated kernels build',
  );
  t.is(ext(V.VFIO_DMA_CC_IOMMU), 'ENODEV', 'computed on the compat IOAS');
  t.is(c.ioctl(V.VFIO_SET_IOMMU, BigInt(V.VFIO_SPAPR_TCE_IOMMU)), 'EINVAL');
  t.is(c.ioctl(V.VFIO_SET_IOMMU, BigInt(V.VFIO_TYPE1v2_IOMMU)), 'ENODEV', 'no group yet');
  t.is(c.ioctl(V.VFIO_IOMMU_DIRTY_PAGES, 0n), 'ENOTTY');
  t.is(c.vmap(PAGE, PAGE), 'ENODEV');
  c.setCompatIoas();
  t.is(ext(V.VFIO_DMA_CC_IOMMU), 1);
  t.is(c.ioctl(V.VFIO_SET_IOMMU, BigInt(V.VFIO_TYPE1v2_IOMMU)), 0);
  t.false(c.ioas.iopt.disableLargePages);
  t.is(c.ioctl(V.VFIO_SET_IOMMU, BigInt(V.VFIO_TYPE1_IOMMU)), 0);
  t.true(c.ioas.iopt.disableLargePages, 'type1 (v1) disables large pages');
});

test('MAP_DMA: argsz / flags (VADDR) EINVAL; a fixed IOVA: reserved EINVAL, overlap EEXIST; no 65535 limit', (t) => {
  const c = new Compat();
  t.is(c.vmap(PAGE, PAGE, V.VFIO_DMA_MAP_FLAG_READ, 31), 'EINVAL');
  t.is(c.vmap(PAGE, PAGE, V.VFIO_DMA_MAP_FLAG_READ | V.VFIO_DMA_MAP_FLAG_VADDR), 'EINVAL');
  t.is(c.ioctl(V.VFIO_IOMMU_MAP_DMA, 0n), 'EFAULT');
  t.is(c.vmap(0x10_0000n, PAGE), 0);
  t.is(c.vmap(0x10_0000n, PAGE), 'EEXIST');
  t.is(c.addReserved(c.ioas.obj.id, 0xfee0_0000n, 0x10_0000n), 0);
  t.is(c.vmap(0xfee0_0000n, PAGE), 'EINVAL');
  const n = 65_536n;
  const buf = c.mem.mmap(n * PAGE);
  const flags = V.VFIO_DMA_MAP_FLAG_READ;
  for (let i = 0n; i < n; i += 1n) if (c.vmap(0x1_0000_0000n + i * PAGE, PAGE, flags, 32, buf + i * PAGE) !== 0) return t.fail(`map ${i}`);
  t.is(c.ioas.iopt.areas.length, 65_537, 'one more than type1 dma_entry_limit allows');
});

test('UNMAP_DMA type1v2: partial ENOENT with size written back; FLAG_ALL needs iova/size 0; empty range by version', (t) => {
  const c = new Compat('latest');
  c.ioctl(V.VFIO_SET_IOMMU, BigInt(V.VFIO_TYPE1v2_IOMMU));
  c.vmap(0x10_0000n, 2n * PAGE);
  c.vmap(0x20_0000n, PAGE);
  t.is(c.vunmap({ flags: V.VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, iova: 0x10_0000n, size: PAGE }).rc, 'EINVAL');
  t.is(c.vunmap({ flags: V.VFIO_DMA_UNMAP_FLAG_VADDR, iova: 0x10_0000n, size: PAGE }).rc, 'EINVAL');
  t.is(c.vunmap({ argsz: 23, iova: 0x10_0000n, size: PAGE }).rc, 'EINVAL');
  t.deepEqual(c.vunmap({ iova: 0x10_0000n, size: PAGE }), { rc: 'ENOENT', size: 0n });
  t.deepEqual(c.vunmap({ flags: V.VFIO_DMA_UNMAP_FLAG_ALL, iova: 0x10_0000n }), { rc: 'EINVAL', size: 0n });
  t.deepEqual(c.vunmap({ iova: 0x30_0000n, size: PAGE }), { rc: 0, size: 0n }, '6.18+: an empty range is fine');
  t.deepEqual(c.vunmap({ iova: 0x10_0000n, size: 0x10_0800n }), { rc: 'ENOENT', size: 2n * PAGE }, 'the first area went, the second sticks out');
  t.deepEqual(c.vunmap({ flags: V.VFIO_DMA_UNMAP_FLAG_ALL }), { rc: 0, size: PAGE });
  const old = new Compat('6.12');
  t.deepEqual(old.vunmap({ iova: 0x30_0000n, size: PAGE }), { rc: 'ENOENT', size: 0n }, 'before afb47765f923');
  t.deepEqual(old.vunmap({ iova: 0x30_0000n, size: 0n }), { rc: 'EINVAL', size: 0n });
  t.deepEqual(old.vunmap({ iova: U64_MAX, size: 2n }), { rc: 'EOVERFLOW', size: 0n });
});

test('UNMAP_DMA type1 (v1): large pages off, so the middle of a mapping can be unmapped', (t) => {
  const c = new Compat();
  c.ioctl(V.VFIO_SET_IOMMU, BigInt(V.VFIO_TYPE1_IOMMU));
  c.vmap(0x10_0000n, 4n * PAGE);
  t.deepEqual(c.vunmap({ iova: 0x10_1000n, size: 2n * PAGE }), { rc: 0, size: 2n * PAGE });
  t.deepEqual(
    c.ioas.iopt.areas.map((a) => [a.start, a.last]),
    [
      [0x10_0000n, 0x10_0fffn],
      [0x10_3000n, 0x10_3fffn],
    ],
  );
});

function getInfo(c: Compat, argsz: number) {
  const p = c.alloc(Math.max(argsz, 24));
  c.mem.write(p, encode(V.vfio_iommu_type1_info, { argsz }).subarray(0, Math.min(argsz, 24)));
  const rc = c.ioctl(V.VFIO_IOMMU_GET_INFO, p);
  const bytes = c.mem.read(p, argsz);
  return { rc, info: decode(V.vfio_iommu_type1_info, bytes, 0, Math.min(argsz, 24)), bytes };
}

for (const [kernel, dmaAvailSize, total] of [
  ['6.5', 12, 24 + 12 + 32],
  ['6.12', 16, 24 + 16 + 32],
] as const) {
  test(`GET_INFO on ${kernel}: DMA_AVAIL (U32_MAX) then IOVA_RANGE, ${dmaAvailSize === 12 ? 'unpadded (iova cap at 36)' : 'padded to 8 (iova cap at 40)'}; argsz always rewritten`, (t) => {
    const c = new Compat(kernel);
    const small = getInfo(c, 24);
    t.is(small.rc, 0);
    t.is(small.info.argsz, total, 'the size needed');
    t.is(small.info.flags, V.VFIO_IOMMU_INFO_PGSIZES | V.VFIO_IOMMU_INFO_CAPS);
    t.is(small.info.cap_offset, 0);
    t.is(small.info.iova_pgsizes, U64_MAX - 0xfffn, 'no domain: ULONG_MAX, normalised to PAGE_MASK');
    t.is(c.mockDomain(c.ioas.obj.id).rc, 0);
    t.is(getInfo(c, 24).info.iova_pgsizes, 0x1000n, 'the 2 KiB-page mock domain: sub-page sizes fold into PAGE_SIZE');
    const big = getInfo(c, 256);
    t.is(big.info.argsz, total, 'a larger buffer shrinks argsz to the total');
    t.is(big.info.cap_offset, 24);
    const chain = walkCapChain(big.bytes, 24);
    t.deepEqual(
      chain.caps.map((x) => [x.id, x.offset]),
      [
        [V.VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, 24],
        [V.VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, 24 + dmaAvailSize],
      ],
    );
    t.is(decode(V.vfio_iommu_type1_info_dma_avail, big.bytes, 24).avail, 0xffff_ffff);
    const iova = decode(V.vfio_iommu_type1_info_cap_iova_range, big.bytes, 24 + dmaAvailSize);
    t.is(iova.nr_iovas, 1);
    t.deepEqual(decode(V.vfio_iova_range, big.bytes, 24 + dmaAvailSize + 16), { start: 1n << 24n, end: (1n << 31n) - 1n }, "the mock aperture");
    const partial = getInfo(c, 24 + dmaAvailSize + 8);
    t.is(partial.info.cap_offset, 0, 'not everything fit');
    t.is(decode(V.vfio_iommu_type1_info_dma_avail, partial.bytes, 24).avail, 0xffff_ffff, 'but the caps that fit are written');
    t.is(getInfo(c, 15).rc, 'EINVAL');
  });
}
