// SPDX-License-Identifier: GPL-2.0-only
/**
 * MSI doorbell placement, the LPC 2016 proposal (Will Deacon's summary of the guest-MSI
 * discussion, shared/reference/seed-lpc-2016-guest-msi.txt): put the software MSI window where
 * x86 has its doorbell, 0xfee00000; if a platform reserved region is there, allocate it
 * deterministically elsewhere below 4 GiB. And its open question, what size to reserve:
 * one IOMMU page per doorbell, rounded up to a power of two so the window is naturally aligned.
 *
 * Today's kernel instead reserves a fixed, arbitrary 1 MiB at 0x8000000 on the ARM SMMUs.
 * @see drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c:arm_smmu_get_resv_regions (MSI_IOVA_BASE, MSI_IOVA_LENGTH)
 * @see drivers/iommu/dma-iommu.c:iommu_dma_get_msi_page (one IOMMU granule mapped per doorbell address)
 * @note emulation: a proposal, not kernel behaviour; selectable as an ABI variant (plugins/msi_placement.ts).
 */
import { MSI_IOVA_BASE, MSI_IOVA_LENGTH } from '../iommu/arm_smmu';
import { IovaRange, intersectRanges, overlaps, range, subtractRange } from '../model/iova';
import type { HostView } from './host_view';
import { GiB, alignDown, formatSize, shortHex } from './size';

export const X86_MSI_BASE = 0xfee00000n;
export const MSI_PLACE_LIMIT = 4n * GiB;

export interface PlatformRegion extends IovaRange {
  readonly type: string;
  /** Who reports it (`group 3`, a driver function). */
  readonly where: string;
}

export interface MsiPlaceInput {
  /** Regions the window must not overlap (every reserved region but the software MSI window itself). */
  readonly platform: readonly PlatformRegion[];
  /** The IOMMU's input range; the window must lie inside it. */
  readonly aperture?: IovaRange | undefined;
  readonly doorbells: number;
  /** The IOMMU page (granule) each doorbell is mapped with. */
  readonly pageSize: bigint;
}

export interface MsiPlacement {
  /** Bytes the doorbells need: doorbells × page size. */
  readonly needed: bigint;
  /** The window size: the smallest power of two >= needed (at least one page). */
  readonly size: bigint;
  /** The placement, or undefined when no window below 4 GiB is free. */
  readonly window: IovaRange | undefined;
  /** `preferred` (0xfee00000), `fallback` (deterministic, below 4 GiB) or `none`. */
  readonly how: 'preferred' | 'fallback' | 'none';
  /** What blocks 0xfee00000, when something does. */
  readonly blockedBy: readonly PlatformRegion[];
  readonly reasoning: readonly string[];
}

const pow2AtLeast = (x: bigint): bigint => {
  let p = 1n;
  while (p < x) p <<= 1n;
  return p;
};

/** The proposal's policy, deterministic: the same inputs give the same window on every host. */
export function placeMsiWindow(inp: MsiPlaceInput): MsiPlacement {
  if (!Number.isInteger(inp.doorbells) || inp.doorbells < 1) throw new RangeError(`doorbells must be a positive integer, got ${inp.doorbells}`);
  if (inp.pageSize <= 0n || (inp.pageSize & (inp.pageSize - 1n)) !== 0n) throw new RangeError(`page size must be a power of two, got ${inp.pageSize}`);
  const needed = BigInt(inp.doorbells) * inp.pageSize;
  const size = pow2AtLeast(needed);
  const reasoning = [
    `${inp.doorbells} doorbell${inp.doorbells === 1 ? '' : 's'} × ${formatSize(inp.pageSize)} IOMMU pages = ${formatSize(needed)}; reserve ${formatSize(size)} (a power of two, so the window is naturally aligned)`,
    `today's ARM SMMU drivers reserve MSI_IOVA_LENGTH ${formatSize(MSI_IOVA_LENGTH)} at MSI_IOVA_BASE ${shortHex(MSI_IOVA_BASE)}: room for ${MSI_IOVA_LENGTH / inp.pageSize} doorbell${MSI_IOVA_LENGTH / inp.pageSize === 1n ? '' : 's'} of ${formatSize(inp.pageSize)}${size > MSI_IOVA_LENGTH ? ` — too small for ${inp.doorbells}` : ''}`,
  ];
  const ap = inp.aperture ?? range(0n, MSI_PLACE_LIMIT - 1n);
  const fits = (w: IovaRange) => w.start >= ap.start && w.last <= ap.last;
  const preferred = range(alignDown(X86_MSI_BASE, size), alignDown(X86_MSI_BASE, size) + size - 1n);
  const blockedBy = inp.platform.filter((r) => overlaps(r, preferred));
  if (!blockedBy.length && fits(preferred)) {
    reasoning.push(`${shortHex(preferred.start)}..${shortHex(preferred.last)} (where x86 has its doorbell) is free of every platform region: take it`);
    return { needed, size, window: preferred, how: 'preferred', blockedBy, reasoning };
  }
  reasoning.push(
    blockedBy.length
      ? `${shortHex(preferred.start)}..${shortHex(preferred.last)} collides with ${blockedBy.map((r) => `${r.where} ${shortHex(r.start)}..${shortHex(r.last)} (${r.type})`).join(', ')}`
      : `${shortHex(preferred.start)}..${shortHex(preferred.last)} is outside the IOMMU aperture ${shortHex(ap.start)}..${shortHex(ap.last)}`,
  );
  // Deterministic fallback: the highest size-aligned free window below 4 GiB (top-down, like
  // the x86 doorbell near the top of the 32-bit space, leaving low guest RAM alone).
  let free = intersectRanges([range(0n, MSI_PLACE_LIMIT - 1n)], [ap]);
  for (const r of inp.platform) free = subtractRange(free, r);
  for (let i = free.length - 1; i >= 0; i--) {
    const f = free[i]!;
    const base = alignDown(f.last + 1n - size, size);
    if (f.last + 1n >= size && base >= f.start) {
      const window = range(base, base + size - 1n);
      reasoning.push(`fallback: the highest ${formatSize(size)}-aligned window below 4 GiB free of every platform region: ${shortHex(window.start)}..${shortHex(window.last)}`);
      return { needed, size, window, how: 'fallback', blockedBy, reasoning };
    }
  }
  reasoning.push(`no ${formatSize(size)}-aligned window below 4 GiB is free of the platform's regions`);
  return { needed, size, window: undefined, how: 'none', blockedBy, reasoning };
}

