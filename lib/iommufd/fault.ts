// SPDX-License-Identifier: GPL-2.0-only
/**
 * drivers/iommu/iommufd/fault.c (studied at 6.12.117) — the fault object and the fd that
 * IOMMU_FAULT_QUEUE_ALLOC returns: page-fault groups of fault-capable HWPTs wait on a deliver
 * list; read(2) hands out whole groups as struct iommu_hwpt_pgfault records, each group getting
 * a response cookie (the lowest free from 1); write(2) takes struct iommu_hwpt_page_response
 * records that complete the group of their cookie. The fd holds the object and the context; it
 * is not seekable (pread/pwrite/lseek ESPIPE) and reads and writes always start at offset 0.
 */
import { decode, encode } from '../abi';
import { kerr } from '../errno';
import type { IopfFaultEvent } from '../model/host';
import { File, FileOperations, anonInodeGetfile } from '../task/file_table';
import type { Task } from '../task/sched';
import { O_CLOEXEC, O_RDWR } from '../uapi/fcntl';
import { IOMMUFD_PAGE_RESP_INVALID, IOMMUFD_PAGE_RESP_SUCCESS, iommu_fault_alloc, iommu_hwpt_page_response, iommu_hwpt_pgfault } from '../uapi/iommufd';
import type { IommufdDevice } from './device';
import type { IommufdHwPagetable } from './hw_pagetable';
import type { IommufdCtx, IommufdObject, IommufdUcmd } from './main';

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
  /** The iommufd device id the faults came from (its attach handle). */
  readonly devId: number;
  cookie?: number;
  /** Called with the response code once userspace (or an auto-response) answers. */
  readonly respond?: (code: number) => void;
}

/** @see drivers/iommu/iommufd/iommufd_private.h:struct iommufd_fault */
export class IommufdFault {
  private readonly deliver: IopfGroup[] = [];
  private readonly response = new Map<number, IopfGroup>();
  file: File<IommufdFault> | undefined;

  constructor(
    readonly obj: IommufdObject<IommufdFault>,
    readonly ictx: IommufdCtx,
  ) {}

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
   * read(2): whole groups only, as many as fit in `count` (a multiple of the record size, from
   * offset 0: ESPIPE otherwise); a first group that does not fit → EINVAL; a failing cookie
   * allocation (ENOMEM) or copy (EFAULT) puts the group back. The bytes read, or the error when
   * nothing was.
   * @see drivers/iommu/iommufd/fault.c:iommufd_fault_fops_read
   */
  read(count: number, pos = 0n): Uint8Array {
    const size = iommu_hwpt_pgfault.size;
    if (pos || count % size) throw kerr('ESPIPE');
    const out: Uint8Array[] = [];
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
      if (this.ictx.faults.shouldFail()) {
        this.deliver.unshift(group);
        err = kerr('ENOMEM');
        break;
      }
      let cookie = 1;
      while (this.response.has(cookie)) cookie++;
      group.cookie = cookie;
      this.response.set(cookie, group);
      const recs: Uint8Array[] = [];
      for (const f of group.faults) {
        if (this.ictx.faults.shouldFail()) {
          err = kerr('EFAULT');
          break;
        }
        recs.push(encode(iommu_hwpt_pgfault, { flags: f.flags, dev_id: group.devId, pasid: f.pasid, grpid: f.grpid, perm: f.perm, addr: f.addr, length: 0, cookie }));
      }
      if (err) {
        this.response.delete(cookie);
        this.deliver.unshift(group);
        break;
      }
      out.push(...recs);
      done += recs.length * size;
    }
    if (done === 0 && err) throw err;
    return Buffer.concat(out);
  }

  /**
   * write(2): responses (a multiple of their size, from offset 0: ESPIPE); a code other than
   * SUCCESS/INVALID or an unknown cookie → EINVAL. The bytes consumed, or the error when none
   * were.
   * @see drivers/iommu/iommufd/fault.c:iommufd_fault_fops_write
   */
  write(data: Uint8Array, pos = 0n): number {
    const size = iommu_hwpt_page_response.size;
    if (pos || data.length % size) throw kerr('ESPIPE');
    let done = 0;
    let err: ReturnType<typeof kerr> | undefined;
    while (data.length > done) {
      if (this.ictx.faults.shouldFail()) {
        err = kerr('EFAULT');
        break;
      }
      const r = decode(iommu_hwpt_page_response, data.subarray(done, done + size));
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
   * A device detaching (`devId`) or the object going (all): its groups still queued or awaiting a
   * response are answered INVALID.
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

/** The fault fd: its release drops the object's and the context's references. */
export const iommufdFaultFops = {
  name: 'iommufd-pgfault',
  nonseekable: true,
  read: (f: File<IommufdFault>, len: number, pos: bigint, current: Task) => f.privateData.ictx.enter(current, () => f.privateData.read(len, pos)),
  write: (f: File<IommufdFault>, data: Uint8Array, pos: bigint, current: Task) => f.privateData.ictx.enter(current, () => f.privateData.write(data, pos)),
  release: (f: File<IommufdFault>) => {
    const fault = f.privateData;
    fault.ictx.unrefObject(fault.obj);
    fault.ictx.put();
  },
} as const satisfies FileOperations<IommufdFault>;

/**
 * IOMMU_FAULT_QUEUE_ALLOC: flags must be 0 (EOPNOTSUPP); the object and its file (which holds
 * the object and the context), the fd reserved (EMFILE), `out_fault_id` and `out_fault_fd`
 * written back (EFAULT), then the object finalized and the fd installed.
 * @see drivers/iommu/iommufd/fault.c:iommufd_fault_alloc
 */
export function iommufdFaultAlloc(ucmd: IommufdUcmd<typeof iommu_fault_alloc>): number {
  const { cmd, ictx, current } = ucmd;
  if (cmd.flags) throw kerr('EOPNOTSUPP');
  const obj = ictx.objectAlloc<IommufdFault>('fault');
  const fault = new IommufdFault(obj, ictx);
  obj.impl = fault;
  obj.ops = { destroy: () => fault.autoRespond(), file: () => fault.file };
  let fd: number | undefined;
  try {
    ictx.alloc();
    const file = anonInodeGetfile('[iommufd-pgfault]', iommufdFaultFops, fault, O_RDWR, current.cred);
    ictx.refObject(obj);
    ictx.get();
    fault.file = file;
    fd = current.files.getUnusedFdFlags(O_CLOEXEC);
    cmd.out_fault_id = obj.id;
    cmd.out_fault_fd = fd;
    ucmd.respond();
  } catch (e) {
    if (fd !== undefined) current.files.putUnusedFd(fd);
    ictx.objectAbortAndDestroy(obj);
    throw e;
  }
  ictx.objectFinalize(obj);
  current.files.fdInstall(fd, fault.file);
  return 0;
}

/**
 * A fault-capable HWPT's domain reported a page request: queue it for the device the domain's
 * attach handle names.
 * @see drivers/iommu/iommufd/fault.c:iommufd_fault_iopf_handler
 */
export function iommufdFaultIopfHandler(hwpt: IommufdHwPagetable, evt: IopfFaultEvent): void {
  const fault = hwpt.fault;
  if (!fault || !evt.dev.group) return;
  const igroup = fault.ictx.groups.get(evt.dev.group) as { handleIdev?: IommufdDevice } | undefined;
  const idev = igroup?.handleIdev;
  if (!idev) return;
  fault.queue({ faults: [evt], devId: idev.obj.id });
}
