// SPDX-License-Identifier: GPL-2.0-only
/**
 * drivers/vfio/pci/vfio_pci_core.c: the vfio-pci device fd — GET_INFO, GET_REGION_INFO (BARs,
 * ROM, config, VGA, with their capabilities), GET_IRQ_INFO, SET_IRQS, RESET, the hot-reset
 * pair, read/write of the regions at VFIO_PCI_INDEX_TO_OFFSET(index), and device matching.
 * Studied against v6.6–v6.19; the topology provides what the hardware would.
 */
import { copyFromUser, copyStructToUser, copyToUser, decode, encode, offsetofend, vfioArgszFromUser, vfioInfoAddCapability, vfioInfoCapShift } from '../abi';
import { barResources } from '../drivers/pci_config';
import { kerr } from '../errno';
import type { PciDevice } from '../model/host';
import {
  VFIO_DEVICE_FLAGS_PCI,
  VFIO_DEVICE_FLAGS_RESET,
  VFIO_DEVICE_GET_INFO,
  VFIO_DEVICE_GET_IRQ_INFO,
  VFIO_DEVICE_GET_PCI_HOT_RESET_INFO,
  VFIO_DEVICE_GET_REGION_INFO,
  VFIO_DEVICE_PCI_HOT_RESET,
  VFIO_DEVICE_RESET,
  VFIO_DEVICE_SET_IRQS,
  VFIO_IRQ_INFO_AUTOMASKED,
  VFIO_IRQ_INFO_EVENTFD,
  VFIO_IRQ_INFO_MASKABLE,
  VFIO_IRQ_INFO_NORESIZE,
  VFIO_PCI_BAR5_REGION_INDEX,
  VFIO_PCI_CONFIG_REGION_INDEX,
  VFIO_PCI_ERR_IRQ_INDEX,
  VFIO_PCI_INDEX_TO_OFFSET,
  VFIO_PCI_INTX_IRQ_INDEX,
  VFIO_PCI_MSIX_IRQ_INDEX,
  VFIO_PCI_MSI_IRQ_INDEX,
  VFIO_PCI_NUM_IRQS,
  VFIO_PCI_NUM_REGIONS,
  VFIO_PCI_OFFSET_MASK,
  VFIO_PCI_OFFSET_TO_INDEX,
  VFIO_PCI_REQ_IRQ_INDEX,
  VFIO_PCI_ROM_REGION_INDEX,
  VFIO_PCI_VGA_REGION_INDEX,
  VFIO_REGION_INFO_CAP_MSIX_MAPPABLE,
  VFIO_REGION_INFO_CAP_SPARSE_MMAP,
  VFIO_REGION_INFO_FLAG_CAPS,
  VFIO_REGION_INFO_FLAG_MMAP,
  VFIO_REGION_INFO_FLAG_READ,
  VFIO_REGION_INFO_FLAG_WRITE,
  vfio_device_info,
  vfio_info_cap_header,
  vfio_irq_info,
  vfio_irq_set,
  vfio_pci_dependent_device,
  vfio_pci_hot_reset,
  vfio_pci_hot_reset_info,
  vfio_region_info,
  vfio_region_info_cap_sparse_mmap,
} from '../uapi';
import { decodeArray, s32 } from '../abi';
import type { MmapRequest, MmapResult } from '../task/file_table';
import type { Task } from '../task/sched';
import { vfioGroupFops } from './group';
import type { VfioGroupFile } from './group';
import { VfioPciConfigState, vfioConfigInit, vfioPciConfigRead, vfioPciConfigWrite } from './vfio_pci_config';
import { VfioPciIrqState, vfioPciIrqsDisableAll, vfioPciSetIrqsIoctl } from './vfio_pci_intrs';
import { vfioPciBarRw, vfioPciVgaRw } from './vfio_pci_rdwr';
import type { VfioDevice, VfioDeviceOps } from './vfio_main';
import { vfioInfoCaps, vfioInfoCopyLen, vfioSetIrqsValidateAndPrepare } from './vfio_main';
import { PAGE_SHIFT, PAGE_SIZE } from '../kernel/page';
import { PCI_CAP_ID_MSI, PCI_CAP_ID_MSIX, PCI_INTERRUPT_PIN } from '../uapi/pci_regs';

const PCI_CLASS_DISPLAY_VGA = 0x0300;

