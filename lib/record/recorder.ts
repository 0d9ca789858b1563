// SPDX-License-Identifier: GPL-2.0-only
/**
 * Record a sysfs tree (a real /sys, an exported tree, an imported umockdev description) into a
 * topology file that replays it: devices, IOMMU units, groups, the kernel, and firmware entries
 * that reproduce every group's reserved_regions under the emulator's driver rules. The result is
 * replayed and compared before it is returned, so what differs is reported, never guessed.
 */
import { createMachine } from '../machine';
import type { Machine } from '../machine';
import { FEATURES, KERNEL_PROFILES, LATEST_KERNEL, kernelProfile } from '../kernel/profile';
import type { Feature, KernelProfile } from '../kernel/profile';
import { inVersionRange, parseKernelVersion } from '../kernel/version';
import { Arch, IommuDriver, Topology, TopologyError, defaultUnitName, topologyFromJSON } from '../topology/topology';
import { Difference, compareWithSource } from './compare';
import { fitReservedRegions, RecordedGroup } from './fit';
import { firmwareFromAcpi } from './acpi';
import { intelUnitBase, intelUnitCap } from '../iommu/intel_iommu';
import { amdUnitCap } from '../iommu/amd_iommu';
import { RecordError, SysSource } from './source';
import { PCI_CAP_ID_MSI, PCI_CAP_ID_MSIX } from '../uapi/pci_regs';

export interface RecordOptions {
  /** Kernel version of the recorded host (a real host: os.release()). */
  readonly kernel?: string;
  readonly arch?: Arch;
  readonly name?: string;
  readonly description?: string;
  /** An export's iommu-emu.json: kernel, arch, host name. */
  readonly metadata?: Readonly<Record<string, unknown>>;
}

export interface RecordNote {
  readonly level: 'info' | 'warning' | 'error';
  /** `/sys/...` path or topology path the note is about. */
  readonly where: string;
  readonly message: string;
}

export interface Recording {
  /** The topology document (JSON shape), valid against lib/topology/schema.json. */
  readonly doc: Record<string, unknown>;
  readonly topology: Topology;
  readonly notes: RecordNote[];
  /** Where the replay differs from the source; empty means byte-identical everywhere it renders. */
  readonly differences: Difference[];
  readonly hasIommu: boolean;
  readonly kernelFrom: 'option' | 'metadata' | 'inferred';
}

type Raw = Record<string, unknown>;
const BDF = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-1][0-9a-f]\.[0-7]$/;
const ROOT_BUS = /^pci[0-9a-f]{4}:[0-9a-f]{2}$/;
const hex = (n: number | bigint, w = 0) => `0x${n.toString(16).padStart(w, '0')}`;

/** Unit names as each driver registers them. @see kernel-sysfs-abi.md §4.1 */
const UNIT_NAMES: readonly [RegExp, IommuDriver][] = [
  [/^dmar\d+$/, 'intel-iommu'],
  [/^ivhd\d+$/, 'amd-iommu'],
  [/^smmu3\.0x[0-9a-f]+$/, 'arm-smmu-v3'],
  [/^smmu\.0x[0-9a-f]+$/, 'arm-smmu'],
  [/^virtio\d+$/, 'virtio-iommu'],
  [/(^dart\.|\.dart$)/, 'apple-dart'],
  [/^s390-iommu\./, 's390-iommu'],
];

export function unitDriverFromName(name: string): IommuDriver | undefined {
  return UNIT_NAMES.find(([re]) => re.test(name))?.[1];
}

const ARCH_OF: Record<string, Arch> = { x64: 'x86_64', arm64: 'aarch64', s390x: 's390x', riscv64: 'riscv64', ppc64: 'ppc64le' };
export const nodeArchToKernel = (a: string): Arch | undefined => ARCH_OF[a];

