// SPDX-License-Identifier: GPL-2.0-only
/**
 * drivers/vfio/vfio_main.c: the per-machine VFIO core — device registration by VFIO drivers
 * (which creates the group and its /dev/vfio node, and the device cdev), the device file
 * operations that hand device fds to their driver, and the INFO/SET_IRQS helpers every VFIO
 * driver shares. It names no driver: IOMMU backends and device drivers register themselves from
 * their module init (lib/vfio/modules.ts).
 * Studied against v6.6–v6.19; older behaviour is switched by KernelProfile rows.
 */
import { VfioInfoCap, vfioArgszFromUser, vfioInfoCapInit } from '../abi';
import { kerr } from '../errno';
import type { Kernel, KernelModule } from '../host';
import type { KernelProfile } from '../kernel/profile';
import { U32_MAX } from '../kernel/limits';
import { Ida } from '../model/ida';
import type { IommuGroup, PciDevice } from '../model/host';
import type { IommufdDevice } from '../iommufd/device';
import type { IommufdCtx } from '../iommufd/main';
import type { File, FileOperations, MmapRequest, MmapResult } from '../task/file_table';
import type { Task } from '../task/sched';
import {
  VFIO_DEVICE_ATTACH_IOMMUFD_PT,
  VFIO_DEVICE_BIND_IOMMUFD,
  VFIO_DEVICE_DETACH_IOMMUFD_PT,
  VFIO_DEVICE_FEATURE,
  VFIO_DEVICE_FEATURE_GET,
  VFIO_DEVICE_FEATURE_MASK,
  VFIO_DEVICE_FEATURE_PROBE,
  VFIO_DEVICE_FEATURE_SET,
  VFIO_IRQ_SET_ACTION_TYPE_MASK,
  VFIO_IRQ_SET_DATA_BOOL,
  VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_DATA_NONE,
  VFIO_IRQ_SET_DATA_TYPE_MASK,
  vfio_device_feature,
} from '../uapi';
import type { VfioIommuDriverOps } from './container';
import { vfioContainerInit } from './container';
import {
  vfioDeviceCdevAdd,
  vfioDeviceCdevSysfs,
  vfioDeviceFopsCdevOpen,
  vfioDfIoctlAttachPt,
  vfioDfIoctlBindIommufd,
  vfioDfIoctlDetachPt,
  vfioDfUnbindIommufd,
} from './device_cdev';
import { VfioGroup, vfioDeviceGroupUnuseIommu, vfioGroupFilePut, vfioGroupRegister, vfioGroupUnregister } from './group';
import { vfioDfIommufdUnbind } from './iommufd';

/** `VFIO_MINOR` in include/linux/miscdevice.h */
export const VFIO_MINOR = 196;
/** The vfio class's dynamic char major for group nodes (what a stock kernel usually gets). */
export const VFIO_GROUP_MAJOR = 243;

/** `struct vfio_device_ops`: what vfio_main.c calls into (vfio-pci here). */
export interface VfioDeviceOps {
  readonly name: string;
  openDevice(vdev: VfioDevice): void;
  closeDevice(vdev: VfioDevice): void;
  ioctl(vdev: VfioDevice, cmd: number, arg: bigint, current: Task): number;
  read(vdev: VfioDevice, len: number, pos: bigint): Uint8Array;
  write(vdev: VfioDevice, data: Uint8Array, pos: bigint): number;
  mmap?(vdev: VfioDevice, req: MmapRequest): MmapResult;
  /** 1 match, 0 no match; throws for a malformed option. */
  match(vdev: VfioDevice, buf: string): number;
}

/** `struct vfio_device` */
export class VfioDevice {
  openCount = 0;
  /** vfio_unregister_group_dev ran (unbind, hot-unplug): every fd still open sees ENODEV. */
  unregistered = false;
  /** The driver's state while the device is open (vfio-pci: `struct vfio_pci_core_device`). */
  core: unknown;
  /** Unregisters /dev/vfio/devices/vfioN. */
  cdevDel: (() => void) | undefined;
  /** `vdev->iommufd_device`: bound to an iommufd (cdev BIND_IOMMUFD, or a group on an iommufd). */
  iommufdDevice: IommufdDevice | undefined;
  /** `vdev->iommufd_attached` */
  iommufdAttached = false;
  /** `cdev_opened`: a cdev fd is bound. */
  cdevOpened = false;

