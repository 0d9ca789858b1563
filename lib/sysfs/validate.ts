// SPDX-License-Identifier: GPL-2.0-only
/**
 * Conformance validator for a sysfs tree against `sysfs-schema/`: the emulator's memfs tree, an
 * exported directory, or a live read-only `/sys`. Like `scripts/get_abi.py undefined`, but it also
 * checks modes, kinds, grammars, kernel-version gates, link shapes and the cross-links between
 * groups, devices, IOMMU units and drivers.
 *
 * Read-only and bounded: only lstat/readdir/readlink/open+read (or readFile) are called, links are
 * resolved by hand and never followed out of `root`, and the number of files read, directories
 * listed and bytes per file are capped.
 * @see shared/reference/kernel-sysfs-abi.md §1, §2, §4
 */
import * as path from 'node:path';
import {
  CheckSpec,
  KernelVersion,
  SchemaEntry,
  SysfsSchema,
  expectedMode,
  matchPattern,
  modeRangeOf,
  sysfsSchema,
} from './schema';
import { formatKernelVersion, inVersionRange, kernelVersion } from '../kernel/version';
import { U64_MAX } from '../kernel/limits';
import { RESV_TYPE_NAMES, RESV_TYPE_RANK, ResvTypeString, parseResvLine } from '../model/resv_region';

export const RULES = {
  'no-iommu-groups': '/sys/kernel/iommu_groups is absent or empty: nothing IOMMU-related to check (info)',
  'missing-required': 'a required attribute of a covered directory is missing',
  'unknown-attribute': 'an entry of a covered directory matches no schema entry (closed directories always; open ones in strict mode)',
  'wrong-kind': 'file / directory / link mismatch with the schema',
  'wrong-mode': 'permission bits differ from the schema',
  'version-gate': 'attribute, mode or value that does not exist in the given kernel version',
  'line-grammar': 'a line does not match the per-line grammar (with line number)',
  'content-grammar': 'the content does not match the whole-file grammar',
  'line-count': 'wrong number of lines (PCI resource)',
  'resv-unsorted': 'reserved_regions not sorted by start, ties by type (direct < direct-relaxable < reserved < msi)',
  'resv-unmerged': 'reserved_regions has same-type regions the kernel would have merged',
  'resv-end-before-start': 'reserved_regions line with end < start',
  'dangling-link': 'link target does not exist',
  'link-depth': "link is not the relative path kernfs writes (wrong number of '../', absolute, or not minimal)",
  'link-target': 'link target or name does not match the schema',
  'link-escape': 'link resolves outside the validated root',
  'group-backlink': 'device iommu_group link and group devices/ link do not point at each other',
  'iommu-backlink': 'device iommu link and IOMMU unit devices/ link do not point at each other',
  'driver-backlink': 'device driver link and driver directory link do not point at each other',
  'config-size': 'PCI config size not 256/4096, shorter than 64 bytes, or inconsistent with its capabilities',
  'config-mismatch': 'PCI config bytes disagree with vendor/device/revision/class/subsystem attributes',
  'modalias-mismatch': 'modalias disagrees with vendor/device/subsystem/class attributes',
  'unreadable': 'a file the schema describes could not be read',
  'read-cap': 'a read bound was hit; the result is partial',
} as const;

export type RuleId = keyof typeof RULES;
export type Severity = 'error' | 'warning' | 'info';

export interface Finding {
  /** Absolute path as it would appear on the machine: `/sys/...`. */
  readonly path: string;
  readonly rule: RuleId;
  readonly message: string;
  readonly severity: Severity;
  /** 1-based, for per-line rules. */
  readonly line?: number;
}

export interface SysfsStats {
  readonly mode: number;
  readonly size: number;
  isDirectory(): boolean;
  isFile(): boolean;
  isSymbolicLink(): boolean;
}