/** What `vfio_pci_core_enable` sets up for an open device. */
export class VfioPciCoreDevice {
  readonly config: VfioPciConfigState;
  readonly irqs = new VfioPciIrqState();
  readonly hasVga: boolean;
  /** Function-level resets performed (VFIO_DEVICE_RESET and hot reset). */
  resets = 0;
  /** BAR contents, page-indexed: read/write and mmap share these pages. */
  private readonly bars = new Map<number, Map<bigint, Uint8Array>>();

  constructor(vdev: VfioDevice) {
    this.config = vfioConfigInit(vdev);
    this.hasVga = isVga(vdev.pdev);
  }

  barData(bar: number): Map<bigint, Uint8Array> {
    let m = this.bars.get(bar);
    if (!m) this.bars.set(bar, (m = new Map()));
    return m;
  }
}

/** vfio-pci's state of an open device (`struct vfio_pci_core_device`). */
export function pciCore(vdev: VfioDevice): VfioPciCoreDevice {
  if (!vdev.core) throw new Error(`${vdev.name}: vfio-pci device is not open`);
  return vdev.core as VfioPciCoreDevice;
}

/** @see drivers/vfio/pci/vfio_pci_core.c:vfio_pci_is_vga (with CONFIG_VFIO_PCI_VGA) */
const isVga = (pdev: PciDevice): boolean => pdev.class >> 8 === PCI_CLASS_DISPLAY_VGA;

/** `pci_probe_reset_function` succeeded: the topology lists at least one reset method. */
const resetWorks = (pdev: PciDevice): boolean => pdev.spec.resetMethods.length > 0;

/** Offset of a capability in the device's (physical) config space, 0 if absent. */
function findCapability(cfg: Uint8Array, id: number): number {
  if (!(cfg[0x06]! & 0x10)) return 0;
  for (let pos = cfg[0x34]! & ~3, n = 0; pos && n < 48; pos = cfg[pos + 1]! & ~3, n++) if (cfg[pos] === id) return pos;
  return 0;
}

const cfgWord = (cfg: Uint8Array, off: number): number => cfg[off]! | (cfg[off + 1]! << 8);
const cfgDword = (cfg: Uint8Array, off: number): number => (cfgWord(cfg, off) | (cfgWord(cfg, off + 2) << 16)) >>> 0;

/** The MSI-X table's BAR, offset and size (`vdev->msix_bar`, `msix_offset`, `msix_size`). */
function msixTable(pdev: PciDevice): { bar: number; offset: bigint; size: bigint } | undefined {
  const pos = findCapability(pdev.config, PCI_CAP_ID_MSIX);
  if (!pos) return undefined;
  const table = cfgDword(pdev.config, pos + 4);
  const nvec = (cfgWord(pdev.config, pos + 2) & 0x7ff) + 1;
  return { bar: table & 0x7, offset: BigInt(table & ~0x7), size: BigInt(nvec * 16) };
}

/** @see drivers/vfio/pci/vfio_pci_core.c:vfio_pci_get_irq_count */
export function vfioPciGetIrqCount(pdev: PciDevice, index: number): number {
  const cfg = pdev.config;
  switch (index) {
    case VFIO_PCI_INTX_IRQ_INDEX:
      return cfg[PCI_INTERRUPT_PIN] ? 1 : 0;
    case VFIO_PCI_MSI_IRQ_INDEX: {
      const pos = findCapability(cfg, PCI_CAP_ID_MSI);
      return pos ? 1 << ((cfgWord(cfg, pos + 2) & 0x000e) >> 1) : 0;
    }
    case VFIO_PCI_MSIX_IRQ_INDEX: {
      const pos = findCapability(cfg, PCI_CAP_ID_MSIX);
      return pos ? (cfgWord(cfg, pos + 2) & 0x07ff) + 1 : 0;
    }
    case VFIO_PCI_ERR_IRQ_INDEX:
      return pdev.spec.pcie ? 1 : 0;
    case VFIO_PCI_REQ_IRQ_INDEX:
      return 1;
    default:
      return 0;
  }
}

