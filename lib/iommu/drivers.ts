// SPDX-License-Identifier: GPL-2.0-only
/**
 * The IOMMU drivers (`struct iommu_ops` as far as the emulation goes): reserved regions,
 * paging-domain geometry and page sizes, which domains `attach_dev` accepts, capabilities, and
 * where an instance registers in sysfs. Each registers with the IOMMU core (lib/iommu/iommu.ts)
 * at machine start, in initcall order, like any other driver would — a test's mock driver too.
 */
import { kerr } from '../errno';
import type { Feature, KernelProfile } from '../kernel/profile';
import { U64_MAX, range } from '../model/iova';
import type { IovaRange } from '../model/iova';
import type { IommuDomain, IommuUnit, PciDevice } from '../model/host';
import type { IommuSpec, Topology } from '../topology/topology';
import { amdIommuGetResvRegions } from './amd_iommu';
import { appleDartGetResvRegions } from './apple_dart';
import { armSmmuGetResvRegions } from './arm_smmu';
import type { GetResvRegions } from './context';
import { deviceIsRmrrLocked, intelIommuGetResvRegions } from './intel_iommu';
import { s390IommuGetResvRegions } from './s390_iommu';
import { viommuGetResvRegions } from './virtio_iommu';

const SZ_4K = 0x1000n;
const SZ_16K = 0x4000n;
const SZ_2M = 0x200000n;
const SZ_1G = 0x40000000n;

/** `struct iommu_ops` + `struct iommu_domain_ops`, as the emulation needs them. */
export interface IommuOps {
  readonly name: string;
  readonly getResvRegions: GetResvRegions;
  /** Input address bits of a paging domain when the topology does not say. */
  readonly defaultAddressWidth: number;
  readonly defaultPgsizes: (spec: IommuSpec) => bigint;
  /** `iommu_device_sysfs_add` parent: a PCI function of the IOMMU, a platform device, or none. */
  readonly sysfsParent: 'virtual' | 'pci' | 'platform';
  readonly platformName?: (spec: IommuSpec, index: number) => string;
  /** The paging-domain aperture of an instance. */
  aperture(spec: IommuSpec): IovaRange;
  /** `attach_dev`: throws (EINVAL for an incompatible domain, EPERM for a locked device). */
  attachDev(domain: IommuDomain, dev: PciDevice, kernel: KernelProfile, topology: Topology): void;
  /** `capable`; `dev` is the device asked about (a driver may answer per device). */
  capable(unit: IommuUnit, cap: IommuCapName, dev?: PciDevice): boolean;
  /** `enable_nesting` (ARM SMMUs only, until its removal). */
  enableNesting?(domain: IommuDomain): void;
  /** The profile row of the kernel that brought the driver (absent: older than any profile). */
  readonly since?: Feature;
  /** Translates platform devices only (no PCI): all of an instance's devices share one group. */
  readonly platformOnly?: boolean;
  /** `hw_info` (IOMMU_GET_HW_INFO): the driver's type and data. Absent: IOMMU_HW_INFO_TYPE_NONE. */
  hwInfo?(dev: PciDevice): { readonly type: number; readonly data: Uint8Array };
  /** `domain_alloc_paging(dev)`, when the domain depends on the device; else the unit's geometry. */
  domainAllocPaging?(dev: PciDevice): IommuDomain;
  /**
   * `domain_alloc_user(dev, flags, parent, user_data)`: iommufd's HWPT_ALLOC with flags or driver
   * data (nested domains have a `parent`). Throws the driver's errno. Absent: flags and data are
   * EOPNOTSUPP.
   */
  domainAllocUser?(dev: PciDevice, flags: number, parent: IommuDomain | undefined, userData: IommuUserData | undefined): IommuDomain;
}

/** `enum iommu_cap` (the ones consumers ask). */
export type IommuCapName = 'IOMMU_CAP_INTR_REMAP' | 'IOMMU_CAP_CACHE_COHERENCY' | 'IOMMU_CAP_DIRTY_TRACKING' | 'IOMMU_CAP_ENFORCE_CACHE_COHERENCY';

