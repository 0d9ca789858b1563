// SPDX-License-Identifier: GPL-2.0-only
/**
 * The emulated kernel's device model for one machine, composed along the kernel's seams: PCI
 * enumeration (lib/drivers/probe.ts), the driver core (lib/drivers/dd.ts) and the IOMMU core
 * (lib/iommu/iommu.ts), joined by the PCI bus notifier. `Host` is the facade sysfs, VFIO and the
 * tools query; every mutation ends in `changed()`.
 */
import type { ChrdevRegistry } from './drivers/char_dev';
import { DriverCore, PciDriverRegistration } from './drivers/dd';
import { KernelError, kerr } from './errno';
import type { SysTree } from './kernfs/attribute';
import { PciBus } from './drivers/probe';
import { PlatformBus } from './drivers/platform';
import type { PciFunctionInfo } from './drivers/pci_config';
import { pciAssignResources } from './drivers/setup_bus';
import { IOMMU_DRIVERS, IommuOps } from './iommu/drivers';
import { IommuCore } from './iommu/iommu';
import type { Feature, KernelProfile } from './kernel/profile';
import type { IommuGroup, IommuUnit, PciDevice, PciDriver, PlatformDevice } from './model/host';
import type { IovaRange } from './model/iova';
import type { ResvRegion } from './model/resv_region';
import type { TaskSet } from './task/sched';
import type { DeviceSpec, Kconfig, Topology } from './topology/topology';

export type HostListener = () => void;

/** Kernel module parameters the machine exposes (from the topology's cmdline, settable later). */
export interface ModuleParams {
  /** vfio_iommu_type1.dma_entry_limit (default 65535) */
  dma_entry_limit: number;
  /** vfio_iommu_type1.allow_unsafe_interrupts */
  allow_unsafe_interrupts: boolean;
  /** vfio.enable_unsafe_noiommu_mode */
  enable_unsafe_noiommu_mode: boolean;
  /** iommufd.allow_unsafe_interrupts: bind devices whose group cannot isolate MSIs. */
  iommufd_allow_unsafe_interrupts: boolean;
  /** vfio_iommu_type1.disable_hugepages. @note emulation: shown and settable; type1 keeps its page sizes. */
  disable_hugepages: boolean;
  /** vfio_pci.{nointxmask,disable_vga,disable_idle_d3,enable_sriov,disable_denylist}. @note emulation: shown and settable, no effect. */
  nointxmask: boolean;
  disable_vga: boolean;
  disable_idle_d3: boolean;
  enable_sriov: boolean;
  disable_denylist: boolean;
}

/** A subsystem's extra sysfs entries (e.g. /sys/class/vfio-dev), added on every render. */
export type SysfsProvider = (tree: SysTree) => void;

/**
 * The running kernel of one machine, as its modules see it: what module init registers with
 * (char devices, PCI drivers through `host`, sysfs entries) and the state it consults.
 */
export interface Kernel {
  readonly profile: KernelProfile;
  readonly kconfig: Kconfig;
  readonly host: Host;
  readonly chrdevs: ChrdevRegistry;
  readonly tasks: TaskSet;
  readonly params: ModuleParams;
  registerSysfs(p: SysfsProvider): void;
}

/** A loadable (or built-in) module: `module_init` runs at machine start, in list order. */
export interface KernelModule {
  readonly name: string;
  /** Built only when every one of these options is set (default: always). */
  readonly kconfig?: readonly (keyof Kconfig)[];
  /** The kernel feature (lib/kernel/profile.ts) the module first appeared with. */
  readonly since?: Feature;
  init(k: Kernel): void;
}

export interface HostOptions {
  /** IOMMU drivers to register before the built-in ones; one named like a built-in replaces it (a test's mock). */
  readonly iommuDrivers?: readonly IommuOps[];
  /**
   * Runs after the IOMMU instances exist and before PCI enumeration: where modules register
   * their PCI drivers (vfio-pci must be there when the topology binds devices to it).
   */
  readonly beforeScan?: (host: Host) => void;
}

export class Host {
  readonly topology: Topology;
  readonly kernel: KernelProfile;
  readonly iommu: IommuCore;
  readonly pci: PciBus;
  /** Non-PCI devices behind IOMMUs (ACPI / device tree). @see lib/drivers/platform.ts */
  readonly platform: PlatformBus;
  readonly dd: DriverCore;
  private readonly listeners: HostListener[] = [];