export function recordSys(src: SysSource, opts: RecordOptions = {}): Recording {
  const notes: RecordNote[] = [];
  const note = (level: RecordNote['level'], where: string, message: string) => notes.push({ level, where, message });
  const meta = opts.metadata ?? {};

  if (!src.exists('/sys/bus/pci/devices') && !src.exists('/sys/kernel/iommu_groups'))
    throw new RecordError(`${src.label}: not a sysfs tree (neither bus/pci/devices nor kernel/iommu_groups exists)`);

  // ---- PCI devices -------------------------------------------------------------------------
  const devPaths = new Map<string, string>();
  for (const bdf of src.list('/sys/bus/pci/devices') ?? []) {
    const where = `/sys/bus/pci/devices/${bdf}`;
    if (!BDF.test(bdf)) {
      note('warning', where, 'not a DDDD:BB:DD.F name; skipped');
      continue;
    }
    const real = src.realpath(where);
    if (!real || !real.startsWith('/sys/devices/')) {
      note('warning', where, 'does not resolve to a device under /sys/devices; skipped');
      continue;
    }
    devPaths.set(bdf, real);
  }
  const devices: Raw[] = [];
  const classOf = new Map<string, number>();
  const parentOf = new Map<string, string | undefined>();
  for (const [bdf, real] of [...devPaths.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const parts = real.split('/').slice(3);
    const rootAt = parts.map((p) => ROOT_BUS.test(p)).lastIndexOf(true);
    const chain = parts.slice(rootAt + 1);
    if (rootAt < 0 || chain.at(-1) !== bdf || !chain.every((c) => BDF.test(c)))
      note('warning', real, 'device path is not /sys/devices/pciDDDD:BB/<bridge>…/<bdf>; the replay places it there');
    const parent = chain.length > 1 ? chain.at(-2) : undefined;
    parentOf.set(bdf, parent);
    const d = recordDevice(src, bdf, `/sys/bus/pci/devices/${bdf}`, note);
    if (parent && devPaths.has(parent)) d.parent = parent;
    else if (parent) note('warning', real, `parent ${parent} is not in bus/pci/devices; recorded on the root bus`);
    classOf.set(bdf, Number(d.class));
    devices.push(d);
  }
  // A parent must be a bridge in the topology: the PCI core's rule, so a violation is a bad tree.
  for (const d of devices) {
    if (d.parent !== undefined && (classOf.get(d.parent as string)! >> 8) !== 0x0604) {
      note('warning', `/sys/bus/pci/devices/${String(d.bdf)}`, `parent ${String(d.parent)} is not a PCI bridge; recorded on the root bus`);
      delete d.parent;
    }
  }

  // ---- IOMMU units -------------------------------------------------------------------------
  const iommus: Raw[] = [];
  const unitNames = new Set<string>();
  const perDriver = new Map<string, number>();
  const natural = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });
  // Units in index order, so dmar0, dmar1 … replay under the same names.
  for (const name of (src.list('/sys/class/iommu') ?? []).sort(natural)) {
    const where = `/sys/class/iommu/${name}`;
    const driver = unitDriverFromName(name);
    if (!driver) {
      note('error', where, 'IOMMU driver not recognised from the unit name; its devices are recorded without an IOMMU');
      continue;
    }
    const real = src.realpath(where) ?? '';
    const u: Raw = { driver };
    const m = /([0-9a-f]{4}:[0-9a-f]{2}:[0-1][0-9a-f]\.[0-7])\/(?:virtio\d+\/)?iommu\/[^/]+$/.exec(real);
    if (m && devPaths.has(m[1]!)) u.bdf = m[1];
    const base = /^smmu3?\.(0x[0-9a-f]+)$/.exec(name)?.[1];
    if (base) u.base = hex(BigInt(base));
    recordUnitRegisters(src, where, driver, u, perDriver.get(driver) ?? 0);
    const i = perDriver.get(driver) ?? 0;
    perDriver.set(driver, i + 1);
    if (defaultUnitName(driver, i, u) !== name) u.name = name;
    iommus.push(u);
    unitNames.add(name);
  }
  const firstUnit = iommus[0] ? unitNameOf(iommus, 0) : undefined;
  const unitOfDev = new Map<string, string | null>();
  for (const d of devices) {
    const bdf = d.bdf as string;
    const link = src.readlink(`/sys/bus/pci/devices/${bdf}/iommu`);
    const unit = link ? link.split('/').pop()! : null;
    if (unit !== null && !unitNames.has(unit)) {
      note('warning', `/sys/bus/pci/devices/${bdf}/iommu`, `links to ${unit}, which is not a recorded unit; recorded without an IOMMU`);
      unitOfDev.set(bdf, null);
    } else unitOfDev.set(bdf, unit);
    const u = unitOfDev.get(bdf)!;
    if (u !== (firstUnit ?? null)) d.iommu = u;
  }

  // ---- groups -------------------------------------------------------------------------------
  const groups: RecordedGroup[] = [];
  const gdir = '/sys/kernel/iommu_groups';
  const groupIds = (src.list(gdir) ?? []).filter((x) => /^\d+$/.test(x)).map(Number).sort((a, b) => a - b);
  const groupOfDev = new Map<string, number>();
  const typeModes = new Set<number>();
  for (const id of groupIds) {
    const gd = `${gdir}/${id}`;
    const bdfs: string[] = [];
    for (const l of src.list(`${gd}/devices`) ?? []) {
      const real = src.realpath(`${gd}/devices/${l}`);
      const bdf = real?.split('/').pop();
      if (!bdf || !devPaths.has(bdf)) {
        note('warning', `${gd}/devices/${l}`, 'not a recorded PCI device; left out of the group');
        continue;
      }
      bdfs.push(bdf);
      groupOfDev.set(bdf, id);
    }
    const rr = src.text(`${gd}/reserved_regions`);
    const type = src.text(`${gd}/type`);
    if (type !== undefined) typeModes.add(src.mode(`${gd}/type`)!);
    groups.push({ id, bdfs, rr, type, name: src.text(`${gd}/name`)?.replace(/\n$/, '') });
  }
  const hasIommu = groupIds.length > 0 || iommus.length > 0;
  if (!hasIommu)
    note('info', gdir, 'no IOMMU: no groups and no /sys/class/iommu units; recorded the PCI devices only');
  for (const g of groups) {
    if (g.name === 'vfio-noiommu') continue;
    if (g.bdfs.length && g.bdfs.every((b) => unitOfDev.get(b) === null))
      note('warning', `${gdir}/${g.id}`, 'a group whose devices link to no IOMMU unit (not replayable: the emulator groups only translated devices)');
  }

  // ---- kernel, arch, cmdline ------------------------------------------------------------
  let kernelFrom: Recording['kernelFrom'];
  let kernel: string;
  if (opts.kernel) {
    kernel = opts.kernel;
    kernelFrom = 'option';
  } else if (typeof meta.kernel === 'string') {
    kernel = meta.kernel;
    kernelFrom = 'metadata';
  } else {
    kernel = inferKernel(src, groups, typeModes, devices, note);
    kernelFrom = 'inferred';
  }
  if (!parseKernelVersion(kernel === 'latest' ? '0.0' : kernel)) throw new RecordError(`${src.label}: kernel ${JSON.stringify(kernel)} is not a kernel version like "6.8"`);
  const profile = kernelProfile(kernel);
  const arch: Arch =
    opts.arch ?? (meta.arch as Arch | undefined) ?? archFromUnits(iommus.map((u) => u.driver as IommuDriver)) ?? 'x86_64';
  const cmdline: Raw = {};
  const noiommu = groups.filter((g) => g.name === 'vfio-noiommu');
  if (noiommu.length) cmdline['vfio.enable_unsafe_noiommu_mode'] = true;
  const types = new Set(groups.filter((g) => g.name !== 'vfio-noiommu' && g.type !== undefined).map((g) => g.type!.replace(/\n$/, '')));
  if (types.size === 1) {
    const t = [...types][0]!;
    const lazy = arch === 'x86_64' || arch === 's390x';
    if (t === 'identity') cmdline['iommu.passthrough'] = true;
    else if (t === 'DMA' && lazy && profile.has('dma_fq')) cmdline['iommu.strict'] = true;
    else if (t === 'DMA-FQ' && !lazy) cmdline['iommu.strict'] = false;
  } else if (types.size > 1)
    note('warning', gdir, `groups have different types (${[...types].join(', ')}); the topology has one boot default, so the replay shows the most common one (write type after replay)`);

  for (const [k, v] of Object.entries(meta.cmdline ?? {})) if (!(k in cmdline)) cmdline[k] = v;

  // Group labels only where the emulator's own derivation (ACS, multifunction) groups otherwise.
  const doc: Raw = {
    name: opts.name ?? (typeof meta.host === 'string' ? meta.host : 'recorded'),
    ...(opts.description || typeof meta.description === 'string' ? { description: opts.description ?? meta.description } : {}),
    kernel,
    arch,
    ...(Object.keys(cmdline).length ? { cmdline } : {}),
    iommus,
    devices,
  };
  recordKconfig(doc, src);
  recordModules(doc, src);
  dropDefaultBarAddresses(doc, src);
  keepRecordedConfig(doc, src);
  const build = (d: Raw) => replay(d, src.label);
  labelGroups(doc, groups, groupOfDev, build, note);

  // The firmware tables first: what they explain needs no fitting.
  const tables = firmwareFromAcpi(doc, src, note);
  if (tables.length) note('info', '/sys/firmware/acpi/tables', `firmware entries read from ${tables.join(', ')}`);

  const apiGroups = groups.filter((g) => g.name !== 'vfio-noiommu' && g.rr !== undefined && g.bdfs.length);
  fitReservedRegions(doc, apiGroups, {
    label: src.label,
    kernel: profile,
    classOf,
    parentOf,
    unitDriverOf: (bdf) => {
      const u = unitOfDev.get(bdf);
      return u ? unitDriverFromName(u) : undefined;
    },
    replay: build,
    note,
  });

  const m = build(doc);
  const ids = new Map(groups.map((g) => [g.bdfs[0], g.id]));
  for (const [bdf, id] of ids) {
    if (bdf === undefined) continue;
    const got = m.host.findDevice(bdf)?.group?.id;
    if (got !== id) note('warning', `${gdir}/${id}`, `replays as group ${got ?? '(none)'}: group ids follow probe order, the recorded host allocated them otherwise`);
  }
  const differences = compareWithSource(m, src);
  const topology = topologyFromJSON(doc, `<recorded:${src.label}>`);
  return { doc, topology, notes, differences, hasIommu, kernelFrom };
}

