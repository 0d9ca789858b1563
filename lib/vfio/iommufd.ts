// SPDX-License-Identifier: GPL-2.0-only
/**
 * drivers/vfio/iommufd.c: VFIO devices on an iommufd — binding a device file's device to the
 * iommufd (its out_devid), attaching it to an IOAS or HWPT and back, and the legacy group path's
 * attach to the iommufd's compat IOAS. Every call runs inside the iommufd context as the calling
 * task.
 * @note emulation: vfio-pci is the only VFIO driver, so the "physical" ops are called directly
 * (the kernel reaches them through vfio_device_ops.bind_iommufd and friends).
 */
import { kerr } from '../errno';
import { iommufdDeviceAttach, iommufdDeviceBind, iommufdDeviceDetach, iommufdDeviceReplace, iommufdDeviceUnbind } from '../iommufd/device';
import type { IommufdCtx } from '../iommufd/main';
import { iommufdVfioCompatIoasGetId } from '../iommufd/vfio_compat';
import type { Task } from '../task/sched';
import type { VfioDevice, VfioDeviceFile } from './vfio_main';

/** No-IOMMU devices open without an iommufd binding. */
const isNoiommu = (vdev: VfioDevice): boolean => vdev.pdev.group?.noiommu === true;

/** @see drivers/vfio/iommufd.c:vfio_iommufd_physical_bind */
function vfioIommufdPhysicalBind(vdev: VfioDevice, ictx: IommufdCtx): number {
  const idev = iommufdDeviceBind(ictx, vdev.pdev);
  vdev.iommufdDevice = idev;
  return idev.obj.id;
}

/** @see drivers/vfio/iommufd.c:vfio_iommufd_physical_unbind */
function vfioIommufdPhysicalUnbind(vdev: VfioDevice): void {
  const idev = vdev.iommufdDevice;
  if (!idev) return;
  if (vdev.iommufdAttached) {
    iommufdDeviceDetach(idev);
    vdev.iommufdAttached = false;
  }
  iommufdDeviceUnbind(idev);
  vdev.iommufdDevice = undefined;
}

/**
 * Attach (or, when attached, replace) to `ptId.id`, an IOAS or a HWPT; it comes back as the HWPT.
 * @see drivers/vfio/iommufd.c:vfio_iommufd_physical_attach_ioas
 */
export function vfioIommufdPhysicalAttachIoas(vdev: VfioDevice, ptId: { id: number }, current: Task): void {
  const idev = vdev.iommufdDevice;
  if (!idev) throw kerr('EINVAL');
  idev.ictx.enter(current, () => {
    if (vdev.iommufdAttached) iommufdDeviceReplace(idev, ptId);
    else iommufdDeviceAttach(idev, ptId);
  });
  vdev.iommufdAttached = true;
}

/** Back to blocked DMA (nothing when not attached). @see drivers/vfio/iommufd.c:vfio_iommufd_physical_detach_ioas */
export function vfioIommufdPhysicalDetachIoas(vdev: VfioDevice, current: Task): void {
  const idev = vdev.iommufdDevice;
  if (!idev || !vdev.iommufdAttached) return;
  idev.ictx.enter(current, () => iommufdDeviceDetach(idev));
  vdev.iommufdAttached = false;
}

/** The device's first open on an iommufd binds it; its id is the file's devid. @see drivers/vfio/iommufd.c:vfio_df_iommufd_bind */
export function vfioDfIommufdBind(df: VfioDeviceFile, current: Task): void {
  const ictx = df.iommufd!;
  if (isNoiommu(df.device)) return;
  df.devid = ictx.enter(current, () => vfioIommufdPhysicalBind(df.device, ictx));
}

/** @see drivers/vfio/iommufd.c:vfio_df_iommufd_unbind */
export function vfioDfIommufdUnbind(df: VfioDeviceFile): void {
  if (isNoiommu(df.device)) return;
  vfioIommufdPhysicalUnbind(df.device);
}

/** The group path: attach to the iommufd's compat IOAS (ENODEV without one). @see drivers/vfio/iommufd.c:vfio_iommufd_compat_attach_ioas */
export function vfioIommufdCompatAttachIoas(vdev: VfioDevice, ictx: IommufdCtx, current: Task): void {
  if (isNoiommu(vdev)) return;
  const id = ictx.enter(current, () => iommufdVfioCompatIoasGetId(ictx));
  vfioIommufdPhysicalAttachIoas(vdev, { id }, current);
}

/** @see drivers/vfio/iommufd.c:vfio_iommufd_device_has_compat_ioas */
export function vfioIommufdDeviceHasCompatIoas(ictx: IommufdCtx): boolean {
  try {
    iommufdVfioCompatIoasGetId(ictx);
    return true;
  } catch {
    return false;
  }
}
