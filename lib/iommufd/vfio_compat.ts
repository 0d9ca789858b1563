// SPDX-License-Identifier: GPL-2.0-only
/**
 * drivers/iommu/iommufd/vfio_compat.c (studied at 6.12.117) — the compat IOAS the VFIO
 * container ioctls act on, IOMMU_VFIO_IOAS that names it, and the type1 ioctls served on an
 * iommufd (the fall-through of main.c's dispatcher, and /dev/vfio/vfio itself with
 * CONFIG_IOMMUFD_VFIO_CONTAINER). Its documented differences from type1: MAP is always a fixed
 * IOVA (reserved → EINVAL, overlap → EEXIST), no VADDR (EINVAL) and no 65535 limit; UNMAP of part
 * of a mapping is ENOENT (type1v2) or a split (type1, large pages disabled) and writes `size`
 * back even when failing; GET_INFO has only the DMA_AVAIL (U32_MAX) and IOVA_RANGE
 * capabilities and always rewrites argsz to the full size; DIRTY_PAGES is ENOTTY.
 */
import { UserAccess, copyFromUser, copyToUser, decode, encode, offsetofend, putUser, structSize, u32 } from '../abi';
import { capable } from '../cred';
import { kerr } from '../errno';
import type { Task } from '../task/sched';
import { IOMMU_VFIO_IOAS_CLEAR, IOMMU_VFIO_IOAS_GET, IOMMU_VFIO_IOAS_SET, iommu_vfio_ioas } from '../uapi/iommufd';
import {
  VFIO_API_VERSION,
  VFIO_CHECK_EXTENSION,
  VFIO_DMA_CC_IOMMU,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_DMA_UNMAP_FLAG_ALL,
  VFIO_GET_API_VERSION,
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_INFO_CAPS,
  VFIO_IOMMU_INFO_PGSIZES,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
  VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_NOIOMMU_IOMMU,
  VFIO_SET_IOMMU,
  VFIO_TYPE1_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  VFIO_UNMAP_ALL,
  vfio_info_cap_header,
  vfio_iommu_type1_dma_map,
  vfio_iommu_type1_dma_unmap,
  vfio_iommu_type1_info,
  vfio_iommu_type1_info_cap_iova_range,
  vfio_iommu_type1_info_dma_avail,
  vfio_iova_range,
} from '../uapi/vfio';
import type { IommufdHwptPaging } from './hw_pagetable';
import { IOMMU_CACHE, IOMMU_READ, IOMMU_WRITE, ULONG_MAX } from './io_pagetable';
import { IommufdIoas, iommufdGetIoas, iommufdIoasAlloc, iommufdUserPages } from './ioas';
import { IommufdCtx, IommufdObject, IommufdUcmd, faultingAccess } from './main';

/** A counted reference to the compat IOAS, or ENODEV. @see vfio_compat.c:get_compat_ioas */
export function getCompatIoas(ictx: IommufdCtx): IommufdObject<IommufdIoas> {
  const obj = ictx.vfioIoas as IommufdObject<IommufdIoas> | undefined;
  if (!obj || !ictx.lockObj(obj)) throw kerr('ENODEV');
  return obj;
}

/** The compat IOAS's id (ENODEV without one). @see vfio_compat.c:iommufd_vfio_compat_ioas_get_id */
export function iommufdVfioCompatIoasGetId(ictx: IommufdCtx): number {
  const obj = getCompatIoas(ictx);
  ictx.putObject(obj);
  return obj.id;
}

/**
 * A no-iommu group joined: VFIO_NOIOMMU_IOMMU becomes the only type; EINVAL once a compat IOAS
 * exists. @see drivers/iommu/iommufd/vfio_compat.c:iommufd_vfio_compat_set_no_iommu
 */
export function iommufdVfioCompatSetNoIommu(ictx: IommufdCtx): void {
  if (ictx.vfioIoas) throw kerr('EINVAL');
  ictx.noIommuMode = true;
}

/**
 * Ensure a compat IOAS exists (VFIO_GROUP_SET_CONTAINER on an iommufd): an IOAS already chosen is
 * kept; refused in no-iommu mode (EINVAL). The new IOAS is a userspace-visible object.
 * @see drivers/iommu/iommufd/vfio_compat.c:iommufd_vfio_compat_ioas_create
 */