function unitNameOf(iommus: Raw[], i: number): string {
  const u = iommus[i]!;
  const same = iommus.slice(0, i).filter((x) => x.driver === u.driver).length;
  return (u.name as string | undefined) ?? defaultUnitName(u.driver as IommuDriver, same, u);
}

function archFromUnits(drivers: IommuDriver[]): Arch | undefined {
  if (drivers.some((d) => d === 'intel-iommu' || d === 'amd-iommu')) return 'x86_64';
  if (drivers.some((d) => d === 'arm-smmu' || d === 'arm-smmu-v3' || d === 'apple-dart')) return 'aarch64';
  if (drivers.includes('s390-iommu')) return 's390x';
  return undefined;
}

function hexAttr(src: SysSource, p: string, note: (l: RecordNote['level'], w: string, m: string) => void, bits: number): number | undefined {
  const t = src.text(p);
  if (t === undefined) return undefined;
  const m = /^0x([0-9a-f]+)\n?$/i.exec(t);
  if (!m || parseInt(m[1]!, 16) >= 2 ** bits) {
    note('warning', p, `not a ${bits}-bit 0x… value: ${JSON.stringify(t.slice(0, 40))}`);
    return undefined;
  }
  return parseInt(m[1]!, 16);
}

/**
 * The unit's registers as its driver's attribute group shows them (readable by anyone), kept
 * where they differ from what the emulator would derive.
 * @see drivers/iommu/intel/iommu.c:intel_iommu_groups, drivers/iommu/amd/init.c:amd_iommu_groups
 */
