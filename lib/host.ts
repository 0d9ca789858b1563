// SPDX-License-Identifier: GPL-2.0-only
/**
 * The emulated kernel's device state for one machine: IOMMU units, PCI devices, IOMMU groups
 * and PCI drivers, built from a Topology under a KernelProfile, plus the operations sysfs stores
 * and hot-plug perform on it. Pure: no bytes, no fs. Every mutation ends in `changed()`.
 */
import { kerr } from './errno';
import { KernelProfile } from './kernel/profile';
import { Ida } from './model/ida';
import {
  DomainType,
  IommuGroup,
  IommuUnit,
  PciDevice,
  PciDriver,
  isBridge,
  parseBdf,
} from './model/host';
import { ResvRegion, ResvType, mergeResvRegions, resvRegion } from './model/resv_region';
import { IOMMU_DRIVERS, unitAperture } from './iommu/drivers';
import { deviceIsRmrrLocked } from './iommu/intel_iommu';
import type { ResvContext } from './iommu/context';
import type { DeviceSpec, ResvTypeName, Topology } from './topology/topology';
import { buildConfigSpace } from './drivers/pci_config';

export const VFIO_PCI = 'vfio-pci';
/** Drivers a group may have bound and still be viable for VFIO. @see drivers/vfio/group.c:vfio_group_viable */
export const VFIO_ALLOWED_DRIVERS = new Set([VFIO_PCI, 'pci-stub', 'pcieport']);
/** Drivers that do not use the DMA API (driver_managed_dma or no DMA at all). */
const NON_DMA_API_DRIVERS = new Set([VFIO_PCI, 'pci-stub', 'pcieport']);

export type HostListener = () => void;

const RECORDED_TYPE: Readonly<Record<ResvTypeName, ResvType>> = {
  direct: ResvType.DIRECT,
  'direct-relaxable': ResvType.DIRECT_RELAXABLE,
  reserved: ResvType.RESERVED,
  msi: ResvType.MSI,
  'sw-msi': ResvType.SW_MSI,
};

export class Host {
  readonly topology: Topology;
  readonly kernel: KernelProfile;
  readonly units: IommuUnit[] = [];
  /** Probe order (bus walk order). */
  readonly devices: PciDevice[] = [];
  readonly drivers = new Map<string, PciDriver>();
  private readonly groupsById = new Map<number, IommuGroup>();
  private readonly groupIda = new Ida();
  private readonly vfioDevIda = new Ida();
  private readonly listeners: HostListener[] = [];
  private readonly resvCtx: ResvContext;

  constructor(topology: Topology, kernel: KernelProfile) {
    // Own copy: hot-plug and attribute stores change device specs, never the caller's Topology.
    topology = { ...topology, devices: topology.devices.map((d) => ({ ...d })) };
    this.topology = topology;
    this.kernel = kernel;
    this.resvCtx = { kernel, firmware: topology.firmware, topology };
    this.buildUnits();
    for (const d of topology.devices) if (d.driver) this.ensureDriver(d.driver, true);
    if (topology.kconfig.CONFIG_VFIO) this.ensureDriver(VFIO_PCI, false);
    for (const spec of busWalkOrder(topology.devices)) this.addDevice(spec);
  }

  // ---- queries -------------------------------------------------------------------------

  groups(): IommuGroup[] {
    return [...this.groupsById.values()].sort((a, b) => a.id - b.id);
  }

  findGroup(id: number): IommuGroup | undefined {
    return this.groupsById.get(id);
  }

  findDevice(bdf: string): PciDevice | undefined {
    return this.devices.find((d) => d.bdf === bdf && !d.removed);
  }

  findUnit(name: string): IommuUnit | undefined {
    return this.units.find((u) => u.name === name);
  }

