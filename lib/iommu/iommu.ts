// SPDX-License-Identifier: GPL-2.0-only
/**
 * drivers/iommu/iommu.c: the IOMMU core of one machine — the driver registry, IOMMU instances,
 * device probe into groups, the groups' reserved regions, domains and attach / detach / replace,
 * DMA ownership (kernel drivers vs. userspace), and the one usable-IOVA computation that VFIO
 * type1, iommufd, the CLI and the HTTP agent share.
 * Studied against v6.6–v6.19; older behaviour is switched by KernelProfile rows.
 */
import { kerr } from '../errno';
import type { KernelProfile } from '../kernel/profile';
import { Ida } from '../model/ida';
import type { DomainType, IommuDomain, IommuGroup, IommuUnit, PciDevice, PlatformDevice } from '../model/host';
import { isBridge } from '../model/host';
import { IovaRange, range, subtractRange } from '../model/iova';
import { RESV_TYPE_BY_NAME, ResvRegion, ResvType, mergeResvRegions, resvRegion } from '../model/resv_region';
import type { IommuSpec, Topology } from '../topology/topology';
import type { ResvContext } from './context';
import type { IommuCapName, IommuOps } from './drivers';
import { iommuDriverPresent } from './drivers';

export type { IommuCapName, IommuOps, IommuUserData } from './drivers';

/** `enum iommu_cap` (the ones consumers ask). */
export type IommuCap = IommuCapName;

/** What the core needs of the PCI layer (drivers/pci): relatives of a device for pci_device_group. */
export interface PciTopologyView {
  /** The other functions of the device's slot that are present now. */
  slotSiblings(dev: PciDevice): readonly PciDevice[];
  /** Number of functions the slot has now (present specs), for the multifunction default. */
  slotFunctionCount(dev: PciDevice): number;
  /** `/sys/devices/…/<bdf>` of a device named by a topology. */
  devicePath(bdf: string): string | undefined;
}

/**
 * The usable IOVA space of a domain aperture under a set of reserved regions: the aperture minus
 * every region except direct-relaxable ones, which VFIO and iommufd both let userspace map over.
 * @see drivers/vfio/vfio_iommu_type1.c:vfio_iommu_resv_exclude
 * @see drivers/iommu/iommufd/io_pagetable.c:iopt_table_enforce_dev_resv_regions
 */
export function usableIova(aperture: IovaRange, regions: readonly ResvRegion[]): IovaRange[] {
  return excludeReserved([aperture], regions);
}

/** Carve every region but direct-relaxable out of a sorted list of disjoint ranges. */
export function excludeReserved(list: readonly IovaRange[], regions: readonly ResvRegion[]): IovaRange[] {
  let out = [...list];
  for (const r of regions) if (r.type !== ResvType.DIRECT_RELAXABLE) out = subtractRange(out, r);
  return out;
}

/** One machine's IOMMU core. */
export class IommuCore {
  private readonly ops = new Map<string, IommuOps>();
  readonly units: IommuUnit[] = [];
  private readonly groupsById = new Map<number, IommuGroup>();
  private readonly groupIda = new Ida();
  /** pci_device_group's answers so far: the group of every non-slot grouping key. */
  private readonly keyGroups = new Map<string, IommuGroup>();
  private readonly resvCtx: ResvContext;
  private readonly defaultDomains = new WeakMap<IommuGroup, IommuDomain>();
  private readonly blockingDomains = new WeakMap<IommuGroup, IommuDomain>();

  constructor(
    readonly topology: Topology,
    readonly kernel: KernelProfile,
    private readonly pci: PciTopologyView,
  ) {
    this.resvCtx = { kernel, firmware: topology.firmware, topology };
  }

  // ---- drivers and instances ---------------------------------------------------------------

  /** `iommu_device_register` of a driver's ops: a second driver of the same name is EBUSY. */
  registerDriver(ops: IommuOps): void {
    if (this.ops.has(ops.name)) throw kerr('EBUSY', `IOMMU driver ${ops.name} is already registered`);
    this.ops.set(ops.name, ops);
  }

