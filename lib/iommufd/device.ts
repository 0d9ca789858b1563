// SPDX-License-Identifier: GPL-2.0-only
/**
 * drivers/iommu/iommufd/device.c (studied at 6.12.117) — devices bound to an iommufd (what a
 * VFIO device cdev's BIND_IOMMUFD or a selftest mock device creates), their attachment to an IOAS
 * or HWPT (the device's reserved regions enforced in the IOAS, one IOMMU domain per group),
 * in-kernel accesses of an IOAS, and IOMMU_GET_HW_INFO.
 *
 * A bound device owns its group's DMA for the context (`iommu_device_claim_dma_owner`): the
 * legacy VFIO container cannot take the group meanwhile, and kernel DMA-API drivers cannot bind.
 */
import { copyToUser } from '../abi';
import { kerr } from '../errno';
import type { IommuGroup, PciDevice } from '../model/host';
import {
  IOMMU_HW_CAP_DIRTY_TRACKING,
  IOMMU_HW_INFO_FLAG_INPUT_TYPE,
  IOMMU_HW_INFO_TYPE_DEFAULT,
  IOMMU_HW_INFO_TYPE_NONE,
  iommu_hw_info,
} from '../uapi/iommufd';
import { PAGE_SIZE } from '../kernel/page';
import { ULONG_MAX } from './io_pagetable';
import type { IommufdIoas, IoasAccess } from './ioas';
import { iommufdGetIoas } from './ioas';
import type { IommufdCtx, IommufdObject, IommufdUcmd } from './main';
import {
  IOMMUFD_ACCESS_RW_WRITE,
  ioptPagesAddAccess,
  ioptPagesRemoveAccess,
  ioptPagesRwAccess,
} from './pages';
import type { IommufdHwPagetable, IommufdHwptPaging } from './hw_pagetable';
import { findHwptPaging, iommufdHwPagetablePut, iommufdHwptPagingAlloc } from './hw_pagetable';

/** PHYS_ADDR_MAX: no software MSI window. */
const NO_SW_MSI = undefined;

/** @see drivers/iommu/iommufd/iommufd_private.h:struct iommufd_group */
export class IommufdGroup {
  ref = 1;
  hwpt: IommufdHwPagetable | undefined;
  /** Devices attached, in attach order (`device_list`). */
  readonly deviceList: IommufdDevice[] = [];
  swMsiStart: bigint | undefined = NO_SW_MSI;
  /** The device whose attach handle the group's domain carries (faults are reported for it). */
  handleIdev: IommufdDevice | undefined;

  constructor(
    readonly ictx: IommufdCtx,
    readonly group: IommuGroup,
  ) {}
}

/** @see drivers/iommu/iommufd/iommufd_private.h:struct iommufd_device */
export class IommufdDevice {
  enforceCacheCoherency = false;
  iopfEnabled = 0;

  constructor(
    readonly obj: IommufdObject<IommufdDevice>,
    readonly ictx: IommufdCtx,
    readonly igroup: IommufdGroup,
    /** Always the physical device. */
    readonly dev: PciDevice,
    /** A selftest mock device (no context reference, no MSI check). */
    readonly mock: boolean,
  ) {}
}

const iommuCore = (ictx: IommufdCtx) => ictx.st.k.host.iommu;

/** @see drivers/iommu/iommufd/device.c:iommufd_get_group — one per IOMMU group and context. */
function iommufdGetGroup(ictx: IommufdCtx, dev: PciDevice): IommufdGroup {
  const group = dev.group;
  if (!group) throw kerr('ENODEV');
  const cur = ictx.groups.get(group) as IommufdGroup | undefined;
  if (cur && cur.ref > 0) {
    cur.ref++;
    return cur;
  }
  ictx.alloc();
  const ig = new IommufdGroup(ictx, group);
  ictx.groups.set(group, ig);
  return ig;
}

