// SPDX-License-Identifier: GPL-2.0-only
/**
 * The IOMMU driver table: what each `iommu_ops` contributes to the emulation — reserved
 * regions, paging-domain geometry and page sizes, where the unit registers in sysfs.
 */
import { U64_MAX, range } from '../model/iova';
import type { IovaRange } from '../model/iova';
import type { IommuDriver, IommuSpec } from '../topology/topology';
import { amdIommuGetResvRegions } from './amd_iommu';
import { appleDartGetResvRegions } from './apple_dart';
import { armSmmuGetResvRegions } from './arm_smmu';
import type { GetResvRegions } from './context';
import { intelIommuGetResvRegions } from './intel_iommu';
import { s390IommuGetResvRegions } from './s390_iommu';
import { viommuGetResvRegions } from './virtio_iommu';

const SZ_4K = 0x1000n;
const SZ_16K = 0x4000n;
const SZ_2M = 0x200000n;
const SZ_1G = 0x40000000n;

export interface IommuDriverOps {
  readonly getResvRegions: GetResvRegions;
  /** Input address bits of a paging domain when the topology does not say. */
  readonly defaultAddressWidth: number;
  readonly defaultPgsizes: (spec: IommuSpec) => bigint;
  /** `iommu_device_sysfs_add` parent: a PCI function of the IOMMU, a platform device, or none. */
  readonly sysfsParent: 'virtual' | 'pci' | 'platform';
  readonly platformName?: (spec: IommuSpec, index: number) => string;
}

export const IOMMU_DRIVERS: Readonly<Record<IommuDriver, IommuDriverOps>> = {
  'intel-iommu': {
    getResvRegions: intelIommuGetResvRegions,
    defaultAddressWidth: 48,
    defaultPgsizes: () => SZ_4K | SZ_2M | SZ_1G,
    sysfsParent: 'virtual',
  },
  'amd-iommu': {
    getResvRegions: amdIommuGetResvRegions,
    defaultAddressWidth: 64,
    // AMD_IOMMU_PGSIZES: every power of two from 4K except 512G.
    defaultPgsizes: () => (~0xfffn & U64_MAX) & ~(2n << 38n),
    sysfsParent: 'pci',
  },
  'arm-smmu-v3': {
    getResvRegions: armSmmuGetResvRegions,
    defaultAddressWidth: 48,
    defaultPgsizes: () => SZ_4K | SZ_2M | SZ_1G,
    sysfsParent: 'platform',
    platformName: (_s, i) => `arm-smmu-v3.${i}.auto`,
  },
  'arm-smmu': {
    getResvRegions: armSmmuGetResvRegions,
    defaultAddressWidth: 48,
    defaultPgsizes: () => SZ_4K | SZ_2M | SZ_1G,
    sysfsParent: 'platform',
    platformName: (_s, i) => `arm-smmu.${i}.auto`,
  },
  'virtio-iommu': {
    getResvRegions: viommuGetResvRegions,
    defaultAddressWidth: 64,
    defaultPgsizes: (s) => ~(BigInt(s.pageSize ?? 4096) - 1n) & U64_MAX,
    sysfsParent: 'pci',
  },
  'apple-dart': {
    getResvRegions: appleDartGetResvRegions,
    defaultAddressWidth: 32,
    defaultPgsizes: (s) => BigInt(s.pageSize ?? Number(SZ_16K)),
    sysfsParent: 'platform',
    platformName: (_s, i) => `dart.${i}`,
  },
  's390-iommu': {
    getResvRegions: s390IommuGetResvRegions,
    defaultAddressWidth: 64,
    defaultPgsizes: () => SZ_4K,
    sysfsParent: 'virtual',
  },
};

export function unitAperture(spec: IommuSpec): IovaRange {
  const bits = spec.addressWidth ?? IOMMU_DRIVERS[spec.driver].defaultAddressWidth;
  return range(0n, bits >= 64 ? U64_MAX : (1n << BigInt(bits)) - 1n);
}
