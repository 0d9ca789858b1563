// SPDX-License-Identifier: GPL-2.0-only
/**
 * drivers/vfio/vfio_iommu_type1.c: the type1 IOMMU backend of a container — the DMA mapping set,
 * the valid IOVA list built on attach/detach, GET_INFO with its capability chain, MAP/UNMAP in
 * the kernel's order of checks, and the dirty-page tracking ioctl.
 * Studied against the newest type1 (c. v6.19); older behaviour switched by KernelProfile rows.
 */
// Hot path: constants and helpers come from their defining modules, not through the `export *`
// getters of the area indexes.
import { PAGE_SHIFT, PAGE_SIZE, TASK_SIZE } from '../kernel/page';
import { copyFromUser, copyStructToUser, copyToUser, vfioArgszFromUser } from '../abi/uaccess';
import { decode, encode } from '../abi/codec';
import { offsetofend } from '../abi/layout';
import { vfioInfoAddCapability, vfioInfoCapShift } from '../abi/cap_chain';
import { capable } from '../cred';
import { PAGE_MASK } from '../kernel/page';
import { isKernelError, kerr } from '../errno';
import { excludeReserved } from '../iommu/iommu';
import type { MmStruct } from '../mm/mm';
import type { IommuDomain, IommuGroup } from '../model/host';
import { IovaRange, U64_MAX, range } from '../model/iova';
import { ResvRegion, ResvType } from '../model/resv_region';
import type { Task } from '../task/sched';
import { PROT_READ, PROT_WRITE } from '../uapi/fcntl';
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
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_INFO_CAPS,
  VFIO_IOMMU_INFO_PGSIZES,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
  VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION,
  VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_TYPE1_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  VFIO_UNMAP_ALL,
  VFIO_UPDATE_VADDR,
  __VFIO_RESERVED_TYPE1_NESTING_IOMMU,
  vfio_bitmap,
  vfio_iommu_type1_dirty_bitmap,
  vfio_iommu_type1_dirty_bitmap_get,
  vfio_iommu_type1_dma_map,
  vfio_iommu_type1_dma_unmap,
  vfio_iommu_type1_info,
  vfio_iommu_type1_info_cap_iova_range,
  vfio_iommu_type1_info_cap_migration,
  vfio_iommu_type1_info_dma_avail,
} from '../uapi/vfio';
import type { VfioIommuDriverOps } from './container';
import { vfioRegisterIommuDriver } from './container';
import { DmaTree } from './dma_tree';
import type { VfioGroup } from './group';
import type { KernelModule } from '../host';
import type { VfioState } from './vfio_main';
import { vfioInfoCaps, vfioInfoCopyLen, vfioState } from './vfio_main';

/** `DIRTY_BITMAP_BYTES(INT_MAX)` */
export const DIRTY_BITMAP_SIZE_MAX = 0x10000000n;
const dirtyBitmapBytes = (npages: bigint): bigint => ((npages + 63n) & ~63n) / 8n;
/** Lowest set bit of a non-zero u64 (`__ffs`). */
const ffs = (x: bigint): bigint => {
  let n = 0n;
  while (((x >> n) & 1n) === 0n && n < 64n) n++;
  return n;
};

/** `struct vfio_dma` */
export interface VfioDma {
  readonly iova: bigint;
  readonly size: bigint;
  vaddr: bigint;
  readonly prot: number;
  vaddrInvalid: boolean;
  /** Pages charged to locked_vm for this mapping. */
  lockedPages: bigint;
  /** `dma->mm`: the address space the pages were pinned from and charged to. */
  mm: MmStruct | undefined;
  /** `dma->lock_cap`: the mapper had CAP_IPC_LOCK. */
  readonly lockCap: boolean;
  /** `dma->task`'s RLIMIT_MEMLOCK, in bytes. */
  readonly memlock: bigint;
}

/** `struct vfio_domain`: an IOMMU paging domain and the groups attached to it. */
export interface VfioDomain {
  readonly domain: IommuDomain;
  readonly groups: IommuGroup[];
  /** `iommu_get_msi_cookie` base when the groups rely on a software MSI window. */
  msiCookie: bigint | undefined;
}

/** `struct vfio_iommu` */
export class VfioIommu {
  readonly dmaList = new DmaTree<VfioDma>();
  /** `iova_list`: sorted, disjoint, inclusive ranges. */
  iovaList: IovaRange[] = [];
  /** `domain_list`: list_add, newest first. */
  readonly domains: VfioDomain[] = [];
  dmaAvail: number;
  pgsizeBitmap = PAGE_MASK;
  dirtyPageTracking = false;
  vaddrInvalidCount = 0;

  constructor(
    readonly st: VfioState,
    readonly v2: boolean,
    /** VFIO_TYPE1_NESTING_IOMMU: every new domain must enable nesting. */
    readonly nesting = false,
  ) {
    this.dmaAvail = st.k.params.dma_entry_limit;
  }