/** @see drivers/iommu/iommufd/device.c:iommufd_put_group */
function iommufdPutGroup(ig: IommufdGroup): void {
  if (--ig.ref > 0) return;
  if (ig.hwpt || ig.deviceList.length) throw new Error('iommufd_group released while in use');
  if (ig.ictx.groups.get(ig.group) === ig) ig.ictx.groups.delete(ig.group);
}

/** @see drivers/iommu/iommufd/device.c:iommufd_device_destroy */
function iommufdDeviceDestroy(idev: IommufdDevice): void {
  iommuCore(idev.ictx).deviceReleaseDmaOwner(idev.dev, idev.ictx);
  iommufdPutGroup(idev.igroup);
  if (!idev.mock) idev.ictx.put();
}

/**
 * Bind a physical device: it must be cache coherent (EINVAL), its group must isolate MSIs
 * unless `iommufd.allow_unsafe_interrupts` (EPERM; never asked of mock devices), and its DMA
 * must be free for this context (EPERM/EBUSY from the IOMMU core). The device object is
 * finalized at once; the caller holds a reference until iommufdDeviceUnbind.
 * @see drivers/iommu/iommufd/device.c:iommufd_device_bind
 */
export function iommufdDeviceBind(ictx: IommufdCtx, dev: PciDevice, mock = false): IommufdDevice {
  const core = iommuCore(ictx);
  if (!core.capable(dev, 'IOMMU_CAP_CACHE_COHERENCY')) throw kerr('EINVAL');
  const igroup = iommufdGetGroup(ictx, dev);
  try {
    if (!mock && !core.groupHasIsolatedMsi(igroup.group) && !ictx.st.k.params.iommufd_allow_unsafe_interrupts) throw kerr('EPERM');
    core.deviceClaimDmaOwner(dev, ictx);
    let obj: IommufdObject<IommufdDevice>;
    try {
      obj = ictx.objectAlloc<IommufdDevice>('device');
    } catch (e) {
      core.deviceReleaseDmaOwner(dev, ictx);
      throw e;
    }
    const idev = new IommufdDevice(obj, ictx, igroup, dev, mock);
    obj.impl = idev;
    obj.ops = { destroy: () => iommufdDeviceDestroy(idev) };
    if (!mock) ictx.get();
    idev.enforceCacheCoherency = core.capable(dev, 'IOMMU_CAP_ENFORCE_CACHE_COHERENCY');
    // The calling driver is a user until iommufd_device_unbind().
    ictx.refObject(obj);
    ictx.objectFinalize(obj);
    return idev;
  } catch (e) {
    iommufdPutGroup(igroup);
    throw e;
  }
}

/** @see drivers/iommu/iommufd/device.c:iommufd_device_unbind */
export function iommufdDeviceUnbind(idev: IommufdDevice): void {
  idev.ictx.objectDestroyUser(idev.obj);
}

/** `iommufd_ctx_has_group`: a device of `group` is bound to the context. */
export function iommufdCtxHasGroup(ictx: IommufdCtx, group: IommuGroup): boolean {
  for (const obj of ictx.objects.values()) if (obj.type === 'device' && (obj.impl as IommufdDevice).igroup.group === group) return true;
  return false;
}

/**
 * Reserve the device's regions in the HWPT's IOAS (EADDRINUSE on a mapping or an allowed range;
 * EINVAL for an impossible MSI combination); the group's first device also sets up the software
 * MSI window in the domain.
 * @see drivers/iommu/iommufd/device.c:iommufd_device_attach_reserved_iova, iommufd_group_setup_msi
 */
function iommufdDeviceAttachReservedIova(idev: IommufdDevice, hwptPaging: IommufdHwptPaging): void {
  const iopt = hwptPaging.ioas.iopt;
  const regions = iommuCore(idev.ictx).deviceResvRegions(idev.dev);
  const swMsi = iopt.tableEnforceDevResvRegions(regions, idev.dev, true);
  if (swMsi !== undefined) idev.igroup.swMsiStart = swMsi;
  if (idev.igroup.deviceList.length === 0) {
    try {
      iommufdGroupSetupMsi(idev.igroup, hwptPaging);
    } catch (e) {
      iopt.removeReservedIova(idev.dev);
      throw e;
    }
  }
}