function recordUnitRegisters(src: SysSource, where: string, driver: IommuDriver, u: Raw, index: number): void {
  const hexOf = (p: string, re = /^([0-9a-f]+)\n$/) => {
    const m = re.exec(src.text(p) ?? '');
    return m ? BigInt(`0x${m[1]}`) : undefined;
  };
  const spec = { driver, name: '', interruptRemapping: true, htRangeIgnore: false };
  if (driver === 'intel-iommu') {
    const address = hexOf(`${where}/intel-iommu/address`);
    const cap = hexOf(`${where}/intel-iommu/cap`);
    const ecap = hexOf(`${where}/intel-iommu/ecap`);
    if (address !== undefined && address !== intelUnitBase(spec, index)) u.base = hex(address);
    const derived = intelUnitCap(spec);
    if (cap !== undefined && cap !== derived.cap) u.cap = hex(cap);
    if (ecap !== undefined && ecap !== derived.ecap) u.ecap = hex(ecap);
  }
  if (driver === 'amd-iommu') {
    const cap = hexOf(`${where}/amd-iommu/cap`);
    const features = hexOf(`${where}/amd-iommu/features`, /^(?:[0-9a-f]+:)?([0-9a-f]+)\n$/);
    const derived = amdUnitCap(spec);
    if (cap !== undefined && cap !== derived.cap) u.cap = hex(cap);
    if (features !== undefined && features !== derived.features) u.ecap = hex(features);
  }
}

