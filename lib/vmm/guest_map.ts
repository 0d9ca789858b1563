// SPDX-License-Identifier: GPL-2.0-only
/**
 * Guest memory maps: the guest-physical layout a VMM builds, which is the IOVA space of every
 * device assigned to the guest. Files (JSON or YAML, checked against guest-map.schema.json) and
 * presets (lib/vmm/presets.ts) both end as a GuestMap.
 */
import Ajv2020 from 'ajv/dist/2020';
import * as YAML from 'yaml';
import { readRegularTextFile, HostFsError } from '../hostfs';
import { IovaRange, U64_MAX, overlaps } from '../model/iova';
import schema from './guest-map.schema.json';
import { parseSize, shortHex } from './size';

export type GuestRegionKind = 'ram' | 'pci-mmio' | 'device' | 'reserved';

export interface GuestRegion extends IovaRange {
  readonly name: string;
  readonly kind: GuestRegionKind;
  readonly note?: string | undefined;
}

export interface GuestMap {
  readonly name: string;
  readonly description?: string | undefined;
  readonly arch?: string | undefined;
  readonly vmm?: string | undefined;
  /** Sorted by start; disjoint. */
  readonly regions: readonly GuestRegion[];
  /** Where the map came from: a file path or `preset:q35:16G`. */
  readonly source: string;
  /** How a preset computed the layout (QEMU source functions, the choices made). */
  readonly derivation?: readonly string[] | undefined;
}

/** Ranges the VMM maps into the device's IOMMU domain: RAM, and PCI windows for peer-to-peer. */
export const isDmaMapped = (k: GuestRegionKind): boolean => k === 'ram' || k === 'pci-mmio';

export interface GuestMapIssue {
  readonly file: string;
  /** JSON pointer into the document (`/regions/2/start`), empty for the whole document. */
  readonly path: string;
  readonly message: string;
}

export class GuestMapError extends Error {
  override readonly name = 'GuestMapError';
  constructor(readonly issues: readonly GuestMapIssue[]) {
    super(issues.map((i) => `${i.file}: ${i.path || '(document)'}: ${i.message}`).join('\n'));
  }
}

/** The largest guest map file read. */
export const MAX_GUEST_MAP_BYTES = 1 << 20;

let validator: ReturnType<Ajv2020['compile']> | undefined;
function validate(doc: unknown): readonly { instancePath: string; message?: string | undefined; params: Record<string, unknown>; keyword: string }[] {
  validator ??= new Ajv2020({ strict: true, strictRequired: false, allErrors: true }).compile(schema);
  return validator(doc) ? [] : (validator.errors ?? []);
}

function num(v: unknown): bigint | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? BigInt(v) : undefined;
  if (typeof v === 'string') return parseSize(v);
  return undefined;
}

