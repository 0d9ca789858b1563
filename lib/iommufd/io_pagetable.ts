// SPDX-License-Identifier: GPL-2.0-only
/**
 * drivers/iommu/iommufd/io_pagetable.c (studied at 6.12.117) — the IOVA side of an IOAS: areas
 * (IOVA → slice of an iopt_pages), the reserved tree (each node with the owner that put it
 * there: a device, a domain's aperture, or none for the selftest's ADD_RESERVED), the allowed
 * list, the IOVA alignment the attached domains and accesses demand, and the domains the areas
 * are loaded into.
 *
 * Pure: inclusive bigint `{ start, last }` ranges, no bytes, no fds. Pinning and loading PFNs
 * into domains is delegated to IoptPagesOps (pages.c), so an IOAS without a domain or an access
 * never touches user memory. Every check runs in the kernel's order; a failing call leaves the
 * table as it was, except where the kernel itself keeps partial progress (unmap of several
 * areas stops at the first bad one, with the earlier ones gone).
 *
 * @note emulation: the kernel's interval trees are sorted arrays here; there is no concurrency,
 * so the transient "area without pages" state of a map in progress never shows.
 */
import { PAGE_SIZE } from '../abi';
import { kerr } from '../errno';
import type { IommuDomain } from '../model/host';
import { IovaRange, U64_MAX } from '../model/iova';
import { ResvType } from '../model/resv_region';
import type { IoptPages } from './pages';

export const ULONG_MAX = U64_MAX;
/** HPAGE_SIZE with CONFIG_TRANSPARENT_HUGEPAGE (x86_64): the cap on automatic IOVA alignment. */
export const HPAGE_SIZE = 2n * 1024n * 1024n;

/** include/linux/iommu.h prot bits used by areas. */
export const IOMMU_READ = 1 << 0;
export const IOMMU_WRITE = 1 << 1;
export const IOMMU_CACHE = 1 << 2;

/** What the io_pagetable needs of an iommu_domain: its page sizes, aperture, and (when modelled) its ops. */
export type IoptDomain = Pick<IommuDomain, 'pgsizeBitmap' | 'geometry'> & Partial<Pick<IommuDomain, 'ops' | 'dirtyOps'>>;

/** What it needs of an iommufd_access (an in-kernel user of IOVAs, e.g. the selftest's). */
export interface IoptAccess {
  readonly iovaAlignment: bigint;
}

export interface IoptArea {
  readonly start: bigint;
  readonly last: bigint;
  pages: IoptPages;
  /** Byte offset of `start` inside `pages` (start_byte at insertion). */
  readonly startByte: bigint;
  readonly iommuProt: number;
  /** Accesses that pinned part of this area. */
  numAccesses: number;
  preventAccess: boolean;
  /** The domain that holds this area's PFNs (the first one filled), or none. */
  storageDomain: IoptDomain | undefined;
}

export interface IoptReserved extends IovaRange {
  readonly owner: unknown;
}

/** A slice of pages to place at consecutive IOVAs (struct iopt_pages_list). */
export interface IoptPagesElm {
  readonly pages: IoptPages;
  readonly startByte: bigint;
  readonly length: bigint;
}

/** A device reserved region as iommu_get_resv_regions gives it. */
export interface IoptResvRegion extends IovaRange {
  readonly type: ResvType;
}

/**
 * pages.c's side of mapping, supplied by whoever owns the pin model. Each may throw a kernel
 * error; the io_pagetable undoes its own changes around them.
 */
export interface IoptPagesOps {
  /** iopt_area_fill_domains: pin the area's pages and load them into every domain. */
  fillDomains(area: IoptArea, domains: readonly IoptDomain[]): void;
  /** iopt_area_unfill_domains: the reverse, when the area goes. */
  unfillDomains(area: IoptArea, domains: readonly IoptDomain[]): void;
  /** iopt_area_fill_domain: load one existing area into a newly added domain. */
  fillDomain(area: IoptArea, domain: IoptDomain): void;
  /** iopt_area_unfill_domain / iopt_area_unmap_domain, when a domain leaves. */
  unfillDomain(area: IoptArea, domain: IoptDomain): void;
  /** An area with pinned pages was split in two: a page index both halves cover gains a holder. */
  splitShared?(lhs: IoptArea, rhs: IoptArea): void;
}