  driver(name: string): IommuOps {
    const o = this.ops.get(name);
    if (!o) throw kerr('ENODEV', `no IOMMU driver ${name}`);
    return o;
  }

  get driverNames(): string[] {
    return [...this.ops.keys()];
  }

  /** One IOMMU instance per topology entry, registered under its driver's sysfs parent. */
  addUnits(specs: readonly IommuSpec[]): void {
    const perDriver = new Map<string, number>();
    for (const spec of specs) {
      const ops = this.driver(spec.driver);
      const i = perDriver.get(spec.driver) ?? 0;
      perDriver.set(spec.driver, i + 1);
      // A unit whose driver is newer than the kernel is never probed: no instance, no groups.
      if (!iommuDriverPresent(spec, this.topology, this.kernel, ops)) continue;
      const pciPath = spec.bdf ? this.pci.devicePath(spec.bdf) : undefined;
      let parent: string;
      if (ops.sysfsParent === 'pci' && pciPath)
        // virtio-iommu registers under its virtio device, a child of the PCI function.
        // @see drivers/iommu/virtio-iommu.c:viommu_probe (iommu_device_sysfs_add(…, dev->parent …))
        parent = spec.driver === 'virtio-iommu' ? `${pciPath}/${spec.name}/iommu` : `${pciPath}/iommu`;
      else if (ops.sysfsParent === 'platform' && ops.platformName) parent = `/sys/devices/platform/${ops.platformName(spec, i)}/iommu`;
      else parent = '/sys/devices/virtual/iommu';
      this.units.push({
        spec,
        name: spec.name,
        driver: spec.driver,
        sysfsPath: `${parent}/${spec.name}`,
        aperture: ops.aperture(spec),
        pgsizeBitmap: spec.pgsizes ?? ops.defaultPgsizes(spec),
        msiIsolated: spec.interruptRemapping,
      });
    }
  }

  findUnit(name: string): IommuUnit | undefined {
    return this.units.find((u) => u.name === name);
  }

  /** `iommu_capable(dev, cap)` */
  capable(dev: PciDevice, cap: IommuCap): boolean {
    if (!dev.unit) return false;
    return this.driver(dev.unit.driver).capable(dev.unit, cap, dev);
  }

  // ---- groups ------------------------------------------------------------------------------

  groups(): IommuGroup[] {
    return [...this.groupsById.values()].sort((a, b) => a.id - b.id);
  }

  findGroup(id: number): IommuGroup | undefined {
    return this.groupsById.get(id);
  }

  /** @see drivers/iommu/iommu.c:iommu_group_alloc (ids from ida_alloc: the lowest free) */
  allocGroup(noiommu = false): IommuGroup {
    const boot = noiommu ? null : this.bootDomainType();
    const group: IommuGroup = {
      id: this.groupIda.alloc(),
      devices: [],
      platformDevices: [],
      name: noiommu ? 'vfio-noiommu' : undefined,
      defaultDomain: boot,
      bootDomain: boot,
      ownerCnt: 0,
      owner: null,
      noiommu,
      domain: null,
    };
    this.groupsById.set(group.id, group);
    return group;
  }

  /** @see drivers/iommu/iommu.c:iommu_group_add_device (link names get `.N` on a collision) */
  groupAddDevice(group: IommuGroup, dev: PciDevice): void {
    let name = dev.bdf;
    for (let i = 0; group.devices.some((d) => d.groupLinkName === name); i++) name = `${dev.bdf}.${i}`;
    dev.group = group;
    dev.groupLinkName = name;
    group.devices.push(dev);
  }

