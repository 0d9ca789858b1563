// SPDX-License-Identifier: GPL-2.0-only
/**
 * drivers/iommu/iommufd/fault.c (studied at 6.12.117) — the fault queue behind the fd that
 * IOMMU_FAULT_QUEUE_ALLOC returns: page-fault groups wait on a deliver list; read(2) hands out
 * whole groups as struct iommu_hwpt_pgfault records, each group getting a response cookie
 * (from 1); write(2) takes struct iommu_hwpt_page_response records that complete the group of
 * their cookie.
 *
 * The fd plumbing (file_operations, the object's file) is supplied by whoever owns files;
 * this module is the queue and the read/write rules over a process's memory.
 */
import { encode, decode } from '../abi';
import { kerr } from '../errno';
import { IOMMUFD_PAGE_RESP_INVALID, IOMMUFD_PAGE_RESP_SUCCESS, iommu_hwpt_page_response, iommu_hwpt_pgfault } from '../uapi/iommufd';
import type { Mm } from './iova_bitmap';

/** One fault of a group as the IOMMU reported it (struct iommu_fault_page_request). */
export interface IopfFault {
  readonly flags: number;
  readonly pasid: number;
  readonly grpid: number;
  readonly perm: number;
  readonly addr: bigint;
}

/** @see include/linux/iommu.h:struct iopf_group */
export interface IopfGroup {
  readonly faults: readonly IopfFault[];
  /** The iommufd device id the faults came from. */
  readonly devId: number;
  cookie?: number;
  /** Called with the response code once userspace answers (iopf_group_response). */
  readonly respond?: (code: number) => void;
}

export class IommufdFault {
  private readonly deliver: IopfGroup[] = [];
  private readonly response = new Map<number, IopfGroup>();

  /** Groups waiting to be read. */
  get pending(): number {
    return this.deliver.length;
  }

  /** Groups read but not answered. */
  get awaitingResponse(): number {
    return this.response.size;
  }

  /** iommufd_fault_iopf_handler: queue a group for delivery. */
  queue(group: IopfGroup): void {
    this.deliver.push(group);
  }

  /**
   * read(2): whole groups only, as many as fit in `count` (a multiple of the record size, and
   * from offset 0: ESPIPE otherwise); a first group that does not fit → EINVAL; EFAULT puts the
   * group back. Returns the bytes read, or the error when nothing was.
   * @see drivers/iommu/iommufd/fault.c:iommufd_fault_fops_read
   */
  read(mm: Mm, buf: bigint, count: number, pos = 0): number {
    const size = iommu_hwpt_pgfault.size;
    if (pos || count % size) throw kerr('ESPIPE');
    let done = 0;
    let err: ReturnType<typeof kerr> | undefined;
    for (;;) {
      const group = this.deliver.shift();
      if (!group) break;
      if (done >= count || group.faults.length * size > count - done) {
        this.deliver.unshift(group);
        if (done === 0) err = kerr('EINVAL');
        break;
      }
      let cookie = 1;
      while (this.response.has(cookie)) cookie++;
      group.cookie = cookie;
      this.response.set(cookie, group);
      let groupDone = done;
      try {
        for (const f of group.faults) {
          const rec = encode(iommu_hwpt_pgfault, {
            flags: f.flags,
            dev_id: group.devId,
            pasid: f.pasid,
            grpid: f.grpid,
            perm: f.perm,
            addr: f.addr,
            length: 0,
            cookie,
          });
          mm.write(buf + BigInt(groupDone), rec);
          groupDone += size;
        }
      } catch {
        this.response.delete(cookie);
        this.deliver.unshift(group);
        err = kerr('EFAULT');
        break;
      }
      done = groupDone;
    }
    if (done === 0 && err) throw err;
    return done;
  }

  /**
   * write(2): responses (a multiple of their size, offset 0: ESPIPE); a code other than
   * SUCCESS/INVALID or an unknown cookie → EINVAL. Returns the bytes consumed, or the error when
   * none were.
   * @see drivers/iommu/iommufd/fault.c:iommufd_fault_fops_write
   */
  write(mm: Mm, buf: bigint, count: number, pos = 0): number {
    const size = iommu_hwpt_page_response.size;
    if (pos || count % size) throw kerr('ESPIPE');
    let done = 0;
    let err: ReturnType<typeof kerr> | undefined;
    while (count > done) {
      let r;
      try {
        r = decode(iommu_hwpt_page_response, mm.read(buf + BigInt(done), size));
      } catch {
        err = kerr('EFAULT');
        break;
      }
      if (r.code !== IOMMUFD_PAGE_RESP_SUCCESS && r.code !== IOMMUFD_PAGE_RESP_INVALID) {
        err = kerr('EINVAL');
        break;
      }
      const group = this.response.get(r.cookie);
      if (!group) {
        err = kerr('EINVAL');
        break;
      }
      this.response.delete(r.cookie);
      group.respond?.(r.code);
      done += size;
    }
    if (done === 0 && err) throw err;
    return done;
  }

  /**
   * Detaching a device (`devId`) or destroying the object (all): its groups still queued or
   * awaiting a response are answered INVALID.
   * @see drivers/iommu/iommufd/fault.c:iommufd_auto_response_faults, iommufd_fault_destroy
   */
  autoRespond(devId?: number): void {
    const mine = (g: IopfGroup) => devId === undefined || g.devId === devId;
    for (let i = this.deliver.length - 1; i >= 0; i--) {
      const g = this.deliver[i]!;
      if (!mine(g)) continue;
      this.deliver.splice(i, 1);
      g.respond?.(IOMMUFD_PAGE_RESP_INVALID);
    }
    for (const [c, g] of [...this.response]) {
      if (!mine(g)) continue;
      this.response.delete(c);
      g.respond?.(IOMMUFD_PAGE_RESP_INVALID);
    }
  }
}
