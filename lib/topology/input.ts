// SPDX-License-Identifier: GPL-2.0-only
/* Generated from lib/topology/schema.json by scripts/gen-topology-types.js: do not edit. */
export type Bdf = string;
export type Id16 = number | string;
export type Id24 = number | string;
export type Id8 = number | string;
/**
 * an address or size: a non-negative integer, or a string in hex (0x…) or decimal; '_' separators allowed
 */
export type U64 = number | string;
/**
 * a platform device's name: ACPI "<HID>:<nn>" (AMDI0040:00) or device tree "<unit-address>.<node>" (1100000.mixer)
 */
export type PlatformName = string;
export type DeviceRef = Bdf | PlatformName;
export type BdfList = DeviceRef[];

export interface TopologyInput {
  name: string;
  description?: string;
  /**
   * the kernel: a version ("6.8", "5.4.7", "5.5-rc3", "5.14.0-70.el9" or "latest"), or {version, features} for a vendor kernel whose backports differ from its version
   */
  kernel:
    | string
    | {
        version: string;
        /**
         * profile rows (lib/kernel/profile.ts FEATURES) switched on (a backport) or off against the version
         */
        features?: {
          [k: string]: boolean | undefined;
        };
      };
  arch: 'x86_64' | 'aarch64' | 's390x' | 'riscv64' | 'ppc64le';
  cmdline?: {
    'iommu.passthrough'?: boolean;
    'iommu.strict'?: boolean;
    'vfio_iommu_type1.allow_unsafe_interrupts'?: boolean;
    'vfio_iommu_type1.dma_entry_limit'?: number;
    'vfio.enable_unsafe_noiommu_mode'?: boolean;
    'iommufd.allow_unsafe_interrupts'?: boolean;
  };
  iommus: {
    name?: string;
    driver: 'intel-iommu' | 'amd-iommu' | 'arm-smmu' | 'arm-smmu-v3' | 'virtio-iommu' | 'apple-dart' | 's390-iommu' | 'sun50i-iommu';
    /**
     * the PCI function of the IOMMU itself (AMD ivhd, virtio-iommu)
     */
    bdf?: string;
    /**
     * an address or size: a non-negative integer, or a string in hex (0x…) or decimal; '_' separators allowed
     */
    base?: number | string;
    /**
     * input address bits: aperture is [0, 2^bits - 1]
     */
    addressWidth?: number;
    /**
     * an address or size: a non-negative integer, or a string in hex (0x…) or decimal; '_' separators allowed
     */
    pgsizes?: number | string;
    /**
     * MSI isolation (IRQ remapping / ITS); false makes VFIO refuse without allow_unsafe_interrupts
     */
    interruptRemapping?: boolean;
    /**
     * AMD: EFR2 HT-range-ignore set (newer kernels then skip the HT hole)
     */
    htRangeIgnore?: boolean;
    /**
     * an address or size: a non-negative integer, or a string in hex (0x…) or decimal; '_' separators allowed
     */
    msiDoorbell?: number | string;
    pageSize?: 4096 | 16384 | 65536;
    /**
     * an address or size: a non-negative integer, or a string in hex (0x…) or decimal; '_' separators allowed
     */
    cap?: number | string;
    /**
     * an address or size: a non-negative integer, or a string in hex (0x…) or decimal; '_' separators allowed
     */
    ecap?: number | string;
  }[];
  devices: {
    bdf: Bdf;
    /**
     * what the device is, for humans
     */
    name?: string;
    vendor: Id16;
    device: Id16;
    class: Id24;
    revision?: Id8;
    subsystem_vendor?: Id16;
    subsystem_device?: Id16;
    driver?: string | null;
    driver_override?: string;
    /**
     * the bridge this device sits behind (default: the root bus)
     */
    parent?: string;
    /**
     * bridges/multi-function devices: isolates its functions/downstream devices (default: bridges true, functions false)
     */
    acs?: boolean;
    multifunction?: boolean;
    /**
     * unit name; null: not translated by any IOMMU; default: the first unit
     */
    iommu?: string | null;
    /**
     * explicit group label: devices with the same label share a group
     */
    group?: string;
    irq?: number;
    numa_node?: number;
    /**
     * PCI Express: 4096-byte config space (default true)
     */
    pcie?: boolean;
    /**
     * PCIe: the function's maximum link speed in GT/s (LnkCap; default 8). The link trains to the lower of both ends.
     */
    linkSpeed?: 2.5 | 5 | 8 | 16 | 32 | 64;
    /**
     * PCIe: the function's maximum link width in lanes (LnkCap; default 16 for ports, 4 for endpoints)
     */
    linkWidth?: 1 | 2 | 4 | 8 | 12 | 16 | 32;
    bars?: Bar[];
    /**
     * an address or size: a non-negative integer, or a string in hex (0x…) or decimal; '_' separators allowed
     */
    rom?: number | string;
    /**
     * an address or size: a non-negative integer, or a string in hex (0x…) or decimal; '_' separators allowed
     */
    romAddress?: number | string;
    /**
     * bridges: the I/O, memory and prefetchable windows (inclusive; default: the hull of the BARs below)
     */
    windows?: {
      io?: Range;
      mem?: Range;
      pref?: Range;
    };
    msi?: number;
    msix?: number;
    intx?: boolean;
    streamIds?: number[];
    /**
     * an address or size: a non-negative integer, or a string in hex (0x…) or decimal; '_' separators allowed
     */
    startDma?: number | string;
    /**
     * an address or size: a non-negative integer, or a string in hex (0x…) or decimal; '_' separators allowed
     */
    endDma?: number | string;
    resetMethods?: ('flr' | 'pm' | 'bus' | 'slot' | 'af')[];
    /**
     * recorded: this device's get_resv_regions output verbatim (start..end inclusive), replacing its IOMMU driver's rules; `record` writes it only for groups no firmware table explains
     */
    resvRegions?: {
      start: U64;
      end: U64;
      type: 'direct' | 'direct-relaxable' | 'reserved' | 'msi' | 'sw-msi';
    }[];
    /**
     * the device's config space as recorded, in hex; trailing zero bytes may be left out (the rest of the 256-byte, or 4096-byte PCIe, space reads as zero)
     */
    config?: string;
    /**
     * network interface name of a NIC on a network driver (default: en[P<domain>]p<bus>s<slot>[f<function>], udev's path name; unique)
     */
    ifname?: string;
    /**
     * the interface's MAC address (default: 02:00:<domain>:<bus>:<slot>:<function>, locally administered)
     */
    mac?: string;
  }[];
  /**
   * non-PCI devices behind an IOMMU: ACPI devices (a _HID) or device-tree nodes (a compatible); /sys/bus/platform/devices/<name>
   */
  platformDevices?: {
    name: PlatformName;
    /**
     * what the device is, for humans
     */
    description?: string;
    /**
     * ACPI _HID (an ACPI machine): AMDI0040
     */
    hid?: string;
    /**
     * the device-tree compatible (a DT machine): allwinner,sun50i-h6-de3-mixer-0
     */
    compatible?: string;
    /**
     * unit name; null: not translated; default: the first unit
     */
    iommu?: string | null;
    /**
     * the bound platform driver (default none)
     */
    driver?: string | null;
    /**
     * explicit group label shared with other platform devices
     */
    group?: string;
    /**
     * IOMMU stream ids / DART streams (informational)
     */
    streamIds?: number[];
  }[];
  firmware?: {
    /**
     * Intel DMAR RMRR: base..end inclusive, device scope
     */
    rmrr?: {
      base: U64;
      end: U64;
      devices: BdfList;
    }[];
    /**
     * AMD IVRS IVMD (type 21h/22h): start + length as in the table (the kernel page-aligns both up), devices, exclusion-range flag; the older end (exclusive) spelling is still read
     */
    ivmd?: {
      start: U64;
      length?: U64;
      /**
       * an address or size: a non-negative integer, or a string in hex (0x…) or decimal; '_' separators allowed
       */
      end?: number | string;
      devices: BdfList;
      exclusion?: boolean;
      read?: boolean;
      write?: boolean;
    }[];
    /**
     * IORT RMR: base + length for the listed devices
     */
    iortRmr?: {
      base: U64;
      length: U64;
      devices: BdfList;
      remapPermitted?: boolean;
    }[];
    /**
     * IORT ITS groups whose doorbell bypasses the SMMU (HiSilicon-style quirk): hardware msi page at base + 64K, 64K long, for the listed devices (default: every device behind an SMMU)
     */
    its?: {
      base: U64;
      devices?: BdfList;
    }[];
    /**
     * device-tree reserved-memory iommu-addresses: iova/length for a device, optional physical reg
     */
    dtIommuAddresses?: {
      device: DeviceRef;
      iova: U64;
      length: U64;
      reg?: {
        start: U64;
        length: U64;
      };
    }[];
    /**
     * virtio-iommu VIRTIO_IOMMU_PROBE_T_RESV_MEM properties: start..end inclusive
     */
    virtioIommuProbe?: {
      start: U64;
      end: U64;
      subtype: 'reserved' | 'msi';
      devices?: BdfList;
    }[];
    /**
     * PCI host-bridge memory windows, start..end inclusive (arm64 v4.12–v4.16 kernels report them as reserved)
     */
    pciHostBridgeWindows?: {
      start: U64;
      end: U64;
    }[];
  };
  /**
   * kernel build options that change what sysfs shows
   */
  kconfig?: {
    /**
     * SR-IOV resources: `resource` has 13 lines per endpoint and 17 per bridge (default true), else 7 and 11
     */
    CONFIG_PCI_IOV?: boolean;
    /**
     * VT-d reports the 16 MiB ISA range on ISA bridges (default true; x86 only)
     */
    CONFIG_INTEL_IOMMU_FLOPPY_WA?: boolean;
    /**
     * vfio and vfio-pci are loaded: /dev/vfio/vfio and /sys/bus/pci/drivers/vfio-pci exist (default true)
     */
    CONFIG_VFIO?: boolean;
    /**
     * the legacy VFIO container: /dev/vfio/vfio served by vfio.ko with the type1 backend (default true)
     */
    CONFIG_VFIO_CONTAINER?: boolean;
    /**
     * iommufd is built and loaded: /dev/iommu on kernels that have it, 6.2 and later (default false, as in Debian's 6.12 config)
     */
    CONFIG_IOMMUFD?: boolean;
    /**
     * iommufd serves /dev/vfio/vfio as a compatibility container; needs CONFIG_IOMMUFD and CONFIG_VFIO_CONTAINER false (default false)
     */
    CONFIG_IOMMUFD_VFIO_CONTAINER?: boolean;
    /**
     * the iommufd selftest mock IOMMU driver and IOMMU_TEST_CMD; needs CONFIG_IOMMUFD (default false)
     */
    CONFIG_IOMMUFD_TEST?: boolean;
    /**
     * /dev/vfio/devices/vfioN on kernels that have it (6.6 and later); needs CONFIG_IOMMUFD (default: CONFIG_IOMMUFD)
     */
    CONFIG_VFIO_DEVICE_CDEV?: boolean;
  };
  /**
   * driver name → the kernel module that registers it (default: a built-in table, else the driver name with - as _, loadable)
   */
  modules?: {
    [k: string]:
      | {
          module?: string;
          /**
           * built into the kernel image (no initstate/refcnt; /sys/module entry only with parameters, or from v6.15)
           */
          builtin?: boolean;
        }
      | undefined;
  };
  /**
   * NUMA nodes (default: one per numa_node the devices name, and node 0; 4 CPUs each)
   *
   * @minItems 1
   */
  nodes?: [
    {
      /**
       * node number (default: the index)
       */
      id?: number;
      /**
       * CPU list, e.g. "0-15,32-47"
       */
      cpus: string;
      /**
       * an address or size: a non-negative integer, or a string in hex (0x…) or decimal; '_' separators allowed
       */
      memory?: number | string;
    },
    ...{
      /**
       * node number (default: the index)
       */
      id?: number;
      /**
       * CPU list, e.g. "0-15,32-47"
       */
      cpus: string;
      /**
       * an address or size: a non-negative integer, or a string in hex (0x…) or decimal; '_' separators allowed
       */
      memory?: number | string;
    }[]
  ];
}
export interface Bar {
  index: number;
  size: U64;
  address?: U64;
  type?: 'mem32' | 'mem64' | 'io';
  prefetchable?: boolean;
  /**
   * whether VFIO allows mmap of this BAR (default true for memory BARs)
   */
  mmap?: boolean;
  /**
   * sparse-mmap areas (offset/size within the BAR); VFIO reports them as VFIO_REGION_INFO_CAP_SPARSE_MMAP
   */
  sparse?: {
    offset: U64;
    size: U64;
  }[];
}
export interface Range {
  start: U64;
  end: U64;
}
