// SPDX-License-Identifier: GPL-2.0-only
/**
 * A process address space (`struct mm_struct`): the VMAs, what backs them, and the accounting the
 * kernel keeps on the mm (`locked_vm`, `pinned_vm`). `MmStruct` is the interface the rest of the
 * emulator uses (copy_from_user and friends, pinning, fork); `UserMemory` is the in-process
 * implementation, anonymous memory materialised page by page. A front end for real processes can
 * implement the same interface over `/proc/<pid>/mem`.
 * @see include/linux/mm_types.h:struct mm_struct, mm/mmap.c, mm/util.c
 */
import type { UserAccess } from '../abi/uaccess';
import { kerr } from '../errno';
import { PAGE_SHIFT, PAGE_SIZE, TASK_SIZE, isPageAligned, pageAlignUp } from '../kernel/page';
import { PROT_READ, PROT_WRITE } from '../uapi/fcntl';

/** First address handed out by mmap without a hint. */
export const MMAP_BASE = 0x7f00_0000_0000n;

export { PROT_READ, PROT_WRITE };

export interface MmapOptions {
  /** Map exactly here, replacing what was mapped (MAP_FIXED). Must be page-aligned. */
  addr?: bigint;
  /** PROT_READ | PROT_WRITE by default. */
  prot?: number;
  /** MAP_SHARED: a fork child sees the same pages (default MAP_PRIVATE: the child gets a copy). */
  shared?: boolean;
  /** A file's pages to map (a device mmap): page-offset keyed, shared with their owner. */
  backing?: { readonly pages: Map<bigint, Uint8Array>; readonly pgoff: bigint };
}

/** A VMA as callers see it (`struct vm_area_struct`'s range, protection and sharing). */
export interface Vma {
  readonly start: bigint;
  /** Exclusive. */
  readonly end: bigint;
  readonly prot: number;
  readonly shared: boolean;
}

/** `struct mm_struct` as the emulator uses it. */
export interface MmStruct extends UserAccess {
  mmap(length: bigint | number, opts?: MmapOptions): bigint;
  munmap(addr: bigint, length: bigint | number): void;
  /** Whether every byte of [addr, addr+length) is mapped with at least `prot`. Empty ranges are. */
  isMapped(addr: bigint, length: bigint | number, prot?: number): boolean;
  findVma(addr: bigint): Vma | undefined;
  readonly mappings: readonly Vma[];
  /** `mm->locked_vm`, in pages (VFIO type1 and iommufd charge pinned pages here). */
  lockedVm: bigint;
  /** `mm->pinned_vm`, in pages. */
  pinnedVm: bigint;
  /** False after the owner exited (`exit_mmap`): every access faults. */
  readonly alive: boolean;
  /**
   * The pages backing [addr, addr+npages*PAGE_SIZE), materialised, for pinning (GUP): a pin keeps
   * the page after munmap or exit, as a real pin keeps the physical page. EFAULT unless mapped with `prot`.
   */
  pinPages(addr: bigint, npages: number, prot: number): Uint8Array[];
  /** fork: private mappings are copied, shared ones shared. @see kernel/fork.c:dup_mm */
  dup(): MmStruct;
  /** exit_mmap: the owner is gone. */
  release(): void;
  /**
   * Convenience for tests and tools: a fresh mapping holding `init` (or `init` zero bytes), ending
   * exactly at the end of its mapping. Returns the buffer's address.
   */
  alloc(init: Uint8Array | number): bigint;
}

/** The object behind a VMA: its pages by page offset (`anon_vma` / shmem object). */
type Backing = Map<bigint, Uint8Array>;

interface VmaNode extends Vma {
  readonly backing: Backing;
  /** Page offset of `start` in the backing object (`vm_pgoff`). */
  readonly pgoff: bigint;
}

const big = (n: bigint | number): bigint => (typeof n === 'bigint' ? n : BigInt(n));
const newPage = (): Uint8Array => new Uint8Array(Number(PAGE_SIZE));

/**
 * One process's anonymous memory. Pages are materialised on first write, so mapping 64 GiB of guest
 * RAM costs nothing until touched; untouched mapped memory reads as zero. VMAs are kept sorted and
 * found by binary search, so a process with 10,000 mappings costs what one with 4 does.
 *
 * @note emulation: mappings without an address hint are placed bottom-up from MMAP_BASE (from
 * the lowest address unmapped since, so freed space is reused) with an unmapped guard page after each, so that an overrun of one buffer faults instead of silently
 * reading its neighbour. Linux places anonymous mappings top-down and adjacent.
 */
