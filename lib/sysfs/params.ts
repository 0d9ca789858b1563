// SPDX-License-Identifier: GPL-2.0-only
/**
 * /sys/module: one directory per loaded module (its modinfo attributes, holders/, drivers/ and
 * parameters/), built-in modules where the kernel registers them, and the parameter files with
 * the kernel's show/store semantics for bool and uint parameters.
 * @see kernel/params.c:param_attr_show, param_attr_store, module_param_sysfs_setup, param_sysfs_builtin
 * @see kernel/module/sysfs.c (holders, drivers), kernel/module/main.c:modinfo_attrs
 * @see drivers/base/module.c:module_add_driver
 * @note emulation: notes/ and sections/ (root-only ELF details) are not rendered; coresize is
 * not modelled and prints a fixed size.
 */
import * as path from 'node:path';
import { kstrtobool, kstrtouint } from '../kernel/kstrtox';
import type { Host } from '../host';
import type { ModuleParams } from '../host';
import { LoadedModule, loadedModules } from '../drivers/module';
import { bufToString } from '../kernel/string';
import { kobjectSynthUevent } from '../drivers/bus';
import type { Attribute, SysTree } from '../kernfs/attribute';

export const SYS_MODULE = '/sys/module';

type ParamType = 'bool' | 'uint';

interface ParamDef {
  readonly module: string;
  readonly name: string;
  readonly type: ParamType;
  /** module_param perm: 0 means no sysfs file. */
  readonly perm: number;
  readonly key: keyof ModuleParams;
  /** Only on some kernels / configs. */
  readonly when?: (host: Host) => boolean;
}

/**
 * The parameters of the modules the machine loads, as their module_param() lines declare them.
 * @see drivers/vfio/vfio_iommu_type1.c (allow_unsafe_interrupts, disable_hugepages: S_IRUGO | S_IWUSR; dma_entry_limit: 0644, v5.1)
 * @see drivers/vfio/group.c (enable_unsafe_noiommu_mode: S_IRUGO | S_IWUSR, CONFIG_VFIO_NOIOMMU)
 * @see drivers/iommu/iommufd/device.c (allow_unsafe_interrupts: S_IRUGO | S_IWUSR, since the first iommufd, v6.2)
 * @see drivers/vfio/pci/vfio_pci.c (ids: perm 0; nointxmask, disable_idle_d3: S_IRUGO | S_IWUSR;
 *      disable_vga: S_IRUGO, CONFIG_VFIO_PCI_VGA (x86); enable_sriov: 0644, CONFIG_PCI_IOV; disable_denylist: 0444)
 * @note emulation: vfio_pci's parameters are shown on every kernel in their v5.18+ home;
 * 5.15–5.17 kept nointxmask, disable_vga and disable_idle_d3 in vfio_pci_core.
 */
const PARAMS: readonly ParamDef[] = [
  { module: 'vfio', name: 'enable_unsafe_noiommu_mode', type: 'bool', perm: 0o644, key: 'enable_unsafe_noiommu_mode' },
  { module: 'vfio_iommu_type1', name: 'allow_unsafe_interrupts', type: 'bool', perm: 0o644, key: 'allow_unsafe_interrupts' },
  { module: 'vfio_iommu_type1', name: 'disable_hugepages', type: 'bool', perm: 0o644, key: 'disable_hugepages' },
  { module: 'vfio_iommu_type1', name: 'dma_entry_limit', type: 'uint', perm: 0o644, key: 'dma_entry_limit', when: (h) => h.kernel.has('vfio_dma_entry_limit') },
  { module: 'iommufd', name: 'allow_unsafe_interrupts', type: 'bool', perm: 0o644, key: 'iommufd_allow_unsafe_interrupts' },
  { module: 'vfio_pci', name: 'nointxmask', type: 'bool', perm: 0o644, key: 'nointxmask' },
  { module: 'vfio_pci', name: 'disable_vga', type: 'bool', perm: 0o444, key: 'disable_vga', when: (h) => h.topology.arch === 'x86_64' },
  { module: 'vfio_pci', name: 'disable_idle_d3', type: 'bool', perm: 0o644, key: 'disable_idle_d3' },
  { module: 'vfio_pci', name: 'enable_sriov', type: 'bool', perm: 0o644, key: 'enable_sriov', when: (h) => h.topology.kconfig.CONFIG_PCI_IOV },
  { module: 'vfio_pci', name: 'disable_denylist', type: 'bool', perm: 0o444, key: 'disable_denylist' },
];

