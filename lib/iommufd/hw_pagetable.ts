// SPDX-License-Identifier: GPL-2.0-only
/**
 * drivers/iommu/iommufd/hw_pagetable.c (studied at 6.12.117) — HWPT objects: each wraps a real
 * IOMMU domain of the device's driver (lib/iommu/iommu.ts). A paging HWPT's domain holds its
 * IOAS's mappings (the IOAS loads every area into it); a nested HWPT's domain is a stage-1 table
 * the user owns above a NEST_PARENT paging HWPT. IOMMU_HWPT_ALLOC, SET_DIRTY_TRACKING,
 * GET_DIRTY_BITMAP and INVALIDATE.
 */
import { kerr } from '../errno';
import { PAGE_SIZE } from '../kernel/page';
import type { IommuDomain, IommuUserDataArray } from '../model/host';
import type { IommuUserData } from '../iommu/drivers';
import {
  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
  IOMMU_HWPT_ALLOC_NEST_PARENT,
  IOMMU_HWPT_DATA_NONE,
  IOMMU_HWPT_DIRTY_TRACKING_ENABLE,
  IOMMU_HWPT_FAULT_ID_VALID,
  IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR,
  iommu_hwpt_alloc,
  iommu_hwpt_get_dirty_bitmap,
  iommu_hwpt_invalidate,
  iommu_hwpt_set_dirty_tracking,
} from '../uapi/iommufd';
import type { IommufdDevice } from './device';
import { iommufdHwPagetableAttach, iommufdHwPagetableDetach } from './device';
import type { IommufdFault } from './fault';
import { iommufdFaultIopfHandler } from './fault';
import type { IommufdIoas } from './ioas';
import { IovaBitmap } from './iova_bitmap';
import type { IommufdCtx, IommufdObject, IommufdUcmd } from './main';
import type { UserAccess } from '../abi';

/** @see drivers/iommu/iommufd/iommufd_private.h:struct iommufd_hw_pagetable */
export abstract class IommufdHwPagetable {
  domain!: IommuDomain;
  fault: IommufdFault | undefined;

  constructor(readonly obj: IommufdObject<IommufdHwPagetable>) {}
}

/** @see drivers/iommu/iommufd/iommufd_private.h:struct iommufd_hwpt_paging */
export class IommufdHwptPaging extends IommufdHwPagetable {
  autoDomain = false;
  enforceCacheCoherency = false;
  msiCookie = false;
  nestParent = false;
  /** On ioas.hwptList (the IOAS loads its areas into the domain). */
  listed = false;

  constructor(
    obj: IommufdObject<IommufdHwPagetable>,
    readonly ioas: IommufdIoas,
  ) {
    super(obj);
  }
}

/** @see drivers/iommu/iommufd/iommufd_private.h:struct iommufd_hwpt_nested */
export class IommufdHwptNested extends IommufdHwPagetable {
  constructor(
    obj: IommufdObject<IommufdHwPagetable>,
    readonly parent: IommufdHwptPaging,
  ) {
    super(obj);
  }
}

/** The paging HWPT under `hwpt` (itself, or a nested one's parent). @see iommufd_private.h:find_hwpt_paging */
export function findHwptPaging(hwpt: IommufdHwPagetable): IommufdHwptPaging | undefined {
  if (hwpt instanceof IommufdHwptPaging) return hwpt;
  if (hwpt instanceof IommufdHwptNested) return hwpt.parent;
  return undefined;
}

/**
 * Drop a reference; an automatic HWPT nobody attaches any more is destroyed with it.
 * @see drivers/iommu/iommufd/iommufd_private.h:iommufd_hw_pagetable_put
 */
export function iommufdHwPagetablePut(ictx: IommufdCtx, hwpt: IommufdHwPagetable): void {
  if (hwpt instanceof IommufdHwptPaging && hwpt.autoDomain) {
    ictx.objectPutAndTryDestroy(hwpt.obj);
    return;
  }
  ictx.unrefObject(hwpt.obj);
}

const core = (ictx: IommufdCtx) => ictx.st.k.host.iommu;

/** @see drivers/iommu/iommufd/hw_pagetable.c:__iommufd_hwpt_destroy */
function hwptDestroyCommon(ictx: IommufdCtx, hwpt: IommufdHwPagetable): void {
  if (hwpt.domain) core(ictx).domainFree(hwpt.domain);
  if (hwpt.fault) ictx.unrefObject(hwpt.fault.obj);
}

