// SPDX-License-Identifier: GPL-2.0-only
/**
 * The per-device character device `/dev/vfio/devices/vfioN` (CONFIG_VFIO_DEVICE_CDEV, which
 * needs CONFIG_IOMMUFD): it opens; every ioctl, read, write and mmap but VFIO_DEVICE_BIND_IOMMUFD
 * is EINVAL until the fd is bound to an iommufd. Binding opens the device on the iommufd (an
 * iommufd device: the group's DMA is the context's now; out_devid is its object id); then
 * VFIO_DEVICE_ATTACH_IOMMUFD_PT attaches it to an IOAS or HWPT (the device's reserved regions are
 * enforced in the IOAS) and DETACH puts it back to blocked DMA. A bound cdev and the legacy group
 * exclude each other: the group cannot be opened while a cdev is bound, nor a cdev bound while
 * the group is open (EBUSY).
 * @see drivers/vfio/device_cdev.c, drivers/vfio/vfio_main.c:vfio_device_fops_unl_ioctl
 */
import * as path from 'node:path';
import { copyFromUser, copyStructFromUser, getUser, offsetofend, putUser, u32, vfioArgszFromUser } from '../abi';
import type { SysfsProvider } from '../host';
import { kerr } from '../errno';
import { iommufdCtxFromFd } from '../iommufd/main';
import type { Task } from '../task/sched';
import {
  VFIO_DEVICE_BIND_FLAG_TOKEN,
  vfio_device_attach_iommufd_pt,
  vfio_device_bind_iommufd,
  vfio_device_detach_iommufd_pt,
} from '../uapi';
import { vfioDeviceBlockGroup, vfioDeviceUnblockGroup } from './group';
import { vfioDfIommufdBind, vfioIommufdPhysicalAttachIoas, vfioIommufdPhysicalDetachIoas } from './iommufd';
import type { VfioDevice, VfioDeviceFile, VfioState } from './vfio_main';
import { vfioDeviceCdevFops, vfioDfClose, vfioDfOpen } from './vfio_main';

/** The chrdev region `vfio-dev` is allocated dynamically; 511 is what the kernel's doc shows. */
export const VFIO_DEV_MAJOR = 511;

/**
 * VFIO_DEVICE_BIND_IOMMUFD, in the kernel's order: the struct (argsz protocol; since the VF-token
 * patch copy_struct_from_user with E2BIG), flags and a negative fd → EINVAL; a group device fd →
 * EINVAL; the group open → EBUSY; already bound → EINVAL; a token (read, then refused: no
 * PF/VF here); the iommufd (EBADF, EBADFD); opening the device (binding it: EINVAL, EPERM,
 * EBUSY…); out_devid written back (EFAULT).
 * @see drivers/vfio/device_cdev.c:vfio_df_ioctl_bind_iommufd, vfio_df_check_token
 * @see drivers/vfio/pci/vfio_pci_core.c:vfio_pci_core_match_token_uuid
 */
export function vfioDfIoctlBindIommufd(df: VfioDeviceFile, arg: bigint, current: Task): number {
  const st = df.device.st;
  const mem = current.mm;
  const token = st.kernel.has('vfio_bind_token');
  let bind: { flags: number; iommufd: number; token_uuid_ptr: bigint };
  if (token) {
    const userSize = getUser(mem, u32, arg);
    if (userSize < offsetofend(vfio_device_bind_iommufd, 'out_devid')) throw kerr('EINVAL');
    // v6.17–v6.18 passed minsz as the kernel size, so any non-zero byte past out_devid (the
    // token pointer) is E2BIG there. @see 2f03f21fe751 (the fix)
    const ksize = st.kernel.has('vfio_bind_minsz_copy') ? offsetofend(vfio_device_bind_iommufd, 'out_devid') : undefined;
    bind = copyStructFromUser(mem, vfio_device_bind_iommufd, arg, userSize, ksize);
    if (bind.iommufd < 0 || bind.flags & ~VFIO_DEVICE_BIND_FLAG_TOKEN) throw kerr('EINVAL');
  } else {
    bind = vfioArgszFromUser(mem, vfio_device_bind_iommufd, arg, 'out_devid').value;
    if (bind.flags || bind.iommufd < 0) throw kerr('EINVAL');
  }
  if (df.group) throw kerr('EINVAL');
  const device = df.device;
  vfioDeviceBlockGroup(device);
  try {
    if (df.accessGranted) throw kerr('EINVAL');
    if (token && bind.flags & VFIO_DEVICE_BIND_FLAG_TOKEN) {
      copyFromUser(mem, bind.token_uuid_ptr, 16);
      // Neither a PF nor a VF: a token is "incorrectly provided".
      throw kerr('EINVAL');
    }
    df.iommufd = iommufdCtxFromFd(current, bind.iommufd);
    try {
      vfioDfOpen(df, () => vfioDfIommufdBind(df, current));
      try {
        putUser(mem, u32, arg + BigInt(offsetofend(vfio_device_bind_iommufd, 'iommufd')), df.devid ?? 0);
      } catch (e) {
        vfioDfClose(df);
        throw e;
      }
    } catch (e) {
      df.iommufd.put();
      df.iommufd = undefined;
      throw e;
    }
  } catch (e) {
    vfioDeviceUnblockGroup(device);
    throw e;
  }
  device.cdevOpened = true;
  df.accessGranted = true;
  return 0;
}

