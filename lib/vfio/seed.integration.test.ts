// SPDX-License-Identifier: GPL-2.0-only
/**
 * The seed's hot-plug scenario (LPC 2016, guest MSI on arm64): a VM runs with guest RAM mapped
 * in a container; a device is hot-plugged whose group reserves an IOVA window inside that RAM.
 * Attaching its group must fail with EINVAL and leave the container exactly as it was, so that
 * the VMM can refuse the hot-plug.
 *
 * The container's first group must not itself reserve the window, or the RAM could never have
 * been mapped (checked below too): on the SMMUv3 host every SMMU group carries the software MSI
 * window at 0x8000000, on the VT-d host every group the MSI window at 0xfee00000. So the running
 * VM's device sits behind a second, paravirtual IOMMU (virtio-iommu reporting its MSI doorbell
 * elsewhere), and the hot-plugged device behind the host's own IOMMU.
 *
 * Through iommufd (a kernel built with CONFIG_IOMMUFD) the same rule has iommufd's errno: the
 * VMM's IOAS holds the guest RAM, and attaching the hot-plugged device's cdev to it is
 * EADDRINUSE (iopt_table_enforce_dev_resv_regions), leaving the IOAS as it was; the group path
 * on an iommufd meets it at VFIO_GROUP_GET_DEVICE_FD, where the device attaches.
 */
import test from 'ava';
import { O_RDWR } from '../uapi/fcntl';
import { createMachine, Machine } from '../machine';
import { resolveHost } from '../hosts';
import { hex64 } from '../model/iova';
import type { DeviceSpec, TopologyInput } from '../topology/topology';
import { IOMMU_IOAS_MAP, IOMMU_IOAS_MAP_FIXED_IOVA, IOMMU_IOAS_MAP_READABLE, IOMMU_IOAS_MAP_WRITEABLE, VFIO_GROUP_FLAGS_VIABLE, VFIO_TYPE1v2_IOMMU, iommu_ioas_map } from '../uapi';
import { encode } from '../abi';
import { VfioContainerHandle, VfioGroupHandle } from '../user/vfio';
import { IommufdHandle, VfioCdevHandle } from '../user/iommufd';
import { bindVfioPci, rcCode, setContainerRaw, vfioGroupOf } from '../testing/vfio';

const MiB = 1n << 20n;

interface Seed {
  readonly host: string;
  /** The window the hot-plugged group reserves. */
  readonly window: bigint;
  /** The running VM's device, moved behind the paravirtual IOMMU. */
  readonly vmDevice: string;
  /** Its MSI doorbell, as the paravirtual IOMMU's probe reports it. */
  readonly doorbell: bigint;
  readonly hotplugBdf: string;
}

const SEEDS: Seed[] = [
  { host: 'arm64-smmuv3', window: 0x8000000n, vmDevice: '0000:02:00.0', doorbell: 0x202110000n, hotplugBdf: '0000:00:05.0' },
  { host: 'intel-vtd-server', window: 0xfee00000n, vmDevice: '0000:02:00.0', doorbell: 0x8000000n, hotplugBdf: '0000:00:05.0' },
];

function seedMachine(s: Seed, kconfig: Record<string, boolean> = {}): Machine {
  const src = resolveHost(s.host).source as TopologyInput & Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  return createMachine({
    ...src,
    kconfig: { ...(src.kconfig ?? {}), ...kconfig },
    iommus: [...src.iommus, { driver: 'virtio-iommu', name: 'viommu0', addressWidth: 48 }],
    devices: src.devices.map((d: Record<string, unknown>) => (d.bdf === s.vmDevice ? { ...d, iommu: 'viommu0' } : d)),
    firmware: {
      ...(src.firmware ?? {}),
      virtioIommuProbe: [{ start: `0x${s.doorbell.toString(16)}`, end: `0x${(s.doorbell + 0xffffn).toString(16)}`, subtype: 'msi', devices: [s.vmDevice] }],
    },
  } as TopologyInput);
}

