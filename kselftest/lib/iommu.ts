// SPDX-License-Identifier: GPL-2.0-only
/**
 * libvfio-style helpers over raw syscalls: structs are encoded into the process's memory and
 * passed by address, exactly as a C consumer does. Triplets: `tryX` returns rc or -errno,
 * `x` asserts success, `errX` expects one errno.
 * @see tools/testing/selftests/vfio/lib/iommu.c, vfio_pci_device.c
 */
import {
  abi,
  O_RDWR,
  VFIO_API_VERSION,
  VFIO_CHECK_EXTENSION,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_GET_API_VERSION,
  VFIO_GROUP_FLAGS_VIABLE,
  VFIO_GROUP_GET_DEVICE_FD,
  VFIO_GROUP_GET_STATUS,
  VFIO_GROUP_SET_CONTAINER,
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_SET_IOMMU,
  VFIO_TYPE1_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  vfio_group_status,
  vfio_info_cap_header,
  vfio_iommu_type1_dma_map,
  vfio_iommu_type1_dma_unmap,
  vfio_iommu_type1_info,
  vfio_iommu_type1_info_cap_iova_range,
  vfio_iova_range,
  type Machine,
  getStruct,
  putStruct,
} from '../../lib/index';
import type { SuiteT } from './suite';
import { NON_DMA_API_DRIVERS } from './pci';

export interface IommuMode {
  readonly name: string;
  /** VFIO_SET_IOMMU's type; 0 for native iommufd, which has none. */
  readonly type: number;
  /**
   * The fd VFIO_GROUP_SET_CONTAINER takes: the VFIO container, iommufd's /dev/iommu (its type1
   * compatibility), or none — native iommufd binds each device cdev instead.
   */
  readonly containerPath: '/dev/vfio/vfio' | '/dev/iommu' | undefined;
}

/**
 * FIXTURE_VARIANT_ADD_ALL_IOMMU_MODES of the kernel's VFIO selftests (libvfio iommu_modes[]):
 * the legacy container's two types, the same two through /dev/iommu, and native iommufd.
 * @see tools/testing/selftests/vfio/lib/include/libvfio/iommu.h
 */
export const ALL_IOMMU_MODES: readonly IommuMode[] = [
  { name: 'vfio_type1_iommu', type: VFIO_TYPE1_IOMMU, containerPath: '/dev/vfio/vfio' },
  { name: 'vfio_type1v2_iommu', type: VFIO_TYPE1v2_IOMMU, containerPath: '/dev/vfio/vfio' },
  { name: 'iommufd_compat_type1', type: VFIO_TYPE1_IOMMU, containerPath: '/dev/iommu' },
  { name: 'iommufd_compat_type1v2', type: VFIO_TYPE1v2_IOMMU, containerPath: '/dev/iommu' },
  { name: 'iommufd', type: 0, containerPath: undefined },
];

/** The modes with a container: everything a group-and-container program runs. */
export const CONTAINER_MODES: readonly IommuMode[] = ALL_IOMMU_MODES.filter(m => m.containerPath !== undefined);

/**
 * Whether the container of `mode` is iommufd's type1 emulation: /dev/iommu, or /dev/vfio/vfio on
 * a kernel built with CONFIG_IOMMUFD_VFIO_CONTAINER. Where it answers differently from
 * vfio_iommu_type1.c the tests say so.
 * @see drivers/iommu/iommufd/vfio_compat.c
 */
export function iommufdContainer(m: Machine, mode: IommuMode): boolean {
  return mode.containerPath === '/dev/iommu' || (mode.containerPath === '/dev/vfio/vfio' && m.topology.kconfig.CONFIG_IOMMUFD_VFIO_CONTAINER);
}

/** /dev/iommu of the target, or SKIP naming the Kconfig option the kernel lacks. */
export function needIommufd(t: SuiteT, m: Machine): void {
  if (!m.kernel.has('iommufd')) t.skip(`kernel ${m.kernel.release} has no iommufd (6.2 and later)`);
  if (!m.fs.existsSync('/dev/iommu')) t.skip('no /dev/iommu: a kernel built without CONFIG_IOMMUFD (--kconfig CONFIG_IOMMUFD=y)');
}