/** The cdev fd's release: close the device, let go of the iommufd and the group. @see device_cdev.c:vfio_df_unbind_iommufd */
export function vfioDfUnbindIommufd(df: VfioDeviceFile): void {
  if (!df.accessGranted) return;
  const ictx = df.iommufd!;
  vfioDfClose(df);
  df.iommufd = undefined;
  ictx.put();
  df.device.cdevOpened = false;
  vfioDeviceUnblockGroup(df.device);
}

/**
 * VFIO_DEVICE_ATTACH_IOMMUFD_PT: argsz below `pt_id`'s end or any flag → EINVAL; attach (or
 * replace) to `pt_id`, which comes back as the HWPT id (EFAULT detaches again).
 * @see drivers/vfio/device_cdev.c:vfio_df_ioctl_attach_pt
 * @note emulation: the PASID form (VFIO_DEVICE_ATTACH_PASID, later kernels) is not modelled:
 * its flag is EINVAL as on 6.12.
 */
export function vfioDfIoctlAttachPt(df: VfioDeviceFile, arg: bigint, current: Task): number {
  const minsz = offsetofend(vfio_device_attach_iommufd_pt, 'pt_id');
  const attach = vfioArgszFromUser(current.mm, vfio_device_attach_iommufd_pt, arg, 'pt_id').value;
  if (attach.flags) throw kerr('EINVAL');
  const ptId = { id: attach.pt_id };
  vfioIommufdPhysicalAttachIoas(df.device, ptId, current);
  try {
    putUser(current.mm, u32, arg + BigInt(minsz - 4), ptId.id);
  } catch (e) {
    vfioIommufdPhysicalDetachIoas(df.device, current);
    throw e;
  }
  return 0;
}

/**
 * VFIO_DEVICE_DETACH_IOMMUFD_PT: argsz below `flags`' end or any flag → EINVAL; back to blocked
 * DMA (a device not attached stays as it is).
 * @see drivers/vfio/device_cdev.c:vfio_df_ioctl_detach_pt
 */
export function vfioDfIoctlDetachPt(df: VfioDeviceFile, arg: bigint, current: Task): number {
  const detach = vfioArgszFromUser(current.mm, vfio_device_detach_iommufd_pt, arg, 'flags').value;
  if (detach.flags) throw kerr('EINVAL');
  vfioIommufdPhysicalDetachIoas(df.device, current);
  return 0;
}

/** The cdev's open: an unbound device file. @see drivers/vfio/device_cdev.c:vfio_device_fops_cdev_open */
export function vfioDeviceFopsCdevOpen(_ctx: unknown, data: unknown): VfioDeviceFile {
  const device = data as VfioDevice;
  if (device.gone) throw kerr('ENODEV');
  return { device, group: null, accessGranted: false };
}

/**
 * A registered device gets `vfio<N>` (the lowest free N, sysfs `vfio-dev/vfioN`) and, with the
 * cdev built and an IOMMU (no-IOMMU devices get none), its node /dev/vfio/devices/vfioN (0600,
 * like the kernel's devnode).
 * @see drivers/vfio/vfio_main.c:vfio_init_device, drivers/vfio/vfio.h:vfio_device_add
 */
export function vfioDeviceCdevAdd(st: VfioState, vdev: VfioDevice, node: boolean): void {
  const index = st.deviceIda.alloc();
  vdev.pdev.vfioDevIndex = index;
  if (!node) return;
  vdev.cdevDel = st.k.chrdevs.register({
    path: `/dev/vfio/devices/vfio${index}`,
    mode: 0o600,
    major: VFIO_DEV_MAJOR,
    minor: index,
    fops: vfioDeviceCdevFops,
    data: vdev,
  });
}

/**
 * The class device's attributes under `<pci dev>/vfio-dev/vfioN`: `dev`, `uevent` and the
 * `device` / `subsystem` links. Only a device with the cdev gets a dev_t (the cdev built, not a
 * no-IOMMU device), so only it has `dev` and the MAJOR/MINOR/DEVNAME lines of `uevent`.
 * @see drivers/base/core.c:dev_show, dev_uevent, device_add_class_symlinks
 * @see drivers/vfio/vfio.h:vfio_device_add, drivers/vfio/device_cdev.c:vfio_init_device_cdev
 */
export function vfioDeviceCdevSysfs(st: VfioState, tree: Parameters<SysfsProvider>[0]): void {
  const relLink = (p: string, target: string) => path.posix.relative(path.posix.dirname(p), target);
  for (const d of st.k.host.devices) {
    if (d.vfioDevIndex === undefined) continue;
    const dir = `${d.sysfsPath}/vfio-dev/vfio${d.vfioDevIndex}`;
    const devt = st.devices.get(d)?.cdevDel !== undefined;
    if (devt) tree.set(`${dir}/dev`, { kind: 'file', attr: { name: 'dev', mode: 0o444, show: () => `${VFIO_DEV_MAJOR}:${d.vfioDevIndex}\n` } });
    tree.set(`${dir}/uevent`, {
      kind: 'file',
      attr: {
        name: 'uevent',
        mode: 0o644,
        show: () => (devt ? `MAJOR=${VFIO_DEV_MAJOR}\nMINOR=${d.vfioDevIndex}\nDEVNAME=vfio/devices/vfio${d.vfioDevIndex}\nDEVMODE=0600\n` : ''),
      },
    });
    tree.set(`${dir}/device`, { kind: 'link', target: relLink(`${dir}/device`, d.sysfsPath) });
    tree.set(`${dir}/subsystem`, { kind: 'link', target: relLink(`${dir}/subsystem`, '/sys/class/vfio-dev') });
  }
}
