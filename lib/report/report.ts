// SPDX-License-Identifier: GPL-2.0-only
/**
 * The JSON shapes every output shares (the CLI's `--json` and the HTTP agent), built in one
 * place so the same thing has one name and one shape everywhere. The shapes are described by
 * lib/schemas/common.schema.json; naming: snake_case, the kernel's name where it has one;
 * u64 values as `0x` + 16 hex digits; ranges inclusive `{start, last}`.
 */
import { FEATURES, type Feature } from '../kernel/profile';
import type { Machine } from '../machine';
import { O_RDONLY } from '../uapi/fcntl';
import { IovaRange, hex64 } from '../model/iova';
import { parseResvLine, type ResvTypeString } from '../model/resv_region';
import { explainGroupResvRegions, ignoredFirmware } from '../iommu/explain';
import { must } from '../user/sys';
import type { IommufdInfo } from '../user/iommufd';
import type { Topology } from '../topology/topology';

export interface RangeJson {
  readonly start: string;
  readonly last: string;
}
export interface ReservedRegionJson extends RangeJson {
  readonly type: ResvTypeString;
  /** The device regions this line was built from (`<bdf>: <driver function>: <entry>`); several: merged. */
  readonly source: readonly string[];
}
export interface DeviceJson {
  /** The PCI address, or a platform device's name. */
  readonly bdf: string;
  readonly bus: 'pci' | 'platform';
  /** null for a platform device (it has no vendor, device or class attribute). */
  readonly vendor: string | null;
  readonly device: string | null;
  readonly class: string | null;
  readonly driver: string | null;
  readonly iommu: string | null;
  readonly name?: string;
}
export interface GroupJson {
  readonly id: number;
  /** null where the kernel has no `type` attribute (before 4.19). */
  readonly type: string | null;
  readonly name: string | null;
  readonly devices: DeviceJson[];
  /** null where the kernel has no `reserved_regions` file (before 4.11). */
  readonly reserved_regions: ReservedRegionJson[] | null;
  readonly usable_ranges: RangeJson[];
  /** The group's VFIO character device, null when it has none. */
  readonly vfio: string | null;
}
export interface UnavailableJson {
  readonly feature: Feature;
  readonly what: string;
  readonly since: string;
}
/** A firmware entry or IOMMU unit the machine's kernel does not report, and why. */
export interface IgnoredJson {
  /** `firmware.iortRmr[0]`, `iommus[1] (virtio0, virtio-iommu)` */
  readonly entry: string;
  readonly why: string;
  /** The profile row (lib/kernel/profile.ts) that decides it, when a kernel version does. */
  readonly row?: Feature;
  /** The row's evidence (commit, release). */
  readonly evidence?: string;
}
export interface MachineReport {
  readonly machine?: string;
  readonly host: string;
  readonly kernel: string;
  readonly arch: string;
  readonly iommus: { name: string; driver: string }[];
  readonly groups: GroupJson[];
  /** Devices no IOMMU translates (no group). */
  readonly ungrouped: DeviceJson[];
  /** What this kernel lacks that the report would otherwise show. */
  readonly unavailable: UnavailableJson[];
  /** Firmware entries and IOMMU units this kernel does not report, and why. */
  readonly ignored: IgnoredJson[];
}
export interface HostJson {
  readonly name: string;
  readonly default: boolean;
  readonly kernel: string;
  readonly arch: string;
  readonly iommus: string[];
  readonly devices: number;
  readonly description: string;
  readonly file?: string;
}
export type FileJson =
  | { readonly path: string; readonly kind: 'file'; readonly mode: number; readonly size: number; readonly text?: string; readonly base64?: string }
  | { readonly path: string; readonly kind: 'dir'; readonly mode: number; readonly entries: string[] }
  | { readonly path: string; readonly kind: 'link'; readonly target: string };
export interface VfioIommuInfoJson {
  readonly iova_pgsizes: string;
  readonly iova_ranges: RangeJson[] | null;
  readonly dma_avail: number | null;
  readonly migration: { flags: number; pgsize_bitmap: string; max_dirty_bitmap_size: string } | null;
}

export const u64Json = (x: bigint): string => `0x${hex64(x)}`;
export const rangeJson = (r: IovaRange): RangeJson => ({ start: u64Json(r.start), last: u64Json(r.last) });

/** The first kernel with `f`, and what it is, when the machine's kernel lacks it. */
export function unavailable(m: Machine, f: Feature, what: string): UnavailableJson | undefined {
  return m.kernel.has(f) ? undefined : { feature: f, what, since: FEATURES[f].since };
}