function decAttr(src: SysSource, p: string): number | undefined {
  const t = src.text(p);
  return t !== undefined && /^-?\d+\n?$/.test(t) ? Number(t.trim()) : undefined;
}


function recordDevice(src: SysSource, bdf: string, dir: string, note: (l: RecordNote['level'], w: string, m: string) => void): Raw {
  const vendor = hexAttr(src, `${dir}/vendor`, note, 16);
  const device = hexAttr(src, `${dir}/device`, note, 16);
  const cls = hexAttr(src, `${dir}/class`, note, 24);
  if (vendor === undefined || device === undefined || cls === undefined)
    throw new RecordError(`${src.label}: ${dir}: vendor, device and class are required (a PCI device without them is not a sysfs PCI device)`);
  const d: Raw = { bdf, vendor: hex(vendor, 4), device: hex(device, 4), class: hex(cls, 6) };
  const rev = hexAttr(src, `${dir}/revision`, note, 8);
  if (rev) d.revision = hex(rev, 2);
  const sv = hexAttr(src, `${dir}/subsystem_vendor`, note, 16);
  // The topology's default: the vendor on endpoints, 0 on bridges (no SSVID capability).
  if (sv !== undefined && sv !== ((cls >> 8) === 0x0604 ? 0 : vendor)) d.subsystem_vendor = hex(sv, 4);
  const sd = hexAttr(src, `${dir}/subsystem_device`, note, 16);
  if (sd) d.subsystem_device = hex(sd, 4);
  const drv = src.readlink(`${dir}/driver`);
  d.driver = drv ? drv.split('/').pop()! : null;
  const ov = src.text(`${dir}/driver_override`);
  if (ov !== undefined && ov !== '(null)\n') d.driver_override = ov.replace(/\n$/, '');
  // A NIC's interface name and MAC, as the net class device under the function shows them.
  const ifname = (src.list(`${dir}/net`) ?? []).sort()[0];
  if (ifname && /^[A-Za-z0-9_.:-]{1,15}$/.test(ifname)) {
    d.ifname = ifname;
    const mac = src.text(`${dir}/net/${ifname}/address`)?.trim();
    if (mac && /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac)) d.mac = mac;
  }
  const irq = decAttr(src, `${dir}/irq`);
  if (irq) d.irq = irq;
  const numa = decAttr(src, `${dir}/numa_node`);
  if (numa !== undefined && numa !== -1) d.numa_node = numa;

  const cfg = src.read(`${dir}/config`);
  if (cfg && cfg.length >= 64) {
    const size = Math.max(cfg.length, src.size(`${dir}/config`) ?? 0);
    if (size <= 256) d.pcie = false;
    if (cfg[0x0e]! & 0x80) d.multifunction = true;
    if (cfg[0x3d] === 0) d.intx = false;
    let msi = 0;
    let msix = 0;
    if (cfg.readUInt16LE(0x06) & 0x10) {
      const seen = new Set<number>();
      for (let p = cfg[0x34]! & 0xfc; p >= 0x40 && p + 4 <= cfg.length && !seen.has(p); p = cfg[p + 1]! & 0xfc) {
        seen.add(p);
        if (cfg[p] === PCI_CAP_ID_MSI) msi = 1 << ((cfg.readUInt16LE(p + 2) >> 1) & 7);
        if (cfg[p] === PCI_CAP_ID_MSIX) msix = (cfg.readUInt16LE(p + 2) & 0x7ff) + 1;
      }
    }
    if (msi !== 1) d.msi = msi;
    if (msix) d.msix = msix;
  } else note('info', `${dir}/config`, 'not readable (run as root for the full config space); defaults used for pcie, msi, msix, intx');

  const res = src.text(`${dir}/resource`);
  if (res !== undefined) {
    const bars: Raw[] = [];
    const lines = res.split('\n').filter(Boolean);
    const bridge = (cls >> 8) === 0x0604;
    // Bridges end with their four window lines (I/O, memory, prefetchable, unused).
    const windowAt = bridge && (lines.length === 17 || lines.length === 11) ? lines.length - 4 : undefined;
    const windows: Raw = {};
    lines.forEach((line, i) => {
        const f = line.split(' ').map((x) => BigInt(x));
        if (f.length !== 3) return;
        const [start, end, flags] = f as [bigint, bigint, bigint];
        if (flags === 0n && start === 0n && end === 0n) return;
        if (windowAt !== undefined && i >= windowAt && i < windowAt + 3) {
          if (end >= start) windows[['io', 'mem', 'pref'][i - windowAt]!] = { start: hex(start), end: hex(end) };
          return;
        }
        if (i > 6) return;
        const size = end - start + 1n;
        if (size <= 0n || (size & (size - 1n)) !== 0n) {
          note('warning', `${dir}/resource`, `line ${i}: size ${hex(size)} is not a power of two; not recorded`);
          return;
        }
        if (i === 6) {
          d.rom = hex(size);
          d.romAddress = hex(start);
          return;
        }
        const type = flags & 0x100n ? 'io' : flags & 0x100000n ? 'mem64' : 'mem32';
        const b: Raw = { index: i, size: hex(size), type, address: hex(start) };
        if (flags & 0x2000n) b.prefetchable = true;
        bars.push(b);
      });
    if (bars.length) d.bars = bars;
    if (Object.keys(windows).length) d.windows = windows;
  }
  return d;
}

