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
import type { IommuGroup, IommuUnit, PciDevice, PciDriver, PlatformDevice } from '../model/host';
import { capNdoms, intelUnitBase, intelUnitCap } from '../iommu/intel_iommu';
import { amdUnitCap } from '../iommu/amd_iommu';
import { formatResvRegion } from '../model/resv_region';
import { bindStore, driverOverrideShow, driverOverrideStore, kobjectSynthUevent, unbindStore } from '../drivers/bus';
import { newIdStore, removeIdStore } from '../drivers/pci_driver';
import { pciWriteConfig, resourceFile } from '../drivers/pci_config';
import { bufToString } from '../kernel/string';
import { Attribute, SysFragment, SysTree } from '../kernfs/attribute';
import type { ModuleParams } from '../host';
import { addModuleTree } from './params';
import { Netdev, addNetdev, addSystemTree, netdevs, pciLocalityAttrs } from './system';
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

/** Adds nodes to one fragment's map. */
function nodeWriter(t: SysTree) {
  return {
    t,
    dir: (p: string, mode?: number) => void t.set(p, mode === undefined ? { kind: 'dir' } : { kind: 'dir', mode }),
    file: (d: string, a: Attribute) => void t.set(`${d}/${a.name}`, { kind: 'file', attr: a }),
    link: (p: string, target: string) => void t.set(p, { kind: 'link', target: relLink(p, target) }),
  };
}
type Writer = ReturnType<typeof nodeWriter>;

/** What a fragment was built from: the values its paths, link targets and captured values depend on. */
type Snapshot = readonly unknown[];

interface Built {
  readonly snap: Snapshot;
  readonly fragment: SysFragment;
  /** The last fragments() call that saw the object. */
  seen: number;
}

/**
 * One kind of kernel object in the tree: its fragment key, the snapshot of what its nodes depend
 * on (attribute contents are computed when read, so they need none), a check of the snapshot
 * that allocates nothing (it runs for every object on every change), and how to build the nodes.
 */
interface FragmentKind<T> {
  key(o: T): string;
  snapshot(o: T): Snapshot;
  same(o: T, snap: Snapshot): boolean;
  build(w: Writer, o: T): void;
}

/** A part of the tree that depends on nothing that changes after boot: built once. */
const once = (key: string, build: (w: Writer) => void): FragmentKind<object> => ({ key: () => key, snapshot: () => [], same: () => true, build });

function groupKind(host: Host): FragmentKind<IommuGroup> {
  return {
    key: (g) => `group:${g.id}`,
    snapshot: (g) => [g.id, ...[...g.devices, ...g.platformDevices].flatMap((d) => [d, d.groupLinkName, d.sysfsPath])],
    same(g, s) {
      const n = g.devices.length;
      if (s[0] !== g.id || s.length !== 1 + 3 * (n + g.platformDevices.length)) return false;
      for (let i = 0; i < n + g.platformDevices.length; i++) {
        const d = i < n ? g.devices[i]! : g.platformDevices[i - n]!;
        if (s[1 + 3 * i] !== d || s[2 + 3 * i] !== d.groupLinkName || s[3 + 3 * i] !== d.sysfsPath) return false;
      }
      return true;
    },
    build(w, g) {
      const gd = `${SYS_IOMMU_GROUPS}/${g.id}`;
      w.dir(gd);
      w.dir(`${gd}/devices`);
      for (const a of groupAttrs(host, g)) w.file(gd, a);
      for (const d of [...g.devices, ...g.platformDevices]) w.link(`${gd}/devices/${d.groupLinkName}`, d.sysfsPath);
    },
  };
}

/**
 * A device's directory and every link that names it (bus, driver, IOMMU unit, vfio-dev), and its
 * net device, whose name, MAC and ifindex (its place among the NICs) the attributes hold.
 */