export function iommufdVfioCompatIoasCreate(ictx: IommufdCtx): void {
  const ioas = iommufdIoasAlloc(ictx);
  if (ictx.noIommuMode) {
    ictx.objectAbort(ioas.obj);
    throw kerr('EINVAL');
  }
  const cur = ictx.vfioIoas;
  if (cur && ictx.lockObj(cur)) {
    ictx.putObject(cur);
    ictx.objectAbort(ioas.obj);
    return;
  }
  ictx.vfioIoas = ioas.obj;
  ictx.objectFinalize(ioas.obj);
}

/**
 * IOMMU_VFIO_IOAS: GET the compat IOAS id (ENODEV without one), SET it to an IOAS (ENOENT),
 * CLEAR it; another op → EOPNOTSUPP; __reserved → EOPNOTSUPP first.
 * @see drivers/iommu/iommufd/vfio_compat.c:iommufd_vfio_ioas
 */
export function iommufdVfioIoas(ucmd: IommufdUcmd<typeof iommu_vfio_ioas>): number {
  const { cmd, ictx } = ucmd;
  if (cmd.__reserved) throw kerr('EOPNOTSUPP');
  switch (cmd.op) {
    case IOMMU_VFIO_IOAS_GET: {
      const obj = getCompatIoas(ictx);
      cmd.ioas_id = obj.id;
      ictx.putObject(obj);
      ucmd.respond();
      return 0;
    }
    case IOMMU_VFIO_IOAS_SET: {
      const obj = iommufdGetIoas(ictx, cmd.ioas_id);
      ictx.vfioIoas = obj;
      ictx.putObject(obj);
      return 0;
    }
    case IOMMU_VFIO_IOAS_CLEAR:
      ictx.vfioIoas = undefined;
      return 0;
    default:
      throw kerr('EOPNOTSUPP');
  }
}

/** What the compat handlers need besides the context: the caller and its memory. */
interface IommufdVfioCall {
  readonly ictx: IommufdCtx;
  readonly current: Task;
  readonly mem: UserAccess;
}

/** @see drivers/iommu/iommufd/vfio_compat.c:iommufd_vfio_map_dma */
function iommufdVfioMapDma(call: IommufdVfioCall, arg: bigint): number {
  const minsz = offsetofend(vfio_iommu_type1_dma_map, 'size');
  const map = decode(vfio_iommu_type1_dma_map, copyFromUser(call.mem, arg, minsz), 0, minsz);
  if (map.argsz < minsz || map.flags & ~(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)) throw kerr('EINVAL');
  let prot = IOMMU_CACHE;
  if (map.flags & VFIO_DMA_MAP_FLAG_READ) prot |= IOMMU_READ;
  if (map.flags & VFIO_DMA_MAP_FLAG_WRITE) prot |= IOMMU_WRITE;
  const obj = getCompatIoas(call.ictx);
  try {
    // Maps through the legacy interface use the context's accounting (VFIO's, when /dev/vfio/vfio).
    const pages = iommufdUserPages(call.ictx, call.current, map.vaddr, map.size, (prot & IOMMU_WRITE) !== 0);
    obj.impl.iopt.mapUserPages(pages, map.vaddr, map.size, map.iova, prot);
    return 0;
  } finally {
    call.ictx.putObject(obj);
  }
}

/**
 * FLAG_ALL (with iova and size 0, else EINVAL) or a range; with large pages disabled (type1) the
 * range edges are cut first so part of a mapping can go. `size` is written back with what was
 * unmapped, on failure too.
 * @see drivers/iommu/iommufd/vfio_compat.c:iommufd_vfio_unmap_dma
 */
function iommufdVfioUnmapDma(call: IommufdVfioCall, arg: bigint): number {
  const minsz = offsetofend(vfio_iommu_type1_dma_unmap, 'size');
  const unmap = decode(vfio_iommu_type1_dma_unmap, copyFromUser(call.mem, arg, minsz), 0, minsz);
  if (unmap.argsz < minsz || unmap.flags & ~VFIO_DMA_UNMAP_FLAG_ALL) throw kerr('EINVAL');
  const obj = getCompatIoas(call.ictx);
  try {
    const iopt = obj.impl.iopt;
    const out = { unmapped: 0n };
    let err: unknown;
    if (unmap.flags & VFIO_DMA_UNMAP_FLAG_ALL) {
      if (unmap.iova !== 0n || unmap.size !== 0n) throw kerr('EINVAL');
      try {
        iopt.unmapAll(out);
      } catch (e) {
        err = e;
      }
    } else {
      if (iopt.disableLargePages) {
        // A failed cut returns before anything is written back.
        const ends = [(unmap.iova + unmap.size - 1n) & ULONG_MAX, (unmap.iova - 1n) & ULONG_MAX];
        iopt.cutIova(unmap.iova ? ends : ends.slice(0, 1));
      }
      try {
        iopt.unmapIova(unmap.iova, unmap.size, out);
      } catch (e) {
        err = e;
      }
      if (!err && out.unmapped === 0n && !call.ictx.profile.has('iommufd_compat_unmap_empty_ok')) err = kerr('ENOENT');
    }
    unmap.size = out.unmapped;
    copyToUser(call.mem, arg, encode(vfio_iommu_type1_dma_unmap, unmap).subarray(0, minsz));
    if (err) throw err;
    return 0;
  } finally {
    call.ictx.putObject(obj);
  }
}

