// SPDX-License-Identifier: GPL-2.0-only
/**
 * drivers/vfio/pci/vfio_pci.c: the vfio-pci PCI driver. Its module init registers it with the PCI
 * bus; its probe registers the device with VFIO (group node, device cdev), its remove undoes that.
 * It binds by driver_override or new_id only (an `override_only` id table from v5.15, none before).
 * @see drivers/vfio/pci/vfio_pci.c:vfio_pci_probe, vfio_pci_remove, vfio_pci_init
 */
import type { KernelModule } from '../host';
import { vfioPciCoreOps } from './vfio_pci_core';
import { vfioRegisterGroupDev, vfioState, vfioUnregisterGroupDev } from './vfio_main';

export const VFIO_PCI = 'vfio-pci';

export const vfioPciModule: KernelModule = {
  name: 'vfio_pci',
  since: 'vfio',
  kconfig: ['CONFIG_VFIO'],
  init(k) {
    const st = vfioState(k);
    k.host.registerDriver({
      name: VFIO_PCI,
      driverManagedDma: true,
      overrideOnly: true,
      hasIdTable: k.profile.has('vfio_pci_id_table'),
      enablesAtProbe: false,
      probe: (pdev) => void vfioRegisterGroupDev(st, pdev, vfioPciCoreOps),
      remove: (pdev) => vfioUnregisterGroupDev(st, pdev),
    });
  },
};
