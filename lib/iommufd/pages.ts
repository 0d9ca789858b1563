// SPDX-License-Identifier: GPL-2.0-only
/**
 * drivers/iommu/iommufd/pages.c (studied at 6.12.117) — the iopt_pages object: a refcounted,
 * page-granular reference to a range of one process's memory that areas of one or more IOASes
 * slice. Pages are pinned (GUP) only when a domain or an access needs them, once per page index
 * however many domains and accesses use it, and charged to the owner as the context's
 * accounting mode says (RLIMIT_MEMLOCK on the user's locked_vm, or the mm's locked_vm as VFIO
 * does); every pin also counts in the mm's pinned_vm. An IOAS with neither a domain nor an access
 * never touches user memory.
 *
 * Pinned pages are the address space's own page objects (lib/mm pinPages), so reads and writes
 * through them are the owning process's live memory, and a pin keeps its page after the owner
 * unmapped it or exited. Each physical page's pin count is kept per machine, which is what the
 * selftest's MD_CHECK_REFS reads.
 *
 * @note emulation: the kernel batches PFNs and maps physically contiguous runs with the largest
 * page size the domain allows; here every CPU page is mapped by itself (no memory is physically
 * contiguous), so domains never hold huge entries.
 */
import { kerr } from '../errno';
import { PAGE_SHIFT, PAGE_SIZE } from '../kernel/page';
import { PROT_READ, PROT_WRITE } from '../uapi/fcntl';
import type { IommuDomain } from '../model/host';
import type { MmStruct } from '../mm/mm';
import type { Task } from '../task/sched';

const SIZE_MAX = (1n << 64n) - 1n;

/** @see drivers/iommu/iommufd/io_pagetable.h:enum iopt_pages_account_mode (IOPT_PAGES_ACCOUNT_*) */
export type IoptPagesAccountMode = 'none' | 'user' | 'mm';

/** include/linux/iommufd.h: IOMMUFD_ACCESS_RW_* (the selftest's MOCK_ACCESS_RW_* are the same bits). */
export const IOMMUFD_ACCESS_RW_READ = 0;
export const IOMMUFD_ACCESS_RW_WRITE = 1 << 0;
export const IOMMUFD_ACCESS_RW_KTHREAD = 1 << 1;
export const __IOMMUFD_ACCESS_RW_SLOW_PATH = 1 << 2;

/** What pinning needs of the machine: GUP pin counts per page, each user's locked_vm, fault injection. */
export interface PagesEnv {
  /** Pins per physical page (`page_ref_count / GUP_PIN_COUNTING_BIAS`). */
  readonly pins: WeakMap<Uint8Array, number>;
  /** `user_struct.locked_vm` by uid, in pages. */
  readonly userLockedVm: Map<number, bigint>;
  /** The task running the syscall now (`current`). */
  current(): Task | undefined;
  /** A fault-injection site (`iommufd_should_fail()` and the allocations it stands for). */
  shouldFail(): boolean;
}

interface PinnedPage {
  readonly page: Uint8Array;
  /** Holders of this index: areas loaded into domains, and in-kernel accesses. */
  users: number;
}

/** One in-kernel access of [start, last] page indexes (struct iopt_pages_access). */
interface PagesAccess {
  readonly start: bigint;
  readonly last: bigint;
  users: number;
}

export class IoptPages {
  /** Page-aligned start of the user range. */
  readonly uptr: bigint;
  readonly npages: bigint;
  readonly writable: boolean;
  accountMode: IoptPagesAccountMode;
  /** The process whose memory this is (`source_mm`, `source_task`, `source_user`). */
  readonly sourceMm: MmStruct;
  readonly sourceTask: Task;
  readonly sourceUid: number;
  /** Pinned pages by index (`pinned_pfns` and the pins the domains hold). */
  readonly pinned = new Map<bigint, PinnedPage>();
  readonly accesses: PagesAccess[] = [];
  /** `npinned` / `last_npinned`: pages pinned, and how many are charged. */
  npinned = 0n;
  private kref = 1;