function deviceKind(host: Host, nics: () => ReadonlyMap<PciDevice, Netdev>): FragmentKind<PciDevice> {
  return {
    key: (d) => `dev:${d.bdf}`,
    snapshot: (d) => {
      const nd = nics().get(d);
      return [d.sysfsPath, d.group, d.unit, d.driver, d.vfioDevIndex, nd?.name, nd?.mac, nd?.ifindex];
    },
    same: (d, s) => {
      if (s[0] !== d.sysfsPath || s[1] !== d.group || s[2] !== d.unit || s[3] !== d.driver || s[4] !== d.vfioDevIndex) return false;
      const nd = nics().get(d);
      return s[5] === nd?.name && s[6] === nd?.mac && s[7] === nd?.ifindex;
    },
    build(w, d) {
      w.dir(d.sysfsPath);
      for (const a of deviceAttrs(host, d)) w.file(d.sysfsPath, a);
      w.link(`/sys/bus/pci/devices/${d.bdf}`, d.sysfsPath);
      w.link(`${d.sysfsPath}/subsystem`, '/sys/bus/pci');
      if (d.group) w.link(`${d.sysfsPath}/iommu_group`, `${SYS_IOMMU_GROUPS}/${d.group.id}`);
      if (d.unit) {
        w.link(`${d.sysfsPath}/iommu`, d.unit.sysfsPath);
        w.link(`${d.unit.sysfsPath}/devices/${d.bdf}`, d.sysfsPath);
      }
      if (d.driver) {
        w.link(`${d.sysfsPath}/driver`, `/sys/bus/pci/drivers/${d.driver}`);
        w.link(`/sys/bus/pci/drivers/${d.driver}/${d.bdf}`, d.sysfsPath);
      }
      const nd = nics().get(d);
      if (nd) addNetdev(w.t, d, nd, w.link);
      if (d.vfioDevIndex !== undefined) {
        const vd = `${d.sysfsPath}/vfio-dev/vfio${d.vfioDevIndex}`;
        w.dir(vd);
        w.link(`/sys/class/vfio-dev/vfio${d.vfioDevIndex}`, vd);
      }
    },
  };
}

/**
 * A platform device: /sys/devices/platform/<name> and the links naming it (its driver's
 * directory is implied by the links in it).
 * @see drivers/base/platform.c:platform_device_add, drivers/base/bus.c:bus_add_device
 */
const platformKind: FragmentKind<PlatformDevice> = {
  key: (d) => `pdev:${d.name}`,
  snapshot: (d) => [d.sysfsPath, d.group, d.unit, d.driver],
  same: (d, s) => s[0] === d.sysfsPath && s[1] === d.group && s[2] === d.unit && s[3] === d.driver,
  build(w, d) {
    w.dir(d.sysfsPath);
    w.link(`/sys/bus/platform/devices/${d.name}`, d.sysfsPath);
    w.link(`${d.sysfsPath}/subsystem`, '/sys/bus/platform');
    if (d.group) w.link(`${d.sysfsPath}/iommu_group`, `${SYS_IOMMU_GROUPS}/${d.group.id}`);
    if (d.unit) {
      w.link(`${d.sysfsPath}/iommu`, d.unit.sysfsPath);
      w.link(`${d.unit.sysfsPath}/devices/${d.name}`, d.sysfsPath);
    }
    if (d.driver) {
      w.link(`${d.sysfsPath}/driver`, `/sys/bus/platform/drivers/${d.driver}`);
      w.link(`/sys/bus/platform/drivers/${d.driver}/${d.name}`, d.sysfsPath);
    }
  },
};

/** /sys/bus/platform/{devices,drivers}, present while the host has platform devices. */
const platformBusKind: FragmentKind<Host> = {
  key: () => 'platform',
  snapshot: (h) => [h.platformDevices.length > 0],
  same: (h, s) => s[0] === h.platformDevices.length > 0,
  build(w, h) {
    if (h.platformDevices.length) for (const p of ['/sys/bus/platform/devices', '/sys/bus/platform/drivers']) w.dir(p);
  },
};

/** A unit's class device and its driver's attribute group (its devices' links are theirs). */
function unitKind(host: Host): FragmentKind<IommuUnit> {
  return {
    key: (u) => `unit:${u.name}`,
    snapshot: (u) => [u.sysfsPath],
    same: (u, s) => s[0] === u.sysfsPath,
    build(w, u) {
      w.dir(u.sysfsPath);
      w.dir(`${u.sysfsPath}/devices`);
      w.file(u.sysfsPath, { name: 'uevent', mode: 0o644, show: () => '', store: kobjectSynthUevent });
      w.link(`${u.sysfsPath}/subsystem`, '/sys/class/iommu');
      for (const [group, attrs] of unitAttrGroups(host, u)) for (const a of attrs) w.file(`${u.sysfsPath}/${group}`, a);
      w.link(`/sys/class/iommu/${u.name}`, u.sysfsPath);
    },
  };
}

function driverKind(host: Host): FragmentKind<PciDriver> {
  return {
    key: (drv) => `drv:${drv.name}`,
    snapshot: () => [],
    same: () => true,
    build(w, drv) {
      const dd = `/sys/bus/pci/drivers/${drv.name}`;
      w.dir(dd);
      for (const a of driverAttrs(host, drv)) w.file(dd, a);
    },
  };
}