  /** A device's own regions, in its driver's order. @see drivers/iommu/iommu.c:iommu_get_resv_regions */
  deviceResvRegions(dev: PciDevice): ResvRegion[] {
    if (!dev.unit || !this.kernel.has('reserved_regions')) return [];
    // @note emulation: a recorded host's regions that no firmware table explains replay verbatim.
    if (dev.spec.resvRegions)
      return dev.spec.resvRegions.map((r) => resvRegion(r.start, r.end - r.start + 1n, 0, RECORDED_TYPE[r.type], 'recorded'));
    return IOMMU_DRIVERS[dev.unit.driver].getResvRegions(dev, this.resvCtx);
  }

  /**
   * The group's merged list, rebuilt on every call as the kernel does on every read; empty for
   * groups whose devices have no IOMMU (the VFIO no-IOMMU group).
   * @see drivers/iommu/iommu.c:iommu_get_group_resv_regions
   */
  groupResvRegions(group: IommuGroup): ResvRegion[] {
    const perDevice: ResvRegion[][] = [];
    for (const d of group.devices) {
      if (!d.unit) break;
      perDevice.push(this.deviceResvRegions(d));
    }
    return mergeResvRegions(perDevice, this.kernel.has('resv_merge_adjacent') ? 'v5.3' : 'v4.11');
  }

  /** The device has a `direct` region (`dev->iommu->require_direct`). */
  requiresDirect(dev: PciDevice): boolean {
    return this.deviceResvRegions(dev).some((r) => r.type === ResvType.DIRECT);
  }

  /**
   * Attaching the group to an unmanaged (VFIO) domain: older VT-d kernels refuse devices locked
   * by an RMRR. @see drivers/iommu/intel/iommu.c:intel_iommu_attach_device
   */
  checkUnmanagedAttach(group: IommuGroup): void {
    if (!this.kernel.has('intel_rmrr_locked')) return;
    for (const d of group.devices)
      if (d.unit?.driver === 'intel-iommu' && deviceIsRmrrLocked(d, this.topology.firmware))
        throw kerr('EPERM', `${d.bdf} is ineligible for IOMMU domain attach due to platform RMRR requirement`);
  }

  /** Every device of the group is on a driver VFIO tolerates. */
  groupViable(group: IommuGroup): boolean {
    return group.devices.every((d) => d.driver === null || VFIO_ALLOWED_DRIVERS.has(d.driver));
  }

  /** VFIO creates /dev/vfio/<id> when the first device of a group binds to vfio-pci. */
  groupHasVfioDevice(group: IommuGroup): boolean {
    return group.devices.some((d) => d.driver === VFIO_PCI);
  }

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

  // ---- construction ----------------------------------------------------------------------

  private buildUnits(): void {
    const perDriver = new Map<string, number>();
    for (const spec of this.topology.iommus) {
      const ops = IOMMU_DRIVERS[spec.driver];
      const i = perDriver.get(spec.driver) ?? 0;
      perDriver.set(spec.driver, i + 1);
      let parent: string;
      if (ops.sysfsParent === 'pci' && spec.bdf && this.topology.devices.some((d) => d.bdf === spec.bdf))
        // virtio-iommu registers under its virtio device, a child of the PCI function.
        // @see drivers/iommu/virtio-iommu.c:viommu_probe (iommu_device_sysfs_add(…, dev->parent …))
        parent =
          spec.driver === 'virtio-iommu'
            ? `${devicePath(this.topology.devices, spec.bdf)}/${spec.name}/iommu`
            : `${devicePath(this.topology.devices, spec.bdf)}/iommu`;
      else if (ops.sysfsParent === 'platform' && ops.platformName) parent = `/sys/devices/platform/${ops.platformName(spec, i)}/iommu`;
      else parent = '/sys/devices/virtual/iommu';
      this.units.push({
        spec,
        name: spec.name,
        driver: spec.driver,
        sysfsPath: `${parent}/${spec.name}`,
        aperture: unitAperture(spec),
        pgsizeBitmap: spec.pgsizes ?? ops.defaultPgsizes(spec),
        msiIsolated: spec.interruptRemapping,
      });
    }
  }