/** @see drivers/iommu/iommufd/hw_pagetable.c:iommufd_hwpt_paging_destroy */
function iommufdHwptPagingDestroy(ictx: IommufdCtx, hp: IommufdHwptPaging): void {
  if (hp.listed) {
    const list = hp.ioas.hwptList;
    list.splice(list.indexOf(hp), 1);
    hp.listed = false;
    hp.ioas.iopt.tableRemoveDomain(hp.domain);
  }
  hwptDestroyCommon(ictx, hp);
  ictx.unrefObject(hp.ioas.obj);
}

/** A user data descriptor in user memory (`struct iommu_user_data`). */
function userData(mem: UserAccess, type: number, uptr: bigint, len: number): IommuUserData {
  return {
    type,
    len,
    copy(want: number, size: number, minLast: number): Uint8Array {
      if (type !== want) throw kerr('EINVAL');
      if (len < minLast || size < len) throw kerr('EINVAL');
      // copy_struct_from_user with usize <= size: the user's bytes, zero-extended.
      const out = new Uint8Array(size);
      out.set(mem.read(uptr, len));
      return out;
    },
  };
}

/**
 * A paging HWPT of `ioas` for `idev`'s driver: flags need the driver's domain_alloc_user
 * (EOPNOTSUPP), only NEST_PARENT and DIRTY_TRACKING (EOPNOTSUPP), dirty tracking needs the
 * capability (EOPNOTSUPP); the domain, optionally attached now (drivers that finish a domain at
 * attach), then loaded with every area of the IOAS (EINVAL, EADDRINUSE, ENOMEM). Not finalized.
 * @see drivers/iommu/iommufd/hw_pagetable.c:iommufd_hwpt_paging_alloc
 */
export function iommufdHwptPagingAlloc(
  ictx: IommufdCtx,
  ioas: IommufdIoas,
  idev: IommufdDevice,
  flags: number,
  immediateAttach: boolean,
  data: IommuUserData | undefined,
): IommufdHwptPaging {
  const validFlags = IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_DIRTY_TRACKING;
  const ops = core(ictx).deviceOps(idev.dev);
  if ((flags || data) && !ops.domainAllocUser) throw kerr('EOPNOTSUPP');
  if (flags & ~validFlags) throw kerr('EOPNOTSUPP');
  if (flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING && !core(ictx).capable(idev.dev, 'IOMMU_CAP_DIRTY_TRACKING')) throw kerr('EOPNOTSUPP');
  if (flags & IOMMU_HWPT_FAULT_ID_VALID && flags & IOMMU_HWPT_ALLOC_NEST_PARENT) throw kerr('EOPNOTSUPP');
  const obj = ictx.objectAlloc<IommufdHwPagetable>('hwpt_paging');
  const hp = new IommufdHwptPaging(obj, ioas);
  obj.impl = hp;
  obj.ops = { destroy: () => iommufdHwptPagingDestroy(ictx, hp) };
  ictx.refObject(ioas.obj);
  hp.nestParent = (flags & IOMMU_HWPT_ALLOC_NEST_PARENT) !== 0;
  let attached = false;
  try {
    if (ops.domainAllocUser) {
      hp.domain = ops.domainAllocUser(idev.dev, flags, undefined, data);
      hp.domain.owner = ops.name;
    } else hp.domain = core(ictx).deviceDomainAllocPaging(idev.dev);
    if (immediateAttach) {
      iommufdHwPagetableAttach(hp, idev);
      attached = true;
    }
    ioas.iopt.tableAddDomain(hp.domain);
  } catch (e) {
    if (attached) iommufdHwPagetableDetach(idev);
    ictx.objectAbortAndDestroy(obj);
    throw e;
  }
  ioas.hwptList.push(hp);
  hp.listed = true;
  return hp;
}

/**
 * A nested HWPT above `parent`: only FAULT_ID_VALID (EOPNOTSUPP), driver data required
 * (EOPNOTSUPP), the parent a manual NEST_PARENT HWPT of the same driver (EINVAL).
 * @see drivers/iommu/iommufd/hw_pagetable.c:iommufd_hwpt_nested_alloc
 */