/**
 * `struct iommu_user_data`: driver data in user memory. `copy` is `iommu_copy_struct_from_user`
 * (EOPNOTSUPP for another type, EINVAL shorter than `minLast`, E2BIG, EFAULT).
 */
export interface IommuUserData {
  readonly type: number;
  readonly len: number;
  copy(type: number, size: number, minLast: number): Uint8Array;
}

const apertureOf =
  (width: number) =>
  (spec: IommuSpec): IovaRange => {
    const bits = spec.addressWidth ?? width;
    return range(0n, bits >= 64 ? U64_MAX : (1n << BigInt(bits)) - 1n);
  };

/**
 * Drivers with one domain format for all instances accept a domain of another instance when its
 * geometry and page sizes fit.
 * @note emulation: the real checks differ per driver (VT-d compares address widths and
 * coherency, AMD page-table levels); equal geometry and page sizes stand for all of them.
 */
function sharedFormatAttach(domain: IommuDomain, dev: PciDevice): void {
  const u = dev.unit!;
  if (domain.unit === u) return;
  if (domain.geometry.start !== u.aperture.start || domain.geometry.last !== u.aperture.last || domain.pgsizeBitmap !== u.pgsizeBitmap)
    throw kerr('EINVAL', `domain of ${domain.unit?.name} does not fit ${u.name}`);
}

/**
 * Per-instance drivers: a domain belongs to the SMMU / DART it was finalised on.
 * @see drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c:arm_smmu_attach_dev (-EINVAL for another SMMU)
 * @see drivers/iommu/apple-dart.c:apple_dart_attach_dev
 */
function perInstanceAttach(domain: IommuDomain, dev: PciDevice): void {
  if (domain.unit !== dev.unit) throw kerr('EINVAL', `domain of ${domain.unit?.name} cannot attach to ${dev.unit?.name}`);
}

const intrRemap = (unit: IommuUnit, cap: string) => (cap === 'IOMMU_CAP_INTR_REMAP' ? unit.msiIsolated : cap === 'IOMMU_CAP_CACHE_COHERENCY');

const armSmmu = (name: 'arm-smmu-v3' | 'arm-smmu', platform: string, since?: Feature): IommuOps => ({
  name,
  ...(since ? { since } : {}),
  getResvRegions: armSmmuGetResvRegions,
  defaultAddressWidth: 48,
  defaultPgsizes: () => SZ_4K | SZ_2M | SZ_1G,
  sysfsParent: 'platform',
  platformName: (_s, i) => `${platform}.${i}.auto`,
  aperture: apertureOf(48),
  attachDev: perInstanceAttach,
  capable: intrRemap,
  enableNesting() {},
});

