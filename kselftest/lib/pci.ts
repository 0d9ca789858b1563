// SPDX-License-Identifier: GPL-2.0-only
/**
 * PCI driver-core moves a consumer makes through sysfs (unbind, driver_override, bind), and
 * picking devices by what the tree shows. Triplets where a move can fail.
 * @see shared/reference/kernel-sysfs-abi.md §4.3–§4.5
 */
import type { Sys } from '../targets';
import { tryWriteAttr, writeAttr } from './attr';
import type { SuiteT } from './suite';
import { SYS_PCI_DEVICES, SYS_PCI_DRIVERS, type SysfsView } from './sysfs';

/** Drivers that do not take the group's DMA (driver_managed_dma or no DMA at all). */
export const NON_DMA_API_DRIVERS: ReadonlySet<string> = new Set(['vfio-pci', 'pci-stub', 'pcieport']);

export const tryUnbind = (sys: Sys, drv: string, bdf: string): number => tryWriteAttr(sys, `${SYS_PCI_DRIVERS}/${drv}/unbind`, `${bdf}\n`);
export const tryBind = (sys: Sys, drv: string, bdf: string): number => tryWriteAttr(sys, `${SYS_PCI_DRIVERS}/${drv}/bind`, `${bdf}\n`);

/** Unbinds `bdf` from whatever driver it has (a no-op when unbound). */
export function unbind(t: SuiteT, sys: Sys, bdf: string): void {
  const drv = t.sysfs.pciDriver(bdf);
  if (drv !== undefined) writeAttr(t, sys, `${SYS_PCI_DRIVERS}/${drv}/unbind`, `${bdf}\n`);
  t.assertFalse(t.sysfs.exists(`${SYS_PCI_DEVICES}/${bdf}/driver`));
}

export function bind(t: SuiteT, sys: Sys, drv: string, bdf: string): void {
  writeAttr(t, sys, `${SYS_PCI_DRIVERS}/${drv}/bind`, `${bdf}\n`);
  t.assertStrEq(drv, t.sysfs.pciDriver(bdf) ?? '(none)');
}

/** The usual hand-over to vfio-pci: unbind, driver_override, bind. */
export function bindVfioPci(t: SuiteT, sys: Sys, bdf: string): void {
  unbind(t, sys, bdf);
  writeAttr(t, sys, `${SYS_PCI_DEVICES}/${bdf}/driver_override`, 'vfio-pci\n');
  bind(t, sys, 'vfio-pci', bdf);
}

export interface GroupPick {
  readonly id: string;
  readonly devices: readonly string[];
}

/** Groups whose member count and drivers satisfy `pred` (drivers: undefined = unbound). */
export function findGroups(v: SysfsView, pred: (devices: readonly { bdf: string; driver: string | undefined }[]) => boolean): GroupPick[] {
  return v
    .groups()
    .map(id => ({ id, devices: v.groupDevices(id) }))
    .filter(g => pred(g.devices.map(bdf => ({ bdf, driver: v.pciDriver(bdf) }))));
}