/** /sys/module and the drivers' `module` links: they follow the registered drivers (by name). */
function moduleKind(params: ModuleParams): FragmentKind<Host> {
  return {
    key: () => 'module',
    snapshot: (h) => [...h.drivers.keys()],
    same(h, s) {
      if (s.length !== h.drivers.size) return false;
      let i = 0;
      for (const name of h.drivers.keys()) if (s[i++] !== name) return false;
      return true;
    },
    build: (w, h) => addModuleTree(w.t, h, params),
  };
}

const byName = (a: PciDriver, b: PciDriver) => (a.name < b.name ? -1 : 1);

/**
 * The emulated /sys, one fragment per kernel object, rebuilt only for objects whose rendered
 * shape changed since the last call: an object whose snapshot is the same hands back its
 * previous fragment, which the renderer then skips.
 */
export class SysfsTreeBuilder {
  private readonly root: SysFragment;
  private readonly kinds: {
    group: FragmentKind<IommuGroup>;
    device: FragmentKind<PciDevice>;
    unit: FragmentKind<IommuUnit>;
    driver: FragmentKind<PciDriver>;
    module: FragmentKind<Host>;
    system: FragmentKind<object>;
    acpi: FragmentKind<object>;
    pciBus: FragmentKind<object>;
  };
  /** Per kind, the last fragment of each object. */
  private readonly built = new Map<FragmentKind<never>, Map<object, Built>>();
  /** The NICs' net devices as of the current fragments() call. */
  private nics: ReadonlyMap<PciDevice, Netdev> = new Map();
  private calls = 0;

  constructor(
    private readonly host: Host,
    params: ModuleParams,
  ) {
    const nodes: SysTree = new Map();
    const w = nodeWriter(nodes);
    // The sysfs mount point is dr-xr-xr-x.
    w.dir('/sys', 0o555);
    for (const p of ['/sys/kernel', SYS_IOMMU_GROUPS, '/sys/devices', '/sys/bus/pci/devices', '/sys/bus/pci/drivers', '/sys/class/iommu'])
      w.dir(p);
    this.root = { key: 'root', nodes };
    this.kinds = {
      group: groupKind(host),
      device: deviceKind(host, () => this.nics),
      unit: unitKind(host),
      driver: driverKind(host),
      module: moduleKind(params),
      // The topology's CPUs and nodes, the firmware's tables (written at boot) and the bus files.
      system: once('system', (w) => addSystemTree(w.t, host, w.link)),
      acpi: once('acpi', (w) => addAcpiTables(w.t, host)),
      pciBus: once('pci-bus', (w) => addPciBusAttrs(w.t, host)),
    };
  }

  /** Every fragment, in a stable order (the renderer compares the list with its last one). */
  fragments(): SysFragment[] {
    const host = this.host;
    const call = ++this.calls;
    this.nics = netdevs(host);
    const out: SysFragment[] = [this.root];
    const add = <T extends object>(kind: FragmentKind<T>, objects: Iterable<T>) => {
      let built = this.built.get(kind as FragmentKind<never>);
      if (!built) this.built.set(kind as FragmentKind<never>, (built = new Map()));
      let n = 0;
      for (const o of objects) {
        let b = built.get(o);
        if (!b || !kind.same(o, b.snap)) {
          const nodes: SysTree = new Map();
          kind.build(nodeWriter(nodes), o);
          b = { snap: kind.snapshot(o), fragment: { key: kind.key(o), nodes }, seen: call };
          built.set(o, b);
        }
        b.seen = call;
        out.push(b.fragment);
        n++;
      }
      // Forget objects that are gone (only when there are some: the map is then larger than the list).
      if (built.size > n) for (const [o, b] of built) if (b.seen !== call) built.delete(o);
    };
    add(this.kinds.group, host.groups());
    add(platformBusKind, [host]);
    add(platformKind, host.platformDevices);
    add(this.kinds.device, host.devices);
    add(this.kinds.unit, host.units);
    add(this.kinds.driver, [...host.drivers.values()].sort(byName));
    add(this.kinds.module, [host]);
    add(this.kinds.system, [host]);
    add(this.kinds.acpi, [host]);
    add(this.kinds.pciBus, [host]);
    return out;
  }
}

/** The whole desired /sys as one map (fragments merged). */
export function buildSysfsTree(host: Host, params: ModuleParams): SysTree {
  const t: SysTree = new Map();
  for (const f of new SysfsTreeBuilder(host, params).fragments()) for (const [p, n] of f.nodes) t.set(p, n);
  return t;
}