/** The synchronous, read-only subset of `node:fs` used here; memfs's `fs` fits too. */
export interface SysfsFs {
  lstatSync(p: string): SysfsStats;
  statSync(p: string): SysfsStats;
  readdirSync(p: string): unknown[];
  readlinkSync(p: string): unknown;
  readFileSync(p: string): unknown;
  openSync?(p: string, flags: string): number;
  readSync?(fd: number, buffer: Uint8Array, offset: number, length: number, position: number | null): number;
  closeSync?(fd: number): void;
}

export interface ValidateOptions {
  /** `6.8.0-45-generic`, `v5.11`, ... or a parsed version. */
  readonly kernelVersion: string | KernelVersion;
  /** Report unknown entries of "open" directories (PCI device and driver dirs, unit dirs) too. */
  readonly strict?: boolean;
  /** Validate the rest even when there are no IOMMU groups (default: a single info finding). */
  readonly requireGroups?: boolean;
  readonly maxFilesRead?: number;
  readonly maxBytesPerFile?: number;
  readonly maxDirs?: number;
  readonly maxEntriesPerDir?: number;
  readonly schema?: SysfsSchema;
}

export const DEFAULT_LIMITS = { maxFilesRead: 20000, maxBytesPerFile: 65536, maxDirs: 20000, maxEntriesPerDir: 10000 } as const;

type Kind = 'file' | 'dir' | 'link';
type Resolved = { ok: true; path: string } | { ok: false; why: 'dangling' | 'escape' | 'loop' };

interface LinkRecord {
  readonly path: string;
  readonly entry: SchemaEntry;
  readonly target: string;
}



export interface ResvProblem {
  readonly rule: 'resv-unsorted' | 'resv-unmerged' | 'resv-end-before-start';
  readonly line: number;
  readonly message: string;
}

/**
 * Order/merge/end checks of one reserved_regions text. Lines that break the grammar are skipped
 * (the grammar rule reports them).
 * @see drivers/iommu/iommu.c:iommu_insert_resv_region (sort by start then enum type; same enum type
 *      merges when overlapping or adjacent since v5.3, when overlapping in v4.11-v5.2)
 */
export function checkReservedRegions(text: string, checks: readonly CheckSpec[]): ResvProblem[] {
  const out: ResvProblem[] = [];
  const has = (c: string): CheckSpec | undefined => checks.find(k => k.check === c);
  const regions: { start: bigint; end: bigint; type: string; line: number }[] = [];
  text.split('\n').forEach((l, i) => {
    const r = parseResvLine(l);
    if (r) regions.push({ start: r.start, end: r.last, type: r.type, line: i + 1 });
  });
  if (has('resv-end-before-start')) {
    for (const r of regions) {
      if (r.end < r.start) out.push({ rule: 'resv-end-before-start', line: r.line, message: `end 0x${r.end.toString(16)} is below start 0x${r.start.toString(16)}` });
    }
  }
  if (has('resv-sorted')) {
    for (let i = 1; i < regions.length; i++) {
      const a = regions[i - 1];
      const b = regions[i];
      if (!a || !b) continue;
      const rank = (r: { type: string }): number => RESV_TYPE_RANK[r.type as ResvTypeString] ?? 9;
      if (b.start < a.start || (b.start === a.start && rank(b) < rank(a))) {
        out.push({
          rule: 'resv-unsorted',
          line: b.line,
          message: `line ${b.line} (0x${b.start.toString(16)} ${b.type}) sorts before line ${a.line} (0x${a.start.toString(16)} ${a.type}): the kernel orders by start, then direct < direct-relaxable < reserved < msi`,
        });
      }
    }
  }
  const merged = has('resv-merged');
  if (merged) {
    const adjacent = merged.merge === 'overlap-or-adjacent';
    for (const type of RESV_TYPE_NAMES) {
      const same = regions.filter(r => r.type === type && r.end >= r.start).sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
      // Two enum types (IOMMU_RESV_MSI, IOMMU_RESV_SW_MSI) print "msi": its lines may form two chains.
      const chains: { end: bigint; line: number }[] = [];
      const width = type === 'msi' ? 2 : 1;
      for (const r of same) {
        const free = chains.findIndex(c => c.end === U64_MAX || (adjacent ? r.start > c.end + 1n : r.start > c.end));
        if (free >= 0) {
          chains[free] = { end: r.end, line: r.line };
        } else if (chains.length < width) {
          chains.push({ end: r.end, line: r.line });
        } else {
          const c = chains.reduce((x, y) => (y.end > x.end ? y : x));
          const how = r.start > c.end ? 'is adjacent to' : 'overlaps';
          out.push({
            rule: 'resv-unmerged',
            line: r.line,
            message: `${type} region at line ${r.line} ${how} the ${type} region at line ${c.line}; the kernel merges same-type regions${adjacent ? ' that overlap or touch' : ' that overlap'}`,
          });
          if (r.end > c.end) chains[chains.indexOf(c)] = { end: r.end, line: r.line };
        }
      }
    }
  }
  return out.sort((a, b) => a.line - b.line);
}