/**
 * Which module registers each bound driver (its `module` link), where the emulator's table would
 * say otherwise; a module without `initstate` is built in. @see drivers/base/module.c:module_add_driver
 */
function recordModules(doc: Raw, src: SysSource): void {
  const modules: Raw = {};
  const replayed = replay(doc, src.label);
  for (const drv of new Set((doc.devices as Raw[]).map((d) => d.driver).filter((x): x is string => typeof x === 'string'))) {
    const dir = `/sys/bus/pci/drivers/${drv}`;
    const link = src.readlink(`${dir}/module`);
    const name = link?.split('/').pop();
    const builtin = name ? !src.exists(`/sys/module/${name}/initstate`) : undefined;
    const want = replayed.fs.existsSync(`${dir}/module`) ? String(replayed.fs.readlinkSync(`${dir}/module`)).split('/').pop() : undefined;
    const wantBuiltin = want !== undefined && !replayed.fs.existsSync(`/sys/module/${want}/initstate`);
    if (!name || (name === want && builtin === wantBuiltin)) continue;
    modules[drv] = { module: name, ...(builtin ? { builtin: true } : {}) };
  }
  if (Object.keys(modules).length) doc.modules = modules;
}

/** Build options visible in the tree: a `resource` of 7 (11 on bridges) lines means no CONFIG_PCI_IOV. */
function recordKconfig(doc: Raw, src: SysSource): void {
  const kconfig: Raw = {};
  // Only a tree that shows its drivers can say vfio-pci is missing (umockdev files cannot).
  if (
    src.kind('/sys/bus/pci/drivers') === 'dir' &&
    src.kind('/sys/bus/pci/drivers/vfio-pci') === undefined &&
    !(doc.devices as Raw[]).some((d) => d.driver === 'vfio-pci' || d.driver_override === 'vfio-pci')
  )
    kconfig.CONFIG_VFIO = false;
  for (const d of doc.devices as Raw[]) {
    const res = src.text(`/sys/bus/pci/devices/${String(d.bdf)}/resource`);
    if (res === undefined) continue;
    const lines = res.split('\n').filter(Boolean).length;
    const bridge = (Number(d.class) >> 8) === 0x0604;
    if (lines === (bridge ? 11 : 7)) kconfig.CONFIG_PCI_IOV = false;
    break;
  }
  if (!Object.keys(kconfig).length) return;
  // Placed before iommus, where a person writing the file would put it.
  const entries = Object.entries(doc);
  entries.splice(Object.keys(doc).indexOf('iommus'), 0, ['kconfig', kconfig]);
  for (const k of Object.keys(doc)) delete doc[k];
  Object.assign(doc, Object.fromEntries(entries));
}

