// SPDX-License-Identifier: GPL-2.0-only
/**
 * Where each reserved_regions line comes from, and which firmware entries the chosen kernel does
 * not report (and the profile row that says why). For people comparing the emulator with a real
 * host: `iommu-emu show --explain`. Nothing here changes what sysfs shows.
 * @note emulation: the kernel keeps no such record; this is bookkeeping around the same rules.
 */
import type { Feature, KernelProfile } from '../kernel/profile';
import type { IommuGroup, IommuUnit } from '../model/host';
import { ResvRegion, formatResvRegion } from '../model/resv_region';
import type { IommuDriver, Topology } from '../topology/topology';
import { IOMMU_DRIVERS, iommuDriverRows } from './drivers';

/** What the explanation reads of a machine's device model (the Host facade has all of it). */
export interface ExplainSource {
  readonly topology: Topology;
  readonly kernel: KernelProfile;
  readonly units: readonly IommuUnit[];
  groupResvRegions(group: IommuGroup): ResvRegion[];
  findDevice(bdf: string): { readonly unit: IommuUnit | undefined } | undefined;
  findPlatformDevice(name: string): { readonly unit: IommuUnit | undefined } | undefined;
}

const ops = (driver: string) => IOMMU_DRIVERS.find((o) => o.name === driver);

export interface ExplainedRegion {
  /** The reserved_regions line, without its newline. */
  readonly line: string;
  /** Every device region folded into the line, `<bdf>: <driver function>: <entry>`; more than one: merged. */
  readonly sources: readonly string[];
}

/** The group's reserved_regions, line by line, with the regions each line was merged from. */
export function explainGroupResvRegions(host: ExplainSource, group: IommuGroup): ExplainedRegion[] {
  return host.groupResvRegions(group).map((r) => ({
    line: formatResvRegion(r).trimEnd(),
    sources: r.sources ?? [r.source ?? '?'],
  }));
}

export interface IgnoredEntry {
  /** `firmware.iortRmr[0]`, `iommus[1] (virtio0, virtio-iommu)` */
  readonly entry: string;
  readonly why: string;
  /** The profile row that decides it, when a kernel version does. */
  readonly row?: Feature;
}

/** The drivers whose get_resv_regions read each firmware table. */
const DMA_IOMMU_USERS: readonly IommuDriver[] = ['arm-smmu', 'arm-smmu-v3', 'virtio-iommu', 'apple-dart'];
const READERS: Record<string, readonly IommuDriver[]> = {
  rmrr: ['intel-iommu'],
  ivmd: ['amd-iommu'],
  iortRmr: DMA_IOMMU_USERS,
  its: DMA_IOMMU_USERS,
  dtIommuAddresses: DMA_IOMMU_USERS,
  pciHostBridgeWindows: DMA_IOMMU_USERS,
  virtioIommuProbe: ['virtio-iommu'],
};
/** Firmware tables the kernel reads only from some version on. */
const TABLE_ROW: Record<string, Feature> = {
  iortRmr: 'iort_rmr',
  its: 'iort_its_msi',
  dtIommuAddresses: 'of_iommu_addresses',
  pciHostBridgeWindows: 'arm_dma_pci_windows',
};

/** Firmware entries (and IOMMU units) that leave no trace in this kernel's sysfs, with the reason. */
export function ignoredFirmware(host: ExplainSource): IgnoredEntry[] {
  const { topology, kernel } = host;
  const out: IgnoredEntry[] = [];
  topology.iommus.forEach((u, i) => {
    const missing = iommuDriverRows(u, topology).filter((f) => !kernel.has(f));
    if (missing.length) out.push({ entry: `iommus[${i}] (${u.name}, ${u.driver})`, why: `no such driver on ${kernel.release}: ${missing.map((f) => kernel.why(f)).join('; ')}`, row: missing[0]! });
  });
  const fw = topology.firmware as unknown as Record<string, readonly Record<string, unknown>[]>;
  for (const [table, entries] of Object.entries(fw)) {
    entries.forEach((e, i) => {
      const at = `firmware.${table}[${i}]`;
      const row = TABLE_ROW[table];
      if (row && !kernel.has(row)) return void out.push({ entry: at, why: `not read by ${kernel.release}: ${kernel.why(row)}`, row });
      if (table === 'ivmd' && e.exclusion && !kernel.has('amd_ivmd_exclusion_reserved'))
        return void out.push({ entry: at, why: `an exclusion range is not a reserved region on ${kernel.release}: ${kernel.why('amd_ivmd_exclusion_reserved')}`, row: 'amd_ivmd_exclusion_reserved' });
      const devs = (e.devices as readonly string[] | undefined) ?? (typeof e.device === 'string' ? [e.device] : undefined);
      // A driver without get_resv_regions (sun50i) reports nothing, firmware or not.
      const silent = devs?.map((b) => host.findDevice(b)?.unit ?? host.findPlatformDevice(b)?.unit).find((u) => u && ops(u.driver)?.platformOnly);
      if (silent) return void out.push({ entry: at, why: `${silent.name} (${silent.driver}) has no get_resv_regions: the kernel reports no regions for its devices` });
      const readers = READERS[table] ?? [];
      const units = host.units.filter((u) => readers.includes(u.driver));
      if (!units.length) return void out.push({ entry: at, why: `read only by ${readers.join('/')}, and this host has no such unit${readers.some((d) => ops(d)?.since) ? ' on this kernel' : ''}` });
      const translated = (b: string) => {
        const d = host.findDevice(b) ?? host.findPlatformDevice(b);
        return d?.unit !== undefined && readers.includes(d.unit.driver);
      };
      if (devs && !devs.some(translated))
        out.push({ entry: at, why: `none of its devices (${devs.join(', ')}) is translated by ${readers.join('/')}` });
    });
  }
  return out;
}
