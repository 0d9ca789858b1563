// SPDX-License-Identifier: GPL-2.0-only
/**
 * The data-only sysfs schema (`sysfs-schema/*.json`, one file per Documentation/ABI document):
 * loading, validation against `sysfs-schema.schema.json` (ajv), and compilation of the path
 * patterns to matchers. The validator (`validate.ts`) and the tests ask this module which
 * entry describes a sysfs path.
 *
 * Path patterns are `/sys/...` strings whose components may hold `<placeholder>`s; a component
 * that is exactly one placeholder followed by `+` stands for one or more components (PCI devices
 * nest under bridges: `/sys/devices/pci0000:00/0000:00:1c.0/0000:01:00.0`).
 * @see Documentation/ABI/README (What:/Date:/KernelVersion:/Contact:/Description:)
 * @see scripts/get_abi.py and scripts/lib/abi/abi_regex.py (What: → regex, the `undefined` check)
 */
import * as nodeFs from 'node:fs';
import * as path from 'node:path';
import Ajv from 'ajv';
import type { ErrorObject } from 'ajv';

import { KernelVersion, VersionRange, compareKernelVersion, inVersionRange, kernelVersion } from '../kernel/version';

export type { KernelVersion, VersionRange };

/* ------------------------------------------------------------------ raw schema file types */

export type EntryKind = 'file' | 'dir' | 'link' | 'binary';
export type CheckName =
  | 'resv-sorted'
  | 'resv-merged'
  | 'resv-end-before-start'
  | 'pci-config-ids'
  | 'pci-modalias'
  | 'pci-resource-lines';
export type BacklinkRule = 'group-backlink' | 'iommu-backlink' | 'driver-backlink';

export interface ModeRange extends VersionRange {
  readonly mode: string;
}

export interface AbiText {
  readonly What: string;
  readonly Date?: string;
  readonly KernelVersion?: string;
  readonly Contact?: string;
  readonly Description: string;
  readonly Users?: string;
}

export interface LinkRule {
  readonly target: string | readonly string[];
  /** kernfs_get_target_path: climb to the common ancestor of link dir and target, then descend. */
  readonly relative: 'kernfs';
  /** `name`: target basename equals the link name; `name-or-suffixed`: or the name is `<basename>.<n>`. */
  readonly basename?: 'name' | 'name-or-suffixed';
  readonly backlink?: {
    /** The directory the target must point back to: the link's directory or the one above it. */
    readonly owner: 'parent' | 'grandparent';
    /** Where in the target the link back lives: `iommu_group`, `devices/*` (any link in it), `*`. */
    readonly via: string;
    readonly rule: BacklinkRule;
  };
}

export interface CheckSpec extends VersionRange {
  readonly check: CheckName;
  readonly merge?: 'overlap' | 'overlap-or-adjacent';
  readonly source?: string;
}

export interface ValueGate extends VersionRange {
  /** Whitespace-separated field of each line; absent: the whole (trimmed) content. */
  readonly field?: number;
  readonly value: string;
  readonly source?: string;
}

export interface RawEntry {
  readonly id: string;
  readonly what: string | null;
  readonly path: string | readonly string[];
  readonly kind: EntryKind;
  readonly mode?: string | readonly ModeRange[];
  readonly kernelVersion: VersionRange & { readonly note?: string };
  readonly required: boolean;
  readonly children?: 'closed' | 'open';
  readonly format?: string;
  readonly line?: string;
  readonly content?: string;
  readonly lineCount?: { readonly endpoint: readonly number[]; readonly bridge: readonly number[] };
  readonly size?: { readonly min: number; readonly allowed?: readonly number[] };
  readonly valueGates?: readonly ValueGate[];
  readonly link?: LinkRule;
  readonly checks?: readonly CheckSpec[];
  readonly abi?: AbiText;
  readonly source: string;
  readonly note?: string;
}

export interface RawSchemaFile {
  readonly document: string;
  readonly source: string;
  readonly note?: string;
  readonly entries: readonly RawEntry[];
}