export class UserMemory implements MmStruct {
  private vmas: VmaNode[] = [];
  private nextAddr = MMAP_BASE;
  lockedVm = 0n;
  pinnedVm = 0n;
  private dead = false;

  get alive(): boolean {
    return !this.dead;
  }

  /** Index of the first VMA whose end is above `addr` (vmas.length if none). */
  private firstEndingAbove(addr: bigint): number {
    let lo = 0;
    let hi = this.vmas.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.vmas[mid]!.end <= addr) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  mmap(length: bigint | number, opts: MmapOptions = {}): bigint {
    if (this.dead) throw kerr('ENOMEM');
    const len = big(length);
    if (len <= 0n) throw kerr('EINVAL', 'mmap length');
    const size = pageAlignUp(len);
    const prot = opts.prot ?? PROT_READ | PROT_WRITE;
    let start: bigint;
    if (opts.addr !== undefined) {
      if (!isPageAligned(opts.addr) || opts.addr < 0n) throw kerr('EINVAL', 'mmap address not page-aligned');
      if (opts.addr + size > TASK_SIZE) throw kerr('ENOMEM');
      start = opts.addr;
      this.munmap(start, size);
    } else {
      // From the lowest address freed since (free_area_cache): unmapped space is reused, so
      // map/unmap cycles do not walk up the address space. A guard page stays on both sides.
      start = this.nextAddr;
      let i = this.firstEndingAbove(start);
      const prev = this.vmas[i - 1];
      if (prev && prev.end + PAGE_SIZE > start) start = prev.end + PAGE_SIZE;
      for (; i < this.vmas.length; i++) {
        const v = this.vmas[i]!;
        if (v.start >= start + size + PAGE_SIZE) break;
        if (v.end + PAGE_SIZE > start) start = v.end + PAGE_SIZE;
      }
      if (start + size > TASK_SIZE) throw kerr('ENOMEM');
      this.nextAddr = start + size + PAGE_SIZE;
    }
    const b = opts.backing;
    // A private mapping of a file's pages starts as a copy of them (copy-on-write, eagerly).
    const backing = b ? (opts.shared ? b.pages : new Map([...b.pages].map(([k, p]) => [k, p.slice()] as const))) : new Map<bigint, Uint8Array>();
    this.insert({ start, end: start + size, prot, shared: opts.shared ?? false, backing, pgoff: b?.pgoff ?? 0n });
    return start;
  }

  private insert(v: VmaNode): void {
    this.vmas.splice(this.firstEndingAbove(v.start), 0, v);
  }

  /** Unmapping a range that is (partly) not mapped is not an error, as in munmap(2). */
  munmap(addr: bigint, length: bigint | number): void {
    const len = big(length);
    if (!isPageAligned(addr) || addr < 0n || len <= 0n) throw kerr('EINVAL', 'munmap');
    const end = addr + pageAlignUp(len);
    const first = this.firstEndingAbove(addr);
    let last = first;
    while (last < this.vmas.length && this.vmas[last]!.start < end) last++;
    if (first === last) return;
    if (addr < this.nextAddr) this.nextAddr = addr < MMAP_BASE ? MMAP_BASE : addr;
    const kept: VmaNode[] = [];
    for (const v of this.vmas.slice(first, last)) {
      if (v.start < addr) kept.push({ ...v, end: addr });
      if (v.end > end) kept.push({ ...v, start: end, pgoff: v.pgoff + ((end - v.start) >> PAGE_SHIFT) });
      // A private object's pages in the hole are gone; a shared one keeps them for other mappers.
      if (!v.shared) {
        const lo = v.pgoff + (((addr > v.start ? addr : v.start) - v.start) >> PAGE_SHIFT);
        const hi = v.pgoff + (((end < v.end ? end : v.end) - v.start) >> PAGE_SHIFT);
        if (hi - lo < BigInt(v.backing.size)) for (let p = lo; p < hi; p++) v.backing.delete(p);
        else for (const p of [...v.backing.keys()]) if (p >= lo && p < hi) v.backing.delete(p);
      }
    }
    this.vmas.splice(first, last - first, ...kept);
  }

  isMapped(addr: bigint, length: bigint | number, prot = 0): boolean {
    const len = big(length);
    if (len === 0n) return true;
    if (addr < 0n || len < 0n || addr + len > TASK_SIZE) return false;
    let cur = addr;
    const end = addr + len;
    for (let i = this.firstEndingAbove(addr); i < this.vmas.length; i++) {
      const v = this.vmas[i]!;
      if (v.start > cur || (v.prot & prot) !== prot) return false;
      cur = v.end;
      if (cur >= end) return true;
    }
    return false;
  }

