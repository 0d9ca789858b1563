// SPDX-License-Identifier: GPL-2.0-only
/**
 * The driver core for the PCI bus (drivers/base/dd.c, bus.c, driver.c): registered drivers,
 * binding a device (`really_probe`: DMA-API drivers take the group's default domain first, then
 * the driver's probe), unbinding, and driver_override. Drivers register themselves — the host
 * drivers a topology names, and modules such as vfio-pci from their init.
 */
import { kerr } from '../errno';
import type { KernelProfile } from '../kernel/profile';
import type { PciDevice, PciDriver } from '../model/host';
import type { IommuCore } from '../iommu/iommu';
import type { DeviceSpec } from '../topology/topology';
import type { PciBus } from './probe';
import { pciMatchDevice } from './pci_driver';

export interface PciDriverRegistration {
  readonly name: string;
  /** `driver_managed_dma`: does not use the DMA API (vfio-pci, pci-stub, pcieport). */
  readonly driverManagedDma?: boolean;
  /** [vendor, device] pairs; PCI_ANY_ID = 0xffffffff. */
  readonly staticIds?: readonly (readonly [number, number])[];
  readonly overrideOnly?: boolean;
  readonly hasIdTable?: boolean;
  readonly enablesAtProbe?: boolean;
  readonly probe?: (dev: PciDevice) => void;
  readonly remove?: (dev: PciDevice) => void;
}

/** Drivers that do not use the DMA API when the topology names them without saying. */
const DRIVER_MANAGED_DMA = new Set(['vfio-pci', 'pci-stub', 'pcieport']);

export class DriverCore {
  readonly drivers = new Map<string, PciDriver>();

  constructor(
    readonly kernel: KernelProfile,
    readonly bus: PciBus,
    readonly iommu: IommuCore,
    /** Every change of the device model ends here (the machine re-renders /sys). */
    readonly changed: () => void,
  ) {}

  /** `driver_register`: a second driver of the same name is EBUSY. @see drivers/base/driver.c */
  registerDriver(reg: PciDriverRegistration): PciDriver {
    if (this.drivers.has(reg.name)) throw kerr('EBUSY', `driver ${reg.name} is already registered`);
    const drv: PciDriver = {
      name: reg.name,
      staticIds: [...(reg.staticIds ?? [])],
      dynamicIds: [],
      dmaApi: !(reg.driverManagedDma ?? DRIVER_MANAGED_DMA.has(reg.name)),
      overrideOnly: reg.overrideOnly ?? false,
      hasIdTable: reg.hasIdTable ?? (reg.staticIds ?? []).length > 0,
      enablesAtProbe: reg.enablesAtProbe ?? true,
      ...(reg.probe ? { probe: reg.probe } : {}),
      ...(reg.remove ? { remove: reg.remove } : {}),
    };
    this.drivers.set(drv.name, drv);
    return drv;
  }

  /**
   * The host drivers a topology binds devices to: each is a driver whose static id table is the
   * devices the topology gives it (what `modprobe` of the real module would bring).
   */
  registerTopologyDrivers(specs: readonly DeviceSpec[]): void {
    const ids = new Map<string, (readonly [number, number])[]>();
    for (const d of specs) {
      if (!d.driver || this.drivers.get(d.driver)?.probe) continue;
      const list = ids.get(d.driver) ?? [];
      list.push([d.vendor, d.device]);
      ids.set(d.driver, list);
    }
    for (const [name, staticIds] of ids) {
      const existing = this.drivers.get(name);
      if (existing) (existing.staticIds as (readonly [number, number])[]).push(...staticIds);
      else this.registerDriver({ name, staticIds });
    }
  }

  findDriver(name: string): PciDriver | undefined {
    return this.drivers.get(name);
  }

  /**
   * `really_probe`: bind `drvName` to `dev`. A DMA-API driver first takes the group's default
   * domain (EBUSY while userspace owns it); the driver's probe may refuse. Throws the probe errno.
   * @see drivers/base/dd.c:really_probe, drivers/pci/pci-driver.c:pci_dma_configure
   */
  probe(dev: PciDevice, drvName: string): void {
    const drv = this.drivers.get(drvName) ?? this.registerDriver({ name: drvName });
    if (drv.dmaApi) this.iommu.deviceUseDefaultDomain(dev);
    try {
      drv.probe?.(dev);
    } catch (e) {
      if (drv.dmaApi) this.iommu.deviceUnuseDefaultDomain(dev);
      throw e;
    }
    dev.driver = drv.name;
  }

  /**
   * `device_attach`: the first registered driver whose ids match binds (a failing probe passes
   * to the next). Returns whether one bound. @see drivers/base/dd.c:__device_attach, bus_for_each_drv
   */
  attach(dev: PciDevice): boolean {
    if (dev.driver !== null) return true;
    for (const drv of this.drivers.values()) {
      if (!pciMatchDevice(drv, dev)) continue;
      try {
        this.probe(dev, drv.name);
        return true;
      } catch {
        // A probe error is logged and the next driver tried. @see drivers/base/dd.c:driver_probe_device
      }
    }
    return false;
  }

  /** `device_driver_detach` / `__device_release_driver` */
  release(dev: PciDevice): void {
    const drv = dev.driver ? this.drivers.get(dev.driver) : undefined;
    if (!drv) return;
    drv.remove?.(dev);
    if (drv.dmaApi) this.iommu.deviceUnuseDefaultDomain(dev);
    dev.driver = null;
  }
}