  private ensureDriver(name: string, fromTopology: boolean): PciDriver {
    let drv = this.drivers.get(name);
    if (!drv) {
      drv = { name, staticIds: [], dynamicIds: [], dmaApi: !NON_DMA_API_DRIVERS.has(name) };
      this.drivers.set(name, drv);
    }
    if (fromTopology && name !== VFIO_PCI) {
      // The static id table of a host driver: the devices the topology binds it to.
      const ids = this.topology.devices.filter((d) => d.driver === name).map((d) => [d.vendor, d.device] as const);
      (drv.staticIds as (readonly [number, number])[]).splice(0, drv.staticIds.length, ...ids);
    }
    return drv;
  }

  /** `device_add` + IOMMU probe + driver probe of the topology's bound driver. */
  private addDevice(spec: DeviceSpec): PciDevice {
    const loc = parseBdf(spec.bdf)!;
    const parent = spec.parent ? this.findDevice(spec.parent) : undefined;
    const unitName = spec.iommu === undefined ? this.units[0]?.name : spec.iommu;
    const unit = unitName === null || unitName === undefined ? undefined : this.findUnit(unitName);
    const dev: PciDevice = {
      spec,
      bdf: spec.bdf,
      ...loc,
      vendor: spec.vendor,
      device: spec.device,
      class: spec.class,
      revision: spec.revision,
      subsystemVendor: spec.subsystem_vendor,
      subsystemDevice: spec.subsystem_device,
      bars: spec.bars,
      sysfsPath: parent ? `${parent.sysfsPath}/${spec.bdf}` : `/sys/devices/pci${rootBusName(spec.bdf)}/${spec.bdf}`,
      parent,
      unit,
      driver: null,
      driverOverride: spec.driver_override ?? null,
      group: undefined,
      groupLinkName: undefined,
      vfioDevIndex: undefined,
      config: buildConfigSpace(spec),
      removed: false,
    };
    this.devices.push(dev);
    if (unit) this.iommuProbeDevice(dev);
    if (spec.driver) this.probeDriver(dev, spec.driver);
    return dev;
  }

  /** @see drivers/iommu/iommu.c:iommu_probe_device → pci_device_group → iommu_group_alloc */
  private iommuProbeDevice(dev: PciDevice): void {
    const key = this.groupKey(dev);
    const peer = this.devices.find((d) => d !== dev && !d.removed && d.group && !d.group.noiommu && this.groupKey(d) === key);
    const group = peer?.group ?? this.allocGroup(false);
    this.addToGroup(group, dev);
  }

  private allocGroup(noiommu: boolean): IommuGroup {
    const boot = noiommu ? null : this.bootDomainType();
    const group: IommuGroup = {
      id: this.groupIda.alloc(),
      devices: [],
      name: noiommu ? 'vfio-noiommu' : undefined,
      defaultDomain: boot,
      bootDomain: boot,
      ownerCnt: 0,
      owner: null,
      noiommu,
    };
    this.groupsById.set(group.id, group);
    return group;
  }

  private addToGroup(group: IommuGroup, dev: PciDevice): void {
    // Name collisions get `.N` suffixes. @see drivers/iommu/iommu.c:iommu_group_alloc_device
    let name = dev.bdf;
    for (let i = 0; group.devices.some((d) => d.groupLinkName === name); i++) name = `${dev.bdf}.${i}`;
    dev.group = group;
    dev.groupLinkName = name;
    group.devices.push(dev);
  }

  private removeFromGroup(dev: PciDevice): void {
    const group = dev.group;
    if (!group) return;
    group.devices.splice(group.devices.indexOf(dev), 1);
    dev.group = undefined;
    dev.groupLinkName = undefined;
    if (group.devices.length === 0) {
      this.groupsById.delete(group.id);
      this.groupIda.free(group.id);
    }
  }

