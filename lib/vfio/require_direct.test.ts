// SPDX-License-Identifier: GPL-2.0-only
/**
 * Devices firmware wants identity-mapped cannot be handed to userspace: older VT-d kernels
 * refuse the domain attach (EPERM, RMRR-locked), newer ones refuse the DMA ownership claim
 * (EINVAL, require_direct) on any IOMMU. Relaxable regions (USB, GPU RMRRs) do not count.
 */
import test from 'ava';
import { Errno } from '../errno';
import { O_RDWR } from '../uapi/fcntl';
import { machine, nic } from '../testing/topo';
import { VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU } from '../uapi';
import { rcCode, setContainerRaw, vfioGroupOf } from '../testing/vfio';

interface Case {
  name: string;
  kernel: string;
  iommu: 'intel-iommu' | 'amd-iommu';
  device: Record<string, unknown>;
  firmware: Record<string, unknown>;
  setContainer: Errno | 0;
  setIommu?: Errno | 0;
}

const BDF = '0000:00:05.0';
const raid = { class: '0x010400', device: '0x0014' };
const usb = { class: '0x0c0330', device: '0xa36d' };
const rmrr = { rmrr: [{ base: '0x6f000000', end: '0x6f0fffff', devices: [BDF] }] };
const unity = { ivmd: [{ start: '0xd5000000', end: '0xd5100000', devices: [BDF] }] };

const cases: Case[] = [
  { name: 'VT-d 5.15: RMRR-locked device, attach is EPERM', kernel: '5.15', iommu: 'intel-iommu', device: raid, firmware: rmrr, setContainer: 0, setIommu: 'EPERM' },
  { name: 'VT-d 5.15: relaxable (USB) RMRR attaches', kernel: '5.15', iommu: 'intel-iommu', device: usb, firmware: rmrr, setContainer: 0, setIommu: 0 },
  { name: 'VT-d 6.6: direct region, claiming the group is EINVAL (require_direct)', kernel: '6.6', iommu: 'intel-iommu', device: raid, firmware: rmrr, setContainer: 'EINVAL' },
  { name: 'VT-d 6.8: direct region, claiming the group is EINVAL', kernel: '6.8', iommu: 'intel-iommu', device: raid, firmware: rmrr, setContainer: 'EINVAL' },
  { name: 'VT-d 6.8: relaxable (USB) RMRR is claimed and attaches', kernel: '6.8', iommu: 'intel-iommu', device: usb, firmware: rmrr, setContainer: 0, setIommu: 0 },
  { name: 'AMD 6.1: an IVMD unity map does not block assignment yet', kernel: '6.1', iommu: 'amd-iommu', device: raid, firmware: unity, setContainer: 0, setIommu: 0 },
  { name: 'AMD 6.5: an IVMD unity map does not block assignment yet', kernel: '6.5', iommu: 'amd-iommu', device: raid, firmware: unity, setContainer: 0, setIommu: 0 },
  { name: 'AMD 6.8: an IVMD unity map (direct) blocks the claim', kernel: '6.8', iommu: 'amd-iommu', device: raid, firmware: unity, setContainer: 'EINVAL' },
];

// Before v5.3 an RMRR's bridge scope did not reach the device below, for the lock too; the
// lock itself went in v6.6 (require_direct took over).
const bridged = [
  nic('0000:00:01.0', { class: '0x060400', device: '0x1901', driver: 'pcieport', acs: true }),
  nic('0000:01:00.0', { ...raid, parent: '0000:00:01.0', driver: 'vfio-pci' }),
];
const lockCases: [string, string, Errno | 0][] = [
  ['VT-d 5.2: an RMRR scoped to the bridge above does not lock the device', '5.2', 0],
  ['VT-d 5.3: an RMRR scoped to the bridge above locks the device', '5.3', 'EPERM'],
  ['VT-d 6.5: still locked at attach', '6.5', 'EPERM'],
];
for (const [name, kernel, code] of lockCases) {
  test(`require_direct: ${name}`, (t) => {
    const m = machine({ kernel, iommus: [{ driver: 'intel-iommu' }], devices: bridged, firmware: { rmrr: [{ base: '0x6f000000', end: '0x6f0fffff', devices: ['0000:00:01.0'] }] } });
    const g = vfioGroupOf(m, '0000:01:00.0');
    const cfd = m.sys.open('/dev/vfio/vfio', O_RDWR);
    const gfd = m.sys.open(`/dev/vfio/${g.id}`, O_RDWR);
    t.is(rcCode(setContainerRaw(m, gfd, cfd)), 0);
    t.is(rcCode(m.sys.ioctl(cfd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU)), code);
  });
}

for (const c of cases) {
  test(`require_direct: ${c.name}`, (t) => {
    const m = machine({ kernel: c.kernel, iommus: [{ driver: c.iommu }], devices: [nic(BDF, { ...c.device, driver: 'vfio-pci' })], firmware: c.firmware });
    const g = vfioGroupOf(m, BDF);
    const cfd = m.sys.open('/dev/vfio/vfio', O_RDWR);
    const gfd = m.sys.open(`/dev/vfio/${g.id}`, O_RDWR);
    t.is(rcCode(setContainerRaw(m, gfd, cfd)), c.setContainer);
    if (c.setIommu !== undefined) t.is(rcCode(m.sys.ioctl(cfd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU)), c.setIommu);
    if (c.setContainer !== 0) t.is(g.ownerCnt, 0, 'a refused claim leaves the group unclaimed');
  });
}