  private pgsizeCache: [bigint, bigint] = [0n, 0n];

  /** `1 << __ffs(iommu->pgsize_bitmap)`, recomputed only when the bitmap changes. */
  get minPgsize(): bigint {
    if (this.pgsizeCache[0] !== this.pgsizeBitmap) this.pgsizeCache = [this.pgsizeBitmap, 1n << ffs(this.pgsizeBitmap)];
    return this.pgsizeCache[1];
  }

  hasGroup(ig: IommuGroup): boolean {
    return this.domains.some((d) => d.groups.includes(ig));
  }
}

// ---- the IOVA list ------------------------------------------------------------------------

/** Any mapping overlapping `[start, last]`. @see vfio_find_dma */
const vfioFindDma = (iommu: VfioIommu, start: bigint, last: bigint): VfioDma | undefined => iommu.dmaList.findOverlap(start, last);

/** @see drivers/vfio/vfio_iommu_type1.c:vfio_iommu_iova_dma_valid */
function vfioIommuIovaDmaValid(iommu: VfioIommu, start: bigint, end: bigint): boolean {
  if (iommu.iovaList.length === 0) return true;
  return iommu.iovaList.some((n) => start >= n.start && end <= n.last);
}

/** @see drivers/vfio/vfio_iommu_type1.c:vfio_iommu_aper_conflict */
function vfioIommuAperConflict(iommu: VfioIommu, start: bigint, end: bigint): boolean {
  const list = iommu.iovaList;
  if (list.length === 0) return false;
  const first = list[0]!;
  const last = list[list.length - 1]!;
  if (start > last.last || end < first.start) return true;
  if (start > first.start && vfioFindDma(iommu, first.start, start - 1n)) return true;
  if (end < last.last && vfioFindDma(iommu, end + 1n, last.last)) return true;
  return false;
}

/** @see drivers/vfio/vfio_iommu_type1.c:vfio_iommu_resv_conflict */
function vfioIommuResvConflict(iommu: VfioIommu, regions: readonly ResvRegion[]): boolean {
  return regions.some((r) => r.type !== ResvType.DIRECT_RELAXABLE && vfioFindDma(iommu, r.start, r.last) !== undefined);
}

/**
 * Trim the list to `[start, end]` with the kernel's boundary quirks: a node whose last byte is
 * the new start, or whose first byte is the new end, is dropped rather than kept one byte long.
 * @see drivers/vfio/vfio_iommu_type1.c:vfio_iommu_aper_resize
 */
export function vfioIommuAperResize(list: readonly IovaRange[], start: bigint, end: bigint): IovaRange[] {
  if (list.length === 0) return [range(start, end)];
  const nodes = list.map((n) => ({ start: n.start, last: n.last }));
  let i = 0;
  while (i < nodes.length) {
    const n = nodes[i]!;
    if (start < n.start) break;
    if (start >= n.start && start < n.last) {
      n.start = start;
      break;
    }
    nodes.splice(i, 1);
  }
  const out: IovaRange[] = [];
  for (const n of nodes) {
    if (end > n.last) {
      out.push(n);
      continue;
    }
    if (end > n.start && end <= n.last) {
      out.push({ start: n.start, last: end });
      continue;
    }
  }
  return out;
}

/**
 * Carve every reserved region but direct-relaxable out of the list; an empty result is EINVAL.
 * @see drivers/vfio/vfio_iommu_type1.c:vfio_iommu_resv_exclude
 */
export function vfioIommuResvExclude(list: readonly IovaRange[], regions: readonly ResvRegion[]): IovaRange[] {
  const out = excludeReserved(list, regions);
  if (out.length === 0) throw kerr('EINVAL');
  return out;
}

/** Any hardware MSI region cancels the software window. @see vfio_iommu_has_sw_msi */
function vfioIommuHasSwMsi(regions: readonly ResvRegion[]): bigint | undefined {
  let base: bigint | undefined;
  for (const r of regions) {
    if (r.type === ResvType.MSI) return undefined;
    if (r.type === ResvType.SW_MSI) base = r.start;
  }
  return base;
}

/** @see drivers/vfio/vfio_iommu_type1.c:vfio_update_pgsize_bitmap */
function vfioUpdatePgsizeBitmap(iommu: VfioIommu): void {
  let bitmap = U64_MAX;
  for (const d of iommu.domains) bitmap &= d.domain.pgsizeBitmap;
  if (bitmap & ~PAGE_MASK) {
    bitmap &= PAGE_MASK;
    bitmap |= PAGE_SIZE;
  }
  iommu.pgsizeBitmap = bitmap;
}

