// SPDX-License-Identifier: GPL-2.0-only
/**
 * The PCI core's write-only control files: a device's `remove`, `rescan` and `reset`, and the
 * bus's `rescan`, `drivers_probe` and `uevent`.
 * @see drivers/pci/pci-sysfs.c:remove_store, dev_rescan_store, bus_rescan_store, reset_store
 * @see drivers/base/bus.c:drivers_probe_store, bus_uevent_store
 */
import { kerr } from '../errno';
import type { Host } from '../host';
import { kstrtoul } from '../kernel/kstrtox';
import type { PciDevice } from '../model/host';
import { bufToString } from '../kernel/string';
import { kobjectSynthUevent } from '../drivers/bus';
import type { Attribute, SysTree } from '../kernfs/attribute';

const wo = (name: string, store: (b: Uint8Array) => number): Attribute => ({ name, mode: 0o200, show: () => '', store: (b) => store(b) });

/** `kstrtoul(buf, 0, &val)`: EINVAL when it does not parse, ERANGE past 2^64. */
const value = (b: Uint8Array): bigint => kstrtoul(bufToString(b));

export function pciDeviceControlAttrs(host: Host, d: PciDevice): Attribute[] {
  const attrs = [
    // Non-zero removes the device and everything below it; 0 does nothing.
    wo('remove', (b) => {
      if (value(b) !== 0n) host.removeDevice(d.bdf);
      return b.length;
    }),
    // Rescans the bus the device is on.
    wo('rescan', (b) => {
      if (value(b) !== 0n) host.rescan({ domain: d.domain, bus: d.bus });
      return b.length;
    }),
  ];
  // Only a device with a reset method has `reset`; it takes exactly 1. @see pci_dev_reset_attr_is_visible
  if (d.spec.resetMethods.length)
    attrs.push(
      wo('reset', (b) => {
        if (value(b) !== 1n) throw kerr('EINVAL');
        // pci_reset_function saves and restores the config space around the reset: nothing to see.
        if (d.removed) throw kerr('ENODEV');
        return b.length;
      }),
    );
  return attrs;
}

export function addPciBusAttrs(t: SysTree, host: Host): void {
  const file = (a: Attribute) => t.set(`/sys/bus/pci/${a.name}`, { kind: 'file', attr: a });
  file(
    wo('rescan', (b) => {
      if (value(b) !== 0n) host.rescan();
      return b.length;
    }),
  );
  // The named device gets a driver if any matches; no device is ENODEV, no match is still success.
  file(
    wo('drivers_probe', (b) => {
      const name = bufToString(b);
      const dev = host.findDevice(name.endsWith('\n') ? name.slice(0, -1) : name);
      if (!dev) throw kerr('ENODEV');
      if (host.dd.attach(dev)) host.changed();
      return b.length;
    }),
  );
  file(wo('uevent', kobjectSynthUevent));
}