/** @see drivers/iommu/iommufd/vfio_compat.c:iommufd_vfio_check_extension */
function iommufdVfioCheckExtension(call: IommufdVfioCall, type: bigint): number {
  switch (Number(type)) {
    case VFIO_TYPE1_IOMMU:
    case VFIO_TYPE1v2_IOMMU:
    case VFIO_UNMAP_ALL:
      return call.ictx.noIommuMode ? 0 : 1;
    case VFIO_NOIOMMU_IOMMU:
      return NOIOMMU_CONFIG ? 1 : 0;
    case VFIO_DMA_CC_IOMMU: {
      // Every HWPT on the compat IOAS must enforce cache coherency. @see vfio_compat.c:iommufd_vfio_cc_iommu
      const obj = getCompatIoas(call.ictx);
      try {
        return (obj.impl.hwptList as IommufdHwptPaging[]).every((h) => h.enforceCacheCoherency) ? 1 : 0;
      } finally {
        call.ictx.putObject(obj);
      }
    }
    default:
      // VFIO_TYPE1_NESTING_IOMMU (obsolete) and VFIO_UPDATE_VADDR (not safely implementable)
      return 0;
  }
}

/**
 * Only TYPE1 and TYPE1v2 (EINVAL otherwise, or in no-iommu mode); no compat IOAS (no group
 * yet) → ENODEV; TYPE1 disables large pages so any range can be unmapped.
 * @see drivers/iommu/iommufd/vfio_compat.c:iommufd_vfio_set_iommu
 */
function iommufdVfioSetIommu(call: IommufdVfioCall, type: bigint): number {
  const noIommuMode = call.ictx.noIommuMode;
  if (NOIOMMU_CONFIG && type === BigInt(VFIO_NOIOMMU_IOMMU) && noIommuMode) {
    if (!capable(call.current.cred, 'CAP_SYS_RAWIO')) throw kerr('EPERM');
    return 0;
  }
  if ((type !== BigInt(VFIO_TYPE1_IOMMU) && type !== BigInt(VFIO_TYPE1v2_IOMMU)) || noIommuMode) throw kerr('EINVAL');
  const obj = getCompatIoas(call.ictx);
  try {
    if (type === BigInt(VFIO_TYPE1_IOMMU)) obj.impl.iopt.disableLargePagesOrThrow();
    return 0;
  } finally {
    call.ictx.putObject(obj);
  }
}

const PAGE_SIZE = 4096n;
/** CONFIG_VFIO_NOIOMMU (the emulated kernels build VFIO's no-IOMMU mode). */
const NOIOMMU_CONFIG = true;
const PAGE_MASK = ~(PAGE_SIZE - 1n) & ULONG_MAX;

/** The AND of the domains' page sizes, normalised like type1, at least the IOVA alignment. @see vfio_compat.c:iommufd_get_pagesizes */
function iommufdGetPagesizes(ioas: IommufdIoas): bigint {
  let bitmap = ULONG_MAX;
  for (const d of ioas.iopt.domains) bitmap &= d.pgsizeBitmap;
  if (bitmap & ~PAGE_MASK & ULONG_MAX) {
    bitmap &= PAGE_MASK;
    bitmap |= PAGE_SIZE;
  }
  return bitmap > ioas.iopt.iovaAlignment ? bitmap : ioas.iopt.iovaAlignment;
}

type FillCap = (call: IommufdVfioCall, ioas: IommufdIoas, cur: bigint | undefined, avail: number) => number;

/** @see drivers/iommu/iommufd/vfio_compat.c:iommufd_fill_cap_iova */
const iommufdFillCapIova: FillCap = (call, ioas, cur, avail) => {
  const ranges = ioas.iopt.iovaRanges();
  const base = cur ?? 0n;
  const rangesAt = base + BigInt(vfio_iommu_type1_info_cap_iova_range.size);
  ranges.forEach((r, i) => {
    if (avail >= structSize(vfio_iommu_type1_info_cap_iova_range, i + 1)) {
      copyToUser(call.mem, rangesAt + BigInt(i * vfio_iova_range.size), encode(vfio_iova_range, { start: r.start, end: r.last }));
    }
  });
  const size = structSize(vfio_iommu_type1_info_cap_iova_range, ranges.length);
  if (avail >= size) {
    const header = { id: VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, version: 1, next: 0 };
    copyToUser(call.mem, base, encode(vfio_iommu_type1_info_cap_iova_range, { header, nr_iovas: ranges.length }));
  }
  return size;
};