/**
 * Attach a group: a fresh paging domain is allocated and the group attached to it (the IOMMU
 * driver may refuse), then the conflict checks against the live mappings, the new IOVA list built
 * on a copy and installed only on success, interrupt isolation, and last the move to an existing
 * domain of the same driver when that driver accepts the group there.
 * @see drivers/vfio/vfio_iommu_type1.c:vfio_iommu_type1_attach_group
 * @note emulation: before v5.4 (no IOVA list) the aperture and reserved regions are not checked
 * at all, where the kernel would fail later inside iommu_map with a driver-specific errno.
 */
export function vfioIommuType1AttachGroup(iommu: VfioIommu, group: VfioGroup): void {
  const st = iommu.st;
  const core = st.k.host.iommu;
  const ig = group.iommuGroup;
  // Added with the mdev exclusion of VFIO_UPDATE_VADDR (v6.3): a new group could not see the
  // invalidated vaddrs; older kernels attach anyway.
  if (st.kernel.has('vfio_update_vaddr_needs_iommu') && iommu.vaddrInvalidCount) throw kerr('EBUSY');
  if (iommu.hasGroup(ig)) throw kerr('EINVAL');
  const unit = core.groupUnit(ig);
  if (!unit) throw kerr('ENODEV');
  const domain = core.domainAllocPaging(unit);
  // Nesting is enabled on the new domain before the attach (only the ARM SMMUs implement it).
  // @see drivers/iommu/iommu.c:iommu_enable_nesting
  if (iommu.nesting) core.enableNesting(domain);
  core.attachGroup(domain, ig);
  try {
    const geo = domain.geometry;
    let iovaCopy = iommu.iovaList;
    let regions: ResvRegion[] = [];
    if (st.kernel.has('vfio_iova_range_cap')) {
      if (vfioIommuAperConflict(iommu, geo.start, geo.last)) throw kerr('EINVAL');
      regions = core.groupResvRegions(ig);
      if (vfioIommuResvConflict(iommu, regions)) throw kerr('EINVAL');
      iovaCopy = vfioIommuAperResize(iommu.iovaList, geo.start, geo.last);
      iovaCopy = vfioIommuResvExclude(iovaCopy, regions);
    } else if (st.kernel.has('reserved_regions')) {
      regions = core.groupResvRegions(ig);
    }
    if (!st.k.params.allow_unsafe_interrupts && !core.groupHasIsolatedMsi(ig)) throw kerr('EPERM');
    // Try to match an existing compatible domain: same driver, and the driver takes the group.
    for (const d of iommu.domains) {
      if (d.domain.driver !== domain.driver || d.domain.nesting !== domain.nesting) continue;
      core.detachGroup(domain, ig);
      try {
        core.attachGroup(d.domain, ig);
      } catch (e) {
        if (!isKernelError(e)) throw e;
        core.attachGroup(domain, ig);
        continue;
      }
      d.groups.push(ig);
      core.domainFree(domain);
      iommu.iovaList = iovaCopy;
      return;
    }
    iommu.domains.unshift({ domain, groups: [ig], msiCookie: vfioIommuHasSwMsi(regions) });
    vfioUpdatePgsizeBitmap(iommu);
    iommu.iovaList = iovaCopy;
  } catch (e) {
    core.detachGroup(domain, ig);
    throw e;
  }
}

/** @see drivers/vfio/vfio_iommu_type1.c:vfio_iommu_aper_expand */
function vfioIommuAperExpand(iommu: VfioIommu, list: IovaRange[]): IovaRange[] {
  if (list.length === 0) return list;
  let start = 0n;
  let end = U64_MAX;
  for (const d of iommu.domains) {
    if (d.domain.geometry.start > start) start = d.domain.geometry.start;
    if (d.domain.geometry.last < end) end = d.domain.geometry.last;
  }
  const out = [...list];
  out[0] = range(start, out[0]!.last);
  out[out.length - 1] = range(out[out.length - 1]!.start, end);
  return out;
}

/** @see drivers/vfio/vfio_iommu_type1.c:vfio_iommu_resv_refresh — undefined where it fails */
function vfioIommuResvRefresh(iommu: VfioIommu, list: IovaRange[]): IovaRange[] | undefined {
  if (list.length === 0) return undefined;
  const regions: ResvRegion[] = [];
  for (const d of iommu.domains) for (const ig of d.groups) regions.push(...iommu.st.k.host.iommu.groupResvRegions(ig));
  const rebuilt = vfioIommuAperResize([], list[0]!.start, list[list.length - 1]!.last);
  try {
    return vfioIommuResvExclude(rebuilt, regions);
  } catch {
    return undefined;
  }
}