function toText(x: unknown): string {
  if (typeof x === 'string') return x;
  if (x instanceof Uint8Array) return Buffer.from(x).toString('utf8');
  return String(x);
}

const pad = (n: number, w: number): string => n.toString(16).toUpperCase().padStart(w, '0');

class Walker {
  readonly findings: Finding[] = [];
  private readonly links: LinkRecord[] = [];
  private readonly cache = new Map<string, Buffer | null>();
  private filesRead = 0;
  private dirsListed = 0;
  private capHit: string | undefined;
  private readonly limits: { maxFilesRead: number; maxBytesPerFile: number; maxDirs: number; maxEntriesPerDir: number };

  constructor(
    private readonly fs: SysfsFs,
    private readonly root: string,
    private readonly v: KernelVersion,
    private readonly schema: SysfsSchema,
    private readonly strict: boolean,
    opts: ValidateOptions,
  ) {
    this.limits = {
      maxFilesRead: opts.maxFilesRead ?? DEFAULT_LIMITS.maxFilesRead,
      maxBytesPerFile: opts.maxBytesPerFile ?? DEFAULT_LIMITS.maxBytesPerFile,
      maxDirs: opts.maxDirs ?? DEFAULT_LIMITS.maxDirs,
      maxEntriesPerDir: opts.maxEntriesPerDir ?? DEFAULT_LIMITS.maxEntriesPerDir,
    };
  }

  add(p: string, rule: RuleId, message: string, severity: Severity = 'error', line?: number): void {
    this.findings.push(line === undefined ? { path: p, rule, message, severity } : { path: p, rule, message, severity, line });
  }

  private fsPath(sys: string): string {
    return this.root + sys.slice('/sys'.length);
  }

  lstat(sys: string): SysfsStats | undefined {
    try {
      return this.fs.lstatSync(this.fsPath(sys));
    } catch {
      return undefined;
    }
  }

  list(sys: string): string[] | undefined {
    if (++this.dirsListed > this.limits.maxDirs) {
      this.capHit ??= `more than ${this.limits.maxDirs} directories`;
      return undefined;
    }
    try {
      const names = this.fs.readdirSync(this.fsPath(sys)).map(toText).sort();
      if (names.length > this.limits.maxEntriesPerDir) {
        this.capHit ??= `${sys} has more than ${this.limits.maxEntriesPerDir} entries`;
        return names.slice(0, this.limits.maxEntriesPerDir);
      }
      return names;
    } catch (err) {
      this.add(sys, 'unreadable', `cannot list: ${(err as Error).message}`, 'warning');
      return undefined;
    }
  }

  readlink(sys: string): string | undefined {
    try {
      return toText(this.fs.readlinkSync(this.fsPath(sys)));
    } catch {
      return undefined;
    }
  }

