// SPDX-License-Identifier: GPL-2.0-only
/**
 * drivers/iommu/iommufd/pages.c (6.12) — the iopt_pages object: a refcounted, page-granular
 * reference to a range of one process's memory that areas of one or more IOASes slice. Pinning
 * and loading PFNs into domains happen only when a domain or an access needs them; an IOAS with
 * neither never touches user memory.
 *
 * This module holds the bookkeeping that needs no bytes; the pin model and domain filling are
 * supplied to the io_pagetable through IoptPagesOps.
 */
import { kerr } from '../errno';
import { PAGE_SIZE } from '../abi';

const SIZE_MAX = (1n << 64n) - 1n;

/** @see drivers/iommu/iommufd/io_pagetable.h:enum iopt_pages_account_mode (IOPT_PAGES_ACCOUNT_*) */
export type IoptPagesAccountMode = 'none' | 'user' | 'mm';

export class IoptPages {
  /** Page-aligned start of the user range. */
  readonly uptr: bigint;
  readonly npages: bigint;
  readonly writable: boolean;
  accountMode: IoptPagesAccountMode;
  /** The process whose memory this is (`source_mm`): opaque here. */
  readonly sourceMm: unknown;
  private kref = 1;

  constructor(uptr: bigint, length: bigint, writable: boolean, accountMode: IoptPagesAccountMode, sourceMm: unknown) {
    this.uptr = uptr & ~(PAGE_SIZE - 1n);
    this.npages = (length + (uptr - this.uptr) + PAGE_SIZE - 1n) / PAGE_SIZE;
    this.writable = writable;
    this.accountMode = accountMode;
    this.sourceMm = sourceMm;
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
    return this.kref === 0;
  }
}

export interface AllocPagesOptions {
  /** CAP_IPC_LOCK: no RLIMIT_MEMLOCK accounting. */
  ipcLock?: boolean;
  sourceMm?: unknown;
  /** Fault injection at the kzalloc: ENOMEM. */
  fail?: () => boolean;
}

/**
 * Checks in the kernel's order, then a fresh object: length 0 or past SIZE_MAX - PAGE_SIZE →
 * EINVAL, uptr + length wrapping → EOVERFLOW.
 * @see drivers/iommu/iommufd/pages.c:iopt_alloc_pages
 */
export function ioptAllocPages(uptr: bigint, length: bigint, writable: boolean, opts: AllocPagesOptions = {}): IoptPages {
  if (length > SIZE_MAX - PAGE_SIZE || length === 0n) throw kerr('EINVAL');
  if (uptr + length > SIZE_MAX) throw kerr('EOVERFLOW');
  if (opts.fail?.()) throw kerr('ENOMEM');
  return new IoptPages(uptr, length, writable, opts.ipcLock ? 'none' : 'user', opts.sourceMm);
}
