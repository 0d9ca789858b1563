// SPDX-License-Identifier: GPL-2.0-only
/**
 * Host topology files (JSON or YAML) → a validated, normalized `Topology`.
 * Structure is checked by the JSON Schema in ./schema.json (ajv); references between parts
 * (parents, units, firmware scopes) are checked here. Every problem names the file, the path
 * inside it (`devices[3].bdf`) and what was expected; nothing is built from a bad file.
 */
import Ajv, { ErrorObject } from 'ajv';
import * as YAML from 'yaml';
import { parseU64 } from '../kernel/string';
import { parseKernelVersion } from '../kernel/version';
import { FEATURES, isFeature } from '../kernel/profile';
import type { KernelFeatureOverrides } from '../kernel/profile';
import schemaJson from './schema.json';

export type IommuDriver =
  | 'intel-iommu'
  | 'amd-iommu'
  | 'arm-smmu'
  | 'arm-smmu-v3'
  | 'virtio-iommu'
  | 'apple-dart'
  | 's390-iommu'
  | 'sun50i-iommu';

export type Arch = 'x86_64' | 'aarch64' | 's390x' | 'riscv64' | 'ppc64le';

/** A topology document as written (numbers may be strings): generated from ./schema.json. */
export type { TopologyInput } from './input';
import type { TopologyInput } from './input';
/** One `devices[]` entry of a topology document. */
export type DeviceInput = TopologyInput['devices'][number];
/** One `iommus[]` entry of a topology document. */
export type IommuInput = TopologyInput['iommus'][number];

export interface TopologyIssue {
  readonly file: string;
  /** `devices[3].bdf`; empty for the whole document. */
  readonly path: string;
  readonly message: string;
}

/** Where the format is explained; every topology error ends by pointing there. */
export const TOPOLOGY_GUIDE = 'docs/topology.md';

export class TopologyError extends Error {
  override readonly name = 'TopologyError';
  constructor(readonly issues: readonly TopologyIssue[]) {
    super(
      issues.map((i) => `${i.file}: ${i.path || '(document)'}: ${i.message}`).join('\n') +
        `\n(the topology format, field by field: ${TOPOLOGY_GUIDE})`,
    );
  }
}

let validator: ReturnType<Ajv['compile']> | undefined;
function validate(doc: unknown): ErrorObject[] {
  // Compiled once per process: a pure function of the bundled schema, not machine state.
  validator ??= new Ajv({ allErrors: true, strict: true, allowUnionTypes: true })
    // "maxU64": a numeric string must fit in 64 bits (a regex cannot say that for decimals).
    .addKeyword({ keyword: 'maxU64', type: 'string', schemaType: 'boolean', validate: (on: boolean, s: string) => !on || parseU64(s) !== undefined })
    .compile(schemaJson);
  return validator(doc) ? [] : [...(validator.errors ?? [])];
}

const NUMBER_FORMS: Record<string, string> = {
  u64: 'must be a non-negative integer, or a string in hex (0x…) or decimal, below 2^64',
  id16: 'must be an integer 0..0xffff or a "0x…" string of up to 4 hex digits',
  id24: 'must be an integer 0..0xffffff or a "0x…" string of up to 6 hex digits',
  id8: 'must be an integer 0..0xff or a "0x…" string of up to 2 hex digits',
  deviceRef: 'must be a PCI address like "0000:00:1f.0" or the name of a platformDevices[] entry',
};

/** What a string with a fixed shape looks like, by schema definition (or path). */
const PATTERN_FORMS: Record<string, string> = {
  bdf: 'must be a PCI address domain:bus:slot.function in lowercase hex, like "0000:00:1f.0"',
  kernel: 'must be a kernel version like "6.8", "5.4.7", "5.5-rc3", "5.14.0-70.el9" or "latest"',
  'kernel.version': 'must be a kernel version like "6.8", "5.4.7", "5.5-rc3", "5.14.0-70.el9" or "latest"',
};

/** `/devices/3/bdf` → `devices[3].bdf` */
export function jsonPointerToPath(ptr: string): string {
  let out = '';
  for (const raw of ptr.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^\d+$/.test(seg)) out += `[${seg}]`;
    else out += /^[A-Za-z_$][\w$-]*$/.test(seg) ? (out ? `.${seg}` : seg) : `[${JSON.stringify(seg)}]`;
  }
  return out;
}

