// SPDX-License-Identifier: GPL-2.0-only
/**
 * Platform (non-PCI) devices behind an IOMMU: ACPI devices (an AMD eMMC controller, AMDI0040)
 * and device-tree nodes (an Allwinner display engine). They sit at /sys/devices/platform/<name>,
 * link from /sys/bus/platform/devices, and join IOMMU groups like PCI functions do.
 * @see drivers/base/platform.c:platform_device_add
 * @note emulation: only what the IOMMU side needs is modelled: the links, the group and the
 * regions; no resources, no uevent, no modalias, no driver_override, no vfio-platform, no hot-plug.
 */
import type { IommuUnit, PlatformDevice } from '../model/host';
import type { PlatformDeviceSpec } from '../topology/topology';

export const PLATFORM_BUS = '/sys/bus/platform';

/** The platform bus of one machine: its devices in topology order. */
export class PlatformBus {
  readonly devices: PlatformDevice[] = [];

  constructor(
    private readonly specs: readonly PlatformDeviceSpec[],
    /** The unit a spec names (undefined: the first unit; null: none). */
    private readonly unitOf: (spec: PlatformDeviceSpec) => IommuUnit | undefined,
  ) {}

  /** `platform_device_add` of every topology device with its bound driver; `probe` is the IOMMU's. */
  scan(probe: (dev: PlatformDevice, peers: readonly PlatformDevice[]) => void): void {
    for (const spec of this.specs) {
      const dev: PlatformDevice = {
        platform: spec,
        name: spec.name,
        bdf: spec.name,
        class: 0,
        parent: undefined,
        unit: this.unitOf(spec),
        spec: {},
        sysfsPath: `/sys/devices/platform/${spec.name}`,
        driver: spec.driver,
        group: undefined,
        groupLinkName: undefined,
      };
      this.devices.push(dev);
      probe(dev, this.devices);
    }
  }

  findDevice(name: string): PlatformDevice | undefined {
    return this.devices.find((d) => d.name === name);
  }
}