/** Allocation and copy sites where fail_nth-style injection can strike (kzalloc → ENOMEM). */
export interface IoptFaults {
  /** True when this allocation must fail. */
  shouldFail(): boolean;
}

const NO_PAGES_OPS: IoptPagesOps = {
  fillDomains: () => undefined,
  unfillDomains: () => undefined,
  fillDomain: () => undefined,
  unfillDomain: () => undefined,
};
const NEVER: IoptFaults = { shouldFail: () => false };

const minBig = (a: bigint, b: bigint): bigint => (a < b ? a : b);
const maxBig = (a: bigint, b: bigint): bigint => (a > b ? a : b);
const intersects = (r: IovaRange, start: bigint, last: bigint): boolean => r.start <= last && start <= r.last;

/** `1 << __ffs(x)`: the lowest set bit. */
export const lowestBit = (x: bigint): bigint => x & -x;

/** roundup_pow_of_two for 0 < n <= 2^63. */
export function roundupPowOfTwo(n: bigint): bigint {
  let p = 1n;
  while (p < n) p <<= 1n;
  return p;
}

/**
 * The spans of a set of ranges inside [first, last]: maximal runs of covered IOVA (ranges that
 * overlap or touch merge) and the holes between them, in order.
 * @see lib/interval_tree.c:interval_tree_span_iter_first (used spans join adjacent nodes)
 */
export function spans(nodes: readonly IovaRange[], first: bigint, last: bigint): { start: bigint; last: bigint; hole: boolean }[] {
  const inside = nodes
    .filter((n) => intersects(n, first, last))
    .map((n) => ({ start: maxBig(n.start, first), last: minBig(n.last, last) }))
    .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const out: { start: bigint; last: bigint; hole: boolean }[] = [];
  let cur = first;
  let i = 0;
  while (i < inside.length) {
    const n = inside[i]!;
    if (n.start > cur) out.push({ start: cur, last: n.start - 1n, hole: true });
    let usedLast = n.last;
    i++;
    while (i < inside.length && inside[i]!.start <= usedLast + 1n) {
      usedLast = maxBig(usedLast, inside[i]!.last);
      i++;
    }
    out.push({ start: maxBig(n.start, cur), last: usedLast, hole: false });
    if (usedLast >= last) return out;
    cur = usedLast + 1n;
  }
  if (cur <= last) out.push({ start: cur, last, hole: true });
  return out;
}

/** The holes of `nodes` inside [first, last]. */
export const holes = (nodes: readonly IovaRange[], first: bigint, last: bigint): IovaRange[] =>
  spans(nodes, first, last)
    .filter((s) => s.hole)
    .map(({ start, last: l }) => ({ start, last: l }));

/**
 * ALIGN_UP(start, alignment) | page_offset, and whether `length` bytes fit before `last` there.
 * @see drivers/iommu/iommufd/io_pagetable.c:__alloc_iova_check_range
 */
function allocIovaCheckRange(start: bigint, last: bigint, length: bigint, alignment: bigint, pageOffset: bigint): bigint | undefined {
  let aligned = start + alignment - 1n;
  if (aligned > ULONG_MAX) return undefined;
  aligned &= ~(alignment - 1n);
  aligned |= pageOffset;
  if (aligned >= last || last - aligned < length - 1n) return undefined;
  return aligned;
}

export interface IoPagetableOptions {
  pagesOps?: IoptPagesOps;
  faults?: IoptFaults;
  /**
   * iommufd_access_notify_unmap: ask the accesses pinning [iova, iova+length) to let go; each
   * that does decrements area.numAccesses.
   */
  notifyUnmap?: (iova: bigint, length: bigint) => void;
}