/** iommufd's limit is the cgroup's: avail is U32_MAX. @see vfio_compat.c:iommufd_fill_cap_dma_avail */
const iommufdFillCapDmaAvail: FillCap = (call, _ioas, cur, avail) => {
  const size = vfio_iommu_type1_info_dma_avail.size;
  if (avail >= size) {
    const header = { id: VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, version: 1, next: 0 };
    copyToUser(call.mem, cur ?? 0n, encode(vfio_iommu_type1_info_dma_avail, { header, avail: 0xffff_ffff }));
  }
  return size;
};

/**
 * Capabilities written straight into the user buffer as far as argsz reaches; argsz is always
 * rewritten to the total, CAPS always set, cap_offset only when everything fit. Capabilities are
 * padded to 8 bytes from the release of "vfio: align capability structures" on.
 * @see drivers/iommu/iommufd/vfio_compat.c:iommufd_vfio_iommu_get_info
 */
function iommufdVfioIommuGetInfo(call: IommufdVfioCall, arg: bigint): number {
  const fills = [iommufdFillCapDmaAvail, iommufdFillCapIova];
  const minsz0 = offsetofend(vfio_iommu_type1_info, 'iova_pgsizes');
  const info = decode(vfio_iommu_type1_info, copyFromUser(call.mem, arg, minsz0), 0, minsz0);
  if (info.argsz < minsz0) throw kerr('EINVAL');
  const minsz = Math.min(info.argsz, vfio_iommu_type1_info.size);
  const obj = getCompatIoas(call.ictx);
  try {
    const aligned = call.ictx.profile.has('vfio_caps_aligned');
    info.flags = VFIO_IOMMU_INFO_PGSIZES;
    info.iova_pgsizes = iommufdGetPagesizes(obj.impl);
    info.cap_offset = 0;
    let total = vfio_iommu_type1_info.size;
    let lastCap: bigint | undefined;
    for (const fill of fills) {
      let capSize =
        info.argsz > total ? fill(call, obj.impl, arg + BigInt(total), info.argsz - total) : fill(call, obj.impl, undefined, 0);
      if (aligned) capSize = Math.ceil(capSize / 8) * 8;
      if (lastCap !== undefined && info.argsz >= total) {
        putUser(call.mem, u32, lastCap + BigInt(offsetofend(vfio_info_cap_header, 'version')), total);
      }
      lastCap = arg + BigInt(total);
      total += capSize;
    }
    if (info.argsz >= total) info.cap_offset = vfio_iommu_type1_info.size;
    info.argsz = total;
    info.flags |= VFIO_IOMMU_INFO_CAPS;
    copyToUser(call.mem, arg, encode(vfio_iommu_type1_info, info).subarray(0, minsz));
    return 0;
  } finally {
    call.ictx.putObject(obj);
  }
}

/**
 * The VFIO container ioctls on an iommufd; anything else (DIRTY_PAGES included) → ENOIOCTLCMD.
 * `arg` is the raw ioctl argument: an integer for SET_IOMMU and CHECK_EXTENSION.
 * @see drivers/iommu/iommufd/vfio_compat.c:iommufd_vfio_ioctl
 */
export function iommufdVfioIoctl(ictx: IommufdCtx, current: Task, cmd: number, arg: bigint): number {
  const call: IommufdVfioCall = { ictx, current, mem: faultingAccess(current.mm, ictx.faults) };
  switch (cmd) {
    case VFIO_GET_API_VERSION:
      return VFIO_API_VERSION;
    case VFIO_SET_IOMMU:
      return iommufdVfioSetIommu(call, arg);
    case VFIO_CHECK_EXTENSION:
      return iommufdVfioCheckExtension(call, arg);
    case VFIO_IOMMU_GET_INFO:
      return iommufdVfioIommuGetInfo(call, arg);
    case VFIO_IOMMU_MAP_DMA:
      return iommufdVfioMapDma(call, arg);
    case VFIO_IOMMU_UNMAP_DMA:
      return iommufdVfioUnmapDma(call, arg);
    default:
      throw kerr('ENOIOCTLCMD');
  }
}
