// SPDX-License-Identifier: GPL-2.0-only
import test from 'ava';
import { Input, decode, encode, walkCapChain } from '../abi';
import { UserMemory } from '../mm/mm';
import { ROOT } from '../cred';
import { AnyErrno, isKernelError } from '../errno';
import { kernelProfile } from '../kernel/profile';
import { U64_MAX } from '../model/iova';
import * as V from '../uapi/vfio';
import { IommufdIoas } from './ioas';
import { IommufdCtx, ioctlTable, iommufdFopsIoctl, iommufdIoctlOps } from './main';
import { getCompatIoas, iommufdVfioCompatIoasCreate, iommufdVfioIoctl } from './vfio_compat';

const PAGE = 4096n;

class Compat {
  readonly mem = new UserMemory();
  readonly ictx: IommufdCtx;
  constructor(kernel = '6.12', withIoas = true) {
    this.ictx = new IommufdCtx({ profile: kernelProfile(kernel), vfioCompat: true });
    if (withIoas) iommufdVfioCompatIoasCreate(this.ictx, false);
  }
  get ioas(): IommufdIoas {
    const o = getCompatIoas(this.ictx);
    this.ictx.putObject(o);
    return o.impl;
  }
  /** Through the iommufd dispatcher: nr < 0x80 falls through to the compat handler. */
  ioctl(cmd: number, arg: bigint): number | AnyErrno {
    const call = { ictx: this.ictx, mem: this.mem, cred: ROOT };
    try {
      return iommufdFopsIoctl(ioctlTable(iommufdIoctlOps, this.ictx.profile), { ...call, compat: (c, a) => iommufdVfioIoctl(call, c, a) }, cmd, arg);
    } catch (e) {
      if (isKernelError(e)) return e.code;
      throw e;
    }
  }
  private scratch: bigint | undefined;
  map(iova: bigint, size: bigint, flags = V.VFIO_DMA_MAP_FLAG_READ | V.VFIO_DMA_MAP_FLAG_WRITE, argsz = 32, vaddr = this.mem.mmap(size)) {
    this.scratch ??= this.mem.mmap(PAGE);
    this.mem.write(this.scratch, encode(V.vfio_iommu_type1_dma_map, { argsz, flags, vaddr, iova, size }));
    return this.ioctl(V.VFIO_IOMMU_MAP_DMA, this.scratch);
  }
  unmap(v: Input<typeof V.vfio_iommu_type1_dma_unmap>) {
    const p = this.mem.alloc(encode(V.vfio_iommu_type1_dma_unmap, { argsz: 24, ...v }));
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
    [1, 1, 1, 0, 0, 0, 0],
  );
  t.is(ext(V.VFIO_DMA_CC_IOMMU), 'ENODEV', 'computed on the compat IOAS');
  t.is(c.ioctl(V.VFIO_SET_IOMMU, BigInt(V.VFIO_SPAPR_TCE_IOMMU)), 'EINVAL');
  t.is(c.ioctl(V.VFIO_SET_IOMMU, BigInt(V.VFIO_TYPE1v2_IOMMU)), 'ENODEV', 'no group yet');
  t.is(c.ioctl(V.VFIO_IOMMU_DIRTY_PAGES, 0n), 'ENOIOCTLCMD');
  t.is(c.map(PAGE, PAGE), 'ENODEV');
  iommufdVfioCompatIoasCreate(c.ictx, false);
  t.is(ext(V.VFIO_DMA_CC_IOMMU), 1);
  t.is(c.ioctl(V.VFIO_SET_IOMMU, BigInt(V.VFIO_TYPE1v2_IOMMU)), 0);
  t.false(c.ioas.iopt.disableLargePages);
  t.is(c.ioctl(V.VFIO_SET_IOMMU, BigInt(V.VFIO_TYPE1_IOMMU)), 0);
  t.true(c.ioas.iopt.disableLargePages, 'type1 (v1) disables large pages');
});