  /**
   * Which devices share a group: an explicit label; else isolation is lost at the topmost
   * non-ACS bridge upstream (share its group); else functions of a multi-function device
   * without ACS share one group.
   * @see drivers/iommu/iommu.c:pci_device_group
   */
  private groupKey(dev: PciDevice): string {
    if (dev.spec.group !== undefined) return `label:${dev.spec.group}`;
    let anchor: PciDevice | undefined;
    for (let p = dev.parent; p; p = p.parent) if (p.spec.acs === false) anchor = p;
    if (anchor) return this.groupKey(anchor);
    const slot = (d: { bdf: string }) => d.bdf.slice(0, -2);
    const functions = this.topology.devices.filter((d) => slot(d) === slot(dev));
    const multifunction = dev.spec.multifunction ?? functions.length > 1;
    if (multifunction && dev.spec.acs !== true && !isBridge(dev)) return `slot:${slot(dev)}`;
    return `dev:${dev.bdf}`;
  }

  /** Boot default domain: iommu.passthrough / iommu.strict / the arch's CONFIG default. */
  private bootDomainType(): DomainType {
    const c = this.topology.cmdline;
    if (c['iommu.passthrough']) return 'identity';
    const lazyDefault = this.topology.arch === 'x86_64' || this.topology.arch === 's390x';
    const strict = c['iommu.strict'] ?? !lazyDefault;
    return !strict && this.kernel.has('dma_fq') ? 'DMA-FQ' : 'DMA';
  }

  // ---- driver core ----------------------------------------------------------------------

  /** `really_probe`: bind `drvName` to `dev`. Throws the probe errno. */
  probeDriver(dev: PciDevice, drvName: string): void {
    const drv = this.ensureDriver(drvName, false);
    if (drv.name === VFIO_PCI) this.vfioPciProbe(dev);
    if (drv.dmaApi && dev.group) {
      // A group whose DMA is owned by userspace refuses kernel DMA-API drivers.
      // @see drivers/iommu/iommu.c:iommu_device_use_default_domain
      if (dev.group.ownerCnt && dev.group.owner) throw kerr('EBUSY', 'group DMA is owned by userspace');
      dev.group.ownerCnt++;
    }
    dev.driver = drv.name;
  }

  /** `device_driver_detach` */
  releaseDriver(dev: PciDevice): void {
    const drv = dev.driver ? this.drivers.get(dev.driver) : undefined;
    if (!drv) return;
    if (drv.dmaApi && dev.group) dev.group.ownerCnt--;
    if (drv.name === VFIO_PCI) this.vfioPciRemove(dev);
    dev.driver = null;
  }

  /**
   * vfio-pci probe: a device with no IOMMU group binds only in unsafe no-IOMMU mode, which gives
   * it a fake named group. @see drivers/vfio/group.c:vfio_noiommu_group_alloc
   */
  private vfioPciProbe(dev: PciDevice): void {
    if (!dev.group) {
      if (!this.topology.cmdline['vfio.enable_unsafe_noiommu_mode']) throw kerr('EINVAL', 'no IOMMU group');
      this.addToGroup(this.allocGroup(true), dev);
    }
    if (this.kernel.has('vfio_device_cdev')) dev.vfioDevIndex = this.vfioDevIda.alloc();
  }

  private vfioPciRemove(dev: PciDevice): void {
    if (dev.vfioDevIndex !== undefined) this.vfioDevIda.free(dev.vfioDevIndex);
    dev.vfioDevIndex = undefined;
    if (dev.group?.noiommu) this.removeFromGroup(dev);
  }