  /** @see drivers/iommu/iommu.c:iommu_group_remove_device; an empty group is freed, its id reusable. */
  groupRemoveDevice(dev: PciDevice): void {
    const group = dev.group;
    if (!group) return;
    group.devices.splice(group.devices.indexOf(dev), 1);
    dev.group = undefined;
    dev.groupLinkName = undefined;
    if (group.devices.length === 0) {
      this.groupsById.delete(group.id);
      this.groupIda.free(group.id);
      for (const [k, g] of this.keyGroups) if (g === group) this.keyGroups.delete(k);
    }
  }

  /** @see drivers/iommu/iommu.c:iommu_probe_device → pci_device_group */
  probeDevice(dev: PciDevice): void {
    if (!dev.unit) return;
    const key = this.groupKey(dev);
    let group: IommuGroup | undefined;
    if (key.startsWith('slot:')) {
      for (const sib of this.pci.slotSiblings(dev))
        if (sib !== dev && sib.group && !sib.group.noiommu && this.groupKey(sib) === key) {
          group = sib.group;
          break;
        }
    } else {
      const g = this.keyGroups.get(key);
      if (g && this.groupsById.get(g.id) === g) group = g;
    }
    group ??= this.allocGroup(false);
    this.keyGroups.set(key, group);
    this.groupAddDevice(group, dev);
  }

  /** @see drivers/iommu/iommu.c:iommu_release_device */
  releaseDevice(dev: PciDevice): void {
    this.groupRemoveDevice(dev);
  }

  /**
   * A platform device's group: a labelled group shared with its peers; the instance's one group
   * on drivers that group per instance (sun50i); else one of its own. A bound platform driver
   * uses the DMA API, so it holds the group's default domain.
   * @see drivers/iommu/iommu.c:generic_device_group, drivers/iommu/sun50i-iommu.c:sun50i_iommu_device_group
   * @see drivers/base/platform.c:platform_dma_configure → iommu_device_use_default_domain
   */
  probePlatformDevice(dev: PlatformDevice, peers: readonly PlatformDevice[]): void {
    if (!dev.unit) return;
    const key = (d: PlatformDevice) =>
      d.platform.group !== undefined ? `label:${d.platform.group}` : d.unit && this.driver(d.unit.driver).platformOnly ? `unit:${d.unit.name}` : `dev:${d.name}`;
    const group = peers.find((d) => d !== dev && d.group && key(d) === key(dev))?.group ?? this.allocGroup(false);
    dev.group = group;
    dev.groupLinkName = dev.name;
    group.platformDevices.push(dev);
    if (dev.driver) group.ownerCnt++;
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
    const multifunction = dev.spec.multifunction ?? this.pci.slotFunctionCount(dev) > 1;
    if (multifunction && dev.spec.acs !== true && !isBridge(dev)) return `slot:${dev.bdf.slice(0, -2)}`;
    return `dev:${dev.bdf}`;
  }

  /** Boot default domain: iommu.passthrough / iommu.strict / the arch's CONFIG default. */
  bootDomainType(): DomainType {
    const c = this.topology.cmdline;
    if (c['iommu.passthrough']) return 'identity';
    // s390 joined the lazy default with its dma-iommu conversion (profile s390_dma_fq).
    const lazyDefault = this.topology.arch === 'x86_64' || (this.topology.arch === 's390x' && this.kernel.has('s390_dma_fq'));
    const strict = c['iommu.strict'] ?? !lazyDefault;
    return !strict && this.kernel.has('dma_fq') ? 'DMA-FQ' : 'DMA';
  }

  // ---- reserved regions and usable IOVA ----------------------------------------------------

  /** A device's own regions, in its driver's order. @see drivers/iommu/iommu.c:iommu_get_resv_regions */
  deviceResvRegions(dev: PciDevice | PlatformDevice): ResvRegion[] {
    if (!dev.unit || !this.kernel.has('reserved_regions')) return [];
    // @note emulation: a recorded host's regions that no firmware table explains replay verbatim.
    if ('config' in dev && dev.spec.resvRegions)
      return dev.spec.resvRegions.map((r) => resvRegion(r.start, r.end - r.start + 1n, 0, RESV_TYPE_BY_NAME[r.type], `recorded: devices[].resvRegions (${r.type})`));
    return this.driver(dev.unit.driver).getResvRegions(dev, this.resvCtx);
  }

