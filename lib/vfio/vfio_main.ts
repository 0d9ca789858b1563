// SPDX-License-Identifier: GPL-2.0-only
/**
 * drivers/vfio/vfio_main.c (and the /dev/vfio node registration of container.c/group.c): the
 * per-machine VFIO state, the IOMMU-driver registry, the device file operations that hand device
 * fds to their driver, and the INFO/SET_IRQS helpers every VFIO driver shares.
 * Studied against v6.6–v6.19; older behaviour is switched by KernelProfile rows.
 */
import type { KernelProfile } from '../kernel/profile';
import type { Machine } from '../machine';
import type { IommuGroup, PciDevice } from '../model/host';
import type { DevNode, FileOperations } from '../fs/chardev';
import { MISC_MAJOR } from '../fs/chardev';
import { kerr } from '../errno';
import { VfioInfoCap, vfioInfoCapInit } from '../abi';
import { VFIO_IRQ_SET_ACTION_TYPE_MASK, VFIO_IRQ_SET_DATA_BOOL, VFIO_IRQ_SET_DATA_EVENTFD, VFIO_IRQ_SET_DATA_NONE, VFIO_IRQ_SET_DATA_TYPE_MASK, VFIO_DEVICE_FEATURE, vfio_device_feature, VFIO_DEVICE_FEATURE_MASK, VFIO_DEVICE_FEATURE_SET, VFIO_DEVICE_FEATURE_GET, VFIO_DEVICE_FEATURE_PROBE, VFIO_DEVICE_BIND_IOMMUFD } from '../uapi';
import { vfioArgszFromUser } from '../abi';
import { vfioFops, vfioNoiommuOps } from './container';
import { VfioGroup, vfioGroupFops, vfioDeviceGroupUnuseIommu } from './group';
import { vfioIommuType1DriverOps } from './vfio_iommu_type1';
import type { VfioIommuDriverOps } from './container';
import { VfioPciCoreDevice, vfioPciCoreOps } from './vfio_pci_core';
import { vfioDeviceCdevNodes, vfioDfIoctlBindIommufd } from './device_cdev';

/** `VFIO_MINOR` in include/linux/miscdevice.h */
export const VFIO_MINOR = 196;
/** The vfio class's dynamic char major for group nodes (what a stock kernel usually gets). */
export const VFIO_GROUP_MAJOR = 243;

/** `struct vfio_device_ops`: what vfio_main.c calls into (vfio-pci here). */
export interface VfioDeviceOps {
  readonly name: string;
  openDevice(vdev: VfioDevice): void;
  closeDevice(vdev: VfioDevice): void;
  ioctl(vdev: VfioDevice, cmd: number, arg: bigint): number;
  read(vdev: VfioDevice, len: number, pos: bigint): Uint8Array;
  write(vdev: VfioDevice, data: Uint8Array, pos: bigint): number;
  /** 1 match, 0 no match; throws for a malformed option. */
  match(vdev: VfioDevice, buf: string): number;
}

/** `struct vfio_device` */
export class VfioDevice {
  openCount = 0;
  /** vfio-pci's per-open state (`struct vfio_pci_core_device` fields that live while open). */
  core: VfioPciCoreDevice | undefined;
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
    return this.pdev.removed || this.pdev.driver !== 'vfio-pci';
  }
}

/** `struct vfio_device_file` */
export interface VfioDeviceFile {
  readonly device: VfioDevice;
  readonly group: VfioGroup;
}

/** One machine's VFIO: the objects the kernel keeps in `struct vfio` and on its lists. */
export class VfioState {
  readonly groups = new Map<IommuGroup, VfioGroup>();
  readonly devices = new Map<PciDevice, VfioDevice>();
  /** `vfio.iommu_drivers_list`: list_add puts the last registered first. */
  readonly iommuDrivers: VfioIommuDriverOps<any>[] = []; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** `mm->locked_vm` of the emulated process, in pages. */
  lockedVm = 0n;

  constructor(readonly m: Machine) {}

  get kernel(): KernelProfile {
    return this.m.kernel;
  }

