// SPDX-License-Identifier: GPL-2.0-only
/**
 * A throwing convenience layer over the raw VFIO ioctls, for tools and downstream tests. Every
 * call goes through `machine.sys` exactly as a C program's would (user buffers in
 * `machine.mem`, `-errno` results), and a failure throws the KernelError of that errno.
 *
 *   const c = vfio.openContainer(m);
 *   const g = vfio.openGroup(m, 7);
 *   g.setContainer(c);
 *   c.setIommu(VFIO_TYPE1v2_IOMMU);
 *   c.map({ iova: 0x100000n, size: 0x200000n, vaddr: m.sys.mmap(0x200000) });
 *   c.iovaRanges();
 */
import { decode, decodeFlex, encode, walkCapChain } from '../abi';
import { must } from './sys';
import { O_RDWR } from '../uapi/fcntl';
import type { Machine } from '../machine';
import type { IovaRange } from '../model/iova';
import {
  VFIO_CHECK_EXTENSION,
  VFIO_DEVICE_GET_INFO,
  VFIO_DEVICE_GET_IRQ_INFO,
  VFIO_DEVICE_GET_PCI_HOT_RESET_INFO,
  VFIO_DEVICE_GET_REGION_INFO,
  VFIO_DEVICE_RESET,
  VFIO_DEVICE_SET_IRQS,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_DMA_UNMAP_FLAG_ALL,
  VFIO_GET_API_VERSION,
  VFIO_GROUP_GET_DEVICE_FD,
  VFIO_GROUP_GET_STATUS,
  VFIO_GROUP_SET_CONTAINER,
  VFIO_GROUP_UNSET_CONTAINER,
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
  VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION,
  VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_PCI_CONFIG_REGION_INDEX,
  VFIO_PCI_INDEX_TO_OFFSET,
  VFIO_SET_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  vfio_device_info,
  vfio_group_status,
  vfio_iommu_type1_dma_map,
  vfio_iommu_type1_dma_unmap,
  vfio_iommu_type1_info,
  vfio_iommu_type1_info_cap_iova_range,
  vfio_iommu_type1_info_cap_migration,
  vfio_iommu_type1_info_dma_avail,
  vfio_irq_info,
  vfio_irq_set,
  vfio_pci_hot_reset_info,
  vfio_region_info,
} from '../uapi';

const SCRATCH = 0x10000;

/** An fd plus one scratch page range in the emulated process for ioctl arguments. */
export abstract class Handle {
  private scratch: bigint | undefined;
  constructor(
    readonly m: Machine,
    readonly fd: number,
  ) {}

  protected buf(bytes: Uint8Array): bigint {
    if (bytes.length > SCRATCH) throw new Error('ioctl argument larger than the scratch buffer');
    if (this.scratch === undefined) this.scratch = this.m.mem.mmap(SCRATCH);
    this.m.mem.write(this.scratch, bytes);
    return this.scratch;
  }

  protected read(addr: bigint, len: number): Uint8Array {
    return this.m.mem.read(addr, len);
  }

  protected ioctl(req: number, arg: bigint | number, what: string): number {
    return must(this.m.sys.ioctl(this.fd, req, arg), what);
  }

  close(): void {
    must(this.m.sys.close(this.fd), 'close');
    if (this.scratch !== undefined) this.m.mem.munmap(this.scratch, SCRATCH);
    this.scratch = undefined;
  }
}

export interface Type1Info {
  /** The argsz the kernel reported (the size needed for the whole capability chain). */
  readonly argsz: number;
  readonly flags: number;
  readonly iovaPgsizes: bigint;
  /** Absent when the kernel gives no IOVA-range capability (pre-5.4, or an empty list). */
  readonly iovaRanges?: IovaRange[];
  readonly dmaAvail?: number;
  readonly migration?: { readonly flags: number; readonly pgsizeBitmap: bigint; readonly maxDirtyBitmapSize: bigint };
  /** ioctl calls the QEMU-style argsz loop needed. */
  readonly calls: number;
  /** Every capability in the chain, in chain order, with its bytes (header included). */
  readonly caps: readonly { readonly id: number; readonly version: number; readonly bytes: Uint8Array }[];
}