/**
 * `iommu_get_msi_cookie` once per domain when the driver has a software MSI window.
 * @see drivers/iommu/iommufd/device.c:iommufd_group_setup_msi
 */
function iommufdGroupSetupMsi(igroup: IommufdGroup, hwptPaging: IommufdHwptPaging): void {
  if (igroup.swMsiStart !== NO_SW_MSI && !hwptPaging.msiCookie) {
    igroup.ictx.alloc();
    hwptPaging.msiCookie = true;
  }
}

/** The device is on its group's device list (attached). */
const iommufdDeviceIsAttached = (idev: IommufdDevice): boolean => idev.igroup.deviceList.includes(idev);

/**
 * The group's first device attaches the group to the HWPT's domain (with IOPF enabled for a
 * fault-capable HWPT).
 * @see drivers/iommu/iommufd/device.c:iommufd_hwpt_attach_device
 */
function iommufdHwptAttachDevice(hwpt: IommufdHwPagetable, idev: IommufdDevice): void {
  idev.ictx.alloc(); // the attach handle
  if (hwpt.fault) iommufdFaultIopfEnable(idev);
  try {
    iommuCore(idev.ictx).attachGroup(hwpt.domain, idev.igroup.group);
  } catch (e) {
    if (hwpt.fault) iommufdFaultIopfDisable(idev);
    throw e;
  }
  idev.igroup.handleIdev = idev;
}

/** @see drivers/iommu/iommufd/device.c:iommufd_hwpt_detach_device */
function iommufdHwptDetachDevice(hwpt: IommufdHwPagetable, idev: IommufdDevice): void {
  const handle = idev.igroup.handleIdev;
  iommuCore(idev.ictx).detachGroup(hwpt.domain, idev.igroup.group);
  if (hwpt.fault) {
    hwpt.fault.autoRespond(handle?.obj.id);
    iommufdFaultIopfDisable(idev);
  }
  idev.igroup.handleIdev = undefined;
}

/** @see drivers/iommu/iommufd/device.c:iommufd_hwpt_replace_device */
function iommufdHwptReplaceDevice(idev: IommufdDevice, hwpt: IommufdHwPagetable, old: IommufdHwPagetable): void {
  const oldHandle = idev.igroup.handleIdev;
  idev.ictx.alloc();
  const on = hwpt.fault && !old.fault;
  if (on) iommufdFaultIopfEnable(idev);
  try {
    iommuCore(idev.ictx).replaceDomain(idev.igroup.group, hwpt.domain);
  } catch (e) {
    if (on) iommufdFaultIopfDisable(idev);
    throw e;
  }
  if (old.fault) {
    old.fault.autoRespond(oldHandle?.obj.id);
    if (!hwpt.fault) iommufdFaultIopfDisable(idev);
  }
  idev.igroup.handleIdev = idev;
}

/**
 * `IOMMU_DEV_FEAT_IOPF` counted per device.
 * @see drivers/iommu/iommufd/fault.c:iommufd_fault_iopf_enable
 * @note emulation: there are no SR-IOV VFs (the kernel refuses them EINVAL), and enabling the
 * feature cannot fail in the driver.
 */
function iommufdFaultIopfEnable(idev: IommufdDevice): void {
  idev.iopfEnabled++;
}

function iommufdFaultIopfDisable(idev: IommufdDevice): void {
  if (idev.iopfEnabled > 0) idev.iopfEnabled--;
}

/**
 * Attach to `hwpt`: the group may be on one HWPT only (EINVAL for another); paging HWPTs get the
 * device's reserved regions first.
 * @see drivers/iommu/iommufd/device.c:iommufd_hw_pagetable_attach
 */