export class IoPagetable {
  /** Sorted by start; never overlapping. */
  private readonly areaList: IoptArea[] = [];
  private readonly reservedList: IoptReserved[] = [];
  private allowedList: IovaRange[] = [];
  private readonly domainList: IoptDomain[] = [];
  private readonly accessList: IoptAccess[] = [];
  /** @see drivers/iommu/iommufd/io_pagetable.c:iopt_init_table — software tables start at 1. */
  iovaAlignment = 1n;
  disableLargePages = false;
  readonly pagesOps: IoptPagesOps;
  readonly faults: IoptFaults;
  private readonly notifyUnmap: (iova: bigint, length: bigint) => void;

  constructor(opts: IoPagetableOptions = {}) {
    this.pagesOps = opts.pagesOps ?? NO_PAGES_OPS;
    this.faults = opts.faults ?? NEVER;
    this.notifyUnmap = opts.notifyUnmap ?? (() => undefined);
  }

  get accesses(): readonly IoptAccess[] {
    return this.accessList;
  }

  /**
   * Walk the areas covering [iova, last] without a gap (iopt_for_each_contig_area): `fn` gets each
   * area and the first IOVA of it inside the range. True when the walk reached `last`.
   */
  forEachContigArea(iova: bigint, last: bigint, fn: (area: IoptArea, cur: bigint) => void): boolean {
    let cur = iova;
    for (;;) {
      const area = this.areaIterFirst(cur, cur);
      if (!area) return false;
      fn(area, cur);
      if (area.last >= last) return true;
      cur = area.last + 1n;
    }
  }

  get areas(): readonly IoptArea[] {
    return this.areaList;
  }

  get reserved(): readonly IoptReserved[] {
    return this.reservedList;
  }

  get allowed(): readonly IovaRange[] {
    return this.allowedList;
  }

  get domains(): readonly IoptDomain[] {
    return this.domainList;
  }

  /** Index of the first area whose last >= iova (areas are sorted and disjoint). */
  private areaLowerBound(iova: bigint): number {
    let lo = 0;
    let hi = this.areaList.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.areaList[mid]!.last < iova) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** iopt_area_iter_first */
  areaIterFirst(start: bigint, last: bigint): IoptArea | undefined {
    const a = this.areaList[this.areaLowerBound(start)];
    return a && a.start <= last ? a : undefined;
  }

  /** iopt_reserved_iter_first */
  reservedIterFirst(start: bigint, last: bigint): IoptReserved | undefined {
    return this.reservedList.find((r) => intersects(r, start, last));
  }

  /** iopt_allowed_iter_first */
  allowedIterFirst(start: bigint, last: bigint): IovaRange | undefined {
    return this.allowedList.find((r) => intersects(r, start, last));
  }

  private alloc(): void {
    if (this.faults.shouldFail()) throw kerr('ENOMEM');
  }

  /**
   * The usable IOVA: the holes of the reserved tree over the whole space, what IOAS_IOVA_RANGES
   * reports (the allowed list does not narrow it).
   * @see drivers/iommu/iommufd/ioas.c:iommufd_ioas_iova_ranges
   */
  iovaRanges(): IovaRange[] {
    return holes(this.reservedList, 0n, ULONG_MAX);
  }

