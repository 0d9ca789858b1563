// SPDX-License-Identifier: GPL-2.0-only
/**
 * What real consumers rely on: QEMU's GET_INFO argsz loop, DPDK's CHECK_EXTENSION == 1,
 * rust-vmm's GET_STATUS == VIABLE, config space reads, a BAR mmap shared with the device, an
 * interrupt delivered to an eventfd, and fd lifetime across dup, fork and exit. In process; its C
 * twin (kselftest/c/vfio_device_test.c) runs the same tests through the preload shim.
 * @see hw/vfio/container.c (QEMU), lib/eal/linux/eal_vfio.c (DPDK), vfio-ioctls (rust-vmm)
 */
import {
  MAP_PRIVATE,
  MAP_SHARED,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  VFIO_CHECK_EXTENSION,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_IOMMU_MAP_DMA,
  VFIO_DEVICE_GET_IRQ_INFO,
  VFIO_DEVICE_GET_REGION_INFO,
  VFIO_DEVICE_SET_IRQS,
  VFIO_GROUP_FLAGS_CONTAINER_SET,
  VFIO_GROUP_FLAGS_VIABLE,
  VFIO_GROUP_GET_DEVICE_FD,
  VFIO_GROUP_GET_STATUS,
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_INFO_PGSIZES,
  VFIO_IRQ_INFO_EVENTFD,
  VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_DATA_NONE,
  VFIO_PCI_BAR0_REGION_INDEX,
  VFIO_PCI_BAR5_REGION_INDEX,
  VFIO_PCI_CONFIG_REGION_INDEX,
  VFIO_PCI_MSIX_IRQ_INDEX,
  VFIO_PCI_MSI_IRQ_INDEX,
  VFIO_REGION_INFO_FLAG_MMAP,
  VFIO_TYPE1_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  abi,
  eventfd,
  vfio_group_status,
  vfio_irq_info,
  vfio_irq_set,
  vfio_iommu_type1_dma_map,
  vfio_iommu_type1_info,
  vfio_region_info,
  type Machine,
} from '../../lib/index';
import { suite, needMachine, type SuiteT } from '../lib/suite';
import { ALL_IOMMU_MODES, get, iommuInfo, iommuInit, openContainer, openGroup, put, tryIommuUnmap, vfioGroup, type VfioSetup } from '../lib/iommu';

const h = suite('vfio_device_test');
const MiB = 1n << 20n;
const V2 = ALL_IOMMU_MODES.find(x => x.type === VFIO_TYPE1v2_IOMMU)!;

const device = h.fixture<{ m: Machine; id: string }>('device', {
  setup(t) {
    const m = needMachine(t);
    return { m, id: vfioGroup(t) };
  },
});

/** A type1v2 container with the group and one device of it open. */
function openDevice(t: SuiteT, m: Machine, id: string): VfioSetup & { dev: number; bdf: string } {
  const s = iommuInit(t, m, V2, id);
  const bdf = t.sysfs.groupDevices(id).find(b => t.sysfs.pciDriver(b) === 'vfio-pci')!;
  const dev = m.sys.ioctl(s.group, VFIO_GROUP_GET_DEVICE_FD, m.mem.alloc(Buffer.from(`${bdf}\0`)));
  t.assertLe(0, dev);
  return { ...s, dev, bdf };
}

/** QEMU's loop: grow the buffer to the argsz the kernel asks for until it fits; it must end. */
device.test('qemu_info_argsz_loop', (t, { m, id }) => {
  const s = iommuInit(t, m, V2, id);
  let argsz = vfio_iommu_type1_info.size;
  let info;
  for (let rounds = 0; ; ) {
    const p = put(m, vfio_iommu_type1_info, { argsz }, argsz);
    t.assertEq(0, m.sys.ioctl(s.container, VFIO_IOMMU_GET_INFO, p));
    t.assertLt(rounds++, 2);
    info = get(m, vfio_iommu_type1_info, p);
    if (info.argsz <= argsz) break;
    argsz = info.argsz;
  }
  t.expectTrue(info.flags & VFIO_IOMMU_INFO_PGSIZES);
  t.expectNe(0n, info.iova_pgsizes);
});

/** DPDK counts an extension only when CHECK_EXTENSION returns exactly 1. */
device.test('dpdk_check_extension_is_one', (t, { m }) => {
  const c = openContainer(t, m);
  t.expectEq(1, m.sys.ioctl(c, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU));
  t.expectEq(1, m.sys.ioctl(c, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU));
});