/** @see drivers/vfio/pci/vfio_pci_core.c:vfio_pci_ioctl_get_info */
function vfioPciIoctlGetInfo(vdev: VfioDevice, arg: bigint, current: Task): number {
  const mem = current.mm;
  const { value: info, minsz } = vfioArgszFromUser(mem, vfio_device_info, arg, 'num_irqs');
  const copyLen = vfioInfoCopyLen(vdev.st.kernel, info.argsz, minsz, vfio_device_info.size, offsetofend(vfio_device_info, 'cap_offset'));
  let flags = VFIO_DEVICE_FLAGS_PCI;
  if (resetWorks(vdev.pdev)) flags |= VFIO_DEVICE_FLAGS_RESET;
  // No zPCI or atomic-completion capabilities on the emulated platforms, so never FLAGS_CAPS.
  copyStructToUser(mem, vfio_device_info, arg, { argsz: info.argsz, flags, num_regions: VFIO_PCI_NUM_REGIONS, num_irqs: VFIO_PCI_NUM_IRQS, cap_offset: 0, pad: 0 }, copyLen);
  return 0;
}

/**
 * Areas of the MSI-X BAR outside the (page-rounded) vector table, as kernels before v4.16
 * reported it. @see drivers/vfio/pci/vfio_pci.c:msix_sparse_mmap_cap (v4.15)
 */
function msixSparseAreas(barSize: bigint, t: { offset: bigint; size: bigint }): { offset: bigint; size: bigint }[] {
  const start = t.offset & ~(PAGE_SIZE - 1n);
  const end = (t.offset + t.size + PAGE_SIZE - 1n) & ~(PAGE_SIZE - 1n);
  const out: { offset: bigint; size: bigint }[] = [];
  if (start > 0n) out.push({ offset: 0n, size: start });
  if (end < barSize) out.push({ offset: end, size: barSize - end });
  return out;
}

/** @see drivers/vfio/pci/vfio_pci_core.c:vfio_pci_ioctl_get_region_info */
function vfioPciIoctlGetRegionInfo(vdev: VfioDevice, arg: bigint, current: Task): number {
  const st = vdev.st;
  const mem = current.mm;
  const pdev = vdev.pdev;
  const minsz = offsetofend(vfio_region_info, 'offset');
  const info = decode(vfio_region_info, copyFromUser(mem, arg, minsz));
  if (info.argsz < minsz) throw kerr('EINVAL');
  const caps = vfioInfoCaps(st.kernel);
  const out = { argsz: info.argsz, flags: 0, index: info.index, cap_offset: info.cap_offset, size: 0n, offset: 0n };
  const res = barResources(pdev.spec);
  const idx = info.index;
  if (idx === VFIO_PCI_CONFIG_REGION_INDEX) {
    out.offset = VFIO_PCI_INDEX_TO_OFFSET(idx);
    out.size = BigInt(pdev.config.length);
    out.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
  } else if (idx <= VFIO_PCI_BAR5_REGION_INDEX) {
    out.offset = VFIO_PCI_INDEX_TO_OFFSET(idx);
    const r = res.find((x) => x.index === idx);
    out.size = r?.size ?? 0n;
    if (r) {
      out.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
      const mmap = r.spec?.type !== 'io' && r.spec?.mmap !== false;
      if (mmap) {
        out.flags |= VFIO_REGION_INFO_FLAG_MMAP;
        const msix = msixTable(pdev);
        // @note emulation: topology-declared sparse areas are reported as variant drivers report theirs.
        let areas = r.spec?.sparse;
        if (msix?.bar === idx && !st.kernel.has('vfio_pci_msix_mappable')) areas = msixSparseAreas(r.size, msix);
        if (areas) {
          vfioInfoAddCapability(
            caps,
            encode(vfio_region_info_cap_sparse_mmap, {
              header: { id: VFIO_REGION_INFO_CAP_SPARSE_MMAP, version: 1 },
              nr_areas: areas.length,
              areas: areas.map((a) => ({ offset: a.offset, size: a.size })),
            }),
          );
        }
        if (msix?.bar === idx && st.kernel.has('vfio_pci_msix_mappable'))
          vfioInfoAddCapability(caps, encode(vfio_info_cap_header, { id: VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, version: 1 }));
      }
    }
  } else if (idx === VFIO_PCI_ROM_REGION_INDEX) {
    out.offset = VFIO_PCI_INDEX_TO_OFFSET(idx);
    // @note emulation: the option ROM is taken to hold a valid image (pci_map_rom succeeds).
    out.size = res.find((x) => x.index === VFIO_PCI_ROM_REGION_INDEX)?.size ?? 0n;
    if (out.size) out.flags = VFIO_REGION_INFO_FLAG_READ;
  } else if (idx === VFIO_PCI_VGA_REGION_INDEX) {
    if (!isVga(pdev)) throw kerr('EINVAL');
    out.offset = VFIO_PCI_INDEX_TO_OFFSET(idx);
    out.size = 0xc0000n;
    out.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
  } else throw kerr('EINVAL');
  if (caps.size) {
    out.flags |= VFIO_REGION_INFO_FLAG_CAPS;
    if (info.argsz < vfio_region_info.size + caps.size) {
      out.argsz = vfio_region_info.size + caps.size;
      out.cap_offset = 0;
    } else {
      vfioInfoCapShift(caps, vfio_region_info.size);
      copyToUser(mem, arg + BigInt(vfio_region_info.size), caps.buf.subarray(0, caps.size));
      out.cap_offset = vfio_region_info.size;
    }
  }
  copyStructToUser(mem, vfio_region_info, arg, out, minsz);
  return 0;
}