export function iommufdHwPagetableAttach(hwpt: IommufdHwPagetable, idev: IommufdDevice): void {
  const hwptPaging = findHwptPaging(hwpt);
  const igroup = idev.igroup;
  if (igroup.hwpt !== undefined && igroup.hwpt !== hwpt) throw kerr('EINVAL');
  if (hwptPaging) iommufdDeviceAttachReservedIova(idev, hwptPaging);
  try {
    if (igroup.deviceList.length === 0) {
      iommufdHwptAttachDevice(hwpt, idev);
      igroup.hwpt = hwpt;
    }
  } catch (e) {
    if (hwptPaging) hwptPaging.ioas.iopt.removeReservedIova(idev.dev);
    throw e;
  }
  idev.ictx.refObject(hwpt.obj);
  igroup.deviceList.push(idev);
}

/** @see drivers/iommu/iommufd/device.c:iommufd_hw_pagetable_detach — the caller puts the HWPT. */
export function iommufdHwPagetableDetach(idev: IommufdDevice): IommufdHwPagetable {
  const igroup = idev.igroup;
  const hwpt = igroup.hwpt!;
  const hwptPaging = findHwptPaging(hwpt);
  igroup.deviceList.splice(igroup.deviceList.indexOf(idev), 1);
  if (igroup.deviceList.length === 0) {
    iommufdHwptDetachDevice(hwpt, idev);
    igroup.hwpt = undefined;
  }
  if (hwptPaging) hwptPaging.ioas.iopt.removeReservedIova(idev.dev);
  return hwpt;
}

type AttachFn = (idev: IommufdDevice, hwpt: IommufdHwPagetable) => IommufdHwPagetable | undefined;

const iommufdDeviceDoAttach: AttachFn = (idev, hwpt) => {
  iommufdHwPagetableAttach(hwpt, idev);
  return undefined;
};

function iommufdGroupRemoveReservedIova(igroup: IommufdGroup, hwptPaging: IommufdHwptPaging): void {
  for (const cur of igroup.deviceList) hwptPaging.ioas.iopt.removeReservedIova(cur.dev);
}

/** @see drivers/iommu/iommufd/device.c:iommufd_group_do_replace_reserved_iova */
function iommufdGroupDoReplaceReservedIova(igroup: IommufdGroup, hwptPaging: IommufdHwptPaging): void {
  const old = findHwptPaging(igroup.hwpt!);
  const regions = (d: PciDevice) => iommuCore(igroup.ictx).deviceResvRegions(d);
  try {
    if (!old || hwptPaging.ioas !== old.ioas)
      for (const cur of igroup.deviceList) hwptPaging.ioas.iopt.tableEnforceDevResvRegions(regions(cur.dev), cur.dev, false);
    iommufdGroupSetupMsi(igroup, hwptPaging);
  } catch (e) {
    iommufdGroupRemoveReservedIova(igroup, hwptPaging);
    throw e;
  }
}

/**
 * Move the group from its HWPT to `hwpt` without a gap: EINVAL unless this device is attached;
 * the same HWPT is a no-op. The device list's references move to the new HWPT; the old one is
 * returned for the caller to put.
 * @see drivers/iommu/iommufd/device.c:iommufd_device_do_replace
 */
const iommufdDeviceDoReplace: AttachFn = (idev, hwpt) => {
  const igroup = idev.igroup;
  const hwptPaging = findHwptPaging(hwpt);
  if (igroup.hwpt === undefined) throw kerr('EINVAL');
  if (!iommufdDeviceIsAttached(idev)) throw kerr('EINVAL');
  if (hwpt === igroup.hwpt) return undefined;
  const oldHwpt = igroup.hwpt;
  if (hwptPaging) iommufdGroupDoReplaceReservedIova(igroup, hwptPaging);
  try {
    iommufdHwptReplaceDevice(idev, hwpt, oldHwpt);
  } catch (e) {
    if (hwptPaging) iommufdGroupRemoveReservedIova(igroup, hwptPaging);
    throw e;
  }
  const oldPaging = findHwptPaging(oldHwpt);
  if (oldPaging && (!hwptPaging || hwptPaging.ioas !== oldPaging.ioas)) iommufdGroupRemoveReservedIova(igroup, oldPaging);
  igroup.hwpt = hwpt;
  const n = igroup.deviceList.length;
  hwpt.obj.users += n;
  if (n > 1) oldHwpt.obj.users -= n - 1;
  return oldHwpt;
};

