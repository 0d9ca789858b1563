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
import schemaJson from './schema.json';

export type IommuDriver =
  | 'intel-iommu'
  | 'amd-iommu'
  | 'arm-smmu'
  | 'arm-smmu-v3'
  | 'virtio-iommu'
  | 'apple-dart'
  | 's390-iommu';

export type Arch = 'x86_64' | 'aarch64' | 's390x' | 'riscv64' | 'ppc64le';

/** Topology file shape as written (numbers may be strings). */
export type TopologyInput = Record<string, unknown>;

export interface TopologyIssue {
  readonly file: string;
  /** `devices[3].bdf`; empty for the whole document. */
  readonly path: string;
  readonly message: string;
}

export class TopologyError extends Error {
  override readonly name = 'TopologyError';
  constructor(readonly issues: readonly TopologyIssue[]) {
    super(issues.map((i) => `${i.file}: ${i.path || '(document)'}: ${i.message}`).join('\n'));
  }
}

let validator: ReturnType<Ajv['compile']> | undefined;
function validate(doc: unknown): ErrorObject[] {
  // Compiled once per process: a pure function of the bundled schema, not machine state.
  validator ??= new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(schemaJson);
  return validator(doc) ? [] : [...(validator.errors ?? [])];
}

const NUMBER_FORMS: Record<string, string> = {
  u64: 'must be a non-negative integer, or a string in hex (0x…) or decimal, below 2^64',
  id16: 'must be an integer 0..0xffff or a "0x…" string of up to 4 hex digits',
  id24: 'must be an integer 0..0xffffff or a "0x…" string of up to 6 hex digits',
  id8: 'must be an integer 0..0xff or a "0x…" string of up to 2 hex digits',
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
    case 'enum':
      message = `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
      break;
    case 'pattern':
      message = `must match ${String(p.pattern)}`;
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
  try {
    if (format === 'json') doc = JSON.parse(text);
    else {
      const d = YAML.parseDocument(text, { prettyErrors: true, intAsBigInt: false });
      if (d.errors.length) {
        throw new TopologyError(
          d.errors.map((e) => ({ file, path: '', message: `YAML syntax: ${e.message.split('\n')[0]}` })),
        );
      }
      doc = d.toJS();
    }
  } catch (e) {
    if (e instanceof TopologyError) throw e;
    throw new TopologyError([{ file, path: '', message: `${format.toUpperCase()} syntax: ${(e as Error).message}` }]);
  }
  return topologyFromJSON(doc, file);
}

/** Fields whose values become sysfs directory names (checked by sysfsNameProblem). */
const SYSFS_NAME_FIELD = /^\/(?:iommus\/\d+\/name|devices\/\d+\/driver)$/;

/** The value at a JSON pointer. */
function valueAt(doc: unknown, ptr: string): unknown {
  let v = doc;
  for (const seg of ptr.split('/').slice(1)) v = (v as Record<string, unknown> | undefined)?.[seg.replace(/~1/g, '/').replace(/~0/g, '~')];
  return v;
}

/** Validate a parsed document (the memfs `fromJSON` idiom). Throws TopologyError. */
export function topologyFromJSON(doc: unknown, file = '<topology>'): Topology {
  const errs = validate(doc);
  if (errs.length) {
    // A value that fails an anyOf (numbers written as integers or strings) gets one message that
    // says what the definition accepts, instead of one line per failed branch.
    const anyOf = new Map<string, string>();
    for (const e of errs) {
      const def = /#\/definitions\/(\w+)\/anyOf$/.exec(e.schemaPath)?.[1];
      if (e.keyword === 'anyOf' && def) anyOf.set(e.instancePath, NUMBER_FORMS[def] ?? 'has the wrong form');
    }
    const seen = new Set<string>();
    const issues: TopologyIssue[] = [];
    for (const e of errs) {
      const d = anyOf.has(e.instancePath)
        ? { path: jsonPointerToPath(e.instancePath), message: anyOf.get(e.instancePath)! }
        : describeAjvError(e);
      // A sysfs name the pattern refuses for a reason the kernel states: say that reason.
      if (e.keyword === 'pattern' && SYSFS_NAME_FIELD.test(e.instancePath)) {
        const why = sysfsNameProblem(String(valueAt(doc, e.instancePath)));
        if (why) d.message = `${d.message}: ${why}`;
      }
      if (seen.has(`${d.path}\0${d.message}`) || (e.keyword === 'anyOf' && !anyOf.has(e.instancePath))) continue;
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
  readonly bars: readonly BarSpec[];
  readonly rom?: bigint;
  readonly msi: number;
  readonly msix: number;
  readonly intx: boolean;
  readonly streamIds?: readonly number[];
  readonly startDma?: bigint;
  readonly endDma?: bigint;
  readonly resetMethods: readonly string[];
  /** Recorded `get_resv_regions` output replacing the driver's rules (inclusive ends). */
  readonly resvRegions?: readonly RecordedResvRegion[];
  /** Recorded config space bytes, replayed as they are. */
  readonly config?: Uint8Array;
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
  readonly ivmd: readonly { start: bigint; end: bigint; devices: readonly string[]; exclusion: boolean; read: boolean; write: boolean }[];
  readonly iortRmr: readonly { base: bigint; length: bigint; devices: readonly string[]; remapPermitted: boolean }[];
  readonly its: readonly { base: bigint; devices?: readonly string[] }[];
  readonly dtIommuAddresses: readonly { device: string; iova: bigint; length: bigint; reg?: { start: bigint; length: bigint } }[];
  readonly virtioIommuProbe: readonly { start: bigint; end: bigint; subtype: 'reserved' | 'msi'; devices?: readonly string[] }[];
  readonly pciHostBridgeWindows: readonly AddrRange[];
}

export interface Cmdline {
  readonly 'iommu.passthrough'?: boolean;
  readonly 'iommu.strict'?: boolean;
  readonly 'vfio_iommu_type1.allow_unsafe_interrupts'?: boolean;
  readonly 'vfio_iommu_type1.dma_entry_limit'?: number;
  readonly 'vfio.enable_unsafe_noiommu_mode'?: boolean;
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
}

export interface Topology {
  readonly name: string;
  readonly description?: string;
  readonly kernel: string;
  readonly arch: Arch;
  readonly cmdline: Cmdline;
  readonly kconfig: Kconfig;
  readonly iommus: readonly IommuSpec[];
  readonly devices: readonly DeviceSpec[];
  readonly firmware: FirmwareSpec;
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

function normalize(raw: RawTopology, file: string): Topology {
  const issues: TopologyIssue[] = [];
  const bad = (path: string, message: string) => issues.push({ file, path, message });

  if (!parseKernelVersion(raw.kernel === 'latest' ? '0.0' : raw.kernel)) bad('kernel', 'must be a kernel version like "6.8"');

  const perDriver = new Map<string, number>();
  const iommus: IommuSpec[] = (raw.iommus as Raw[]).map((u, i) => {
    const n = perDriver.get(u.driver) ?? 0;
    perDriver.set(u.driver, n + 1);
    if ((u.driver === 'arm-smmu-v3' || u.driver === 'arm-smmu') && u.base === undefined && u.name === undefined)
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
      subsystem_vendor: num(d.subsystem_vendor ?? d.vendor),
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
      bars,
      rom: optBig(d.rom),
      msi: d.msi ?? 1,
      msix: d.msix ?? 0,
      intx: d.intx ?? true,
      streamIds: d.streamIds,
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

  const fw: Raw = raw.firmware ?? {};
  const checkDevs = (path: string, list: string[] | undefined) =>
    list?.forEach((b, j) => {
      if (!bdfs.has(b)) bad(`${path}[${j}]`, `no device ${b} in devices[]`);
    });
  const firmware: FirmwareSpec = {
    rmrr: (fw.rmrr ?? []).map((r: Raw, i: number) => {
      checkDevs(`firmware.rmrr[${i}].devices`, r.devices);
      checkRange(`firmware.rmrr[${i}].end`, big(r.base), big(r.end), true);
      return { base: big(r.base), end: big(r.end), devices: r.devices };
    }),
    ivmd: (fw.ivmd ?? []).map((r: Raw, i: number) => {
      checkDevs(`firmware.ivmd[${i}].devices`, r.devices);
      checkRange(`firmware.ivmd[${i}].end`, big(r.start), big(r.end), false);
      return { start: big(r.start), end: big(r.end), devices: r.devices, exclusion: r.exclusion ?? false, read: r.read ?? true, write: r.write ?? true };
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

  if (issues.length) throw new TopologyError(issues);
  return {
    name: raw.name,
    description: raw.description,
    kernel: raw.kernel,
    arch: raw.arch,
    cmdline: raw.cmdline ?? {},
    kconfig: {
      CONFIG_VFIO: raw.kconfig?.CONFIG_VFIO ?? true,
      CONFIG_PCI_IOV: raw.kconfig?.CONFIG_PCI_IOV ?? true,
      CONFIG_INTEL_IOMMU_FLOPPY_WA: raw.kconfig?.CONFIG_INTEL_IOMMU_FLOPPY_WA ?? true,
      CONFIG_VFIO_CONTAINER: raw.kconfig?.CONFIG_VFIO_CONTAINER ?? true,
      CONFIG_IOMMUFD: raw.kconfig?.CONFIG_IOMMUFD ?? false,
      CONFIG_IOMMUFD_VFIO_CONTAINER: raw.kconfig?.CONFIG_IOMMUFD_VFIO_CONTAINER ?? false,
    },
    iommus,
    devices,
    firmware,
    source: raw,
  };
}
