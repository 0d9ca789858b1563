// SPDX-License-Identifier: GPL-2.0-only
/**
 * The `--json` shapes of usable, check-guest, plan and msi-place (JSON Schemas in
 * lib/vmm/schemas/): snake_case, u64 values as `0x` + 16 hex digits, ranges inclusive
 * `{start, last}` — the project's one JSON vocabulary.
 */
import type { IovaRange } from '../model/iova';
import { range } from '../model/iova';
import type { CheckResult } from './check';
import type { GuestMap } from './guest_map';
import { GroupView, HostView, hostUsable } from './host_view';
import type { HostMsiPlacement } from './msi_place';
import type { Blocker, LayoutPlan, PlanResult } from './plan';
import { hex } from './size';

export interface RangeJson {
  readonly start: string;
  readonly last: string;
}
export const u64Json = hex;
export const rangeJson = (r: IovaRange): RangeJson => ({ start: hex(r.start), last: hex(r.last) });

export function groupJson(g: GroupView) {
  return {
    id: g.id,
    devices: g.devices.map((d) => ({ bdf: d.bdf, driver: d.driver, ...(d.name ? { name: d.name } : {}) })),
    translated: g.translated,
    vfio: g.vfio,
    assignable: g.translated && !g.notAssignable,
    not_assignable_reason: g.notAssignable ?? (g.translated ? null : 'no IOMMU translates this group (VFIO no-IOMMU mode)'),
    aperture: g.aperture ? rangeJson(g.aperture) : null,
    reserved_regions: g.reserved.map((r) => ({ ...rangeJson(r), type: r.type, sw_msi: r.swMsi })),
    usable_ranges: g.usable.map(rangeJson),
  };
}

/** `usable --json`; also the host summary `plan --hosts` reads back. */
export function usableJson(h: HostView, groups?: readonly number[]) {
  const chosen = groups?.length ? h.groups.filter((g) => groups.includes(g.id)) : h.groups;
  return {
    host: h.name,
    source: h.source,
    kernel: h.kernel,
    arch: h.arch,
    iommus: h.iommus.map((u) => ({ name: u.name, driver: u.driver })),
    reserved_regions_known: !h.reservedUnknown,
    vfio_checks_iova: h.vfioChecksIova ?? null,
    groups: chosen.map(groupJson),
    usable_ranges: hostUsable({ ...h, groups: chosen }).map(rangeJson),
  };
}
export type UsableJson = ReturnType<typeof usableJson>;

/** A host summary (`usable --json` output) back into a HostView. */
export function hostViewOfUsableJson(j: UsableJson, source: string): HostView {
  const r = (x: RangeJson) => range(BigInt(x.start), BigInt(x.last));
  return {
    name: j.host,
    source,
    arch: j.arch,
    kernel: j.kernel,
    iommus: j.iommus,
    reservedUnknown: !j.reserved_regions_known,
    vfioChecksIova: j.vfio_checks_iova ?? undefined,
    groups: j.groups.map((g) => ({
      id: g.id,
      devices: g.devices.map((d) => ({ bdf: d.bdf, driver: d.driver, name: 'name' in d ? d.name : undefined })),
      translated: g.translated,
      vfio: g.vfio,
      reserved: g.reserved_regions.map((x) => ({ ...r(x), type: x.type, swMsi: x.sw_msi, sources: [] })),
      usable: g.usable_ranges.map(r),
      aperture: g.aperture ? r(g.aperture) : undefined,
      notAssignable: g.translated && !g.assignable ? (g.not_assignable_reason ?? 'not assignable') : undefined,
    })),
  };
}

export function guestMapJson(m: GuestMap) {
  return {
    name: m.name,
    source: m.source,
    vmm: m.vmm ?? null,
    arch: m.arch ?? null,
    regions: m.regions.map((r) => ({ name: r.name, kind: r.kind, ...rangeJson(r), ...(r.note ? { note: r.note } : {}) })),
    derivation: m.derivation ?? [],
  };
}

export function checkJson(c: CheckResult) {
  return {
    host: c.host.name,
    kernel: c.host.kernel,
    guest: guestMapJson(c.guest),
    groups: c.groups,
    ok: c.ok,
    conflicts: c.conflicts.map((x) => ({
      group: x.group,
      severity: x.severity,
      guest_region: x.guest.name,
      guest_kind: x.guest.kind,
      overlap: rangeJson(x.overlap),
      type: x.region?.type ?? 'aperture',
      region: x.region && x.region.type !== 'aperture' ? { ...rangeJson(x.region), type: x.region.type, sw_msi: x.region.swMsi } : null,
      sources: x.region?.sources ?? [],
      consequence: x.consequence,
    })),
    unassignable: c.unassignable.map((u) => ({ group: u.group, reason: u.why })),
    caveats: c.caveats,
  };
}

const blockerJson = (b: Blocker) => ({ ...rangeJson(b), type: b.type, hosts: b.hosts.map((h) => ({ name: h.name, source: h.source, groups: h.groups })) });

function layoutJson(l: LayoutPlan) {
  return {
    ram: hex(l.ram),
    preset: l.preset,
    ok: l.layout !== undefined,
    conventional: guestMapJson(l.conventional),
    layout: l.layout ? guestMapJson(l.layout) : null,
    moves: l.moves.map((m) => ({ region: m.region, from: rangeJson(m.from), to: rangeJson(m.to), why: m.why })),
    how: l.how,
    explanation: l.explanation,
    conventional_conflicts: l.conventionalConflicts.map((c) => ({ guest_region: c.guest, overlap: rangeJson(c.overlap), blocker: blockerJson(c.blocker) })),
    warnings: l.warnings,
  };
}

export function planJson(p: PlanResult) {
  return {
    hosts: p.hosts.map((h) => ({ name: h.name, source: h.source, arch: h.arch, kernel: h.kernel, groups: h.groups, usable_ranges: h.usable.map(rangeJson) })),
    blockers: p.blockers.map(blockerJson),
    common_usable_ranges: p.common.map(rangeJson),
    layouts: p.layouts.map(layoutJson),
  };
}

export function msiPlaceJson(p: HostMsiPlacement) {
  return {
    host: p.host,
    doorbells: p.doorbells,
    page_size: hex(p.pageSize),
    needed: hex(p.needed),
    size: hex(p.size),
    how: p.how,
    window: p.window ? rangeJson(p.window) : null,
    hardware_fixed: p.hardwareFixed,
    blocked_by: p.blockedBy.map((b) => ({ ...rangeJson(b), type: b.type, where: b.where })),
    current: p.current.map((c) => ({ ...rangeJson(c), kind: c.kind, groups: c.groups })),
    reasoning: p.reasoning,
  };
}