/** @see drivers/vfio/vfio_iommu_type1.c:vfio_iommu_type1_detach_group */
export function vfioIommuType1DetachGroup(iommu: VfioIommu, group: VfioGroup): void {
  const ig = group.iommuGroup;
  let iovaCopy = [...iommu.iovaList];
  for (const d of iommu.domains) {
    const at = d.groups.indexOf(ig);
    if (at < 0) continue;
    d.groups.splice(at, 1);
    iommu.st.k.host.iommu.detachGroup(d.domain, ig);
    if (d.groups.length === 0) {
      if (iommu.domains.length === 1) vfioIommuUnmapUnpinAll(iommu);
      iommu.domains.splice(iommu.domains.indexOf(d), 1);
      iovaCopy = vfioIommuAperExpand(iommu, iovaCopy);
      vfioUpdatePgsizeBitmap(iommu);
    }
    break;
  }
  if (!iommu.st.kernel.has('vfio_iova_range_cap')) return;
  const refreshed = vfioIommuResvRefresh(iommu, iovaCopy);
  if (refreshed) iommu.iovaList = refreshed;
}

// ---- mappings -----------------------------------------------------------------------------

/** @see drivers/vfio/vfio_iommu_type1.c:vfio_remove_dma */
function vfioRemoveDma(iommu: VfioIommu, dma: VfioDma): void {
  iommu.dmaList.remove(dma);
  if (dma.mm) dma.mm.lockedVm -= dma.lockedPages;
  if (dma.vaddrInvalid) iommu.vaddrInvalidCount--;
  iommu.dmaAvail++;
}

function vfioIommuUnmapUnpinAll(iommu: VfioIommu): void {
  for (const dma of [...iommu.dmaList]) vfioRemoveDma(iommu, dma);
}

/**
 * Pin the user pages: every page must be mapped (writable for a device-writable mapping, GUP
 * FOLL_WRITE) and, without CAP_IPC_LOCK, fit RLIMIT_MEMLOCK; whichever page fails first decides.
 * @see drivers/vfio/vfio_iommu_type1.c:vfio_pin_map_dma, vfio_pin_pages_remote
 */
function vfioPinMapDma(dma: VfioDma, current: Task): void {
  const mem = current.mm;
  const need = dma.prot & VFIO_DMA_MAP_FLAG_WRITE ? PROT_READ | PROT_WRITE : PROT_READ;
  const npages = dma.size >> PAGE_SHIFT;
  let faultAt = npages;
  if (!mem.isMapped(dma.vaddr, dma.size, need)) {
    let lo = 0n;
    let hi = npages - 1n;
    while (lo < hi) {
      const mid = (lo + hi) / 2n;
      if (mem.isMapped(dma.vaddr, (mid + 1n) * PAGE_SIZE, need)) lo = mid + 1n;
      else hi = mid;
    }
    faultAt = lo;
  }
  // Page by page the kernel pins first and counts second: the first page that cannot be pinned
  // faults (EFAULT) even when it is also the first past RLIMIT_MEMLOCK; only a page that pins
  // but does not fit is ENOMEM. @see drivers/vfio/vfio_iommu_type1.c:vfio_pin_pages_remote
  const room = (dma.memlock >> PAGE_SHIFT) - mem.lockedVm;
  const limitAt = dma.lockCap ? npages : room > 0n ? room : 0n;
  if (limitAt < npages && limitAt < faultAt) throw kerr('ENOMEM');
  if (faultAt < npages) throw kerr('EFAULT');
  dma.lockedPages = npages;
  dma.mm = mem;
  mem.lockedVm += npages;
}