/** rust-vmm rejects a group whose flags are anything but exactly VIABLE. */
device.test('rust_vmm_group_viable', (t, { m, id }) => {
  const g = openGroup(t, m, id);
  const p = put(m, vfio_group_status, { argsz: vfio_group_status.size });
  t.assertEq(0, m.sys.ioctl(g, VFIO_GROUP_GET_STATUS, p));
  t.expectEq(VFIO_GROUP_FLAGS_VIABLE, get(m, vfio_group_status, p).flags);
});

function regionInfo(m: Machine, dev: number, index: number): { rc: number; info: abi.Decoded<typeof vfio_region_info> } {
  const p = put(m, vfio_region_info, { argsz: vfio_region_info.size, index });
  const rc = m.sys.ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, p);
  return { rc, info: get(m, vfio_region_info, p) };
}

const hex = (t: SuiteT, bdf: string, attr: string): number => Number.parseInt(t.sysfs.read(`/sys/bus/pci/devices/${bdf}/${attr}`).trim(), 16);

/** Vendor, device and class through the config region are what sysfs says. */
device.test('config_space_ids', (t, { m, id }) => {
  const s = openDevice(t, m, id);
  const r = regionInfo(m, s.dev, VFIO_PCI_CONFIG_REGION_INDEX);
  t.assertEq(0, r.rc);
  t.expectLe(256n, r.info.size);
  const cfg = new Uint8Array(12);
  t.assertEq(12, m.sys.pread(s.dev, cfg, r.info.offset));
  t.expectEq(hex(t, s.bdf, 'vendor'), cfg[0]! | (cfg[1]! << 8));
  t.expectEq(hex(t, s.bdf, 'device'), cfg[2]! | (cfg[3]! << 8));
  t.expectEq(hex(t, s.bdf, 'class'), cfg[9]! | (cfg[10]! << 8) | (cfg[11]! << 16));
});

/** The first BAR the device lets userspace mmap, or SKIP. */
function mmapBar(t: SuiteT, m: Machine, dev: number): abi.Decoded<typeof vfio_region_info> {
  for (let i = VFIO_PCI_BAR0_REGION_INDEX; i <= VFIO_PCI_BAR5_REGION_INDEX; i++) {
    const r = regionInfo(m, dev, i);
    if (r.rc === 0 && r.info.size >= 4096n && r.info.flags & VFIO_REGION_INFO_FLAG_MMAP) return r.info;
  }
  t.skip('no mmappable BAR');
  throw new Error('unreachable');
}

const u32le = (n: number): Uint8Array => new Uint8Array(new Uint32Array([n]).buffer);
const readU32 = (b: Uint8Array): number => new DataView(b.buffer, b.byteOffset).getUint32(0, true);

/** A BAR mapped by the program is the device's: stores through it are read back by pread, and pwrite shows in it. */
device.test('region_mmap', (t, { m, id }) => {
  const s = openDevice(t, m, id);
  const bar = mmapBar(t, m, s.dev);
  const addr = m.sys.mmap(4096, { prot: PROT_READ | PROT_WRITE, flags: MAP_SHARED, fd: s.dev, offset: bar.offset });
  t.assertLe(0n, addr);
  m.mem.write(addr + 16n, u32le(0xc0ffee11));
  const got = new Uint8Array(4);
  t.assertEq(4, m.sys.pread(s.dev, got, bar.offset + 16n));
  t.expectEq(0xc0ffee11, readU32(got));
  t.assertEq(4, m.sys.pwrite(s.dev, u32le(0x5eed5eed), bar.offset + 32n));
  t.expectEq(0x5eed5eed, readU32(m.mem.read(addr + 32n, 4)));
  t.expectEq(0, m.sys.munmap(addr, 4096));
});

/** A device mapping must be shared. @see drivers/vfio/pci/vfio_pci_core.c:vfio_pci_core_mmap */
device.test('region_mmap_private', (t, { m, id }) => {
  const s = openDevice(t, m, id);
  const bar = mmapBar(t, m, s.dev);
  t.expectErrno('EINVAL', Number(m.sys.mmap(4096, { prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE, fd: s.dev, offset: bar.offset })));
});

function setIrqs(m: Machine, dev: number, flags: number, index: number, start: number, count: number, fds?: number[]): number {
  const data = fds ? new Uint8Array(new Int32Array(fds).buffer) : new Uint8Array(0);
  const bytes = new Uint8Array(vfio_irq_set.size + data.length);
  bytes.set(abi.encode(vfio_irq_set, { argsz: bytes.length, flags, index, start, count }));
  bytes.set(data, vfio_irq_set.size);
  return m.sys.ioctl(dev, VFIO_DEVICE_SET_IRQS, m.mem.alloc(bytes));
}