/* ------------------------------------------------------------------ path patterns */

/** Placeholder → regex for one path component (no `/`). */
export const PLACEHOLDERS: Readonly<Record<string, { readonly re: string; readonly source: string }>> = {
  grp_id: { re: '(?:0|[1-9][0-9]*)', source: 'drivers/iommu/iommu.c:iommu_group_alloc ("%d" of ida_alloc())' },
  domain: { re: '[0-9a-f]{4,8}', source: 'drivers/pci/probe.c:pci_register_host_bridge ("pci%04x:%02x")' },
  bus: { re: '[0-9a-f]{2}', source: 'drivers/pci/probe.c:pci_register_host_bridge ("pci%04x:%02x")' },
  bdf: {
    re: '[0-9a-f]{4,8}:[0-9a-f]{2}:[01][0-9a-f]\\.[0-7]',
    source: 'drivers/pci/probe.c:pci_setup_device ("%04x:%02x:%02x.%d")',
  },
  bdf_name: {
    re: '[0-9a-f]{4,8}:[0-9a-f]{2}:[01][0-9a-f]\\.[0-7](?:\\.[0-9]+)?',
    source: 'drivers/iommu/iommu.c:iommu_group_alloc_device (dev_name, or "%s.%d" on collision)',
  },
  index: { re: '(?:0|[1-9][0-9]*)', source: 'ida index printed with %d' },
  unit: { re: '[^/]+', source: 'drivers/iommu/iommu-sysfs.c:iommu_device_sysfs_add (dmar%d, ivhd%d, smmu3.%pa, ...)' },
  driver: { re: '[^/]+', source: 'struct device_driver.name' },
  platdev: { re: '[^/]+', source: 'platform device name' },
  devname: { re: '[^/]+', source: 'dev_name()' },
  module: { re: '[A-Za-z0-9_]+', source: 'kernel/module/sysfs.c:mod_sysfs_init (KBUILD_MODNAME, "-" turned into "_")' },
  node: { re: '(?:0|[1-9][0-9]*)', source: 'drivers/base/node.c:register_node ("node%d")' },
  cpu: { re: '(?:0|[1-9][0-9]*)', source: 'drivers/base/cpu.c:register_cpu ("cpu%d")' },
  ifname: { re: '[^/]{1,15}', source: 'net/core/dev.c:dev_valid_name (IFNAMSIZ - 1)' },
  any: { re: '[^/]+', source: 'any one path component' },
};

interface Segment {
  readonly re: RegExp;
  readonly repeat: boolean;
  readonly literal: string | undefined;
}

