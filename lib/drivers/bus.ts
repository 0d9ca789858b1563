// SPDX-License-Identifier: GPL-2.0-only
/**
 * The driver `bind` / `unbind` files and `driver_override`.
 * @see drivers/base/bus.c:bind_store, unbind_store
 * @see drivers/base/driver.c:driver_set_override, drivers/pci/pci-sysfs.c:driver_override_store
 */
import { kerr, isKernelError } from '../errno';
import { PAGE_BYTES } from '../kernel/page';
import { bufToString } from '../kernel/string';
import type { PciDevice, PciDriver } from '../model/host';
import type { DriverCore } from './dd';
import { pciMatchDevice } from './pci_driver';

/** `bus_find_device_by_name`: compared with sysfs_streq, so one trailing newline is fine. */
function findByName(dd: DriverCore, buf: Uint8Array): PciDevice | undefined {
  const name = bufToString(buf);
  return dd.bus.findDevice(name.endsWith('\n') ? name.slice(0, -1) : name);
}

export function unbindStore(dd: DriverCore, drv: PciDriver, buf: Uint8Array): number {
  const dev = findByName(dd, buf);
  if (!dev || dev.driver !== drv.name) throw kerr('ENODEV');
  dd.release(dev);
  dd.changed();
  return buf.length;
}

export function bindStore(dd: DriverCore, drv: PciDriver, buf: Uint8Array): number {
  const dev = findByName(dd, buf);
  if (!dev || !pciMatchDevice(drv, dev)) throw kerr('ENODEV');
  if (dev.driver !== null) throw kerr('EBUSY');
  try {
    dd.probe(dev, drv.name);
  } catch (e) {
    // device_driver_attach: a deferred probe is reported as EAGAIN.
    if (isKernelError(e) && e.code === 'EPROBE_DEFER') throw kerr('EAGAIN');
    throw e;
  }
  dd.changed();
  return buf.length;
}

/** `(null)\n` when unset, as the kernel's %s prints a NULL pointer. */
export const driverOverrideShow = (dev: PciDevice): string => `${dev.driverOverride ?? '(null)'}\n`;

export function driverOverrideStore(dd: DriverCore, dev: PciDevice, buf: Uint8Array): number {
  if (buf.length >= PAGE_BYTES - 1) throw kerr('EINVAL');
  let s = bufToString(buf);
  const nl = s.indexOf('\n');
  if (nl >= 0) s = s.slice(0, nl);
  dev.driverOverride = s.length ? s : null;
  dd.changed();
  return buf.length;
}

/**
 * A write to a kobject's `uevent`: the action must be one of kobject_actions (arguments after it
 * are the event's UUID and variables); the event itself is not emulated.
 * @see lib/kobject_uevent.c:kobject_synth_uevent, kobject_action_type
 */
export function kobjectSynthUevent(b: Uint8Array): number {
  const action = bufToString(b).trim().split(/\s+/)[0] ?? '';
  if (!['add', 'remove', 'change', 'move', 'online', 'offline', 'bind', 'unbind'].includes(action)) throw kerr('EINVAL');
  return b.length;
}
