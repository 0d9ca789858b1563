// SPDX-License-Identifier: GPL-2.0-only
/**
 * VFIO groups on iommufd: VFIO_GROUP_SET_CONTAINER with an iommufd (its compat IOAS, devices
 * bound and attached at GET_DEVICE_FD), and CONFIG_IOMMUFD_VFIO_CONTAINER's /dev/vfio/vfio served
 * by iommufd for unmodified type1 users.
 */
import test from 'ava';
import { constants } from 'node:fs';
import { TopologyError } from '../topology/topology';
import { O_RDWR } from '../uapi/fcntl';
import { VFIO_GROUP_FLAGS_CONTAINER_SET, VFIO_GROUP_FLAGS_VIABLE, VFIO_TYPE1v2_IOMMU, VFIO_TYPE1_IOMMU } from '../uapi';
import { IommufdCtx } from '../iommufd/main';
import { IommufdHandle } from '../user/iommufd';
import { VfioContainerHandle, VfioGroupHandle } from '../user/vfio';
import { hostWithKconfig, iommufdMachine, rcCode, setContainerRaw } from '../testing/vfio';
import { createMachine } from '../machine';

const NVME = '0000:02:00.0';
const MiB = 1n << 20n;
const compatKconfig = { CONFIG_VFIO_CONTAINER: false, CONFIG_IOMMUFD_VFIO_CONTAINER: true };

test('CONFIG_IOMMUFD_VFIO_CONTAINER: iommufd registers /dev/vfio/vfio (misc 10:196, 0666) beside /dev/iommu, VFIO-style accounting', (t) => {
  const m = iommufdMachine('intel-vtd-server', { kconfig: compatKconfig });
  const st = m.fs.statSync('/dev/vfio/vfio');
  t.is(Number(st.mode) & constants.S_IFMT, constants.S_IFCHR);
  t.is(Number(st.mode) & 0o777, 0o666);
  t.is(Number(st.rdev), (10 << 8) | 196);
  t.is(Number(m.fs.statSync('/dev/iommu').mode) & 0o777, 0o660);
  const fd = m.sys.open('/dev/vfio/vfio', O_RDWR);
  const ctx = m.sys.fds.peek(fd)!.privateData;
  t.true(ctx instanceof IommufdCtx);
  t.is((ctx as IommufdCtx).accountMode, 'mm');
  const io = m.sys.open('/dev/iommu', O_RDWR);
  t.is((m.sys.fds.peek(io)!.privateData as IommufdCtx).accountMode, 'user');
});

test('Kconfig forbids two providers of /dev/vfio/vfio, and the iommufd options need CONFIG_IOMMUFD: topology errors naming the option', (t) => {
  const both = t.throws(() => createMachine(hostWithKconfig('intel-vtd-server', { CONFIG_IOMMUFD: true, CONFIG_IOMMUFD_VFIO_CONTAINER: true })), { instanceOf: TopologyError });
  t.regex(both!.message, /kconfig\.CONFIG_IOMMUFD_VFIO_CONTAINER.*!CONFIG_VFIO_CONTAINER/);
  for (const opt of ['CONFIG_IOMMUFD_VFIO_CONTAINER', 'CONFIG_IOMMUFD_TEST', 'CONFIG_VFIO_DEVICE_CDEV'] as const) {
    const e = t.throws(() => createMachine(hostWithKconfig('intel-vtd-server', { [opt]: true, CONFIG_VFIO_CONTAINER: false })), { instanceOf: TopologyError });
    t.regex(e!.message, new RegExp(`kconfig\\.${opt}.*depends on CONFIG_IOMMUFD`));
  }
});