  read(sys: string): Buffer | undefined {
    const hit = this.cache.get(sys);
    if (hit !== undefined) return hit ?? undefined;
    if (this.filesRead >= this.limits.maxFilesRead) {
      this.capHit ??= `more than ${this.limits.maxFilesRead} files to read`;
      return undefined;
    }
    this.filesRead++;
    const max = this.limits.maxBytesPerFile;
    const p = this.fsPath(sys);
    let out: Buffer | null = null;
    // sysfs attributes are regular files; a FIFO, device or socket in a tree someone sent would
    // block the open or the read forever, so it is reported and never opened.
    const st = this.lstat(sys);
    if (st && !st.isFile() && !st.isSymbolicLink() && !st.isDirectory()) {
      this.add(sys, 'unreadable', 'not a regular file (a FIFO, device node or socket); not read', 'warning');
      this.cache.set(sys, null);
      return undefined;
    }
    try {
      const { openSync, readSync, closeSync } = this.fs;
      if (openSync && readSync && closeSync) {
        const fd = openSync.call(this.fs, p, 'r');
        try {
          const buf = Buffer.alloc(max + 1);
          let len = 0;
          for (;;) {
            const n = readSync.call(this.fs, fd, buf, len, buf.length - len, null);
            if (n <= 0) break;
            len += n;
            if (len >= buf.length) break;
          }
          out = buf.subarray(0, len);
        } finally {
          closeSync.call(this.fs, fd);
        }
      } else {
        const raw = this.fs.readFileSync(p);
        out = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : Buffer.from(raw as Uint8Array);
      }
      if (out.length > max) {
        this.add(sys, 'read-cap', `larger than ${max} bytes; only the first ${max} were checked`, 'warning');
        out = out.subarray(0, max);
      }
    } catch (err) {
      this.add(sys, 'unreadable', `cannot read: ${(err as Error).message}`, 'warning');
      out = null;
    }
    this.cache.set(sys, out);
    return out ?? undefined;
  }

  /** Lexical `dir + '/' + rel`; undefined when it climbs above /sys. */
  static lexical(dir: string, rel: string): string | undefined {
    const out = dir.split('/').filter(Boolean);
    for (const c of rel.split('/')) {
      if (c === '' || c === '.') continue;
      if (c === '..') {
        if (out.length <= 1) return undefined;
        out.pop();
      } else out.push(c);
    }
    return `/${out.join('/')}`;
  }

  /** The relative path kernfs writes from `dir` to `target`: up to the common ancestor, then down. */
  static kernfsRelative(dir: string, target: string): string {
    const a = dir.split('/').filter(Boolean);
    const b = target.split('/').filter(Boolean);
    let i = 0;
    while (i < a.length && i < b.length && a[i] === b[i]) i++;
    return [...Array<string>(a.length - i).fill('..'), ...b.slice(i)].join('/');
  }

  /** Canonical path of `sys` inside root, resolving links by hand; never leaves root. */
  resolve(sys: string, hops = 0): Resolved {
    const comps = sys.split('/').filter(Boolean);
    let cur = '/sys';
    for (let i = 1; i < comps.length; i++) {
      const next = `${cur}/${comps[i]}`;
      const st = this.lstat(next);
      if (!st) return { ok: false, why: 'dangling' };
      if (st.isSymbolicLink()) {
        if (hops >= 40) return { ok: false, why: 'loop' };
        const text = this.readlink(next);
        if (text === undefined) return { ok: false, why: 'dangling' };
        if (text.startsWith('/')) return { ok: false, why: 'escape' };
        const base = Walker.lexical(cur, text);
        if (base === undefined) return { ok: false, why: 'escape' };
        const rest = comps.slice(i + 1);
        return this.resolve(rest.length ? `${base}/${rest.join('/')}` : base, hops + 1);
      }
      cur = next;
    }
    return { ok: true, path: cur };
  }

  walkDir(sys: string, dirEntry: SchemaEntry | undefined): void {
    const names = this.list(sys);
    if (!names) return;
    const present = new Set(names);
    for (const name of names) {
      const child = `${sys}/${name}`;
      const st = this.lstat(child);
      if (!st) continue;
      const kind: Kind = st.isSymbolicLink() ? 'link' : st.isDirectory() ? 'dir' : 'file';
      const e = this.schema.match(child, kind);
      if (e) {
        this.checkEntry(child, e, st, kind);
      } else if (dirEntry && (dirEntry.children === 'closed' || this.strict)) {
        this.add(child, 'unknown-attribute', `no schema entry covers this ${kind} in ${sys}${dirEntry.children === 'open' ? ' (strict)' : ''}`);
      } else if (kind === 'dir' && this.schema.isAncestor(child)) {
        this.walkDir(child, undefined);
      }
    }
    if (!dirEntry) return;
    for (const { name, entry } of this.schema.requiredChildren(sys, this.v)) {
      if (!present.has(name)) {
        this.add(`${sys}/${name}`, 'missing-required', `${entry.kind} required since v${entry.kernelVersion.since} (${entry.source}) is missing`);
      }
    }
  }