function iommufdHwptNestedAlloc(ictx: IommufdCtx, parent: IommufdHwptPaging, idev: IommufdDevice, flags: number, data: IommuUserData): IommufdHwptNested {
  const ops = core(ictx).deviceOps(idev.dev);
  if (flags & ~IOMMU_HWPT_FAULT_ID_VALID || !data.len || !ops.domainAllocUser) throw kerr('EOPNOTSUPP');
  if (parent.autoDomain || !parent.nestParent || parent.domain.owner !== ops.name) throw kerr('EINVAL');
  const obj = ictx.objectAlloc<IommufdHwPagetable>('hwpt_nested');
  const hn = new IommufdHwptNested(obj, parent);
  obj.impl = hn;
  obj.ops = {
    destroy: () => {
      hwptDestroyCommon(ictx, hn);
      ictx.unrefObject(parent.obj);
    },
  };
  ictx.refObject(parent.obj);
  try {
    hn.domain = ops.domainAllocUser(idev.dev, flags & ~IOMMU_HWPT_FAULT_ID_VALID, parent.domain, data);
    hn.domain.owner = ops.name;
    if (hn.domain.type !== 'nested' || !hn.domain.ops?.cacheInvalidateUser) throw kerr('EINVAL');
  } catch (e) {
    ictx.objectAbortAndDestroy(obj);
    throw e;
  }
  return hn;
}

/**
 * IOMMU_HWPT_ALLOC: __reserved → EOPNOTSUPP; data type and length must agree (EINVAL); the
 * device (ENOENT); `pt_id` an IOAS (a paging HWPT) or a paging HWPT (a nested one), anything
 * else or nothing EINVAL; with FAULT_ID_VALID the fault object (ENOENT). `out_hwpt_id` back.
 * @see drivers/iommu/iommufd/hw_pagetable.c:iommufd_hwpt_alloc
 */
export function iommufdHwptAlloc(ucmd: IommufdUcmd<typeof iommu_hwpt_alloc>): number {
  const { cmd, ictx } = ucmd;
  if (cmd.__reserved) throw kerr('EOPNOTSUPP');
  if ((cmd.data_type === IOMMU_HWPT_DATA_NONE && cmd.data_len) || (cmd.data_type !== IOMMU_HWPT_DATA_NONE && !cmd.data_len)) throw kerr('EINVAL');
  const data = userData(ucmd.mem, cmd.data_type, cmd.data_uptr, cmd.data_len);
  const idevObj = ictx.getObject<IommufdDevice>(cmd.dev_id, 'device');
  try {
    let ptObj: IommufdObject;
    try {
      ptObj = ictx.getObject(cmd.pt_id, 'any');
    } catch {
      throw kerr('EINVAL');
    }
    try {
      let hwpt: IommufdHwPagetable;
      if (ptObj.type === 'ioas') hwpt = iommufdHwptPagingAlloc(ictx, ptObj.impl as IommufdIoas, idevObj.impl, cmd.flags, false, data.len ? data : undefined);
      else if (ptObj.type === 'hwpt_paging') hwpt = iommufdHwptNestedAlloc(ictx, ptObj.impl as IommufdHwptPaging, idevObj.impl, cmd.flags, data);
      else throw kerr('EINVAL');
      try {
        if (cmd.flags & IOMMU_HWPT_FAULT_ID_VALID) {
          const fault = ictx.getObject<IommufdFault>(cmd.fault_id, 'fault');
          hwpt.fault = fault.impl;
          hwpt.domain.iopfHandler = (evt) => iommufdFaultIopfHandler(hwpt, evt);
          ictx.refObject(fault);
          ictx.putObject(fault);
        }
        cmd.out_hwpt_id = hwpt.obj.id;
        ucmd.respond();
      } catch (e) {
        ictx.objectAbortAndDestroy(hwpt.obj);
        throw e;
      }
      ictx.objectFinalize(hwpt.obj);
      return 0;
    } finally {
      ictx.putObject(ptObj);
    }
  } finally {
    ictx.putObject(idevObj);
  }
}

/**
 * IOMMU_HWPT_SET_DIRTY_TRACKING: unknown flags → EOPNOTSUPP; a paging HWPT (ENOENT); its domain
 * must track dirty pages (EOPNOTSUPP).
 * @see drivers/iommu/iommufd/hw_pagetable.c:iommufd_hwpt_set_dirty_tracking
 */
