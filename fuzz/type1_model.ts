// SPDX-License-Identifier: GPL-2.0-only
/**
 * A reference model of the type1 IOMMU's MAP_DMA / UNMAP_DMA rules, written from the kernel's
 * behaviour (drivers/vfio/vfio_iommu_type1.c: vfio_iommu_type1_map_dma/unmap_dma,
 * vfio_dma_do_map, vfio_dma_do_unmap, vfio_pin_pages_remote, vfio_iommu_iova_dma_valid) and
 * nothing of the emulator: mappings are sets of IOVA pages (kept as page intervals), user memory
 * is a set of pages with their protections, the entry and memlock limits are counters. It says
 * what each call must return and what UNMAP must report; the differential test compares.
 *
 * Rules, in the kernel's order (newest type1; `eoverflow` off gives the pre-6.19 all-EINVAL
 * argument checks):
 *  MAP   argsz < 32 or unknown flags → EINVAL; size 0 → EINVAL; iova/vaddr + size wraps →
 *        EOVERFLOW; prot with VADDR, or neither → EINVAL; unaligned to the smallest IOMMU page →
 *        EINVAL; VADDR: no overlapping mapping → ENOENT, not exactly one invalidated mapping →
 *        EINVAL, else the vaddr is replaced; an overlapping mapping → EEXIST; no entries left →
 *        ENOSPC; not inside one valid IOVA range → EINVAL; then the pages are pinned in order: a
 *        page that is not mapped (or not writable for a device-writable mapping) → EFAULT, a page
 *        past RLIMIT_MEMLOCK without CAP_IPC_LOCK → ENOMEM, whichever page comes first (the
 *        fault is found when the page is pinned, before it is counted); nothing stays on error.
 *  UNMAP argsz < 24 or unknown flags → EINVAL; GET_DIRTY_BITMAP with ALL or VADDR → EINVAL;
 *        GET_DIRTY_BITMAP: short argsz, bitmap beyond the user half, or a bitmap size that is 0,
 *        over 256 MiB or too small for size >> ffs(pgsize) pages → EINVAL; unaligned iova →
 *        EINVAL; ALL with iova or size → EINVAL; size 0 or unaligned → EINVAL; iova + size wraps →
 *        EOVERFLOW; GET_DIRTY_BITMAP without dirty tracking → EINVAL; v2: a mapping bisected at
 *        either end → EINVAL; then every mapping from the first overlapping one up to the end is
 *        removed (v1: none when that first one starts below iova), or with VADDR marked invalid
 *        (one already invalid undoes the call: EINVAL); the size written back is the total.
 */

export const PAGE = 4096n;
const U64_MAX = (1n << 64n) - 1n;
export const TASK_SIZE = 0x8000_0000_0000n;
const DIRTY_BITMAP_SIZE_MAX = 0x10000000n;

export const MAP_READ = 1;
export const MAP_WRITE = 2;
export const MAP_VADDR = 4;
export const UNMAP_GET_DIRTY_BITMAP = 1;
export const UNMAP_ALL = 2;
export const UNMAP_VADDR = 4;

export type Errno = 'EINVAL' | 'EOVERFLOW' | 'ENOENT' | 'EEXIST' | 'ENOSPC' | 'EFAULT' | 'ENOMEM';

/** What the modelled kernel has (KernelProfile rows: the version table is tested elsewhere). */
export interface ModelFeatures {
  readonly v2: boolean;
  readonly eoverflow: boolean;
  readonly unmapAll: boolean;
  readonly updateVaddr: boolean;
  readonly entryLimit: boolean;
  readonly dirtyBitmap: boolean;
}

/** A user-memory region of the emulated process: pages [start, end) with protections. */
export interface MemRegion {
  readonly start: bigint;
  readonly end: bigint;
  /** PROT_READ = 1, PROT_WRITE = 2; 0 = PROT_NONE. */
  readonly prot: number;
}

interface Dma {
  readonly first: bigint;
  readonly last: bigint;
  vaddr: bigint;
  readonly pages: bigint;
  vaddrInvalid: boolean;
}

export interface MapCall {
  readonly argsz: number;
  readonly flags: number;
  readonly vaddr: bigint;
  readonly iova: bigint;
  readonly size: bigint;
  /** Without CAP_IPC_LOCK (an unprivileged caller): RLIMIT_MEMLOCK applies. */
  readonly unprivileged: boolean;
}

