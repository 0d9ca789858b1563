// SPDX-License-Identifier: GPL-2.0-only
/**
 * The emulated process address space (`UserMemory`) and the kernel's user-access helpers over
 * it: copy_from_user/copy_to_user, get_user/put_user, copy_struct_from_user, strndup_user, and
 * the two size-prefixed ioctl argument protocols (VFIO `argsz`, iommufd `size`).
 *
 * Addresses are bigint user virtual addresses. Anything not inside a mapping — NULL included —
 * faults with EFAULT.
 */
import { kerr } from '../errno';
import { Decoded, Input, ValueOf, decode, encode, encodedLength } from './codec';
import { FieldName, Prim, StructLayout, offsetofend, u32 } from './layout';

export const PAGE_SHIFT = 12n;
export const PAGE_SIZE = 1n << PAGE_SHIFT;
/** First address handed out by mmap without a hint. */
export const MMAP_BASE = 0x7f00_0000_0000n;
/** Top of the x86_64 4-level user address space (47 bits). */
export const TASK_SIZE = 0x8000_0000_0000n;

export const PROT_READ = 1;
export const PROT_WRITE = 2;

export interface MmapOptions {
  /** Map exactly here, replacing what was mapped (MAP_FIXED). Must be page-aligned. */
  addr?: bigint;
  /** PROT_READ | PROT_WRITE by default. */
  prot?: number;
}

export interface Vma {
  readonly start: bigint;
  /** Exclusive. */
  readonly end: bigint;
  readonly prot: number;
}

const pageAlignUp = (n: bigint): bigint => (n + PAGE_SIZE - 1n) & ~(PAGE_SIZE - 1n);
const isPageAligned = (n: bigint): boolean => (n & (PAGE_SIZE - 1n)) === 0n;
const big = (n: bigint | number): bigint => (typeof n === 'bigint' ? n : BigInt(n));

/**
 * One process's address space. Pages are materialised on first write, so mapping 64 GiB of guest
 * RAM costs nothing until touched; untouched mapped memory reads as zero (anonymous mmap).
 *
 * @note emulation: mappings without an address hint are placed bottom-up from MMAP_BASE with an
 * unmapped guard page after each, so that an overrun of one buffer faults instead of silently
 * reading its neighbour. Linux places anonymous mappings top-down and adjacent.
 */
export class UserMemory {
  private vmas: Vma[] = [];
  private readonly pages = new Map<bigint, Uint8Array>();
  private nextAddr = MMAP_BASE;

