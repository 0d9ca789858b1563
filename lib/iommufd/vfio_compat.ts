// SPDX-License-Identifier: GPL-2.0-only
/**
 * drivers/iommu/iommufd/vfio_compat.c (studied at 6.12.117) — the compat IOAS the VFIO
 * container ioctls act on, and IOMMU_VFIO_IOAS that names it.
 */
import { kerr } from '../errno';
import { IOMMU_VFIO_IOAS_CLEAR, IOMMU_VFIO_IOAS_GET, IOMMU_VFIO_IOAS_SET, iommu_vfio_ioas } from '../uapi/iommufd';
import { IommufdIoas, IoasFactoryOptions, iommufdGetIoas, iommufdIoasAlloc } from './ioas';
import type { IommufdCtx, IommufdObject, IommufdUcmd } from './main';

/** A counted reference to the compat IOAS, or ENODEV. @see vfio_compat.c:get_compat_ioas */
export function getCompatIoas(ictx: IommufdCtx): IommufdObject<IommufdIoas> {
  const obj = ictx.vfioIoas as IommufdObject<IommufdIoas> | undefined;
  if (!obj || obj.users === 0) throw kerr('ENODEV');
  obj.users++;
  obj.shorttermUsers++;
  return obj;
}

/**
 * Ensure a compat IOAS exists (VFIO_GROUP_SET_CONTAINER on an iommufd, or the compat
 * container's first group); an IOAS already chosen is kept. Refused in no-iommu mode (EINVAL).
 * @see drivers/iommu/iommufd/vfio_compat.c:iommufd_vfio_compat_ioas_create
 */
export function iommufdVfioCompatIoasCreate(ictx: IommufdCtx, noIommuMode: boolean, opts: IoasFactoryOptions = {}): void {
  const ioas = iommufdIoasAlloc(ictx, opts);
  if (noIommuMode) {
    ictx.objectAbort(ioas.obj);
    throw kerr('EINVAL');
  }
  const cur = ictx.vfioIoas;
  if (cur && cur.users > 0) {
    ictx.objectAbort(ioas.obj);
    return;
  }
  ictx.vfioIoas = ioas.obj;
  ictx.objectFinalize(ioas.obj);
}

/**
 * IOMMU_VFIO_IOAS: GET the compat IOAS id (ENODEV without one), SET it to an IOAS (ENOENT),
 * CLEAR it; another op → EOPNOTSUPP; __reserved → EOPNOTSUPP first.
 * @see drivers/iommu/iommufd/vfio_compat.c:iommufd_vfio_ioas
 */
export function iommufdVfioIoas(ucmd: IommufdUcmd<typeof iommu_vfio_ioas>): number {
  const { cmd, ictx } = ucmd;
  if (cmd.__reserved) throw kerr('EOPNOTSUPP');
  switch (cmd.op) {
    case IOMMU_VFIO_IOAS_GET: {
      const obj = getCompatIoas(ictx);
      cmd.ioas_id = obj.id;
      ictx.putObject(obj);
      ucmd.respond();
      return 0;
    }
    case IOMMU_VFIO_IOAS_SET: {
      const obj = iommufdGetIoas(ictx, cmd.ioas_id);
      ictx.vfioIoas = obj;
      ictx.putObject(obj);
      return 0;
    }
    case IOMMU_VFIO_IOAS_CLEAR:
      ictx.vfioIoas = undefined;
      return 0;
    default:
      throw kerr('EOPNOTSUPP');
  }
}