/** @see drivers/vfio/vfio_iommu_type1.c:vfio_dma_do_map */
function vfioDmaDoMap(iommu: VfioIommu, map: { flags: number; vaddr: bigint; iova: bigint; size: bigint }, current: Task): void {
  const kernel = iommu.st.kernel;
  const { iova, vaddr, size } = map;
  const setVaddr = (map.flags & VFIO_DMA_MAP_FLAG_VADDR) !== 0;
  const prot = map.flags & (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
  const badProt = (prot !== 0 && setVaddr) || (prot === 0 && !setVaddr);
  const wraps = iova + size - 1n > U64_MAX || vaddr + size - 1n > U64_MAX;
  const pgmask = iommu.minPgsize - 1n;
  if (kernel.has('vfio_dma_eoverflow')) {
    if (size === 0n) throw kerr('EINVAL');
    if (wraps) throw kerr('EOVERFLOW');
    if (badProt) throw kerr('EINVAL');
    if ((size | iova | vaddr) & pgmask) throw kerr('EINVAL');
  } else if (badProt || size === 0n || (size | iova | vaddr) & pgmask || wraps) throw kerr('EINVAL');
  const last = iova + size - 1n;
  const dma = vfioFindDma(iommu, iova, last);
  if (setVaddr) {
    if (!dma) throw kerr('ENOENT');
    if (!dma.vaddrInvalid || dma.iova !== iova || dma.size !== size) throw kerr('EINVAL');
    dma.vaddr = vaddr;
    dma.vaddrInvalid = false;
    iommu.vaddrInvalidCount--;
    return;
  }
  if (dma) throw kerr('EEXIST');
  if (kernel.has('vfio_dma_entry_limit') && iommu.dmaAvail === 0) throw kerr('ENOSPC');
  if (!vfioIommuIovaDmaValid(iommu, iova, last)) throw kerr('EINVAL');
  const created: VfioDma = {
    iova,
    size,
    vaddr,
    prot,
    vaddrInvalid: false,
    lockedPages: 0n,
    mm: undefined,
    lockCap: capable(current.cred, 'CAP_IPC_LOCK'),
    memlock: current.rlim.memlock,
  };
  iommu.dmaAvail--;
  iommu.dmaList.insert(created);
  if (iommu.domains.length) {
    try {
      vfioPinMapDma(created, current);
    } catch (e) {
      vfioRemoveDma(iommu, created);
      throw e;
    }
  }
}

interface UnmapBitmap {
  readonly pgsize: bigint;
  readonly size: bigint;
  readonly data: bigint;
}

/**
 * Set the dirty bits of `dma` (every pinned page is dirty without IOMMU dirty tracking) in the
 * user bitmap based at `base`, leaving other bits as they are.
 * @see drivers/vfio/vfio_iommu_type1.c:update_user_bitmap, vfio_iova_dirty_bitmap
 */
function vfioUpdateUserBitmap(mem: MmStruct, bitmap: bigint, dma: VfioDma, base: bigint, lo: bigint, hi: bigint, pgsize: bigint): void {
  const from = (dma.iova > lo ? dma.iova : lo) - base;
  const to = (dma.iova + dma.size - 1n < hi ? dma.iova + dma.size - 1n : hi) - base;
  const first = from / pgsize;
  const lastBit = to / pgsize;
  const byte0 = first / 8n;
  const len = Number(lastBit / 8n - byte0 + 1n);
  const bytes = copyFromUser(mem, bitmap + byte0, len);
  for (let b = first; b <= lastBit; b++) {
    const i = Number(b / 8n - byte0);
    bytes[i] = bytes[i]! | (1 << Number(b % 8n));
  }
  copyToUser(mem, bitmap + byte0, bytes);
}

/** @see drivers/vfio/vfio_iommu_type1.c:vfio_dma_do_unmap — returns the bytes unmapped */
function vfioDmaDoUnmap(iommu: VfioIommu, unmap: { flags: number; iova: bigint; size: bigint }, bitmap: UnmapBitmap | undefined, current: Task): bigint {
  const kernel = iommu.st.kernel;
  const { iova, size } = unmap;
  const unmapAll = (unmap.flags & VFIO_DMA_UNMAP_FLAG_ALL) !== 0;
  const invalidateVaddr = (unmap.flags & VFIO_DMA_UNMAP_FLAG_VADDR) !== 0;
  const pgsize = iommu.minPgsize;
  if (iova & (pgsize - 1n)) throw kerr('EINVAL');
  let iovaEnd: bigint;
  if (unmapAll) {
    if (iova || size) throw kerr('EINVAL');
    iovaEnd = U64_MAX;
  } else {
    if (!size || size & (pgsize - 1n)) throw kerr('EINVAL');
    if (iova + size - 1n > U64_MAX) throw kerr(kernel.has('vfio_dma_eoverflow') ? 'EOVERFLOW' : 'EINVAL');
    iovaEnd = iova + size - 1n;
  }
  if (bitmap && (!iommu.dirtyPageTracking || bitmap.pgsize !== pgsize)) throw kerr('EINVAL');
  if (iommu.v2 && !unmapAll) {
    let dma = iommu.dmaList.findContaining(iova);
    if (dma && dma.iova !== iova) throw kerr('EINVAL');
    dma = iommu.dmaList.findContaining(iovaEnd);
    if (dma && dma.iova + dma.size - 1n !== iovaEnd) throw kerr('EINVAL');
  }
  let unmapped = 0n;
  const invalidated: VfioDma[] = [];
  for (let dma = iommu.dmaList.firstOverlapping(iova, iovaEnd); dma; ) {
    if (dma.iova > iovaEnd) break;
    if (!iommu.v2 && iova > dma.iova) break;
    const next = iommu.dmaList.next(dma);
    if (invalidateVaddr) {
      if (dma.vaddrInvalid) {
        for (const d of invalidated) d.vaddrInvalid = false;
        iommu.vaddrInvalidCount -= invalidated.length;
        throw kerr('EINVAL');
      }
      dma.vaddrInvalid = true;
      iommu.vaddrInvalidCount++;
      invalidated.push(dma);
      unmapped += dma.size;
      dma = next;
      continue;
    }
    if (bitmap) vfioUpdateUserBitmap(current.mm, bitmap.data, dma, iova, dma.iova, dma.iova + dma.size - 1n, pgsize);
    unmapped += dma.size;
    vfioRemoveDma(iommu, dma);
    dma = next;
  }
  return unmapped;
}

// ---- ioctls -------------------------------------------------------------------------------

/** @see drivers/vfio/vfio_iommu_type1.c:vfio_iommu_type1_check_extension */
function vfioIommuType1CheckExtension(st: VfioState, iommu: VfioIommu | null, arg: bigint): number {
  switch (arg) {
    case BigInt(VFIO_TYPE1_IOMMU):
    case BigInt(VFIO_TYPE1v2_IOMMU):
      return 1;
    case BigInt(__VFIO_RESERVED_TYPE1_NESTING_IOMMU):
      return st.kernel.has('vfio_type1_nesting') ? 1 : 0;
    case BigInt(VFIO_UNMAP_ALL):
      return st.kernel.has('vfio_unmap_all') ? 1 : 0;
    case BigInt(VFIO_UPDATE_VADDR):
      if (!st.kernel.has('vfio_update_vaddr')) return 0;
      return !st.kernel.has('vfio_update_vaddr_needs_iommu') || iommu ? 1 : 0;
    case BigInt(VFIO_DMA_CC_IOMMU):
      // @note emulation: every paging domain here enforces cache coherency.
      return iommu && iommu.domains.length ? 1 : 0;
    default:
      return 0;
  }
}

/** @see drivers/vfio/vfio_iommu_type1.c:vfio_iommu_type1_get_info and the *_build_caps helpers */
function vfioIommuType1GetInfo(iommu: VfioIommu, arg: bigint, current: Task): number {
  const st = iommu.st;
  const kernel = st.kernel;
  const mem = current.mm;
  const { value: info, minsz } = vfioArgszFromUser(mem, vfio_iommu_type1_info, arg, 'iova_pgsizes');
  const sizeofInfo = vfio_iommu_type1_info.size;
  const out = { argsz: info.argsz, flags: VFIO_IOMMU_INFO_PGSIZES, iova_pgsizes: iommu.pgsizeBitmap, cap_offset: 0, pad: 0 };
  if (!kernel.has('vfio_iova_range_cap')) {
    copyStructToUser(mem, vfio_iommu_type1_info, arg, out, minsz);
    return 0;
  }
  const copyLen = vfioInfoCopyLen(kernel, info.argsz, minsz, sizeofInfo, offsetofend(vfio_iommu_type1_info, 'cap_offset'));
  const caps = vfioInfoCaps(kernel);
  if (kernel.has('vfio_migration_cap')) {
    vfioInfoAddCapability(
      caps,
      encode(vfio_iommu_type1_info_cap_migration, {
        header: { id: VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION, version: 1 },
        flags: 0,
        pgsize_bitmap: iommu.minPgsize,
        max_dirty_bitmap_size: DIRTY_BITMAP_SIZE_MAX,
      }),
    );
  }
  const dmaAvail = () =>
    vfioInfoAddCapability(
      caps,
      encode(vfio_iommu_type1_info_dma_avail, { header: { id: VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, version: 1 }, avail: iommu.dmaAvail }),
    );
  // Mainline (v5.10, beside the v5.8 migration cap) adds DMA_AVAIL before the IOVA ranges; the
  // 5.4.y backport (5.4.90) calls it after vfio_iommu_iova_build_caps.
  const backportOrder = !kernel.has('vfio_migration_cap');
  if (kernel.has('vfio_dma_avail_cap') && !backportOrder) dmaAvail();
  if (iommu.iovaList.length) {
    vfioInfoAddCapability(
      caps,
      encode(vfio_iommu_type1_info_cap_iova_range, {
        header: { id: VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, version: 1 },
        nr_iovas: iommu.iovaList.length,
        iova_ranges: iommu.iovaList.map((r) => ({ start: r.start, end: r.last })),
      }),
    );
  }
  if (kernel.has('vfio_dma_avail_cap') && backportOrder) dmaAvail();
  for (const extra of st.type1InfoCaps) {
    const bytes = extra({ groups: iommu.domains.flatMap((d) => d.groups), msiCookies: iommu.domains.flatMap((d) => (d.msiCookie === undefined ? [] : [d.msiCookie])), iovaList: iommu.iovaList });
    if (bytes) vfioInfoAddCapability(caps, bytes);
  }
  if (caps.size) {
    out.flags |= VFIO_IOMMU_INFO_CAPS;
    if (info.argsz < sizeofInfo + caps.size) out.argsz = sizeofInfo + caps.size;
    else {
      vfioInfoCapShift(caps, sizeofInfo);
      copyToUser(mem, arg + BigInt(sizeofInfo), caps.buf.subarray(0, caps.size));
      out.cap_offset = sizeofInfo;
    }
  }
  copyStructToUser(mem, vfio_iommu_type1_info, arg, out, copyLen);
  return 0;
}

const MAP_DMA_MINSZ = offsetofend(vfio_iommu_type1_dma_map, 'size');
const UNMAP_DMA_MINSZ = offsetofend(vfio_iommu_type1_dma_unmap, 'size');

/** @see drivers/vfio/vfio_iommu_type1.c:vfio_iommu_type1_map_dma */
function vfioIommuType1MapDma(iommu: VfioIommu, arg: bigint, current: Task): number {
  const mask = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE | (iommu.st.kernel.has('vfio_update_vaddr') ? VFIO_DMA_MAP_FLAG_VADDR : 0);
  const mem = current.mm;
  const minsz = MAP_DMA_MINSZ;
  const map = decode(vfio_iommu_type1_dma_map, copyFromUser(mem, arg, minsz), 0, minsz);
  if (map.argsz < minsz || map.flags & ~mask) throw kerr('EINVAL');
  vfioDmaDoMap(iommu, map, current);
  return 0;
}

/** @see drivers/vfio/vfio_iommu_type1.c:vfio_iommu_type1_unmap_dma, verify_bitmap_size */
function vfioIommuType1UnmapDma(iommu: VfioIommu, arg: bigint, current: Task): number {
  const kernel = iommu.st.kernel;
  const mem = current.mm;
  let mask = 0;
  if (kernel.has('vfio_migration_cap')) mask |= VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
  if (kernel.has('vfio_unmap_all')) mask |= VFIO_DMA_UNMAP_FLAG_ALL;
  if (kernel.has('vfio_update_vaddr')) mask |= VFIO_DMA_UNMAP_FLAG_VADDR;
  const minsz = UNMAP_DMA_MINSZ;
  const unmap = decode(vfio_iommu_type1_dma_unmap, copyFromUser(mem, arg, minsz), 0, minsz);
  if (unmap.argsz < minsz || unmap.flags & ~mask) throw kerr('EINVAL');
  const getBitmap = (unmap.flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) !== 0;
  if (getBitmap && unmap.flags & (VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR)) throw kerr('EINVAL');
  let bitmap: UnmapBitmap | undefined;
  if (getBitmap) {
    if (unmap.argsz < minsz + vfio_bitmap.size) throw kerr('EINVAL');
    bitmap = decode(vfio_bitmap, copyFromUser(mem, arg + BigInt(minsz), vfio_bitmap.size));
    if (!accessOk(bitmap.data, bitmap.size)) throw kerr('EINVAL');
    verifyBitmapSize(unmap.size >> ffs(bitmap.pgsize), bitmap.size);
  }
  const unmapped = vfioDmaDoUnmap(iommu, unmap, bitmap, current);
  copyStructToUser(mem, vfio_iommu_type1_dma_unmap, arg, { ...unmap, size: unmapped }, minsz);
  return 0;
}

/** `access_ok`: inside the user half of the address space; faults come later. */
const accessOk = (addr: bigint, size: bigint): boolean => addr + size <= TASK_SIZE;

function verifyBitmapSize(npages: bigint, bitmapSize: bigint): void {
  if (!npages || !bitmapSize || bitmapSize > DIRTY_BITMAP_SIZE_MAX || bitmapSize < dirtyBitmapBytes(npages)) throw kerr('EINVAL');
}

/** @see drivers/vfio/vfio_iommu_type1.c:vfio_iommu_type1_dirty_pages */
function vfioIommuType1DirtyPages(iommu: VfioIommu, arg: bigint, current: Task): number {
  const kernel = iommu.st.kernel;
  const mem = current.mm;
  const mask = VFIO_IOMMU_DIRTY_PAGES_FLAG_START | VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP | VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
  if (!iommu.v2) throw kerr('EACCES');
  const { value: dirty, minsz } = vfioArgszFromUser(mem, vfio_iommu_type1_dirty_bitmap, arg, 'flags');
  if (dirty.flags & ~mask) throw kerr('EINVAL');
  const f = dirty.flags;
  if (f === 0 || (f & (f - 1)) !== 0) throw kerr('EINVAL');
  if (f & VFIO_IOMMU_DIRTY_PAGES_FLAG_START) {
    iommu.dirtyPageTracking = true;
    return 0;
  }
  if (f & VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP) {
    iommu.dirtyPageTracking = false;
    return 0;
  }
  const dataSize = dirty.argsz - minsz;
  if (dataSize < vfio_iommu_type1_dirty_bitmap_get.size) throw kerr('EINVAL');
  const r = decode(vfio_iommu_type1_dirty_bitmap_get, copyFromUser(mem, arg + BigInt(minsz), vfio_iommu_type1_dirty_bitmap_get.size));
  const pgsize = iommu.minPgsize;
  if (kernel.has('vfio_dma_eoverflow')) {
    if (!r.size) throw kerr('EINVAL');
    if (r.iova + r.size - 1n > U64_MAX) throw kerr('EOVERFLOW');
  } else if (r.iova + r.size > U64_MAX) throw kerr('EINVAL'); // `iova + size < iova`: an end at 2^64 counts too
  if (!accessOk(r.bitmap.data, r.bitmap.size)) throw kerr('EINVAL');
  verifyBitmapSize(r.size >> ffs(r.bitmap.pgsize), r.bitmap.size);
  if (r.bitmap.pgsize !== pgsize) throw kerr('EINVAL');
  if (r.iova & (pgsize - 1n)) throw kerr('EINVAL');
  if (!r.size || r.size & (pgsize - 1n)) throw kerr('EINVAL');
  if (!iommu.dirtyPageTracking) throw kerr('EINVAL');
  const end = r.iova + r.size - 1n;
  let dma = iommu.dmaList.findContaining(r.iova);
  if (dma && dma.iova !== r.iova) throw kerr('EINVAL');
  dma = iommu.dmaList.findContaining(end);
  if (dma && dma.iova !== end && dma.iova + dma.size - 1n !== end) throw kerr('EINVAL');
  for (let d = iommu.dmaList.firstOverlapping(r.iova, end); d && d.iova <= end; d = iommu.dmaList.next(d))
    vfioUpdateUserBitmap(mem, r.bitmap.data, d, r.iova, r.iova, end, pgsize);
  return 0;
}

/** @see drivers/vfio/vfio_iommu_type1.c:vfio_iommu_type1_ioctl */
const vfioIommuType1Ioctls: Readonly<Record<number, (iommu: VfioIommu, arg: bigint, current: Task) => number>> = {
  [VFIO_IOMMU_GET_INFO]: vfioIommuType1GetInfo,
  [VFIO_IOMMU_MAP_DMA]: vfioIommuType1MapDma,
  [VFIO_IOMMU_UNMAP_DMA]: vfioIommuType1UnmapDma,
  [VFIO_IOMMU_DIRTY_PAGES]: vfioIommuType1DirtyPages,
};

function vfioIommuType1Ioctl(st: VfioState, iommu: VfioIommu | null, cmd: number, arg: bigint, current: Task): number {
  if (cmd === VFIO_CHECK_EXTENSION) return vfioIommuType1CheckExtension(st, iommu, arg);
  const handler = vfioIommuType1Ioctls[cmd];
  if (!handler || !iommu) throw kerr('ENOTTY');
  if (cmd === VFIO_IOMMU_DIRTY_PAGES && !st.kernel.has('vfio_migration_cap')) throw kerr('ENOTTY');
  return handler(iommu, arg, current);
}

/** @see drivers/vfio/vfio_iommu_type1.c:vfio_iommu_type1_open */
function vfioIommuType1Open(st: VfioState, arg: bigint): VfioIommu {
  switch (arg) {
    case BigInt(VFIO_TYPE1_IOMMU):
      return new VfioIommu(st, false);
    case BigInt(__VFIO_RESERVED_TYPE1_NESTING_IOMMU):
      if (!st.kernel.has('vfio_type1_nesting')) throw kerr('EINVAL');
      return new VfioIommu(st, true, true);
    case BigInt(VFIO_TYPE1v2_IOMMU):
      return new VfioIommu(st, true);
    default:
      throw kerr('EINVAL');
  }
}

/** @see drivers/vfio/vfio_iommu_type1.c:vfio_iommu_type1_release */
function vfioIommuType1Release(iommu: VfioIommu): void {
  vfioIommuUnmapUnpinAll(iommu);
  for (const d of iommu.domains) for (const ig of d.groups) iommu.st.k.host.iommu.detachGroup(d.domain, ig);
  iommu.domains.length = 0;
  iommu.iovaList = [];
}

export const vfioIommuType1DriverOps: VfioIommuDriverOps<VfioIommu> = {
  name: 'vfio-iommu-type1',
  open: vfioIommuType1Open,
  release: vfioIommuType1Release,
  ioctl: vfioIommuType1Ioctl,
  attachGroup: vfioIommuType1AttachGroup,
  detachGroup: vfioIommuType1DetachGroup,
};

/** Module init: the backend offers itself to containers. @see drivers/vfio/vfio_iommu_type1.c:vfio_iommu_type1_init */
export const vfioIommuType1Module: KernelModule = {
  name: 'vfio_iommu_type1',
  since: 'vfio',
  kconfig: ['CONFIG_VFIO', 'CONFIG_VFIO_CONTAINER'],
  init(k) {
    vfioRegisterIommuDriver(vfioState(k), vfioIommuType1DriverOps);
  },
};