test('an unmodified type1 user on iommufd\'s /dev/vfio/vfio: same calls, iommufd\'s answers (DMA_AVAIL U32_MAX, no migration cap)', (t) => {
  const m = iommufdMachine('intel-vtd-server', { kconfig: compatKconfig });
  const c = VfioContainerHandle.open(m);
  t.is(c.apiVersion(), 0);
  t.is(c.checkExtension(VFIO_TYPE1v2_IOMMU), 1);
  const g = VfioGroupHandle.open(m, 7);
  t.is(g.status(), VFIO_GROUP_FLAGS_VIABLE);
  g.setContainer(c);
  t.is(g.status(), VFIO_GROUP_FLAGS_CONTAINER_SET | VFIO_GROUP_FLAGS_VIABLE);
  const early = c.info();
  t.deepEqual(early.iovaRanges, [{ start: 0n, last: (1n << 64n) - 1n }], 'unlike type1, GET_INFO answers before SET_IOMMU: the compat IOAS exists, no domain yet');
  c.setIommu(VFIO_TYPE1v2_IOMMU);
  const dev = g.device(NVME);
  t.true(dev.info().numRegions > 0);
  const group = m.host.findDevice(NVME)!.group!;
  t.is(group.domain?.type, 'unmanaged', 'GET_DEVICE_FD bound the device and attached it to the compat IOAS');
  const info = c.info();
  t.is(info.dmaAvail, 0xffff_ffff);
  t.is(info.migration, undefined);
  t.deepEqual(info.iovaRanges, m.host.groupUsableIova(group));
  const ram = m.sys.mmap(64n * MiB);
  t.throws(() => c.map({ iova: 0xfee0_0000n - 32n * MiB, size: 64n * MiB, vaddr: ram }), { code: 'EINVAL' } as never, 'over the MSI window');
  c.map({ iova: 0x1_0000_0000n, size: 64n * MiB, vaddr: ram });
  t.is(m.mem.lockedVm, 0n, 'root (CAP_IPC_LOCK): not charged');
  t.is(c.unmap({ iova: 0x1_0000_0000n, size: 64n * MiB }), 64n * MiB);
  dev.close();
  g.close();
  c.close();
  t.is(group.owner, null);
});

test('TYPE1 (v1) on the compat container: large pages off, so part of a mapping can be unmapped', (t) => {
  const m = iommufdMachine('intel-vtd-server', { kconfig: compatKconfig });
  const c = VfioContainerHandle.open(m);
  const g = VfioGroupHandle.open(m, 7);
  g.setContainer(c);
  c.setIommu(VFIO_TYPE1_IOMMU);
  g.device(NVME);
  const ram = m.sys.mmap(4n * MiB);
  c.map({ iova: 0x4000_0000n, size: 4n * MiB, vaddr: ram });
  t.is(c.unmap({ iova: 0x4010_0000n, size: MiB }), MiB);
});

test('VFIO_GROUP_SET_CONTAINER with a /dev/iommu fd: a compat IOAS; GET_DEVICE_FD binds and attaches the device; UNSET lets go', (t) => {
  const m = iommufdMachine();
  const io = IommufdHandle.open(m);
  const g = VfioGroupHandle.open(m, 7);
  t.is(rcCode(setContainerRaw(m, g.fd, 99)), 'EBADF');
  t.is(setContainerRaw(m, g.fd, io.fd), 0);
  t.is(g.status(), VFIO_GROUP_FLAGS_CONTAINER_SET | VFIO_GROUP_FLAGS_VIABLE);
  t.is(rcCode(setContainerRaw(m, g.fd, io.fd)), 'EINVAL', 'already set');
  const ioas = io.compatIoas();
  t.is(ioas, 1, 'created by SET_CONTAINER');
  t.deepEqual(io.iovaRanges(ioas).ranges, [{ start: 0n, last: (1n << 64n) - 1n }], 'nothing attached yet');
  const dev = g.device(NVME);
  const group = m.host.findDevice(NVME)!.group!;
  t.is(group.owner, (m.sys.fds.peek(io.fd)!.privateData as IommufdCtx), 'bound: the iommufd owns the group DMA');
  const r = io.iovaRanges(ioas);
  t.deepEqual(r.ranges, m.host.groupUsableIova(group));
  t.is(r.calls, 2, 'probe (EMSGSIZE), then fetch');
  g.unsetContainer();
  t.is(g.status(), 0, 'no container, and the DMA still claimed by the open device: not viable');
  dev.close();
  t.is(group.owner, null, 'closing the device unbound it');
  t.is(g.status(), VFIO_GROUP_FLAGS_VIABLE);
  io.close();
  g.close();
});

test('a legacy VFIO container cannot take a group whose device is bound to an iommufd (EPERM), nor iommufd one the container has', (t) => {
  const m = iommufdMachine();
  const io = IommufdHandle.open(m);
  const g = VfioGroupHandle.open(m, 7);
  g.setContainer(VfioContainerHandle.open(m));
  const cdev = m.sys.open('/dev/vfio/devices/vfio0', O_RDWR);
  t.true(cdev > 0);
  t.is(io.ioasAlloc(), 1);
  t.is(rcCode(m.sys.ioctl(cdev, 0x3b76, m.mem.alloc(Uint8Array.of(16, 0, 0, 0, 0, 0, 0, 0, io.fd, 0, 0, 0, 0, 0, 0, 0)))), 'EBUSY', 'the group is open');
});