  constructor(topology: Topology, kernel: KernelProfile, opts: HostOptions = {}) {
    // Own copy: hot-plug and attribute stores change device specs, never the caller's Topology.
    // Every BAR gets its address here, as resource assignment gives it on a real boot.
    const layout = pciAssignResources(topology.devices, topology.firmware.pciHostBridgeWindows);
    topology = { ...topology, devices: layout.specs };
    this.topology = topology;
    this.kernel = kernel;
    this.pci = new PciBus(topology.devices as DeviceSpec[], layout);
    this.iommu = new IommuCore(topology, kernel, this.pci);
    this.dd = new DriverCore(kernel, this.pci, this.iommu, () => this.changed());
    // A driver passed in takes the place of the built-in one of the same name (a test's mock).
    const extra = opts.iommuDrivers ?? [];
    for (const ops of [...extra, ...IOMMU_DRIVERS.filter((b) => !extra.some((e) => e.name === b.name))]) this.iommu.registerDriver(ops);
    this.iommu.addUnits(topology.iommus);
    this.pci.unitOf = (spec) => {
      const name = spec.iommu === undefined ? this.iommu.units[0]?.name : spec.iommu;
      return name === null || name === undefined ? undefined : this.iommu.findUnit(name);
    };
    // The bus notifier chain: the IOMMU core groups the device, then the driver core binds the
    // driver the topology names. Removal runs it backwards.
    this.pci.registerNotifier({ addDevice: (d) => this.iommu.probeDevice(d), delDevice: (d) => this.iommu.releaseDevice(d) });
    this.pci.registerNotifier({
      addDevice: (d) => {
        // A probe that fails (vfio-pci on a device without a group) leaves the device unbound,
        // as really_probe does; the device stays.
        if (!d.spec.driver) return;
        try {
          this.dd.probe(d, d.spec.driver);
        } catch (e) {
          if (!(e instanceof KernelError)) throw e;
        }
      },
      delDevice: (d) => this.dd.release(d),
    });
    opts.beforeScan?.(this);
    this.dd.registerTopologyDrivers(topology.devices);
    this.pci.scan();
    this.platform = new PlatformBus(topology.platformDevices, (spec) => {
      const name = spec.iommu === undefined ? this.iommu.units[0]?.name : spec.iommu;
      return name === null || name === undefined ? undefined : this.iommu.findUnit(name);
    });
    this.platform.scan((d, peers) => this.iommu.probePlatformDevice(d, peers));
  }

  // ---- queries -------------------------------------------------------------------------

  /** Present devices, in probe order. */
  get devices(): PciDevice[] {
    return this.pci.devices;
  }

  /** Platform devices, in topology order. */
  get platformDevices(): readonly PlatformDevice[] {
    return this.platform.devices;
  }

  findPlatformDevice(name: string): PlatformDevice | undefined {
    return this.platform.findDevice(name);
  }

  get units(): readonly IommuUnit[] {
    return this.iommu.units;
  }

  get drivers(): Map<string, PciDriver> {
    return this.dd.drivers;
  }

  groups(): IommuGroup[] {
    return this.iommu.groups();
  }

  findGroup(id: number): IommuGroup | undefined {
    return this.iommu.findGroup(id);
  }

  findDevice(bdf: string): PciDevice | undefined {
    return this.pci.findDevice(bdf);
  }

  /** The PCI core's view of a function: bridge bus numbers and windows, PCIe port type and link. */
  pciInfo(bdf: string): PciFunctionInfo {
    return this.pci.info(bdf);
  }

  findUnit(name: string): IommuUnit | undefined {
    return this.iommu.findUnit(name);
  }

  deviceResvRegions(dev: PciDevice | PlatformDevice): ResvRegion[] {
    return this.iommu.deviceResvRegions(dev);
  }

  groupResvRegions(group: IommuGroup): ResvRegion[] {
    return this.iommu.groupResvRegions(group);
  }

  /** The IOVA space userspace can map for the group (the IOMMU core's one computation). */
  groupUsableIova(group: IommuGroup): IovaRange[] {
    return this.iommu.groupUsableIova(group);
  }

  requiresDirect(dev: PciDevice): boolean {
    return this.iommu.requiresDirect(dev);
  }

  /** Every device of the group is unbound or on a driver that leaves DMA to its user. */
  groupViable(group: IommuGroup): boolean {
    return group.devices.every((d) => d.driver === null || this.dd.findDriver(d.driver)?.dmaApi === false);
  }

  /** VFIO has the group (/dev/vfio/<id> exists): at least one of its devices is registered with VFIO. */
  groupHasVfioDevice(group: IommuGroup): boolean {
    return this.vfioGroupRegistered?.(group) ?? false;
  }

