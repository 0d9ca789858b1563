// SPDX-License-Identifier: GPL-2.0-only
/**
 * A throwing convenience layer over iommufd and the VFIO device cdev, for tools and downstream
 * tests: every call goes through `machine.sys` as a C program's would (arguments in
 * `machine.mem`), and a failure throws the KernelError of its errno.
 *
 *   const io = iommufd.open(m);
 *   const ioas = io.ioasAlloc();
 *   const dev = iommufd.openCdev(m, 0);
 *   dev.bind(io);
 *   dev.attach(ioas);
 *   io.iovaRanges(ioas);
 *   io.map({ ioas, userVa: m.sys.mmap(1 << 21), length: 1n << 21n });
 */
import { decode, encode } from '../abi';
import { errnoName, kerr } from '../errno';
import { O_RDWR } from '../uapi/fcntl';
import type { Machine } from '../machine';
import type { IovaRange } from '../model/iova';
import {
  IOMMU_DESTROY,
  IOMMU_GET_HW_INFO,
  IOMMU_HWPT_ALLOC,
  IOMMU_IOAS_ALLOC,
  IOMMU_IOAS_ALLOW_IOVAS,
  IOMMU_IOAS_IOVA_RANGES,
  IOMMU_IOAS_MAP,
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  IOMMU_IOAS_UNMAP,
  IOMMU_VFIO_IOAS,
  IOMMU_VFIO_IOAS_GET,
  VFIO_DEVICE_ATTACH_IOMMUFD_PT,
  VFIO_DEVICE_BIND_IOMMUFD,
  VFIO_DEVICE_DETACH_IOMMUFD_PT,
  iommu_destroy,
  iommu_hw_info,
  iommu_hwpt_alloc,
  iommu_ioas_allow_iovas,
  iommu_ioas_alloc,
  iommu_ioas_iova_ranges,
  iommu_ioas_map,
  iommu_ioas_unmap,
  iommu_iova_range,
  iommu_vfio_ioas,
  vfio_device_attach_iommufd_pt,
  vfio_device_bind_iommufd,
  vfio_device_detach_iommufd_pt,
} from '../uapi';
import { Handle, VfioDeviceHandle } from './vfio';
import { must as check } from './sys';

/** An iommufd (`/dev/iommu`, or iommufd's `/dev/vfio/vfio`). */
export class IommufdHandle extends Handle {
  static open(m: Machine, path = '/dev/iommu'): IommufdHandle {
    return new IommufdHandle(m, check(m.sys.open(path, O_RDWR), `open ${path}`));
  }

  ioasAlloc(): number {
    const p = this.buf(encode(iommu_ioas_alloc, { size: iommu_ioas_alloc.size }));
    this.ioctl(IOMMU_IOAS_ALLOC, p, 'IOMMU_IOAS_ALLOC');
    return decode(iommu_ioas_alloc, this.read(p, iommu_ioas_alloc.size)).out_ioas_id;
  }

  destroy(id: number): void {
    this.ioctl(IOMMU_DESTROY, this.buf(encode(iommu_destroy, { size: iommu_destroy.size, id })), 'IOMMU_DESTROY');
  }

  /**
   * IOAS_IOVA_RANGES the way QEMU asks: with no room first (EMSGSIZE, the count written back),
   * then again with room for that many. `calls` counts the ioctls.
   */
  iovaRanges(ioas: number): { ranges: IovaRange[]; alignment: bigint; calls: number } {
    let room = 0;
    for (let calls = 1; ; calls++) {
      const arr = room ? this.m.sys.mmap(BigInt(16 * room)) : 0n;
      const p = this.buf(encode(iommu_ioas_iova_ranges, { size: iommu_ioas_iova_ranges.size, ioas_id: ioas, num_iovas: room, allowed_iovas: arr }));
      const rc = this.m.sys.ioctl(this.fd, IOMMU_IOAS_IOVA_RANGES, p);
      const out = decode(iommu_ioas_iova_ranges, this.read(p, iommu_ioas_iova_ranges.size));
      if (rc === 0) {
        const ranges = Array.from({ length: out.num_iovas }, (_, i) => decode(iommu_iova_range, this.m.mem.read(arr + BigInt(16 * i), 16)));
        if (arr) this.m.sys.munmap(arr, BigInt(16 * room));
        return { ranges, alignment: out.out_iova_alignment, calls };
      }
      if (arr) this.m.sys.munmap(arr, BigInt(16 * room));
      if (errnoName(-rc) !== 'EMSGSIZE' || calls > 4) check(rc, 'IOMMU_IOAS_IOVA_RANGES');
      room = out.num_iovas;
    }
  }

