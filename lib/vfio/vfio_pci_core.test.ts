// SPDX-License-Identifier: GPL-2.0-only
import test from 'ava';
import { decode, encode, walkCapChain } from '../abi';
import type { Errno } from '../errno';
import { O_RDWR } from '../uapi/fcntl';
import { Machine, createMachine } from '../machine';
import {
  VFIO_DEVICE_FLAGS_PCI,
  VFIO_DEVICE_FLAGS_RESET,
  VFIO_DEVICE_GET_INFO,
  VFIO_DEVICE_GET_IRQ_INFO,
  VFIO_DEVICE_GET_PCI_HOT_RESET_INFO,
  VFIO_DEVICE_GET_REGION_INFO,
  VFIO_DEVICE_RESET,
  VFIO_DEVICE_SET_IRQS,
  VFIO_IRQ_INFO_AUTOMASKED,
  VFIO_IRQ_INFO_EVENTFD,
  VFIO_IRQ_INFO_MASKABLE,
  VFIO_IRQ_INFO_NORESIZE,
  VFIO_IRQ_SET_ACTION_MASK,
  VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_IRQ_SET_ACTION_UNMASK,
  VFIO_IRQ_SET_DATA_BOOL,
  VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_DATA_NONE,
  VFIO_PCI_INDEX_TO_OFFSET,
  VFIO_REGION_INFO_CAP_MSIX_MAPPABLE,
  VFIO_REGION_INFO_CAP_SPARSE_MMAP,
  VFIO_REGION_INFO_FLAG_CAPS,
  VFIO_REGION_INFO_FLAG_MMAP,
  VFIO_REGION_INFO_FLAG_READ,
  VFIO_REGION_INFO_FLAG_WRITE,
  VFIO_TYPE1v2_IOMMU,
  vfio_device_info,
  vfio_irq_info,
  vfio_irq_set,
  vfio_pci_hot_reset_info,
  vfio_region_info,
} from '../uapi';
import { VfioContainerHandle, VfioGroupHandle } from '../user/vfio';
import { eventfd, eventfdCtx } from '../fs/eventfd';
import { bindVfioPci, iommufdMachine, rcCode, vfioGroupOf } from '../testing/vfio';

const NVME = '0000:02:00.0';

interface Dev {
  m: Machine;
  dfd: number;
}

function openDevice(bdf = NVME, kernel = 'latest', prepare?: (m: Machine) => void, make = (k: string) => createMachine('intel-vtd-server', { kernel: k })): Dev {
  const m = make(kernel);
  prepare?.(m);
  if (m.host.findDevice(bdf)!.driver !== 'vfio-pci') bindVfioPci(m, bdf);
  const c = VfioContainerHandle.open(m);
  const g = VfioGroupHandle.open(m, vfioGroupOf(m, bdf).id);
  g.setContainer(c);
  c.setIommu(VFIO_TYPE1v2_IOMMU);
  return { m, dfd: g.device(bdf).fd };
}

const ioctl = (d: Dev, req: number, bytes: Uint8Array) => {
  const p = d.m.mem.alloc(bytes);
  return { rc: d.m.sys.ioctl(d.dfd, req, p), p };
};

function regionInfo(d: Dev, index: number, argsz = 32) {
  const { rc, p } = ioctl(d, VFIO_DEVICE_GET_REGION_INFO, (() => {
    const b = new Uint8Array(Math.max(argsz, 32) + 256);
    b.set(encode(vfio_region_info, { argsz, index }));
    return b;
  })());
  const raw = d.m.mem.read(p, Math.max(argsz, 32) + 256);
  return { rc, info: decode(vfio_region_info, raw), raw };
}

function irqInfo(d: Dev, index: number, argsz = 16) {
  const { rc, p } = ioctl(d, VFIO_DEVICE_GET_IRQ_INFO, encode(vfio_irq_info, { argsz, index }));
  return { rc, info: decode(vfio_irq_info, d.m.mem.read(p, 16)) };
}

function setIrqs(d: Dev, a: { flags: number; index: number; start?: number; count: number; data?: Uint8Array; argsz?: number }) {
  const data = a.data ?? new Uint8Array(0);
  const b = new Uint8Array(20 + data.length);
  b.set(encode(vfio_irq_set, { argsz: a.argsz ?? 20 + data.length, flags: a.flags, index: a.index, start: a.start ?? 0, count: a.count }));
  b.set(data, 20);
  return ioctl(d, VFIO_DEVICE_SET_IRQS, b).rc;
}