  private checkEntry(p: string, e: SchemaEntry, st: SysfsStats, kind: Kind): void {
    const want: Kind = e.kind === 'binary' ? 'file' : e.kind;
    if (kind !== want) {
      this.add(p, 'wrong-kind', `is a ${kind}; schema entry ${e.id} says ${e.kind}`);
      return;
    }
    if (!inVersionRange(this.v, e.kernelVersion)) {
      const r = e.kernelVersion;
      const when = inVersionRange(this.v, { since: r.since }) ? `from v${r.until ?? '?'} on` : `before v${r.since}`;
      this.add(p, 'version-gate', `${e.id} does not exist ${when}; kernel is ${formatKernelVersion(this.v)}`);
      return;
    }
    if (kind !== 'link') this.checkMode(p, e, st);
    if (kind === 'dir') this.walkDir(p, e);
    else if (kind === 'link') this.checkLink(p, e);
    else this.checkFile(p, e, st);
  }

  private checkMode(p: string, e: SchemaEntry, st: SysfsStats): void {
    const want = expectedMode(e, this.v);
    const have = st.mode & 0o7777;
    if (want === undefined || have === want) return;
    const o = (n: number): string => `0${n.toString(8).padStart(3, '0')}`;
    const other = modeRangeOf(e, have);
    if (other) {
      this.add(p, 'version-gate', `mode ${o(have)} is the mode from v${other.since}${other.until ? ` until v${other.until}` : ''}; on ${formatKernelVersion(this.v)} it is ${o(want)}`);
    } else {
      this.add(p, 'wrong-mode', `mode ${o(have)}, expected ${o(want)}`);
    }
  }

  private checkFile(p: string, e: SchemaEntry, st: SysfsStats): void {
    if (e.size?.allowed && !e.size.allowed.includes(st.size)) {
      this.add(p, 'config-size', `size ${st.size}, expected one of ${e.size.allowed.join(', ')}`);
    }
    const checks = (e.checks ?? []).filter(c => inVersionRange(this.v, c));
    const needs = e.lineRe || e.contentRe || e.size || checks.length > 0 || e.valueGates;
    if (!needs) return;
    const buf = this.read(p);
    if (!buf) return;
    if (e.size && buf.length < e.size.min) this.add(p, 'config-size', `only ${buf.length} bytes readable, expected at least ${e.size.min}`);
    if (e.kind === 'binary') {
      for (const c of checks) if (c.check === 'pci-config-ids') this.checkPciConfig(p, buf, st);
      return;
    }
    const text = buf.toString('utf8');
    if (e.contentRe && !e.contentRe.test(text)) {
      this.add(p, 'content-grammar', `content ${JSON.stringify(text.slice(0, 80))} does not match ${e.content}${e.format ? ` (format ${e.format})` : ''}`);
    }
    let lines: string[] = [];
    if (e.lineRe) {
      if (text !== '') {
        lines = text.split('\n');
        if (lines[lines.length - 1] === '') lines.pop();
        else this.add(p, 'line-grammar', `line ${lines.length} has no trailing newline`, 'error', lines.length);
      }
      lines.forEach((l, i) => {
        if (!e.lineRe?.test(l)) this.add(p, 'line-grammar', `line ${i + 1} ${JSON.stringify(l)} does not match ${e.line}`, 'error', i + 1);
      });
    }
    for (const g of e.valueGates ?? []) {
      if (inVersionRange(this.v, g)) continue;
      const why = `${JSON.stringify(g.value)} does not exist on ${formatKernelVersion(this.v)} (since v${g.since}${g.until ? `, until v${g.until}` : ''})`;
      if (g.field === undefined) {
        if (text.trim() === g.value) this.add(p, 'version-gate', why);
      } else {
        lines.forEach((l, i) => {
          if (l.split(' ')[g.field ?? 0] === g.value) this.add(p, 'version-gate', `line ${i + 1}: ${why}`, 'error', i + 1);
        });
      }
    }
    const resv = checks.filter(c => c.check.startsWith('resv-'));
    if (resv.length) {
      for (const r of checkReservedRegions(text, resv)) this.add(p, r.rule, r.message, 'error', r.line);
    }
    for (const c of checks) {
      if (c.check === 'pci-modalias') this.checkModalias(p, text);
      if (c.check === 'pci-resource-lines' && e.lineCount) this.checkResourceLines(p, lines.length, e.lineCount);
    }
  }

