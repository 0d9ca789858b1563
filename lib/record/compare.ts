// SPDX-License-Identifier: GPL-2.0-only
/** Replay check: the emulated /sys of a machine against the tree it was recorded from. */
import type { Machine } from '../machine';
import { walkEmulated } from '../export/export';
import type { SysSource } from './source';

export interface Difference {
  readonly path: string;
  /** missing: the replay renders it, the source lacks it; extra: the source has it, the replay does not. */
  readonly what: 'missing' | 'extra' | 'kind' | 'content' | 'mode' | 'target';
  readonly detail: string;
}

/** Where the source is compared in both directions: everything the emulator models there. */
const BOTH_WAYS = ['/sys/kernel/iommu_groups', '/sys/class/iommu', '/sys/bus/pci/devices'];

/** Parts of /sys a source may not carry at all (a umockdev file has devices only): compared when present. */
const IF_PRESENT = ['/sys/module', '/sys/firmware', '/sys/devices/system', '/sys/bus/cpu', '/sys/bus/node', '/sys/class/net'];

const show = (b: Buffer) => JSON.stringify(b.subarray(0, 48).toString('latin1')) + (b.length > 48 ? '…' : '');

export function compareWithSource(m: Machine, src: SysSource): Difference[] {
  const out: Difference[] = [];
  const rendered = new Set<string>();
  const absent = IF_PRESENT.filter((r) => src.kind(r) === undefined);
  const skipped = (p: string) => absent.some((r) => p === r || p.startsWith(`${r}/`)) || (absent.includes('/sys/module') && /^\/sys\/bus\/[^/]+\/drivers\/[^/]+\/module$/.test(p));
  for (const e of walkEmulated(m, '/sys')) {
    rendered.add(e.path);
    if (skipped(e.path)) continue;
    const k = src.kind(e.path);
    if (k === undefined) {
      out.push({ path: e.path, what: 'missing', detail: `the replay has this ${e.kind}, the source does not` });
      continue;
    }
    if (k !== e.kind) {
      out.push({ path: e.path, what: 'kind', detail: `source: ${k}, replay: ${e.kind}` });
      continue;
    }
    if (e.kind === 'link') {
      const t = src.readlink(e.path);
      if (t !== e.target) out.push({ path: e.path, what: 'target', detail: `source -> ${t}, replay -> ${e.target}` });
      continue;
    }
    const mode = src.mode(e.path);
    // An export keeps directories owner-writable so that its owner can remove it (export.ts); on
    // sysfs a directory's write bits change nothing (kernfs refuses every entry change), so they
    // are not compared.
    const differs = (a: number, b: number) => (e.kind === 'dir' ? (a | 0o200) !== (b | 0o200) : a !== b);
    if (mode !== undefined && mode >= 0 && differs(mode, e.mode)) out.push({ path: e.path, what: 'mode', detail: `source 0${mode?.toString(8)}, replay 0${e.mode.toString(8)}` });
    if (e.kind === 'file') {
      const b = src.read(e.path) ?? Buffer.alloc(0);
      if (!b.equals(e.content!)) out.push({ path: e.path, what: 'content', detail: `source ${show(b)} (${b.length} bytes), replay ${show(e.content!)} (${e.content!.length} bytes)` });
    }
  }
  const walk = (p: string, depth: number) => {
    const k = src.kind(p);
    if (k === undefined) return;
    if (!rendered.has(p)) out.push({ path: p, what: 'extra', detail: `the source has this ${k}, the replay does not` });
    if (k === 'dir' && depth < 3) for (const n of src.list(p) ?? []) walk(`${p}/${n}`, depth + 1);
  };
  for (const root of BOTH_WAYS) walk(root, 0);
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** `config (6), resource (6)`: differences by attribute name. */
export function summarizeDifferences(d: readonly Difference[]): string {
  const by = new Map<string, number>();
  for (const x of d) {
    const name = x.path.split('/').pop()!;
    const key = /^\d+$/.test(name) || /^[0-9a-f]{4}:/.test(name) ? `${x.what} ${x.path.split('/').slice(0, -1).join('/')}/*` : `${name} (${x.what})`;
    by.set(key, (by.get(key) ?? 0) + 1);
  }
  return [...by.entries()].map(([k, n]) => `${k} ×${n}`).join(', ');
}