/** @see drivers/vfio/pci/vfio_pci_core.c:vfio_pci_ioctl_get_irq_info */
function vfioPciIoctlGetIrqInfo(vdev: VfioDevice, arg: bigint, current: Task): number {
  const mem = current.mm;
  const minsz = offsetofend(vfio_irq_info, 'count');
  const info = decode(vfio_irq_info, copyFromUser(mem, arg, minsz));
  if (info.argsz < minsz || info.index >= VFIO_PCI_NUM_IRQS) throw kerr('EINVAL');
  if (info.index === VFIO_PCI_ERR_IRQ_INDEX && !vdev.pdev.spec.pcie) throw kerr('EINVAL');
  let flags = VFIO_IRQ_INFO_EVENTFD;
  const count = vfioPciGetIrqCount(vdev.pdev, info.index);
  if (info.index === VFIO_PCI_INTX_IRQ_INDEX) flags |= VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
  else if (info.index !== VFIO_PCI_MSIX_IRQ_INDEX || !vdev.st.kernel.has('vfio_pci_dyn_msix')) flags |= VFIO_IRQ_INFO_NORESIZE;
  copyStructToUser(mem, vfio_irq_info, arg, { ...info, flags, count }, minsz);
  return 0;
}

/** @see drivers/vfio/pci/vfio_pci_core.c:vfio_pci_ioctl_set_irqs */
function vfioPciIoctlSetIrqs(vdev: VfioDevice, arg: bigint, current: Task): number {
  const mem = current.mm;
  const minsz = offsetofend(vfio_irq_set, 'count');
  const hdr = decode(vfio_irq_set, copyFromUser(mem, arg, minsz));
  const max = vfioPciGetIrqCount(vdev.pdev, hdr.index);
  const dataSize = vfioSetIrqsValidateAndPrepare(hdr, max, VFIO_PCI_NUM_IRQS, minsz);
  const data = dataSize ? copyFromUser(mem, arg + BigInt(minsz), dataSize) : new Uint8Array(0);
  vfioPciSetIrqsIoctl(vdev, { flags: hdr.flags, index: hdr.index, start: hdr.start, count: hdr.count, data, files: current.files });
  return 0;
}

/** @see drivers/vfio/pci/vfio_pci_core.c:vfio_pci_core_ioctl (VFIO_DEVICE_RESET) */
function vfioPciIoctlReset(vdev: VfioDevice): number {
  if (!resetWorks(vdev.pdev)) throw kerr('EINVAL');
  pciCore(vdev).resets++;
  return 0;
}

/**
 * The devices a bus reset of `pdev`'s bus reaches, in `pci_walk_bus` order (depth first);
 * undefined when the bus cannot be reset (a root bus has no bridge to pulse).
 * @note emulation: no hot-plug slots, so never a slot reset.
 */
function busResetDevices(vdev: VfioDevice): PciDevice[] | undefined {
  const pdev = vdev.pdev;
  const bridge = pdev.parent;
  if (!bridge) return undefined;
  const devs = vdev.st.k.host.devices;
  const out: PciDevice[] = [];
  const walk = (parent: PciDevice) => {
    for (const d of devs.filter((x) => x.parent === parent).sort((a, b) => (a.bdf < b.bdf ? -1 : 1))) {
      out.push(d);
      walk(d);
    }
  };
  walk(bridge);
  return out;
}