export interface UnmapCall {
  readonly argsz: number;
  readonly flags: number;
  readonly iova: bigint;
  readonly size: bigint;
  /** The `struct vfio_bitmap` after the header, when GET_DIRTY_BITMAP is asked for. */
  readonly bitmap?: { readonly pgsize: bigint; readonly size: bigint; readonly data: bigint };
}

export type Outcome = { readonly errno: Errno } | { readonly ok: true; readonly unmapped?: bigint };

const fail = (errno: Errno): Outcome => ({ errno });

/** Lowest set bit (the kernel's __ffs; 0 is never asked). */
const ffs = (x: bigint): bigint => {
  let n = 0n;
  while (((x >> n) & 1n) === 0n) n++;
  return n;
};

export class Type1Model {
  /** Mappings, disjoint, sorted by first page. */
  private dmas: Dma[] = [];
  dmaAvail: number;
  lockedPages = 0n;

  constructor(
    readonly f: ModelFeatures,
    /** Valid IOVA ranges, inclusive; empty = everything (no IOVA list, pre-5.4). */
    readonly iovaList: readonly { start: bigint; last: bigint }[],
    readonly mem: readonly MemRegion[],
    entryLimit: number,
    /** RLIMIT_MEMLOCK in pages. */
    readonly memlockPages: bigint,
    /** The smallest IOMMU page size (1 << __ffs(pgsize_bitmap)). */
    readonly pgsize = PAGE,
  ) {
    this.dmaAvail = entryLimit;
  }

  get count(): number {
    return this.dmas.length;
  }

  /** The mappings as [iova, size] pairs, for reports. */
  mappings(): { iova: bigint; size: bigint; vaddrInvalid: boolean }[] {
    return this.dmas.map((d) => ({ iova: d.first * PAGE, size: d.pages * PAGE, vaddrInvalid: d.vaddrInvalid }));
  }

  /** Mappings sharing a page with the page set [first, last]. */
  private overlapping(first: bigint, last: bigint): Dma[] {
    return this.dmas.filter((d) => d.first <= last && first <= d.last);
  }

  private containing(page: bigint): Dma | undefined {
    return this.dmas.find((d) => d.first <= page && page <= d.last);
  }

  private validIova(start: bigint, end: bigint): boolean {
    if (!this.iovaList.length) return true;
    return this.iovaList.some((r) => start >= r.start && end <= r.last);
  }

  /** Page `i` of user memory satisfies `need` (1 readable, 3 read+write). */
  private pageOk(addr: bigint, need: number): boolean {
    const r = this.mem.find((m) => m.start <= addr && addr < m.end);
    return r !== undefined && (r.prot & need) === need;
  }

  /** Index of the first page of [vaddr, vaddr + pages) that cannot be pinned, or `pages`. */
  private firstFault(vaddr: bigint, pages: bigint, need: number): bigint {
    // Walk region by region so a large request costs little.
    let i = 0n;
    while (i < pages) {
      const a = vaddr + i * PAGE;
      const r = this.mem.find((m) => m.start <= a && a < m.end);
      if (!r || (r.prot & need) !== need) return i;
      i += (r.end - a) / PAGE;
    }
    return pages;
  }