/** A guest map from its parsed document; errors name the file and the JSON path. */
export function guestMapFromJSON(doc: unknown, file: string): GuestMap {
  const errs = validate(doc);
  if (errs.length) {
    // oneOf failures repeat per branch; keep the most specific message per path.
    const seen = new Set<string>();
    const issues: GuestMapIssue[] = [];
    const sizeOrEnd = new Set(errs.filter((e) => e.keyword === 'oneOf' && /^\/regions\/\d+$/.test(e.instancePath)).map((e) => e.instancePath));
    for (const e of errs) {
      if (e.keyword === 'required' && sizeOrEnd.has(e.instancePath) && ['size', 'end'].includes(String(e.params['missingProperty']))) continue;
      if (e.keyword === 'oneOf' && !sizeOrEnd.has(e.instancePath) && errs.some((x) => x !== e && x.instancePath.startsWith(e.instancePath) && x.keyword !== 'oneOf')) continue;
      const msg =
        e.keyword === 'additionalProperties'
          ? `unknown property ${JSON.stringify(e.params['additionalProperty'])}`
          : e.keyword === 'oneOf' && /\/regions\/\d+$/.test(e.instancePath)
            ? 'give exactly one of "size" and "end"'
            : e.keyword === 'enum'
              ? `${e.message}: ${JSON.stringify(e.params['allowedValues'])}`
              : (e.message ?? e.keyword);
      const key = `${e.instancePath} ${msg}`;
      if (seen.has(key)) continue;
      seen.add(key);
      issues.push({ file, path: e.instancePath, message: msg });
    }
    throw new GuestMapError(issues);
  }
  const d = doc as { name?: string; description?: string; arch?: string; vmm?: string; regions: { name: string; kind: GuestRegionKind; start: unknown; size?: unknown; end?: unknown; note?: string }[] };
  const issues: GuestMapIssue[] = [];
  const regions: GuestRegion[] = [];
  const names = new Set<string>();
  d.regions.forEach((r, i) => {
    const at = `/regions/${i}`;
    if (names.has(r.name)) issues.push({ file, path: `${at}/name`, message: `duplicate region name ${JSON.stringify(r.name)}` });
    names.add(r.name);
    const start = num(r.start);
    if (start === undefined || start > U64_MAX) return void issues.push({ file, path: `${at}/start`, message: `not an address: ${JSON.stringify(r.start)}` });
    let last: bigint | undefined;
    if (r.size !== undefined) {
      const size = num(r.size);
      if (size === undefined || size === 0n) return void issues.push({ file, path: `${at}/size`, message: `not a size (> 0): ${JSON.stringify(r.size)}` });
      last = start + size - 1n;
    } else {
      last = num(r.end);
      if (last === undefined) return void issues.push({ file, path: `${at}/end`, message: `not an address: ${JSON.stringify(r.end)}` });
      if (last < start) return void issues.push({ file, path: `${at}/end`, message: `end ${shortHex(last)} is before start ${shortHex(start)}` });
    }
    if (last > U64_MAX) return void issues.push({ file, path: at, message: `ends past the 64-bit address space (${shortHex(start)} + size)` });
    regions.push({ name: r.name, kind: r.kind, start, last, ...(r.note ? { note: r.note } : {}) });
  });
  const sorted = [...regions].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    if (overlaps(a, b))
      issues.push({ file, path: `/regions/${d.regions.findIndex((r) => r.name === b.name)}`, message: `region ${JSON.stringify(b.name)} (${shortHex(b.start)}..${shortHex(b.last)}) overlaps ${JSON.stringify(a.name)} (${shortHex(a.start)}..${shortHex(a.last)})` });
  }
  if (!issues.length && !sorted.some((r) => r.kind === 'ram')) issues.push({ file, path: '/regions', message: 'no region of kind "ram": nothing a device would DMA to' });
  if (issues.length) throw new GuestMapError(issues);
  return { name: d.name ?? file.split('/').pop()!, description: d.description, arch: d.arch, vmm: d.vmm, regions: sorted, source: file };
}

/** YAML integers arrive as BigInt (a 64-bit address is exact); the schema takes them as digit strings. */
function bigintsToText(v: unknown): unknown {
  if (typeof v === 'bigint') return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  if (Array.isArray(v)) return v.map(bigintsToText);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, bigintsToText(x)]));
  return v;
}

/** Parse a guest map document (JSON or YAML). */
export function parseGuestMap(text: string, file: string): GuestMap {
  let doc: unknown;
  try {
    doc = /\.json$/i.test(file) ? JSON.parse(text) : bigintsToText(YAML.parse(text, { maxAliasCount: 100, intAsBigInt: true }));
  } catch (e) {
    throw new GuestMapError([{ file, path: '', message: `not valid ${/\.json$/i.test(file) ? 'JSON' : 'YAML'}: ${(e as Error).message.split('\n')[0]}` }]);
  }
  return guestMapFromJSON(doc, file);
}

/** Read a guest map file: only a regular file, at most MAX_GUEST_MAP_BYTES. */
export function loadGuestMapFile(file: string, maxBytes = MAX_GUEST_MAP_BYTES): GuestMap {
  let text: string;
  try {
    text = readRegularTextFile(file, { maxBytes, what: 'guest map file', raise: 'a smaller guest map' });
  } catch (e) {
    if (e instanceof HostFsError) throw new GuestMapError([{ file, path: '', message: e.reason }]);
    throw e;
  }
  return parseGuestMap(text, file);
}

export const GUEST_MAP_SCHEMA = schema;
