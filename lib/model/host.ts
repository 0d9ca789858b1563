// SPDX-License-Identifier: GPL-2.0-only
/**
 * The pure host model: IOMMU units, PCI devices, IOMMU groups, PCI drivers. Plain data plus
 * small invariants; behaviour lives in lib/iommu (groups, regions), lib/drivers (binding).
 */
import type { IovaRange } from './iova';
import type { BarSpec, DeviceSpec, IommuDriver, IommuSpec, PlatformDeviceSpec } from '../topology/topology';

export type DomainType = 'DMA' | 'DMA-FQ' | 'identity' | 'blocked' | 'unmanaged' | 'nested';

/**
 * `struct iommu_user_data_array`: an array of driver-specific entries in user memory (HWPT
 * invalidation requests). `copyEntry` is `iommu_copy_struct_from_user_array`: entry `index`,
 * `size` bytes of it (E2BIG for a longer non-zero entry, EINVAL shorter than `minLast`, EFAULT).
 */
export interface IommuUserDataArray {
  readonly type: number;
  readonly entryLen: number;
  /** In: entries given; out (set by the driver): entries handled. */
  entryNum: number;
  copyEntry(index: number, size: number, minLast: number): Uint8Array;
}

/**
 * `struct iommu_domain_ops` as iommufd drives it. Only drivers whose page tables the emulation
 * keeps (the iommufd selftest's mock) have `mapPages`; the others' tables are not modelled.
 */
export interface IommuDomainOps {
  /** Map `length` bytes of `page` from `offset` at `iova` (within one CPU page). Throws. */
  mapPages?(domain: IommuDomain, iova: bigint, page: Uint8Array, offset: number, length: number, prot: number): void;
  unmapPages?(domain: IommuDomain, iova: bigint, length: bigint): void;
  /** `cache_invalidate_user` (nested domains): throws after setting `array.entryNum`. */
  cacheInvalidateUser?(domain: IommuDomain, array: IommuUserDataArray): void;
  free?(domain: IommuDomain): void;
}

/** `struct iommu_dirty_ops` */
export interface IommuDirtyOps {
  setDirtyTracking(domain: IommuDomain, enable: boolean): void;
  /** Report dirty IOVA in [iova, iova+size) through `record`; clears unless `noClear`. */
  readAndClearDirty(domain: IommuDomain, iova: bigint, size: bigint, noClear: boolean, record: ((iova: bigint, length: bigint) => void) | undefined): void;
}

/**
 * `struct iommu_domain`: what a group (or a device) is attached to. The default domains of the
 * DMA API, the blocking domain of a group claimed for userspace, and the paging domains VFIO
 * type1 and iommufd allocate are all objects of this shape.
 */
export interface IommuDomain {
  readonly type: DomainType;
  /** The driver whose ops the domain has (`domain->ops`). */
  readonly driver: string;
  /** The IOMMU instance it was allocated for (per-instance drivers refuse others at attach). */
  readonly unit: IommuUnit | undefined;
  /** `domain->geometry`: aperture_start..aperture_end. */
  readonly geometry: IovaRange;
  readonly pgsizeBitmap: bigint;
  /** Nesting enabled (VFIO_TYPE1_NESTING_IOMMU, `iommu_enable_nesting`). */
  nesting: boolean;
  /** Groups attached now. */
  readonly groups: Set<IommuGroup>;
  /** `domain->ops` beyond attach (page table, invalidation), when the driver has them modelled. */
  readonly ops?: IommuDomainOps;
  /** `domain->dirty_ops`: set on domains allocated with dirty tracking. */
  readonly dirtyOps?: IommuDirtyOps;
  /** `domain->owner`: the driver that allocated it through `domain_alloc_user`. */
  owner?: string;
  /** `domain->iopf_handler` + `fault_data`: where this domain's page faults go. */
  iopfHandler?: (fault: IopfFaultEvent) => void;
}

/** A page request as the IOMMU reports it (`struct iopf_fault` → `iommu_fault_page_request`). */
export interface IopfFaultEvent {
  readonly flags: number;
  readonly pasid: number;
  readonly grpid: number;
  readonly perm: number;
  readonly addr: bigint;
  /** The faulting device. */
  readonly dev: PciDevice;
}

export interface IommuUnit {
  readonly spec: IommuSpec;
  readonly name: string;
  readonly driver: IommuDriver;
  /** sysfs directory of the unit device, e.g. `/sys/devices/virtual/iommu/dmar0`. */
  readonly sysfsPath: string;
  /** Domain geometry: `aperture_start..aperture_end` of a paging domain. */
  readonly aperture: IovaRange;
  /** Supported page sizes (`pgsize_bitmap`). */
  readonly pgsizeBitmap: bigint;
  /** `IOMMU_CAP_INTR_REMAP` / MSI isolation. */
  readonly msiIsolated: boolean;
}

/**
 * What an IOMMU driver's get_resv_regions looks at: a PCI function or a platform device.
 * PciDevice has all of it.
 */
export interface ResvDevice {
  /** The name firmware tables use for the device: its PCI address, or a platform device's name. */
  readonly bdf: string;
  /** PCI class code; 0 for platform devices. */
  readonly class: number;
  readonly parent: ResvDevice | undefined;
  readonly unit: IommuUnit | undefined;
  readonly spec: { readonly startDma?: bigint | undefined; readonly endDma?: bigint | undefined };
}