/**
 * Automatic domains: reuse an automatic HWPT of the IOAS that the device accepts (EINVAL from
 * the driver means "try the next"), else allocate one, attaching as part of the allocation.
 * @see drivers/iommu/iommufd/device.c:iommufd_device_auto_get_domain
 */
function iommufdDeviceAutoGetDomain(idev: IommufdDevice, ioas: IommufdIoas, ptId: { id: number }, doAttach: AttachFn): IommufdHwPagetable | undefined {
  const immediate = doAttach === iommufdDeviceDoAttach;
  const ictx = idev.ictx;
  for (const hp of ioas.hwptList as IommufdHwptPaging[]) {
    if (!hp.autoDomain) continue;
    if (!ictx.lockObj(hp.obj)) continue;
    let destroy: IommufdHwPagetable | undefined;
    try {
      destroy = doAttach(idev, hp);
    } catch (e) {
      ictx.putObject(hp.obj);
      if ((e as { code?: string }).code === 'EINVAL') continue;
      throw e;
    }
    ptId.id = hp.obj.id;
    ictx.putObject(hp.obj);
    return destroy;
  }
  const hp = iommufdHwptPagingAlloc(ictx, ioas, idev, 0, immediate, undefined);
  let destroy: IommufdHwPagetable | undefined;
  if (!immediate) {
    try {
      destroy = doAttach(idev, hp);
    } catch (e) {
      ictx.objectAbortAndDestroy(hp.obj);
      throw e;
    }
  }
  hp.autoDomain = true;
  ptId.id = hp.obj.id;
  ictx.objectFinalize(hp.obj);
  return destroy;
}

/** @see drivers/iommu/iommufd/device.c:iommufd_device_change_pt */
function iommufdDeviceChangePt(idev: IommufdDevice, ptId: { id: number }, doAttach: AttachFn): void {
  const ictx = idev.ictx;
  const ptObj = ictx.getObject(ptId.id, 'any');
  let destroy: IommufdHwPagetable | undefined;
  try {
    switch (ptObj.type) {
      case 'hwpt_nested':
      case 'hwpt_paging':
        destroy = doAttach(idev, ptObj.impl as IommufdHwPagetable);
        break;
      case 'ioas':
        destroy = iommufdDeviceAutoGetDomain(idev, ptObj.impl as IommufdIoas, ptId, doAttach);
        break;
      default:
        throw kerr('EINVAL');
    }
  } finally {
    ictx.putObject(ptObj);
  }
  if (destroy) iommufdHwPagetablePut(ictx, destroy);
}

/**
 * Attach to an IOAS (an automatic HWPT) or a HWPT; `ptId.id` comes back as the HWPT's id.
 * @see drivers/iommu/iommufd/device.c:iommufd_device_attach
 */
export function iommufdDeviceAttach(idev: IommufdDevice, ptId: { id: number }): void {
  iommufdDeviceChangePt(idev, ptId, iommufdDeviceDoAttach);
  idev.ictx.refObject(idev.obj);
}

/** @see drivers/iommu/iommufd/device.c:iommufd_device_replace */
export function iommufdDeviceReplace(idev: IommufdDevice, ptId: { id: number }): void {
  iommufdDeviceChangePt(idev, ptId, iommufdDeviceDoReplace);
}