export interface HostMsiPlacement extends MsiPlacement {
  readonly host: string;
  /** The host's MSI windows today: software windows the kernel chose, hardware doorbells. */
  readonly current: readonly (IovaRange & { readonly kind: 'software' | 'hardware'; readonly groups: readonly number[] })[];
  /** x86-style platforms fix the doorbell in hardware at 0xfee00000: nothing to place. */
  readonly hardwareFixed: boolean;
  readonly doorbells: number;
  readonly pageSize: bigint;
}

/** The policy applied to a host: its platform regions are every group's regions but software MSI windows. */
export function placeMsiForHost(h: HostView, opts: { doorbells?: number | undefined; pageSize?: bigint | undefined } = {}): HostMsiPlacement {
  const current = new Map<string, IovaRange & { kind: 'software' | 'hardware'; groups: number[] }>();
  const platform = new Map<string, PlatformRegion & { groups: number[] }>();
  let ap: IovaRange | undefined;
  for (const g of h.groups) {
    if (!g.translated) continue;
    if (g.aperture) ap = ap ? (intersectRanges([ap], [g.aperture])[0] ?? range(0n, 0n)) : g.aperture;
    for (const r of g.reserved) {
      const key = `${r.start}-${r.last}-${r.type}`;
      if (r.type === 'msi') {
        const kind = r.swMsi ? 'software' : 'hardware';
        const c = current.get(key) ?? { start: r.start, last: r.last, kind, groups: [] };
        c.groups.push(g.id);
        current.set(key, c);
        if (r.swMsi) continue;
      }
      const p = platform.get(key) ?? { start: r.start, last: r.last, type: r.type, where: '', groups: [] };
      p.groups.push(g.id);
      platform.set(key, p);
    }
  }
  const plat = [...platform.values()].map((p) => ({ ...p, where: `group${p.groups.length > 1 ? 's' : ''} ${p.groups.join(',')}` }));
  const doorbells = opts.doorbells ?? h.msiDoorbells ?? 1;
  const pageSize = opts.pageSize ?? h.minPageSize ?? 4096n;
  const hwFixed = [...current.values()].some((c) => c.kind === 'hardware' && c.start <= X86_MSI_BASE && X86_MSI_BASE <= c.last);
  const placed = placeMsiWindow({ platform: plat, aperture: ap, doorbells, pageSize });
  const reasoning = hwFixed
    ? [`the platform reports the MSI range ${[...current.values()].filter((c) => c.kind === 'hardware' && c.start <= X86_MSI_BASE).map((c) => `${shortHex(c.start)}..${shortHex(c.last)}`).join(', ')} as a hardware msi region: the doorbell is already fixed at 0xfee00000, nothing to place`, ...placed.reasoning.slice(0, 1)]
    : placed.reasoning;
  return { ...placed, reasoning, host: h.name, current: [...current.values()].sort((a, b) => (a.start < b.start ? -1 : 1)), hardwareFixed: hwFixed, doorbells, pageSize };
}
