// SPDX-License-Identifier: GPL-2.0-only
/** Builders for AVA tests only (not exported, not built): small topologies in a few lines. */
import { Machine, MachineOptions, createMachine } from '../machine';
import type { DeviceInput, TopologyInput } from '../topology/topology';

type Dev = DeviceInput;

export const nic = (bdf: string, extra: Partial<DeviceInput> = {}): Dev => ({
  bdf,
  vendor: '0x8086',
  device: '0x1572',
  class: '0x020000',
  driver: 'i40e',
  ...extra,
});

export function topo(over: Partial<TopologyInput> & { devices: Dev[] }): TopologyInput {
  return {
    name: 'test',
    kernel: '6.8',
    arch: 'x86_64',
    iommus: [{ driver: 'intel-iommu' }],
    ...over,
  };
}

export const machine = (over: Partial<TopologyInput> & { devices: Dev[] }, opts?: MachineOptions): Machine =>
  createMachine(topo(over), opts);

export const read = (m: Machine, p: string): string => String(m.fs.readFileSync(p, 'utf8'));

/** The reserved_regions text of the group a device is in. */
export function regionsOf(m: Machine, bdf: string): string {
  const link = String(m.fs.readlinkSync(`/sys/bus/pci/devices/${bdf}/iommu_group`));
  return read(m, `/sys/kernel/iommu_groups/${link.split('/').pop()}/reserved_regions`);
}

export const groupOf = (m: Machine, bdf: string): number =>
  Number(String(m.fs.readlinkSync(`/sys/bus/pci/devices/${bdf}/iommu_group`)).split('/').pop());