  mmap(length: bigint | number, opts: MmapOptions = {}): bigint {
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
      start = this.nextAddr;
      for (;;) {
        const hit = this.vmas.find((v) => v.start < start + size && start < v.end);
        if (!hit) break;
        start = hit.end + PAGE_SIZE;
      }
      if (start + size > TASK_SIZE) throw kerr('ENOMEM');
      this.nextAddr = start + size + PAGE_SIZE;
    }
    this.vmas.push({ start, end: start + size, prot });
    this.vmas.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    return start;
  }

  /** Unmapping a range that is (partly) not mapped is not an error, as in munmap(2). */
  munmap(addr: bigint, length: bigint | number): void {
    const len = big(length);
    if (!isPageAligned(addr) || addr < 0n || len <= 0n) throw kerr('EINVAL', 'munmap');
    const end = addr + pageAlignUp(len);
    const kept: Vma[] = [];
    for (const v of this.vmas) {
      if (v.end <= addr || v.start >= end) {
        kept.push(v);
        continue;
      }
      if (v.start < addr) kept.push({ start: v.start, end: addr, prot: v.prot });
      if (v.end > end) kept.push({ start: end, end: v.end, prot: v.prot });
    }
    this.vmas = kept;
    for (const pfn of [...this.pages.keys()]) {
      const a = pfn << PAGE_SHIFT;
      if (a >= addr && a < end) this.pages.delete(pfn);
    }
  }

  /** Whether every byte of [addr, addr+length) is mapped with at least `prot`. Empty ranges are. */
  isMapped(addr: bigint, length: bigint | number, prot = 0): boolean {
    const len = big(length);
    if (len === 0n) return true;
    if (addr < 0n || len < 0n || addr + len > TASK_SIZE) return false;
    let cur = addr;
    const end = addr + len;
    for (const v of this.vmas) {
      if (v.end <= cur) continue;
      if (v.start > cur || (v.prot & prot) !== prot) return false;
      cur = v.end;
      if (cur >= end) return true;
    }
    return false;
  }

  /** The mapping containing `addr`, if any. */
  findVma(addr: bigint): Vma | undefined {
    return this.vmas.find((v) => v.start <= addr && addr < v.end);
  }

  get mappings(): readonly Vma[] {
    return [...this.vmas];
  }

  /** Bytes actually backed (pages written at least once). */
  get residentBytes(): bigint {
    return BigInt(this.pages.size) * PAGE_SIZE;
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
    while (done < length) {
      const a = addr + BigInt(done);
      const off = Number(a & (PAGE_SIZE - 1n));
      const n = Math.min(length - done, Number(PAGE_SIZE) - off);
      const page = this.pages.get(a >> PAGE_SHIFT);
      if (page) out.set(page.subarray(off, off + n), done);
      done += n;
    }
    return out;
  }

  write(addr: bigint, bytes: Uint8Array): void {
    if (!this.isMapped(addr, bytes.length, PROT_WRITE)) throw kerr('EFAULT');
    let done = 0;
    while (done < bytes.length) {
      const a = addr + BigInt(done);
      const pfn = a >> PAGE_SHIFT;
      const off = Number(a & (PAGE_SIZE - 1n));
      const n = Math.min(bytes.length - done, Number(PAGE_SIZE) - off);
      let page = this.pages.get(pfn);
      if (!page) {
        page = new Uint8Array(Number(PAGE_SIZE));
        this.pages.set(pfn, page);
      }
      page.set(bytes.subarray(done, done + n), off);
      done += n;
    }
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

/** @see include/linux/uaccess.h:copy_from_user */
export function copyFromUser(mem: UserMemory, addr: bigint, len: number): Uint8Array {
  return mem.read(addr, len);
}

/** @see include/linux/uaccess.h:copy_to_user */
export function copyToUser(mem: UserMemory, addr: bigint, bytes: Uint8Array): void {
  mem.write(addr, bytes);
}

type UserScalar = Prim<'u32' | 's32' | 'u64' | 'aligned_u64' | 's64' | 'u8' | 'u16', number | bigint>;

/** @see arch/x86/include/asm/uaccess.h:get_user */
export function getUser<P extends UserScalar>(mem: UserMemory, type: P, addr: bigint): ValueOf<P> {
  const raw = mem.read(addr, type.size);
  const v = new DataView(raw.buffer);
  switch (type.name) {
    case 'u8':
      return v.getUint8(0) as ValueOf<P>;
    case 'u16':
      return v.getUint16(0, true) as ValueOf<P>;
    case 'u32':
      return v.getUint32(0, true) as ValueOf<P>;
    case 's32':
      return v.getInt32(0, true) as ValueOf<P>;
    case 's64':
      return v.getBigInt64(0, true) as ValueOf<P>;
    default:
      return v.getBigUint64(0, true) as ValueOf<P>;
  }
}

/** @see arch/x86/include/asm/uaccess.h:put_user */
export function putUser<P extends UserScalar>(mem: UserMemory, type: P, addr: bigint, value: ValueOf<P>): void {
  const buf = new Uint8Array(type.size);
  const v = new DataView(buf.buffer);
  switch (type.name) {
    case 'u8':
      v.setUint8(0, value as number);
      break;
    case 'u16':
      v.setUint16(0, value as number, true);
      break;
    case 'u32':
      v.setUint32(0, value as number, true);
      break;
    case 's32':
      v.setInt32(0, value as number, true);
      break;
    case 's64':
      v.setBigInt64(0, value as bigint, true);
      break;
    default:
      v.setBigUint64(0, value as bigint, true);
  }
  mem.write(addr, buf);
}

/** True if all `len` user bytes at `addr` are zero; EFAULT if any is unmapped. @see lib/usercopy.c:check_zeroed_user */
export function checkZeroedUser(mem: UserMemory, addr: bigint, len: number): boolean {
  return mem.read(addr, len).every((b) => b === 0);
}

/**
 * Copy a struct whose user-side size is `usize` into a kernel struct of `sizeof(layout)`:
 * a shorter user struct is zero-extended, a longer one is accepted only if every byte past the
 * kernel's size is zero (otherwise E2BIG).
 * @see include/linux/uaccess.h:copy_struct_from_user
 */
export function copyStructFromUser<L extends StructLayout<any>>(
  mem: UserMemory,
  layout: L,
  addr: bigint,
  usize: number,
): Decoded<L> {
  const ksize = layout.size;
  const size = Math.min(ksize, usize);
  if (usize > ksize && !checkZeroedUser(mem, addr + BigInt(size), usize - size)) throw kerr('E2BIG');
  return decode(layout, copyFromUser(mem, addr, size), 0, size);
}

/**
 * Write the first `len` bytes (default: all) of `value`'s encoding — the kernel's
 * `copy_to_user(arg, &info, minsz)` with `minsz = min(argsz, sizeof(info))`.
 */
export function copyStructToUser<L extends StructLayout<any>>(
  mem: UserMemory,
  layout: L,
  addr: bigint,
  value: Input<L>,
  len: number = encodedLength(layout, value),
): void {
  copyToUser(mem, addr, encode(layout, value).subarray(0, len));
}

/** @see mm/util.c:strndup_user — EFAULT on a fault before the NUL, EINVAL if no NUL within `n`. */
export function strndupUser(mem: UserMemory, addr: bigint, n: number): string {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const b = mem.read(addr + BigInt(i), 1)[0] as number;
    if (b === 0) return new TextDecoder().decode(Uint8Array.from(out));
    out.push(b);
  }
  throw kerr('EINVAL');
}