/** "not on kernel 4.10 (since 4.11)" */
export const notOnKernel = (m: Machine, f: Feature): string => `not on kernel ${m.kernel.release} (since ${FEATURES[f].since})`;

const G = '/sys/kernel/iommu_groups';

const UNEXPLAINED = "(unexplained: the emulator's record and sysfs disagree)";

/**
 * What a user learns from the machine's sysfs, read through `m.fs` as any consumer would; the
 * usable ranges are what VFIO type1 computes for the group (aperture minus every region that is
 * not direct-relaxable). Each reserved_regions line carries the device regions it was built from,
 * and `ignored` names the firmware entries this kernel does not report (`show --explain`).
 */
export function machineReport(m: Machine): MachineReport {
  const read = (p: string) => String(m.fs.readFileSync(p, 'utf8'));
  const exists = (p: string) => m.fs.existsSync(p);
  const link = (p: string) => String(m.fs.readlinkSync(p)).split('/').pop()!;
  const spec = new Map(m.topology.devices.map((d) => [d.bdf, d]));
  const device = (bdf: string): DeviceJson => {
    if (!exists(`/sys/bus/pci/devices/${bdf}`) && exists(`/sys/bus/platform/devices/${bdf}`)) {
      const p = `/sys/bus/platform/devices/${bdf}`;
      const ps = m.topology.platformDevices.find((x) => x.name === bdf);
      const name = ps?.description ?? ps?.hid ?? ps?.compatible;
      return {
        bdf,
        bus: 'platform',
        vendor: null,
        device: null,
        class: null,
        driver: exists(`${p}/driver`) ? link(`${p}/driver`) : null,
        iommu: exists(`${p}/iommu`) ? link(`${p}/iommu`) : null,
        ...(name ? { name } : {}),
      };
    }
    const d = `/sys/bus/pci/devices/${bdf}`;
    const drv = exists(`${d}/driver`) ? link(`${d}/driver`) : null;
    // An AMD IOMMU's own PCI function has an iommu/ directory (its unit), not a link.
    const unit = exists(`${d}/iommu`) && m.fs.lstatSync(`${d}/iommu`).isSymbolicLink() ? link(`${d}/iommu`) : null;
    const name = spec.get(bdf)?.name;
    return {
      bdf,
      bus: 'pci',
      vendor: read(`${d}/vendor`).trim(),
      device: read(`${d}/device`).trim(),
      class: read(`${d}/class`).trim(),
      driver: drv,
      iommu: unit,
      ...(name ? { name } : {}),
    };
  };
  const model = new Map(m.host.groups().map((g) => [g.id, g]));
  const ids = exists(G) ? (m.fs.readdirSync(G) as string[]).map(Number).sort((a, b) => a - b) : [];
  const grouped = new Set<string>();
  const groups = ids.map((id): GroupJson => {
    const gd = `${G}/${id}`;
    const devs = (m.fs.readdirSync(`${gd}/devices`) as string[]).map((l) => String(m.fs.realpathSync(`${gd}/devices/${l}`)).split('/').pop()!).sort();
    devs.forEach((b) => grouped.add(b));
    const rr = exists(`${gd}/reserved_regions`) ? read(`${gd}/reserved_regions`) : null;
    const ig = model.get(id);
    const explained = ig ? explainGroupResvRegions(m.host, ig) : [];
    const node = ['', 'noiommu-'].map((p) => `/dev/vfio/${p}${id}`).find(exists) ?? null;
    return {
      id,
      type: exists(`${gd}/type`) ? read(`${gd}/type`).trim() : null,
      name: exists(`${gd}/name`) ? read(`${gd}/name`).trim() : null,
      devices: devs.map(device),
      reserved_regions:
        rr === null
          ? null
          : rr
              .split('\n')
              .filter(Boolean)
              .map((l, i): ReservedRegionJson => {
                const r = parseResvLine(l);
                if (!r) throw new Error(`${gd}/reserved_regions: line ${i + 1} is not in the kernel's format: ${JSON.stringify(l)}`);
                // The bookkeeping must describe the very line sysfs printed; anything else is a bug.
                const e = explained[i];
                return { start: u64Json(r.start), last: u64Json(r.last), type: r.type, source: e && e.line === l ? e.sources : [UNEXPLAINED] };
              }),
      usable_ranges: ig ? usableRanges(m, ig).map(rangeJson) : [],
      vfio: node,
    };
  });
  const all = (m.fs.readdirSync('/sys/bus/pci/devices') as string[]).sort();
  return {
    host: m.topology.name,
    kernel: m.kernel.release,
    arch: m.topology.arch,
    iommus: m.host.units.map((u) => ({ name: u.name, driver: u.driver })),
    groups,
    ungrouped: all.filter((b) => !grouped.has(b)).map(device),
    unavailable: [
      unavailable(m, 'reserved_regions', `${G}/N/reserved_regions`),
      unavailable(m, 'group_type_attr', `${G}/N/type`),
      m.topology.kconfig.CONFIG_VFIO ? unavailable(m, 'vfio', 'VFIO (/dev/vfio)') : undefined,
    ].filter((x): x is UnavailableJson => x !== undefined),
    ignored: ignoredFirmware(m.host).map((x) => ({ ...x, ...(x.row ? { evidence: FEATURES[x.row].source } : {}) })),
  };
}