const hotplugSpec = (bdf: string): DeviceSpec => ({
  bdf,
  name: 'hot-plugged NIC',
  vendor: 0x8086,
  device: 0x10fb,
  class: 0x020000,
  revision: 1,
  subsystem_vendor: 0x8086,
  subsystem_device: 0,
  driver: null,
  iommu: undefined,
  irq: 0,
  numa_node: -1,
  pcie: true,
  bars: [{ index: 0, size: 0x80000n, type: 'mem64', prefetchable: false, mmap: true }],
  msi: 1,
  msix: 64,
  intx: true,
  resetMethods: ['flr'],
});

for (const s of SEEDS) {
  test(`seed: ${s.host}: hot-plugging a group that reserves ${hex64(s.window)} under guest RAM is EINVAL, container untouched`, (t) => {
    const m = seedMachine(s);
    const c = VfioContainerHandle.open(m);
    const vmGroup = VfioGroupHandle.open(m, vfioGroupOf(m, s.vmDevice).id);
    vmGroup.setContainer(c);
    c.setIommu(VFIO_TYPE1v2_IOMMU);
    const ramIova = s.window - 64n * MiB;
    const ram = m.sys.mmap(256 * 1024 * 1024);
    c.map({ iova: ramIova, size: 256n * MiB, vaddr: ram });
    const before = c.info();
    t.true(before.iovaRanges!.some((r) => r.start <= s.window && s.window <= r.last), 'the window is usable in this container');

    const dev = m.host.hotplug(hotplugSpec(s.hotplugBdf));
    t.is(dev.unit?.name, m.host.units[0]!.name, 'behind the host IOMMU');
    t.true(bindVfioPci(m, s.hotplugBdf) > 0);
    const hot = dev.group!;
    t.true(m.host.groupResvRegions(hot).some((r) => r.start === s.window));
    const gfd = m.sys.open(`/dev/vfio/${hot.id}`, O_RDWR);
    t.true(gfd > 0);

    t.is(rcCode(setContainerRaw(m, gfd, c.fd)), 'EINVAL');

    const after = c.info();
    t.deepEqual(after.iovaRanges, before.iovaRanges);
    t.is(after.dmaAvail, before.dmaAvail);
    t.is(after.iovaPgsizes, before.iovaPgsizes);
    t.is(c.unmap({ iova: ramIova, size: 256n * MiB }), 256n * MiB, 'the guest RAM mapping is still there, whole');
    t.is(hot.owner, null, 'DMA ownership given back');
    const st = new VfioGroupHandle(m, gfd);
    t.is(st.status(), VFIO_GROUP_FLAGS_VIABLE);
  });

  test(`seed: ${s.host}: the same group cannot map guest RAM over ${hex64(s.window)} in a container of its own`, (t) => {
    const m = createMachine(s.host);
    const c = VfioContainerHandle.open(m);
    const g = VfioGroupHandle.open(m, vfioGroupOf(m, s.vmDevice).id);
    g.setContainer(c);
    c.setIommu(VFIO_TYPE1v2_IOMMU);
    const ram = m.sys.mmap(256 * 1024 * 1024);
    t.throws(() => c.map({ iova: s.window - 64n * MiB, size: 256n * MiB, vaddr: ram }), { code: 'EINVAL' } as never);
    t.false(c.iovaRanges().some((r) => r.start <= s.window && s.window <= r.last));
  });
}

