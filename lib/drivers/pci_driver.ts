// SPDX-License-Identifier: GPL-2.0-only
/**
 * PCI driver matching and the dynamic id files.
 * @see drivers/pci/pci-driver.c:pci_match_device, new_id_store, remove_id_store
 */
import { kerr } from '../errno';
import { bufToString } from '../kernel/string';
import { DynId, PCI_ANY_ID, PciDevice, PciDriver } from '../model/host';
import type { DriverCore } from './dd';

const idMatch = (want: number, have: number) => want === PCI_ANY_ID || want === have;

function dynIdMatches(id: DynId, dev: PciDevice): boolean {
  return (
    idMatch(id.vendor, dev.vendor) &&
    idMatch(id.device, dev.device) &&
    idMatch(id.subvendor, dev.subsystemVendor) &&
    idMatch(id.subdevice, dev.subsystemDevice) &&
    ((id.class ^ dev.class) & id.classMask) === 0
  );
}

/**
 * Override set and naming another driver → no match; then dynamic ids, then static ids (vfio-pci's
 * table is override-only), then any device matches a driver named by its override.
 */
export function pciMatchDevice(drv: PciDriver, dev: PciDevice): boolean {
  if (dev.driverOverride !== null && dev.driverOverride !== drv.name) return false;
  if (drv.dynamicIds.some((id) => dynIdMatches(id, dev))) return true;
  if (!drv.overrideOnly && drv.staticIds.some(([v, d]) => idMatch(v, dev.vendor) && idMatch(d, dev.device))) return true;
  return dev.driverOverride === drv.name;
}

/** sscanf `%x`: optional 0x, any case; returns the fields parsed before the first mismatch. */
export function scanHexFields(s: string, max: number): bigint[] {
  const out: bigint[] = [];
  const re = /^\s*(?:0[xX])?([0-9a-fA-F]+)/;
  let rest = s;
  while (out.length < max) {
    const m = re.exec(rest);
    if (!m) break;
    out.push(BigInt(`0x${m[1]}`));
    rest = rest.slice(m[0].length);
  }
  return out;
}

/** @see drivers/pci/pci-driver.c:new_id_store */
export function newIdStore(dd: DriverCore, drv: PciDriver, buf: Uint8Array): number {
  const f = scanHexFields(bufToString(buf), 7);
  if (f.length < 2) throw kerr('EINVAL');
  const u32 = (x: bigint | undefined, dflt: number) => (x === undefined ? dflt : Number(x & 0xffffffffn));
  const id: DynId = {
    vendor: u32(f[0], 0),
    device: u32(f[1], 0),
    subvendor: u32(f[2], PCI_ANY_ID),
    subdevice: u32(f[3], PCI_ANY_ID),
    class: u32(f[4], 0),
    classMask: u32(f[5], 0),
    driverData: f[6] ?? 0n,
  };
  if (f.length !== 7) {
    // Refuse an id the driver already matches (a temporary pci_dev with these ids).
    const probe = {
      vendor: id.vendor,
      device: id.device,
      subsystemVendor: id.subvendor,
      subsystemDevice: id.subdevice,
      class: id.class,
      driverOverride: null,
    } as unknown as PciDevice;
    if (pciMatchDevice(drv, probe)) throw kerr('EEXIST');
  }
  // Drivers with an id table accept only driver_data values that table uses (all zero here);
  // vfio-pci's table is one override-only entry (5.15+), before that it had none.
  if (drv.hasIdTable && id.driverData !== 0n) throw kerr('EINVAL');
  drv.dynamicIds.push(id);
  // driver_attach: bind every unbound device the new id matches.
  for (const dev of dd.bus.devices) {
    if (dev.driver !== null || !pciMatchDevice(drv, dev)) continue;
    try {
      dd.probe(dev, drv.name);
    } catch {
      // A failed auto-probe leaves the device unbound; the store still succeeds.
    }
  }
  dd.changed();
  return buf.length;
}

/** @see drivers/pci/pci-driver.c:remove_id_store */
export function removeIdStore(dd: DriverCore, drv: PciDriver, buf: Uint8Array): number {
  const f = scanHexFields(bufToString(buf), 6);
  if (f.length < 2) throw kerr('EINVAL');
  const want = (i: number, dflt: number) => (f[i] === undefined ? dflt : Number(f[i]! & 0xffffffffn));
  const [vendor, device, subvendor, subdevice, cls, mask] = [
    want(0, 0),
    want(1, 0),
    want(2, PCI_ANY_ID),
    want(3, PCI_ANY_ID),
    want(4, 0),
    want(5, 0),
  ];
  // The class is compared under the mask written to remove_id (0 by default: any class).
  const i = drv.dynamicIds.findIndex(
    (id) =>
      id.vendor === vendor &&
      id.device === device &&
      (subvendor === PCI_ANY_ID || id.subvendor === subvendor) &&
      (subdevice === PCI_ANY_ID || id.subdevice === subdevice) &&
      ((id.class ^ cls) & mask) === 0,
  );
  if (i < 0) throw kerr('ENODEV');
  drv.dynamicIds.splice(i, 1);
  dd.changed();
  return buf.length;
}