  /**
   * The group's merged list, rebuilt on every call as the kernel does on every read; empty for
   * groups whose devices have no IOMMU (the VFIO no-IOMMU group).
   * @see drivers/iommu/iommu.c:iommu_get_group_resv_regions
   */
  groupResvRegions(group: IommuGroup): ResvRegion[] {
    const perDevice: ResvRegion[][] = [];
    const labels: string[] = [];
    for (const d of [...group.devices, ...group.platformDevices]) {
      if (!d.unit) break;
      perDevice.push(this.deviceResvRegions(d));
      labels.push(d.bdf);
    }
    return mergeResvRegions(perDevice, this.kernel.has('resv_merge_adjacent') ? 'v5.4' : 'v4.11', labels);
  }

  /** The IOMMU instance translating the group's devices (none for the fake no-IOMMU group). */
  groupUnit(group: IommuGroup): IommuUnit | undefined {
    return group.devices.find((d) => d.unit)?.unit ?? group.platformDevices.find((d) => d.unit)?.unit;
  }

  /**
   * What userspace can map for this group alone: its instance's paging-domain aperture minus the
   * group's reserved regions (relaxable direct ranges stay usable). Empty without an IOMMU.
   */
  groupUsableIova(group: IommuGroup): IovaRange[] {
    let ap: IovaRange | undefined;
    for (const d of group.devices) {
      const a = d.unit?.aperture;
      if (!a) continue;
      // Devices of one group behind two instances: only what both apertures cover.
      ap = ap ? range(ap.start > a.start ? ap.start : a.start, ap.last < a.last ? ap.last : a.last) : a;
    }
    if (!ap || ap.start > ap.last) return [];
    return usableIova(ap, this.groupResvRegions(group));
  }

  /** The device has a `direct` region (`dev->iommu->require_direct`). */
  requiresDirect(dev: PciDevice): boolean {
    return this.deviceResvRegions(dev).some((r) => r.type === ResvType.DIRECT);
  }

  /**
   * A device of the group needs its 1:1 mappings and refuses the blocking domain, so userspace
   * cannot claim the group's DMA (VFIO attach, iommufd bind are EINVAL), from v6.6.
   * @see drivers/iommu/iommu.c:__iommu_device_set_domain (dev->iommu->require_direct)
   */
  groupRefusesBlocking(group: IommuGroup): boolean {
    return this.kernel.has('iommu_require_direct') && group.devices.some((d) => this.requiresDirect(d));
  }

  /**
   * The regions `unit`'s driver reports for a device without per-device firmware entries: what
   * every device behind the unit gets (its MSI window, the HyperTransport hole, ITS doorbells for
   * all devices). @note emulation: no kernel function computes this; it is what a per-IOMMU
   * `reserved_regions` ABI prototype would show (the LPC 2016 suggestion to advertise the regions
   * under /sys/class/iommu/).
   */
  unitResvRegions(unit: IommuUnit): ResvRegion[] {
    if (!this.kernel.has('reserved_regions')) return [];
    const probe = { bdf: `iommu:${unit.name}`, class: 0, parent: undefined, unit, spec: {} };
    return mergeResvRegions([this.driver(unit.driver).getResvRegions(probe, this.resvCtx)], this.kernel.has('resv_merge_adjacent') ? 'v5.4' : 'v4.11');
  }

  /** `iommu_group_has_isolated_msi` (older: `irq_domain_check_msi_remap() || IOMMU_CAP_INTR_REMAP`). */
  groupHasIsolatedMsi(group: IommuGroup): boolean {
    return group.devices.every((d) => !d.unit || d.unit.msiIsolated);
  }

  // ---- domains -----------------------------------------------------------------------------