  /**
   * Automatic placement: the lowest IOVA inside the allowed ranges (or [PAGE_SIZE,
   * ULONG_MAX - PAGE_SIZE] when there are none, so never 0) that is in a hole of reserved ∪
   * areas, aligned to the smaller of roundup_pow_of_two(length) and the natural alignment of
   * uptr (capped at HPAGE_SIZE), with uptr's offset in its page kept.
   * @see drivers/iommu/iommufd/io_pagetable.c:iopt_alloc_iova
   */
  allocIova(uptr: bigint, length: bigint): bigint {
    const pageOffset = uptr % PAGE_SIZE;
    if (length === 0n || length >= ULONG_MAX / 2n) throw kerr('EOVERFLOW');
    let alignment = uptr === 0n ? roundupPowOfTwo(length) : minBig(roundupPowOfTwo(length), lowestBit(uptr));
    if (alignment >= HPAGE_SIZE) alignment = HPAGE_SIZE;
    if (alignment < this.iovaAlignment) throw kerr('EINVAL');

    const first = PAGE_SIZE;
    const last = ULONG_MAX - PAGE_SIZE;
    const allowedSpans =
      this.allowedList.length === 0
        ? [{ start: first, last, hole: false }]
        : spans(this.allowedList, first, last).filter((s) => !s.hole);
    const used = [...this.reservedList, ...this.areaList];
    for (const allowed of allowedSpans) {
      const from = allocIovaCheckRange(allowed.start, allowed.last, length, alignment, pageOffset);
      if (from === undefined) continue;
      for (const hole of holes(used, from, allowed.last)) {
        const at = allocIovaCheckRange(hole.start, hole.last, length, alignment, pageOffset);
        if (at !== undefined) return at;
      }
    }
    throw kerr('ENOSPC');
  }

  /**
   * A caller-chosen IOVA: aligned (EINVAL), not wrapping (EOVERFLOW), clear of reserved ranges
   * (EINVAL) and of existing areas (EEXIST).
   * @see drivers/iommu/iommufd/io_pagetable.c:iopt_check_iova
   */
  checkIova(iova: bigint, length: bigint): void {
    if (iova & (this.iovaAlignment - 1n)) throw kerr('EINVAL');
    const last = iova + length - 1n;
    if (last > ULONG_MAX) throw kerr('EOVERFLOW');
    if (this.reservedIterFirst(iova, last)) throw kerr('EINVAL');
    if (this.areaIterFirst(iova, last)) throw kerr('EEXIST');
  }

  /** @see drivers/iommu/iommufd/io_pagetable.c:iopt_insert_area (the checks, no insertion) */
  private makeArea(elm: IoptPagesElm, iova: bigint, iommuProt: number): IoptArea {
    if (iommuProt & IOMMU_WRITE && !elm.pages.writable) throw kerr('EPERM');
    if ((elm.startByte % PAGE_SIZE) & (this.iovaAlignment - 1n)) throw kerr('EINVAL');
    const last = iova + elm.length - 1n;
    if (last > ULONG_MAX) throw kerr('EOVERFLOW');
    if (elm.startByte + elm.length - 1n > ULONG_MAX) throw kerr('EOVERFLOW');
    return {
      start: iova,
      last,
      pages: elm.pages,
      startByte: elm.startByte,
      iommuProt,
      numAccesses: 0,
      preventAccess: false,
      storageDomain: undefined,
    };
  }

  private insertArea(area: IoptArea): void {
    this.areaList.splice(this.areaLowerBound(area.start), 0, area);
  }

  private removeArea(area: IoptArea): void {
    const i = this.areaLowerBound(area.start);
    if (this.areaList[i] === area) this.areaList.splice(i, 1);
  }

  /**
   * Place `list` at consecutive IOVAs (allocated when `dstIova` is undefined) and load it into
   * the domains. Each element's pages reference moves into its area on success; on failure the
   * caller keeps its references and nothing changed.
   * @see drivers/iommu/iommufd/io_pagetable.c:iopt_map_pages, iopt_alloc_area_pages
   */
  mapPages(list: readonly IoptPagesElm[], length: bigint, dstIova: bigint | undefined, iommuProt: number): bigint {
    for (let i = 0; i < list.length; i++) this.alloc();
    if (length & (this.iovaAlignment - 1n) || length === 0n) throw kerr('EINVAL');
    let iova: bigint;
    if (dstIova === undefined) {
      const first = list[0]!;
      iova = this.allocIova(first.pages.uptr + first.startByte, length);
    } else {
      this.checkIova(dstIova, length);
      iova = dstIova;
    }
    const areas: IoptArea[] = [];
    let at = iova;
    for (const elm of list) {
      areas.push(this.makeArea(elm, at, iommuProt));
      at += elm.length;
    }
    for (const a of areas) this.insertArea(a);
    const filled: IoptArea[] = [];
    try {
      for (const a of areas) {
        this.pagesOps.fillDomains(a, this.domainList);
        filled.push(a);
        if (this.domainList.length && !a.storageDomain) a.storageDomain = this.domainList[0];
      }
    } catch (e) {
      for (const a of filled) this.pagesOps.unfillDomains(a, this.domainList);
      for (const a of areas) this.removeArea(a);
      throw e;
    }
    return iova;
  }