  allowIovas(ioas: number, ranges: readonly IovaRange[]): void {
    const arr = ranges.length ? this.m.sys.mmap(BigInt(16 * ranges.length)) : 0n;
    ranges.forEach((r, i) => this.m.mem.write(arr + BigInt(16 * i), encode(iommu_iova_range, { start: r.start, last: r.last })));
    const p = this.buf(encode(iommu_ioas_allow_iovas, { size: iommu_ioas_allow_iovas.size, ioas_id: ioas, num_iovas: ranges.length, allowed_iovas: arr }));
    try {
      this.ioctl(IOMMU_IOAS_ALLOW_IOVAS, p, 'IOMMU_IOAS_ALLOW_IOVAS');
    } finally {
      if (arr) this.m.sys.munmap(arr, BigInt(16 * ranges.length));
    }
  }

  /** IOAS_MAP: at `iova` (fixed), or where the kernel places it; returns the IOVA. Read-write by default. */
  map(a: { ioas: number; userVa: bigint; length: bigint; iova?: bigint; flags?: number }): bigint {
    let flags = a.flags ?? IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;
    if (a.iova !== undefined) flags |= IOMMU_IOAS_MAP_FIXED_IOVA;
    const p = this.buf(encode(iommu_ioas_map, { size: iommu_ioas_map.size, flags, ioas_id: a.ioas, user_va: a.userVa, length: a.length, iova: a.iova ?? 0n }));
    this.ioctl(IOMMU_IOAS_MAP, p, 'IOMMU_IOAS_MAP');
    return decode(iommu_ioas_map, this.read(p, iommu_ioas_map.size)).iova;
  }

  /** Returns the bytes unmapped. iova 0, length U64_MAX: everything. */
  unmap(ioas: number, iova: bigint, length: bigint): bigint {
    const p = this.buf(encode(iommu_ioas_unmap, { size: iommu_ioas_unmap.size, ioas_id: ioas, iova, length }));
    this.ioctl(IOMMU_IOAS_UNMAP, p, 'IOMMU_IOAS_UNMAP');
    return decode(iommu_ioas_unmap, this.read(p, iommu_ioas_unmap.size)).length;
  }

  hwptAlloc(a: { devId: number; ptId: number; flags?: number }): number {
    const p = this.buf(encode(iommu_hwpt_alloc, { size: iommu_hwpt_alloc.size, dev_id: a.devId, pt_id: a.ptId, flags: a.flags ?? 0 }));
    this.ioctl(IOMMU_HWPT_ALLOC, p, 'IOMMU_HWPT_ALLOC');
    return decode(iommu_hwpt_alloc, this.read(p, iommu_hwpt_alloc.size)).out_hwpt_id;
  }

  hwInfo(devId: number): { type: number; dataLen: number; capabilities: bigint } {
    const p = this.buf(encode(iommu_hw_info, { size: iommu_hw_info.size, dev_id: devId }));
    this.ioctl(IOMMU_GET_HW_INFO, p, 'IOMMU_GET_HW_INFO');
    const i = decode(iommu_hw_info, this.read(p, iommu_hw_info.size));
    return { type: i.out_data_type, dataLen: i.data_len, capabilities: i.out_capabilities };
  }

  /** The VFIO compat IOAS (the one a group on this iommufd attaches to). */
  compatIoas(): number {
    const p = this.buf(encode(iommu_vfio_ioas, { size: iommu_vfio_ioas.size, op: IOMMU_VFIO_IOAS_GET }));
    this.ioctl(IOMMU_VFIO_IOAS, p, 'IOMMU_VFIO_IOAS');
    return decode(iommu_vfio_ioas, this.read(p, iommu_vfio_ioas.size)).ioas_id;
  }
}

