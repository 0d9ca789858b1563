// SPDX-License-Identifier: GPL-2.0-only
/**
 * drivers/vfio/group.c: the group char device `/dev/vfio/<id>` (`noiommu-<id>`): single open,
 * GET_STATUS, SET/UNSET_CONTAINER (a VFIO container, or an iommufd, whose compat IOAS the
 * group's devices then attach to), GET_DEVICE_FD. Studied against v6.6–v6.19.
 */
import { PAGE_SIZE, getUser, s32, strndupUser, vfioArgszFromUser, copyStructToUser } from '../abi';
import { capable } from '../cred';
import { kerr } from '../errno';
import type { IommuGroup } from '../model/host';
import { File, FileOperations, OpenContext, anonInodeGetfile } from '../task/file_table';
import type { Task } from '../task/sched';
import { O_CLOEXEC, O_RDWR } from '../uapi/fcntl';
import {
  VFIO_GROUP_FLAGS_CONTAINER_SET,
  VFIO_GROUP_FLAGS_VIABLE,
  VFIO_GROUP_GET_DEVICE_FD,
  VFIO_GROUP_GET_STATUS,
  VFIO_GROUP_SET_CONTAINER,
  VFIO_GROUP_UNSET_CONTAINER,
  vfio_group_status,
} from '../uapi';
import type { IommufdCtx } from '../iommufd/main';
import { iommufdCtxFromFile } from '../iommufd/main';
import { iommufdVfioCompatIoasCreate, iommufdVfioCompatSetNoIommu } from '../iommufd/vfio_compat';
import { VfioContainer, VfioContainerFile, vfioContainerAttachGroup, vfioFops, vfioGroupDetachContainer, vfioGroupUseContainer } from './container';
import { vfioDfIommufdBind, vfioIommufdCompatAttachIoas, vfioIommufdDeviceHasCompatIoas } from './iommufd';
import type { VfioDevice, VfioDeviceFile, VfioState } from './vfio_main';
import { VFIO_GROUP_MAJOR, vfioDeviceFops, vfioDfClose, vfioDfOpen } from './vfio_main';

/** `enum vfio_group_type` */
export enum VfioGroupType {
  VFIO_IOMMU = 0,
  VFIO_EMULATED_IOMMU = 1,
  VFIO_NO_IOMMU = 2,
}

/** The open file of a group node; device fds hold references to it. */
export interface VfioGroupFile {
  readonly group: VfioGroup;
  refs: number;
}

/** `struct vfio_group` */
export class VfioGroup {
  container: VfioContainer | null = null;
  containerUsers = 0;
  openedFile: VfioGroupFile | null = null;
  /** `group->iommufd`: SET_CONTAINER with an iommufd. */
  iommufd: IommufdCtx | undefined;
  /** `cdev_device_open_cnt`: devices of the group bound through their cdev. */
  cdevDeviceOpenCnt = 0;
  /** Devices registered in the group (`device_list`'s length). */
  deviceCount = 0;
  /** Unregisters the group's /dev/vfio node. */
  private nodeDel: (() => void) | undefined;

  constructor(
    readonly st: VfioState,
    readonly iommuGroup: IommuGroup,
  ) {}

  get id(): number {
    return this.iommuGroup.id;
  }

  get type(): VfioGroupType {
    return this.iommuGroup.noiommu ? VfioGroupType.VFIO_NO_IOMMU : VfioGroupType.VFIO_IOMMU;
  }

  /** `group->iommu_group` is cleared when the last VFIO device of the group goes away. */
  get hasIommuGroup(): boolean {
    return this.st.groupRegistered(this.iommuGroup);
  }

  /** /dev/vfio/<id>, or /dev/vfio/noiommu-<id> for the fake no-IOMMU groups. */
  get devnode(): string {
    return `/dev/vfio/${this.iommuGroup.noiommu ? 'noiommu-' : ''}${this.id}`;
  }

  /** The group's first device registers its node. @see drivers/vfio/group.c:vfio_create_group (cdev_device_add) */
  register(): void {
    if (this.deviceCount++ > 0) return;
    try {
      this.nodeDel = this.st.k.chrdevs.register({
        path: this.devnode,
        mode: 0o600,
        major: VFIO_GROUP_MAJOR,
        minor: this.id,
        fops: vfioGroupFops,
        data: this,
      });
    } catch (e) {
      this.deviceCount--;
      throw e;
    }
  }

  /** The last device going removes the node. @see drivers/vfio/group.c:vfio_device_remove_group */
  unregister(): void {
    if (this.deviceCount === 0 || --this.deviceCount > 0) return;
    this.nodeDel?.();
    this.nodeDel = undefined;
  }
}

export const vfioGroupRegister = (g: VfioGroup): void => g.register();
export const vfioGroupUnregister = (g: VfioGroup): void => g.unregister();

