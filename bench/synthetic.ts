// SPDX-License-Identifier: GPL-2.0-only
/**
 * Synthetic hosts of any size for the scaling benchmarks: `groups` IOMMU groups of exactly four
 * PCI functions each, on a VT-d x86_64 server with one PCI segment (domain) per 32 groups.
 *
 * The groups alternate between the two ways the emulator forms multi-device groups, so that both
 * of its grouping paths are measured:
 * - a quad-port NIC: one slot, functions 0–3, multi-function without ACS (a `slot:` group);
 * - a root port without ACS and three endpoints on its secondary bus (the bridge's group).
 * Every segment's bus 00 holds 16 NIC slots (devices 00–0f) and 16 root ports (10–1f), each root
 * port's secondary bus is 01–10. A few functions are bound to vfio-pci so /dev/vfio has groups.
 */
import type { TopologyInput } from '../lib';

const hex = (n: number, w: number): string => n.toString(16).padStart(w, '0');

export interface SyntheticCounts {
  readonly groups: number;
  readonly devices: number;
}

/** A topology document (the JSON/YAML shape) with `groups` groups × 4 devices. */
export function syntheticTopology(groups: number): TopologyInput {
  if (!Number.isSafeInteger(groups) || groups < 1 || groups > 32 * 0x10000) throw new RangeError(`groups: ${groups}`);
  const devices: TopologyInput['devices'] = [];
  for (let g = 0; g < groups; g++) {
    const dom = hex(Math.floor(g / 32), 4);
    const i = g % 32;
    const vfio = g % 8 === 7;
    if (i < 16) {
      const slot = `${dom}:00:${hex(i, 2)}`;
      for (let fn = 0; fn < 4; fn++)
        devices.push({
          bdf: `${slot}.${fn}`,
          name: `Ethernet X710 port ${fn}`,
          vendor: 0x8086,
          device: 0x1572,
          class: 0x020000,
          driver: vfio ? 'vfio-pci' : 'i40e',
          multifunction: true,
          bars: [{ index: 0, size: 0x800000, type: 'mem64', prefetchable: true }],
          msix: 129,
        });
    } else {
      const port = `${dom}:00:${hex(i, 2)}.0`;
      const bus = hex(i - 15, 2);
      devices.push({ bdf: port, name: 'PCIe root port (no ACS)', vendor: 0x8086, device: 0xa338, class: 0x060400, driver: 'pcieport', acs: false });
      for (let d = 0; d < 3; d++)
        devices.push({
          bdf: `${dom}:${bus}:${hex(d, 2)}.0`,
          name: 'NVMe SSD',
          parent: port,
          vendor: 0x144d,
          device: 0xa808,
          class: 0x010802,
          driver: vfio && d === 0 ? 'vfio-pci' : 'nvme',
          bars: [{ index: 0, size: 0x4000, type: 'mem64' }],
          msix: 33,
        });
    }
  }
  return {
    name: `synthetic-${groups}`,
    description: `synthetic VT-d host: ${groups} IOMMU groups x 4 devices`,
    kernel: '6.8',
    arch: 'x86_64',
    iommus: [{ driver: 'intel-iommu', addressWidth: 48 }],
    devices,
  };
}