  private hexAttr(dir: string, name: string, re: RegExp): number | undefined {
    const buf = this.read(`${dir}/${name}`);
    const m = buf ? re.exec(buf.toString('utf8')) : null;
    return m?.[1] !== undefined ? parseInt(m[1], 16) : undefined;
  }

  private pciIds(dir: string): Record<'vendor' | 'device' | 'subsystem_vendor' | 'subsystem_device' | 'class' | 'revision', number | undefined> {
    return {
      vendor: this.hexAttr(dir, 'vendor', /^0x([0-9a-f]{4})\n$/),
      device: this.hexAttr(dir, 'device', /^0x([0-9a-f]{4})\n$/),
      subsystem_vendor: this.hexAttr(dir, 'subsystem_vendor', /^0x([0-9a-f]{4})\n$/),
      subsystem_device: this.hexAttr(dir, 'subsystem_device', /^0x([0-9a-f]{4})\n$/),
      class: this.hexAttr(dir, 'class', /^0x([0-9a-f]{6})\n$/),
      revision: this.hexAttr(dir, 'revision', /^0x([0-9a-f]{2})\n$/),
    };
  }

  /**
   * @see include/uapi/linux/pci_regs.h (register offsets)
   * @see drivers/pci/probe.c:pci_cfg_space_size (extended space probed for host bridges, PCIe and PCI-X 266/533)
   */
  private checkPciConfig(p: string, cfg: Buffer, st: SysfsStats): void {
    if (cfg.length < 64) return;
    const dir = path.posix.dirname(p);
    const ids = this.pciIds(dir);
    const header = (cfg[0x0e] ?? 0) & 0x7f;
    const fromCfg: [keyof typeof ids, number, string][] = [
      ['vendor', cfg.readUInt16LE(0x00), 'config[0x00..0x01]'],
      ['device', cfg.readUInt16LE(0x02), 'config[0x02..0x03]'],
      ['revision', cfg[0x08] ?? 0, 'config[0x08]'],
      ['class', (cfg[0x09] ?? 0) | ((cfg[0x0a] ?? 0) << 8) | ((cfg[0x0b] ?? 0) << 16), 'config[0x09..0x0b]'],
    ];
    if (header === 0) {
      fromCfg.push(['subsystem_vendor', cfg.readUInt16LE(0x2c), 'config[0x2c..0x2d]']);
      fromCfg.push(['subsystem_device', cfg.readUInt16LE(0x2e), 'config[0x2e..0x2f]']);
    }
    for (const [attr, val, where] of fromCfg) {
      const text = ids[attr];
      if (text !== undefined && text !== val) {
        this.add(p, 'config-mismatch', `${attr} is 0x${text.toString(16)} but ${where} holds 0x${val.toString(16)}`);
      }
    }
    const caps = new Set<number>();
    if (((cfg[0x06] ?? 0) & 0x10) !== 0) {
      let ptr = (cfg[0x34] ?? 0) & 0xfc;
      for (let n = 0; ptr >= 0x40 && ptr + 1 < cfg.length && n < 48; n++) {
        caps.add(cfg[ptr] ?? 0);
        ptr = (cfg[ptr + 1] ?? 0) & 0xfc;
      }
    }
    const pcie = caps.has(0x10);
    const hostBridge = (cfg[0x0b] ?? 0) === 0x06 && (cfg[0x0a] ?? 0) === 0x00;
    if (st.size === 4096 && !pcie && !caps.has(0x07) && !hostBridge) {
      this.add(p, 'config-size', '4096-byte config space but no PCI Express (0x10) or PCI-X (0x07) capability and not a host bridge');
    } else if (st.size === 256 && pcie) {
      this.add(p, 'config-size', 'PCI Express device with a 256-byte config space (extended space not accessible)', 'warning');
    }
  }