export interface CompiledPattern {
  readonly source: string;
  readonly segments: readonly Segment[];
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Compiles a `/sys/...` pattern; throws (with the offending placeholder) on unknown placeholders. */
export function compilePathPattern(pattern: string): CompiledPattern {
  if (!pattern.startsWith('/sys')) throw new Error(`path pattern must start with /sys: ${pattern}`);
  const comps = pattern.split('/').slice(1);
  const segments = comps.map((comp): Segment => {
    if (comp === '') throw new Error(`empty component in path pattern ${pattern}`);
    let repeat = false;
    let body = comp;
    if (/^<[a-z_]+>\+$/.test(comp)) {
      repeat = true;
      body = comp.slice(0, -1);
    }
    let re = '';
    let literal = true;
    let last = 0;
    for (const m of body.matchAll(/<([a-z_]+)>/g)) {
      const ph = PLACEHOLDERS[m[1] ?? ''];
      if (!ph) throw new Error(`unknown placeholder <${m[1]}> in path pattern ${pattern}`);
      re += escapeRe(body.slice(last, m.index)) + ph.re;
      last = (m.index ?? 0) + m[0].length;
      literal = false;
    }
    re += escapeRe(body.slice(last));
    if (/[<>]/.test(body.replace(/<[a-z_]+>/g, ''))) throw new Error(`malformed placeholder in path pattern ${pattern}`);
    return { re: new RegExp(`^${re}$`), repeat, literal: literal ? body : undefined };
  });
  return { source: pattern, segments };
}

function splitSysPath(p: string): string[] {
  return p.split('/').filter(c => c !== '');
}

function matchSegments(segs: readonly Segment[], comps: readonly string[], prefix: boolean): boolean {
  const n = comps.length;
  const go = (i: number, j: number): boolean => {
    if (j === n) return prefix ? i < segs.length : i === segs.length;
    const s = segs[i];
    if (!s || !s.re.test(comps[j] ?? '')) return false;
    return s.repeat ? more(i, j + 1) : go(i + 1, j + 1);
  };
  const more = (i: number, j: number): boolean => {
    const s = segs[i];
    if (s && j < n && s.re.test(comps[j] ?? '') && more(i, j + 1)) return true;
    return go(i + 1, j);
  };
  return go(0, 0);
}

/** Full match of an absolute `/sys/...` path. */
export function matchPattern(p: CompiledPattern, sysPath: string): boolean {
  return matchSegments(p.segments, splitSysPath(sysPath), false);
}

/** `sysPath` is a proper ancestor directory of some path the pattern matches. */
export function matchPatternPrefix(p: CompiledPattern, sysPath: string): boolean {
  return matchSegments(p.segments, splitSysPath(sysPath), true);
}

/* ------------------------------------------------------------------ compiled entries */

export interface SchemaEntry extends RawEntry {
  /** The schema file this entry comes from (basename). */
  readonly file: string;
  readonly document: string;
  readonly patterns: readonly CompiledPattern[];
  readonly lineRe: RegExp | undefined;
  readonly contentRe: RegExp | undefined;
  readonly targetPatterns: readonly CompiledPattern[];
  /** For entries whose last component is literal: the parent pattern and the name. */
  readonly literalChildren: readonly { readonly parent: CompiledPattern; readonly name: string }[];
}

export class SchemaFileError extends Error {
  override readonly name = 'SchemaFileError';
  readonly file: string;
  /** JSON pointer into the file, e.g. `/entries/3/mode`. */
  readonly jsonPath: string;
  constructor(file: string, jsonPath: string, message: string) {
    super(`${file}: at ${jsonPath || '/'}: ${message}`);
    this.file = file;
    this.jsonPath = jsonPath;
  }
}

export const SCHEMA_DIR = path.join(__dirname, '..', '..', 'sysfs-schema');
export const META_SCHEMA_FILE = 'sysfs-schema.schema.json';

let ajvValidator: ReturnType<Ajv['compile']> | undefined;
let ajvValidatorDir: string | undefined;

function metaValidator(dir: string): ReturnType<Ajv['compile']> {
  if (ajvValidator && ajvValidatorDir === dir) return ajvValidator;
  const metaPath = path.join(dir, META_SCHEMA_FILE);
  const meta: unknown = JSON.parse(nodeFs.readFileSync(metaPath, 'utf8'));
  const ajv = new Ajv({ allErrors: true, allowUnionTypes: true, strictTypes: false });
  ajvValidator = ajv.compile(meta as object);
  ajvValidatorDir = dir;
  return ajvValidator;
}

function describeAjvError(e: ErrorObject): string {
  const params = e.params as Record<string, unknown>;
  if (e.keyword === 'additionalProperties') return `unexpected property ${JSON.stringify(params['additionalProperty'])}`;
  if (e.keyword === 'enum') return `${e.message ?? 'invalid'}: ${JSON.stringify(params['allowedValues'])}`;
  if (e.keyword === 'required') return `missing property ${JSON.stringify(params['missingProperty'])}`;
  return e.message ?? e.keyword;
}

/** The most specific ajv error: the deepest instance path, ignoring the combinator summaries. */
function pickAjvError(errors: readonly ErrorObject[]): ErrorObject | undefined {
  const concrete = errors.filter(e => !['oneOf', 'anyOf', 'if', 'allOf', 'not'].includes(e.keyword));
  const pool = concrete.length ? concrete : errors;
  return [...pool].sort((a, b) => b.instancePath.split('/').length - a.instancePath.split('/').length)[0];
}

/**
 * Validates one parsed schema file (JSON Schema, then what JSON Schema cannot say: regexes
 * compile, placeholders exist, version ranges are ordered). Throws SchemaFileError naming the
 * file and the JSON path.
 */
export function validateSchemaFile(json: unknown, file: string, dir: string = SCHEMA_DIR): RawSchemaFile {
  const validate = metaValidator(dir);
  if (!validate(json)) {
    const errors = validate.errors ?? [];
    const e = pickAjvError(errors);
    const more = errors.length > 1 ? ` (${errors.length} schema errors in all)` : '';
    throw new SchemaFileError(file, e?.instancePath ?? '', `${e ? describeAjvError(e) : 'invalid'}${more}`);
  }
  const raw = json as RawSchemaFile;
  raw.entries.forEach((e, i) => {
    const at = (p: string): string => `/entries/${i}${p}`;
    const paths = typeof e.path === 'string' ? [e.path] : e.path;
    paths.forEach((p, j) => {
      try {
        compilePathPattern(p);
      } catch (err) {
        throw new SchemaFileError(file, at(typeof e.path === 'string' ? '/path' : `/path/${j}`), (err as Error).message);
      }
    });
    const targets = e.link ? (typeof e.link.target === 'string' ? [e.link.target] : e.link.target) : [];
    targets.forEach((p, j) => {
      try {
        compilePathPattern(p);
      } catch (err) {
        throw new SchemaFileError(file, at(typeof e.link?.target === 'string' ? '/link/target' : `/link/target/${j}`), (err as Error).message);
      }
    });
    for (const key of ['line', 'content'] as const) {
      const src = e[key];
      if (src === undefined) continue;
      try {
        new RegExp(src);
      } catch (err) {
        throw new SchemaFileError(file, at(`/${key}`), `bad regex: ${(err as Error).message}`);
      }
    }
    const ranges: [string, VersionRange][] = [['/kernelVersion', e.kernelVersion]];
    if (Array.isArray(e.mode)) (e.mode as readonly ModeRange[]).forEach((m, j) => ranges.push([`/mode/${j}`, m]));
    e.checks?.forEach((c, j) => ranges.push([`/checks/${j}`, c]));
    e.valueGates?.forEach((g, j) => ranges.push([`/valueGates/${j}`, g]));
    for (const [p, r] of ranges) {
      if (r.until !== undefined && compareKernelVersion(kernelVersion(r.since), kernelVersion(r.until)) >= 0) {
        throw new SchemaFileError(file, at(p), `empty version range: since ${r.since} is not before until ${r.until}`);
      }
    }
    if (e.valueGates?.some(g => g.field !== undefined) && e.line === undefined) {
      throw new SchemaFileError(file, at('/valueGates'), 'a field-indexed value gate needs a per-line grammar ("line")');
    }
  });
  return raw;
}

function compileEntry(e: RawEntry, file: string, document: string): SchemaEntry {
  const paths = typeof e.path === 'string' ? [e.path] : e.path;
  const patterns = paths.map(compilePathPattern);
  const targets = e.link ? (typeof e.link.target === 'string' ? [e.link.target] : e.link.target) : [];
  const literalChildren = patterns.flatMap(p => {
    const last = p.segments[p.segments.length - 1];
    if (!last || last.literal === undefined || last.repeat) return [];
    return [{ parent: { source: p.source.slice(0, p.source.lastIndexOf('/')), segments: p.segments.slice(0, -1) }, name: last.literal }];
  });
  return {
    ...e,
    file,
    document,
    patterns,
    lineRe: e.line !== undefined ? new RegExp(e.line) : undefined,
    contentRe: e.content !== undefined ? new RegExp(e.content) : undefined,
    targetPatterns: targets.map(compilePathPattern),
    literalChildren,
  };
}

const sameKind = (actual: 'file' | 'dir' | 'link', k: EntryKind): boolean => (k === 'binary' ? 'file' : k) === actual;

export class SysfsSchema {
  readonly entries: readonly SchemaEntry[];
  readonly files: readonly string[];