/** Back to blocked DMA. @see drivers/iommu/iommufd/device.c:iommufd_device_detach */
export function iommufdDeviceDetach(idev: IommufdDevice): void {
  const hwpt = iommufdHwPagetableDetach(idev);
  iommufdHwPagetablePut(idev.ictx, hwpt);
  idev.ictx.unrefObject(idev.obj);
}

// ---- in-kernel accesses -----------------------------------------------------------------

/** `struct iommufd_access_ops` */
export interface IommufdAccessOps {
  readonly needsPinPages: boolean;
  unmap(iova: bigint, length: bigint): void;
}

/** @see drivers/iommu/iommufd/iommufd_private.h:struct iommufd_access */
export class IommufdAccess implements IoasAccess {
  ioas: IommufdIoas | undefined;
  ioasUnpin: IommufdIoas | undefined;
  readonly iovaAlignment: bigint;

  constructor(
    readonly obj: IommufdObject<IommufdAccess>,
    readonly ictx: IommufdCtx,
    readonly ops: IommufdAccessOps,
  ) {
    this.iovaAlignment = ops.needsPinPages ? PAGE_SIZE : 1n;
  }

  unmap(iova: bigint, length: bigint): void {
    this.ops.unmap(iova, length);
  }
}

/**
 * Move the access to `newIoas` (or off any): the new IOAS must accept its alignment; the old one
 * is told to drop every pin first.
 * @see drivers/iommu/iommufd/device.c:iommufd_access_change_ioas
 */
function iommufdAccessChangeIoas(access: IommufdAccess, newIoas: IommufdIoas | undefined): void {
  const cur = access.ioas;
  if (cur !== access.ioasUnpin) throw kerr('EBUSY');
  if (cur === newIoas) return;
  access.ioas = undefined;
  if (newIoas) {
    try {
      newIoas.iopt.addAccess(access);
    } catch (e) {
      access.ioas = cur;
      throw e;
    }
    access.ictx.refObject(newIoas.obj);
  }
  if (cur) {
    access.ops.unmap(0n, ULONG_MAX);
    cur.iopt.removeAccess(access);
    access.ictx.unrefObject(cur.obj);
  }
  access.ioas = newIoas;
  access.ioasUnpin = newIoas;
}

function iommufdAccessChangeIoasId(access: IommufdAccess, id: number): void {
  const obj = iommufdGetIoas(access.ictx, id);
  try {
    iommufdAccessChangeIoas(access, obj.impl);
  } finally {
    access.ictx.putObject(obj);
  }
}

/**
 * A new access (finalized at once; the caller holds it until iommufdAccessDestroy), holding the
 * context.
 * @see drivers/iommu/iommufd/device.c:iommufd_access_create
 */
export function iommufdAccessCreate(ictx: IommufdCtx, ops: IommufdAccessOps): IommufdAccess {
  const obj = ictx.objectAlloc<IommufdAccess>('access');
  const access = new IommufdAccess(obj, ictx, ops);
  obj.impl = access;
  obj.ops = {
    destroy: () => {
      if (access.ioas) iommufdAccessChangeIoas(access, undefined);
      ictx.put();
    },
  };
  ictx.refObject(obj);
  ictx.get();
  ictx.objectFinalize(obj);
  return access;
}

/** @see drivers/iommu/iommufd/device.c:iommufd_access_destroy */
export function iommufdAccessDestroy(access: IommufdAccess): void {
  access.ictx.objectDestroyUser(access.obj);
}

/** @see drivers/iommu/iommufd/device.c:iommufd_access_attach */
export function iommufdAccessAttach(access: IommufdAccess, ioasId: number): void {
  if (access.ioas) throw kerr('EINVAL');
  iommufdAccessChangeIoasId(access, ioasId);
}

/** ENOENT when not attached. @see drivers/iommu/iommufd/device.c:iommufd_access_replace */
export function iommufdAccessReplace(access: IommufdAccess, ioasId: number): void {
  if (!access.ioas) throw kerr('ENOENT');
  iommufdAccessChangeIoasId(access, ioasId);
}