  registerIommuDriver(ops: VfioIommuDriverOps<any>): void { // eslint-disable-line @typescript-eslint/no-explicit-any
    this.iommuDrivers.unshift(ops);
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

  /** A group is registered with VFIO while at least one of its devices is bound to vfio-pci. */
  groupRegistered(ig: IommuGroup): boolean {
    return this.m.host.groups().includes(ig) && this.m.host.groupHasVfioDevice(ig);
  }

  /** The group's `device_list`: its devices bound to vfio-pci. */
  groupDevices(g: VfioGroup): VfioDevice[] {
    const out: VfioDevice[] = [];
    for (const d of g.iommuGroup.devices) {
      if (d.removed || d.driver !== 'vfio-pci') continue;
      let vd = this.devices.get(d);
      if (!vd || (vd.openCount === 0 && vd.gone)) {
        vd = new VfioDevice(this, d, vfioPciCoreOps);
        this.devices.set(d, vd);
      }
      out.push(vd);
    }
    return out;
  }
}

const states = new WeakMap<Machine, VfioState>();

/** The machine's VFIO state (created by vfioInit). */
export function vfioState(m: Machine): VfioState {
  const st = states.get(m);
  if (!st) throw new Error('vfioInit() was not called for this machine');
  return st;
}

/**
 * Module init: register the IOMMU backends and the /dev/vfio nodes.
 * @see drivers/vfio/vfio_main.c:vfio_init, drivers/vfio/container.c:vfio_container_init
 */
export function vfioInit(m: Machine): VfioState {
  const existing = states.get(m);
  if (existing) return existing;
  const st = new VfioState(m);
  states.set(m, st);
  st.registerIommuDriver(vfioNoiommuOps);
  st.registerIommuDriver(vfioIommuType1DriverOps);
  m.registerDevNodes(() => vfioDevNodes(st));
  return st;
}

/**
 * `/dev/vfio/vfio` (misc 10:196, 0666) and one node per group with a vfio-pci device:
 * `/dev/vfio/<id>`, or `/dev/vfio/noiommu-<id>` for the fake no-IOMMU groups.
 * @see drivers/vfio/group.c:vfio_group_alloc (dev_set_name, vfio_devnode)
 */
function vfioDevNodes(st: VfioState): DevNode[] {
  const nodes: DevNode[] = [
    { path: '/dev/vfio/vfio', mode: 0o666, major: MISC_MAJOR, minor: VFIO_MINOR, fops: vfioFops, data: st },
  ];
  for (const ig of st.m.host.groups()) {
    if (!st.m.host.groupHasVfioDevice(ig)) continue;
    const name = `${ig.noiommu ? 'noiommu-' : ''}${ig.id}`;
    nodes.push({ path: `/dev/vfio/${name}`, mode: 0o600, major: VFIO_GROUP_MAJOR, minor: ig.id, fops: vfioGroupFops, data: { st, ig } });
  }
  nodes.push(...vfioDeviceCdevNodes(st));
  return nodes;
}

// ---- device fds ---------------------------------------------------------------------------

/**
 * `vfio_device_fops`: every device fd ioctl but VFIO_DEVICE_FEATURE goes to the driver.
 * @see drivers/vfio/vfio_main.c:vfio_device_fops_unl_ioctl
 */
function vfioDeviceFopsUnlIoctl(df: VfioDeviceFile, cmd: number, arg: bigint): number {
  const device = df.device;
  // @note emulation: the kernel blocks unbind until device fds close; here the fd goes stale.
  if (device.gone) throw kerr('ENODEV');
  // With CONFIG_VFIO_DEVICE_CDEV every device fd routes BIND_IOMMUFD to the cdev handler.
  if (cmd === VFIO_DEVICE_BIND_IOMMUFD && device.st.kernel.has('vfio_device_cdev')) return vfioDfIoctlBindIommufd(device.st, device.pdev, true, arg);
  if (cmd === VFIO_DEVICE_FEATURE) return vfioIoctlDeviceFeature(device, arg);
  return device.ops.ioctl(device, cmd, arg);
}

function vfioDeviceFopsRead(df: VfioDeviceFile, len: number, pos: bigint): Uint8Array {
  if (df.device.gone) throw kerr('ENODEV');
  return df.device.ops.read(df.device, len, pos);
}

function vfioDeviceFopsWrite(df: VfioDeviceFile, data: Uint8Array, pos: bigint): number {
  if (df.device.gone) throw kerr('ENODEV');
  return df.device.ops.write(df.device, data, pos);
}

/** @see drivers/vfio/vfio_main.c:vfio_device_fops_release → vfio_df_group_close */
function vfioDeviceFopsRelease(df: VfioDeviceFile): void {
  vfioDfClose(df);
}

export const vfioDeviceFops = {
  name: 'vfio-device',
  release: vfioDeviceFopsRelease,
  read: vfioDeviceFopsRead,
  write: vfioDeviceFopsWrite,
  unlockedIoctl: vfioDeviceFopsUnlIoctl,
} as const satisfies FileOperations<VfioDeviceFile>;

/** @see drivers/vfio/vfio_main.c:vfio_df_open (the group path may open a device many times) */
export function vfioDfOpen(df: VfioDeviceFile, firstOpen: () => void): void {
  const device = df.device;
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
    vfioDeviceGroupUnuseIommu(df.group);
  }
}

/**
 * VFIO_DEVICE_FEATURE: the header checks, then the feature. vfio-pci devices here have no
 * migration, no DMA logging, no VF token and no low-power support, which all answer ENOTTY.
 * @see drivers/vfio/vfio_main.c:vfio_ioctl_device_feature
 * @note emulation: the low-power and BUS_MASTER features of newer vfio-pci are not modelled.
 */
function vfioIoctlDeviceFeature(device: VfioDevice, arg: bigint): number {
  const { value: feature } = vfioArgszFromUser(device.st.m.mem, vfio_device_feature, arg, 'flags');
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

const U32_MAX = 0xffffffff;

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