  /**
   * @see drivers/iommu/iommufd/io_pagetable.c:iopt_map_user_pages — `pages` is fresh from
   * ioptAllocPages and is released here if the map fails.
   */
  mapUserPages(pages: IoptPages, uptr: bigint, length: bigint, dstIova: bigint | undefined, iommuProt: number): bigint {
    try {
      return this.mapPages([{ pages, startByte: uptr - pages.uptr, length }], length, dstIova, iommuProt);
    } catch (e) {
      pages.put();
      throw e;
    }
  }

  /**
   * The slices of pages behind [iova, iova+length): a new reference on each. A gap (or an area
   * being torn down) anywhere in the range → ENOENT.
   * @see drivers/iommu/iommufd/io_pagetable.c:iopt_get_pages
   */
  getPages(iova: bigint, length: bigint): IoptPagesElm[] {
    if (length === 0n) throw kerr('EINVAL');
    const lastIova = iova + length - 1n;
    if (lastIova > ULONG_MAX) throw kerr('EOVERFLOW');
    const out: IoptPagesElm[] = [];
    const release = () => out.forEach((e) => e.pages.put());
    let cur = iova;
    for (;;) {
      const area = this.areaIterFirst(cur, cur);
      if (!area || (out.length > 0 && area.start !== cur)) break;
      try {
        this.alloc();
      } catch (e) {
        release();
        throw e;
      }
      const last = minBig(lastIova, area.last);
      out.push({ pages: area.pages.get(), startByte: area.startByte + (cur - area.start), length: last - cur + 1n });
      if (last >= lastIova) return out;
      cur = last + 1n;
    }
    release();
    throw kerr('ENOENT');
  }

  /**
   * Remove every area inside [start, last]. An area sticking out of the range → ENOENT, with the
   * areas before it already unmapped; `out.unmapped` counts what went, on error too.
   * @see drivers/iommu/iommufd/io_pagetable.c:iopt_unmap_iova_range
   */
  unmapIovaRange(start: bigint, last: bigint, out: { unmapped: bigint } = { unmapped: 0n }): bigint {
    out.unmapped = 0n;
    let tries = 0;
    for (;;) {
      const area = this.areaIterFirst(start, last);
      if (!area) break;
      if (area.start < start || area.last > last) throw kerr('ENOENT');
      if (area.start !== start) tries = 0;
      if (area.numAccesses) {
        start = area.start;
        area.preventAccess = true;
        this.notifyUnmap(area.start, area.last - area.start + 1n);
        tries++;
        if (tries > 100) throw kerr('EDEADLK');
        continue;
      }
      this.pagesOps.unfillDomains(area, this.domainList);
      this.removeArea(area);
      area.pages.put();
      out.unmapped += area.last - area.start + 1n;
      if (area.last >= last) break;
      start = area.last + 1n;
    }
    return out.unmapped;
  }

  /** @see drivers/iommu/iommufd/io_pagetable.c:iopt_unmap_iova */
  unmapIova(iova: bigint, length: bigint, out: { unmapped: bigint } = { unmapped: 0n }): bigint {
    if (length === 0n) throw kerr('EINVAL');
    const last = iova + length - 1n;
    if (last > ULONG_MAX) throw kerr('EOVERFLOW');
    return this.unmapIovaRange(iova, last, out);
  }

  /** Unmapping everything succeeds on an empty table. @see io_pagetable.c:iopt_unmap_all */
  unmapAll(out: { unmapped: bigint } = { unmapped: 0n }): bigint {
    return this.unmapIovaRange(0n, ULONG_MAX, out);
  }

