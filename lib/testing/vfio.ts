// SPDX-License-Identifier: GPL-2.0-only
/**
 * Builders for the lib/vfio AVA tests (not exported from lib/index.ts): raw ioctl calls with
 * their argument structs placed in the machine's memory, and the sysfs steps of binding a
 * device to vfio-pci — everything through `machine.sys`, as a C test would do it.
 */
import { encode, putUser, s32 } from '../abi';
import { errnoOf, tryWriteAttr } from '../user/sys';
import { O_RDWR } from '../uapi/fcntl';
import { Machine, MachineOptions, createMachine } from '../machine';
import type { IommuGroup } from '../model/host';
import { resolveHost } from '../hosts';
import type { Kconfig, TopologyInput } from '../topology/topology';
import {
  VFIO_GROUP_SET_CONTAINER,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_SET_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  vfio_iommu_type1_dma_map,
  vfio_iommu_type1_dma_unmap,
} from '../uapi';

/** The errno name of a raw result, or 0 for success. */
export const rcCode = errnoOf;

/** Write a sysfs attribute; returns the raw write result (or the open's -errno). */
export const sysfsWrite = (m: Machine, path: string, text: string): number => tryWriteAttr(m.sys, path, text);

/** unbind + driver_override + bind, the selftests' setup.sh. Returns the bind result. */
export function bindVfioPci(m: Machine, bdf: string): number {
  const dev = m.host.findDevice(bdf)!;
  if (dev.driver) sysfsWrite(m, `/sys/bus/pci/drivers/${dev.driver}/unbind`, bdf);
  sysfsWrite(m, `/sys/bus/pci/devices/${bdf}/driver_override`, 'vfio-pci');
  return sysfsWrite(m, '/sys/bus/pci/drivers/vfio-pci/bind', bdf);
}

export function vfioGroupOf(m: Machine, bdf: string): IommuGroup {
  return m.host.findDevice(bdf)!.group!;
}

/** A user pointer to a fresh copy of `bytes` (ending at the end of its mapping). */
export const userBuf = (m: Machine, bytes: Uint8Array): bigint => m.mem.alloc(bytes);

export function setContainerRaw(m: Machine, gfd: number, cfd: number): number {
  const p = m.mem.alloc(4);
  putUser(m.mem, s32, p, cfd);
  return m.sys.ioctl(gfd, VFIO_GROUP_SET_CONTAINER, p);
}

export interface Type1Fixture {
  readonly m: Machine;
  readonly cfd: number;
  readonly gfd: number;
  readonly group: IommuGroup;
  /** 64 MiB of anonymous memory to map from. */
  readonly ram: bigint;
}

/** A machine with the first vfio-pci group in a container set to `type`. */
export function type1Fixture(host = 'intel-vtd-server', opts: MachineOptions & { type?: number; setup?: (m: Machine) => void } = {}): Type1Fixture {
  const m = createMachine(host, opts);
  opts.setup?.(m);
  const group = m.host.groups().find((g) => m.host.groupHasVfioDevice(g))!;
  const cfd = m.sys.open('/dev/vfio/vfio', O_RDWR);
  const gfd = m.sys.open(`/dev/vfio/${group.id}`, O_RDWR);
  if (setContainerRaw(m, gfd, cfd) !== 0) throw new Error('SET_CONTAINER failed');
  const rc = m.sys.ioctl(cfd, VFIO_SET_IOMMU, opts.type ?? VFIO_TYPE1v2_IOMMU);
  if (rc !== 0) throw new Error(`SET_IOMMU: ${rc}`);
  return { m, cfd, gfd, group, ram: m.sys.mmap(64 << 20) };
}

export interface MapArgs {
  argsz?: number;
  flags?: number;
  vaddr: bigint;
  iova: bigint;
  size: bigint;
}

export function mapRaw(m: Machine, cfd: number, a: MapArgs): number {
  const p = m.mem.alloc(encode(vfio_iommu_type1_dma_map, { argsz: a.argsz ?? 32, flags: a.flags ?? 3, vaddr: a.vaddr, iova: a.iova, size: a.size }));
  return m.sys.ioctl(cfd, VFIO_IOMMU_MAP_DMA, p);
}

export interface UnmapArgs {
  argsz?: number;
  flags?: number;
  iova: bigint;
  size: bigint;
  /** A `struct vfio_bitmap` appended after the header. */
  tail?: Uint8Array;
}

/** Returns the raw result and the `size` field read back afterwards. */
export function unmapRaw(m: Machine, cfd: number, a: UnmapArgs): { rc: number; size: bigint } {
  const head = encode(vfio_iommu_type1_dma_unmap, { argsz: a.argsz ?? 24 + (a.tail?.length ?? 0), flags: a.flags ?? 0, iova: a.iova, size: a.size });
  const bytes = new Uint8Array(head.length + (a.tail?.length ?? 0));
  bytes.set(head);
  if (a.tail) bytes.set(a.tail, head.length);
  const p = m.mem.alloc(bytes);
  const rc = m.sys.ioctl(cfd, VFIO_IOMMU_UNMAP_DMA, p);
  const size = new DataView(m.mem.read(p + 16n, 8).buffer).getBigUint64(0, true);
  return { rc, size };
}

/** A built-in host with kconfig options changed (CONFIG_IOMMUFD, its selftest, the cdev …). */
export function hostWithKconfig(host: string, kconfig: Partial<Kconfig>, over: Partial<TopologyInput> = {}): TopologyInput {
  const src = resolveHost(host).source as TopologyInput & { kconfig?: Partial<Kconfig> };
  return { ...src, ...over, kconfig: { ...(src.kconfig ?? {}), ...kconfig } } as TopologyInput;
}

/** A machine of `host` built with iommufd (and, by default, the device cdev). */
export function iommufdMachine(host = 'intel-vtd-server', opts: MachineOptions & { kconfig?: Partial<Kconfig>; topology?: Partial<TopologyInput> } = {}): Machine {
  const { kconfig, topology, ...mopts } = opts;
  return createMachine(hostWithKconfig(host, { CONFIG_IOMMUFD: true, ...kconfig }, topology), mopts);
}
