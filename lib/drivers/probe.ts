// SPDX-License-Identifier: GPL-2.0-only
/**
 * PCI enumeration (drivers/pci/probe.c, bus.c, remove.c): the machine's PCI functions built from
 * the topology in the order the PCI core adds them, their config space, and hot add / removal.
 * Adding and removing a device notifies the bus's listeners (the IOMMU core probes it into a
 * group, the driver core binds it) — the kernel's bus notifier chain.
 */
import { kerr } from '../errno';
import { PciDevice, parseBdf } from '../model/host';
import type { DeviceSpec } from '../topology/topology';
import { PciFunctionInfo, buildConfigSpace } from './pci_config';
import { PciLayout, pciAssignHotplug, specsByParent } from './setup_bus';

/** BUS_NOTIFY_ADD_DEVICE / BUS_NOTIFY_DEL_DEVICE, in registration order (removal: reverse). */
export interface BusNotifier {
  addDevice(dev: PciDevice): void;
  delDevice(dev: PciDevice): void;
}

const slotOf = (bdf: string): string => bdf.slice(0, -2);
const rootBusName = (bdf: string): string => bdf.slice(0, 7);

export class PciBus {
  /** Present devices, in probe (bus walk) order. */
  readonly devices: PciDevice[] = [];
  private readonly byBdf = new Map<string, PciDevice>();
  private readonly specsByBdf = new Map<string, DeviceSpec>();
  /** Present functions by slot (`dddd:bb:ss`). */
  private readonly slots = new Map<string, PciDevice[]>();
  /** Specs by slot, for the multifunction default (what the header type would say). */
  private readonly slotSpecs = new Map<string, number>();
  private readonly notifiers: BusNotifier[] = [];

  /**
   * @param layout bus numbers, windows and links as firmware left them (lib/drivers/setup_bus.ts);
   *        `specs` already carry its BAR addresses.
   */
  constructor(
    private readonly specs: DeviceSpec[],
    private readonly layout?: PciLayout,
  ) {
    for (const s of specs) this.noteSpec(s);
  }

  /** What the PCI core knows of a function beyond its spec: bridge state, PCIe port type, link. */
  info(bdf: string): PciFunctionInfo {
    const l = this.layout;
    if (!l) return {};
    return { bridge: l.bridges.get(bdf), pcieType: l.pcieType.get(bdf), link: l.link.get(bdf), multifunction: l.multifunction.has(bdf) || undefined };
  }

  private noteSpec(s: DeviceSpec): void {
    this.specsByBdf.set(s.bdf, s);
    this.slotSpecs.set(slotOf(s.bdf), (this.slotSpecs.get(slotOf(s.bdf)) ?? 0) + 1);
  }

  private forgetSpec(bdf: string): void {
    this.specsByBdf.delete(bdf);
    const k = slotOf(bdf);
    const n = (this.slotSpecs.get(k) ?? 1) - 1;
    if (n > 0) this.slotSpecs.set(k, n);
    else this.slotSpecs.delete(k);
  }

  registerNotifier(n: BusNotifier): void {
    this.notifiers.push(n);
  }

  /** Enumerate the topology: every device of a bus (by devfn), then each bridge's secondary bus. */
  scan(): void {
    for (const spec of busWalkOrder(this.specs)) this.deviceAdd(spec);
  }

  findDevice(bdf: string): PciDevice | undefined {
    return this.byBdf.get(bdf);
  }

  slotSiblings(dev: PciDevice): readonly PciDevice[] {
    return this.slots.get(slotOf(dev.bdf)) ?? [];
  }

  slotFunctionCount(dev: PciDevice): number {
    return this.slotSpecs.get(slotOf(dev.bdf)) ?? 0;
  }

  children(dev: PciDevice): PciDevice[] {
    return this.devices.filter((d) => d.parent === dev);
  }

  /** `/sys/devices/pci0000:00/<bridge>/<bdf>` from the topology's parent chain. */
  devicePath(bdf: string): string | undefined {
    const present = this.byBdf.get(bdf);
    if (present) return present.sysfsPath;
    if (!this.specsByBdf.has(bdf)) return undefined;
    const chain: string[] = [];
    let top = bdf;
    for (let cur = this.specsByBdf.get(bdf); cur; cur = cur.parent ? this.specsByBdf.get(cur.parent) : undefined) {
      chain.unshift(cur.bdf);
      top = cur.bdf;
    }
    return `/sys/devices/pci${rootBusName(top)}/${chain.join('/')}`;
  }