const fds = (...v: number[]) => {
  const b = new Uint8Array(v.length * 4);
  v.forEach((x, i) => new DataView(b.buffer).setInt32(i * 4, x, true));
  return b;
};

test('DEVICE_GET_INFO: PCI|RESET, 9 regions, 5 irqs; argsz checks', (t) => {
  const d = openDevice();
  const { rc, p } = ioctl(d, VFIO_DEVICE_GET_INFO, encode(vfio_device_info, { argsz: 24 }));
  t.is(rc, 0);
  t.deepEqual(decode(vfio_device_info, d.m.mem.read(p, 24)), { argsz: 24, flags: VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET, num_regions: 9, num_irqs: 5, cap_offset: 0, pad: 0 });
  t.is(rcCode(ioctl(d, VFIO_DEVICE_GET_INFO, encode(vfio_device_info, { argsz: 15 })).rc), 'EINVAL');
  t.is(rcCode(d.m.sys.ioctl(d.dfd, VFIO_DEVICE_GET_INFO, 0n)), 'EFAULT');
  const noReset = openDevice(NVME, 'latest', (m) => ((m.host.findDevice(NVME)!.spec as unknown as { resetMethods: string[] }).resetMethods = []));
  const r = ioctl(noReset, VFIO_DEVICE_GET_INFO, encode(vfio_device_info, { argsz: 24 }));
  t.is(decode(vfio_device_info, noReset.m.mem.read(r.p, 24)).flags, VFIO_DEVICE_FLAGS_PCI);
  t.is(rcCode(noReset.m.sys.ioctl(noReset.dfd, VFIO_DEVICE_RESET)), 'EINVAL');
  t.is(d.m.sys.ioctl(d.dfd, VFIO_DEVICE_RESET), 0);
});

interface RegionCase {
  readonly name: string;
  readonly index: number;
  readonly argsz?: number;
  readonly code?: Errno;
  readonly flags?: number;
  readonly size?: bigint;
  readonly caps?: number[];
}

const regionCases: RegionCase[] = [
  { name: 'argsz below 32', index: 0, argsz: 31, code: 'EINVAL' },
  { name: 'index past the regions', index: 9, code: 'EINVAL' },
  { name: 'VGA on a non-VGA device', index: 8, code: 'EINVAL' },
  { name: 'config: the PCIe config size', index: 7, flags: VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE, size: 4096n },
  { name: 'BAR1: upper half of the 64-bit BAR0', index: 1, flags: 0, size: 0n },
  { name: 'ROM: absent', index: 6, flags: 0, size: 0n },
  {
    name: 'BAR0: mmap, sparse areas, MSI-X mappable',
    index: 0,
    argsz: 256,
    flags: VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE | VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS,
    size: 0x4000n,
    caps: [VFIO_REGION_INFO_CAP_SPARSE_MMAP, VFIO_REGION_INFO_CAP_MSIX_MAPPABLE],
  },
];

for (const c of regionCases) {
  test(`GET_REGION_INFO: ${c.name}`, (t) => {
    const d = openDevice();
    const r = regionInfo(d, c.index, c.argsz);
    t.is(rcCode(r.rc), c.code ?? 0);
    if (c.code) return;
    t.is(r.info.flags, c.flags!);
    t.is(r.info.size, c.size!);
    t.is(r.info.offset, VFIO_PCI_INDEX_TO_OFFSET(c.index));
    t.deepEqual(r.info.cap_offset ? walkCapChain(r.raw, r.info.cap_offset).caps.map((x) => x.id) : [], c.caps ?? []);
  });
}

test('GET_REGION_INFO: too small for the chain → CAPS, the needed argsz, cap_offset 0', (t) => {
  const d = openDevice();
  const r = regionInfo(d, 0, 32);
  t.is(r.rc, 0);
  t.true((r.info.flags & VFIO_REGION_INFO_FLAG_CAPS) !== 0);
  t.is(r.info.argsz, 32 + 32 + 8);
  t.is(r.info.cap_offset, 0);
});

