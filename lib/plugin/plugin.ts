// SPDX-License-Identifier: GPL-2.0-only
/**
 * ABI prototyping: the extension point a reviewer uses to try a new sysfs attribute, a new ioctl
 * capability or a different kernel behaviour without writing a kernel patch. A plugin is kernel
 * modules (loaded after the built-in ones, in order), IOMMU drivers (one named like a built-in
 * replaces it: a behaviour variant), and the sysfs-schema entries of what it adds, so that the
 * validator and the conformance suites judge a machine with the plugin loaded.
 *
 * ```ts
 * export default definePlugin({
 *   name: 'usable_regions', summary: '…',
 *   modules: [groupAttribute('usable_regions', (k, g) => …)],
 * });   // with usable_regions.sysfs-schema.json beside it
 * ```
 * @note emulation: none of this is kernel ABI; plugins are prototypes of ABI that does not exist.
 */
import type { Kernel, KernelModule } from '../host';
import { IOMMU_DRIVERS, IommuOps } from '../iommu/drivers';
import type { Attribute } from '../kernfs/attribute';
import type { IommuGroup, IommuUnit } from '../model/host';
import type { RawSchemaFile } from '../sysfs/schema';
import { vfioState } from '../vfio/vfio_main';
import type { Type1InfoView } from '../vfio/vfio_main';

export interface AbiPlugin {
  /** A short identifier (`usable_regions`). */
  readonly name: string;
  readonly summary: string;
  readonly modules?: readonly KernelModule[];
  /** IOMMU drivers to register; one named like a built-in replaces it. */
  readonly iommuDrivers?: readonly IommuOps[];
  /** sysfs-schema entries (a schema file's shape) for what the plugin adds. */
  readonly sysfsSchema?: RawSchemaFile;
  /** The file it was loaded from, when loaded with loadPluginFile. */
  readonly file?: string;
}

export class PluginError extends Error {
  override readonly name = 'PluginError';
}

export function definePlugin(p: AbiPlugin): AbiPlugin {
  if (!/^[a-z0-9][a-z0-9_.-]*$/.test(p.name)) throw new PluginError(`plugin name ${JSON.stringify(p.name)}: use lowercase letters, digits, _ . -`);
  if (!p.summary) throw new PluginError(`plugin ${p.name}: a one-line summary is required`);
  return p;
}

/** A built-in IOMMU driver's ops, for a variant that wraps it. */
export function builtinIommuDriver(name: string): IommuOps {
  const ops = IOMMU_DRIVERS.find((d) => d.name === name);
  if (!ops) throw new PluginError(`no built-in IOMMU driver ${JSON.stringify(name)} (have: ${IOMMU_DRIVERS.map((d) => d.name).join(', ')})`);
  return ops;
}

/** A read-only attribute in every IOMMU group's directory: `/sys/kernel/iommu_groups/<id>/<name>`. */
export function groupAttribute(name: string, show: (k: Kernel, g: IommuGroup) => string, mode = 0o444): KernelModule {
  return {
    name: `${name}-group-attr`,
    init(k) {
      k.registerSysfs((tree) => {
        for (const g of k.host.groups()) tree.set(`/sys/kernel/iommu_groups/${g.id}/${name}`, { kind: 'file', attr: { name, mode, show: () => show(k, g) } satisfies Attribute });
      });
    },
  };
}

/** A read-only attribute in every IOMMU instance's directory (`/sys/class/iommu/<unit>/<name>`). */
export function unitAttribute(name: string, show: (k: Kernel, u: IommuUnit) => string, mode = 0o444): KernelModule {
  return {
    name: `${name}-unit-attr`,
    init(k) {
      k.registerSysfs((tree) => {
        for (const u of k.host.units) tree.set(`${u.sysfsPath}/${name}`, { kind: 'file', attr: { name, mode, show: () => show(k, u) } satisfies Attribute });
      });
    },
  };
}

/** An extra capability in the VFIO_IOMMU_GET_INFO chain of type1 containers (built bytes, header first). */
export function vfioType1InfoCapability(name: string, build: (k: Kernel, view: Type1InfoView) => Uint8Array | undefined): KernelModule {
  return {
    name: `${name}-vfio-info-cap`,
    kconfig: ['CONFIG_VFIO', 'CONFIG_VFIO_CONTAINER'],
    init(k) {
      vfioState(k).type1InfoCaps.push((view) => build(k, view));
    },
  };
}

/** What `createMachine(host, { plugins })` expands to. */
export function pluginMachineParts(plugins: readonly AbiPlugin[]): { modules: KernelModule[]; iommuDrivers: IommuOps[] } {
  const modules = plugins.flatMap((p) => p.modules ?? []);
  const iommuDrivers: IommuOps[] = [];
  for (const p of plugins)
    for (const d of p.iommuDrivers ?? []) {
      if (iommuDrivers.some((x) => x.name === d.name)) throw new PluginError(`plugin ${p.name}: IOMMU driver ${d.name} is already replaced by another plugin`);
      iommuDrivers.push(d);
    }
  return { modules, iommuDrivers };
}

export type { Type1InfoView };