  /**
   * `pci_device_add` + `device_add`: the device appears, then the notifiers run (IOMMU probe,
   * driver probe). @see drivers/pci/probe.c:pci_device_add, drivers/base/core.c:device_add
   */
  deviceAdd(spec: DeviceSpec): PciDevice {
    const loc = parseBdf(spec.bdf)!;
    const parent = spec.parent ? this.findDevice(spec.parent) : undefined;
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
      unit: this.unitOf?.(spec),
      driver: null,
      driverOverride: spec.driver_override ?? null,
      group: undefined,
      groupLinkName: undefined,
      vfioDevIndex: undefined,
      config: buildConfigSpace(spec, this.info(spec.bdf)),
      removed: false,
    };
    this.devices.push(dev);
    this.byBdf.set(dev.bdf, dev);
    const slot = this.slots.get(slotOf(dev.bdf)) ?? [];
    slot.push(dev);
    this.slots.set(slotOf(dev.bdf), slot);
    for (const n of this.notifiers) n.addDevice(dev);
    return dev;
  }

  /** The IOMMU instance a spec's device sits behind (set by the composition root). */
  unitOf: ((spec: DeviceSpec) => PciDevice['unit']) | undefined;

  /** Hot add (rescan): a new spec joins the topology and its device is added. */
  hotAdd(spec: DeviceSpec): PciDevice {
    if (this.findDevice(spec.bdf)) throw kerr('EEXIST', `device ${spec.bdf} exists`);
    if (spec.parent && !this.findDevice(spec.parent)) throw kerr('ENODEV', `no parent ${spec.parent}`);
    spec = pciAssignHotplug(spec, this.specs);
    this.specs.push(spec);
    this.noteSpec(spec);
    return this.deviceAdd(spec);
  }

  /**
   * `pci_stop_and_remove_bus_device`: children first, then the notifiers in reverse (unbind,
   * leave the group); the spec leaves the topology. @see drivers/pci/remove.c
   */
  remove(dev: PciDevice): void {
    for (const child of this.children(dev)) this.remove(child);
    for (const n of [...this.notifiers].reverse()) n.delDevice(dev);
    dev.removed = true;
    this.devices.splice(this.devices.indexOf(dev), 1);
    this.byBdf.delete(dev.bdf);
    const slot = this.slots.get(slotOf(dev.bdf));
    if (slot) {
      slot.splice(slot.indexOf(dev), 1);
      if (!slot.length) this.slots.delete(slotOf(dev.bdf));
    }
    const i = this.specs.findIndex((s) => s.bdf === dev.bdf);
    if (i >= 0) this.specs.splice(i, 1);
    this.forgetSpec(dev.bdf);
  }
}

/**
 * The order the PCI core adds devices: every device of a bus (by devfn), then each bridge's
 * secondary bus in turn. @see drivers/pci/bus.c:pci_bus_add_devices
 */
export function busWalkOrder(specs: readonly DeviceSpec[]): DeviceSpec[] {
  const below = specsByParent(specs);
  const out: DeviceSpec[] = [];
  const walk = (bus: DeviceSpec[]) => {
    out.push(...bus);
    for (const d of bus) {
      const next = below.get(d.bdf);
      if (next?.length) walk(next);
    }
  };
  walk(below.get(undefined) ?? []);
  return out;
}

/** `/sys/devices/pci0000:00/<bridge>/<bdf>` from a list of specs (no bus needed). */
export function devicePath(specs: readonly DeviceSpec[], bdf: string): string {
  const byBdf = new Map(specs.map((s) => [s.bdf, s] as const));
  const chain: string[] = [];
  let top = bdf;
  for (let cur = byBdf.get(bdf); cur; cur = cur.parent ? byBdf.get(cur.parent) : undefined) {
    chain.unshift(cur.bdf);
    top = cur.bdf;
  }
  return `/sys/devices/pci${rootBusName(top)}/${chain.join('/')}`;
}