/** `/dev/vfio/devices/vfioN`: a device fd once bound. */
export class VfioCdevHandle extends VfioDeviceHandle {
  static open(m: Machine, index: number): VfioCdevHandle {
    const path = `/dev/vfio/devices/vfio${index}`;
    return new VfioCdevHandle(m, check(m.sys.open(path, O_RDWR), `open ${path}`));
  }

  /** VFIO_DEVICE_BIND_IOMMUFD; returns the iommufd device id. */
  bind(io: IommufdHandle): number {
    const p = this.buf(encode(vfio_device_bind_iommufd, { argsz: 16, iommufd: io.fd }).subarray(0, 16));
    this.ioctl(VFIO_DEVICE_BIND_IOMMUFD, p, 'VFIO_DEVICE_BIND_IOMMUFD');
    return new DataView(this.read(p, 16).slice().buffer).getUint32(12, true);
  }

  /** VFIO_DEVICE_ATTACH_IOMMUFD_PT to an IOAS or HWPT; returns the HWPT id. */
  attach(ptId: number): number {
    const p = this.buf(encode(vfio_device_attach_iommufd_pt, { argsz: 12, pt_id: ptId }).subarray(0, 12));
    this.ioctl(VFIO_DEVICE_ATTACH_IOMMUFD_PT, p, 'VFIO_DEVICE_ATTACH_IOMMUFD_PT');
    return new DataView(this.read(p, 12).slice().buffer).getUint32(8, true);
  }

  detach(): void {
    this.ioctl(VFIO_DEVICE_DETACH_IOMMUFD_PT, this.buf(encode(vfio_device_detach_iommufd_pt, { argsz: 8 }).subarray(0, 8)), 'VFIO_DEVICE_DETACH_IOMMUFD_PT');
  }
}

export const iommufd = {
  open: (m: Machine, path?: string) => IommufdHandle.open(m, path),
  openCdev: (m: Machine, index: number) => VfioCdevHandle.open(m, index),
};

/** What `iommu-emu vfio-info --iommufd` prints. */
export interface IommufdInfo {
  readonly group: number;
  readonly kernel: string;
  /** The group's VFIO devices, each bound through its cdev and attached. */
  readonly devices: { readonly bdf: string; readonly cdev: string; readonly devid: number }[];
  readonly ioas: number;
  readonly hwpt: number;
  readonly alignment: bigint;
  /** IOAS_IOVA_RANGES after the attach. */
  readonly iovaRanges: IovaRange[];
  /** The ioctls QEMU's probe-then-fetch needed. */
  readonly calls: number;
  /** The IOMMU core's usable IOVA for the group (what type1 reports too). */
  readonly groupUsableIova: IovaRange[];
}

/**
 * Open /dev/iommu and an IOAS, bind every VFIO device of group `groupId` through its cdev and
 * attach it to the IOAS, and read IOAS_IOVA_RANGES; everything is closed again. Needs a kernel
 * with the device cdev built (6.6+, CONFIG_IOMMUFD with CONFIG_VFIO_DEVICE_CDEV).
 */
export function iommufdInfo(m: Machine, groupId: number): IommufdInfo {
  const group = m.host.findGroup(groupId);
  if (!group) throw kerr('ENOENT', `no IOMMU group ${groupId}`);
  const devs = group.devices.filter((d) => d.vfioDevIndex !== undefined);
  if (!devs.length) throw kerr('ENODEV', `group ${groupId} has no device on vfio-pci`);
  const io = IommufdHandle.open(m);
  const cdevs: VfioCdevHandle[] = [];
  try {
    const ioas = io.ioasAlloc();
    const devices: IommufdInfo['devices'][number][] = [];
    let hwpt = 0;
    for (const d of devs) {
      const c = VfioCdevHandle.open(m, d.vfioDevIndex!);
      cdevs.push(c);
      const devid = c.bind(io);
      hwpt = c.attach(ioas);
      devices.push({ bdf: d.bdf, cdev: `/dev/vfio/devices/vfio${d.vfioDevIndex}`, devid });
    }
    const r = io.iovaRanges(ioas);
    return { group: groupId, kernel: m.kernel.release, devices, ioas, hwpt, alignment: r.alignment, iovaRanges: r.ranges, calls: r.calls, groupUsableIova: m.host.groupUsableIova(group) };
  } finally {
    for (const c of cdevs) c.close();
    io.close();
  }
}