  map(c: MapCall): Outcome {
    const f = this.f;
    const mask = MAP_READ | MAP_WRITE | (f.updateVaddr ? MAP_VADDR : 0);
    if (c.argsz < 32 || c.flags & ~mask) return fail('EINVAL');
    const setVaddr = (c.flags & MAP_VADDR) !== 0;
    const prot = c.flags & (MAP_READ | MAP_WRITE);
    const badProt = (prot !== 0 && setVaddr) || (prot === 0 && !setVaddr);
    const wraps = c.iova + c.size - 1n > U64_MAX || c.vaddr + c.size - 1n > U64_MAX;
    const misaligned = ((c.size | c.iova | c.vaddr) & (this.pgsize - 1n)) !== 0n;
    if (f.eoverflow) {
      if (c.size === 0n) return fail('EINVAL');
      if (wraps) return fail('EOVERFLOW');
      if (badProt || misaligned) return fail('EINVAL');
    } else if (c.size === 0n || wraps || badProt || misaligned) return fail('EINVAL');
    const first = c.iova / PAGE;
    const last = (c.iova + c.size - 1n) / PAGE;
    const hit = this.overlapping(first, last);
    if (setVaddr) {
      if (!hit.length) return fail('ENOENT');
      const d = hit[0]!;
      if (hit.length !== 1 || !d.vaddrInvalid || d.first !== first || d.last !== last) return fail('EINVAL');
      d.vaddr = c.vaddr;
      d.vaddrInvalid = false;
      return { ok: true };
    }
    if (hit.length) return fail('EEXIST');
    if (f.entryLimit && this.dmaAvail === 0) return fail('ENOSPC');
    if (!this.validIova(c.iova, c.iova + c.size - 1n)) return fail('EINVAL');
    const pages = c.size / PAGE;
    const fault = this.firstFault(c.vaddr, pages, prot & MAP_WRITE ? 3 : 1);
    // The first page past the limit: pages are pinned (faulting or not) before they are counted.
    const over = c.unprivileged ? (this.lockedPages >= this.memlockPages ? 0n : this.memlockPages - this.lockedPages) : pages;
    if (over < fault) return fail('ENOMEM');
    if (fault < pages) return fail('EFAULT');
    this.dmaAvail--;
    this.lockedPages += pages;
    this.dmas.push({ first, last, vaddr: c.vaddr, pages, vaddrInvalid: false });
    this.dmas.sort((a, b) => (a.first < b.first ? -1 : 1));
    return { ok: true };
  }

  unmap(c: UnmapCall): Outcome {
    const f = this.f;
    const mask = (f.dirtyBitmap ? UNMAP_GET_DIRTY_BITMAP : 0) | (f.unmapAll ? UNMAP_ALL : 0) | (f.updateVaddr ? UNMAP_VADDR : 0);
    if (c.argsz < 24 || c.flags & ~mask) return fail('EINVAL');
    const getBitmap = (c.flags & UNMAP_GET_DIRTY_BITMAP) !== 0;
    if (getBitmap && c.flags & (UNMAP_ALL | UNMAP_VADDR)) return fail('EINVAL');
    if (getBitmap) {
      const b = c.bitmap;
      if (c.argsz < 48 || !b) return fail('EINVAL');
      if (b.data + b.size > TASK_SIZE) return fail('EINVAL');
      const npages = c.size >> ffs(b.pgsize);
      if (!npages || !b.size || b.size > DIRTY_BITMAP_SIZE_MAX || b.size < ((npages + 63n) & ~63n) / 8n) return fail('EINVAL');
    }
    const all = (c.flags & UNMAP_ALL) !== 0;
    const invalidate = (c.flags & UNMAP_VADDR) !== 0;
    if (c.iova & (this.pgsize - 1n)) return fail('EINVAL');
    let end: bigint;
    if (all) {
      if (c.iova || c.size) return fail('EINVAL');
      end = U64_MAX;
    } else {
      if (!c.size || c.size & (this.pgsize - 1n)) return fail('EINVAL');
      if (c.iova + c.size - 1n > U64_MAX) return fail(f.eoverflow ? 'EOVERFLOW' : 'EINVAL');
      end = c.iova + c.size - 1n;
    }
    // Dirty tracking is never started in this model.
    if (getBitmap) return fail('EINVAL');
    const first = c.iova / PAGE;
    const last = end / PAGE;
    if (f.v2 && !all) {
      const a = this.containing(first);
      if (a && a.first !== first) return fail('EINVAL');
      const z = this.containing(last);
      if (z && z.last !== last) return fail('EINVAL');
    }
    const hit = this.overlapping(first, last);
    if (!f.v2 && hit.length && hit[0]!.first < first) return { ok: true, unmapped: 0n };
    let unmapped = 0n;
    if (invalidate) {
      if (hit.some((d) => d.vaddrInvalid)) {
        // Those before the first already-invalid one were marked, then unmarked: no change.
        return fail('EINVAL');
      }
      for (const d of hit) {
        d.vaddrInvalid = true;
        unmapped += d.pages * PAGE;
      }
      return { ok: true, unmapped };
    }
    for (const d of hit) {
      unmapped += d.pages * PAGE;
      this.lockedPages -= d.pages;
      this.dmaAvail++;
    }
    this.dmas = this.dmas.filter((d) => !hit.includes(d));
    return { ok: true, unmapped };
  }
}