  /** Set by the VFIO core at its init. */
  vfioGroupRegistered: ((group: IommuGroup) => boolean) | undefined;

  onChange(fn: HostListener): () => void {
    this.listeners.push(fn);
    return () => {
      const i = this.listeners.indexOf(fn);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  changed(): void {
    for (const fn of [...this.listeners]) fn();
  }

  // ---- mutations ------------------------------------------------------------------------

  registerDriver(reg: PciDriverRegistration): PciDriver {
    return this.dd.registerDriver(reg);
  }

  /** `really_probe`: bind `drvName` to `dev`. Throws the probe errno. */
  probeDriver(dev: PciDevice, drvName: string): void {
    this.dd.probe(dev, drvName);
  }

  /** `device_driver_detach` */
  releaseDriver(dev: PciDevice): void {
    this.dd.release(dev);
  }

  claimDmaOwner(group: IommuGroup, owner: object): void {
    this.iommu.claimDmaOwner(group, owner);
  }

  releaseDmaOwner(group: IommuGroup, owner: object): void {
    this.iommu.releaseDmaOwner(group, owner);
  }

  /** Add a device at runtime (PCI rescan/hot-add): probe, group (lowest free id), bind. */
  hotplug(spec: DeviceSpec): PciDevice {
    if (spec.driver && !this.dd.findDriver(spec.driver)) this.dd.registerTopologyDrivers([spec]);
    const dev = this.pci.hotAdd(spec);
    this.changed();
    return dev;
  }

  /**
   * `echo 1 > remove`: the device and everything below it leave the kernel (unbind, leave the
   * group, free an empty group's id) but stay in the hardware, where a rescan finds them again.
   * @see drivers/pci/pci-sysfs.c:remove_store, drivers/pci/remove.c:pci_stop_and_remove_bus_device
   */
  removeDevice(bdf: string): void {
    const dev = this.pci.findDevice(bdf);
    if (!dev) throw kerr('ENODEV', `no device ${bdf}`);
    const subtree = (d: PciDevice): PciDevice[] => [d, ...this.pci.children(d).flatMap(subtree)];
    for (const d of subtree(dev)) this.offline.set(d.bdf, d.spec);
    this.pci.remove(dev);
    this.changed();
  }

  /**
   * `echo 1 > rescan`: removed functions on `bus` (every bus when omitted) and below come back as
   * new devices: a fresh probe, the lowest free group id, the first matching driver, no
   * driver_override. @see drivers/pci/probe.c:pci_rescan_bus, drivers/base/dd.c:device_attach
   * @note emulation: only drivers the machine has registered can bind on rescan.
   */
  rescan(bus?: { domain: number; bus: number }): number {
    const onBus = (bdf: string) => !bus || bdf.slice(0, 7) === `${bus.domain.toString(16).padStart(4, '0')}:${bus.bus.toString(16).padStart(2, '0')}`;
    // The scan recurses into the secondary bus of every bridge on the bus.
    const below = (bdf: string | undefined): boolean => {
      for (let b = bdf; b; b = (this.pci.findDevice(b)?.spec ?? this.offline.get(b))?.parent) if (onBus(b)) return true;
      return false;
    };
    let added = 0;
    const depth = (sp: DeviceSpec) => {
      let n = 0;
      for (let b = sp.parent; b; b = (this.pci.findDevice(b)?.spec ?? this.offline.get(b))?.parent) n++;
      return n;
    };
    const order = [...this.offline.values()].sort((a, b) => depth(a) - depth(b) || (a.bdf < b.bdf ? -1 : 1));
    for (const spec of order) {
      if (this.pci.findDevice(spec.bdf) || (spec.parent && !this.pci.findDevice(spec.parent))) continue;
      if (!onBus(spec.bdf) && !below(spec.parent)) continue;
      const { driver_override: _override, ...rest } = spec;
      const dev = this.pci.hotAdd({ ...rest, driver: null });
      this.dd.attach(dev);
      added++;
    }
    for (const bdf of [...this.offline.keys()]) if (this.pci.findDevice(bdf)) this.offline.delete(bdf);
    if (added) this.changed();
    return added;
  }

  /** Functions removed through sysfs that are still in the hardware. */
  private readonly offline = new Map<string, DeviceSpec>();

  /** Remove a device (and everything below it): unbind, leave the group, free an empty group's id. */
  hotUnplug(bdf: string): void {
    const dev = this.pci.findDevice(bdf);
    if (!dev) throw kerr('ENODEV', `no device ${bdf}`);
    this.pci.remove(dev);
    this.changed();
  }
}

export { busWalkOrder, devicePath } from './drivers/probe';