/**
 * Config space the emulator would build differently (command/status values, capability lists
 * it does not model) is carried as recorded bytes — when the whole space was readable (root).
 */
function keepRecordedConfig(doc: Raw, src: SysSource): void {
  let m: Machine;
  try {
    m = replay(doc, src.label);
  } catch {
    return;
  }
  for (const d of doc.devices as Raw[]) {
    const p = `/sys/bus/pci/devices/${String(d.bdf)}/config`;
    const want = src.read(p);
    if (!want || (want.length !== 256 && want.length !== 4096)) continue;
    if ((m.fs.readFileSync(p) as Buffer).equals(want)) continue;
    let end = want.length;
    while (end > 64 && want[end - 1] === 0) end--;
    d.config = want.subarray(0, end).toString('hex');
  }
}

/** BAR addresses are kept only where the emulator's default placement would put them elsewhere. */
function dropDefaultBarAddresses(doc: Raw, src: SysSource): void {
  const devices = doc.devices as Raw[];
  const stripped = structuredClone(doc);
  const strip = (d: Raw) => {
    for (const b of (d.bars as Raw[] | undefined) ?? []) delete b.address;
    delete d.romAddress;
    delete d.windows;
  };
  for (const d of stripped.devices as Raw[]) strip(d);
  let m: Machine;
  try {
    m = replay(stripped, src.label);
  } catch {
    return;
  }
  for (const d of devices) {
    if (!d.bars && d.romAddress === undefined && !d.windows) continue;
    const p = `/sys/bus/pci/devices/${String(d.bdf)}`;
    const want = src.read(`${p}/resource`);
    const got = m.fs.readFileSync(`${p}/resource`) as Buffer;
    if (want && got.equals(want)) strip(d);
  }
}

export function replay(doc: Raw, label: string): Machine {
  try {
    return createMachine(topologyFromJSON(structuredClone(doc), `<recorded:${label}>`));
  } catch (e) {
    if (e instanceof TopologyError) throw new RecordError(`${label}: the recorded topology does not validate (a recorder bug): ${e.message}`);
    throw e;
  }
}

