// SPDX-License-Identifier: GPL-2.0-only
/**
 * The emulated /sys as a desired tree, derived from the host on every change.
 * @see drivers/iommu/iommu.c (iommu_groups), drivers/iommu/iommu-sysfs.c (class iommu),
 *      drivers/pci/pci-sysfs.c (device attributes), drivers/base/bus.c (driver bind/unbind)
 */
import * as path from 'node:path';
import { capable } from '../cred';
import { kerr } from '../errno';
import type { Host } from '../host';
import { groupTypeShow, groupTypeStore } from '../iommu/group_type';
import type { IommuGroup, IommuUnit, PciDevice, PciDriver } from '../model/host';
import { capNdoms, intelUnitBase, intelUnitCap } from '../iommu/intel_iommu';
import { amdUnitCap } from '../iommu/amd_iommu';
import { formatResvRegion } from '../model/resv_region';
import { bindStore, driverOverrideShow, driverOverrideStore, kobjectSynthUevent, unbindStore } from '../drivers/bus';
import { newIdStore, removeIdStore } from '../drivers/pci_driver';
import { pciWriteConfig, resourceFile } from '../drivers/pci_config';
import { bufToString } from '../kernel/string';
import { Attribute, SysTree } from '../kernfs/attribute';
import type { ModuleParams } from '../host';
import { addModuleTree } from './params';
import { addNetdev, addSystemTree, pciLocalityAttrs } from './system';
import { addAcpiTables } from './acpi_sysfs';
import { addPciBusAttrs, pciDeviceControlAttrs } from './pci_hotplug';

export const SYS_IOMMU_GROUPS = '/sys/kernel/iommu_groups';

/** kernfs link targets: relative from the link's directory. */
export const relLink = (linkPath: string, target: string): string => path.posix.relative(path.posix.dirname(linkPath), target);

const hex = (v: number, w: number) => `0x${v.toString(16).padStart(w, '0')}`;
const X = (v: number, w: number) => v.toString(16).toUpperCase().padStart(w, '0');

const ro = (name: string, show: () => string | Uint8Array): Attribute => ({ name, mode: 0o444, show });

/** `/sys/kernel/iommu_groups/<id>/…` @see drivers/iommu/iommu.c:iommu_group_alloc */
function groupAttrs(host: Host, g: IommuGroup): Attribute[] {
  const k = host.kernel;
  const attrs: Attribute[] = [];
  if (k.has('reserved_regions'))
    // sysfs_emit_at stops at PAGE_SIZE - 1 bytes, mid-line if need be (about 74–97 lines).
    attrs.push(ro('reserved_regions', () => host.groupResvRegions(g).map(formatResvRegion).join('').slice(0, 4095)));
  if (k.has('group_type_attr')) {
    attrs.push(
      k.has('group_type_writable')
        ? { name: 'type', mode: 0o644, show: () => groupTypeShow(g, k), store: (b, c) => groupTypeStore(host, g, b, c.cred) }
        : ro('type', () => groupTypeShow(g, k)),
    );
  }
  if (g.name !== undefined) attrs.push(ro('name', () => `${g.name}\n`));
  return attrs;
}