  constructor(
    readonly env: PagesEnv,
    uptr: bigint,
    length: bigint,
    writable: boolean,
    accountMode: IoptPagesAccountMode,
    source: Task,
  ) {
    this.uptr = uptr & ~(PAGE_SIZE - 1n);
    this.npages = (length + (uptr - this.uptr) + PAGE_SIZE - 1n) / PAGE_SIZE;
    this.writable = writable;
    this.accountMode = accountMode;
    this.sourceTask = source;
    this.sourceMm = source.mm;
    this.sourceUid = source.cred.uid;
  }

  get refs(): number {
    return this.kref;
  }

  get(): this {
    this.kref++;
    return this;
  }

  /** kref_put; true when this dropped the last reference (iopt_release_pages). */
  put(): boolean {
    if (this.kref <= 0) throw new Error('iopt_pages: put of a released object');
    this.kref--;
    if (this.kref === 0 && this.pinned.size) throw new Error(`iopt_pages released with ${this.pinned.size} pages pinned`);
    return this.kref === 0;
  }
}

export interface AllocPagesOptions {
  /** CAP_IPC_LOCK: no accounting. */
  ipcLock?: boolean;
}

/**
 * Checks in the kernel's order, then a fresh object for `current`'s memory: length 0 or past
 * SIZE_MAX - PAGE_SIZE → EINVAL, uptr + length wrapping → EOVERFLOW, the allocation (ENOMEM).
 * @see drivers/iommu/iommufd/pages.c:iopt_alloc_pages
 */
export function ioptAllocPages(env: PagesEnv, current: Task, uptr: bigint, length: bigint, writable: boolean, opts: AllocPagesOptions = {}): IoptPages {
  if (length > SIZE_MAX - PAGE_SIZE || length === 0n) throw kerr('EINVAL');
  if (uptr + length > SIZE_MAX) throw kerr('EOVERFLOW');
  if (env.shouldFail()) throw kerr('ENOMEM');
  return new IoptPages(env, uptr, length, writable, opts.ipcLock ? 'none' : 'user', current);
}

/**
 * Charge or uncharge `npages`: the user's locked_vm against the owner's RLIMIT_MEMLOCK, or the
 * mm's locked_vm (VFIO's accounting), then the mm's pinned_vm. ENOMEM over the limit.
 * @see drivers/iommu/iommufd/pages.c:do_update_pinned, incr_user_locked_vm, update_mm_locked_vm
 * @see mm/util.c:__account_locked_vm
 */
function doUpdatePinned(pages: IoptPages, npages: bigint, inc: boolean): void {
  const limit = pages.sourceTask.rlim.memlock >> PAGE_SHIFT;
  switch (pages.accountMode) {
    case 'none':
      break;
    case 'user': {
      const cur = pages.env.userLockedVm.get(pages.sourceUid) ?? 0n;
      if (inc && cur + npages > limit) throw kerr('ENOMEM');
      const next = inc ? cur + npages : cur - npages;
      if (next < 0n) throw new Error('iommufd: user locked_vm underflow');
      if (next === 0n) pages.env.userLockedVm.delete(pages.sourceUid);
      else pages.env.userLockedVm.set(pages.sourceUid, next);
      break;
    }
    case 'mm': {
      const mm = pages.sourceMm;
      if (inc) {
        if (!mm.alive) throw kerr('EINVAL');
        if (mm.lockedVm + npages > limit) throw kerr('ENOMEM');
        mm.lockedVm += npages;
      } else {
        mm.lockedVm -= npages > mm.lockedVm ? mm.lockedVm : npages;
      }
      break;
    }
  }
  if (inc) pages.sourceMm.pinnedVm += npages;
  else pages.sourceMm.pinnedVm -= npages;
}

const pinRef = (env: PagesEnv, page: Uint8Array, d: number): void => {
  const n = (env.pins.get(page) ?? 0) + d;
  if (n < 0) throw new Error('iommufd: GUP pin count underflow');
  if (n === 0) env.pins.delete(page);
  else env.pins.set(page, n);
};