test('MAP_DMA: argsz / flags (VADDR) EINVAL; a fixed IOVA: reserved EINVAL, overlap EEXIST; no 65535 limit', (t) => {
  const c = new Compat();
  t.is(c.map(PAGE, PAGE, V.VFIO_DMA_MAP_FLAG_READ, 31), 'EINVAL');
  t.is(c.map(PAGE, PAGE, V.VFIO_DMA_MAP_FLAG_READ | V.VFIO_DMA_MAP_FLAG_VADDR), 'EINVAL');
  t.is(c.ioctl(V.VFIO_IOMMU_MAP_DMA, 0n), 'EFAULT');
  t.is(c.map(0x10_0000n, PAGE), 0);
  t.is(c.map(0x10_0000n, PAGE), 'EEXIST');
  c.ioas.iopt.reserveIova(0xfee0_0000n, 0xfeef_ffffn, 'dev');
  t.is(c.map(0xfee0_0000n, PAGE), 'EINVAL');
  const n = 65_536n;
  const buf = c.mem.mmap(n * PAGE);
  const flags = V.VFIO_DMA_MAP_FLAG_READ;
  for (let i = 0n; i < n; i += 1n) if (c.map(0x1_0000_0000n + i * PAGE, PAGE, flags, 32, buf + i * PAGE) !== 0) return t.fail(`map ${i}`);
  t.is(c.ioas.iopt.areas.length, 65_537, 'one more than type1 dma_entry_limit allows');
});

test('UNMAP_DMA type1v2: partial ENOENT with size written back; FLAG_ALL needs iova/size 0; empty range by version', (t) => {
  const c = new Compat('latest');
  c.ioctl(V.VFIO_SET_IOMMU, BigInt(V.VFIO_TYPE1v2_IOMMU));
  c.map(0x10_0000n, 2n * PAGE);
  c.map(0x20_0000n, PAGE);
  t.is(c.unmap({ flags: V.VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, iova: 0x10_0000n, size: PAGE }).rc, 'EINVAL');
  t.is(c.unmap({ flags: V.VFIO_DMA_UNMAP_FLAG_VADDR, iova: 0x10_0000n, size: PAGE }).rc, 'EINVAL');
  t.is(c.unmap({ argsz: 23, iova: 0x10_0000n, size: PAGE }).rc, 'EINVAL');
  t.deepEqual(c.unmap({ iova: 0x10_0000n, size: PAGE }), { rc: 'ENOENT', size: 0n });
  t.deepEqual(c.unmap({ flags: V.VFIO_DMA_UNMAP_FLAG_ALL, iova: 0x10_0000n }), { rc: 'EINVAL', size: 0n });
  t.deepEqual(c.unmap({ iova: 0x30_0000n, size: PAGE }), { rc: 0, size: 0n }, '6.13+: an empty range is fine');
  t.deepEqual(c.unmap({ iova: 0x10_0000n, size: 0x10_0800n }), { rc: 'ENOENT', size: 2n * PAGE }, 'the first area went, the second sticks out');
  t.deepEqual(c.unmap({ flags: V.VFIO_DMA_UNMAP_FLAG_ALL }), { rc: 0, size: PAGE });
  const old = new Compat('6.12');
  t.deepEqual(old.unmap({ iova: 0x30_0000n, size: PAGE }), { rc: 'ENOENT', size: 0n }, 'before afb47765f923');
  t.deepEqual(old.unmap({ iova: 0x30_0000n, size: 0n }), { rc: 'EINVAL', size: 0n });
  t.deepEqual(old.unmap({ iova: U64_MAX, size: 2n }), { rc: 'EOVERFLOW', size: 0n });
});

test('UNMAP_DMA type1 (v1): large pages off, so the middle of a mapping can be unmapped', (t) => {
  const c = new Compat();
  c.ioctl(V.VFIO_SET_IOMMU, BigInt(V.VFIO_TYPE1_IOMMU));
  c.map(0x10_0000n, 4n * PAGE);
  t.deepEqual(c.unmap({ iova: 0x10_1000n, size: 2n * PAGE }), { rc: 0, size: 2n * PAGE });
  t.deepEqual(
    c.ioas.iopt.areas.map((a) => [a.start, a.last]),
    [
      [0x10_0000n, 0x10_0fffn],
      [0x10_3000n, 0x10_3fffn],
    ],
  );
});

function getInfo(c: Compat, argsz: number) {
  const p = c.mem.alloc(Math.max(argsz, 24));
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
    c.ioas.iopt.tableAddDomain({ pgsizeBitmap: 0x40201800n, geometry: { apertureStart: 0n, apertureEnd: U64_MAX } });
    t.is(getInfo(c, 24).info.iova_pgsizes, 0x40201000n, 'a 2 KiB-page domain: sub-page sizes fold into PAGE_SIZE');
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
    t.deepEqual(decode(V.vfio_iova_range, big.bytes, 24 + dmaAvailSize + 16), { start: 0n, end: U64_MAX });
    const partial = getInfo(c, 24 + dmaAvailSize + 8);
    t.is(partial.info.cap_offset, 0, 'not everything fit');
    t.is(decode(V.vfio_iommu_type1_info_dma_avail, partial.bytes, 24).avail, 0xffff_ffff, 'but the caps that fit are written');
    t.is(getInfo(c, 15).rc, 'EINVAL');
  });
}