test('GET_REGION_INFO: before v4.16 the MSI-X BAR gets a sparse cap excluding the table', (t) => {
  const d = openDevice('0000:01:00.0', '4.15', (m) => bindVfioPci(m, '0000:01:00.1'));
  // The X710's MSI-X table (129 vectors) sits in BAR3 (32 KiB) at 0x4000, per its capability.
  const r = regionInfo(d, 3, 256);
  const chain = walkCapChain(r.raw, r.info.cap_offset).caps;
  t.deepEqual(chain.map((c) => c.id), [VFIO_REGION_INFO_CAP_SPARSE_MMAP]);
  const v = new DataView(r.raw.buffer);
  const at = chain[0]!.offset;
  t.is(v.getUint32(at + 8, true), 2, 'two areas: below and above the table page');
  t.deepEqual(
    [0, 1].map((i) => [v.getBigUint64(at + 16 + i * 16, true), v.getBigUint64(at + 24 + i * 16, true)]),
    [
      [0n, 0x4000n],
      [0x5000n, 0x3000n],
    ],
  );
  t.is(regionInfo(d, 0, 256).info.cap_offset, 0, 'BAR0 has no table in it: no sparse cap');
});

test('GET_REGION_INFO: ROM and VGA of the iGPU', (t) => {
  const d = openDevice('0000:00:02.0');
  t.is(regionInfo(d, 6).info.size, 0x20000n);
  t.is(regionInfo(d, 6).info.flags, VFIO_REGION_INFO_FLAG_READ);
  t.is(regionInfo(d, 8).info.size, 0xc0000n);
  t.is(regionInfo(d, 4).info.flags, VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE, 'an I/O BAR is not mmap-able');
});

test('GET_IRQ_INFO: counts from the topology, flags, errno', (t) => {
  const d = openDevice();
  t.deepEqual(irqInfo(d, 0).info, { argsz: 16, flags: VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED, index: 0, count: 1 });
  t.deepEqual(irqInfo(d, 1).info, { argsz: 16, flags: VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE, index: 1, count: 1 });
  t.deepEqual(irqInfo(d, 2).info, { argsz: 16, flags: VFIO_IRQ_INFO_EVENTFD, index: 2, count: 33 });
  t.is(irqInfo(d, 3).info.count, 1);
  t.is(irqInfo(d, 4).info.count, 1);
  t.is(rcCode(irqInfo(d, 5).rc), 'EINVAL');
  t.is(rcCode(irqInfo(d, 0, 15).rc), 'EINVAL');
  t.is(irqInfo(openDevice(NVME, '6.1'), 2).info.flags, VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE, 'no dynamic MSI-X before 6.5');
  const xhci = openDevice('0000:00:14.0');
  t.is(rcCode(irqInfo(xhci, 3).rc), 'EINVAL', 'ERR only on PCIe');
  t.is(irqInfo(xhci, 1).info.count, 8);
});

interface IrqCase {
  readonly name: string;
  readonly code: Errno | 0;
  readonly run: (d: Dev) => number;
}

