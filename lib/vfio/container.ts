// SPDX-License-Identifier: GPL-2.0-only
/**
 * drivers/vfio/container.c: the container char device `/dev/vfio/vfio`, the IOMMU backend
 * vtable (`struct vfio_iommu_driver_ops`), attaching and detaching groups, and the no-IOMMU
 * backend (`vfio_noiommu_ops`). Studied against v6.6–v6.19.
 */
import { capable } from '../cred';
import type { Credentials } from '../cred';
import { MISC_MAJOR } from '../drivers/char_dev';
import { KernelError, isKernelError, kerr } from '../errno';
import type { File, FileOperations } from '../task/file_table';
import type { Task } from '../task/sched';
import { VFIO_API_VERSION, VFIO_CHECK_EXTENSION, VFIO_GET_API_VERSION, VFIO_NOIOMMU_IOMMU, VFIO_SET_IOMMU } from '../uapi/vfio';
import { VfioGroup, VfioGroupType } from './group';
import { VFIO_MINOR } from './vfio_main';
import type { VfioState } from './vfio_main';

/** `struct vfio_iommu_driver_ops`; `open` and the attach path throw the kernel's errno. */
export interface VfioIommuDriverOps<D> {
  readonly name: string;
  open(st: VfioState, arg: bigint, current: Task): D;
  release(data: D): void;
  /** `data` is null for the CHECK_EXTENSION poll before SET_IOMMU. */
  ioctl(st: VfioState, data: D | null, cmd: number, arg: bigint, current: Task): number;
  attachGroup(data: D, group: VfioGroup): void;
  detachGroup(data: D, group: VfioGroup): void;
}

type AnyDriver = VfioIommuDriverOps<any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** `struct vfio_container` */
export class VfioContainer {
  /** `group_list`: list_add, so the newest group comes first. */
  readonly groups: VfioGroup[] = [];
  iommuDriver: AnyDriver | null = null;
  iommuData: unknown = null;
  noiommu = false;

  constructor(readonly st: VfioState) {}
}

export interface VfioContainerFile {
  readonly container: VfioContainer;
}

/**
 * `vfio_register_iommu_driver`: an IOMMU backend module offers itself to containers; a second
 * backend of the same name is EINVAL, as the kernel refuses a duplicate ops.
 * @see drivers/vfio/container.c:vfio_register_iommu_driver
 */
export function vfioRegisterIommuDriver(st: VfioState, ops: AnyDriver): void {
  if (st.iommuDrivers.some((d) => d === ops || d.name === ops.name)) throw kerr('EINVAL', `VFIO IOMMU driver ${ops.name} is already registered`);
  st.iommuDrivers.unshift(ops);
}

/** @see drivers/vfio/container.c:vfio_iommu_driver_allowed */
const vfioIommuDriverAllowed = (c: VfioContainer, driver: AnyDriver): boolean => c.noiommu === (driver === vfioNoiommuOps);

/** @see drivers/vfio/container.c:vfio_container_ioctl_check_extension */
function vfioContainerIoctlCheckExtension(c: VfioContainer, arg: bigint, current: Task): number {
  const driver = c.iommuDriver;
  if (driver) return driver.ioctl(c.st, c.iommuData, VFIO_CHECK_EXTENSION, arg, current);
  let ret = 0;
  for (const d of c.st.iommuDrivers) {
    if (c.groups.length && !vfioIommuDriverAllowed(c, d)) continue;
    ret = d.ioctl(c.st, null, VFIO_CHECK_EXTENSION, arg, current);
    if (ret > 0) break;
  }
  return ret;
}

/** @see drivers/vfio/container.c:__vfio_container_attach_groups */
function vfioContainerAttachGroups(c: VfioContainer, driver: AnyDriver, data: unknown): void {
  const done: VfioGroup[] = [];
  try {
    for (const g of c.groups) {
      driver.attachGroup(data, g);
      done.push(g);
    }
  } catch (e) {
    for (const g of done) driver.detachGroup(data, g);
    throw e;
  }
}

/** @see drivers/vfio/container.c:vfio_ioctl_set_iommu */
function vfioIoctlSetIommu(c: VfioContainer, arg: bigint, current: Task): number {
  if (c.groups.length === 0 || c.iommuDriver) throw kerr('EINVAL');
  let err = kerr('ENODEV');
  for (const driver of c.st.iommuDrivers) {
    if (!vfioIommuDriverAllowed(c, driver)) continue;
    if (driver.ioctl(c.st, null, VFIO_CHECK_EXTENSION, arg, current) <= 0) continue;
    let data: unknown;
    try {
      data = driver.open(c.st, arg, current);
    } catch (e) {
      err = asKernelError(e);
      continue;
    }
    try {
      vfioContainerAttachGroups(c, driver, data);
    } catch (e) {
      driver.release(data);
      err = asKernelError(e);
      continue;
    }
    c.iommuDriver = driver;
    c.iommuData = data;
    return 0;
  }
  throw err;
}

function asKernelError(e: unknown): KernelError {
  if (isKernelError(e)) return e;
  throw e;
}