  /**
   * Userspace takes the group's DMA (VFIO container attach, iommufd bind): refused with EPERM
   * while a kernel driver or another owner holds it. @see drivers/iommu/iommu.c:iommu_group_claim_dma_owner
   */
  claimDmaOwner(group: IommuGroup, owner: object): void {
    if (group.ownerCnt && group.owner !== owner) throw kerr('EPERM', 'group DMA is in use');
    // Taking ownership attaches the blocking domain, which a device needing 1:1 mappings refuses.
    // @see drivers/iommu/iommu.c:__iommu_take_dma_ownership, __iommu_device_set_domain
    if (this.kernel.has('iommu_require_direct') && group.devices.some((d) => this.requiresDirect(d)))
      throw kerr('EINVAL', 'firmware has requested this device have a 1:1 IOMMU mapping');
    group.owner = owner;
    group.ownerCnt++;
  }

  /** @see drivers/iommu/iommu.c:iommu_group_release_dma_owner */
  releaseDmaOwner(group: IommuGroup, owner: object): void {
    if (group.owner !== owner || group.ownerCnt === 0) return;
    if (--group.ownerCnt === 0) group.owner = null;
  }

  // ---- hot-plug -------------------------------------------------------------------------

  /** Add a device at runtime (PCI rescan/hot-add): probe, group (lowest free id), bind. */
  hotplug(spec: DeviceSpec): PciDevice {
    if (this.findDevice(spec.bdf)) throw kerr('EEXIST', `device ${spec.bdf} exists`);
    if (spec.parent && !this.findDevice(spec.parent)) throw kerr('ENODEV', `no parent ${spec.parent}`);
    (this.topology.devices as DeviceSpec[]).push(spec);
    if (spec.driver) this.ensureDriver(spec.driver, true);
    const dev = this.addDevice(spec);
    this.changed();
    return dev;
  }

  /** Remove a device (and everything below it): unbind, leave the group, free an empty group's id. */
  hotUnplug(bdf: string): void {
    const dev = this.findDevice(bdf);
    if (!dev) throw kerr('ENODEV', `no device ${bdf}`);
    for (const child of this.devices.filter((d) => d.parent === dev && !d.removed)) this.hotUnplug(child.bdf);
    this.releaseDriver(dev);
    this.removeFromGroup(dev);
    dev.removed = true;
    this.devices.splice(this.devices.indexOf(dev), 1);
    const specs = this.topology.devices as DeviceSpec[];
    specs.splice(specs.findIndex((s) => s.bdf === bdf), 1);
    this.changed();
  }
}

function rootBusName(bdf: string): string {
  return bdf.slice(0, 7);
}

/** `/sys/devices/pci0000:00/<bridge>/<bdf>` from the topology's parent chain. */
export function devicePath(specs: readonly DeviceSpec[], bdf: string): string {
  const chain: string[] = [];
  let cur: DeviceSpec | undefined = specs.find((d) => d.bdf === bdf);
  let top = bdf;
  while (cur) {
    chain.unshift(cur.bdf);
    top = cur.bdf;
    cur = cur.parent ? specs.find((d) => d.bdf === cur!.parent) : undefined;
  }
  return `/sys/devices/pci${rootBusName(top)}/${chain.join('/')}`;
}

/**
 * The order the PCI core adds devices: every device of a bus (by devfn), then each bridge's
 * secondary bus in turn. @see drivers/pci/bus.c:pci_bus_add_devices
 */
export function busWalkOrder(specs: readonly DeviceSpec[]): DeviceSpec[] {
  const byDevfn = (a: DeviceSpec, b: DeviceSpec) => (a.bdf < b.bdf ? -1 : a.bdf > b.bdf ? 1 : 0);
  const children = (parent: string | undefined) => specs.filter((d) => d.parent === parent).sort(byDevfn);
  const out: DeviceSpec[] = [];
  const walk = (bus: DeviceSpec[]) => {
    out.push(...bus);
    for (const d of bus) {
      const below = children(d.bdf);
      if (below.length) walk(below);
    }
  };
  walk(children(undefined));
  return out;
}

