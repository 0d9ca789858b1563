// SPDX-License-Identifier: GPL-2.0-only
/**
 * drivers/iommu/iommufd/iova_bitmap.c (6.12) — recording dirty IOVA into a bitmap in user
 * memory. Bit n stands for the page_size page at `iova + n * page_size` and lives in byte
 * `data + n / 8`, bit `n % 8` (the uapi's u64 words read the same on a little-endian machine), so
 * a bitmap at any byte address works: the kernel pins the user pages under it and sets bits
 * through the byte offset inside the first page.
 *
 * Bits are only ever set, never cleared: userspace zeroes its bitmap. A user page that cannot be
 * pinned for writing makes the kernel drop the rest of that record silently (iova_bitmap_set
 * returns nothing and HWPT_GET_DIRTY_BITMAP still succeeds).
 */
import { kerr } from '../errno';

const PAGE_SIZE = 4096n;

/** The memory of the process that owns the bitmap; read/write throw EFAULT outside a mapping. */
export interface Mm {
  read(addr: bigint, len: number): Uint8Array;
  write(addr: bigint, bytes: Uint8Array): void;
}

export class IovaBitmap {
  readonly iova: bigint;
  readonly length: bigint;
  readonly pgshift: bigint;
  readonly data: bigint;
  private readonly mm: Mm;

  private constructor(mm: Mm, iova: bigint, length: bigint, pageSize: bigint, data: bigint) {
    this.mm = mm;
    this.iova = iova;
    this.length = length;
    // __ffs(page_size)
    let shift = 0n;
    while (((pageSize >> shift) & 1n) === 0n && shift < 64n) shift++;
    this.pgshift = shift;
    this.data = data;
  }

  /**
   * @see drivers/iommu/iommufd/iova_bitmap.c:iova_bitmap_alloc — the one failure is memory
   * (`fail`: the fault-injection hook at its kzalloc).
   */
  static alloc(mm: Mm, iova: bigint, length: bigint, pageSize: bigint, data: bigint, fail?: () => boolean): IovaBitmap {
    if (fail?.()) throw kerr('ENOMEM');
    return new IovaBitmap(mm, iova, length, pageSize, data);
  }

  /** Bits the whole bitmap spans (mapped_total_index, counted in bits rather than bytes). */
  get nbits(): bigint {
    return ((this.length - 1n) >> this.pgshift) + 1n;
  }

  /**
   * Mark [iova, iova + length) dirty. IOVA outside the bitmap's range is ignored.
   * @see drivers/iommu/iommufd/iova_bitmap.c:iova_bitmap_set
   * @note emulation: the kernel's pinned window could also set bits past the bitmap's last
   * IOVA when a caller overran it; callers here never do, and such bits are not written.
   */
  set(iova: bigint, length: bigint): void {
    if (length <= 0n) return;
    const end = this.iova + this.length - 1n;
    if (iova < this.iova || iova > end) return;
    const lastIova = iova + length - 1n > end ? end : iova + length - 1n;
    let cur = (iova - this.iova) >> this.pgshift;
    const lastBit = (lastIova - this.iova) >> this.pgshift;
    while (cur <= lastBit) {
      const byteAddr = this.data + cur / 8n;
      const pageEnd = (byteAddr | (PAGE_SIZE - 1n)) + 1n;
      // bits of this chunk: up to the end of the user page or the last bit
      const chunkLastBit = ((pageEnd - this.data) * 8n - 1n < lastBit ? (pageEnd - this.data) * 8n - 1n : lastBit);
      const firstByte = cur / 8n;
      const lastByte = chunkLastBit / 8n;
      const n = Number(lastByte - firstByte + 1n);
      let bytes: Uint8Array;
      try {
        bytes = this.mm.read(this.data + firstByte, n);
      } catch {
        return;
      }
      for (let b = cur; b <= chunkLastBit; b++) {
        const i = Number(b / 8n - firstByte);
        bytes[i] = bytes[i]! | (1 << Number(b % 8n));
      }
      try {
        this.mm.write(this.data + firstByte, bytes);
      } catch {
        return;
      }
      cur = chunkLastBit + 1n;
    }
  }

  /**
   * Hand the whole range to `fn` once (the 6.12 form, after "iommufd/iova_bitmap: Remove
   * iterator logic"); pinning follows the records.
   * @see drivers/iommu/iommufd/iova_bitmap.c:iova_bitmap_for_each
   */
  forEach<T>(fn: (bitmap: IovaBitmap, iova: bigint, length: bigint) => T): T {
    return fn(this, this.iova, this.length);
  }
}