/** @see drivers/vfio/group.c:vfio_group_has_iommu */
export const vfioGroupHasIommu = (g: VfioGroup): boolean => g.container !== null || g.iommufd !== undefined;

/** A cdev binds: refused while the group is open (EBUSY). @see drivers/vfio/group.c:vfio_device_block_group */
export function vfioDeviceBlockGroup(device: VfioDevice): void {
  const ig = device.pdev.group;
  const group = ig ? device.st.groups.get(ig) : undefined;
  if (!group) return;
  if (group.openedFile) throw kerr('EBUSY');
  group.cdevDeviceOpenCnt++;
}

/** @see drivers/vfio/group.c:vfio_device_unblock_group */
export function vfioDeviceUnblockGroup(device: VfioDevice): void {
  const ig = device.pdev.group;
  const group = ig ? device.st.groups.get(ig) : undefined;
  if (group && group.cdevDeviceOpenCnt > 0) group.cdevDeviceOpenCnt--;
}

/** @see drivers/vfio/group.c:vfio_group_fops_open */
function vfioGroupFopsOpen(ctx: OpenContext, data: unknown): VfioGroupFile {
  const group = data as VfioGroup;
  if (!group.hasIommuGroup) throw kerr('ENODEV');
  if (group.type === VfioGroupType.VFIO_NO_IOMMU && !capable(ctx.cred, 'CAP_SYS_RAWIO')) throw kerr('EPERM');
  if (group.cdevDeviceOpenCnt) throw kerr('EBUSY');
  if (group.openedFile) throw kerr('EBUSY');
  const file: VfioGroupFile = { group, refs: 1 };
  group.openedFile = file;
  return file;
}

/** Drops a reference to the group file; the last one runs the release. */
export function vfioGroupFilePut(file: VfioGroupFile): void {
  if (--file.refs > 0) return;
  const group = file.group;
  if (group.container) vfioGroupDetachContainer(group);
  if (group.iommufd) {
    group.iommufd.put();
    group.iommufd = undefined;
  }
  group.openedFile = null;
}

/** @see drivers/vfio/group.c:vfio_group_fops_release */
function vfioGroupFopsRelease(file: File<VfioGroupFile>): void {
  vfioGroupFilePut(file.privateData);
}

/** @see drivers/vfio/group.c:vfio_group_ioctl_get_status */
function vfioGroupIoctlGetStatus(group: VfioGroup, arg: bigint, current: Task): number {
  const mem = current.mm;
  const { value: status, minsz } = vfioArgszFromUser(mem, vfio_group_status, arg, 'flags');
  let flags = 0;
  if (!group.hasIommuGroup) throw kerr('ENODEV');
  if (vfioGroupHasIommu(group)) flags |= VFIO_GROUP_FLAGS_CONTAINER_SET | VFIO_GROUP_FLAGS_VIABLE;
  else if (group.iommuGroup.ownerCnt === 0) flags |= VFIO_GROUP_FLAGS_VIABLE;
  copyStructToUser(mem, vfio_group_status, arg, { ...status, flags }, minsz);
  return 0;
}

/**
 * A VFIO container attaches the group; an iommufd (/dev/iommu, or iommufd's /dev/vfio/vfio)
 * gets a compat IOAS (no-iommu groups: no-iommu mode) and the group keeps the context; any other
 * fd is EBADFD.
 * @see drivers/vfio/group.c:vfio_group_ioctl_set_container
 */
function vfioGroupIoctlSetContainer(group: VfioGroup, arg: bigint, current: Task): number {
  const fd = getUser(current.mm, s32, arg);
  const f = current.files.peek(fd);
  if (!f) throw kerr('EBADF');
  if (vfioGroupHasIommu(group)) throw kerr('EINVAL');
  if (!group.hasIommuGroup) throw kerr('ENODEV');
  if (f.fop === (vfioFops as FileOperations<unknown>)) {
    vfioContainerAttachGroup((f.privateData as VfioContainerFile).container, group, current.cred);
    return 0;
  }
  let ictx: IommufdCtx;
  try {
    ictx = iommufdCtxFromFile(f);
  } catch {
    throw kerr('EBADFD');
  }
  try {
    ictx.enter(current, () => {
      if (group.type === VfioGroupType.VFIO_NO_IOMMU) iommufdVfioCompatSetNoIommu(ictx);
      else iommufdVfioCompatIoasCreate(ictx);
    });
  } catch (e) {
    ictx.put();
    throw e;
  }
  group.iommufd = ictx;
  return 0;
}

/** @see drivers/vfio/group.c:vfio_group_ioctl_unset_container */
function vfioGroupIoctlUnsetContainer(group: VfioGroup): number {
  if (!vfioGroupHasIommu(group)) throw kerr('EINVAL');
  if (group.container) {
    if (group.containerUsers !== 1) throw kerr('EBUSY');
    vfioGroupDetachContainer(group);
  }
  if (group.iommufd) {
    group.iommufd.put();
    group.iommufd = undefined;
  }
  return 0;
}