/** @see drivers/vfio/container.c:vfio_fops_open */
function vfioFopsOpen(_ctx: unknown, data: unknown): VfioContainerFile {
  return { container: new VfioContainer(data as VfioState) };
}

/**
 * The container outlives its fd while groups hold it.
 * @see drivers/vfio/container.c:vfio_fops_release
 */
function vfioFopsRelease(_f: File<VfioContainerFile>): void {}

/** @see drivers/vfio/container.c:vfio_fops_unl_ioctl */
function vfioFopsUnlIoctl(f: File<VfioContainerFile>, cmd: number, arg: bigint, current: Task): number {
  const c = f.privateData.container;
  switch (cmd) {
    case VFIO_GET_API_VERSION:
      return VFIO_API_VERSION;
    case VFIO_CHECK_EXTENSION:
      return vfioContainerIoctlCheckExtension(c, arg, current);
    case VFIO_SET_IOMMU:
      return vfioIoctlSetIommu(c, arg, current);
    default:
      if (!c.iommuDriver) throw kerr('EINVAL');
      return c.iommuDriver.ioctl(c.st, c.iommuData, cmd, arg, current);
  }
}

export const vfioFops = {
  name: 'vfio',
  open: vfioFopsOpen,
  release: vfioFopsRelease,
  unlockedIoctl: vfioFopsUnlIoctl,
} as const satisfies FileOperations<VfioContainerFile>;

/** @see drivers/vfio/container.c:vfio_container_attach_group */
export function vfioContainerAttachGroup(c: VfioContainer, group: VfioGroup, cred: Credentials): void {
  const noiommu = group.type === VfioGroupType.VFIO_NO_IOMMU;
  if (noiommu && !capable(cred, 'CAP_SYS_RAWIO')) throw kerr('EPERM');
  if (c.groups.length && c.noiommu !== noiommu) throw kerr('EPERM');
  const iommu = c.st.k.host.iommu;
  if (!noiommu) iommu.claimDmaOwner(group.iommuGroup, group);
  if (c.iommuDriver) {
    try {
      c.iommuDriver.attachGroup(c.iommuData, group);
    } catch (e) {
      if (!noiommu) iommu.releaseDmaOwner(group.iommuGroup, group);
      throw e;
    }
  }
  group.container = c;
  group.containerUsers = 1;
  c.noiommu = noiommu;
  c.groups.unshift(group);
}

/** @see drivers/vfio/container.c:vfio_group_detach_container */
export function vfioGroupDetachContainer(group: VfioGroup): void {
  const c = group.container;
  if (!c) return;
  const driver = c.iommuDriver;
  if (driver) driver.detachGroup(c.iommuData, group);
  if (group.type === VfioGroupType.VFIO_IOMMU) c.st.k.host.iommu.releaseDmaOwner(group.iommuGroup, group);
  group.container = null;
  group.containerUsers = 0;
  c.groups.splice(c.groups.indexOf(group), 1);
  if (driver && c.groups.length === 0) {
    driver.release(c.iommuData);
    c.iommuDriver = null;
    c.iommuData = null;
  }
}

/** @see drivers/vfio/container.c:vfio_group_use_container */
export function vfioGroupUseContainer(group: VfioGroup, cred: Credentials): void {
  if (!group.container?.iommuDriver) throw kerr('EINVAL');
  if (group.type === VfioGroupType.VFIO_NO_IOMMU && !capable(cred, 'CAP_SYS_RAWIO')) throw kerr('EPERM');
  group.containerUsers++;
}

/**
 * The no-IOMMU backend: answers only CHECK_EXTENSION(VFIO_NOIOMMU_IOMMU), and only with
 * `enable_unsafe_noiommu_mode` set.
 * @see drivers/vfio/container.c:vfio_noiommu_open, vfio_noiommu_ioctl
 */
export const vfioNoiommuOps: VfioIommuDriverOps<null> = {
  name: 'vfio-noiommu',
  open(_st, arg, current) {
    if (arg !== BigInt(VFIO_NOIOMMU_IOMMU)) throw kerr('EINVAL');
    if (!capable(current.cred, 'CAP_SYS_RAWIO')) throw kerr('EPERM');
    return null;
  },
  release() {},
  ioctl(st, _data, cmd, arg) {
    if (cmd === VFIO_CHECK_EXTENSION) return st.k.params.enable_unsafe_noiommu_mode && arg === BigInt(VFIO_NOIOMMU_IOMMU) ? 1 : 0;
    throw kerr('ENOTTY');
  },
  attachGroup() {},
  detachGroup() {},
};

/**
 * Module init of the legacy container (CONFIG_VFIO_CONTAINER): the `/dev/vfio/vfio` misc device
 * (10:196, 0666) and the no-IOMMU backend. A second /dev/vfio/vfio (iommufd's compat container
 * when both are configured) is refused by the misc registry with EBUSY.
 * @see drivers/vfio/container.c:vfio_container_init
 */
export function vfioContainerInit(st: VfioState): void {
  st.k.chrdevs.register({ path: '/dev/vfio/vfio', mode: 0o666, major: MISC_MAJOR, minor: VFIO_MINOR, fops: vfioFops, data: st });
  vfioRegisterIommuDriver(st, vfioNoiommuOps);
}