  /**
   * Replace the allowed list (already validated by the caller: start < last, no overlaps); any
   * allowed range touching a reservation → EADDRINUSE and the old list stays.
   * @see drivers/iommu/iommufd/io_pagetable.c:iopt_set_allow_iova
   */
  setAllowIova(list: readonly IovaRange[]): void {
    const sorted = [...list].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    for (const a of sorted) if (this.reservedIterFirst(a.start, a.last)) throw kerr('EADDRINUSE');
    this.allowedList = sorted.map(({ start, last }) => ({ start, last }));
  }

  /**
   * A reservation may not cover a mapped area or an allowed range: EADDRINUSE.
   * @see drivers/iommu/iommufd/io_pagetable.c:iopt_reserve_iova
   */
  reserveIova(start: bigint, last: bigint, owner: unknown): void {
    if (this.areaIterFirst(start, last) || this.allowedIterFirst(start, last)) throw kerr('EADDRINUSE');
    this.alloc();
    const r: IoptReserved = { start, last, owner };
    const i = this.reservedList.findIndex((x) => x.start > start);
    this.reservedList.splice(i < 0 ? this.reservedList.length : i, 0, r);
  }

  /** @see drivers/iommu/iommufd/io_pagetable.c:iopt_remove_reserved_iova */
  removeReservedIova(owner: unknown): void {
    for (let i = this.reservedList.length - 1; i >= 0; i--) {
      if (this.reservedList[i]!.owner === owner) this.reservedList.splice(i, 1);
    }
  }

  /**
   * Reserve a device's regions, owned by `owner` (the device): every type but
   * direct-relaxable. With `swMsi`, returns the software-MSI window's start (and refuses a
   * driver offering both kinds of MSI region, or two SW_MSI windows: EINVAL). Any failure removes
   * all of this owner's reservations.
   * @see drivers/iommu/iommufd/io_pagetable.c:iopt_table_enforce_dev_resv_regions
   */
  tableEnforceDevResvRegions(regions: readonly IoptResvRegion[], owner: unknown, swMsi: boolean): bigint | undefined {
    if (this.faults.shouldFail()) throw kerr('EINVAL');
    let numHwMsi = 0;
    let numSwMsi = 0;
    let swMsiStart: bigint | undefined;
    try {
      for (const resv of regions) {
        if (resv.type === ResvType.DIRECT_RELAXABLE) continue;
        if (swMsi && resv.type === ResvType.MSI) numHwMsi++;
        if (swMsi && resv.type === ResvType.SW_MSI) {
          swMsiStart = resv.start;
          numSwMsi++;
        }
        this.reserveIova(resv.start, resv.last, owner);
      }
      if ((numSwMsi && numHwMsi) || numSwMsi > 1) throw kerr('EINVAL');
    } catch (e) {
      this.removeReservedIova(owner);
      throw e;
    }
    return swMsiStart;
  }

  /**
   * Every area (and access) must suit a larger alignment: EADDRINUSE.
   * @see drivers/iommu/iommufd/io_pagetable.c:iopt_check_iova_alignment
   */
  private checkIovaAlignment(alignment: bigint): void {
    const mask = alignment - 1n;
    for (const a of this.areaList) {
      if (a.start & mask || (a.last - a.start + 1n) & mask || (a.startByte % PAGE_SIZE) & mask) throw kerr('EADDRINUSE');
    }
    for (const acc of this.accessList) if (acc.iovaAlignment > alignment) throw kerr('EADDRINUSE');
  }