type ArgszLayout = StructLayout<{ argsz: typeof u32 }>;

/**
 * The VFIO `argsz` protocol: copy `minsz = offsetofend(layout, last)` bytes (EFAULT), then
 * `argsz < minsz` → EINVAL. The value is zero past minsz, like the kernel's `struct x = {}`.
 * @see drivers/vfio/vfio_iommu_type1.c:vfio_iommu_type1_get_info
 * @see drivers/vfio/group.c:vfio_group_ioctl_get_status
 */
export function vfioArgszFromUser<L extends ArgszLayout>(
  mem: UserMemory,
  layout: L,
  addr: bigint,
  last: FieldName<L>,
): { value: Decoded<L>; minsz: number } {
  const minsz = offsetofend(layout, last);
  const value = decode(layout, copyFromUser(mem, addr, minsz), 0, minsz);
  if ((value as { argsz: number }).argsz < minsz) throw kerr('EINVAL');
  return { value, minsz };
}

/**
 * The iommufd `size` protocol after the dispatcher has read `userSize` with get_user and found
 * the op: `userSize < offsetofend(layout, last)` → EINVAL, then copy_struct_from_user (E2BIG for a
 * non-zero tail the kernel does not know, zero-extension for an older, shorter struct).
 * @see drivers/iommu/iommufd/main.c:iommufd_fops_ioctl
 * @see include/linux/uaccess.h:copy_struct_from_user
 */
export function iommufdCmdFromUser<L extends StructLayout<{ size: typeof u32 }>>(
  mem: UserMemory,
  layout: L,
  addr: bigint,
  userSize: number,
  last: FieldName<L>,
): Decoded<L> {
  if (userSize < offsetofend(layout, last)) throw kerr('EINVAL');
  return copyStructFromUser(mem, layout, addr, userSize);
}

/** Read the leading `__u32 size` of an iommufd command, as the dispatcher does first. */
export function iommufdUserSize(mem: UserMemory, addr: bigint): number {
  return getUser(mem, u32, addr);
}