for (const s of SEEDS) {
  test(`seed through iommufd: ${s.host}: attaching the hot-plugged cdev to the IOAS holding guest RAM over ${hex64(s.window)} is EADDRINUSE, the IOAS untouched`, (t) => {
    const m = seedMachine(s, { CONFIG_IOMMUFD: true });
    const io = IommufdHandle.open(m);
    const ioas = io.ioasAlloc();
    const vm = VfioCdevHandle.open(m, m.host.findDevice(s.vmDevice)!.vfioDevIndex!);
    vm.bind(io);
    vm.attach(ioas);
    const ramIova = s.window - 64n * MiB;
    io.map({ ioas, iova: ramIova, length: 256n * MiB, userVa: m.sys.mmap(256 * 1024 * 1024) });
    const before = io.iovaRanges(ioas);
    t.is(before.calls, 2, "QEMU's probe (EMSGSIZE, the count written back), then the fetch");
    t.true(before.ranges.some((r) => r.start <= s.window && s.window <= r.last), 'the window is usable in this IOAS');
    const doorbell = s.doorbell;
    t.is(rcCode(mapRaw(io, ioas, doorbell)), 'EINVAL', "the VM device's own reserved doorbell is the IOAS's now: a map into it is EINVAL");

    const dev = m.host.hotplug(hotplugSpec(s.hotplugBdf));
    t.true(bindVfioPci(m, s.hotplugBdf) > 0);
    const hot = VfioCdevHandle.open(m, dev.vfioDevIndex!);
    t.true(hot.bind(io) > 0);
    t.is(dev.group!.owner !== null, true, 'bound: the group is owned for DMA');
    t.throws(() => hot.attach(ioas), { code: 'EADDRINUSE' } as never);

    const after = io.iovaRanges(ioas);
    t.deepEqual(after.ranges, before.ranges);
    t.is(after.alignment, before.alignment);
    t.is(io.unmap(ioas, ramIova, 256n * MiB), 256n * MiB, 'the guest RAM mapping is still there, whole');
    hot.close();
    t.is(dev.group!.owner, null, 'DMA ownership given back with the cdev');
    const other = io.ioasAlloc();
    const again = VfioCdevHandle.open(m, dev.vfioDevIndex!);
    again.bind(io);
    t.true(again.attach(other) > 0, 'an IOAS without guest RAM over the window takes it');
  });

  test(`seed through iommufd: ${s.host}: the group path on an iommufd meets the window at GET_DEVICE_FD (EADDRINUSE)`, (t) => {
    const m = seedMachine(s, { CONFIG_IOMMUFD: true });
    const io = IommufdHandle.open(m);
    const vmGroup = VfioGroupHandle.open(m, vfioGroupOf(m, s.vmDevice).id);
    t.is(setContainerRaw(m, vmGroup.fd, io.fd), 0);
    vmGroup.device(s.vmDevice);
    const ioas = io.compatIoas();
    const ramIova = s.window - 64n * MiB;
    io.map({ ioas, iova: ramIova, length: 256n * MiB, userVa: m.sys.mmap(256 * 1024 * 1024) });
    const before = io.iovaRanges(ioas);

    const dev = m.host.hotplug(hotplugSpec(s.hotplugBdf));
    t.true(bindVfioPci(m, s.hotplugBdf) > 0);
    const hot = VfioGroupHandle.open(m, dev.group!.id);
    t.is(setContainerRaw(m, hot.fd, io.fd), 0, 'unlike type1, SET_CONTAINER attaches nothing yet');
    t.throws(() => hot.device(s.hotplugBdf), { code: 'EADDRINUSE' } as never);
    t.deepEqual(io.iovaRanges(ioas).ranges, before.ranges);
    t.is(io.unmap(ioas, ramIova, 256n * MiB), 256n * MiB);
  });
}

/** IOAS_MAP of one page at a fixed IOVA, returning rc. */
function mapRaw(io: IommufdHandle, ioas: number, iova: bigint): number {
  const m = io.m;
  const p = m.mem.alloc(encode(iommu_ioas_map, { size: iommu_ioas_map.size, flags: IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_FIXED_IOVA, ioas_id: ioas, user_va: m.sys.mmap(4096), length: 4096n, iova }));
  return m.sys.ioctl(io.fd, IOMMU_IOAS_MAP, p);
}