  constructor(files: readonly { file: string; raw: RawSchemaFile }[]) {
    const entries: SchemaEntry[] = [];
    const ids = new Map<string, string>();
    for (const { file, raw } of files) {
      raw.entries.forEach((e, i) => {
        const prev = ids.get(e.id);
        if (prev) throw new SchemaFileError(file, `/entries/${i}/id`, `duplicate entry id ${JSON.stringify(e.id)} (also in ${prev})`);
        ids.set(e.id, file);
        entries.push(compileEntry(e, file, raw.document));
      });
    }
    this.entries = entries;
    this.files = files.map(f => f.file);
  }

  byId(id: string): SchemaEntry | undefined {
    return this.entries.find(e => e.id === id);
  }

  /** Every entry whose path pattern matches `sysPath` (an absolute `/sys/...` path), in schema order. */
  matchAll(sysPath: string): SchemaEntry[] {
    return this.entries.filter(e => e.patterns.some(p => matchPattern(p, sysPath)));
  }

  /** The entry describing `sysPath`: the first of the matching kind, else the first match. */
  match(sysPath: string, kind?: 'file' | 'dir' | 'link'): SchemaEntry | undefined {
    const all = this.matchAll(sysPath);
    return (kind && all.find(e => sameKind(kind, e.kind))) || all[0];
  }

