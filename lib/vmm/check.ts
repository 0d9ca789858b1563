// SPDX-License-Identifier: GPL-2.0-only
/**
 * The hot-plug admission check: would devices of these groups, assigned to a guest with this
 * memory map, find every DMA-mapped guest range usable? It is the check a VMM makes before it
 * accepts a hot-plugged device (QEMU's VFIO listener fails the hot-plug when MAP_DMA of guest
 * RAM is refused), made before any VFIO fd exists, from the host's reserved regions and the
 * IOMMU core's usable ranges.
 * @see qemu hw/vfio/listener.c:vfio_listener_region_add (a RAM mapping failure fails the device; a BAR's is a warning)
 * @see drivers/vfio/vfio_iommu_type1.c:vfio_iommu_iova_dma_valid (MAP_DMA outside the valid IOVA list is EINVAL)
 */
import { IovaRange, intersectRanges, overlaps, range, subtractRange } from '../model/iova';
import { GuestMap, GuestRegion, isDmaMapped } from './guest_map';
import type { GroupView, HostView, ReservedView } from './host_view';
import { shortHex } from './size';

export type Severity = 'error' | 'warning' | 'note';

export interface Conflict {
  readonly group: number;
  /** The host region the guest range meets; `aperture` when it lies past the IOMMU's reach. */
  readonly region: (IovaRange & { readonly type: ReservedView['type'] | 'aperture'; readonly swMsi: boolean; readonly sources: readonly string[] }) | undefined;
  readonly guest: GuestRegion;
  readonly overlap: IovaRange;
  readonly severity: Severity;
  /** What would happen, for a person. */
  readonly consequence: string;
}

export interface CheckResult {
  readonly host: HostView;
  readonly guest: GuestMap;
  readonly groups: readonly number[];
  /** Every overlap of a DMA-mapped guest range with what the group cannot map, and relaxable overlaps as notes. */
  readonly conflicts: readonly Conflict[];
  /** Groups that cannot be given to userspace at all on this kernel, with why. */
  readonly unassignable: readonly { readonly group: number; readonly why: string }[];
  /** Caveats about the verdict (old kernels). */
  readonly caveats: readonly string[];
  /** No error-severity conflict and no unassignable group. */
  readonly ok: boolean;
}

export class CheckError extends Error {
  override readonly name = 'CheckError';
}

/** What DMA to (or a VFIO mapping of) guest memory over a region of this type leads to. */
export function consequence(type: ReservedView['type'] | 'aperture', swMsi: boolean, guest: GuestRegion, ap?: IovaRange): string {
  const what = guest.kind === 'ram' ? 'guest RAM' : `assigned devices' BARs placed in ${guest.name}`;
  const refused = guest.kind === 'ram' ? 'VFIO_IOMMU_MAP_DMA of it fails with EINVAL (outside the valid IOVA list), so the VMM must refuse the device' : 'the peer-to-peer mapping fails (QEMU only warns) and P2P DMA to those BARs does not work';
  switch (type) {
    case 'msi':
      return swMsi
        ? `the kernel maps MSI doorbells into this software MSI window of the device's IOVA space: ${what} there is unreachable, DMA to it raises interrupts instead of writing memory; ${refused}`
        : `an MSI doorbell the IOMMU does not translate: a device write to these guest addresses is taken as an interrupt (MSI), not a memory write; ${refused}`;
    case 'reserved':
      return `DMA to these addresses does not reach memory (a P2P window, or the AMD HyperTransport range: it aborts or is claimed by the platform); ${refused}`;
    case 'direct':
      return `firmware memory identity-mapped for a device (RMRR / IVMD / IORT RMR): the IOMMU keeps it 1:1 and ${what} cannot be mapped over it; ${refused}`;
    case 'direct-relaxable':
      return `a relaxable firmware identity mapping: VFIO lets ${what} be mapped over it, and the device loses the 1:1 mapping of that firmware memory while assigned (its firmware-owned buffers, e.g. USB legacy emulation or graphics stolen memory, stop working)`;
    case 'aperture':
      return `beyond the IOMMU's input address range (the domain aperture is ${ap ? `${shortHex(ap.start)}..${shortHex(ap.last)}` : 'smaller'}): ${refused}`;
  }
}