  /**
   * Attach a domain: its smallest page size must not exceed PAGE_SIZE (EINVAL) and suit every
   * area (EADDRINUSE); IOVA outside its aperture is reserved (owned by the domain, EADDRINUSE
   * if mapped or allowed); then every area is loaded into it.
   * @see drivers/iommu/iommufd/io_pagetable.c:iopt_table_add_domain
   */
  tableAddDomain(domain: IoptDomain): void {
    if (this.domainList.includes(domain)) throw kerr('EEXIST');
    const newAlignment = maxBig(lowestBit(domain.pgsizeBitmap), this.iovaAlignment);
    if (newAlignment > PAGE_SIZE) throw kerr('EINVAL');
    if (newAlignment !== this.iovaAlignment) this.checkIovaAlignment(newAlignment);
    const { start: apertureStart, last: apertureEnd } = domain.geometry;
    try {
      if (apertureStart !== 0n) this.reserveIova(0n, apertureStart - 1n, domain);
      if (apertureEnd !== ULONG_MAX) this.reserveIova(apertureEnd + 1n, ULONG_MAX, domain);
      this.alloc(); // xa_reserve
      this.fillDomain(domain);
    } catch (e) {
      this.removeReservedIova(domain);
      throw e;
    }
    this.iovaAlignment = newAlignment;
    this.domainList.push(domain);
  }

  /** @see drivers/iommu/iommufd/io_pagetable.c:iopt_fill_domain — all or nothing. */
  private fillDomain(domain: IoptDomain): void {
    const done: IoptArea[] = [];
    try {
      for (const a of this.areaList) {
        this.pagesOps.fillDomain(a, domain);
        done.push(a);
      }
    } catch (e) {
      for (const a of done) this.pagesOps.unfillDomain(a, domain);
      throw e;
    }
    for (const a of this.areaList) if (!a.storageDomain) a.storageDomain = domain;
  }

  /** @see drivers/iommu/iommufd/io_pagetable.c:iopt_table_remove_domain */
  tableRemoveDomain(domain: IoptDomain): void {
    const i = this.domainList.indexOf(domain);
    if (i < 0) return;
    // The kernel moves the tail entry into the hole to keep its xarray dense.
    const tail = this.domainList.pop()!;
    if (tail !== domain) this.domainList[i] = tail;
    for (const a of this.areaList) {
      if (a.storageDomain === domain) a.storageDomain = this.domainList[0];
      this.pagesOps.unfillDomain(a, domain);
    }
    this.removeReservedIova(domain);
    this.calculateIovaAlignment();
  }

  /** @see drivers/iommu/iommufd/io_pagetable.c:iopt_calculate_iova_alignment */
  private calculateIovaAlignment(): void {
    let a = this.disableLargePages ? PAGE_SIZE : 1n;
    for (const d of this.domainList) a = maxBig(lowestBit(d.pgsizeBitmap), a);
    for (const acc of this.accessList) a = maxBig(acc.iovaAlignment, a);
    if (a > this.iovaAlignment) this.checkIovaAlignment(a);
    this.iovaAlignment = a;
  }

  /** @see drivers/iommu/iommufd/io_pagetable.c:iopt_enable_large_pages */
  enableLargePages(): void {
    this.disableLargePages = false;
    this.calculateIovaAlignment();
  }

  /**
   * Refused (EINVAL) once domains hold areas; alignment becomes PAGE_SIZE.
   * @see drivers/iommu/iommufd/io_pagetable.c:iopt_disable_large_pages
   */
  disableLargePagesOrThrow(): void {
    if (this.disableLargePages) return;
    if (this.domainList.length && this.areaList.length) throw kerr('EINVAL');
    this.disableLargePages = true;
    try {
      this.calculateIovaAlignment();
    } catch (e) {
      this.disableLargePages = false;
      throw e;
    }
  }

  /** @see drivers/iommu/iommufd/io_pagetable.c:iopt_add_access */
  addAccess(access: IoptAccess): void {
    this.alloc();
    this.accessList.push(access);
    try {
      this.calculateIovaAlignment();
    } catch (e) {
      this.accessList.pop();
      throw e;
    }
  }

  /** @see drivers/iommu/iommufd/io_pagetable.c:iopt_remove_access */
  removeAccess(access: IoptAccess): void {
    const i = this.accessList.indexOf(access);
    if (i >= 0) this.accessList.splice(i, 1);
    this.calculateIovaAlignment();
  }

