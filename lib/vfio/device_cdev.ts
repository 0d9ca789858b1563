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
import * as path from 'node:path';
import type { SysfsProvider } from '../host';
import { kerr } from '../errno';
import type { PciDevice } from '../model/host';
import type { File, FileOperations } from '../task/file_table';
import type { Task } from '../task/sched';
import { VFIO_DEVICE_BIND_FLAG_TOKEN, VFIO_DEVICE_BIND_IOMMUFD, vfio_device_bind_iommufd } from '../uapi';
import type { VfioDevice, VfioState } from './vfio_main';

/** The chrdev region `vfio-dev` is allocated dynamically; 511 is what the kernel's doc shows. */
export const VFIO_DEV_MAJOR = 511;

interface VfioCdevFile {
  readonly device: VfioDevice;
}

/**
 * VFIO_DEVICE_BIND_IOMMUFD on any device fd (`fromGroup`: one from GET_DEVICE_FD, which is
 * refused). Since the VF-token patch the struct is read with copy_struct_from_user (E2BIG for a
 * non-zero tail), FLAG_TOKEN is accepted and the token is read and checked before the iommufd.
 * @see drivers/vfio/device_cdev.c:vfio_df_ioctl_bind_iommufd, vfio_df_check_token
 * @see drivers/vfio/pci/vfio_pci_core.c:vfio_pci_core_match_token_uuid
 */
export function vfioDfIoctlBindIommufd(st: VfioState, pdev: PciDevice, fromGroup: boolean, arg: bigint, current: Task): number {
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
  if (fromGroup) throw kerr('EINVAL');
  // vfio_device_block_group: the legacy group path and the cdev exclude each other.
  const ig = pdev.group;
  if (ig && st.groups.get(ig)?.openedFile) throw kerr('EBUSY');
  if (token && bind.flags & VFIO_DEVICE_BIND_FLAG_TOKEN) {
    copyFromUser(mem, bind.token_uuid_ptr, 16);
    // Neither a PF nor a VF: a token is "incorrectly provided".
    throw kerr('EINVAL');
  }
  // iommufd_ctx_from_fd
  if (!current.files.peek(bind.iommufd)) throw kerr('EBADF');
  throw kerr('EBADFD');
}

export const vfioDeviceCdevFops = {
  name: 'vfio-dev',
  open: (_ctx, data): VfioCdevFile => {
    const device = data as VfioDevice;
    if (device.gone) throw kerr('ENODEV');
    return { device };
  },
  unlockedIoctl: (f: File<VfioCdevFile>, cmd: number, arg: bigint, current: Task) => {
    const { device } = f.privateData;
    if (device.gone) throw kerr('ENODEV');
    if (cmd === VFIO_DEVICE_BIND_IOMMUFD) return vfioDfIoctlBindIommufd(device.st, device.pdev, false, arg, current);
    throw kerr('EINVAL');
  },
} as const satisfies FileOperations<VfioCdevFile>;

/**
 * A registered device gets `vfio<N>` (the lowest free N) and its node /dev/vfio/devices/vfioN
 * (0600, like the kernel's devnode). @see drivers/vfio/vfio_main.c:vfio_init_device, vfio_device_add
 */
export function vfioDeviceCdevAdd(st: VfioState, vdev: VfioDevice): void {
  const index = st.deviceIda.alloc();
  vdev.pdev.vfioDevIndex = index;
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
 * `device` / `subsystem` links. @see drivers/base/core.c:dev_show, dev_uevent, device_add_class_symlinks
 */
export function vfioDeviceCdevSysfs(st: VfioState, tree: Parameters<SysfsProvider>[0]): void {
  const relLink = (p: string, target: string) => path.posix.relative(path.posix.dirname(p), target);
  for (const d of st.k.host.devices) {
    if (d.vfioDevIndex === undefined) continue;
    const dir = `${d.sysfsPath}/vfio-dev/vfio${d.vfioDevIndex}`;
    const dev = `${VFIO_DEV_MAJOR}:${d.vfioDevIndex}`;
    tree.set(`${dir}/dev`, { kind: 'file', attr: { name: 'dev', mode: 0o444, show: () => `${dev}\n` } });
    tree.set(`${dir}/uevent`, {
      kind: 'file',
      attr: { name: 'uevent', mode: 0o644, show: () => `MAJOR=${VFIO_DEV_MAJOR}\nMINOR=${d.vfioDevIndex}\nDEVNAME=vfio/devices/vfio${d.vfioDevIndex}\nDEVMODE=0600\n` },
    });
    tree.set(`${dir}/device`, { kind: 'link', target: relLink(`${dir}/device`, d.sysfsPath) });
    tree.set(`${dir}/subsystem`, { kind: 'link', target: relLink(`${dir}/subsystem`, '/sys/class/vfio-dev') });
  }
}