const T = VFIO_IRQ_SET_ACTION_TRIGGER;
const irqCases: IrqCase[] = [
  { name: 'argsz below 20', code: 'EINVAL', run: (d) => setIrqs(d, { flags: VFIO_IRQ_SET_DATA_NONE | T, index: 2, count: 1, argsz: 19 }) },
  { name: 'index past the irqs', code: 'EINVAL', run: (d) => setIrqs(d, { flags: VFIO_IRQ_SET_DATA_NONE | T, index: 5, count: 1 }) },
  { name: 'count wraps with start', code: 'EINVAL', run: (d) => setIrqs(d, { flags: VFIO_IRQ_SET_DATA_NONE | T, index: 2, start: 1, count: 0xfffffffe }) },
  { name: 'unknown flag', code: 'EINVAL', run: (d) => setIrqs(d, { flags: VFIO_IRQ_SET_DATA_NONE | T | (1 << 6), index: 2, count: 1 }) },
  { name: 'start past the count', code: 'EINVAL', run: (d) => setIrqs(d, { flags: VFIO_IRQ_SET_DATA_NONE | T, index: 2, start: 33, count: 0 }) },
  { name: 'start + count past the count', code: 'EINVAL', run: (d) => setIrqs(d, { flags: VFIO_IRQ_SET_DATA_NONE | T, index: 2, start: 30, count: 4 }) },
  { name: 'no data type', code: 'EINVAL', run: (d) => setIrqs(d, { flags: T, index: 2, count: 1 }) },
  { name: 'two data types', code: 'EINVAL', run: (d) => setIrqs(d, { flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_DATA_BOOL | T, index: 2, count: 1, data: new Uint8Array(1) }) },
  { name: 'eventfd data short', code: 'EINVAL', run: (d) => setIrqs(d, { flags: VFIO_IRQ_SET_DATA_EVENTFD | T, index: 2, count: 2, data: fds(-1) }) },
  { name: 'data not mapped', code: 'EFAULT', run: (d) => setIrqs(d, { flags: VFIO_IRQ_SET_DATA_EVENTFD | T, index: 2, count: 1, argsz: 24 }) },
  { name: 'MASK on MSI-X', code: 'ENOTTY', run: (d) => setIrqs(d, { flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK, index: 2, count: 1 }) },
  { name: 'two actions', code: 'ENOTTY', run: (d) => setIrqs(d, { flags: VFIO_IRQ_SET_DATA_NONE | T | VFIO_IRQ_SET_ACTION_MASK, index: 2, count: 1 }) },
  { name: 'INTx unmask while not INTx', code: 'EINVAL', run: (d) => setIrqs(d, { flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK, index: 0, count: 1 }) },
  { name: 'INTx mask while not INTx', code: 'EINVAL', run: (d) => setIrqs(d, { flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_MASK, index: 0, count: 1, data: fds(eventfd(d.m)) }) },
  {
    name: 'INTx mask eventfd (never implemented)',
    code: 'ENOTTY',
    run: (d) => (setIrqs(d, { flags: VFIO_IRQ_SET_DATA_EVENTFD | T, index: 0, count: 1, data: fds(eventfd(d.m)) }), setIrqs(d, { flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_MASK, index: 0, count: 1, data: fds(eventfd(d.m)) })),
  },
  { name: 'MSI-X loopback while disabled', code: 'EINVAL', run: (d) => setIrqs(d, { flags: VFIO_IRQ_SET_DATA_NONE | T, index: 2, count: 1 }) },
  { name: 'MSI-X with a closed fd', code: 'EBADF', run: (d) => setIrqs(d, { flags: VFIO_IRQ_SET_DATA_EVENTFD | T, index: 2, count: 1, data: fds(99) }) },
  { name: 'MSI-X with a non-eventfd fd', code: 'EINVAL', run: (d) => setIrqs(d, { flags: VFIO_IRQ_SET_DATA_EVENTFD | T, index: 2, count: 1, data: fds(d.dfd) }) },
  {
    name: 'INTx while MSI-X is on',
    code: 'EINVAL',
    run: (d) => (setIrqs(d, { flags: VFIO_IRQ_SET_DATA_EVENTFD | T, index: 2, count: 1, data: fds(eventfd(d.m)) }), setIrqs(d, { flags: VFIO_IRQ_SET_DATA_EVENTFD | T, index: 0, count: 1, data: fds(eventfd(d.m)) })),
  },
  { name: 'MSI-X enable', code: 0, run: (d) => setIrqs(d, { flags: VFIO_IRQ_SET_DATA_EVENTFD | T, index: 2, count: 2, data: fds(eventfd(d.m), -1) }) },
  { name: 'ERR trigger', code: 0, run: (d) => setIrqs(d, { flags: VFIO_IRQ_SET_DATA_EVENTFD | T, index: 3, count: 1, data: fds(eventfd(d.m)) }) },
  { name: 'REQ loopback without an eventfd', code: 'EINVAL', run: (d) => setIrqs(d, { flags: VFIO_IRQ_SET_DATA_NONE | T, index: 4, count: 1 }) },
];

for (const c of irqCases) {
  test(`SET_IRQS: ${c.name}`, (t) => {
    t.is(rcCode(c.run(openDevice())), c.code);
  });
}