/** An area's byte offset inside its pages of `iova`. */
const areaStartByte = (area: { start: bigint; startByte: bigint }, iova: bigint): bigint => area.startByte + (iova - area.start);

/**
 * Release pins taken by iommufdAccessPinPages over exactly [iova, iova+length).
 * @see drivers/iommu/iommufd/device.c:iommufd_access_unpin_pages
 */
export function iommufdAccessUnpinPages(access: IommufdAccess, iova: bigint, length: bigint): void {
  if (!length) return;
  const lastIova = iova + length - 1n;
  const ioas = access.ioasUnpin;
  if (!ioas) return;
  ioas.iopt.forEachContigArea(iova, lastIova, (area, cur) => {
    const last = lastIova < area.last ? lastIova : area.last;
    area.numAccesses--;
    ioptPagesRemoveAccess(area.pages, areaStartByte(area, cur) / PAGE_SIZE, areaStartByte(area, last) / PAGE_SIZE);
  });
}

/**
 * The pages under [iova, iova+length), pinned for the access: the length must not be 0
 * (EINVAL) or wrap (EOVERFLOW); attached (ENOENT); each area page aligned and not being unmapped
 * (EINVAL), permitting the access (EPERM); no gap (ENOENT). All or nothing.
 * @see drivers/iommu/iommufd/device.c:iommufd_access_pin_pages
 */
export function iommufdAccessPinPages(access: IommufdAccess, iova: bigint, length: bigint, flags: number): Uint8Array[] {
  if (access.iovaAlignment !== PAGE_SIZE) throw kerr('EINVAL');
  if (!length) throw kerr('EINVAL');
  const lastIova = iova + length - 1n;
  if (lastIova > ULONG_MAX) throw kerr('EOVERFLOW');
  const ioas = access.ioas;
  if (!ioas) throw kerr('ENOENT');
  const out: Uint8Array[] = [];
  const done: [typeof ioas.iopt.areas[number], bigint, bigint][] = [];
  const write = (flags & IOMMUFD_ACCESS_RW_WRITE) !== 0;
  try {
    const complete = ioas.iopt.forEachContigArea(iova, lastIova, (area, cur) => {
      const last = lastIova < area.last ? lastIova : area.last;
      const aligned = areaStartByte(area, cur) % PAGE_SIZE === 0n && (last >= lastIova || areaStartByte(area, area.last) % PAGE_SIZE === PAGE_SIZE - 1n);
      if (area.preventAccess || !aligned) throw kerr('EINVAL');
      if (!(area.iommuProt & (write ? 2 : 1))) throw kerr('EPERM');
      const first = areaStartByte(area, cur) / PAGE_SIZE;
      const lastIdx = areaStartByte(area, last) / PAGE_SIZE;
      out.push(...ioptPagesAddAccess(area.pages, first, lastIdx, write));
      area.numAccesses++;
      done.push([area, first, lastIdx]);
    });
    if (!complete) throw kerr('ENOENT');
  } catch (e) {
    for (const [area, first, lastIdx] of done) {
      area.numAccesses--;
      ioptPagesRemoveAccess(area.pages, first, lastIdx);
    }
    throw e;
  }
  return out;
}

/**
 * Copy `data` to or from [iova, iova+length) of the access's IOAS, through the pages of each
 * area (the owning process's live memory): EINVAL for length 0 or an area being unmapped,
 * EOVERFLOW, ENOENT unattached or for a gap, EPERM against the area's protection.
 * @see drivers/iommu/iommufd/device.c:iommufd_access_rw
 */