  private vmaAt(addr: bigint): VmaNode | undefined {
    const v = this.vmas[this.firstEndingAbove(addr)];
    return v && v.start <= addr ? v : undefined;
  }

  findVma(addr: bigint): Vma | undefined {
    const v = this.vmaAt(addr);
    return v && { start: v.start, end: v.end, prot: v.prot, shared: v.shared };
  }

  get mappings(): readonly Vma[] {
    return this.vmas.map((v) => ({ start: v.start, end: v.end, prot: v.prot, shared: v.shared }));
  }

  /** Bytes actually backed (pages written at least once), shared objects counted once. */
  get residentBytes(): bigint {
    const seen = new Set<Backing>();
    let n = 0;
    for (const v of this.vmas) {
      if (seen.has(v.backing)) continue;
      seen.add(v.backing);
      n += v.backing.size;
    }
    return BigInt(n) * PAGE_SIZE;
  }

  /** The page at `addr` (in VMA `v`), materialised when `create`. */
  private page(v: VmaNode, addr: bigint, create: boolean): Uint8Array | undefined {
    const key = v.pgoff + ((addr - v.start) >> PAGE_SHIFT);
    let p = v.backing.get(key);
    if (!p && create) v.backing.set(key, (p = newPage()));
    return p;
  }

  /**
   * @note emulation: a fault anywhere in the range fails the whole access with EFAULT and copies
   * nothing; the kernel's raw copy routines report a partial count, which every caller modelled
   * here turns into -EFAULT anyway.
   */
  read(addr: bigint, length: number): Uint8Array {
    if (!this.isMapped(addr, length, PROT_READ)) throw kerr('EFAULT');
    const out = new Uint8Array(length);
    let done = 0;
    let v: VmaNode | undefined;
    while (done < length) {
      const a = addr + BigInt(done);
      if (!v || a >= v.end) v = this.vmaAt(a)!;
      const off = Number(a & (PAGE_SIZE - 1n));
      const n = Math.min(length - done, Number(PAGE_SIZE) - off);
      const page = this.page(v, a, false);
      if (page) out.set(page.subarray(off, off + n), done);
      done += n;
    }
    return out;
  }

  write(addr: bigint, bytes: Uint8Array): void {
    if (!this.isMapped(addr, bytes.length, PROT_WRITE)) throw kerr('EFAULT');
    let done = 0;
    let v: VmaNode | undefined;
    while (done < bytes.length) {
      const a = addr + BigInt(done);
      if (!v || a >= v.end) v = this.vmaAt(a)!;
      const off = Number(a & (PAGE_SIZE - 1n));
      const n = Math.min(bytes.length - done, Number(PAGE_SIZE) - off);
      this.page(v, a, true)!.set(bytes.subarray(done, done + n), off);
      done += n;
    }
  }

  pinPages(addr: bigint, npages: number, prot: number): Uint8Array[] {
    if (!isPageAligned(addr) || !this.isMapped(addr, BigInt(npages) * PAGE_SIZE, prot)) throw kerr('EFAULT');
    const out: Uint8Array[] = [];
    let v: VmaNode | undefined;
    for (let i = 0; i < npages; i++) {
      const a = addr + BigInt(i) * PAGE_SIZE;
      if (!v || a >= v.end) v = this.vmaAt(a)!;
      out.push(this.page(v, a, true)!);
    }
    return out;
  }

  dup(): UserMemory {
    const child = new UserMemory();
    const copies = new Map<Backing, Backing>();
    for (const v of this.vmas) {
      let backing = v.backing;
      if (!v.shared) {
        let c = copies.get(v.backing);
        if (!c) {
          c = new Map([...v.backing].map(([k, p]) => [k, p.slice()] as const));
          copies.set(v.backing, c);
        }
        backing = c;
      }
      child.vmas.push({ ...v, backing });
    }
    child.nextAddr = this.nextAddr;
    // locked_vm is not inherited: the child has pinned nothing. @see kernel/fork.c:mm_init
    return child;
  }

  release(): void {
    this.dead = true;
    this.vmas = [];
  }

  /**
   * Test convenience: a fresh mapping holding `init` (or `init` zero bytes), placed so that the
   * buffer ends exactly at the end of its mapping — one byte past it is unmapped.
   */
  alloc(init: Uint8Array | number): bigint {
    const bytes = typeof init === 'number' ? new Uint8Array(init) : init;
    const size = BigInt(bytes.length);
    const base = this.mmap(size === 0n ? PAGE_SIZE : size);
    const addr = base + pageAlignUp(size === 0n ? 1n : size) - size;
    if (bytes.length > 0) this.write(addr, bytes);
    return addr;
  }
}
