// SPDX-License-Identifier: GPL-2.0-only
/**
 * Which kernel module provides each PCI driver, and which modules a machine has loaded. A
 * loadable module is in /sys/module with its modinfo attributes; a built-in one only when it has
 * parameters or (from v6.15) a driver, and its driver links to it.
 * @see drivers/base/module.c:module_add_driver, kernel/params.c:param_sysfs_builtin
 */
import type { KernelProfile } from '../kernel/profile';
import type { Topology } from '../topology/topology';

export interface ModuleInfo {
  /** KBUILD_MODNAME: the /sys/module directory name. */
  readonly name: string;
  readonly builtin: boolean;
}

/**
 * The modules of the drivers the built-in hosts use, by driver name (`struct device_driver.name`
 * differs from the module name for several). @see each driver's Makefile (obj-$(CONFIG_…) += x.o)
 */
const KNOWN: Readonly<Record<string, ModuleInfo>> = {
  'vfio-pci': { name: 'vfio_pci', builtin: false }, // drivers/vfio/pci/Makefile: vfio-pci-y
  pcieport: { name: 'pcieportdrv', builtin: true }, // drivers/pci/pcie/Makefile: pcieportdrv-y, CONFIG_PCIEPORTBUS is bool
  'pci-stub': { name: 'pci_stub', builtin: false },
  xhci_hcd: { name: 'xhci_pci', builtin: false }, // drivers/usb/host/xhci-pci.c registers "xhci_hcd"
  skl_uncore: { name: 'intel_uncore', builtin: false }, // arch/x86/events/intel/Makefile: intel-uncore.o
  i801_smbus: { name: 'i2c_i801', builtin: false },
  piix4_smbus: { name: 'i2c_piix4', builtin: false },
  'intel-spi': { name: 'spi_intel_pci', builtin: false },
  'virtio-pci': { name: 'virtio_pci', builtin: false },
};

/** The module that registers `driver`: the topology's word, the table above, or the driver's name. */
export function driverModule(topology: Topology, driver: string): ModuleInfo {
  return topology.modules[driver] ?? KNOWN[driver] ?? { name: driver.replace(/-/g, '_'), builtin: false };
}

export interface LoadedModule extends ModuleInfo {
  /** Modules that use this one (`holders/`), sorted. */
  readonly holders: readonly string[];
  /** PCI drivers it registers. */
  readonly drivers: readonly string[];
}

/**
 * Every module loaded on the machine: the drivers' modules plus what they pull in. The VFIO
 * stack: vfio_pci → vfio_pci_core (v5.15+) → vfio (+ vfio_virqfd before v6.2), irqbypass;
 * vfio soft-depends on vfio_iommu_type1, which is loaded with it when the legacy container is
 * built (CONFIG_VFIO_CONTAINER; VFIO_IOMMU_TYPE1 depends on it); with CONFIG_IOMMUFD, vfio
 * links iommufd's symbols (its iommufd.o), so iommufd is loaded and vfio holds it.
 * @see drivers/vfio/Makefile (vfio-$(CONFIG_IOMMUFD) += iommufd.o), drivers/vfio/Kconfig (VFIO_IOMMU_TYPE1)
 * @see drivers/vfio/vfio_main.c (MODULE_SOFTDEP("post: vfio_iommu_type1 …")), drivers/iommu/iommufd/Makefile
 */
export function loadedModules(topology: Topology, kernel: KernelProfile, drivers: Iterable<string>): LoadedModule[] {
  const mods = new Map<string, { info: ModuleInfo; holders: Set<string>; drivers: Set<string> }>();
  const add = (info: ModuleInfo) => {
    let m = mods.get(info.name);
    if (!m) mods.set(info.name, (m = { info, holders: new Set(), drivers: new Set() }));
    return m;
  };
  const dep = (user: string, used: string) => add({ name: used, builtin: false }).holders.add(user);
  for (const drv of drivers) add(driverModule(topology, drv)).drivers.add(drv);
  if (mods.has('vfio_pci') && !mods.get('vfio_pci')!.info.builtin) {
    if (kernel.has('vfio_pci_core_module')) {
      dep('vfio_pci', 'vfio_pci_core');
      dep('vfio_pci_core', 'vfio');
      dep('vfio_pci_core', 'irqbypass');
      if (kernel.has('vfio_virqfd_module')) dep('vfio_pci_core', 'vfio_virqfd');
    } else {
      dep('vfio_pci', 'irqbypass');
      if (kernel.has('vfio_virqfd_module')) dep('vfio_pci', 'vfio_virqfd');
    }
    dep('vfio_pci', 'vfio');
    if (topology.kconfig.CONFIG_VFIO_CONTAINER) {
      add({ name: 'vfio_iommu_type1', builtin: false });
      dep('vfio_iommu_type1', 'vfio');
    }
    if (topology.kconfig.CONFIG_IOMMUFD && kernel.has('iommufd')) dep('vfio', 'iommufd');
  }
  return [...mods.values()]
    .map((m) => ({ ...m.info, holders: [...m.holders].sort(), drivers: [...m.drivers].sort() }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}