/** Explicit group labels when the recorded partition is not the one the topology derives. */
function labelGroups(
  doc: Raw,
  groups: readonly RecordedGroup[],
  groupOfDev: ReadonlyMap<string, number>,
  build: (d: Raw) => Machine,
  note: (l: RecordNote['level'], w: string, m: string) => void,
): void {
  const m = build(doc);
  const key = (bdfs: readonly string[]) => [...bdfs].sort().join(' ');
  const want = new Set(groups.filter((g) => g.name !== 'vfio-noiommu' && g.bdfs.length).map((g) => key(g.bdfs)));
  const have = new Set(m.host.groups().filter((g) => !g.noiommu).map((g) => key(g.devices.map((d) => d.bdf))));
  const same = want.size === have.size && [...want].every((k) => have.has(k));
  if (same) return;
  for (const d of doc.devices as Raw[]) {
    const id = groupOfDev.get(d.bdf as string);
    const g = groups.find((x) => x.id === id);
    if (id !== undefined && g?.name !== 'vfio-noiommu') d.group = String(id);
  }
  note('info', '/sys/kernel/iommu_groups', 'grouping differs from what ACS/multifunction derivation gives; devices carry explicit group labels');
}

/** The kernel, when nothing says it: the newest profile consistent with what the tree shows. */
function inferKernel(
  src: SysSource,
  groups: readonly RecordedGroup[],
  typeModes: ReadonlySet<number>,
  devices: readonly Raw[],
  note: (l: RecordNote['level'], w: string, m: string) => void,
): string {
  const facts: [Feature, boolean][] = [];
  if (groups.length) {
    facts.push(['reserved_regions', groups.some((g) => g.rr !== undefined)]);
    const withType = groups.filter((g) => g.type !== undefined);
    facts.push(['group_type_attr', withType.length > 0]);
    if (withType.length) facts.push(['group_type_writable', typeModes.has(0o644)]);
    if (withType.some((g) => g.type === 'DMA')) facts.push(['group_type_dma_newline', false]);
    if (withType.some((g) => g.type === 'DMA-FQ\n')) facts.push(['dma_fq', true]);
    if (groups.some((g) => g.rr?.includes('direct-relaxable'))) facts.push(['direct_relaxable', true]);
  }
  const vfioBound = devices.filter((d) => d.driver === 'vfio-pci');
  if (vfioBound.length) facts.push(['vfio_device_cdev', src.exists(`/sys/bus/pci/devices/${String(vfioBound[0]!.bdf)}/vfio-dev`)]);
  // The VFIO modules a tree with /sys/module shows.
  if (src.exists('/sys/module/vfio_pci')) {
    facts.push(['vfio_pci_core_module', src.exists('/sys/module/vfio_pci_core')]);
    facts.push(['vfio_virqfd_module', src.exists('/sys/module/vfio_virqfd')]);
  }
  if (src.exists('/sys/module/vfio_iommu_type1/parameters')) facts.push(['vfio_dma_entry_limit', src.exists('/sys/module/vfio_iommu_type1/parameters/dma_entry_limit')]);
  const candidates = [...new Set([...KERNEL_PROFILES.filter((k) => k !== 'latest'), ...Object.values(FEATURES).flatMap((r) => [r.since, ...('until' in r ? [r.until] : [])]), LATEST_KERNEL])]
    .map((k) => parseKernelVersion(k)!)
    .sort((a, b) => b.major - a.major || b.minor - a.minor);
  const fits = (v: ReturnType<typeof parseKernelVersion>) => facts.every(([f, on]) => inVersionRange(v!, FEATURES[f]) === on);
  const pick = candidates.find(fits) ?? candidates[0]!;
  const text = `${pick.major}.${pick.minor}`;
  note('warning', '(kernel)', `no kernel version in the tree (no --kernel, no iommu-emu.json); inferred ${text}, the newest profile consistent with ${facts.length ? facts.map(([f, on]) => `${on ? '' : 'no '}${f}`).join(', ') : 'nothing observable'}`);
  return text;
}

export type { KernelProfile, RecordedGroup };
