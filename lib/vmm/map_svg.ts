// SPDX-License-Identifier: GPL-2.0-only
/**
 * Pictures of the IOVA space: one row per IOMMU group (or per host), reserved regions by type,
 * usable ranges, a guest's memory map overlaid, conflicts outlined in red. The axis is segmented:
 * every boundary in the picture gets a labelled tick, and a segment's width grows with the log
 * of its length, so a 4 KiB doorbell and a 1 TiB hole are both visible and both labelled.
 * Self-contained SVG (no scripts, no external resources); `mapHtml` wraps it with a legend.
 */
import { IovaRange, U64_MAX } from '../model/iova';
import type { CheckResult } from './check';
import type { GuestMap } from './guest_map';
import type { HostView } from './host_view';
import { hostUsable } from './host_view';
import type { PlanResult } from './plan';
import { formatSize, shortHex } from './size';

export type BandKind = 'usable' | 'msi' | 'sw-msi' | 'reserved' | 'direct' | 'direct-relaxable' | 'unusable' | 'ram' | 'pci-mmio' | 'device' | 'guest-reserved';

export interface MapBand extends IovaRange {
  readonly kind: BandKind;
  readonly title: string;
}

export interface MapRow {
  readonly label: string;
  readonly note?: string | undefined;
  readonly bands: readonly MapBand[];
  /** Ranges to outline in red on this row. */
  readonly conflicts?: readonly (IovaRange & { readonly title: string })[] | undefined;
  /** `group`, `guest`, `host`, `common`: used by tests and styling. */
  readonly role: string;
}

export interface MapPicture {
  readonly title: string;
  readonly subtitle?: string | undefined;
  readonly rows: readonly MapRow[];
}

export const COLORS: Readonly<Record<BandKind, string>> = {
  usable: '#bfe3bf',
  msi: '#f08c00',
  'sw-msi': '#f7c948',
  reserved: '#6b6b6b',
  direct: '#9b3fc4',
  'direct-relaxable': '#dcb6ee',
  unusable: '#ececec',
  ram: '#2f7fd8',
  'pci-mmio': '#9cc3ef',
  device: '#c9c9c9',
  'guest-reserved': '#e6e0d2',
};

export const LEGEND: readonly [BandKind | 'conflict', string][] = [
  ['usable', 'usable IOVA'],
  ['msi', 'msi (hardware doorbell)'],
  ['sw-msi', 'msi (software window)'],
  ['reserved', 'reserved'],
  ['direct', 'direct (1:1 firmware)'],
  ['direct-relaxable', 'direct-relaxable'],
  ['unusable', 'outside the aperture'],
  ['ram', 'guest RAM'],
  ['pci-mmio', 'guest PCI window'],
  ['device', 'guest device MMIO'],
  ['conflict', 'conflict'],
];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const END = U64_MAX + 1n;

/** log-scaled segment weights: 4 KiB → 1, 1 TiB → 29; never below MIN_PX wide. */
function axis(breaks: bigint[], plotWidth: number, minPx: number): { x: (a: bigint) => number; ticks: bigint[] } {
  const pts = [...new Set([0n, END, ...breaks].map(String))].map(BigInt).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const weights = pts.slice(1).map((p, i) => {
    const len = p - pts[i]!;
    const pages = Number(len > 4096n ? len / 4096n : 1n);
    return 1 + Math.log2(pages);
  });
  const total = weights.reduce((a, b) => a + b, 0);
  // Give every segment at least minPx, the rest in proportion to weight.
  const spare = plotWidth - minPx * weights.length;
  const widths = weights.map((w) => minPx + (spare > 0 ? (spare * w) / total : 0));
  const xs = [0];
  for (const w of widths) xs.push(xs[xs.length - 1]! + w);
  const x = (a: bigint): number => {
    let lo = 0;
    let hi = pts.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (pts[mid]! <= a) lo = mid;
      else hi = mid;
    }
    const a0 = pts[lo]!;
    const a1 = pts[hi]!;
    const frac = a1 === a0 ? 0 : Number(((a - a0) * 1000000n) / (a1 - a0)) / 1000000;
    return xs[lo]! + frac * (xs[hi]! - xs[lo]!);
  };
  return { x, ticks: pts };
}