/** @see drivers/pci/pci-sysfs.c, drivers/pci/probe.c */
function deviceAttrs(host: Host, d: PciDevice): Attribute[] {
  const modalias = () =>
    `pci:v${X(d.vendor, 8)}d${X(d.device, 8)}sv${X(d.subsystemVendor, 8)}sd${X(d.subsystemDevice, 8)}bc${X(
      (d.class >> 16) & 0xff,
      2,
    )}sc${X((d.class >> 8) & 0xff, 2)}i${X(d.class & 0xff, 2)}\n`;
  return [
    ro('vendor', () => `${hex(d.vendor, 4)}\n`),
    ro('device', () => `${hex(d.device, 4)}\n`),
    ro('subsystem_vendor', () => `${hex(d.subsystemVendor, 4)}\n`),
    ro('subsystem_device', () => `${hex(d.subsystemDevice, 4)}\n`),
    ro('class', () => `${hex(d.class, 6)}\n`),
    ro('revision', () => `${hex(d.revision, 2)}\n`),
    ro('irq', () => `${d.spec.irq}\n`),
    ro('resource', () => resourceFile(d.spec, host.topology.kconfig.CONFIG_PCI_IOV, host.pciInfo(d.bdf).bridge)),
    ro('modalias', modalias),
    ...pciLocalityAttrs(host, d),
    ...pciDeviceControlAttrs(host, d),
    {
      name: 'numa_node',
      mode: 0o644,
      show: () => `${d.spec.numa_node}\n`,
      store: (b, c) => {
        // @see drivers/pci/pci-sysfs.c:numa_node_store — firmware-bug override, root only.
        if (!capable(c.cred, 'CAP_SYS_ADMIN')) throw kerr('EPERM');
        const s = bufToString(b).trim();
        if (!/^-?\d+$/.test(s) || Number(s) < -1 || Number(s) > 1023) throw kerr('EINVAL');
        if (Number(s) !== -1 && !host.topology.nodes.some((n) => n.id === Number(s))) throw kerr('EINVAL'); // !node_online(node)
        (d.spec as { numa_node: number }).numa_node = Number(s);
        host.changed();
        return b.length;
      },
    },
    {
      name: 'enable',
      mode: 0o644,
      // A driver enables the device at probe; vfio-pci only when userspace opens it.
      show: () => `${d.driver !== null && host.drivers.get(d.driver)?.enablesAtProbe !== false ? 1 : 0}\n`,
      store: (b, c) => {
        // @see drivers/pci/pci-sysfs.c:enable_store
        if (!capable(c.cred, 'CAP_SYS_ADMIN')) throw kerr('EPERM');
        const s = bufToString(b).trim();
        if (!/^(0|1)$/.test(s)) throw kerr('EINVAL');
        return b.length;
      },
    },
    {
      name: 'uevent',
      mode: 0o644,
      show: () =>
        `${d.driver ? `DRIVER=${d.driver}\n` : ''}PCI_CLASS=${X(d.class, 1)}\nPCI_ID=${X(d.vendor, 4)}:${X(d.device, 4)}\nPCI_SUBSYS_ID=${X(
          d.subsystemVendor,
          4,
        )}:${X(d.subsystemDevice, 4)}\nPCI_SLOT_NAME=${d.bdf}\nMODALIAS=${modalias()}`,
      // @see drivers/base/core.c:uevent_store
      store: kobjectSynthUevent,
    },
    {
      name: 'driver_override',
      mode: 0o644,
      show: () => driverOverrideShow(d),
      store: (b) => driverOverrideStore(host.dd, d, b),
    },
    {
      name: 'config',
      mode: 0o644,
      binary: true,
      // Unprivileged readers see only the first 64 bytes. @see drivers/pci/pci-sysfs.c:pci_read_config
      show: () => d.config,
      // Writes reach only the bits the hardware implements as writable; every accepted write
      // is visible to the next reader.
      store: (b, c) => {
        if (!capable(c.cred, 'CAP_SYS_ADMIN')) throw kerr('EPERM');
        const n = pciWriteConfig(d.spec, d.config, b, c.pos);
        if (n > 0) host.changed();
        return n;
      },
    },
  ];
}

function driverAttrs(host: Host, drv: PciDriver): Attribute[] {
  const wo = (name: string, store: (b: Uint8Array) => number): Attribute => ({
    name,
    mode: 0o200,
    show: () => '',
    store: (b) => store(b),
  });
  return [
    // @see drivers/base/bus.c:uevent_store (kobject_synth_uevent)
    wo('uevent', kobjectSynthUevent),
    wo('bind', (b) => bindStore(host.dd, drv, b)),
    wo('unbind', (b) => unbindStore(host.dd, drv, b)),
    wo('new_id', (b) => newIdStore(host.dd, drv, b)),
    wo('remove_id', (b) => removeIdStore(host.dd, drv, b)),
  ];
}

/**
 * The driver's attribute group of a unit: `intel-iommu/` (version, address, cap, ecap,
 * domains_supported, domains_used) and `amd-iommu/` (cap, features).
 * @see drivers/iommu/intel/iommu.c:intel_iommu_groups, drivers/iommu/amd/init.c:amd_iommu_groups
 * @note emulation: domains_used counts one domain id per group with a paging default domain.
 */
function unitAttrGroups(host: Host, u: IommuUnit): [string, Attribute[]][] {
  const index = host.units.filter((x) => x.driver === u.driver).indexOf(u);
  if (u.driver === 'intel-iommu') {
    const { cap, ecap } = intelUnitCap(u.spec);
    const used = () => host.groups().filter((g) => g.devices.some((d) => d.unit === u) && g.defaultDomain !== null && g.defaultDomain !== 'identity').length;
    return [
      [
        'intel-iommu',
        [
          ro('version', () => '1:0\n'),
          ro('address', () => `${intelUnitBase(u.spec, index).toString(16)}\n`),
          ro('cap', () => `${cap.toString(16)}\n`),
          ro('ecap', () => `${ecap.toString(16)}\n`),
          ro('domains_supported', () => `${capNdoms(cap)}\n`),
          ro('domains_used', () => `${used()}\n`),
        ],
      ],
    ];
  }
  if (u.driver === 'amd-iommu') {
    const { cap, features, features2 } = amdUnitCap(u.spec);
    return [
      [
        'amd-iommu',
        [
          ro('cap', () => `${cap.toString(16)}\n`),
          ro('features', () => (host.kernel.has('amd_features2') ? `${features2.toString(16)}:${features.toString(16)}\n` : `${features.toString(16)}\n`)),
        ],
      ],
    ];
  }
  return [];
}