/**
 * Hold page indexes [start, last] once more: already pinned ones gain a user; the others are
 * pinned from the owner's memory (FOLL_WRITE when writable; the owner gone or a hole → EFAULT)
 * and charged. All or nothing.
 * @see drivers/iommu/iommufd/pages.c:pfn_reader_user_pin, pfn_reader_user_update_pinned
 */
export function ioptPagesPin(pages: IoptPages, start: bigint, last: bigint): void {
  const env = pages.env;
  const fresh: bigint[] = [];
  const held: bigint[] = [];
  const undo = () => {
    for (const i of held) pages.pinned.get(i)!.users--;
    for (const i of fresh) {
      pinRef(env, pages.pinned.get(i)!.page, -1);
      pages.pinned.delete(i);
    }
    pages.npinned -= BigInt(fresh.length);
  };
  const prot = pages.writable ? PROT_READ | PROT_WRITE : PROT_READ;
  try {
    for (let i = start; i <= last; ) {
      const ent = pages.pinned.get(i);
      if (ent) {
        ent.users++;
        held.push(i);
        i++;
        continue;
      }
      let end = i;
      while (end + 1n <= last && !pages.pinned.has(end + 1n)) end++;
      if (env.shouldFail()) throw kerr('EFAULT');
      const got = pages.sourceMm.pinPages(pages.uptr + i * PAGE_SIZE, Number(end - i + 1n), prot);
      got.forEach((page, k) => {
        const idx = i + BigInt(k);
        pages.pinned.set(idx, { page, users: 1 });
        pinRef(env, page, 1);
        fresh.push(idx);
      });
      pages.npinned += BigInt(got.length);
      i = end + 1n;
    }
    if (fresh.length) {
      if (env.shouldFail()) throw kerr('ENOMEM');
      doUpdatePinned(pages, BigInt(fresh.length), true);
    }
  } catch (e) {
    undo();
    throw e;
  }
}

/** Drop one user of indexes [start, last]; pages nobody holds any more are unpinned and uncharged. */
export function ioptPagesUnpin(pages: IoptPages, start: bigint, last: bigint): void {
  let freed = 0n;
  for (let i = start; i <= last; i++) {
    const ent = pages.pinned.get(i);
    if (!ent) throw new Error(`iommufd: unpin of page ${i} that is not pinned`);
    if (--ent.users > 0) continue;
    pinRef(pages.env, ent.page, -1);
    pages.pinned.delete(i);
    freed++;
  }
  if (freed) {
    pages.npinned -= freed;
    doUpdatePinned(pages, freed, false);
  }
}

/** What an area is to pages.c: a byte range of its pages at an IOVA. */
export interface PagesSlice {
  readonly start: bigint;
  readonly last: bigint;
  readonly pages: IoptPages;
  readonly startByte: bigint;
  readonly iommuProt: number;
}

export const sliceFirstIndex = (a: PagesSlice): bigint => a.startByte / PAGE_SIZE;
export const sliceLastIndex = (a: PagesSlice): bigint => (a.startByte + (a.last - a.start)) / PAGE_SIZE;

/**
 * Load the slice's pinned pages into `domain` (`iommu_map` of each page's part of the slice),
 * undoing what it mapped if the driver fails.
 * @see drivers/iommu/iommufd/pages.c:batch_to_domain
 */
export function sliceMapDomain(a: PagesSlice, domain: IommuDomain): void {
  const map = domain.ops?.mapPages;
  if (!map) return;
  const lastByte = a.startByte + (a.last - a.start);
  let byte = a.startByte;
  try {
    while (byte <= lastByte) {
      const idx = byte / PAGE_SIZE;
      const pageEnd = (idx + 1n) * PAGE_SIZE - 1n;
      const end = pageEnd < lastByte ? pageEnd : lastByte;
      const ent = a.pages.pinned.get(idx);
      if (!ent) throw new Error(`iommufd: mapping page ${idx} that is not pinned`);
      map(domain, a.start + (byte - a.startByte), ent.page, Number(byte % PAGE_SIZE), Number(end - byte + 1n), a.iommuProt);
      byte = end + 1n;
    }
  } catch (e) {
    if (byte > a.startByte) domain.ops?.unmapPages?.(domain, a.start, byte - a.startByte);
    throw e;
  }
}