  /**
   * A paging domain for `unit`'s driver (`iommu_paging_domain_alloc(dev)`): its geometry and page
   * sizes are the instance's.
   */
  domainAllocPaging(unit: IommuUnit, type: DomainType = 'unmanaged'): IommuDomain {
    this.driver(unit.driver);
    return { type, driver: unit.driver, unit, geometry: unit.aperture, pgsizeBitmap: unit.pgsizeBitmap, nesting: false, groups: new Set() };
  }

  /**
   * `iommu_paging_domain_alloc(dev)`: the device's driver allocates it when its domains depend on
   * the device, otherwise the instance's geometry and page sizes.
   */
  deviceDomainAllocPaging(dev: PciDevice): IommuDomain {
    if (!dev.unit) throw kerr('ENODEV');
    const ops = this.driver(dev.unit.driver);
    return ops.domainAllocPaging ? ops.domainAllocPaging(dev) : this.domainAllocPaging(dev.unit);
  }

  /** The driver of a device (`dev_iommu_ops`). */
  deviceOps(dev: PciDevice): IommuOps {
    if (!dev.unit) throw kerr('ENODEV');
    return this.driver(dev.unit.driver);
  }

  /** `iommu_domain_free`: a domain still attached is a caller bug. */
  domainFree(domain: IommuDomain): void {
    if (domain.groups.size) throw new Error(`iommu_domain_free of a domain with ${domain.groups.size} group(s) attached`);
    domain.ops?.free?.(domain);
  }

  /** `iommu_enable_nesting` → the driver's `enable_nesting` (only the ARM SMMUs have it). */
  enableNesting(domain: IommuDomain): void {
    const ops = this.driver(domain.driver);
    if (!ops.enableNesting) throw kerr('EINVAL', `${domain.driver} cannot nest`);
    ops.enableNesting(domain);
    domain.nesting = true;
  }

  /** The group's default domain (what kernel drivers DMA through). */
  private defaultDomain(group: IommuGroup): IommuDomain | null {
    const unit = this.groupUnit(group);
    if (!unit || !group.defaultDomain) return null;
    let d = this.defaultDomains.get(group);
    if (!d || d.type !== group.defaultDomain) {
      d = this.domainAllocPaging(unit, group.defaultDomain);
      this.defaultDomains.set(group, d);
    }
    return d;
  }

  private blockingDomain(group: IommuGroup): IommuDomain {
    let d = this.blockingDomains.get(group);
    if (!d) {
      const unit = this.groupUnit(group);
      d = { type: 'blocked', driver: unit?.driver ?? 'none', unit, geometry: range(0n, 0n), pgsizeBitmap: 0n, nesting: false, groups: new Set() };
      this.blockingDomains.set(group, d);
    }
    return d;
  }

  /** The domain the group is attached to now (its default domain unless something else is set). */
  groupDomain(group: IommuGroup): IommuDomain | null {
    return group.domain ?? this.defaultDomain(group);
  }

  /** Each device's driver checks the domain; a refusal rolls the group back. @see __iommu_group_set_domain_internal */
  private setGroupDomain(group: IommuGroup, domain: IommuDomain): void {
    if (domain.type !== 'blocked') {
      const done: PciDevice[] = [];
      for (const dev of group.devices) {
        if (!dev.unit) continue;
        const ops = this.driver(dev.unit.driver);
        // The domain must belong to the device's IOMMU driver. @see drivers/iommu/iommu.c:__iommu_attach_group
        if (domain.driver !== dev.unit.driver) throw kerr('EINVAL', `${domain.driver} domain on a ${dev.unit.driver} device`);
        ops.attachDev(domain, dev, this.kernel, this.topology);
        done.push(dev);
      }
    } else if (this.groupRefusesBlocking(group)) {
      // A device that needs 1:1 mappings refuses the blocking domain. @see __iommu_device_set_domain
      throw kerr('EINVAL', 'firmware has requested this device have a 1:1 IOMMU mapping');
    }
    const old = this.groupDomain(group);
    old?.groups.delete(group);
    group.domain = domain;
    domain.groups.add(group);
  }

