// SPDX-License-Identifier: GPL-2.0-only
import type { KernelProfile } from '../kernel/profile';
import type { ResvDevice } from '../model/host';
import type { ResvRegion } from '../model/resv_region';
import type { FirmwareSpec, Topology } from '../topology/topology';

/** What a driver's `get_resv_regions` may look at: the device, the firmware tables, the kernel. */
export interface ResvContext {
  readonly kernel: KernelProfile;
  readonly firmware: FirmwareSpec;
  readonly topology: Topology;
}

/** `ops->get_resv_regions(dev, list)`: appends the device's regions in the driver's order. */
export type GetResvRegions = (dev: ResvDevice, ctx: ResvContext) => ResvRegion[];

export const SZ_64K = 0x10000n;

/** `0x7b800000..0x7fffffff` (inclusive), for region sources. */
export const hexRange = (start: bigint, last: bigint): string => `0x${start.toString(16)}..0x${last.toString(16)}`;