  /** @see drivers/pci/pci-sysfs.c:modalias_show */
  private checkModalias(p: string, text: string): void {
    const i = this.pciIds(path.posix.dirname(p));
    if (i.vendor === undefined || i.device === undefined || i.subsystem_vendor === undefined || i.subsystem_device === undefined || i.class === undefined) return;
    const want = `pci:v${pad(i.vendor, 8)}d${pad(i.device, 8)}sv${pad(i.subsystem_vendor, 8)}sd${pad(i.subsystem_device, 8)}bc${pad(i.class >> 16, 2)}sc${pad((i.class >> 8) & 0xff, 2)}i${pad(i.class & 0xff, 2)}\n`;
    if (text !== want) this.add(p, 'modalias-mismatch', `is ${JSON.stringify(text)}, the id attributes give ${JSON.stringify(want)}`);
  }

  private checkResourceLines(p: string, n: number, lc: { endpoint: readonly number[]; bridge: readonly number[] }): void {
    const cfg = this.read(`${path.posix.dirname(p)}/config`);
    const header = cfg && cfg.length > 0x0e ? (cfg[0x0e] ?? 0) & 0x7f : undefined;
    const allowed = header === 1 ? lc.bridge : header === 0 ? lc.endpoint : [...lc.endpoint, ...lc.bridge];
    if (!allowed.includes(n)) {
      const what = header === 1 ? 'a bridge' : header === 0 ? 'an endpoint' : 'a device';
      this.add(p, 'line-count', `${n} lines; ${what} has ${allowed.join(' or ')} (with/without CONFIG_PCI_IOV)`);
    }
  }

  private checkLink(p: string, e: SchemaEntry): void {
    const rule = e.link;
    const text = this.readlink(p);
    if (!rule || text === undefined) return;
    const dir = path.posix.dirname(p);
    if (text.startsWith('/')) {
      this.add(p, 'link-depth', `absolute link ${JSON.stringify(text)}; kernfs writes relative links`);
      return;
    }
    const matches = (t: string | undefined): boolean => t !== undefined && e.targetPatterns.some(tp => matchPattern(tp, t));
    const targets = e.targetPatterns.map(tp => tp.source).join(' | ');
    const target = Walker.lexical(dir, text);
    if (!matches(target)) {
      const ups = /^(?:\.\.\/)*/.exec(text)?.[0].length ?? 0;
      const rest = text.slice(ups);
      const depth = dir.split('/').filter(Boolean).length - 1;
      for (let k = 0; k <= depth; k++) {
        if (k * 3 === ups) continue;
        if (matches(Walker.lexical(dir, '../'.repeat(k) + rest))) {
          this.add(p, 'link-depth', `${JSON.stringify(text)} has ${ups / 3} '../', expected ${k} (the link's directory is ${depth} below /sys)`);
          return;
        }
      }
      this.add(p, 'link-target', `${JSON.stringify(text)} resolves to ${target ?? 'above /sys'}, which matches none of ${targets}`);
      return;
    }
    const t = target as string;
    const canon = Walker.kernfsRelative(dir, t);
    if (text !== canon) this.add(p, 'link-depth', `${JSON.stringify(text)} is not the path kernfs writes: ${JSON.stringify(canon)}`);
    const base = path.posix.basename(t);
    const name = path.posix.basename(p);
    if (rule.basename === 'name' && base !== name) {
      this.add(p, 'link-target', `link name ${name} differs from its target ${base}`);
    } else if (rule.basename === 'name-or-suffixed' && base !== name && !(name.startsWith(`${base}.`) && /^\d+$/.test(name.slice(base.length + 1)))) {
      this.add(p, 'link-target', `link name ${name} is neither its target ${base} nor ${base}.<n>`);
    }
    const r = this.resolve(t);
    if (!r.ok) {
      if (r.why === 'dangling') this.add(p, 'dangling-link', `target ${t} does not exist`);
      else this.add(p, 'link-escape', `target ${t} ${r.why === 'loop' ? 'loops' : 'leaves the validated root'} while being resolved`);
      return;
    }
    this.links.push({ path: p, entry: e, target: r.path });
  }