  /**
   * `iommu_attach_group`: only from the default or the blocking domain (EBUSY otherwise).
   * @see drivers/iommu/iommu.c:__iommu_attach_group
   */
  attachGroup(domain: IommuDomain, group: IommuGroup): void {
    const cur = group.domain;
    if (cur && cur !== this.blockingDomains.get(group)) throw kerr('EBUSY');
    this.setGroupDomain(group, domain);
  }

  /**
   * `iommu_detach_group`: back to the blocking domain while userspace owns the group, else the default.
   * @see drivers/iommu/iommu.c:__iommu_group_set_core_domain
   */
  detachGroup(domain: IommuDomain, group: IommuGroup): void {
    if (group.domain !== domain) return;
    domain.groups.delete(group);
    group.domain = group.owner ? this.blockingDomain(group) : null;
    group.domain?.groups.add(group);
  }

  /** `iommu_group_replace_domain`: atomically from any domain to `domain`; EINVAL leaves the old one. */
  replaceDomain(group: IommuGroup, domain: IommuDomain): void {
    if (group.domain === domain) return;
    this.setGroupDomain(group, domain);
  }

  // ---- DMA ownership -----------------------------------------------------------------------

  /**
   * A kernel driver that uses the DMA API binds: refused while userspace owns the group's DMA.
   * @see drivers/iommu/iommu.c:iommu_device_use_default_domain
   */
  deviceUseDefaultDomain(dev: PciDevice): void {
    const g = dev.group;
    if (!g) return;
    if (g.ownerCnt && g.owner) throw kerr('EBUSY', 'group DMA is owned by userspace');
    g.ownerCnt++;
  }

  /** @see drivers/iommu/iommu.c:iommu_device_unuse_default_domain */
  deviceUnuseDefaultDomain(dev: PciDevice): void {
    const g = dev.group;
    if (g && g.ownerCnt) g.ownerCnt--;
  }

  /**
   * Userspace takes the group's DMA (VFIO container attach): EPERM while a kernel driver or
   * another owner holds it; the group moves to the blocking domain, which a device that needs
   * 1:1 mappings refuses (EINVAL, from v6.6).
   * @see drivers/iommu/iommu.c:iommu_group_claim_dma_owner, __iommu_take_dma_ownership
   */
  claimDmaOwner(group: IommuGroup, owner: object): void {
    if (group.ownerCnt) throw kerr('EPERM', 'group DMA is in use');
    this.takeDmaOwnership(group, owner);
  }

  /**
   * Per-device claim (iommufd bind): the first claim takes the group, later ones by the same
   * owner count up. @see drivers/iommu/iommu.c:iommu_device_claim_dma_owner
   */
  deviceClaimDmaOwner(dev: PciDevice, owner: object): void {
    const group = dev.group;
    if (!group) throw kerr('ENODEV');
    if (group.ownerCnt) {
      if (group.owner !== owner) throw kerr('EPERM', 'group DMA is in use');
      group.ownerCnt++;
      return;
    }
    this.takeDmaOwnership(group, owner);
  }

  private takeDmaOwnership(group: IommuGroup, owner: object): void {
    if (this.groupUnit(group)) this.setGroupDomain(group, this.blockingDomain(group));
    group.owner = owner;
    group.ownerCnt = 1;
  }

  /** @see drivers/iommu/iommu.c:iommu_group_release_dma_owner */
  releaseDmaOwner(group: IommuGroup, owner: object): void {
    if (group.owner !== owner || group.ownerCnt === 0) return;
    if (--group.ownerCnt > 0) return;
    group.owner = null;
    group.domain?.groups.delete(group);
    group.domain = null;
  }

  /** @see drivers/iommu/iommu.c:iommu_device_release_dma_owner */
  deviceReleaseDmaOwner(dev: PciDevice, owner: object): void {
    if (dev.group) this.releaseDmaOwner(dev.group, owner);
  }
}