  constructor(
    readonly st: VfioState,
    readonly pdev: PciDevice,
    readonly ops: VfioDeviceOps,
  ) {}

  get name(): string {
    return this.pdev.bdf;
  }

  /** The device went away under an open fd (unbind or hot-unplug). */
  get gone(): boolean {
    return this.unregistered || this.pdev.removed;
  }
}

/** `struct vfio_device_file`: `group` is null for a cdev fd. */
export interface VfioDeviceFile {
  readonly device: VfioDevice;
  readonly group: VfioGroup | null;
  /** The iommufd the device is opened through (cdev BIND, or the group's). */
  iommufd?: IommufdCtx | undefined;
  /** The iommufd device id (valid with `iommufd`). */
  devid?: number;
  /** The fd may reach the driver (after BIND_IOMMUFD on a cdev; at once on the group path). */
  accessGranted: boolean;
}

/** One machine's VFIO: the objects the kernel keeps in `struct vfio` and on its lists. */
export class VfioState {
  readonly groups = new Map<IommuGroup, VfioGroup>();
  /** Registered devices. */
  readonly devices = new Map<PciDevice, VfioDevice>();
  /** `vfio.iommu_drivers_list`: list_add puts the last registered first. */
  readonly iommuDrivers: VfioIommuDriverOps<any>[] = []; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** `vfio.device_ida`: the N of vfioN. */
  readonly deviceIda = new Ida();
  /**
   * Extra VFIO_IOMMU_GET_INFO capabilities of type1 containers, appended after the kernel's own.
   * @note emulation: no kernel has this list; it is the extension point ABI prototypes (lib/plugin) use.
   */
  readonly type1InfoCaps: ((view: Type1InfoView) => Uint8Array | undefined)[] = [];

  constructor(readonly k: Kernel) {
    k.host.vfioGroupRegistered = (ig) => this.groupRegistered(ig);
  }

  get kernel(): KernelProfile {
    return this.k.profile;
  }

  /** The `struct vfio_group` of an IOMMU group, created on first use. */
  groupFor(ig: IommuGroup): VfioGroup {
    let g = this.groups.get(ig);
    if (!g) {
      g = new VfioGroup(this, ig);
      this.groups.set(ig, g);
    }
    return g;
  }

  /** A group is registered with VFIO while at least one of its devices is. */
  groupRegistered(ig: IommuGroup): boolean {
    return this.k.host.findGroup(ig.id) === ig && (this.groups.get(ig)?.deviceCount ?? 0) > 0;
  }

  /** The group's `device_list`: its registered devices, in group order. */
  groupDevices(g: VfioGroup): VfioDevice[] {
    const out: VfioDevice[] = [];
    for (const d of g.iommuGroup.devices) {
      const vd = this.devices.get(d);
      if (vd) out.push(vd);
    }
    return out;
  }
}

/** What an extra GET_INFO capability may look at: the container's groups and its MSI cookies. */
export interface Type1InfoView {
  readonly groups: readonly IommuGroup[];
  /** Base of each domain's software MSI window (`iommu_get_msi_cookie`), when the groups rely on one. */
  readonly msiCookies: readonly bigint[];
  readonly iovaList: readonly { readonly start: bigint; readonly last: bigint }[];
}

const states = new WeakMap<Kernel, VfioState>();

/** The machine's VFIO core (the vfio module must be loaded). */
export function vfioState(k: Kernel): VfioState {
  const st = states.get(k);
  if (!st) throw kerr('ENODEV', 'the vfio module is not loaded');
  return st;
}

export function vfioLoaded(k: Kernel): boolean {
  return states.has(k);
}