/** @see drivers/vfio/pci/vfio_pci_core.c:vfio_pci_ioctl_get_pci_hot_reset_info, vfio_pci_fill_devs */
function vfioPciIoctlGetPciHotResetInfo(vdev: VfioDevice, arg: bigint, current: Task): number {
  const mem = current.mm;
  const { value: hdr, minsz } = vfioArgszFromUser(mem, vfio_pci_hot_reset_info, arg, 'count');
  const devs = busResetDevices(vdev);
  if (!devs) throw kerr('ENODEV');
  const count = devs.length;
  const room = Math.floor((hdr.argsz - vfio_pci_hot_reset_info.size) / vfio_pci_dependent_device.size);
  if (hdr.argsz < vfio_pci_hot_reset_info.size || count > room) {
    copyStructToUser(mem, vfio_pci_hot_reset_info, arg, { argsz: hdr.argsz, flags: 0, count }, minsz);
    throw kerr('ENOSPC');
  }
  const entries = devs.map((d) => {
    if (!d.group) throw kerr('EPERM');
    return { group_id: d.group.id, segment: d.domain, bus: d.bus, devfn: (d.slot << 3) | d.func };
  });
  copyStructToUser(mem, vfio_pci_hot_reset_info, arg, { argsz: hdr.argsz, flags: 0, count, devices: entries });
  return 0;
}

/**
 * Group-fd form of the hot reset: every device the reset reaches must be bound to vfio-pci and
 * in one of the groups passed.
 * @see drivers/vfio/pci/vfio_pci_core.c:vfio_pci_ioctl_pci_hot_reset, vfio_pci_dev_set_hot_reset
 */
function vfioPciIoctlPciHotReset(vdev: VfioDevice, arg: bigint, current: Task): number {
  const minsz = offsetofend(vfio_pci_hot_reset, 'count');
  const hdr = decode(vfio_pci_hot_reset, copyFromUser(current.mm, arg, minsz));
  if (hdr.argsz < minsz || hdr.flags) throw kerr('EINVAL');
  if (!hdr.count) throw kerr('EINVAL');
  const devs = busResetDevices(vdev);
  if (!devs) throw kerr('ENODEV');
  if (hdr.count > devs.length) throw kerr('EINVAL');
  const fds = decodeArray(s32, copyFromUser(current.mm, arg + BigInt(minsz), hdr.count * 4), hdr.count);
  const groups = fds.map((fd) => {
    const f = current.files.peek(fd);
    if (!f) throw kerr('EBADF');
    if (f.fop !== vfioGroupFops) throw kerr('EINVAL');
    return (f.privateData as VfioGroupFile).group.iommuGroup;
  });
  // Every device the reset reaches must be one of vfio-pci's, in one of the groups passed.
  for (const d of devs) {
    if (vdev.st.devices.get(d)?.ops !== vdev.ops || !d.group || !groups.includes(d.group)) throw kerr('EINVAL');
  }
  for (const d of devs) {
    const other = vdev.st.devices.get(d);
    if (other?.core) (other.core as VfioPciCoreDevice).resets++;
  }
  return 0;
}

/** @see drivers/vfio/pci/vfio_pci_core.c:vfio_pci_core_ioctl */
const vfioPciCoreIoctls: Readonly<Record<number, (vdev: VfioDevice, arg: bigint, current: Task) => number>> = {
  [VFIO_DEVICE_GET_INFO]: vfioPciIoctlGetInfo,
  [VFIO_DEVICE_GET_IRQ_INFO]: vfioPciIoctlGetIrqInfo,
  [VFIO_DEVICE_GET_PCI_HOT_RESET_INFO]: vfioPciIoctlGetPciHotResetInfo,
  [VFIO_DEVICE_GET_REGION_INFO]: vfioPciIoctlGetRegionInfo,
  [VFIO_DEVICE_PCI_HOT_RESET]: vfioPciIoctlPciHotReset,
  [VFIO_DEVICE_RESET]: (vdev) => vfioPciIoctlReset(vdev),
  [VFIO_DEVICE_SET_IRQS]: vfioPciIoctlSetIrqs,
};

/** @see drivers/vfio/pci/vfio_pci_core.c:vfio_pci_rw */
function vfioPciRw(vdev: VfioDevice, pos: bigint, data: Uint8Array | number, iswrite: boolean): Uint8Array | number {
  const index = VFIO_PCI_OFFSET_TO_INDEX(pos);
  if (index >= VFIO_PCI_NUM_REGIONS) throw kerr('EINVAL');
  switch (index) {
    case VFIO_PCI_CONFIG_REGION_INDEX: {
      const off = pos & VFIO_PCI_OFFSET_MASK;
      return iswrite ? vfioPciConfigWrite(vdev, data as Uint8Array, off) : vfioPciConfigRead(vdev, data as number, off);
    }
    case VFIO_PCI_ROM_REGION_INDEX:
      if (iswrite) throw kerr('EINVAL');
      return vfioPciBarRw(vdev, index, pos, data, false);
    case VFIO_PCI_VGA_REGION_INDEX:
      return vfioPciVgaRw(vdev, pos, data, iswrite);
    default:
      return vfioPciBarRw(vdev, index, pos, data, iswrite);
  }
}