function describeAjvError(e: ErrorObject): { path: string; message: string } {
  let path = jsonPointerToPath(e.instancePath);
  const p = e.params as Record<string, unknown>;
  let message: string;
  switch (e.keyword) {
    case 'additionalProperties':
      path = path ? `${path}.${String(p.additionalProperty)}` : String(p.additionalProperty);
      message = 'unknown property';
      break;
    case 'required':
      path = path ? `${path}.${String(p.missingProperty)}` : String(p.missingProperty);
      message = 'is required';
      break;
    case 'propertyNames':
      path = `${path}.${String(p.propertyName)}`;
      message = 'is not a profile row (the FEATURES names of lib/kernel/profile.ts)';
      break;
    case 'enum':
      if (e.schemaPath.includes('/propertyNames/')) return { path: '', message: '' };
      message = `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
      break;
    case 'pattern':
      message = PATTERN_FORMS[/#\/definitions\/(\w+)\//.exec(e.schemaPath)?.[1] ?? ''] ?? PATTERN_FORMS[path] ?? `must match ${String(p.pattern)}`;
      break;
    default:
      message = e.message ?? e.keyword;
  }
  return { path, message };
}

export interface ParseOptions {
  /** Name used in error messages (a file path, or `<builtin:NAME>`). */
  readonly file?: string;
  /** Forces the syntax; by default `.yaml`/`.yml` files and non-JSON text are read as YAML. */
  readonly format?: 'json' | 'yaml';
}

/** Parse text (JSON or YAML) into a validated Topology. Throws TopologyError. */
export function parseTopology(text: string, opts: ParseOptions = {}): Topology {
  const file = opts.file ?? '<topology>';
  const format = opts.format ?? (/\.ya?ml$/i.test(file) ? 'yaml' : /^\s*[{[]/.test(text) ? 'json' : 'yaml');
  let doc: unknown;
  let kernelText: string | undefined;
  try {
    // Integers past 2^53 are read exactly: JSON literals become decimal strings, YAML integers
    // come back as bigints (then a number when safe, else a decimal string).
    if (format === 'json') doc = JSON.parse(quoteBigJsonIntegers(text));
    else {
      const d = YAML.parseDocument(text, { prettyErrors: true, intAsBigInt: true });
      if (d.errors.length) {
        throw new TopologyError(
          d.errors.map((e) => ({ file, path: '', message: `YAML syntax: ${e.message.split('\n')[0]}` })),
        );
      }
      doc = unBigInt(d.toJS());
      const k = d.get('kernel', true);
      if (YAML.isScalar(k) && typeof k.value === 'number' && k.range) kernelText = text.slice(k.range[0], k.range[1]);
    }
  } catch (e) {
    if (e instanceof TopologyError) throw e;
    throw new TopologyError([{ file, path: '', message: `${format.toUpperCase()} syntax: ${(e as Error).message}` }]);
  }
  if (kernelText !== undefined)
    throw new TopologyError([{ file, path: 'kernel', message: `${kernelText} unquoted is the YAML number ${String((doc as Raw).kernel)}, not a version: write kernel: "${kernelText}"` }]);
  return topologyFromJSON(doc, file);
}

/** Wrap JSON integer literals that a double cannot hold exactly in quotes (outside strings). */
export function quoteBigJsonIntegers(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      const m = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400))!;
      const tok = m ? m[0] : c;
      out += m && !m[1] && !m[2] && !Number.isSafeInteger(Number(tok)) ? `"${tok}"` : tok;
      i += tok.length;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

function unBigInt(v: unknown): unknown {
  if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  if (Array.isArray(v)) return v.map(unBigInt);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unBigInt(x)]));
  return v;
}

/**
 * Numbers a double holds only approximately (1e20, 18446744073709551615 from a JS object). An
 * explicit stack, so that a document nested 100,000 deep reaches the schema's own error.
 */
function inexactNumbers(doc: unknown, root: string, out: { path: string; value: number }[]): void {
  const stack: [unknown, string][] = [[doc, root]];
  while (stack.length) {
    const [v, at] = stack.pop()!;
    if (typeof v === 'number' && Number.isFinite(v) && Math.abs(v) > Number.MAX_SAFE_INTEGER) out.push({ path: at, value: v });
    else if (Array.isArray(v)) for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${at}[${i}]`]);
    else if (v && typeof v === 'object')
      for (const [k, x] of Object.entries(v).reverse()) stack.push([x, /^[A-Za-z_$][\w$-]*$/.test(k) ? (at ? `${at}.${k}` : k) : `${at}[${JSON.stringify(k)}]`]);
  }
}