/**
 * By name: vfio-pci's match (the BDF, optionally followed by ` vf_token=<uuid>`).
 * @see drivers/vfio/group.c:vfio_device_get_from_name
 */
function vfioDeviceGetFromName(group: VfioGroup, buf: string): VfioDevice {
  for (const device of group.st.groupDevices(group)) {
    if (device.ops.match(device, buf) > 0) return device;
  }
  throw kerr('ENODEV');
}

/** @see drivers/vfio/group.c:vfio_group_ioctl_get_device_fd, vfio_device_open_file, vfio_df_group_open */
function vfioGroupIoctlGetDeviceFd(group: VfioGroup, arg: bigint, current: Task): number {
  const buf = strndupUser(current.mm, arg, Number(PAGE_SIZE));
  const device = vfioDeviceGetFromName(group, buf);
  // The fd is reserved before the device opens, so a full table fails with nothing to undo.
  const fd = current.files.getUnusedFdFlags(O_CLOEXEC);
  const df: VfioDeviceFile = { device, group, accessGranted: false };
  try {
    vfioDfGroupOpen(df, current);
  } catch (e) {
    current.files.putUnusedFd(fd);
    throw e;
  }
  current.files.fdInstall(fd, anonInodeGetfile('[vfio-device]', vfioDeviceFops, df, O_RDWR, current.cred));
  return fd;
}

/**
 * Open the device through its group: a container or an iommufd must be set (EINVAL). On an
 * iommufd the first open binds the device and attaches it to the compat IOAS (a no-IOMMU device
 * instead needs CAP_SYS_RAWIO and no compat IOAS: EPERM).
 * @see drivers/vfio/group.c:vfio_df_group_open
 */
function vfioDfGroupOpen(df: VfioDeviceFile, current: Task): void {
  const group = df.group!;
  const device = df.device;
  if (!vfioGroupHasIommu(group)) throw kerr('EINVAL');
  df.iommufd = group.iommufd;
  if (df.iommufd && group.type === VfioGroupType.VFIO_NO_IOMMU && device.openCount === 0) {
    if (!capable(current.cred, 'CAP_SYS_RAWIO') || vfioIommufdDeviceHasCompatIoas(df.iommufd)) {
      df.iommufd = undefined;
      throw kerr('EPERM');
    }
  }
  try {
    if (df.iommufd) {
      vfioDfOpen(df, () => {
        vfioDfIommufdBind(df, current);
        group.openedFile!.refs++;
      });
      if (device.openCount === 1) {
        try {
          vfioIommufdCompatAttachIoas(device, df.iommufd, current);
        } catch (e) {
          vfioDfClose(df);
          throw e;
        }
      }
    } else vfioDfOpen(df, () => vfioDeviceGroupUseIommu(group, current));
  } catch (e) {
    df.iommufd = undefined;
    throw e;
  }
  df.accessGranted = true;
}

/** @see drivers/vfio/group.c:vfio_device_group_use_iommu */
function vfioDeviceGroupUseIommu(group: VfioGroup, current: Task): void {
  if (!group.container) throw kerr('EINVAL');
  vfioGroupUseContainer(group, current.cred);
  group.openedFile!.refs++;
}

/** @see drivers/vfio/group.c:vfio_device_group_unuse_iommu */
export function vfioDeviceGroupUnuseIommu(group: VfioGroup): void {
  group.containerUsers--;
  if (group.openedFile) vfioGroupFilePut(group.openedFile);
}

/** @see drivers/vfio/group.c:vfio_group_fops_unl_ioctl */
const vfioGroupIoctls: Readonly<Record<number, (g: VfioGroup, arg: bigint, current: Task) => number>> = {
  [VFIO_GROUP_GET_DEVICE_FD]: vfioGroupIoctlGetDeviceFd,
  [VFIO_GROUP_GET_STATUS]: vfioGroupIoctlGetStatus,
  [VFIO_GROUP_SET_CONTAINER]: vfioGroupIoctlSetContainer,
  [VFIO_GROUP_UNSET_CONTAINER]: (g) => vfioGroupIoctlUnsetContainer(g),
};

function vfioGroupFopsUnlIoctl(file: File<VfioGroupFile>, cmd: number, arg: bigint, current: Task): number {
  const handler = vfioGroupIoctls[cmd];
  if (!handler) throw kerr('ENOTTY');
  return handler(file.privateData.group, arg, current);
}

export const vfioGroupFops = {
  name: 'vfio-group',
  open: vfioGroupFopsOpen,
  release: vfioGroupFopsRelease,
  unlockedIoctl: vfioGroupFopsUnlIoctl,
} as const satisfies FileOperations<VfioGroupFile>;