export function iommufdAccessRw(access: IommufdAccess, iova: bigint, data: Uint8Array, flags: number): void {
  if (!data.length) throw kerr('EINVAL');
  const lastIova = iova + BigInt(data.length) - 1n;
  if (lastIova > ULONG_MAX) throw kerr('EOVERFLOW');
  const ioas = access.ioas;
  if (!ioas) throw kerr('ENOENT');
  const write = (flags & IOMMUFD_ACCESS_RW_WRITE) !== 0;
  let at = 0;
  const complete = ioas.iopt.forEachContigArea(iova, lastIova, (area, cur) => {
    const last = lastIova < area.last ? lastIova : area.last;
    const n = Number(last - cur + 1n);
    if (area.preventAccess) throw kerr('EINVAL');
    if (!(area.iommuProt & (write ? 2 : 1))) throw kerr('EPERM');
    ioptPagesRwAccess(area.pages, areaStartByte(area, cur), data.subarray(at, at + n), flags, access.ictx.current());
    at += n;
  });
  if (!complete) throw kerr('ENOENT');
}

// ---- IOMMU_GET_HW_INFO --------------------------------------------------------------------

/**
 * IOMMU_GET_HW_INFO: unknown flags or reserved bytes → EOPNOTSUPP; the device (ENOENT); the
 * driver's data copied into `data_uptr` as far as `data_len` reaches and zero-filled past it
 * (EFAULT), `data_len` rewritten to the driver's length; dirty-tracking capability.
 * @see drivers/iommu/iommufd/device.c:iommufd_get_hw_info
 * @note emulation: only the selftest mock has hw_info; VT-d and SMMUv3 register values are not
 * modelled, so their devices report IOMMU_HW_INFO_TYPE_NONE. The requested-type form
 * (IOMMU_HW_INFO_FLAG_INPUT_TYPE, 6.17) follows the selftest's expectations (UNVERIFIED against
 * that release's source).
 */
export function iommufdGetHwInfo(ucmd: IommufdUcmd<typeof iommu_hw_info>): number {
  const { cmd, ictx } = ucmd;
  const inputType = ictx.profile.has('iommufd_hw_queue') ? IOMMU_HW_INFO_FLAG_INPUT_TYPE : 0;
  const pasidField = ictx.profile.has('iommufd_hw_info_pasid');
  if (cmd.flags & ~inputType || cmd.__reserved.some((b) => b !== 0) || (!pasidField && cmd.out_max_pasid_log2)) throw kerr('EOPNOTSUPP');
  const want = cmd.flags & IOMMU_HW_INFO_FLAG_INPUT_TYPE ? cmd.in_data_type : IOMMU_HW_INFO_TYPE_DEFAULT;
  const obj = ictx.getObject<IommufdDevice>(cmd.dev_id, 'device');
  try {
    const idev = obj.impl;
    const core = iommuCore(ictx);
    const ops = core.deviceOps(idev.dev);
    let data = new Uint8Array(0);
    if (ops.hwInfo) {
      ictx.alloc();
      const info = ops.hwInfo(idev.dev);
      if (want !== IOMMU_HW_INFO_TYPE_DEFAULT && want !== info.type) throw kerr('EOPNOTSUPP');
      cmd.out_data_type = info.type;
      data = new Uint8Array(info.data);
    } else {
      if (want !== IOMMU_HW_INFO_TYPE_DEFAULT) throw kerr('EOPNOTSUPP');
      cmd.out_data_type = IOMMU_HW_INFO_TYPE_NONE;
    }
    const copyLen = Math.min(cmd.data_len, data.length);
    copyToUser(ucmd.mem, cmd.data_uptr, data.subarray(0, copyLen));
    if (copyLen < cmd.data_len) copyToUser(ucmd.mem, cmd.data_uptr + BigInt(copyLen), new Uint8Array(cmd.data_len - copyLen));
    cmd.data_len = data.length;
    cmd.out_capabilities = 0n;
    if (core.capable(idev.dev, 'IOMMU_CAP_DIRTY_TRACKING')) cmd.out_capabilities |= BigInt(IOMMU_HW_CAP_DIRTY_TRACKING);
    cmd.out_max_pasid_log2 = 0;
    ucmd.respond();
    return 0;
  } finally {
    ictx.putObject(obj);
  }
}