function paramAttr(host: Host, params: ModuleParams, p: ParamDef): Attribute {
  const show = () => (p.type === 'bool' ? (params[p.key] ? 'Y\n' : 'N\n') : `${Number(params[p.key])}\n`);
  if (!(p.perm & 0o222)) return { name: p.name, mode: p.perm, show };
  return {
    name: p.name,
    mode: p.perm,
    show,
    // param_attr_store: the whole write goes to ops->set; success consumes it all.
    store: (b) => {
      const s = bufToString(b);
      (params as unknown as Record<string, boolean | number>)[p.key] = p.type === 'bool' ? kstrtobool(s) : kstrtouint(s);
      host.changed();
      return b.length;
    },
  };
}

/** `uevent` of a module kobject: write-only, synthesizes an event. @see kernel/module/main.c:store_uevent */
const ueventStore: Attribute = { name: 'uevent', mode: 0o200, show: () => '', store: kobjectSynthUevent };

const ro = (name: string, text: () => string): Attribute => ({ name, mode: 0o444, show: text });

/** The modules the machine shows in /sys/module, with whether each has a directory there. */
export function sysfsModules(host: Host): (LoadedModule & { readonly shown: boolean })[] {
  const mods = loadedModules(host.topology, host.kernel, host.drivers.keys());
  const withParams = new Set(PARAMS.filter((p) => p.perm && (p.when?.(host) ?? true)).map((p) => p.module));
  return mods.map((m) => ({ ...m, shown: !m.builtin || withParams.has(m.name) || (m.drivers.length > 0 && host.kernel.has('builtin_module_kobject')) }));
}

/** Adds /sys/module and the drivers' `module` links to the tree. */
export function addModuleTree(t: SysTree, host: Host, params: ModuleParams): void {
  const link = (p: string, target: string) => t.set(p, { kind: 'link', target: path.posix.relative(path.posix.dirname(p), target) });
  const file = (d: string, a: Attribute) => t.set(`${d}/${a.name}`, { kind: 'file', attr: a });
  t.set(SYS_MODULE, { kind: 'dir' });
  for (const m of sysfsModules(host)) {
    if (!m.shown) continue;
    const dir = `${SYS_MODULE}/${m.name}`;
    t.set(dir, { kind: 'dir' });
    file(dir, ueventStore);
    if (!m.builtin) {
      file(dir, ro('initstate', () => 'live\n'));
      file(dir, ro('coresize', () => '65536\n'));
      file(dir, ro('initsize', () => '0\n'));
      file(dir, ro('taint', () => '\n'));
      file(dir, ro('refcnt', () => `${m.holders.length}\n`));
      t.set(`${dir}/holders`, { kind: 'dir' });
      for (const h of m.holders) link(`${dir}/holders/${h}`, `${SYS_MODULE}/${h}`);
    }
    const ps = PARAMS.filter((p) => p.module === m.name && p.perm && (p.when?.(host) ?? true));
    if (ps.length) {
      t.set(`${dir}/parameters`, { kind: 'dir' });
      for (const p of ps) file(`${dir}/parameters`, paramAttr(host, params, p));
    }
    if (m.drivers.length) {
      t.set(`${dir}/drivers`, { kind: 'dir' });
      for (const d of m.drivers) {
        link(`${dir}/drivers/pci:${d}`, `/sys/bus/pci/drivers/${d}`);
        link(`/sys/bus/pci/drivers/${d}/module`, dir);
      }
    }
  }
}
