// SPDX-License-Identifier: GPL-2.0-only
/**
 * The driver `bind` / `unbind` files and `driver_override`.
 * @see drivers/base/bus.c:bind_store, unbind_store
 * @see drivers/base/driver.c:driver_set_override, drivers/pci/pci-sysfs.c:driver_override_store
 */
import { kerr, isKernelError } from '../errno';
import type { Host } from '../host';
import type { PciDevice, PciDriver } from '../model/host';
import { pciMatchDevice } from './pci_driver';
import { bufToString, sysfsStreq } from './sysfs_streq';

const PAGE_SIZE = 4096;

/** `bus_find_device_by_name`: compared with sysfs_streq, so a trailing newline is fine. */
function findByName(host: Host, buf: Uint8Array): PciDevice | undefined {
  const name = bufToString(buf);
  return host.devices.find((d) => !d.removed && sysfsStreq(d.bdf, name));
}

export function unbindStore(host: Host, drv: PciDriver, buf: Uint8Array): number {
  const dev = findByName(host, buf);
  if (!dev || dev.driver !== drv.name) throw kerr('ENODEV');
  host.releaseDriver(dev);
  host.changed();
  return buf.length;
}

export function bindStore(host: Host, drv: PciDriver, buf: Uint8Array): number {
  const dev = findByName(host, buf);
  if (!dev || !pciMatchDevice(drv, dev)) throw kerr('ENODEV');
  if (dev.driver !== null) throw kerr('EBUSY');
  try {
    host.probeDriver(dev, drv.name);
  } catch (e) {
    // device_driver_attach: a deferred probe is reported as EAGAIN.
    if (isKernelError(e) && e.code === 'EPROBE_DEFER') throw kerr('EAGAIN');
    throw e;
  }
  host.changed();
  return buf.length;
}

/** `(null)\n` when unset, as the kernel's %s prints a NULL pointer. */
export const driverOverrideShow = (dev: PciDevice): string => `${dev.driverOverride ?? '(null)'}\n`;

export function driverOverrideStore(host: Host, dev: PciDevice, buf: Uint8Array): number {
  if (buf.length >= PAGE_SIZE - 1) throw kerr('EINVAL');
  let s = bufToString(buf);
  const nl = s.indexOf('\n');
  if (nl >= 0) s = s.slice(0, nl);
  dev.driverOverride = s.length ? s : null;
  host.changed();
  return buf.length;
}