/** What VFIO type1 / iommufd leave usable for a group (the IOMMU core's one computation). */
export function usableRanges(m: Machine, g: ReturnType<Machine['host']['groups']>[number]): IovaRange[] {
  return m.host.groupUsableIova(g);
}

export function hostJson(name: string, t: Topology, isDefault: boolean, file?: string): HostJson {
  return {
    name,
    default: isDefault,
    kernel: t.kernel,
    arch: t.arch,
    iommus: t.iommus.map((u) => u.driver),
    devices: t.devices.length,
    description: t.description ?? '',
    ...(file !== undefined ? { file } : {}),
  };
}

/** A path of the machine: a file's bytes through read(2) (permission checks included), a directory's entries, a link's target. */
export function fileJson(m: Machine, p: string): FileJson {
  const st = m.fs.lstatSync(p);
  const mode = Number(st.mode) & 0o7777;
  if (st.isSymbolicLink()) return { path: p, kind: 'link', target: String(m.fs.readlinkSync(p)) };
  if (st.isDirectory()) return { path: p, kind: 'dir', mode, entries: (m.fs.readdirSync(p) as string[]).sort() };
  const fd = must(m.sys.open(p, O_RDONLY), `open ${p}`);
  try {
    const chunks: Buffer[] = [];
    for (;;) {
      const b = Buffer.alloc(65536);
      const n = must(m.sys.read(fd, b), `read ${p}`);
      if (n === 0) break;
      chunks.push(b.subarray(0, n));
    }
    const data = Buffer.concat(chunks);
    const text = !data.includes(0) && Buffer.from(data.toString('utf8'), 'utf8').equals(data);
    return { path: p, kind: 'file', mode, size: data.length, ...(text ? { text: data.toString('utf8') } : { base64: data.toString('base64') }) };
  } finally {
    m.sys.close(fd);
  }
}

/** VFIO_IOMMU_GET_INFO as JSON; a capability the machine's kernel does not have is null. */
export function vfioIommuInfoJson(m: Machine, i: {
  readonly iovaPgsizes: bigint;
  readonly iovaRanges?: readonly IovaRange[] | undefined;
  readonly dmaAvail?: number | undefined;
  readonly migration?: { readonly flags: number; readonly pgsizeBitmap: bigint; readonly maxDirtyBitmapSize: bigint } | undefined;
}): VfioIommuInfoJson {
  return {
    iova_pgsizes: u64Json(i.iovaPgsizes),
    iova_ranges: m.kernel.has('vfio_iova_range_cap') ? (i.iovaRanges ?? []).map(rangeJson) : null,
    dma_avail: i.dmaAvail ?? null,
    migration: i.migration ? { flags: i.migration.flags, pgsize_bitmap: u64Json(i.migration.pgsizeBitmap), max_dirty_bitmap_size: u64Json(i.migration.maxDirtyBitmapSize) } : null,
  };
}

/** The IOVA ranges an iommufd attach produced are the IOMMU core's usable IOVA of the group. */
export const iommufdMatchesCore = (i: IommufdInfo): boolean =>
  i.iovaRanges.length === i.groupUsableIova.length && i.iovaRanges.every((r, k) => r.start === i.groupUsableIova[k]!.start && r.last === i.groupUsableIova[k]!.last);

/** A group's cdevs bound to /dev/iommu and attached to one IOAS (the agent's iommufd_group; vfio-info --iommufd --json adds the kernel and the ioctl count). */
export function iommufdGroupJson(i: IommufdInfo) {
  return {
    group: i.group,
    devices: i.devices,
    ioas: i.ioas,
    hwpt: i.hwpt,
    alignment: u64Json(i.alignment),
    iova_ranges: i.iovaRanges.map(rangeJson),
    group_usable_iova: i.groupUsableIova.map(rangeJson),
    matches_group_usable_iova: iommufdMatchesCore(i),
  };
}