/** Module init of vfio.ko's core. @see drivers/vfio/vfio_main.c:vfio_init */
export function vfioInit(k: Kernel): VfioState {
  const existing = states.get(k);
  if (existing) return existing;
  const st = new VfioState(k);
  states.set(k, st);
  k.registerSysfs((tree) => vfioDeviceCdevSysfs(st, tree));
  return st;
}

/** vfio.ko: the core, and the legacy container with CONFIG_VFIO_CONTAINER. @see drivers/vfio/vfio_main.c:vfio_init */
export const vfioModule: KernelModule = {
  name: 'vfio',
  since: 'vfio',
  kconfig: ['CONFIG_VFIO'],
  init(k) {
    const st = vfioInit(k);
    if (k.kconfig.CONFIG_VFIO_CONTAINER) vfioContainerInit(st);
  },
};

/**
 * A VFIO driver's probe registers its device: the IOMMU group (a fake no-IOMMU one in unsafe
 * mode), the group's VFIO node when it is the group's first device, and the device cdev.
 * @see drivers/vfio/vfio_main.c:vfio_register_group_dev, __vfio_register_dev
 * @see drivers/vfio/group.c:vfio_device_set_group, vfio_noiommu_group_alloc
 */
export function vfioRegisterGroupDev(st: VfioState, pdev: PciDevice, ops: VfioDeviceOps): VfioDevice {
  const iommu = st.k.host.iommu;
  let ig = pdev.group;
  if (!ig) {
    if (!st.k.params.enable_unsafe_noiommu_mode) throw kerr('EINVAL', 'no IOMMU group');
    ig = iommu.allocGroup(true);
    iommu.groupAddDevice(ig, pdev);
  }
  const vdev = new VfioDevice(st, pdev, ops);
  try {
    if (st.kernel.has('vfio_device_cdev')) vfioDeviceCdevAdd(st, vdev, vfioDeviceCdevBuilt(st) && !ig.noiommu);
    vfioGroupRegister(st.groupFor(ig));
  } catch (e) {
    vdev.cdevDel?.();
    if (pdev.vfioDevIndex !== undefined) st.deviceIda.free(pdev.vfioDevIndex);
    pdev.vfioDevIndex = undefined;
    if (ig.noiommu) iommu.groupRemoveDevice(pdev);
    throw e;
  }
  st.devices.set(pdev, vdev);
  return vdev;
}

/**
 * @see drivers/vfio/vfio_main.c:vfio_unregister_group_dev
 * @note emulation: the kernel blocks the unregister until every device fd is closed; here the
 * fds stay open and answer ENODEV.
 */
export function vfioUnregisterGroupDev(st: VfioState, pdev: PciDevice): void {
  const vdev = st.devices.get(pdev);
  if (!vdev) return;
  st.devices.delete(pdev);
  vdev.unregistered = true;
  vdev.cdevDel?.();
  vdev.cdevDel = undefined;
  if (pdev.vfioDevIndex !== undefined) st.deviceIda.free(pdev.vfioDevIndex);
  pdev.vfioDevIndex = undefined;
  const ig = pdev.group;
  if (ig) {
    vfioGroupUnregister(st.groupFor(ig));
    if (ig.noiommu) st.k.host.iommu.groupRemoveDevice(pdev);
  }
}

// ---- device fds ---------------------------------------------------------------------------

/**
 * `vfio_device_fops`: every device fd ioctl but VFIO_DEVICE_FEATURE goes to the driver.
 * @see drivers/vfio/vfio_main.c:vfio_device_fops_unl_ioctl
 */
/** CONFIG_VFIO_DEVICE_CDEV is built (and the kernel has the cdev). */
export const vfioDeviceCdevBuilt = (st: VfioState): boolean => st.k.kconfig.CONFIG_VFIO_DEVICE_CDEV && st.kernel.has('vfio_device_cdev');

/**
 * `vfio_device_fops` ioctl: BIND_IOMMUFD first (ENOTTY without the cdev built), then nothing
 * reaches the device before access is granted (EINVAL); the cdev-only ATTACH/DETACH_IOMMUFD_PT,
 * VFIO_DEVICE_FEATURE, and the driver.
 * @see drivers/vfio/vfio_main.c:vfio_device_fops_unl_ioctl
 */