  /** Some pattern lies strictly below `sysPath`: a walker must descend into it. */
  isAncestor(sysPath: string): boolean {
    return this.entries.some(e => e.patterns.some(p => matchPatternPrefix(p, sysPath)));
  }

  /** Required, literally named entries of directory `dirSysPath` that exist in kernel `v`. */
  requiredChildren(dirSysPath: string, v: KernelVersion): { name: string; entry: SchemaEntry }[] {
    const out: { name: string; entry: SchemaEntry }[] = [];
    for (const e of this.entries) {
      if (!e.required || !inVersionRange(v, e.kernelVersion)) continue;
      for (const c of e.literalChildren) {
        if (matchPattern(c.parent, dirSysPath) && !out.some(o => o.name === c.name)) out.push({ name: c.name, entry: e });
      }
    }
    return out;
  }
}

/** Reads, validates and compiles every `*.json` schema file of `dir` (except the meta schema). */
export function loadSysfsSchema(dir: string = SCHEMA_DIR): SysfsSchema {
  const names = nodeFs
    .readdirSync(dir)
    .filter(f => f.endsWith('.json') && f !== META_SCHEMA_FILE)
    .sort();
  if (names.length === 0) throw new Error(`no sysfs schema files in ${dir}`);
  const files = names.map(file => {
    let json: unknown;
    try {
      json = JSON.parse(nodeFs.readFileSync(path.join(dir, file), 'utf8'));
    } catch (err) {
      throw new SchemaFileError(file, '', `not valid JSON: ${(err as Error).message}`);
    }
    return { file, raw: validateSchemaFile(json, file, dir) };
  });
  return new SysfsSchema(files);
}

let cached: SysfsSchema | undefined;

/** The shipped schema, loaded once. */
export function sysfsSchema(): SysfsSchema {
  cached ??= loadSysfsSchema();
  return cached;
}

/** Expected mode of an entry in kernel `v` (undefined: links, or no range covers `v`). */
export function expectedMode(e: RawEntry, v: KernelVersion): number | undefined {
  if (e.mode === undefined) return undefined;
  if (typeof e.mode === 'string') return parseInt(e.mode, 8);
  const r = (e.mode as readonly ModeRange[]).find(m => inVersionRange(v, m));
  return r ? parseInt(r.mode, 8) : undefined;
}

/** The version range in which `mode` is the entry's mode, if any (for "writable type before 5.11"). */
export function modeRangeOf(e: RawEntry, mode: number): ModeRange | undefined {
  if (!Array.isArray(e.mode)) return undefined;
  return (e.mode as readonly ModeRange[]).find(m => parseInt(m.mode, 8) === mode);
}
