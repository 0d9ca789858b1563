// SPDX-License-Identifier: GPL-2.0-only
/**
 * The IOMMU core: drivers register like modules (a mock replaces a built-in one), a driver's
 * attach_dev decides which domains a group accepts, DMA ownership moves groups between the
 * default, blocking and userspace domains, and the one usable-IOVA computation agrees with what
 * VFIO type1 reports on every built-in host and kernel profile.
 */
import test from 'ava';
import { thrownCode as code } from '../testing/errno';
import { ERRNO, Errno, kerr } from '../errno';
import { KERNEL_PROFILES } from '../kernel/profile';
import { createMachine } from '../machine';
import { builtinHostNames } from '../hosts';
import { O_RDWR } from '../uapi/fcntl';
import { VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU } from '../uapi';
import { vfioInfo } from '../user/vfio';
import { setContainerRaw } from '../testing/vfio';
import { IOMMU_DRIVERS, builtinIommuDriver, type IommuOps } from './drivers';

const E = (e: Errno) => -ERRNO[e][0];

test('a second IOMMU driver of a name is EBUSY; a driver passed in replaces the built-in of its name', (t) => {
  const m = createMachine('intel-vtd-server');
  t.is(code(() => m.host.iommu.registerDriver(builtinIommuDriver('amd-iommu'))), 'EBUSY');
  let attaches = 0;
  const mock: IommuOps = { ...builtinIommuDriver('intel-iommu'), attachDev: () => void attaches++ };
  const m2 = createMachine('intel-vtd-server', { iommuDrivers: [mock] });
  t.is(m2.host.iommu.driver('intel-iommu'), mock);
  t.deepEqual(m2.host.iommu.driverNames.sort(), IOMMU_DRIVERS.map((d) => d.name).sort());
  const cfd = m2.sys.open('/dev/vfio/vfio', O_RDWR);
  t.is(setContainerRaw(m2, m2.sys.open('/dev/vfio/7', O_RDWR), cfd), 0);
  t.is(m2.sys.ioctl(cfd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), 0);
  t.true(attaches > 0, "type1's attach went through the registered driver's attach_dev");
});

test('a domain the driver refuses is EINVAL at attach: VFIO_SET_IOMMU fails and the group is left as it was', (t) => {
  const refusing: IommuOps = {
    ...builtinIommuDriver('intel-iommu'),
    attachDev: () => {
      throw kerr('EINVAL', 'mock: incompatible domain');
    },
  };
  const m = createMachine('intel-vtd-server', { iommuDrivers: [refusing] });
  const cfd = m.sys.open('/dev/vfio/vfio', O_RDWR);
  const gfd = m.sys.open('/dev/vfio/7', O_RDWR);
  t.is(setContainerRaw(m, gfd, cfd), 0);
  t.is(m.sys.ioctl(cfd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), E('EINVAL'));
  const g = m.host.findGroup(7)!;
  t.is(g.domain?.type, 'blocked', 'still claimed, in the blocking domain');
});

test('attach: a paging domain of the group\'s own instance is accepted, on every built-in host', (t) => {
  for (const host of builtinHostNames()) {
    const m = createMachine(host);
    const core = m.host.iommu;
    const g = core.groups().find((x) => m.host.groupHasVfioDevice(x) && !x.noiommu)!;
    const d = core.domainAllocPaging(core.groupUnit(g)!);
    core.claimDmaOwner(g, {});
    t.is(code(() => core.attachGroup(d, g)), 'OK', host);
  }
});

test('attach: a domain of another instance of a per-instance driver (SMMU) is EINVAL', (t) => {
  const m = createMachine('arm64-smmuv3');
  const core = m.host.iommu;
  const [u0] = core.units;
  const group = core.groups().find((g) => core.groupUnit(g) === u0)!;
  const other = { ...u0!, name: 'smmu-other' };
  const d = core.domainAllocPaging(other);
  core.claimDmaOwner(group, {});
  t.is(code(() => core.attachGroup(d, group)), 'EINVAL');
  t.is(code(() => core.attachGroup({ ...core.domainAllocPaging(u0!), driver: 'amd-iommu' }, group)), 'EINVAL', 'another driver');
});

test('DMA ownership: EPERM while a kernel driver is bound; claim → blocking, attach → paging, detach → blocking, release → default', (t) => {
  const m = createMachine('intel-vtd-server');
  const core = m.host.iommu;
  const nic = m.host.findDevice('0000:01:00.0')!;
  t.not(nic.driver, null);
  t.is(code(() => core.claimDmaOwner(nic.group!, {})), 'EPERM');
  const g = m.host.findDevice('0000:02:00.0')!.group!;
  const owner = {};
  t.is(core.groupDomain(g)?.type, 'DMA-FQ', 'the default domain of an x86 host');
  core.claimDmaOwner(g, owner);
  t.is(code(() => core.claimDmaOwner(g, {})), 'EPERM', 'a second owner');
  t.is(core.groupDomain(g)?.type, 'blocked');
  const d = core.domainAllocPaging(core.groupUnit(g)!);
  core.attachGroup(d, g);
  t.is(core.groupDomain(g), d);
  t.is(code(() => core.attachGroup(core.domainAllocPaging(core.groupUnit(g)!), g)), 'EBUSY', 'attach only from the default or blocking domain');
  t.true(d.groups.has(g));
  core.detachGroup(d, g);
  t.is(core.groupDomain(g)?.type, 'blocked');
  t.false(d.groups.has(g));
  core.releaseDmaOwner(g, owner);
  t.is(core.groupDomain(g)?.type, 'DMA-FQ');
  t.is(g.owner, null);
  t.is(code(() => m.host.dd.probe(m.host.findDevice('0000:02:00.0')!, 'nvme')), 'OK', 'a kernel driver binds again');
});

test('per-device claims (iommufd) count per owner and release at the last', (t) => {
  const m = createMachine('intel-vtd-server');
  const core = m.host.iommu;
  const dev = m.host.findDevice('0000:02:00.0')!;
  const owner = {};
  core.deviceClaimDmaOwner(dev, owner);
  core.deviceClaimDmaOwner(dev, owner);
  t.is(dev.group!.ownerCnt, 2);
  t.is(code(() => core.deviceClaimDmaOwner(dev, {})), 'EPERM');
  core.deviceReleaseDmaOwner(dev, owner);
  t.is(dev.group!.owner, owner);
  core.deviceReleaseDmaOwner(dev, owner);
  t.is(dev.group!.owner, null);
});

test('the usable-IOVA computation is what type1 reports after a single-group attach, on every host and profile', (t) => {
  let checked = 0;
  for (const host of builtinHostNames()) {
    for (const kernel of KERNEL_PROFILES.filter((k) => k === 'latest' || Number(k.split('.')[0]) * 100 + Number(k.split('.')[1]) >= 504)) {
      const m = createMachine(host, { kernel });
      for (const g of m.host.groups().filter((x) => m.host.groupHasVfioDevice(x) && !x.noiommu)) {
        const info = vfioInfo(createMachine(host, { kernel }), g.id);
        t.deepEqual(info.iovaRanges, m.host.groupUsableIova(g), `${host}@${kernel} group ${g.id}`);
        checked++;
      }
    }
  }
  t.true(checked >= 10, `compared ${checked} groups`);
});
