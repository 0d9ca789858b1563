// SPDX-License-Identifier: GPL-2.0-only
/**
 * The per-device character device `/dev/vfio/devices/vfioN` (kernels with
 * CONFIG_VFIO_DEVICE_CDEV): it opens, and every ioctl but VFIO_DEVICE_BIND_IOMMUFD is EINVAL
 * until the fd is bound to an iommufd.
 * @see drivers/vfio/device_cdev.c:vfio_device_fops_cdev_open, vfio_df_ioctl_bind_iommufd
 * @see drivers/vfio/vfio_main.c:vfio_device_fops_unl_ioctl (the access_granted gate)
 * @note emulation: there is no iommufd (/dev/iommu) yet, so no fd can be bound: BIND_IOMMUFD
 * fails as the kernel does for an fd that is not an iommufd (EBADFD) or not open (EBADF).
 */
import { copyFromUser, copyStructFromUser, getUser, offsetofend, u32, vfioArgszFromUser } from '../abi';
import { kerr } from '../errno';
import type { DevNode, FileOperations } from '../fs/chardev';
import type { PciDevice } from '../model/host';
import { VFIO_DEVICE_BIND_FLAG_TOKEN, VFIO_DEVICE_BIND_IOMMUFD, vfio_device_bind_iommufd } from '../uapi';
import type { VfioState } from './vfio_main';

/** The chrdev region `vfio-dev` is allocated dynamically; 511 is what the kernel's doc shows. */
export const VFIO_DEV_MAJOR = 511;

interface VfioCdevFile {
  readonly st: VfioState;
  readonly pdev: PciDevice;
}

const gone = (f: VfioCdevFile) => f.pdev.removed || f.pdev.driver !== 'vfio-pci';

/**
 * VFIO_DEVICE_BIND_IOMMUFD on any device fd (`fromGroup`: one from GET_DEVICE_FD, which is
 * refused). Since the VF-token patch the struct is read with copy_struct_from_user (E2BIG for a
 * non-zero tail), FLAG_TOKEN is accepted and the token is read and checked before the iommufd.
 * @see drivers/vfio/device_cdev.c:vfio_df_ioctl_bind_iommufd, vfio_df_check_token
 * @see drivers/vfio/pci/vfio_pci_core.c:vfio_pci_core_match_token_uuid
 */
export function vfioDfIoctlBindIommufd(st: VfioState, pdev: PciDevice, fromGroup: boolean, arg: bigint): number {
  const m = st.m;
  const token = st.kernel.has('vfio_bind_token');
  let bind: { flags: number; iommufd: number; token_uuid_ptr: bigint };
  if (token) {
    const userSize = getUser(m.mem, u32, arg);
    if (userSize < offsetofend(vfio_device_bind_iommufd, 'out_devid')) throw kerr('EINVAL');
    bind = copyStructFromUser(m.mem, vfio_device_bind_iommufd, arg, userSize);
    if (bind.iommufd < 0 || bind.flags & ~VFIO_DEVICE_BIND_FLAG_TOKEN) throw kerr('EINVAL');
  } else {
    bind = vfioArgszFromUser(m.mem, vfio_device_bind_iommufd, arg, 'out_devid').value;
    if (bind.flags || bind.iommufd < 0) throw kerr('EINVAL');
  }
  if (fromGroup) throw kerr('EINVAL');
  // vfio_device_block_group: the legacy group path and the cdev exclude each other.
  const ig = pdev.group;
  if (ig && st.groups.get(ig)?.openedFile) throw kerr('EBUSY');
  if (token && bind.flags & VFIO_DEVICE_BIND_FLAG_TOKEN) {
    copyFromUser(m.mem, bind.token_uuid_ptr, 16);
    // Neither a PF nor a VF: a token is "incorrectly provided".
    throw kerr('EINVAL');
  }
  // iommufd_ctx_from_fd
  if (!m.sys.fds.peek(bind.iommufd)) throw kerr('EBADF');
  throw kerr('EBADFD');
}

export const vfioDeviceCdevFops = {
  name: 'vfio-dev',
  open: (_ctx, data) => {
    const f = data as VfioCdevFile;
    if (gone(f)) throw kerr('ENODEV');
    return f;
  },
  unlockedIoctl: (f, cmd, arg) => {
    if (gone(f)) throw kerr('ENODEV');
    if (cmd === VFIO_DEVICE_BIND_IOMMUFD) return vfioDfIoctlBindIommufd(f.st, f.pdev, false, arg);
    throw kerr('EINVAL');
  },
} as const satisfies FileOperations<VfioCdevFile>;

/** `/dev/vfio/devices/vfio<index>` for every vfio-pci device (0600, like the kernel's devnode). */
export function vfioDeviceCdevNodes(st: VfioState): DevNode[] {
  return st.m.host.devices
    .filter((d) => d.vfioDevIndex !== undefined)
    .map((d) => ({
      path: `/dev/vfio/devices/vfio${d.vfioDevIndex}`,
      mode: 0o600,
      major: VFIO_DEV_MAJOR,
      minor: d.vfioDevIndex!,
      fops: vfioDeviceCdevFops,
      data: { st, pdev: d } satisfies VfioCdevFile,
    }));
}