export function iommufdHwptSetDirtyTracking(ucmd: IommufdUcmd<typeof iommu_hwpt_set_dirty_tracking>): number {
  const { cmd, ictx } = ucmd;
  if (cmd.flags & ~IOMMU_HWPT_DIRTY_TRACKING_ENABLE) throw kerr('EOPNOTSUPP');
  const obj = ictx.getObject<IommufdHwptPaging>(cmd.hwpt_id, 'hwpt_paging');
  try {
    obj.impl.ioas.iopt.setDirtyTracking(obj.impl.domain, (cmd.flags & IOMMU_HWPT_DIRTY_TRACKING_ENABLE) !== 0);
    return 0;
  } finally {
    ictx.putObject(obj);
  }
}

/**
 * IOMMU_HWPT_GET_DIRTY_BITMAP: unknown flags or __reserved → EOPNOTSUPP; a paging HWPT (ENOENT);
 * the range checks (EINVAL, EOVERFLOW); the dirty bits of the range into the user bitmap, cleared
 * unless NO_CLEAR.
 * @see drivers/iommu/iommufd/hw_pagetable.c:iommufd_hwpt_get_dirty_bitmap
 */
export function iommufdHwptGetDirtyBitmap(ucmd: IommufdUcmd<typeof iommu_hwpt_get_dirty_bitmap>): number {
  const { cmd, ictx } = ucmd;
  if (cmd.flags & ~IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR || cmd.__reserved) throw kerr('EOPNOTSUPP');
  const obj = ictx.getObject<IommufdHwptPaging>(cmd.hwpt_id, 'hwpt_paging');
  try {
    const noClear = (cmd.flags & IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR) !== 0;
    obj.impl.ioas.iopt.readAndClearDirtyData(obj.impl.domain, noClear, cmd.iova, cmd.length, cmd.page_size, () => {
      const bitmap = IovaBitmap.alloc(ucmd.mem, cmd.iova, cmd.length, cmd.page_size, cmd.data, () => ictx.faults.shouldFail());
      return (iova, length) => bitmap.set(iova, length);
    });
    return 0;
  } finally {
    ictx.putObject(obj);
  }
}

/** An arbitrary cap on entry_num (the 6.12.117 tree's IOMMU_HWPT_INVALIDATE_ENTRY_NUM_MAX). */
const ENTRY_NUM_MAX = 1 << 19;

/**
 * IOMMU_HWPT_INVALIDATE: __reserved → EOPNOTSUPP; entries without a pointer or length, longer
 * than a page or too many → EINVAL; a nested HWPT (ENOENT); the driver handles entries until one
 * fails. `entry_num` is written back with how many were handled, on failure too.
 * @see drivers/iommu/iommufd/hw_pagetable.c:iommufd_hwpt_invalidate
 * @note emulation: the entry_num/entry_len bounds are as the 6.12.117 tree has them (a later
 * hardening); older profiles get them too.
 */
export function iommufdHwptInvalidate(ucmd: IommufdUcmd<typeof iommu_hwpt_invalidate>): number {
  const { cmd, ictx } = ucmd;
  let done = 0;
  let err: unknown;
  try {
    if (cmd.__reserved) throw kerr('EOPNOTSUPP');
    if (cmd.entry_num && (!cmd.data_uptr || !cmd.entry_len || BigInt(cmd.entry_len) > PAGE_SIZE || cmd.entry_num > ENTRY_NUM_MAX)) throw kerr('EINVAL');
    const obj = ictx.getObject<IommufdHwptNested>(cmd.hwpt_id, 'hwpt_nested');
    const mem = ucmd.mem;
    const array: IommuUserDataArray = {
      type: cmd.data_type,
      entryLen: cmd.entry_len,
      entryNum: cmd.entry_num,
      copyEntry(index: number, size: number, minLast: number): Uint8Array {
        if (index >= cmd.entry_num || !cmd.entry_num) throw kerr('EINVAL');
        return userData(mem, cmd.data_type, cmd.data_uptr + BigInt(cmd.entry_len * index), cmd.entry_len).copy(cmd.data_type, size, minLast);
      },
    };
    try {
      obj.impl.domain.ops!.cacheInvalidateUser!(obj.impl.domain, array);
    } catch (e) {
      err = e;
    }
    done = array.entryNum;
    ictx.putObject(obj);
  } catch (e) {
    err = e;
  }
  cmd.entry_num = done;
  ucmd.respond();
  if (err) throw err;
  return 0;
}