function vfioDeviceFopsUnlIoctl(f: File<VfioDeviceFile>, cmd: number, arg: bigint, current: Task): number {
  const df = f.privateData;
  const device = df.device;
  if (device.gone) throw kerr('ENODEV');
  if (cmd === VFIO_DEVICE_BIND_IOMMUFD) {
    if (!vfioDeviceCdevBuilt(device.st)) throw kerr('ENOTTY');
    return vfioDfIoctlBindIommufd(df, arg, current);
  }
  if (!df.accessGranted) throw kerr('EINVAL');
  if (vfioDeviceCdevBuilt(device.st) && !df.group) {
    if (cmd === VFIO_DEVICE_ATTACH_IOMMUFD_PT) return vfioDfIoctlAttachPt(df, arg, current);
    if (cmd === VFIO_DEVICE_DETACH_IOMMUFD_PT) return vfioDfIoctlDetachPt(df, arg, current);
  }
  if (cmd === VFIO_DEVICE_FEATURE) return vfioIoctlDeviceFeature(arg, current);
  return device.ops.ioctl(device, cmd, arg, current);
}

function vfioDeviceFopsRead(f: File<VfioDeviceFile>, len: number, pos: bigint): Uint8Array {
  const d = f.privateData.device;
  if (d.gone) throw kerr('ENODEV');
  if (!f.privateData.accessGranted) throw kerr('EINVAL');
  return d.ops.read(d, len, pos);
}

function vfioDeviceFopsWrite(f: File<VfioDeviceFile>, data: Uint8Array, pos: bigint): number {
  const d = f.privateData.device;
  if (d.gone) throw kerr('ENODEV');
  if (!f.privateData.accessGranted) throw kerr('EINVAL');
  return d.ops.write(d, data, pos);
}

/** @see drivers/vfio/vfio_main.c:vfio_device_fops_mmap */
function vfioDeviceFopsMmap(f: File<VfioDeviceFile>, req: MmapRequest): MmapResult {
  const d = f.privateData.device;
  if (d.gone) throw kerr('ENODEV');
  if (!f.privateData.accessGranted) throw kerr('EINVAL');
  if (!d.ops.mmap) throw kerr('EINVAL');
  return d.ops.mmap(d, req);
}

/**
 * A group fd's device closes; a cdev fd unbinds from its iommufd.
 * @see drivers/vfio/vfio_main.c:vfio_device_fops_release → vfio_df_group_close, vfio_df_unbind_iommufd
 */
function vfioDeviceFopsRelease(f: File<VfioDeviceFile>): void {
  const df = f.privateData;
  if (df.group) vfioDfClose(df);
  else vfioDfUnbindIommufd(df);
}

export const vfioDeviceFops = {
  name: 'vfio-device',
  release: vfioDeviceFopsRelease,
  read: vfioDeviceFopsRead,
  write: vfioDeviceFopsWrite,
  unlockedIoctl: vfioDeviceFopsUnlIoctl,
  mmap: vfioDeviceFopsMmap,
} as const satisfies FileOperations<VfioDeviceFile>;

/** /dev/vfio/devices/vfioN: the same device fops, opened unbound. */
export const vfioDeviceCdevFops = {
  ...vfioDeviceFops,
  name: 'vfio-dev',
  open: (ctx: unknown, data: unknown) => vfioDeviceFopsCdevOpen(ctx, data),
} as const satisfies FileOperations<VfioDeviceFile>;

/**
 * The group path may open a device many times, the cdev once (EINVAL). `firstOpen` binds the
 * iommufd or takes the container.
 * @see drivers/vfio/vfio_main.c:vfio_df_open, vfio_df_device_first_open
 */
export function vfioDfOpen(df: VfioDeviceFile, firstOpen: () => void): void {
  const device = df.device;
  if (device.openCount !== 0 && !df.group) throw kerr('EINVAL');
  device.openCount++;
  if (device.openCount === 1) {
    try {
      firstOpen();
      device.ops.openDevice(device);
    } catch (e) {
      device.openCount--;
      throw e;
    }
  }
}