export interface DmaMapArgs {
  readonly iova: bigint;
  readonly size: bigint;
  readonly vaddr: bigint;
  /** READ | WRITE by default. */
  readonly flags?: number;
}

/** A `/dev/vfio/vfio` container fd. */
export class VfioContainerHandle extends Handle {
  static open(m: Machine): VfioContainerHandle {
    return new VfioContainerHandle(m, must(m.sys.open('/dev/vfio/vfio', O_RDWR), 'open /dev/vfio/vfio'));
  }

  apiVersion(): number {
    return this.ioctl(VFIO_GET_API_VERSION, 0, 'VFIO_GET_API_VERSION');
  }

  checkExtension(ext: number): number {
    return this.ioctl(VFIO_CHECK_EXTENSION, ext, 'VFIO_CHECK_EXTENSION');
  }

  setIommu(type: number = VFIO_TYPE1v2_IOMMU): void {
    this.ioctl(VFIO_SET_IOMMU, type, 'VFIO_SET_IOMMU');
  }

  /** VFIO_IOMMU_GET_INFO with QEMU's loop: grow to the reported argsz and ask again. */
  info(): Type1Info {
    let argsz = vfio_iommu_type1_info.size;
    let calls = 0;
    for (;;) {
      const p = this.buf(encode(vfio_iommu_type1_info, { argsz }));
      this.ioctl(VFIO_IOMMU_GET_INFO, p, 'VFIO_IOMMU_GET_INFO');
      calls++;
      const info = decode(vfio_iommu_type1_info, this.read(p, vfio_iommu_type1_info.size));
      if (info.argsz > argsz && calls < 8) {
        argsz = info.argsz;
        continue;
      }
      const raw = this.read(p, Math.max(argsz, vfio_iommu_type1_info.size));
      return { argsz: info.argsz, flags: info.flags, iovaPgsizes: info.iova_pgsizes, calls, ...parseType1Caps(raw, info.cap_offset) };
    }
  }

  iovaRanges(): IovaRange[] {
    return this.info().iovaRanges ?? [];
  }

  map(a: DmaMapArgs): void {
    const flags = a.flags ?? VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
    const p = this.buf(encode(vfio_iommu_type1_dma_map, { argsz: vfio_iommu_type1_dma_map.size, flags, vaddr: a.vaddr, iova: a.iova, size: a.size }));
    this.ioctl(VFIO_IOMMU_MAP_DMA, p, 'VFIO_IOMMU_MAP_DMA');
  }

  /** Returns the bytes the kernel reports unmapped. */
  unmap(a: { iova: bigint; size: bigint; flags?: number }): bigint {
    const p = this.buf(encode(vfio_iommu_type1_dma_unmap, { argsz: vfio_iommu_type1_dma_unmap.size, flags: a.flags ?? 0, iova: a.iova, size: a.size }));
    this.ioctl(VFIO_IOMMU_UNMAP_DMA, p, 'VFIO_IOMMU_UNMAP_DMA');
    return decode(vfio_iommu_type1_dma_unmap, this.read(p, vfio_iommu_type1_dma_unmap.size)).size;
  }

  unmapAll(): bigint {
    return this.unmap({ iova: 0n, size: 0n, flags: VFIO_DMA_UNMAP_FLAG_ALL });
  }
}

function parseType1Caps(raw: Uint8Array, capOffset: number): Pick<Type1Info, 'iovaRanges' | 'dmaAvail' | 'migration' | 'caps'> {
  const out: { iovaRanges?: IovaRange[]; dmaAvail?: number; migration?: Type1Info['migration']; caps: { id: number; version: number; bytes: Uint8Array }[] } = { caps: [] };
  if (!capOffset) return out;
  const chain = walkCapChain(raw, capOffset).caps;
  chain.forEach((cap, i) => {
    const end = i + 1 < chain.length ? chain[i + 1]!.offset : raw.length;
    out.caps.push({ id: cap.id, version: cap.version, bytes: raw.slice(cap.offset, cap.next > cap.offset ? Math.min(cap.next, end) : end) });
  });
  for (const cap of chain) {
    if (cap.id === VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
      const c = decode(vfio_iommu_type1_info_cap_iova_range, raw, cap.offset);
      out.iovaRanges = decodeFlex(vfio_iommu_type1_info_cap_iova_range, 'iova_ranges', raw, c.nr_iovas, cap.offset).map((r) => ({
        start: r.start,
        last: r.end,
      }));
    } else if (cap.id === VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL) {
      out.dmaAvail = decode(vfio_iommu_type1_info_dma_avail, raw, cap.offset).avail;
    } else if (cap.id === VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION) {
      const c = decode(vfio_iommu_type1_info_cap_migration, raw, cap.offset);
      out.migration = { flags: c.flags, pgsizeBitmap: c.pgsize_bitmap, maxDirtyBitmapSize: c.max_dirty_bitmap_size };
    }
  }
  return out;
}