export interface RenderOptions {
  readonly width?: number;
  /** Narrowest segment in px (a 4 KiB region is never thinner). */
  readonly minSegment?: number;
}

/** The SVG document. */
export function renderMapSvg(p: MapPicture, opts: RenderOptions = {}): string {
  const width = opts.width ?? 1400;
  const minPx = opts.minSegment ?? 14;
  const left = 230;
  const right = 20;
  const top = p.subtitle ? 58 : 40;
  const rowH = 24;
  const gap = 6;
  const breaks: bigint[] = [];
  for (const r of p.rows) for (const b of [...r.bands, ...(r.conflicts ?? [])]) breaks.push(b.start, b.last + 1n);
  const ax = axis(breaks, width - left - right, minPx);
  const X = (a: bigint) => left + ax.x(a);
  const out: string[] = [];
  const rowsBottom = top + p.rows.length * (rowH + gap);
  const labelsH = 120;
  const legendY = rowsBottom + labelsH + 10;
  const height = legendY + 40;
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="11">`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="bold">${esc(p.title)}</text>`,
  );
  if (p.subtitle) out.push(`<text x="12" y="40" font-size="11" fill="#444">${esc(p.subtitle)}</text>`);
  // The axis first (under the rows, so grid lines never cover a band): a tick and an address at every boundary, the segment's size between ticks.
  const axisY = rowsBottom + 2;
  const ax2: string[] = [];
  ax2.push(`<g data-axis="1"><line x1="${left}" y1="${axisY}" x2="${width - right}" y2="${axisY}" stroke="#333"/>`);
  ax.ticks.forEach((t, i) => {
    const xx = t === END ? left + (width - left - right) : X(t);
    ax2.push(`<line x1="${xx.toFixed(2)}" y1="${top - 4}" x2="${xx.toFixed(2)}" y2="${axisY + 5}" stroke="#00000022"/>`);
    const label = t === END ? '2^64' : shortHex(t);
    ax2.push(`<text data-tick="${label}" transform="translate(${(xx + 3).toFixed(2)},${axisY + 8}) rotate(60)" font-size="9.5" fill="#222">${label}</text>`);
    const next = ax.ticks[i + 1];
    if (next !== undefined) {
      const w = (next === END ? left + (width - left - right) : X(next)) - xx;
      if (w > 46) ax2.push(`<text x="${(xx + w / 2).toFixed(2)}" y="${top - 6}" text-anchor="middle" font-size="9" fill="#666">${esc(formatSize(next - t))}</text>`);
    }
  });
  ax2.push('</g>');
  out.push(...ax2);
  p.rows.forEach((r, i) => {
    const y = top + i * (rowH + gap);
    out.push(`<g data-row="${esc(r.role)}" data-label="${esc(r.label)}">`);
    out.push(`<text x="${left - 8}" y="${y + 16}" text-anchor="end" font-weight="${r.role === 'group' ? 'normal' : 'bold'}">${esc(r.label)}</text>`);
    if (r.note) out.push(`<title>${esc(r.note)}</title>`);
    out.push(`<rect x="${left}" y="${y}" width="${width - left - right}" height="${rowH}" fill="#fafafa" stroke="#dddddd"/>`);
    for (const b of r.bands) {
      const x0 = X(b.start);
      const x1 = X(b.last + 1n);
      out.push(
        `<rect data-kind="${b.kind}" data-start="${shortHex(b.start)}" data-last="${shortHex(b.last)}" x="${x0.toFixed(2)}" y="${y + 2}" width="${Math.max(x1 - x0, 1).toFixed(2)}" height="${rowH - 4}" fill="${COLORS[b.kind]}" stroke="#ffffff" stroke-width="0.5"><title>${esc(b.title)}</title></rect>`,
      );
    }
    for (const c of r.conflicts ?? []) {
      const x0 = X(c.start);
      const x1 = X(c.last + 1n);
      out.push(
        `<rect data-kind="conflict" data-start="${shortHex(c.start)}" data-last="${shortHex(c.last)}" x="${(x0 - 1).toFixed(2)}" y="${y}" width="${Math.max(x1 - x0 + 2, 3).toFixed(2)}" height="${rowH}" fill="none" stroke="#e00000" stroke-width="3"><title>${esc(c.title)}</title></rect>`,
      );
    }
    out.push('</g>');
  });
  // Legend.
  let lx = 12;
  for (const [k, text] of LEGEND) {
    const fill = k === 'conflict' ? 'none' : COLORS[k];
    const stroke = k === 'conflict' ? '#e00000' : '#999';
    out.push(`<rect x="${lx}" y="${legendY}" width="14" height="12" fill="${fill}" stroke="${stroke}" stroke-width="${k === 'conflict' ? 2.5 : 0.5}"/><text x="${lx + 18}" y="${legendY + 10}">${esc(text)}</text>`);
    lx += 26 + text.length * 6.2;
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

const regionKind = (type: string, swMsi: boolean): BandKind => (type === 'msi' ? (swMsi ? 'sw-msi' : 'msi') : (type as BandKind));

/** Rows for a host: the guest (when given), then one per group; conflicts from a check. */
export function hostPicture(h: HostView, opts: { groups?: readonly number[]; guest?: GuestMap; check?: CheckResult } = {}): MapPicture {
  const rows: MapRow[] = [];
  if (opts.guest) rows.push(guestRow(opts.guest, 'guest', opts.check?.conflicts.filter((c) => c.severity !== 'note').map((c) => ({ ...c.overlap, title: `conflict with group ${c.group}: ${c.consequence}` }))));
  const chosen = opts.groups?.length ? h.groups.filter((g) => opts.groups!.includes(g.id)) : h.groups.filter((g) => g.translated);
  for (const g of chosen) {
    const bands: MapBand[] = [];
    const usableAll = g.usable;
    // Outside the aperture (not explained by a region): drawn as unusable.
    let at = 0n;
    for (const u of usableAll) {
      if (u.start > at) bands.push({ start: at, last: u.start - 1n, kind: 'unusable', title: `not usable: ${shortHex(at)}..${shortHex(u.start - 1n)}` });
      bands.push({ ...u, kind: 'usable', title: `usable ${shortHex(u.start)}..${shortHex(u.last)} (${formatSize(u.last - u.start + 1n)})` });
      at = u.last + 1n;
    }
    if (at <= U64_MAX && usableAll.length) bands.push({ start: at, last: U64_MAX, kind: 'unusable', title: `outside the aperture from ${shortHex(at)}` });
    for (const r of g.reserved) bands.push({ start: r.start, last: r.last, kind: regionKind(r.type, r.swMsi), title: `${r.type}${r.swMsi ? ' (software MSI window)' : ''} ${shortHex(r.start)}..${shortHex(r.last)} (${formatSize(r.last - r.start + 1n)})${r.sources.length ? `\n${r.sources.join('\n')}` : ''}` });
    const conflicts = opts.check?.conflicts.filter((c) => c.group === g.id && c.severity !== 'note').map((c) => ({ ...c.overlap, title: `${c.guest.name} over ${c.region?.type ?? 'aperture'}: ${c.consequence}` }));
    const devs = g.devices.map((d) => d.name ?? d.bdf).join(', ');
    rows.push({ label: `group ${g.id}${g.notAssignable ? ' (not assignable)' : ''}`, note: devs, bands, conflicts, role: 'group' });
  }
  return {
    title: `IOVA space of ${h.name} (kernel ${h.kernel})${opts.guest ? ` with guest ${opts.guest.name}` : ''}`,
    subtitle: `${chosen.length} group(s); segmented axis: each segment's width grows with log2 of its length, every boundary labelled${opts.check ? `; ${opts.check.conflicts.filter((c) => c.severity === 'error').length} conflict(s)` : ''}`,
    rows,
  };
}

export function guestRow(g: GuestMap, label: string, conflicts?: readonly (IovaRange & { title: string })[]): MapRow {
  return {
    label: `${label} ${g.name}`,
    role: 'guest',
    bands: g.regions.map((r) => ({ start: r.start, last: r.last, kind: r.kind === 'reserved' ? 'guest-reserved' : r.kind, title: `${r.name} (${r.kind}) ${shortHex(r.start)}..${shortHex(r.last)} (${formatSize(r.last - r.start + 1n)})${r.note ? `: ${r.note}` : ''}` })),
    conflicts,
  };
}

/** `plan`: the hosts side by side on one axis, the common usable window, the layouts. */
export function planPicture(p: PlanResult, hosts: readonly HostView[]): MapPicture {
  const rows: MapRow[] = [];
  const commonBands: MapBand[] = p.common.map((u) => ({ ...u, kind: 'usable', title: `usable on every host: ${shortHex(u.start)}..${shortHex(u.last)}` }));
  rows.push({ label: 'common usable', role: 'common', bands: commonBands });
  for (const l of p.layouts) {
    const conv = l.conventionalConflicts.map((c) => ({ ...c.overlap, title: `${c.guest} blocked by ${c.blocker.hosts.map((h) => h.name).slice(0, 3).join(', ')}` }));
    rows.push(guestRow(l.conventional, 'conventional', conv));
    if (l.layout && l.layout !== l.conventional) rows.push(guestRow(l.layout, 'planned'));
  }
  const seen = new Set<string>();
  for (const h of hosts) {
    const key = `${h.name}\u0000${h.source}`;
    if (seen.has(key) || rows.length > 60) continue;
    seen.add(key);
    const u = hostUsable(h);
    const bands: MapBand[] = u.map((r) => ({ ...r, kind: 'usable', title: `usable on ${h.name}` }));
    const regs = new Map<string, MapBand>();
    for (const g of h.groups) for (const r of g.reserved) regs.set(`${r.start}-${r.last}-${r.type}-${r.swMsi}`, { start: r.start, last: r.last, kind: regionKind(r.type, r.swMsi), title: `${h.name}: ${r.type} ${shortHex(r.start)}..${shortHex(r.last)}` });
    bands.push(...regs.values());
    const conflicts = p.layouts.flatMap((l) => l.conventionalConflicts.filter((c) => c.blocker.hosts.some((b) => b.name === h.name && b.source === h.source)).map((c) => ({ ...c.overlap, title: `blocks ${c.guest}` })));
    rows.push({ label: h.name, note: h.source, role: 'host', bands, conflicts });
  }
  return { title: `plan: ${hosts.length} host(s), ${p.layouts.length} layout(s)`, subtitle: 'hosts side by side on one segmented axis; red: where the conventional layout meets a host\'s reserved region', rows };
}

/** A self-contained HTML page: the SVG, a legend, and notes (conflicts, reasoning). */
export function mapHtml(title: string, svg: string, notes: readonly string[] = []): string {
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${esc(title)}</title>`,
    '<style>body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;margin:16px;color:#222} svg rect[data-kind]:hover{stroke:#000;stroke-width:1.5} ul{font-size:13px}</style>',
    '</head><body>',
    `<h1 style="font-size:18px">${esc(title)}</h1>`,
    svg,
    notes.length ? `<ul>${notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : '',
    '<p style="font-size:12px;color:#666">Hover a band for its range, type and source. Drawn by iommu-emu.</p>',
    '</body></html>',
    '',
  ].join('\n');
}