  checkBacklinks(): void {
    for (const rec of this.links) {
      const bl = rec.entry.link?.backlink;
      if (!bl) continue;
      const parent = path.posix.dirname(rec.path);
      const owner = bl.owner === 'parent' ? parent : path.posix.dirname(parent);
      const pointsBack = (link: string): boolean => {
        const st = this.lstat(link);
        if (!st?.isSymbolicLink()) return false;
        const r = this.resolve(link);
        return r.ok && r.path === owner;
      };
      let ok: boolean;
      if (bl.via === '*' || bl.via.endsWith('/*')) {
        const dir = bl.via === '*' ? rec.target : `${rec.target}/${bl.via.slice(0, -2)}`;
        ok = (this.list(dir) ?? []).some(n => pointsBack(`${dir}/${n}`));
      } else {
        ok = pointsBack(`${rec.target}/${bl.via}`);
      }
      if (!ok) {
        const where = bl.via.endsWith('*') ? `any link in ${rec.target}${bl.via === '*' ? '' : `/${bl.via.slice(0, -2)}`}` : `${rec.target}/${bl.via}`;
        this.add(rec.path, bl.rule, `points to ${rec.target}, but ${where} does not point back to ${owner}`);
      }
    }
  }

  finish(): void {
    if (this.capHit) this.add('/sys', 'read-cap', `stopped early: ${this.capHit}; findings are partial`, 'warning');
  }
}

/**
 * Validates the sysfs tree at `root` (the directory playing `/sys`) against the schema.
 * Bad input (no such root) throws a plain Error; violations are returned as findings, sorted.
 */
export function validateSysfsTree(fs: SysfsFs, root: string, options: ValidateOptions): Finding[] {
  const v = typeof options.kernelVersion === 'string' ? kernelVersion(options.kernelVersion) : options.kernelVersion;
  const rootPath = root.length > 1 ? root.replace(/\/+$/, '') : root;
  let st: SysfsStats;
  try {
    st = fs.statSync(rootPath);
  } catch (err) {
    throw new Error(`validateSysfsTree: root ${JSON.stringify(root)} does not exist (${(err as Error).message})`);
  }
  if (!st.isDirectory()) throw new Error(`validateSysfsTree: root ${JSON.stringify(root)} is not a directory`);
  const w = new Walker(fs, rootPath, v, options.schema ?? sysfsSchema(), options.strict ?? false, options);
  if (options.requireGroups !== false) {
    const groups = w.lstat('/sys/kernel/iommu_groups');
    if (!groups || (groups.isDirectory() && (w.list('/sys/kernel/iommu_groups') ?? []).length === 0)) {
      return [{ path: '/sys/kernel/iommu_groups', rule: 'no-iommu-groups', message: `no iommu_groups: ${groups ? 'the directory is empty' : 'the directory is absent'}`, severity: 'info' }];
    }
  }
  w.walkDir('/sys', undefined);
  w.checkBacklinks();
  w.finish();
  return w.findings.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0) || (a.line ?? 0) - (b.line ?? 0) || a.rule.localeCompare(b.rule));
}

/** Findings that are violations (error or warning), i.e. not `info`. */
export const violations = (fs: readonly Finding[]): Finding[] => fs.filter(f => f.severity !== 'info');