/** A non-PCI device behind an IOMMU: `/sys/bus/platform/devices/<name>`. */
export interface PlatformDevice extends ResvDevice {
  readonly platform: PlatformDeviceSpec;
  /** `AMDI0040:00`, `1100000.mixer` (also `bdf`, the name firmware entries reference). */
  readonly name: string;
  /** `/sys/devices/platform/<name>` */
  readonly sysfsPath: string;
  readonly parent: undefined;
  driver: string | null;
  group: IommuGroup | undefined;
  groupLinkName: string | undefined;
}

export interface PciDevice {
  readonly spec: DeviceSpec;
  readonly bdf: string;
  readonly domain: number;
  readonly bus: number;
  readonly slot: number;
  readonly func: number;
  readonly vendor: number;
  readonly device: number;
  readonly class: number;
  readonly revision: number;
  readonly subsystemVendor: number;
  readonly subsystemDevice: number;
  readonly bars: readonly BarSpec[];
  /** `/sys/devices/pci0000:00/…/<bdf>` */
  readonly sysfsPath: string;
  readonly parent: PciDevice | undefined;
  readonly unit: IommuUnit | undefined;
  /** Name of the bound driver, or null. Mutated only through lib/drivers. */
  driver: string | null;
  /** `driver_override`; null prints `(null)`. */
  driverOverride: string | null;
  group: IommuGroup | undefined;
  /** The name of the link in the group's devices/ dir (`<bdf>` or `<bdf>.N`). */
  groupLinkName: string | undefined;
  /** Index in /dev/vfio/devices/vfioN (vfio-pci bound, kernels with the cdev). */
  vfioDevIndex: number | undefined;
  /** PCI config space, kept consistent with the ids. */
  readonly config: Uint8Array;
  /** Removed by hot-unplug: every handle a user still holds sees ENODEV. */
  removed: boolean;
}

export interface IommuGroup {
  readonly id: number;
  /** Probe order (`list_add_tail`), which is also the order regions are inserted in. */
  readonly devices: PciDevice[];
  /** Platform (non-PCI) members; a group holds PCI functions or platform devices, not both. */
  readonly platformDevices: PlatformDevice[];
  /** `iommu_group_set_name`; only the VFIO no-IOMMU group has one. */
  name: string | undefined;
  /** null: no default domain (`type` reads `unknown`). */
  defaultDomain: DomainType | null;
  /** What `auto` resets to. */
  readonly bootDomain: DomainType | null;
  /** `owner_cnt`: kernel DMA-API drivers bound, or userspace (VFIO/iommufd) claims. */
  ownerCnt: number;
  /** The userspace DMA owner (`group->owner`), null while kernel drivers own DMA. */
  owner: unknown;
  /** VFIO's fake group for unsafe no-IOMMU mode. */
  readonly noiommu: boolean;
  /** `group->domain`: null while in the default domain (or without an IOMMU). */
  domain: IommuDomain | null;
}

export interface PciDriver {
  readonly name: string;
  /** Static id table: [vendor, device] pairs; PCI_ANY_ID = -1. Empty for override-only vfio-pci. */
  readonly staticIds: readonly (readonly [number, number])[];
  /** `new_id` entries. */
  readonly dynamicIds: DynId[];
  /** Uses the DMA API (claims DMA ownership when bound): false for `driver_managed_dma` drivers (vfio-pci, pci-stub, pcieport). */
  readonly dmaApi: boolean;
  /** The id table matches only devices whose driver_override names the driver (vfio-pci's `override_only` entry). */
  readonly overrideOnly: boolean;
  /** The id table exists (`new_id` needs one, since the vfio-pci table on 5.15+). */
  readonly hasIdTable: boolean;
  /** The probe enables the device (`enable` reads 1); vfio-pci enables it only when opened. */
  readonly enablesAtProbe: boolean;
  /** `pci_driver.probe`: throws the probe errno. */
  readonly probe?: (dev: PciDevice) => void;
  /** `pci_driver.remove` */
  readonly remove?: (dev: PciDevice) => void;
}

export interface DynId {
  readonly vendor: number;
  readonly device: number;
  readonly subvendor: number;
  readonly subdevice: number;
  readonly class: number;
  readonly classMask: number;
  readonly driverData: bigint;
}

export const PCI_ANY_ID = 0xffffffff;

export function parseBdf(bdf: string): { domain: number; bus: number; slot: number; func: number } | undefined {
  const m = /^([0-9a-f]{4}):([0-9a-f]{2}):([0-1][0-9a-f])\.([0-7])$/.exec(bdf);
  if (!m) return undefined;
  return { domain: parseInt(m[1]!, 16), bus: parseInt(m[2]!, 16), slot: parseInt(m[3]!, 16), func: parseInt(m[4]!, 16) };
}

export const PCI_CLASS_BRIDGE_ISA = 0x0601;
export const PCI_CLASS_BRIDGE_PCI = 0x0604;
export const PCI_BASE_CLASS_DISPLAY = 0x03;
export const PCI_CLASS_SERIAL_USB = 0x0c03;

export const isBridge = (d: PciDevice): boolean => d.class >> 8 === PCI_CLASS_BRIDGE_PCI;