type Layout = Parameters<typeof abi.encode>[0];

/** A struct copied into fresh user memory; returns its address. */
export const put = <L extends Layout>(m: Machine, layout: L, value: abi.Input<L>, size = abi.sizeof(layout)): bigint => putStruct(m.mem, layout, value, size);

export const get = <L extends Layout>(m: Machine, layout: L, addr: bigint): abi.Decoded<L> => getStruct(m.mem, layout, addr);

/** A group VFIO can take: its members are on vfio-pci (or driverless/bridge drivers), one at least on vfio-pci. */
export function vfioGroup(t: SuiteT): string {
  const id = t.sysfs.groups().find(g => {
    const drivers = t.sysfs.groupDevices(g).map(b => t.sysfs.pciDriver(b));
    return drivers.includes('vfio-pci') && drivers.every(d => d === undefined || NON_DMA_API_DRIVERS.has(d));
  });
  if (id === undefined) t.skip('no viable group bound to vfio-pci');
  return id!;
}

export interface VfioSetup {
  readonly container: number;
  readonly group: number;
  readonly groupId: string;
  /** A device fd of the group (VFIO_GROUP_GET_DEVICE_FD), open as libvfio keeps it. */
  readonly device: number;
}

/** The container of a mode (default the VFIO container), checked the way libvfio does. */
export function openContainer(t: SuiteT, m: Machine, path: IommuMode['containerPath'] = '/dev/vfio/vfio'): number {
  if (path === undefined) t.skip('native iommufd has no container');
  if (path === '/dev/iommu') needIommufd(t, m);
  const fd = m.sys.open(path!, O_RDWR);
  t.assertLe(0, fd);
  t.assertEq(VFIO_API_VERSION, m.sys.ioctl(fd, VFIO_GET_API_VERSION));
  return fd;
}

export function openGroup(t: SuiteT, m: Machine, id: string): number {
  const fd = m.sys.open(`/dev/vfio/${id}`, O_RDWR);
  t.assertLe(0, fd);
  const st = put(m, vfio_group_status, { argsz: vfio_group_status.size });
  t.assertEq(0, m.sys.ioctl(fd, VFIO_GROUP_GET_STATUS, st));
  t.assertTrue(get(m, vfio_group_status, st).flags & VFIO_GROUP_FLAGS_VIABLE);
  return fd;
}

/**
 * container + group + SET_CONTAINER + SET_IOMMU(mode) + a device fd: what every type1 test starts
 * from, in libvfio's order (vfio_pci_group_setup, then VFIO_GROUP_GET_DEVICE_FD). The device fd
 * matters for iommufd: a group on an iommufd attaches its devices to the compat IOAS when a
 * device is opened, so before that the IOAS has no domain — full IOVA ranges, nothing pinned.
 * @see drivers/vfio/group.c:vfio_df_group_open, drivers/vfio/iommufd.c:vfio_iommufd_compat_attach_ioas
 */
export function iommuInit(t: SuiteT, m: Machine, mode: IommuMode, groupId = vfioGroup(t)): VfioSetup {
  const container = openContainer(t, m, mode.containerPath);
  if (m.sys.ioctl(container, VFIO_CHECK_EXTENSION, mode.type) !== 1) t.skip(`${mode.name} not supported`);
  const group = openGroup(t, m, groupId);
  const fdp = m.mem.alloc(new Uint8Array(new Int32Array([container]).buffer));
  t.assertEq(0, m.sys.ioctl(group, VFIO_GROUP_SET_CONTAINER, fdp));
  t.assertEq(0, m.sys.ioctl(container, VFIO_SET_IOMMU, mode.type));
  const bdf = t.sysfs.groupDevices(groupId).find(b => t.sysfs.pciDriver(b) === 'vfio-pci');
  t.assertNotNull(bdf ?? null);
  const device = m.sys.ioctl(group, VFIO_GROUP_GET_DEVICE_FD, m.mem.alloc(Buffer.from(`${bdf}\0`)));
  t.assertLe(0, device);
  return { container, group, groupId, device };
}

export interface MapArgs {
  readonly iova: bigint;
  readonly size: bigint;
  readonly vaddr?: bigint;
  readonly flags?: number;
  readonly argsz?: number;
}