  /**
   * Split the area containing `iova` so that `iova` ends one half (VFIO compat's type1 unmap of
   * part of a mapping). Not at an edge: a no-op. Refused when accesses pinned it or a domain may
   * hold it in huge pages (EINVAL), or the cut is misaligned (EINVAL).
   * @see drivers/iommu/iommufd/io_pagetable.c:iopt_area_split
   */
  private areaSplit(area: IoptArea, iova: bigint): void {
    if (iova === area.start || iova === area.last) return;
    if (area.preventAccess) throw kerr('EBUSY');
    const newStart = iova + 1n;
    const mask = this.iovaAlignment - 1n;
    if (newStart & mask || (area.startByte + (newStart - area.start)) & mask) throw kerr('EINVAL');
    this.alloc();
    this.alloc();
    if (area.numAccesses) throw kerr('EINVAL');
    if (area.storageDomain && !this.disableLargePages) throw kerr('EINVAL');
    const lhs: IoptArea = { ...area, last: newStart - 1n, numAccesses: 0, preventAccess: false };
    const rhs: IoptArea = {
      ...area,
      start: newStart,
      startByte: area.startByte + (newStart - area.start),
      numAccesses: 0,
      preventAccess: false,
    };
    this.removeArea(area);
    this.insertArea(lhs);
    this.insertArea(rhs);
    rhs.pages.get();
    // A page both halves reach is held by each of them now.
    if (area.storageDomain) this.pagesOps.splitShared?.(lhs, rhs);
  }

  /**
   * Turn dirty tracking on or off for `domain` (EOPNOTSUPP without dirty ops); turning it on
   * first clears every dirty bit the areas have, for a clean snapshot.
   * @see drivers/iommu/iommufd/io_pagetable.c:iopt_set_dirty_tracking, iopt_clear_dirty_data
   */
  setDirtyTracking(domain: IoptDomain, enable: boolean): void {
    const ops = domain.dirtyOps;
    if (!ops) throw kerr('EOPNOTSUPP');
    if (enable) for (const a of this.areaList) ops.readAndClearDirty(domain as IommuDomain, a.start, a.last - a.start + 1n, false, undefined);
    ops.setDirtyTracking(domain as IommuDomain, enable);
  }

  /**
   * The bitmap range checks, then the domain's dirty bits of every area in [iova, iova+length)
   * into `record`. A gap in the areas ends the walk without an error: the kernel's
   * iommu_read_and_clear_dirty ignores what iova_bitmap_for_each returns.
   * @see drivers/iommu/iommufd/io_pagetable.c:iopt_read_and_clear_dirty_data, iommufd_check_iova_range
   */
  readAndClearDirtyData(domain: IoptDomain, noClear: boolean, iova: bigint, length: bigint, pageSize: bigint, bitmapAlloc: () => (iova: bigint, length: bigint) => void): void {
    const pgsize = this.iovaAlignment;
    if (!length) throw kerr('EINVAL');
    const lastIova = iova + length - 1n;
    if (lastIova > ULONG_MAX || iova > ULONG_MAX) throw kerr('EOVERFLOW');
    if (iova & (pgsize - 1n) || (lastIova + 1n) & (pgsize - 1n)) throw kerr('EINVAL');
    if (!pageSize) throw kerr('EINVAL');
    if (iova & (pageSize - 1n) || (lastIova + 1n) & (pageSize - 1n)) throw kerr('EINVAL');
    const ops = domain.dirtyOps;
    if (!ops) throw kerr('EOPNOTSUPP');
    const record = bitmapAlloc();
    this.forEachContigArea(iova, lastIova, (area, cur) => {
      const last = minBig(lastIova, area.last);
      ops.readAndClearDirty(domain as IommuDomain, cur, last - cur + 1n, noClear, record);
    });
  }

  /** @see drivers/iommu/iommufd/io_pagetable.c:iopt_cut_iova */
  cutIova(iovas: readonly bigint[]): void {
    for (const iova of iovas) {
      const area = this.areaIterFirst(iova, iova);
      if (area) this.areaSplit(area, iova);
    }
  }
}