/**
 * `vfio_pci_core_match`: the BDF, then nothing, or a space followed by spaces and at most one
 * `vf_token=<uuid>`. Anything but a space right after the BDF is no match (ENODEV from the
 * caller); any other character later, a tab included, is EINVAL. The emulated devices are neither
 * SR-IOV PFs nor VFs, so a token is always refused.
 * @see drivers/vfio/pci/vfio_pci_core.c:vfio_pci_core_match, vfio_pci_validate_vf_token
 */
function vfioPciCoreMatch(vdev: VfioDevice, buf: string): number {
  const name = vdev.pdev.bdf;
  if (!buf.startsWith(name)) return 0;
  let rest = buf.slice(name.length);
  let vfToken = false;
  if (rest.length && rest[0] !== ' ') return 0;
  while (rest.length) {
    if (rest[0] === ' ') {
      rest = rest.slice(1);
      continue;
    }
    if (!vfToken && rest.startsWith('vf_token=')) {
      rest = rest.slice(9);
      if (rest.length < 36) throw kerr('EINVAL');
      if (!/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/.test(rest)) throw kerr('EINVAL');
      vfToken = true;
      rest = rest.slice(36);
      continue;
    }
    throw kerr('EINVAL');
  }
  if (vfToken) throw kerr('EINVAL');
  return 1;
}

export const vfioPciCoreOps: VfioDeviceOps = {
  name: 'vfio-pci',
  openDevice(vdev) {
    vdev.core = new VfioPciCoreDevice(vdev);
  },
  closeDevice(vdev) {
    if (vdev.core) vfioPciIrqsDisableAll(pciCore(vdev).irqs);
    vdev.core = undefined;
  },
  ioctl(vdev, cmd, arg, current) {
    const handler = vfioPciCoreIoctls[cmd];
    if (!handler) throw kerr('ENOTTY');
    return handler(vdev, arg, current);
  },
  /** A zero-length access succeeds before the index is looked at. @see drivers/vfio/pci/vfio_pci_core.c:vfio_pci_core_read */
  read(vdev, len, pos) {
    if (!len) return new Uint8Array(0);
    return vfioPciRw(vdev, pos, len, false) as Uint8Array;
  },
  /** @see drivers/vfio/pci/vfio_pci_core.c:vfio_pci_core_write */
  write(vdev, data, pos) {
    if (!data.length) return 0;
    return vfioPciRw(vdev, pos, data, true) as number;
  },
  mmap: vfioPciCoreMmap,
  match: vfioPciCoreMatch,
};

/**
 * mmap of a BAR region: its pages are the ones read and write reach, so the mapper's stores are
 * what the device sees. Only mmap-capable memory BARs, inside the BAR, shared.
 * @see drivers/vfio/pci/vfio_pci_core.c:vfio_pci_core_mmap
 * @note emulation: BARs are plain memory, so the MSI-X table is mappable whatever the kernel.
 */
function vfioPciCoreMmap(vdev: VfioDevice, req: MmapRequest): MmapResult {
  const off = req.pgoff << PAGE_SHIFT;
  const index = VFIO_PCI_OFFSET_TO_INDEX(off);
  if (index > VFIO_PCI_BAR5_REGION_INDEX) throw kerr('EINVAL');
  if (!req.shared) throw kerr('EINVAL');
  const r = barResources(vdev.pdev.spec).find((x) => x.index === index);
  if (!r || r.spec?.type === 'io' || r.spec?.mmap === false) throw kerr('EINVAL');
  const pgoff = (off & VFIO_PCI_OFFSET_MASK) >> PAGE_SHIFT;
  if ((pgoff << PAGE_SHIFT) + req.length > ((r.size + PAGE_SIZE - 1n) & ~(PAGE_SIZE - 1n))) throw kerr('EINVAL');
  return { pages: pciCore(vdev).barData(index), pgoff };
}