/** `iommu_unmap` of the whole slice from `domain`. */
export function sliceUnmapDomain(a: PagesSlice, domain: IommuDomain): void {
  domain.ops?.unmapPages?.(domain, a.start, a.last - a.start + 1n);
}

/**
 * The pages of [start, last] held for an in-kernel access (EPERM writing read-only memory): an
 * access of exactly that range gains a user, another is recorded and its pages pinned.
 * @see drivers/iommu/iommufd/pages.c:iopt_area_add_access
 */
export function ioptPagesAddAccess(pages: IoptPages, start: bigint, last: bigint, write: boolean): Uint8Array[] {
  if (write && !pages.writable) throw kerr('EPERM');
  const exact = pages.accesses.find((x) => x.start === start && x.last === last);
  if (exact) {
    exact.users++;
  } else {
    if (pages.env.shouldFail()) throw kerr('ENOMEM');
    ioptPagesPin(pages, start, last);
    pages.accesses.push({ start, last, users: 1 });
  }
  const out: Uint8Array[] = [];
  for (let i = start; i <= last; i++) out.push(pages.pinned.get(i)!.page);
  return out;
}

/** @see drivers/iommu/iommufd/pages.c:iopt_area_remove_access */
export function ioptPagesRemoveAccess(pages: IoptPages, start: bigint, last: bigint): void {
  const i = pages.accesses.findIndex((x) => x.start === start && x.last === last);
  if (i < 0) throw new Error(`iommufd: no access of pages ${start}-${last}`);
  const acc = pages.accesses[i]!;
  if (--acc.users > 0) return;
  pages.accesses.splice(i, 1);
  ioptPagesUnpin(pages, start, last);
}

/** Copy between `data` and bytes [off, off+n) of one page. */
function copyPage(page: Uint8Array, off: number, data: Uint8Array, at: number, n: number, write: boolean): void {
  if (write) page.set(data.subarray(at, at + n), off);
  else data.set(page.subarray(off, off + n), at);
}

/**
 * The slow path: page by page from the pins held already, else pinning for the copy only (the
 * owner gone or a hole → EFAULT).
 * @see drivers/iommu/iommufd/pages.c:iopt_pages_rw_slow
 */
function ioptPagesRwSlow(pages: IoptPages, startByte: bigint, data: Uint8Array, write: boolean): void {
  let done = 0;
  while (done < data.length) {
    const byte = startByte + BigInt(done);
    const idx = byte / PAGE_SIZE;
    const off = Number(byte % PAGE_SIZE);
    const n = Math.min(data.length - done, Number(PAGE_SIZE) - off);
    const ent = pages.pinned.get(idx);
    let page: Uint8Array;
    if (ent) page = ent.page;
    else {
      if (pages.env.shouldFail()) throw kerr('EFAULT');
      page = pages.sourceMm.pinPages(pages.uptr + idx * PAGE_SIZE, 1, pages.writable ? PROT_READ | PROT_WRITE : PROT_READ)[0]!;
    }
    copyPage(page, off, data, done, n, write);
    done += n;
  }
}

/**
 * Copy `data` to or from bytes [startByte, +length) of the pages (EPERM writing read-only
 * memory). From the owner itself without SLOW_PATH: a plain copy from/to its address space
 * (EFAULT); from another process, one page through a temporary pin (EINVAL at the fault site)
 * or the slow path.
 * @see drivers/iommu/iommufd/pages.c:iopt_pages_rw_access, iopt_pages_rw_page
 */