/** @see drivers/vfio/vfio_main.c:vfio_df_close, vfio_df_device_last_close */
export function vfioDfClose(df: VfioDeviceFile): void {
  const device = df.device;
  if (device.openCount === 0) return;
  device.openCount--;
  if (device.openCount === 0) {
    device.ops.closeDevice(device);
    if (df.iommufd) {
      vfioDfIommufdUnbind(df);
      // The group path took the group file when it opened the device.
      if (df.group?.openedFile) vfioGroupFilePut(df.group.openedFile);
    } else vfioDeviceGroupUnuseIommu(df.group!);
  }
}

/**
 * VFIO_DEVICE_FEATURE: the header checks, then the feature. vfio-pci devices here have no
 * migration, no DMA logging, no VF token and no low-power support, which all answer ENOTTY.
 * @see drivers/vfio/vfio_main.c:vfio_ioctl_device_feature
 * @note emulation: the low-power and BUS_MASTER features of newer vfio-pci are not modelled.
 */
function vfioIoctlDeviceFeature(arg: bigint, current: Task): number {
  const { value: feature } = vfioArgszFromUser(current.mm, vfio_device_feature, arg, 'flags');
  const known = VFIO_DEVICE_FEATURE_MASK | VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_PROBE;
  if (feature.flags & ~known) throw kerr('EINVAL');
  if (!(feature.flags & VFIO_DEVICE_FEATURE_PROBE) && feature.flags & VFIO_DEVICE_FEATURE_SET && feature.flags & VFIO_DEVICE_FEATURE_GET)
    throw kerr('EINVAL');
  throw kerr('ENOTTY');
}

// ---- helpers shared by the INFO ioctls ------------------------------------------------------

/** A capability chain builder with the profile's padding rule. */
export function vfioInfoCaps(kernel: KernelProfile): VfioInfoCap {
  return vfioInfoCapInit({ align: kernel.has('vfio_caps_aligned') });
}

/**
 * Bytes of an INFO struct copied back. Since "vfio: align capability structures" the whole
 * zero-initialised struct up to argsz; before, `minsz`, widened to `cap_offset`'s end once
 * argsz reached it (the trailing pad was never written).
 * @see drivers/vfio/vfio_iommu_type1.c:vfio_iommu_type1_get_info
 */
export function vfioInfoCopyLen(kernel: KernelProfile, argsz: number, minsz: number, sizeofInfo: number, capsz: number): number {
  if (kernel.has('vfio_caps_aligned')) return Math.min(argsz, sizeofInfo);
  return argsz >= capsz ? capsz : minsz;
}

export interface IrqSetHdr {
  readonly argsz: number;
  readonly flags: number;
  readonly index: number;
  readonly start: number;
  readonly count: number;
}

/**
 * Returns the byte size of the data that follows the header.
 * @see drivers/vfio/vfio_main.c:vfio_set_irqs_validate_and_prepare
 */
export function vfioSetIrqsValidateAndPrepare(hdr: IrqSetHdr, numIrqs: number, maxIrqType: number, minsz: number): number {
  if (
    hdr.argsz < minsz ||
    hdr.index >= maxIrqType ||
    hdr.count >= U32_MAX - hdr.start ||
    hdr.flags & ~(VFIO_IRQ_SET_DATA_TYPE_MASK | VFIO_IRQ_SET_ACTION_TYPE_MASK)
  )
    throw kerr('EINVAL');
  if (hdr.start >= numIrqs || hdr.start + hdr.count > numIrqs) throw kerr('EINVAL');
  let size: number;
  switch (hdr.flags & VFIO_IRQ_SET_DATA_TYPE_MASK) {
    case VFIO_IRQ_SET_DATA_NONE:
      size = 0;
      break;
    case VFIO_IRQ_SET_DATA_BOOL:
      size = 1;
      break;
    case VFIO_IRQ_SET_DATA_EVENTFD:
      size = 4;
      break;
    default:
      throw kerr('EINVAL');
  }
  if (size && hdr.argsz - minsz < hdr.count * size) throw kerr('EINVAL');
  return hdr.count * size;
}