/** The built-in drivers, in the order their initcalls register them. */
export const IOMMU_DRIVERS: readonly IommuOps[] = [
  {
    name: 'intel-iommu',
    getResvRegions: intelIommuGetResvRegions,
    defaultAddressWidth: 48,
    defaultPgsizes: () => SZ_4K | SZ_2M | SZ_1G,
    sysfsParent: 'virtual',
    aperture: apertureOf(48),
    /**
     * Older VT-d kernels refuse a device locked by an RMRR in an unmanaged (VFIO) domain.
     * @see drivers/iommu/intel/iommu.c:intel_iommu_attach_device
     */
    attachDev(domain, dev, kernel, topology) {
      if (domain.type === 'unmanaged' && kernel.has('intel_rmrr_locked') && deviceIsRmrrLocked(dev, topology.firmware, kernel))
        throw kerr('EPERM', `${dev.bdf} is ineligible for IOMMU domain attach due to platform RMRR requirement`);
      sharedFormatAttach(domain, dev);
    },
    capable: intrRemap,
  },
  {
    name: 'amd-iommu',
    getResvRegions: amdIommuGetResvRegions,
    defaultAddressWidth: 64,
    // AMD_IOMMU_PGSIZES: every power of two from 4K except 512G.
    defaultPgsizes: () => (~0xfffn & U64_MAX) & ~(2n << 38n),
    sysfsParent: 'pci',
    aperture: apertureOf(64),
    attachDev: sharedFormatAttach,
    capable: intrRemap,
  },
  armSmmu('arm-smmu-v3', 'arm-smmu-v3', 'drv_arm_smmu_v3'),
  armSmmu('arm-smmu', 'arm-smmu'),
  {
    name: 'virtio-iommu',
    getResvRegions: viommuGetResvRegions,
    defaultAddressWidth: 64,
    defaultPgsizes: (s) => ~(BigInt(s.pageSize ?? 4096) - 1n) & U64_MAX,
    sysfsParent: 'pci',
    aperture: apertureOf(64),
    attachDev: sharedFormatAttach,
    capable: intrRemap,
    since: 'drv_virtio_iommu',
  },
  {
    name: 'apple-dart',
    getResvRegions: appleDartGetResvRegions,
    defaultAddressWidth: 32,
    defaultPgsizes: (s) => BigInt(s.pageSize ?? Number(SZ_16K)),
    sysfsParent: 'platform',
    platformName: (_s, i) => `dart.${i}`,
    aperture: apertureOf(32),
    attachDev: perInstanceAttach,
    capable: intrRemap,
    since: 'drv_apple_dart',
  },
  {
    name: 's390-iommu',
    getResvRegions: s390IommuGetResvRegions,
    defaultAddressWidth: 64,
    defaultPgsizes: () => SZ_4K,
    sysfsParent: 'virtual',
    aperture: apertureOf(64),
    attachDev: sharedFormatAttach,
    capable: intrRemap,
    since: 'drv_s390_iommu',
  },
  {
    name: 'sun50i-iommu',
    // No get_resv_regions at all: iommu_get_resv_regions() returns nothing for its devices, not
    // even the DT iommu-addresses that dma-iommu users add. @see drivers/iommu/sun50i-iommu.c:sun50i_iommu_ops
    getResvRegions: () => [],
    defaultAddressWidth: 32,
    defaultPgsizes: () => SZ_4K,
    sysfsParent: 'platform',
    platformName: (s) => s.name,
    aperture: apertureOf(32),
    attachDev: perInstanceAttach,
    capable: intrRemap,
    since: 'drv_sun50i_iommu',
    platformOnly: true,
  },
];

/**
 * The profile rows a unit needs on this topology: its driver's, and for virtio-iommu on an
 * ACPI machine (x86) the VIOT table's. Empty: the driver predates every profile.
 */
export function iommuDriverRows(spec: IommuSpec, topology: Topology, ops: IommuOps | undefined = IOMMU_DRIVERS.find((o) => o.name === spec.driver)): Feature[] {
  const rows: Feature[] = ops?.since ? [ops.since] : [];
  if (spec.driver === 'virtio-iommu' && topology.arch === 'x86_64') rows.push('drv_virtio_iommu_acpi');
  return rows;
}

/** The kernel has the unit's driver (a unit of a later driver is not probed: no groups, no regions). */
export const iommuDriverPresent = (spec: IommuSpec, topology: Topology, kernel: KernelProfile, ops?: IommuOps): boolean =>
  iommuDriverRows(spec, topology, ops).every((f) => kernel.has(f));

/** The built-in driver of a name (topology validation and defaults use it before any machine exists). */
export function builtinIommuDriver(name: string): IommuOps {
  const d = IOMMU_DRIVERS.find((o) => o.name === name);
  if (!d) throw new Error(`no built-in IOMMU driver ${name}`);
  return d;
}

export function unitAperture(spec: IommuSpec): IovaRange {
  return builtinIommuDriver(spec.driver).aperture(spec);
}