function groupConflicts(g: GroupView, guest: GuestMap): Conflict[] {
  const out: Conflict[] = [];
  for (const gr of guest.regions) {
    if (!isDmaMapped(gr.kind)) continue;
    const severity: Severity = gr.kind === 'ram' ? 'error' : 'warning';
    // What the group cannot map of this guest range, attributed to the regions that carve it out.
    let unusable = subtractRangeList([range(gr.start, gr.last)], g.usable);
    for (const r of g.reserved) {
      if (!overlaps(r, gr)) continue;
      const ov = range(r.start > gr.start ? r.start : gr.start, r.last < gr.last ? r.last : gr.last);
      if (r.type === 'direct-relaxable') {
        out.push({ group: g.id, region: r, guest: gr, overlap: ov, severity: 'note', consequence: consequence('direct-relaxable', false, gr) });
        continue;
      }
      out.push({ group: g.id, region: r, guest: gr, overlap: ov, severity, consequence: consequence(r.type, r.swMsi, gr) });
      unusable = subtractRange(unusable, ov);
    }
    // The rest lies outside the aperture.
    for (const piece of unusable) out.push({ group: g.id, region: g.aperture ? { ...g.aperture, type: 'aperture', swMsi: false, sources: [] } : undefined, guest: gr, overlap: piece, severity, consequence: consequence('aperture', false, gr, g.aperture) });
  }
  return out;
}

/** The parts of `list` outside every range of `keep` (both sorted and disjoint). */
function subtractRangeList(list: readonly IovaRange[], keep: readonly IovaRange[]): IovaRange[] {
  // list ∖ keep = list ∩ complement(keep)
  const comp: IovaRange[] = [];
  let at = 0n;
  for (const k of keep) {
    if (k.start > at) comp.push(range(at, k.start - 1n));
    at = k.last + 1n;
  }
  if (at <= 0xffffffffffffffffn) comp.push(range(at, 0xffffffffffffffffn));
  return intersectRanges(list, comp);
}

/**
 * Check `guest` against `groups` of `host` (default: every group behind an IOMMU). Throws
 * CheckError for a group the host does not have.
 */
export function checkGuest(host: HostView, guest: GuestMap, groups?: readonly number[]): CheckResult {
  const chosen = groups?.length ? groups.map((id) => host.groups.find((g) => g.id === id) ?? missing(host, id)) : host.groups.filter((g) => g.translated);
  const conflicts: Conflict[] = [];
  const unassignable: { group: number; why: string }[] = [];
  const caveats: string[] = [];
  for (const g of chosen) {
    if (!g.translated) {
      caveats.push(`group ${g.id} has no IOMMU (no-IOMMU mode): its devices DMA to host physical addresses; nothing protects the guest layout`);
      continue;
    }
    if (g.notAssignable) unassignable.push({ group: g.id, why: g.notAssignable });
    conflicts.push(...groupConflicts(g, guest));
  }
  if (host.reservedUnknown) caveats.push(`kernel ${host.kernel} has no reserved_regions (since 4.11): the reserved regions are unknown, not absent; this check only sees the IOMMU aperture`);
  if (host.vfioChecksIova === false && conflicts.some((c) => c.severity === 'error'))
    caveats.push(`kernel ${host.kernel} does not check MAP_DMA against the reserved regions (the valid IOVA list is from 5.4): the mapping would be accepted and the device's DMA there would misbehave silently`);
  conflicts.sort((a, b) => (a.overlap.start < b.overlap.start ? -1 : a.overlap.start > b.overlap.start ? 1 : a.group - b.group));
  return {
    host,
    guest,
    groups: chosen.map((g) => g.id),
    conflicts,
    unassignable,
    caveats,
    ok: !conflicts.some((c) => c.severity === 'error') && unassignable.length === 0,
  };
}

function missing(h: HostView, id: number): never {
  throw new CheckError(`host ${h.name} has no IOMMU group ${id} (groups: ${h.groups.map((g) => g.id).join(', ') || 'none'})`);
}