/** The interrupt index to use: MSI-X, else MSI, with at least one vector. */
function msiIndex(t: SuiteT, m: Machine, dev: number): number {
  for (const index of [VFIO_PCI_MSIX_IRQ_INDEX, VFIO_PCI_MSI_IRQ_INDEX]) {
    const p = put(m, vfio_irq_info, { argsz: vfio_irq_info.size, index });
    const rc = m.sys.ioctl(dev, VFIO_DEVICE_GET_IRQ_INFO, p);
    const ii = get(m, vfio_irq_info, p);
    if (rc === 0 && ii.count > 0 && ii.flags & VFIO_IRQ_INFO_EVENTFD) return index;
  }
  t.skip('the device has neither MSI-X nor MSI');
  throw new Error('unreachable');
}

/** An eventfd wired to vector 0 is signalled when the vector fires (here: triggered by DATA_NONE). */
device.test('irq_eventfd', (t, { m, id }) => {
  const s = openDevice(t, m, id);
  const index = msiIndex(t, m, s.dev);
  const efd = eventfd(m.init);
  t.assertLe(0, efd);
  t.assertEq(0, setIrqs(m, s.dev, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, index, 0, 1, [efd]));
  const n = new Uint8Array(8);
  t.expectErrno('EAGAIN', m.sys.read(efd, n));
  t.assertEq(0, setIrqs(m, s.dev, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index, 0, 1));
  t.assertEq(8, m.sys.read(efd, n));
  t.expectEq(1n, new DataView(n.buffer).getBigUint64(0, true));
  t.expectEq(0, setIrqs(m, s.dev, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index, 0, 0));
  t.expectErrno('EINVAL', setIrqs(m, s.dev, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index, 0, 1));
});

/** A fork child maps DMA through the container fd it inherited; the mapping is the container's. */
device.test('fork_inherited_container', (t, { m, id }) => {
  const s = iommuInit(t, m, V2, id);
  const r = (iommuInfo(t, m, s.container).ranges ?? []).find(x => x.end - x.start + 1n >= 32n * MiB);
  const iova = r ? (r.start + 16n * MiB - 1n) & ~(16n * MiB - 1n) : 0n;
  const child = m.init.fork();
  const st = child.mem.alloc(vfio_group_status.size);
  child.mem.write(st, abi.encode(vfio_group_status, { argsz: vfio_group_status.size }));
  t.expectEq(0, child.sys.ioctl(s.group, VFIO_GROUP_GET_STATUS, st));
  t.expectEq(VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET, abi.decode(vfio_group_status, child.mem.read(st, vfio_group_status.size)).flags);
  const vaddr = child.sys.mmap(MiB);
  const map = child.mem.alloc(abi.encode(vfio_iommu_type1_dma_map, { argsz: vfio_iommu_type1_dma_map.size, flags: VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE, vaddr, iova, size: MiB }));
  t.expectEq(0, child.sys.ioctl(s.container, VFIO_IOMMU_MAP_DMA, map));
  child.exit(0);
  const u = tryIommuUnmap(m, s.container, { iova, size: MiB });
  t.expectEq(0, u.rc);
  t.expectEq(MiB, u.unmapped);
});

/** A dup keeps the group open: the file is released at its last close, not its first. */
device.test('dup_keeps_group_open', (t, { m, id }) => {
  const g = openGroup(t, m, id);
  const g2 = m.sys.dup(g);
  t.assertLe(0, g2);
  t.assertEq(0, m.sys.close(g));
  t.expectErrno('EBUSY', m.sys.open(`/dev/vfio/${id}`, O_RDWR));
  const p = put(m, vfio_group_status, { argsz: vfio_group_status.size });
  t.expectEq(0, m.sys.ioctl(g2, VFIO_GROUP_GET_STATUS, p));
  t.assertEq(0, m.sys.close(g2));
  t.expectLe(0, m.sys.open(`/dev/vfio/${id}`, O_RDWR));
});

/** A process that exits without closing releases what it held. */
device.test('exit_releases_group', (t, { m, id }) => {
  const child = m.init.fork();
  t.expectLe(0, child.sys.open(`/dev/vfio/${id}`, O_RDWR));
  child.exit(0);
  t.expectLe(0, m.sys.open(`/dev/vfio/${id}`, O_RDWR));
});

export const main = h.main;
h.runIfMain(module);