/** A `/dev/vfio/<group>` fd. */
export class VfioGroupHandle extends Handle {
  static open(m: Machine, group: number | string): VfioGroupHandle {
    const path = `/dev/vfio/${group}`;
    return new VfioGroupHandle(m, must(m.sys.open(path, O_RDWR), `open ${path}`));
  }

  status(): number {
    const p = this.buf(encode(vfio_group_status, { argsz: vfio_group_status.size }));
    this.ioctl(VFIO_GROUP_GET_STATUS, p, 'VFIO_GROUP_GET_STATUS');
    return decode(vfio_group_status, this.read(p, vfio_group_status.size)).flags;
  }

  setContainer(c: VfioContainerHandle): void {
    const p = this.buf(Uint8Array.from([c.fd & 0xff, (c.fd >> 8) & 0xff, (c.fd >> 16) & 0xff, (c.fd >> 24) & 0xff]));
    this.ioctl(VFIO_GROUP_SET_CONTAINER, p, 'VFIO_GROUP_SET_CONTAINER');
  }

  unsetContainer(): void {
    this.ioctl(VFIO_GROUP_UNSET_CONTAINER, 0, 'VFIO_GROUP_UNSET_CONTAINER');
  }

  device(name: string): VfioDeviceHandle {
    const p = this.buf(new TextEncoder().encode(`${name}\0`));
    return new VfioDeviceHandle(this.m, this.ioctl(VFIO_GROUP_GET_DEVICE_FD, p, 'VFIO_GROUP_GET_DEVICE_FD'));
  }
}

/** A vfio-pci device fd. */
export class VfioDeviceHandle extends Handle {
  info(): { flags: number; numRegions: number; numIrqs: number } {
    const p = this.buf(encode(vfio_device_info, { argsz: vfio_device_info.size }));
    this.ioctl(VFIO_DEVICE_GET_INFO, p, 'VFIO_DEVICE_GET_INFO');
    const i = decode(vfio_device_info, this.read(p, vfio_device_info.size));
    return { flags: i.flags, numRegions: i.num_regions, numIrqs: i.num_irqs };
  }

  /** Region info with the capability chain fetched (the buffer grown once if needed). */
  regionInfo(index: number): { flags: number; size: bigint; offset: bigint; caps: { id: number; offset: number }[]; raw: Uint8Array } {
    let argsz = vfio_region_info.size;
    for (let i = 0; ; i++) {
      const p = this.buf(encode(vfio_region_info, { argsz, index }));
      this.ioctl(VFIO_DEVICE_GET_REGION_INFO, p, 'VFIO_DEVICE_GET_REGION_INFO');
      const r = decode(vfio_region_info, this.read(p, vfio_region_info.size));
      if (r.argsz > argsz && i === 0) {
        argsz = r.argsz;
        continue;
      }
      const raw = this.read(p, argsz);
      const caps = r.cap_offset ? walkCapChain(raw, r.cap_offset).caps.map((c) => ({ id: c.id, offset: c.offset })) : [];
      return { flags: r.flags, size: r.size, offset: r.offset, caps, raw };
    }
  }

  irqInfo(index: number): { flags: number; count: number } {
    const p = this.buf(encode(vfio_irq_info, { argsz: vfio_irq_info.size, index }));
    this.ioctl(VFIO_DEVICE_GET_IRQ_INFO, p, 'VFIO_DEVICE_GET_IRQ_INFO');
    const i = decode(vfio_irq_info, this.read(p, vfio_irq_info.size));
    return { flags: i.flags, count: i.count };
  }