export function buildSysfsTree(host: Host, params: ModuleParams): SysTree {
  const t: SysTree = new Map();
  const dir = (p: string) => t.set(p, { kind: 'dir' });
  const file = (d: string, a: Attribute) => t.set(`${d}/${a.name}`, { kind: 'file', attr: a });
  const link = (p: string, target: string) => t.set(p, { kind: 'link', target: relLink(p, target) });

  // The sysfs mount point is dr-xr-xr-x.
  t.set('/sys', { kind: 'dir', mode: 0o555 });
  for (const p of ['/sys/kernel', SYS_IOMMU_GROUPS, '/sys/devices', '/sys/bus/pci/devices', '/sys/bus/pci/drivers', '/sys/class/iommu'])
    dir(p);

  for (const g of host.groups()) {
    const gd = `${SYS_IOMMU_GROUPS}/${g.id}`;
    dir(gd);
    dir(`${gd}/devices`);
    for (const a of groupAttrs(host, g)) file(gd, a);
    for (const d of [...g.devices, ...g.platformDevices]) link(`${gd}/devices/${d.groupLinkName}`, d.sysfsPath);
  }

  // Platform devices: /sys/devices/platform/<name>, /sys/bus/platform/{devices,drivers}.
  // @see drivers/base/platform.c:platform_device_add, drivers/base/bus.c:bus_add_device
  if (host.platformDevices.length) for (const p of ['/sys/bus/platform/devices', '/sys/bus/platform/drivers']) dir(p);
  for (const d of host.platformDevices) {
    dir(d.sysfsPath);
    link(`/sys/bus/platform/devices/${d.name}`, d.sysfsPath);
    link(`${d.sysfsPath}/subsystem`, '/sys/bus/platform');
    if (d.group) link(`${d.sysfsPath}/iommu_group`, `${SYS_IOMMU_GROUPS}/${d.group.id}`);
    if (d.unit) link(`${d.sysfsPath}/iommu`, d.unit.sysfsPath);
    if (d.driver) {
      dir(`/sys/bus/platform/drivers/${d.driver}`);
      link(`${d.sysfsPath}/driver`, `/sys/bus/platform/drivers/${d.driver}`);
      link(`/sys/bus/platform/drivers/${d.driver}/${d.name}`, d.sysfsPath);
    }
  }

  for (const d of host.devices) {
    dir(d.sysfsPath);
    for (const a of deviceAttrs(host, d)) file(d.sysfsPath, a);
    link(`/sys/bus/pci/devices/${d.bdf}`, d.sysfsPath);
    link(`${d.sysfsPath}/subsystem`, '/sys/bus/pci');
    if (d.group) link(`${d.sysfsPath}/iommu_group`, `${SYS_IOMMU_GROUPS}/${d.group.id}`);
    if (d.unit) link(`${d.sysfsPath}/iommu`, d.unit.sysfsPath);
    if (d.driver) link(`${d.sysfsPath}/driver`, `/sys/bus/pci/drivers/${d.driver}`);
    addNetdev(t, host, d, link);
    if (d.vfioDevIndex !== undefined) {
      const vd = `${d.sysfsPath}/vfio-dev/vfio${d.vfioDevIndex}`;
      dir(vd);
      link(`/sys/class/vfio-dev/vfio${d.vfioDevIndex}`, vd);
    }
  }

  for (const u of host.units) {
    dir(u.sysfsPath);
    dir(`${u.sysfsPath}/devices`);
    file(u.sysfsPath, { name: 'uevent', mode: 0o644, show: () => '', store: kobjectSynthUevent });
    link(`${u.sysfsPath}/subsystem`, '/sys/class/iommu');
    for (const [group, attrs] of unitAttrGroups(host, u)) for (const a of attrs) file(`${u.sysfsPath}/${group}`, a);
    link(`/sys/class/iommu/${u.name}`, u.sysfsPath);
    for (const d of host.devices) if (d.unit === u) link(`${u.sysfsPath}/devices/${d.bdf}`, d.sysfsPath);
    for (const d of host.platformDevices) if (d.unit === u) link(`${u.sysfsPath}/devices/${d.name}`, d.sysfsPath);
  }

  for (const drv of [...host.drivers.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const dd = `/sys/bus/pci/drivers/${drv.name}`;
    dir(dd);
    for (const a of driverAttrs(host, drv)) file(dd, a);
    for (const d of host.devices) if (d.driver === drv.name) link(`${dd}/${d.bdf}`, d.sysfsPath);
  }
  addModuleTree(t, host, params);
  addSystemTree(t, host, link);
  addAcpiTables(t, host);
  addPciBusAttrs(t, host);
  return t;
}