export function ioptPagesRwAccess(pages: IoptPages, startByte: bigint, data: Uint8Array, flags: number, current: Task | undefined): void {
  const write = (flags & IOMMUFD_ACCESS_RW_WRITE) !== 0;
  const startIndex = startByte / PAGE_SIZE;
  const lastIndex = (startByte + BigInt(data.length) - 1n) / PAGE_SIZE;
  let changeMm = current?.mm !== pages.sourceMm;
  if (flags & __IOMMUFD_ACCESS_RW_SLOW_PATH) changeMm = true;
  if (write && !pages.writable) throw kerr('EPERM');
  if (!(flags & IOMMUFD_ACCESS_RW_KTHREAD) && changeMm) {
    if (startIndex === lastIndex && pages.sourceMm.alive) {
      if (pages.env.shouldFail()) throw kerr('EINVAL');
      let page: Uint8Array;
      try {
        page = pages.sourceMm.pinPages(pages.uptr + startIndex * PAGE_SIZE, 1, write ? PROT_WRITE : PROT_READ)[0]!;
      } catch {
        throw kerr('EFAULT');
      }
      copyPage(page, Number(startByte % PAGE_SIZE), data, 0, data.length, write);
      return;
    }
    ioptPagesRwSlow(pages, startByte, data, write);
    return;
  }
  if (changeMm && !pages.sourceMm.alive) {
    ioptPagesRwSlow(pages, startByte, data, write);
    return;
  }
  const addr = pages.uptr + startByte;
  if (write) pages.sourceMm.write(addr, data);
  else data.set(pages.sourceMm.read(addr, data.length));
}

/** What an area is to the pages ops (io_pagetable's iopt_area). */
interface OpsArea extends PagesSlice {
  storageDomain: unknown;
}

/**
 * The pin model behind an io_pagetable: an area loaded into any domain holds its pages once
 * (pinned on the first domain, unpinned after the last), and is mapped into each domain.
 * @see drivers/iommu/iommufd/pages.c:iopt_area_fill_domains, iopt_area_unfill_domains,
 *      iopt_area_fill_domain, iopt_area_unfill_domain
 */
export const IOPT_PAGES_OPS = {
  fillDomains(area: OpsArea, domains: readonly IommuDomainLike[]): void {
    if (!domains.length) return;
    ioptPagesPin(area.pages, sliceFirstIndex(area), sliceLastIndex(area));
    const done: IommuDomainLike[] = [];
    try {
      for (const d of domains) {
        sliceMapDomain(area, d as IommuDomain);
        done.push(d);
      }
    } catch (e) {
      for (const d of done) sliceUnmapDomain(area, d as IommuDomain);
      ioptPagesUnpin(area.pages, sliceFirstIndex(area), sliceLastIndex(area));
      throw e;
    }
  },
  unfillDomains(area: OpsArea, domains: readonly IommuDomainLike[]): void {
    if (!domains.length) return;
    for (const d of domains) sliceUnmapDomain(area, d as IommuDomain);
    ioptPagesUnpin(area.pages, sliceFirstIndex(area), sliceLastIndex(area));
  },
  fillDomain(area: OpsArea, domain: IommuDomainLike): void {
    const pinned = area.storageDomain !== undefined;
    if (!pinned) ioptPagesPin(area.pages, sliceFirstIndex(area), sliceLastIndex(area));
    try {
      sliceMapDomain(area, domain as IommuDomain);
    } catch (e) {
      if (!pinned) ioptPagesUnpin(area.pages, sliceFirstIndex(area), sliceLastIndex(area));
      throw e;
    }
  },
  unfillDomain(area: OpsArea, domain: IommuDomainLike): void {
    sliceUnmapDomain(area, domain as IommuDomain);
    // The io_pagetable moved the storage to a remaining domain first; none left: let go.
    if (area.storageDomain === undefined) ioptPagesUnpin(area.pages, sliceFirstIndex(area), sliceLastIndex(area));
  },
  splitShared(lhs: OpsArea, rhs: OpsArea): void {
    const shared = sliceLastIndex(lhs);
    if (shared === sliceFirstIndex(rhs)) lhs.pages.pinned.get(shared)!.users++;
  },
};

type IommuDomainLike = Pick<IommuDomain, 'pgsizeBitmap' | 'geometry'> & Partial<Pick<IommuDomain, 'ops'>>;