  /** VFIO_DEVICE_SET_IRQS; `data` is the raw payload (bools or s32 eventfds). */
  setIrqs(a: { flags: number; index: number; start: number; count: number; data?: Uint8Array }): void {
    const data = a.data ?? new Uint8Array(0);
    const hdr = encode(vfio_irq_set, { argsz: vfio_irq_set.size + data.length, flags: a.flags, index: a.index, start: a.start, count: a.count });
    const bytes = new Uint8Array(hdr.length + data.length);
    bytes.set(hdr);
    bytes.set(data, hdr.length);
    this.ioctl(VFIO_DEVICE_SET_IRQS, this.buf(bytes), 'VFIO_DEVICE_SET_IRQS');
  }

  reset(): void {
    this.ioctl(VFIO_DEVICE_RESET, 0, 'VFIO_DEVICE_RESET');
  }

  hotResetInfo(): { groupId: number; segment: number; bus: number; devfn: number }[] {
    const argsz = vfio_pci_hot_reset_info.size + 8 * 64;
    const p = this.buf(encode(vfio_pci_hot_reset_info, { argsz }));
    this.ioctl(VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, p, 'VFIO_DEVICE_GET_PCI_HOT_RESET_INFO');
    const raw = this.read(p, argsz);
    const hdr = decode(vfio_pci_hot_reset_info, raw);
    return decodeFlex(vfio_pci_hot_reset_info, 'devices', raw, hdr.count).map((d) => ({ groupId: d.group_id, segment: d.segment, bus: d.bus, devfn: d.devfn }));
  }

  readConfig(offset: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    const n = must(this.m.sys.pread(this.fd, out, VFIO_PCI_INDEX_TO_OFFSET(VFIO_PCI_CONFIG_REGION_INDEX) + BigInt(offset)), 'pread');
    return out.subarray(0, n);
  }

  writeConfig(offset: number, data: Uint8Array): number {
    return must(this.m.sys.pwrite(this.fd, data, VFIO_PCI_INDEX_TO_OFFSET(VFIO_PCI_CONFIG_REGION_INDEX) + BigInt(offset)), 'pwrite');
  }
}

export const vfio = {
  openContainer: (m: Machine) => VfioContainerHandle.open(m),
  openGroup: (m: Machine, group: number | string) => VfioGroupHandle.open(m, group),
};

/** What `iommu-emu vfio-info` prints: VFIO_IOMMU_GET_INFO after attaching one group. */
export interface VfioInfo {
  readonly group: number;
  readonly kernel: string;
  readonly iommuType: number;
  readonly iovaPgsizes: bigint;
  /** Each supported page size, smallest first. */
  readonly pageSizes: bigint[];
  /** Usable IOVA ranges (inclusive); empty when the kernel gives no IOVA-range capability. */
  readonly iovaRanges: IovaRange[];
  readonly dmaAvail: number | undefined;
  readonly migration: Type1Info['migration'];
  /** The argsz the whole reply needs (padding rule of the kernel profile included). */
  readonly argsz: number;
}

/**
 * Open a container, attach group `groupId` (its /dev/vfio node must exist: a device bound to
 * vfio-pci), SET_IOMMU and read GET_INFO; everything is closed again before returning.
 */
export function vfioInfo(m: Machine, groupId: number, opts: { iommuType?: number } = {}): VfioInfo {
  const iommuType = opts.iommuType ?? VFIO_TYPE1v2_IOMMU;
  const c = VfioContainerHandle.open(m);
  try {
    const g = VfioGroupHandle.open(m, groupId);
    try {
      g.setContainer(c);
      c.setIommu(iommuType);
      const info = c.info();
      const pageSizes: bigint[] = [];
      for (let b = 0n; b < 64n; b++) if ((info.iovaPgsizes >> b) & 1n) pageSizes.push(1n << b);
      return {
        group: groupId,
        kernel: m.kernel.release,
        iommuType,
        iovaPgsizes: info.iovaPgsizes,
        pageSizes,
        iovaRanges: info.iovaRanges ?? [],
        dmaAvail: info.dmaAvail,
        migration: info.migration,
        argsz: info.argsz,
      };
    } finally {
      g.close();
    }
  } finally {
    c.close();
  }
}