test('SET_IRQS: state — loopback triggers signal the eventfds; disable with count 0', (t) => {
  const d = openDevice();
  const a = eventfd(d.m);
  const b = eventfd(d.m);
  t.is(setIrqs(d, { flags: VFIO_IRQ_SET_DATA_EVENTFD | T, index: 2, count: 2, data: fds(a, b) }), 0);
  t.is(setIrqs(d, { flags: VFIO_IRQ_SET_DATA_BOOL | T, index: 2, count: 2, data: Uint8Array.from([0, 1]) }), 0);
  t.is(eventfdCtx(d.m, a)!.count, 0n);
  t.is(eventfdCtx(d.m, b)!.count, 1n);
  const buf = new Uint8Array(8);
  t.is(d.m.sys.read(b, buf), 8);
  t.is(new DataView(buf.buffer).getBigUint64(0, true), 1n);
  t.is(setIrqs(d, { flags: VFIO_IRQ_SET_DATA_NONE | T, index: 2, count: 0 }), 0);
  t.is(rcCode(setIrqs(d, { flags: VFIO_IRQ_SET_DATA_NONE | T, index: 2, count: 1 })), 'EINVAL');
  const i = eventfd(d.m);
  t.is(setIrqs(d, { flags: VFIO_IRQ_SET_DATA_EVENTFD | T, index: 0, count: 1, data: fds(i) }), 0);
  t.is(setIrqs(d, { flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK, index: 0, count: 1 }), 0);
  t.is(setIrqs(d, { flags: VFIO_IRQ_SET_DATA_NONE | T, index: 0, count: 1 }), 0);
  t.is(eventfdCtx(d.m, i)!.signals, 1);
});

test('GET_PCI_HOT_RESET_INFO: the bus below the root port, with group ids; ENOSPC keeps the count; root bus ENODEV', (t) => {
  const d = openDevice('0000:01:00.0', 'latest', (m) => bindVfioPci(m, '0000:01:00.1'));
  const g = vfioGroupOf(d.m, '0000:01:00.0').id;
  const small = ioctl(d, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, encode(vfio_pci_hot_reset_info, { argsz: 12 }));
  t.is(rcCode(small.rc), 'ENOSPC');
  t.is(decode(vfio_pci_hot_reset_info, d.m.mem.read(small.p, 12)).count, 2);
  const big = ioctl(d, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, (() => {
    const b = new Uint8Array(12 + 16);
    b.set(encode(vfio_pci_hot_reset_info, { argsz: 28 }));
    return b;
  })());
  t.is(big.rc, 0);
  const v = new DataView(d.m.mem.read(big.p, 28).buffer);
  t.is(v.getUint32(8, true), 2);
  t.deepEqual([v.getUint32(12, true), v.getUint8(18), v.getUint8(19)], [g, 1, 0]);
  t.deepEqual([v.getUint32(20, true), v.getUint8(26), v.getUint8(27)], [g, 1, 1]);
  t.is(rcCode(ioctl(d, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, encode(vfio_pci_hot_reset_info, { argsz: 11 })).rc), 'EINVAL');
  const igpu = openDevice('0000:00:02.0');
  t.is(rcCode(ioctl(igpu, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, encode(vfio_pci_hot_reset_info, { argsz: 12 })).rc), 'ENODEV');
});

