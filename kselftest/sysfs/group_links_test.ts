// SPDX-License-Identifier: GPL-2.0-only
/**
 * The links between IOMMU groups, PCI devices and IOMMU units: each side names the other, and
 * every link is the relative path kernfs writes (climb to the common ancestor, descend).
 * @see drivers/iommu/iommu.c:iommu_group_alloc_device, drivers/iommu/iommu-sysfs.c:iommu_device_link
 * @see shared/reference/kernel-sysfs-abi.md §1.7, §4.1, §4.2
 */
import * as path from 'node:path';
import { suite, needGroups, needMachine, type SuiteT } from '../lib/suite';
import { SYS_CLASS_IOMMU, SYS_IOMMU_GROUPS, SYS_PCI_DEVICES } from '../lib/sysfs';
import type { DeviceSpec } from '../../lib/index';

const h = suite('group_links_test');

/** What kernfs_get_target_path writes for a link at `link` to `target`. */
const kernfsTarget = (link: string, target: string): string => path.posix.relative(path.posix.dirname(link), target);

function expectKernfsLink(t: SuiteT, link: string): string | undefined {
  const target = t.sysfs.resolve(link);
  if (!t.expectNotNull(target ?? null)) {
    t.log('%s dangles', link);
    return undefined;
  }
  if (!t.expectStrEq(kernfsTarget(link, target!), t.sysfs.readlink(link))) t.log('%s', link);
  return target;
}

h.test('group_ids_decimal', t => {
  for (const id of needGroups(t)) if (!t.expectTrue(/^(0|[1-9][0-9]*)$/.test(id))) t.log('group %j', id);
});

h.test('group_has_devices', t => {
  for (const id of needGroups(t)) if (!t.expectLt(0, t.sysfs.groupDevices(id).length)) t.log('group %s: empty devices/', id);
});

h.test('group_devices_link_back', t => {
  for (const id of needGroups(t)) {
    for (const name of t.sysfs.groupDevices(id)) {
      const dev = expectKernfsLink(t, `${SYS_IOMMU_GROUPS}/${id}/devices/${name}`);
      if (dev === undefined) continue;
      if (!t.expectTrue(name === path.posix.basename(dev) || name.startsWith(`${path.posix.basename(dev)}.`))) t.log('%s names %s', name, dev);
      t.expectStrEq(`${SYS_IOMMU_GROUPS}/${id}`, t.sysfs.resolve(`${dev}/iommu_group`) ?? '(none)');
    }
  }
});

/** Every PCI device with an `iommu_group` link is listed in that group's devices/. */
h.test('device_iommu_group_link_back', t => {
  needGroups(t);
  for (const bdf of t.sysfs.pciDevices()) {
    const dev = t.sysfs.resolve(`${SYS_PCI_DEVICES}/${bdf}`);
    if (dev === undefined || !t.sysfs.isLink(`${dev}/iommu_group`)) continue;
    const group = expectKernfsLink(t, `${dev}/iommu_group`);
    if (group === undefined) continue;
    const back = t.sysfs.list(`${group}/devices`).map(n => t.sysfs.resolve(`${group}/devices/${n}`));
    if (!t.expectTrue(back.includes(dev))) t.log('%s -> %s, not listed back', bdf, group);
  }
});

/** The number of `../` in `iommu_group` equals the depth of the device directory below /sys. */
h.test('relative_link_depth', t => {
  needGroups(t);
  for (const bdf of t.sysfs.pciDevices()) {
    const dev = t.sysfs.resolve(`${SYS_PCI_DEVICES}/${bdf}`);
    if (dev === undefined || !t.sysfs.isLink(`${dev}/iommu_group`)) continue;
    const depth = dev.split('/').length - 2;
    const ups = t.sysfs.readlink(`${dev}/iommu_group`).split('/').filter(s => s === '..').length;
    if (!t.expectEq(depth, ups)) t.log('%s/iommu_group -> %s', dev, t.sysfs.readlink(`${dev}/iommu_group`));
    t.expectStrEq(`../../../devices/${dev.slice('/sys/devices/'.length)}`, t.sysfs.readlink(`${SYS_PCI_DEVICES}/${bdf}`));
  }
});

h.test('class_iommu_devices_link_back', t => {
  const units = t.sysfs.list(SYS_CLASS_IOMMU);
  if (units.length === 0) t.skip(`no /sys/class/iommu units on ${t.target.description}`);
  for (const u of units) {
    const unit = expectKernfsLink(t, `${SYS_CLASS_IOMMU}/${u}`);
    if (unit === undefined) continue;
    for (const name of t.sysfs.list(`${unit}/devices`)) {
      const dev = expectKernfsLink(t, `${unit}/devices/${name}`);
      if (dev === undefined) continue;
      if (!t.expectStrEq(unit, t.sysfs.resolve(`${dev}/iommu`) ?? '(none)')) t.log('%s/iommu', dev);
    }
  }
});

h.test('device_iommu_link_back', t => {
  for (const bdf of t.sysfs.pciDevices()) {
    const dev = t.sysfs.resolve(`${SYS_PCI_DEVICES}/${bdf}`);
    if (dev === undefined || !t.sysfs.isLink(`${dev}/iommu`)) continue;
    const unit = expectKernfsLink(t, `${dev}/iommu`);
    if (unit === undefined) continue;
    const back = t.sysfs.list(`${unit}/devices`).map(n => t.sysfs.resolve(`${unit}/devices/${n}`));
    if (!t.expectTrue(back.includes(dev))) t.log('%s -> %s, not listed back', bdf, unit);
    t.expectTrue(t.sysfs.isLink(`${dev}/iommu_group`));
  }
});

/** Group ids come from an ida: a freed id is the next one handed out. */
h.test('hotplug_reuses_lowest_free_id', t => {
  const m = needMachine(t);
  const ids = t.sysfs.groups();
  const solo = ids.find(id => {
    const devs = t.sysfs.groupDevices(id);
    return devs.length === 1 && !m.topology.devices.some(d => d.parent === devs[0]);
  });
  if (solo === undefined) t.skip('no single-device leaf group');
  const bdf = t.sysfs.groupDevices(solo!)[0]!;
  const spec = m.topology.devices.find(d => d.bdf === bdf) as DeviceSpec;
  m.host.hotUnplug(bdf);
  t.expectFalse(t.sysfs.exists(`${SYS_IOMMU_GROUPS}/${solo}`));
  t.expectFalse(t.sysfs.exists(`${SYS_PCI_DEVICES}/${bdf}`));
  m.host.hotplug(spec);
  t.expectStrEq(`${SYS_IOMMU_GROUPS}/${solo}`, t.sysfs.resolve(`${SYS_PCI_DEVICES}/${bdf}/iommu_group`) ?? '(none)');
  t.expectStrEq(ids.join(','), t.sysfs.groups().join(','));
});

export const main = h.main;
h.runIfMain(module);