/** Anonymous memory to map: `size` bytes, page aligned. */
export const buffer = (m: Machine, size: bigint): bigint => m.sys.mmap(size);

export function tryIommuMap(m: Machine, container: number, a: MapArgs): number {
  const vaddr = a.vaddr ?? buffer(m, a.size > 0n ? a.size : 4096n);
  const p = put(m, vfio_iommu_type1_dma_map, {
    argsz: a.argsz ?? vfio_iommu_type1_dma_map.size,
    flags: a.flags ?? VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
    vaddr,
    iova: a.iova,
    size: a.size,
  });
  return m.sys.ioctl(container, VFIO_IOMMU_MAP_DMA, p);
}
export const iommuMap = (t: SuiteT, m: Machine, c: number, a: MapArgs): void => t.assertEq(0, tryIommuMap(m, c, a));
export const errIommuMap = (t: SuiteT, m: Machine, errno: string, c: number, a: MapArgs): boolean => t.expectErrno(errno, tryIommuMap(m, c, a));

/** Returns rc, and the size the kernel wrote back (bytes unmapped). */
export function tryIommuUnmap(m: Machine, container: number, a: { iova: bigint; size: bigint; flags?: number; argsz?: number }): { rc: number; unmapped: bigint } {
  const p = put(m, vfio_iommu_type1_dma_unmap, { argsz: a.argsz ?? vfio_iommu_type1_dma_unmap.size, flags: a.flags ?? 0, iova: a.iova, size: a.size });
  const rc = m.sys.ioctl(container, VFIO_IOMMU_UNMAP_DMA, p);
  return { rc, unmapped: get(m, vfio_iommu_type1_dma_unmap, p).size };
}
export function iommuUnmap(t: SuiteT, m: Machine, c: number, a: { iova: bigint; size: bigint; flags?: number }): bigint {
  const r = tryIommuUnmap(m, c, a);
  t.assertEq(0, r.rc);
  return r.unmapped;
}
export const errIommuUnmap = (t: SuiteT, m: Machine, errno: string, c: number, a: { iova: bigint; size: bigint; flags?: number; argsz?: number }): boolean =>
  t.expectErrno(errno, tryIommuUnmap(m, c, a).rc);

export interface Type1Info {
  readonly rc: number;
  readonly info: abi.Decoded<typeof vfio_iommu_type1_info>;
  /** Inclusive ranges from VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, when the chain was returned. */
  readonly ranges: { start: bigint; end: bigint }[] | undefined;
}

/** VFIO_IOMMU_GET_INFO with a buffer of `argsz` bytes; walks the cap chain when it fit. */
export function tryIommuInfo(m: Machine, container: number, argsz: number): Type1Info {
  const p = put(m, vfio_iommu_type1_info, { argsz }, Math.max(argsz, vfio_iommu_type1_info.size));
  const rc = m.sys.ioctl(container, VFIO_IOMMU_GET_INFO, p);
  const info = get(m, vfio_iommu_type1_info, p);
  let ranges: Type1Info['ranges'];
  for (let off = info.cap_offset; rc === 0 && off !== 0 && off < argsz; ) {
    const hdr = abi.decode(vfio_info_cap_header, m.mem.read(p + BigInt(off), vfio_info_cap_header.size));
    if (hdr.id === VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
      const cap = abi.decode(vfio_iommu_type1_info_cap_iova_range, m.mem.read(p + BigInt(off), vfio_iommu_type1_info_cap_iova_range.size));
      const base = p + BigInt(off + vfio_iommu_type1_info_cap_iova_range.size);
      ranges = abi.decodeArray(vfio_iova_range, m.mem.read(base, cap.nr_iovas * vfio_iova_range.size), cap.nr_iovas);
    }
    off = hdr.next;
  }
  return { rc, info, ranges };
}

/** The protocol in two calls: ask with the fixed size, then again with the argsz the kernel asked for. */
export function iommuInfo(t: SuiteT, m: Machine, container: number): Type1Info {
  const first = tryIommuInfo(m, container, vfio_iommu_type1_info.size);
  t.assertEq(0, first.rc);
  const again = tryIommuInfo(m, container, first.info.argsz);
  t.assertEq(0, again.rc);
  return again;
}