test('config region: pread/pwrite at VFIO_PCI_INDEX_TO_OFFSET(7), BAR sizing, read-only ids, EFAULT past the end', (t) => {
  const d = openDevice();
  const cfg = VFIO_PCI_INDEX_TO_OFFSET(7);
  const b4 = new Uint8Array(4);
  t.is(d.m.sys.pread(d.dfd, b4, cfg), 4);
  t.deepEqual([...b4], [0x4d, 0x14, 0x08, 0xa8]);
  t.is(d.m.sys.pwrite(d.dfd, Uint8Array.from([0, 0, 0, 0]), cfg), 4);
  d.m.sys.pread(d.dfd, b4, cfg);
  t.deepEqual([...b4], [0x4d, 0x14, 0x08, 0xa8], 'vendor/device are read-only');
  t.is(d.m.sys.pwrite(d.dfd, Uint8Array.from([0xff, 0xff, 0xff, 0xff]), cfg + 0x10n), 4);
  d.m.sys.pread(d.dfd, b4, cfg + 0x10n);
  t.is(new DataView(b4.buffer).getUint32(0, true), 0xffffc004, '16 KiB 64-bit BAR sizing');
  t.is(rcCode(d.m.sys.pread(d.dfd, b4, cfg + 4094n)), 'EFAULT');
  t.is(rcCode(d.m.sys.pread(d.dfd, b4, VFIO_PCI_INDEX_TO_OFFSET(9))), 'EINVAL');
  t.is(d.m.sys.pwrite(d.dfd, Uint8Array.from([1, 2, 3, 4]), VFIO_PCI_INDEX_TO_OFFSET(0) + 8n), 4);
  d.m.sys.pread(d.dfd, b4, VFIO_PCI_INDEX_TO_OFFSET(0) + 8n);
  t.deepEqual([...b4], [1, 2, 3, 4]);
  t.is(rcCode(d.m.sys.pread(d.dfd, b4, VFIO_PCI_INDEX_TO_OFFSET(0) + 0x4000n)), 'EINVAL');
  t.is(d.m.sys.pwrite(d.dfd, Uint8Array.from([0, 0]), cfg + 4n), 2);
  t.is(rcCode(d.m.sys.pread(d.dfd, b4, VFIO_PCI_INDEX_TO_OFFSET(0))), 'EIO', 'memory decode off');
});

test('device fd: unknown ioctl ENOTTY; VFIO_DEVICE_FEATURE header checks; gone after unbind', (t) => {
  const d = openDevice();
  t.is(rcCode(d.m.sys.ioctl(d.dfd, 0x3b74, 0n)), 'ENOTTY');
  const feat = (argsz: number, flags: number) => ioctl(d, 0x3b75, Uint8Array.from([argsz, 0, 0, 0, flags & 0xff, (flags >> 8) & 0xff, (flags >> 16) & 0xff, 0])).rc;
  t.is(rcCode(feat(7, 1 << 16)), 'EINVAL');
  t.is(rcCode(feat(8, 1 << 19)), 'EINVAL');
  t.is(rcCode(feat(8, (1 << 16) | (1 << 17))), 'EINVAL');
  t.is(rcCode(feat(8, (1 << 18) | 1)), 'ENOTTY');
  d.m.host.hotUnplug(NVME);
  t.is(rcCode(d.m.sys.ioctl(d.dfd, VFIO_DEVICE_RESET)), 'ENODEV');
  t.is(d.m.sys.open('/dev/vfio/7', O_RDWR) < 0, true);
});

test('device fd from the group: BIND_IOMMUFD is EINVAL with the device cdev built, ENOTTY without it or before it', (t) => {
  const bind = (d: Dev, argsz: number) => ioctl(d, 0x3b76, Uint8Array.from([argsz, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])).rc;
  const d = openDevice(NVME, 'latest', undefined, (k) => iommufdMachine('intel-vtd-server', { kernel: k }));
  t.is(rcCode(bind(d, 24)), 'EINVAL');
  t.is(rcCode(d.m.sys.ioctl(d.dfd, 0x3b76, 0n)), 'EFAULT');
  t.is(rcCode(bind(openDevice(), 24)), 'ENOTTY', 'CONFIG_VFIO_DEVICE_CDEV not set (it needs CONFIG_IOMMUFD)');
  t.is(rcCode(bind(openDevice(NVME, '6.1', undefined, (k) => iommufdMachine('intel-vtd-server', { kernel: k })), 24)), 'ENOTTY', '6.1 has no cdev');
});

test('region read/write of zero bytes is 0 before any region check (vfio_pci_core_read/write)', (t) => {
  const d = openDevice();
  const none = new Uint8Array(0);
  t.is(d.m.sys.pread(d.dfd, none, VFIO_PCI_INDEX_TO_OFFSET(9)), 0, 'past the regions');
  t.is(d.m.sys.pwrite(d.dfd, none, VFIO_PCI_INDEX_TO_OFFSET(6)), 0, 'ROM write');
  t.is(d.m.sys.pread(d.dfd, none, VFIO_PCI_INDEX_TO_OFFSET(0) + 0x4000n), 0, 'past the BAR');
  t.is(rcCode(d.m.sys.pread(d.dfd, new Uint8Array(1), VFIO_PCI_INDEX_TO_OFFSET(9))), 'EINVAL');
});
