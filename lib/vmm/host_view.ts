// SPDX-License-Identifier: GPL-2.0-only
/**
 * What the VMM-side tools need to know of a host: per IOMMU group, its reserved regions and
 * the IOVA ranges userspace can map (the IOMMU core's one usable-IOVA computation), and whether
 * the group can be given to userspace at all. Built from an emulated machine or device model,
 * or from an HTTP agent's answer, so that every tool works the same on all three.
 */
import type { GroupJson } from '../report/report';
import { kernelProfile } from '../kernel/profile';
import type { Machine } from '../machine';
import { IovaRange, intersectRanges, range } from '../model/iova';
import { RESV_TYPE_STRING, ResvType, ResvTypeString } from '../model/resv_region';
import { Host } from '../host';
import type { Topology } from '../topology/topology';

export interface ReservedView extends IovaRange {
  readonly type: ResvTypeString;
  /** A software MSI window (IOMMU_RESV_SW_MSI), which prints as `msi`; false where unknown. */
  readonly swMsi: boolean;
  /** The device regions merged into this line (`<bdf>: <driver function>: <entry>`), when known. */
  readonly sources: readonly string[];
}

export interface GroupView {
  readonly id: number;
  readonly devices: readonly { readonly bdf: string; readonly driver: string | null; readonly name?: string | undefined }[];
  /** Behind an IOMMU (not the VFIO no-IOMMU group): the group has a usable IOVA space. */
  readonly translated: boolean;
  /** /dev/vfio/<id> exists now. */
  readonly vfio: boolean;
  readonly reserved: readonly ReservedView[];
  /** What userspace can map for this group: the IOMMU core's groupUsableIova. */
  readonly usable: readonly IovaRange[];
  /** The paging-domain aperture the usable ranges are cut from, when known. */
  readonly aperture?: IovaRange | undefined;
  /** Why userspace cannot claim the group's DMA on this kernel (undefined: it can). */
  readonly notAssignable?: string | undefined;
}

export interface HostView {
  readonly name: string;
  /** A built-in host name, a file, or an agent URL with its machine id. */
  readonly source: string;
  readonly arch: string;
  readonly kernel: string;
  readonly iommus: readonly { readonly name: string; readonly driver: string }[];
  readonly groups: readonly GroupView[];
  /** The kernel has no reserved_regions (before 4.11): the reserved lists are unknown, not empty. */
  readonly reservedUnknown: boolean;
  /** VFIO refuses a mapping outside the valid IOVA list (since 5.4); undefined where unknown. */
  readonly vfioChecksIova?: boolean | undefined;
  /** MSI doorbells the firmware describes (GICv3 ITS entries), when known. */
  readonly msiDoorbells?: number | undefined;
  /** The smallest IOMMU page size of the host's units, when known. */
  readonly minPageSize?: bigint | undefined;
  /** Equal for hosts whose groups are equal (same regions, same usable ranges): the planner folds them. */
  readonly signature?: string | undefined;
}

/** The view of a device model (a Machine's `host`, or a Host built without a machine). */
export function hostViewOfHost(h: Host, source: string, vfio: (groupId: number) => boolean = () => false): HostView {
  const groups = h.groups().map((g): GroupView => {
    const unit = h.iommu.groupUnit(g);
    const devices = [...g.devices.map((d) => ({ bdf: d.bdf, driver: d.driver, name: d.spec.name })), ...g.platformDevices.map((d) => ({ bdf: d.name, driver: d.driver, name: d.platform.description }))];
    return {
      id: g.id,
      devices,
      translated: unit !== undefined,
      vfio: vfio(g.id),
      reserved: h.groupResvRegions(g).map((r) => ({ start: r.start, last: r.last, type: RESV_TYPE_STRING[r.type] as ResvTypeString, swMsi: r.type === ResvType.SW_MSI, sources: r.sources ?? [] })),
      usable: h.groupUsableIova(g),
      aperture: unit?.aperture,
      notAssignable: h.iommu.groupRefusesBlocking(g)
        ? `a device needs its firmware 1:1 (direct) mapping and refuses the blocking domain: VFIO and iommufd cannot claim the group on kernel ${h.kernel.release} (iommu_require_direct, since 6.6)`
        : undefined,
    };
  });
  return {
    name: h.topology.name,
    source,
    arch: h.topology.arch,
    kernel: h.kernel.release,
    iommus: h.units.map((u) => ({ name: u.name, driver: u.driver })),
    groups,
    reservedUnknown: !h.kernel.has('reserved_regions'),
    vfioChecksIova: h.kernel.has('vfio_iova_range_cap'),
    msiDoorbells: h.topology.firmware.its.length || undefined,
    minPageSize: h.units.length ? h.units.map((u) => u.pgsizeBitmap & -u.pgsizeBitmap).reduce((a, b) => (a < b ? a : b)) : undefined,
  };
}

export function hostViewOfMachine(m: Machine, source = m.topology.name): HostView {
  return hostViewOfHost(m.host, source, (id) => m.fs.existsSync(`/dev/vfio/${id}`));
}

/**
 * The device model of a topology without a machine (no /sys render, no modules): what `plan`
 * needs of thousands of hosts, at a fraction of a machine's cost.
 */
export function hostViewOfTopology(t: Topology, source: string, kernel?: string): HostView {
  const profile = kernel !== undefined ? kernelProfile(kernel) : kernelProfile(t.kernel, t.kernelFeatures);
  return hostViewOfHost(new Host(t, profile), source);
}

const big = (s: string): bigint => BigInt(s);

/** The view of an agent's `GET /v1/machines/:id/groups` answer. */
export function hostViewOfAgent(source: string, info: { host: string; kernel: string; arch: string }, groups: readonly GroupJson[]): HostView {
  return {
    name: info.host,
    source,
    arch: info.arch,
    kernel: info.kernel,
    iommus: [...new Set(groups.flatMap((g) => g.devices.map((d) => d.iommu).filter((x): x is string => !!x)))].map((name) => ({ name, driver: 'unknown' })),
    groups: groups.map((g) => ({
      id: g.id,
      devices: g.devices.map((d) => ({ bdf: d.bdf, driver: d.driver })),
      translated: g.name !== 'vfio-noiommu' && g.devices.some((d) => d.iommu !== null),
      vfio: g.vfio !== null,
      reserved: (g.reserved_regions ?? []).map((r) => ({ start: big(r.start), last: big(r.last), type: r.type, swMsi: false, sources: [...r.source] })),
      usable: g.usable_ranges.map((r) => range(big(r.start), big(r.last))),
    })),
    // A kernel before reserved_regions (4.11) tells nothing of them.
    reservedUnknown: groups.some((g) => g.reserved_regions === null),
  };
}

/**
 * What userspace can map whichever of the host's groups it is given: the groups' usable ranges
 * intersected (a container holding them all computes the same list), translated groups only.
 */
export function hostUsable(h: HostView): IovaRange[] {
  let acc: IovaRange[] | undefined;
  for (const g of h.groups) {
    if (!g.translated) continue;
    acc = acc ? intersectRanges(acc, g.usable) : [...g.usable];
  }
  return acc ?? [];
}