/** `/firmware/rmrr/0/base` → the value in the document. */
function valueAt(doc: unknown, ptr: string): unknown {
  let cur: unknown = doc;
  for (const raw of ptr.split('/').slice(1)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[raw.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return cur;
}

/** Fields whose values become sysfs directory names (checked by sysfsNameProblem). */
const SYSFS_NAME_FIELD = /^\/(?:iommus\/\d+\/name|devices\/\d+\/driver)$/;

/**
 * `t` built with `kconfig` over its own options, validated again under the name `file`: Kconfig's
 * `depends on` lines are topology errors (CONFIG_IOMMUFD_VFIO_CONTAINER without CONFIG_IOMMUFD, …).
 */
export function withKconfig(t: Topology, kconfig: Partial<Kconfig>, file = '<topology>'): Topology {
  return topologyFromJSON({ ...t.source, kconfig: { ...(t.source.kconfig ?? {}), ...kconfig } }, file);
}

/** Validate a parsed document (the memfs `fromJSON` idiom). Throws TopologyError. */
export function topologyFromJSON(doc: unknown, file = '<topology>'): Topology {
  const inexact: { path: string; value: number }[] = [];
  inexactNumbers(doc, '', inexact);
  if (inexact.length)
    throw new TopologyError(
      inexact.map(({ path, value }) => ({ file, path, message: `${value} is past 2^53, where numbers lose digits: write it as a quoted string ("0x…" or decimal)` })),
    );
  const errs = validate(doc);
  if (errs.length) {
    // A value that fails an anyOf (numbers written as integers or strings) gets one message that
    // says what the definition accepts, instead of one line per failed branch.
    const anyOf = new Map<string, string>();
    for (const e of errs) {
      // A definition compiled on its own reports its anyOf as "#/anyOf": name it by its branches.
      const branches = errs.filter((b) => b !== e && b.instancePath === e.instancePath).map((b) => /#\/definitions\/(\w+)\//.exec(b.schemaPath)?.[1]);
      const def = /#\/definitions\/(\w+)\/anyOf$/.exec(e.schemaPath)?.[1] ?? (branches.includes('bdf') && branches.includes('platformName') ? 'deviceRef' : undefined);
      const value = valueAt(doc, e.instancePath);
      if (e.keyword === 'anyOf' && def) {
        const big = def === 'u64' && typeof value === 'string' && /^(0x[0-9a-fA-F]+|[0-9]+)$/.test(value.replace(/_/g, ''));
        anyOf.set(e.instancePath, big ? `${value} exceeds 64 bits (the largest u64 is 0xffffffffffffffff)` : NUMBER_FORMS[def] ?? 'has the wrong form');
      } else if (e.keyword === 'anyOf' && e.instancePath === '/kernel' && typeof value !== 'object') {
        anyOf.set(
          e.instancePath,
          typeof value === 'number'
            ? `is the number ${value}, not a version: quote it (kernel: "${value}"; an unquoted 5.10 reads as 5.1)`
            : PATTERN_FORMS.kernel!,
        );
      }
    }
    // The object form of kernel: only its own branch's errors matter.
    const kernelObj = typeof valueAt(doc, '/kernel') === 'object';
    const seen = new Set<string>();
    const issues: TopologyIssue[] = [];
    for (const e of errs) {
      const d = anyOf.has(e.instancePath)
        ? { path: jsonPointerToPath(e.instancePath), message: anyOf.get(e.instancePath)! }
        : describeAjvError(e);
      if (!d.message) continue;
      // A sysfs name the pattern refuses for a reason the kernel states: say that reason.
      if (e.keyword === 'pattern' && SYSFS_NAME_FIELD.test(e.instancePath)) {
        const why = sysfsNameProblem(String(valueAt(doc, e.instancePath)));
        if (why) d.message = `${d.message}: ${why}`;
      }
      if (seen.has(`${d.path}\0${d.message}`) || (e.keyword === 'anyOf' && !anyOf.has(e.instancePath))) continue;
      if (kernelObj && e.schemaPath.startsWith('#/properties/kernel/anyOf/0')) continue;
      if (!anyOf.has(e.instancePath) && /^\/kernel(\/version)?$/.test(e.instancePath) && anyOf.has('/kernel')) continue;
      seen.add(`${d.path}\0${d.message}`);
      issues.push({ file, ...d });
    }
    throw new TopologyError(issues);
  }
  return normalize(doc as RawTopology, file);
}

// ---- normalized shape --------------------------------------------------------------------

export interface IommuSpec {
  readonly name: string;
  readonly driver: IommuDriver;
  readonly bdf?: string;
  readonly base?: bigint;
  readonly addressWidth?: number;
  readonly pgsizes?: bigint;
  readonly interruptRemapping: boolean;
  readonly htRangeIgnore: boolean;
  readonly msiDoorbell?: bigint;
  readonly pageSize?: number;
  /** VT-d CAP_REG/ECAP_REG, AMD-Vi capability header/EFR (default: derived from the spec). */
  readonly cap?: bigint;
  readonly ecap?: bigint;
}

export interface BarSpec {
  readonly index: number;
  readonly size: bigint;
  readonly address?: bigint;
  readonly type: 'mem32' | 'mem64' | 'io';
  readonly prefetchable: boolean;
  readonly mmap: boolean;
  readonly sparse?: readonly { offset: bigint; size: bigint }[];
}

export interface DeviceSpec {
  readonly bdf: string;
  readonly name?: string;
  readonly vendor: number;
  readonly device: number;
  readonly class: number;
  readonly revision: number;
  readonly subsystem_vendor: number;
  readonly subsystem_device: number;
  readonly driver: string | null;
  readonly driver_override?: string;
  readonly parent?: string;
  readonly acs?: boolean;
  readonly multifunction?: boolean;
  /** undefined: the first unit; null: not behind any IOMMU. */
  readonly iommu: string | null | undefined;
  readonly group?: string;
  readonly irq: number;
  readonly numa_node: number;
  readonly pcie: boolean;
  /** PCIe LnkCap: GT/s and lanes (a normalized topology always has them; see pcieLinkCap). */
  readonly linkSpeed?: number;
  readonly linkWidth?: number;
  readonly bars: readonly BarSpec[];
  /** Expansion ROM size. */
  readonly rom?: bigint;
  /** Where the ROM BAR points (default: assigned with the other BARs). */
  readonly romAddress?: bigint;
  /** Bridges: recorded forwarding windows (default: the hull of what is below). */
  readonly windows?: { readonly io?: AddrRange; readonly mem?: AddrRange; readonly pref?: AddrRange };
  readonly msi: number;
  readonly msix: number;
  readonly intx: boolean;
  readonly streamIds?: readonly number[];
  /** NICs on a network driver: the interface name (default: udev's path name, en[P<domain>]p<bus>s<slot>[f<fn>]) and MAC. */
  readonly ifname?: string;
  readonly mac?: string;
  readonly startDma?: bigint;
  readonly endDma?: bigint;
  readonly resetMethods: readonly string[];
  /** Recorded `get_resv_regions` output replacing the driver's rules (inclusive ends). */
  readonly resvRegions?: readonly RecordedResvRegion[];
  /** Recorded config space bytes, replayed as they are. */
  readonly config?: Uint8Array;
}

/** A non-PCI device behind an IOMMU (an ACPI device or a device-tree node). */
export interface PlatformDeviceSpec {
  readonly name: string;
  readonly description?: string;
  /** ACPI _HID (ACPI machines) or the DT compatible (device-tree machines): exactly one. */
  readonly hid?: string;
  readonly compatible?: string;
  /** undefined: the first unit; null: not behind any IOMMU. */
  readonly iommu: string | null | undefined;
  readonly driver: string | null;
  readonly group?: string;
  readonly streamIds?: readonly number[];
}

export type ResvTypeName = 'direct' | 'direct-relaxable' | 'reserved' | 'msi' | 'sw-msi';

export interface RecordedResvRegion {
  readonly start: bigint;
  readonly end: bigint;
  readonly type: ResvTypeName;
}

export interface AddrRange {
  readonly start: bigint;
  readonly end: bigint;
}

export interface FirmwareSpec {
  readonly rmrr: readonly { base: bigint; end: bigint; devices: readonly string[] }[];
  /** IVMD start + length as written in the table (the kernel page-aligns both). */
  readonly ivmd: readonly { start: bigint; length: bigint; devices: readonly string[]; exclusion: boolean; read: boolean; write: boolean }[];
  readonly iortRmr: readonly { base: bigint; length: bigint; devices: readonly string[]; remapPermitted: boolean }[];
  readonly its: readonly { base: bigint; devices?: readonly string[] }[];
  readonly dtIommuAddresses: readonly { device: string; iova: bigint; length: bigint; reg?: { start: bigint; length: bigint } }[];
  readonly virtioIommuProbe: readonly { start: bigint; end: bigint; subtype: 'reserved' | 'msi'; devices?: readonly string[] }[];
  readonly pciHostBridgeWindows: readonly AddrRange[];
}

export interface NumaNodeSpec {
  readonly id: number;
  /** Logical CPU numbers, ascending. */
  readonly cpus: readonly number[];
  /** Memory on the node in bytes (default 16 GiB). */
  readonly memory: bigint;
}

export interface Cmdline {
  readonly 'iommu.passthrough'?: boolean;
  readonly 'iommu.strict'?: boolean;
  readonly 'vfio_iommu_type1.allow_unsafe_interrupts'?: boolean;
  readonly 'vfio_iommu_type1.dma_entry_limit'?: number;
  readonly 'vfio.enable_unsafe_noiommu_mode'?: boolean;
  readonly 'iommufd.allow_unsafe_interrupts'?: boolean;
}

/** Kernel build options that change what sysfs shows. */
export interface Kconfig {
  /** vfio + vfio-pci loaded. */
  readonly CONFIG_VFIO: boolean;
  readonly CONFIG_PCI_IOV: boolean;
  readonly CONFIG_INTEL_IOMMU_FLOPPY_WA: boolean;
  /** The legacy container (/dev/vfio/vfio from vfio.ko, the type1 backend). */
  readonly CONFIG_VFIO_CONTAINER: boolean;
  /** /dev/iommu. */
  readonly CONFIG_IOMMUFD: boolean;
  /** iommufd's /dev/vfio/vfio compatibility container. */
  readonly CONFIG_IOMMUFD_VFIO_CONTAINER: boolean;
  /** The selftest mock IOMMU driver and IOMMU_TEST_CMD (tools/testing/selftests/iommu). */
  readonly CONFIG_IOMMUFD_TEST: boolean;
  /** /dev/vfio/devices/vfioN (depends on IOMMUFD). */
  readonly CONFIG_VFIO_DEVICE_CDEV: boolean;
}

export interface Topology {
  readonly name: string;
  readonly description?: string;
  /** The kernel version text ("6.8", "5.14.0-70.el9", "latest"). */
  readonly kernel: string;
  /** A vendor kernel's backports (on) or reverts (off) against its version's profile rows. */
  readonly kernelFeatures: KernelFeatureOverrides;
  readonly arch: Arch;
  readonly cmdline: Cmdline;
  readonly kconfig: Kconfig;
  readonly iommus: readonly IommuSpec[];
  readonly devices: readonly DeviceSpec[];
  readonly platformDevices: readonly PlatformDeviceSpec[];
  readonly firmware: FirmwareSpec;
  /** Driver name → the module that registers it, where the built-in table does not know it. */
  readonly modules: Readonly<Record<string, { readonly name: string; readonly builtin: boolean }>>;
  /** NUMA nodes and their CPUs (default: one node per numa_node the devices name, 4 CPUs each). */
  readonly nodes: readonly NumaNodeSpec[];
  /** The validated document as written, for round trips (record → replay). */
  readonly source: TopologyInput;
}

type Raw = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type RawTopology = Raw;

const num = (v: unknown): number => Number(parseU64(v) ?? 0n);
const big = (v: unknown): bigint => parseU64(v) ?? 0n;
const optBig = (v: unknown): bigint | undefined => (v === undefined ? undefined : parseU64(v));

export function defaultUnitName(driver: IommuDriver, index: number, spec: Raw): string {
  switch (driver) {
    case 'intel-iommu':
      return `dmar${index}`;
    case 'amd-iommu':
      return `ivhd${index}`;
    case 'arm-smmu-v3':
      return `smmu3.0x${big(spec.base).toString(16).padStart(16, '0')}`;
    case 'arm-smmu':
      return `smmu.0x${big(spec.base).toString(16).padStart(16, '0')}`;
    case 'virtio-iommu':
      return `virtio${index}`;
    case 'apple-dart':
      return `dart.${index}`;
    case 's390-iommu':
      return `s390-iommu.${index}`;
    case 'sun50i-iommu':
      // dev_name() of its DT node: <unit-address>.iommu
      return `${big(spec.base).toString(16)}.iommu`;
  }
}

/**
 * A recorded config space: at least the 64-byte header, at most the device's space (256 bytes,
 * 4096 for PCIe), zero-extended to it; its ids must agree with the ones written beside it.
 */
function recordedConfig(d: Raw, at: string, bad: (path: string, message: string) => void): Uint8Array | undefined {
  const given = Buffer.from(d.config as string, 'hex');
  const size = (d.pcie ?? true) ? 4096 : 256;
  if (given.length < 64 || given.length > size) {
    bad(`${at}.config`, `must hold 64 to ${size} bytes for this device (has ${given.length})`);
    return undefined;
  }
  const bytes = new Uint8Array(size);
  bytes.set(given);
  const v = new DataView(bytes.buffer);
  if (v.getUint16(0, true) !== num(d.vendor) || v.getUint16(2, true) !== num(d.device))
    bad(`${at}.config`, `bytes 0-3 (vendor 0x${v.getUint16(0, true).toString(16).padStart(4, '0')}, device 0x${v.getUint16(2, true).toString(16).padStart(4, '0')}) do not match vendor/device`);
  else if (v.getUint32(8, true) >>> 8 !== num(d.class)) bad(`${at}.config`, 'bytes 9-11 do not match class');
  return bytes;
}

/**
 * Why `name` cannot name a sysfs directory or link (a kobject), or undefined when it can. kernfs
 * itself checks nothing but duplicates, so the rules come from around it: an empty name is
 * refused (kobject_add_internal, -EINVAL); '/' is rewritten to '!' (kobject_set_name_vargs), so
 * the directory would not carry the name the topology uses; and '.' / '..' are taken by path
 * lookup for the directory and its parent before any filesystem is asked (link_path_walk), so
 * such an entry could never be reached.
 * @see lib/kobject.c:kobject_set_name_vargs, lib/kobject.c:kobject_add_internal,
 *      fs/kernfs/dir.c:kernfs_add_one, fs/namei.c:link_path_walk
 */
export function sysfsNameProblem(name: string): string | undefined {
  if (name === '') return 'must not be empty (the kernel refuses to register an unnamed kobject)';
  if (name === '.' || name === '..')
    return `${JSON.stringify(name)} cannot name a sysfs entry: path lookup takes it for the directory itself or its parent, so the entry could never be reached`;
  if (name.includes('/')) return `must not contain "/" (the kernel would register it as ${JSON.stringify(name.replaceAll('/', '!'))})`;
  if (name.includes('\0')) return 'must not contain a NUL byte';
  return undefined;
}

/** `0-3,8,10-11` → [0,1,2,3,8,10,11]; undefined when malformed. @see lib/bitmap.c:bitmap_parselist */
export function parseCpuList(text: string): number[] | undefined {
  const out = new Set<number>();
  for (const part of text.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) return undefined;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a || b > 8191) return undefined;
    for (let c = a; c <= b; c++) out.add(c);
  }
  return [...out].sort((x, y) => x - y);
}

function normalize(raw: RawTopology, file: string): Topology {
  const issues: TopologyIssue[] = [];
  const bad = (path: string, message: string) => issues.push({ file, path, message });
  const windowsOf = (w: Raw, at: string): DeviceSpec['windows'] => {
    const out: Record<string, AddrRange> = {};
    for (const k of ['io', 'mem', 'pref'] as const) {
      if (!w[k]) continue;
      const r = { start: big(w[k].start), end: big(w[k].end) };
      if (r.end < r.start) bad(`${at}.${k}.end`, `end 0x${r.end.toString(16)} must be ≥ start 0x${r.start.toString(16)}`);
      out[k] = r;
    }
    return out;
  };

  const kernelText: string = typeof raw.kernel === 'object' ? raw.kernel.version : raw.kernel;
  if (!parseKernelVersion(kernelText === 'latest' ? '0.0' : kernelText)) bad('kernel', PATTERN_FORMS.kernel!);
  const kernelFeatures: Record<string, boolean> = {};
  for (const [f, on] of Object.entries((typeof raw.kernel === 'object' && raw.kernel.features) || {})) {
    if (isFeature(f)) kernelFeatures[f] = on as boolean;
    else bad(`kernel.features.${f}`, `is not a profile row (have: ${Object.keys(FEATURES).join(', ')})`);
  }

  const perDriver = new Map<string, number>();
  const iommus: IommuSpec[] = (raw.iommus as Raw[]).map((u, i) => {
    const n = perDriver.get(u.driver) ?? 0;
    perDriver.set(u.driver, n + 1);
    if ((u.driver === 'arm-smmu-v3' || u.driver === 'arm-smmu' || u.driver === 'sun50i-iommu') && u.base === undefined && u.name === undefined)
      bad(`iommus[${i}].base`, `is required for ${u.driver} (it names the unit smmu…0x<base>)`);
    return {
      name: u.name ?? defaultUnitName(u.driver, n, u),
      driver: u.driver,
      bdf: u.bdf,
      base: optBig(u.base),
      addressWidth: u.addressWidth,
      pgsizes: optBig(u.pgsizes),
      interruptRemapping: u.interruptRemapping ?? true,
      htRangeIgnore: u.htRangeIgnore ?? false,
      msiDoorbell: optBig(u.msiDoorbell),
      pageSize: u.pageSize,
      cap: optBig(u.cap),
      ecap: optBig(u.ecap),
    };
  });
  const unitNames = new Set<string>();
  iommus.forEach((u, i) => {
    const why = sysfsNameProblem(u.name);
    if (why) bad(`iommus[${i}].name`, `${why} (it names /sys/class/iommu/${u.name})`);
    if (unitNames.has(u.name)) bad(`iommus[${i}].name`, `duplicate IOMMU unit name ${JSON.stringify(u.name)}`);
    unitNames.add(u.name);
  });

  const bdfs = new Map<string, number>();
  (raw.devices as Raw[]).forEach((d, i) => {
    if (bdfs.has(d.bdf)) bad(`devices[${i}].bdf`, `duplicate device ${d.bdf} (first at devices[${bdfs.get(d.bdf)}])`);
    else bdfs.set(d.bdf, i);
  });
  // Interface names are unique: register_netdevice refuses a taken one (EEXIST).
  const ifnames = new Map<string, number>();
  (raw.devices as Raw[]).forEach((d, i) => {
    if (d.ifname === undefined) return;
    if (ifnames.has(d.ifname)) bad(`devices[${i}].ifname`, `interface ${d.ifname} is also devices[${ifnames.get(d.ifname)}]'s`);
    else ifnames.set(d.ifname, i);
  });
  const isBridge = (bdf: string) => {
    const i = bdfs.get(bdf);
    return i !== undefined && num((raw.devices as Raw[])[i]!.class) >> 8 === 0x0604;
  };

  const checkRange = (path: string, start: bigint, end: bigint, inclusive: boolean) => {
    if (inclusive ? end < start : end <= start) bad(path, `end 0x${end.toString(16)} must be ${inclusive ? '≥' : '>'} start 0x${start.toString(16)}`);
  };
  const devices: DeviceSpec[] = (raw.devices as Raw[]).map((d, i) => {
    const at = `devices[${i}]`;
    const drvWhy = typeof d.driver === 'string' ? sysfsNameProblem(d.driver) : undefined;
    if (drvWhy) bad(`${at}.driver`, `${drvWhy} (it names /sys/bus/pci/drivers/${d.driver as string})`);
    if (d.parent !== undefined) {
      if (!bdfs.has(d.parent)) bad(`${at}.parent`, `no device ${d.parent} in devices[]`);
      else if (!isBridge(d.parent)) bad(`${at}.parent`, `${d.parent} is not a PCI bridge (class 0x0604xx)`);
      else if (d.parent === d.bdf) bad(`${at}.parent`, 'a device cannot be its own parent');
    }
    if (raw.kconfig?.CONFIG_VFIO === false && (d.driver === 'vfio-pci' || d.driver_override === 'vfio-pci'))
      bad(`${at}.driver`, 'vfio-pci is not available with kconfig.CONFIG_VFIO false');
    if (typeof d.iommu === 'string' && !unitNames.has(d.iommu))
      bad(`${at}.iommu`, `no IOMMU unit named ${JSON.stringify(d.iommu)} (have: ${[...unitNames].join(', ') || 'none'})`);
    if (d.iommu === undefined && iommus.length === 0 && d.group !== undefined)
      bad(`${at}.group`, 'a group needs an IOMMU unit');
    const bars: BarSpec[] = ((d.bars as Raw[] | undefined) ?? []).map((b, j) => {
      const size = big(b.size);
      if (size === 0n || (size & (size - 1n)) !== 0n) bad(`${at}.bars[${j}].size`, 'must be a power of two');
      return {
        index: b.index,
        size,
        address: optBig(b.address),
        type: b.type ?? 'mem64',
        prefetchable: b.prefetchable ?? false,
        mmap: b.mmap ?? (b.type ?? 'mem64') !== 'io',
        sparse: b.sparse?.map((s: Raw) => ({ offset: big(s.offset), size: big(s.size) })),
      };
    });
    const seenBar = new Set<number>();
    bars.forEach((b, j) => {
      if (seenBar.has(b.index)) bad(`${at}.bars[${j}].index`, `BAR ${b.index} listed twice`);
      seenBar.add(b.index);
      if (b.type === 'mem64') {
        if (b.index === 5) bad(`${at}.bars[${j}].index`, 'a 64-bit BAR takes two slots; BAR5 cannot be 64-bit');
        seenBar.add(b.index + 1);
      }
    });
    return {
      bdf: d.bdf,
      name: d.name,
      vendor: num(d.vendor),
      device: num(d.device),
      class: num(d.class),
      revision: num(d.revision ?? 0),
      // A bridge's subsystem ids live in an SSVID capability: without one they read 0.
      // @see drivers/pci/probe.c:pci_setup_device (PCI_HEADER_TYPE_BRIDGE, PCI_CAP_ID_SSVID)
      subsystem_vendor: num(d.subsystem_vendor ?? (num(d.class) >> 8 === 0x0604 ? 0 : d.vendor)),
      subsystem_device: num(d.subsystem_device ?? 0),
      driver: d.driver ?? null,
      driver_override: d.driver_override,
      parent: d.parent,
      acs: d.acs,
      multifunction: d.multifunction,
      iommu: d.iommu,
      group: d.group,
      irq: d.irq ?? 0,
      numa_node: d.numa_node ?? -1,
      pcie: d.pcie ?? true,
      linkSpeed: d.linkSpeed ?? 8,
      linkWidth: d.linkWidth ?? (num(d.class) >> 8 === 0x0604 ? 16 : 4),
      bars,
      rom: optBig(d.rom),
      romAddress: optBig(d.romAddress),
      windows: d.windows && windowsOf(d.windows, `${at}.windows`),
      msi: d.msi ?? 1,
      msix: d.msix ?? 0,
      intx: d.intx ?? true,
      streamIds: d.streamIds,
      ifname: d.ifname,
      mac: d.mac,
      startDma: optBig(d.startDma),
      endDma: optBig(d.endDma),
      resetMethods: d.resetMethods ?? ['flr', 'bus'],
      config: d.config === undefined ? undefined : recordedConfig(d, at, bad),
      resvRegions: (d.resvRegions as Raw[] | undefined)?.map((r, j) => {
        checkRange(`${at}.resvRegions[${j}].end`, big(r.start), big(r.end), true);
        return { start: big(r.start), end: big(r.end), type: r.type };
      }),
    };
  });
  // Parent cycles.
  devices.forEach((d, i) => {
    const seen = new Set<string>([d.bdf]);
    for (let p = d.parent; p; p = devices[bdfs.get(p) ?? -1]?.parent) {
      if (seen.has(p)) {
        bad(`devices[${i}].parent`, `parent chain loops through ${p}`);
        break;
      }
      seen.add(p);
    }
  });

  const platformDevices: PlatformDeviceSpec[] = ((raw.platformDevices as Raw[] | undefined) ?? []).map((p, i) => {
    const at = `platformDevices[${i}]`;
    if (bdfs.has(p.name)) bad(`${at}.name`, `${p.name} is also a PCI device`);
    if ((p.hid === undefined) === (p.compatible === undefined)) bad(at, 'give hid (an ACPI device) or compatible (a device-tree node), exactly one');
    if (typeof p.iommu === 'string' && !unitNames.has(p.iommu))
      bad(`${at}.iommu`, `no IOMMU unit named ${JSON.stringify(p.iommu)} (have: ${[...unitNames].join(', ') || 'none'})`);
    return { name: p.name, description: p.description, hid: p.hid, compatible: p.compatible, iommu: p.iommu, driver: p.driver ?? null, group: p.group, streamIds: p.streamIds };
  });
  const platNames = new Map<string, number>();
  platformDevices.forEach((p, i) => {
    if (platNames.has(p.name)) bad(`platformDevices[${i}].name`, `duplicate platform device ${p.name} (first at platformDevices[${platNames.get(p.name)}])`);
    else platNames.set(p.name, i);
  });

  // Bus numbers: the children of a bridge sit on its secondary bus, which no device outside it uses.
  // @see drivers/pci/probe.c:pci_scan_bridge_extend
  const busOf = (bdf: string) => bdf.slice(0, 7);
  const childBus = new Map<string, [string, number]>();
  devices.forEach((d, i) => {
    if (d.parent === undefined || !bdfs.has(d.parent)) return;
    const first = childBus.get(d.parent);
    if (!first) childBus.set(d.parent, [busOf(d.bdf), i]);
    else if (first[0] !== busOf(d.bdf))
      bad(`devices[${i}].bdf`, `devices behind bridge ${d.parent} share its secondary bus ${first[0]} (devices[${first[1]}]); ${d.bdf} is on another bus`);
    if (busOf(d.bdf) === busOf(d.parent)) bad(`devices[${i}].bdf`, `${d.bdf} is on the bus of its parent bridge ${d.parent}; it must be on the bridge's secondary bus`);
  });
  devices.forEach((d, i) => {
    for (const [bridge, [bus]] of childBus)
      if (busOf(d.bdf) === bus && d.parent !== bridge && d.bdf !== bridge && !issues.some((x) => x.path === `devices[${i}].bdf`))
        bad(`devices[${i}].bdf`, `bus ${bus} is the secondary bus of bridge ${bridge}; ${d.bdf} must have parent ${bridge}`);
  });

  const fw: Raw = raw.firmware ?? {};
  const checkDevs = (path: string, list: string[] | undefined) =>
    list?.forEach((b, j) => {
      if (!bdfs.has(b) && !platNames.has(b)) bad(`${path}[${j}]`, `no device ${b} in devices[] or platformDevices[]`);
    });
  const firmware: FirmwareSpec = {
    rmrr: (fw.rmrr ?? []).map((r: Raw, i: number) => {
      checkDevs(`firmware.rmrr[${i}].devices`, r.devices);
      checkRange(`firmware.rmrr[${i}].end`, big(r.base), big(r.end), true);
      return { base: big(r.base), end: big(r.end), devices: r.devices };
    }),
    ivmd: (fw.ivmd ?? []).map((r: Raw, i: number) => {
      checkDevs(`firmware.ivmd[${i}].devices`, r.devices);
      if ((r.end === undefined) === (r.length === undefined)) bad(`firmware.ivmd[${i}].length`, 'give length (IVMD range length), or the older exclusive end — exactly one');
      if (r.end !== undefined) checkRange(`firmware.ivmd[${i}].end`, big(r.start), big(r.end), false);
      const length = r.length !== undefined ? big(r.length) : big(r.end) - big(r.start);
      if (r.length !== undefined && length === 0n) bad(`firmware.ivmd[${i}].length`, 'must be > 0');
      return { start: big(r.start), length, devices: r.devices, exclusion: r.exclusion ?? false, read: r.read ?? true, write: r.write ?? true };
    }),
    iortRmr: (fw.iortRmr ?? []).map((r: Raw, i: number) => {
      checkDevs(`firmware.iortRmr[${i}].devices`, r.devices);
      if (big(r.length) === 0n) bad(`firmware.iortRmr[${i}].length`, 'must be > 0');
      return { base: big(r.base), length: big(r.length), devices: r.devices, remapPermitted: r.remapPermitted ?? false };
    }),
    its: (fw.its ?? []).map((r: Raw, i: number) => {
      checkDevs(`firmware.its[${i}].devices`, r.devices);
      return { base: big(r.base), devices: r.devices };
    }),
    dtIommuAddresses: (fw.dtIommuAddresses ?? []).map((r: Raw, i: number) => {
      checkDevs(`firmware.dtIommuAddresses[${i}]`, [r.device]);
      if (big(r.length) === 0n) bad(`firmware.dtIommuAddresses[${i}].length`, 'must be > 0');
      return { device: r.device, iova: big(r.iova), length: big(r.length), reg: r.reg && { start: big(r.reg.start), length: big(r.reg.length) } };
    }),
    virtioIommuProbe: (fw.virtioIommuProbe ?? []).map((r: Raw, i: number) => {
      checkDevs(`firmware.virtioIommuProbe[${i}].devices`, r.devices);
      checkRange(`firmware.virtioIommuProbe[${i}].end`, big(r.start), big(r.end), true);
      return { start: big(r.start), end: big(r.end), subtype: r.subtype, devices: r.devices };
    }),
    pciHostBridgeWindows: (fw.pciHostBridgeWindows ?? []).map((r: Raw, i: number) => {
      checkRange(`firmware.pciHostBridgeWindows[${i}].end`, big(r.start), big(r.end), true);
      return { start: big(r.start), end: big(r.end) };
    }),
  };

  // A machine boots with ACPI or with a device tree, never both: ACPI tables (DMAR, IVRS, IORT)
  // and DT iommu-addresses cannot describe one host.
  const acpi = (['rmrr', 'ivmd', 'iortRmr', 'its'] as const).filter((k) => firmware[k].length).map((k) => `firmware.${k}`);
  const hidAt = platformDevices.findIndex((p) => p.hid !== undefined);
  const compatAt = platformDevices.findIndex((p) => p.compatible !== undefined);
  if (hidAt >= 0) acpi.push(`platformDevices[${hidAt}].hid`);
  if (acpi.length && firmware.dtIommuAddresses.length)
    bad('firmware.dtIommuAddresses', `a host boots with ACPI (${acpi.join(', ')}) or a device tree, not both`);
  else if (acpi.length && compatAt >= 0)
    bad(`platformDevices[${compatAt}].compatible`, `a host boots with ACPI (${acpi.join(', ')}) or a device tree, not both`);
  // NUMA: the nodes as written, else one per node the devices name (node 0 always), 4 CPUs each.
  let nodes: NumaNodeSpec[];
  if (raw.nodes) {
    nodes = (raw.nodes as Raw[]).map((n, i) => {
      const cpus = parseCpuList(String(n.cpus));
      if (!cpus) bad(`nodes[${i}].cpus`, 'must be a CPU list like "0-7,16-23"');
      return { id: n.id ?? i, cpus: cpus ?? [], memory: n.memory === undefined ? 16n << 30n : big(n.memory) };
    });
    const seenCpu = new Map<number, number>();
    nodes.forEach((n, i) => {
      if (nodes.findIndex((x) => x.id === n.id) !== i) bad(`nodes[${i}].id`, `node ${n.id} listed twice`);
      for (const c of n.cpus) {
        if (seenCpu.has(c)) bad(`nodes[${i}].cpus`, `CPU ${c} is also in nodes[${seenCpu.get(c)}]`);
        seenCpu.set(c, i);
      }
    });
  } else {
    const ids = [...new Set([0, ...devices.map((d) => d.numa_node).filter((n) => n >= 0)])].sort((a, b) => a - b);
    nodes = ids.map((id, i) => ({ id, cpus: [0, 1, 2, 3].map((c) => 4 * i + c), memory: 16n << 30n }));
  }
  devices.forEach((d, i) => {
    if (d.numa_node >= 0 && !nodes.some((n) => n.id === d.numa_node)) bad(`devices[${i}].numa_node`, `no node ${d.numa_node} in nodes[] (have: ${nodes.map((n) => n.id).join(', ')})`);
  });

  // drivers/iommu/iommufd/Kconfig, drivers/vfio/Kconfig: options that depend on others.
  const kc = raw.kconfig ?? {};
  const iommufd = kc.CONFIG_IOMMUFD ?? false;
  if (kc.CONFIG_IOMMUFD_VFIO_CONTAINER && !iommufd) bad('kconfig.CONFIG_IOMMUFD_VFIO_CONTAINER', 'depends on CONFIG_IOMMUFD');
  if (kc.CONFIG_IOMMUFD_VFIO_CONTAINER && (kc.CONFIG_VFIO_CONTAINER ?? true))
    bad('kconfig.CONFIG_IOMMUFD_VFIO_CONTAINER', 'depends on !CONFIG_VFIO_CONTAINER: both would provide /dev/vfio/vfio (set CONFIG_VFIO_CONTAINER: false)');
  if (kc.CONFIG_IOMMUFD_TEST && !iommufd) bad('kconfig.CONFIG_IOMMUFD_TEST', 'depends on CONFIG_IOMMUFD');
  if (kc.CONFIG_VFIO_DEVICE_CDEV && !iommufd) bad('kconfig.CONFIG_VFIO_DEVICE_CDEV', 'depends on CONFIG_IOMMUFD');

  if (issues.length) throw new TopologyError(issues);
  return {
    name: raw.name,
    description: raw.description,
    kernel: kernelText,
    kernelFeatures,
    arch: raw.arch,
    cmdline: raw.cmdline ?? {},
    kconfig: {
      CONFIG_VFIO: raw.kconfig?.CONFIG_VFIO ?? true,
      CONFIG_PCI_IOV: raw.kconfig?.CONFIG_PCI_IOV ?? true,
      CONFIG_INTEL_IOMMU_FLOPPY_WA: raw.kconfig?.CONFIG_INTEL_IOMMU_FLOPPY_WA ?? true,
      CONFIG_VFIO_CONTAINER: raw.kconfig?.CONFIG_VFIO_CONTAINER ?? true,
      CONFIG_IOMMUFD: raw.kconfig?.CONFIG_IOMMUFD ?? false,
      CONFIG_IOMMUFD_VFIO_CONTAINER: raw.kconfig?.CONFIG_IOMMUFD_VFIO_CONTAINER ?? false,
      CONFIG_IOMMUFD_TEST: raw.kconfig?.CONFIG_IOMMUFD_TEST ?? false,
      // Kconfig's default is !VFIO_GROUP (n); a machine built with iommufd gets the cdev too.
      CONFIG_VFIO_DEVICE_CDEV: raw.kconfig?.CONFIG_VFIO_DEVICE_CDEV ?? iommufd,
    },
    iommus,
    devices,
    platformDevices,
    firmware,
    modules: Object.fromEntries(
      Object.entries((raw.modules ?? {}) as Record<string, Raw>).map(([drv, m]) => [drv, { name: m.module ?? drv.replace(/-/g, '_'), builtin: m.builtin ?? false }]),
    ),
    nodes,
    source: raw as TopologyInput,
  };
}
