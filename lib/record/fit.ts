// SPDX-License-Identifier: GPL-2.0-only
/**
 * Firmware tables are invisible in sysfs; only their effect is: each group's reserved_regions.
 * This derives firmware entries that reproduce every recorded group under the emulator's driver
 * rules (an RMRR for a direct range on VT-d, an IVMD on AMD, IORT/DT/virtio probe entries on the
 * dma-iommu drivers, start/end_dma on s390), replays, and for any group still not reproduced
 * falls back to `resvRegions`: the recorded lines verbatim on the group's devices.
 */
import type { KernelProfile } from '../kernel/profile';
import type { Machine } from '../machine';
import type { IommuDriver } from '../topology/topology';
import type { RecordNote } from './recorder';
import { RecordError } from './source';
import { parseResvLine } from '../model/resv_region';
import { MSI_IOVA_BASE, MSI_IOVA_LENGTH } from '../iommu/arm_smmu';
import { SZ_64K } from '../iommu/context';
import { ZPCI_TABLE_SIZE_RT } from '../iommu/s390_iommu';

export interface RecordedGroup {
  readonly id: number;
  readonly bdfs: readonly string[];
  /** reserved_regions as read; undefined when the file does not exist. */
  readonly rr: string | undefined;
  readonly type: string | undefined;
  readonly name: string | undefined;
}

export interface FitContext {
  readonly label: string;
  readonly kernel: KernelProfile;
  readonly classOf: ReadonlyMap<string, number>;
  readonly parentOf: ReadonlyMap<string, string | undefined>;
  readonly unitDriverOf: (bdf: string) => IommuDriver | undefined;
  readonly replay: (doc: Raw) => Machine;
  readonly note: (level: RecordNote['level'], where: string, message: string) => void;
}

type Raw = Record<string, unknown>;
interface Line {
  readonly start: bigint;
  readonly last: bigint;
  readonly type: string;
  readonly text: string;
}

const hex = (n: bigint) => `0x${n.toString(16)}`;
const MSI_IOVA = { start: MSI_IOVA_BASE, last: MSI_IOVA_BASE + MSI_IOVA_LENGTH - 1n };
const S390_TOP = ZPCI_TABLE_SIZE_RT - 1n;

export function parseResvLines(text: string, where: string): Line[] {
  const out: Line[] = [];
  const lines = text.split('\n');
  if (lines.pop() !== '') throw new Error(`${where}: does not end with a newline`);
  lines.forEach((l, i) => {
    const r = parseResvLine(l);
    if (!r) throw new Error(`${where}: line ${i + 1}: ${JSON.stringify(l.slice(0, 80))} is not "0x%016llx 0x%016llx <type>"`);
    if (r.last < r.start) throw new Error(`${where}: line ${i + 1}: end below start`);
    out.push({ start: r.start, last: r.last, type: r.type, text: l });
  });
  return out;
}

const minus = (a: readonly Line[], b: readonly Line[]): Line[] => {
  const left = b.map((x) => x.text);
  return a.filter((x) => {
    const i = left.indexOf(x.text);
    if (i < 0) return true;
    left.splice(i, 1);
    return false;
  });
};

const isGfxOrUsb = (cls: number) => cls >> 8 === 0x0c03 || cls >> 16 === 0x03;
const isBridge = (cls: number) => cls >> 8 === 0x0604;

/** The group's lines as the replay renders them, by the group of its first device. */
function renderedGroups(m: Machine): Map<string, string> {
  const out = new Map<string, string>();
  for (const g of m.host.groups()) {
    const p = `/sys/kernel/iommu_groups/${g.id}/reserved_regions`;
    const rr = m.fs.existsSync(p) ? String(m.fs.readFileSync(p, 'latin1')) : undefined;
    for (const d of g.devices) out.set(d.bdf, rr ?? '');
  }
  return out;
}

export function fitReservedRegions(doc: Raw, groups: readonly RecordedGroup[], ctx: FitContext): void {
  if (!groups.length) return;
  const fw: Record<string, Raw[]> = {};
  const devOf = new Map((doc.devices as Raw[]).map((d) => [d.bdf as string, d]));
  const units = doc.iommus as Raw[];
  const recorded = new Map<number, Line[]>();
  for (const g of groups) {
    try {
      recorded.set(g.id, parseResvLines(g.rr!, `/sys/kernel/iommu_groups/${g.id}/reserved_regions`));
    } catch (e) {
      throw new RecordError(`${ctx.label}: ${(e as Error).message}`);
    }
  }
  const base = renderedGroups(ctx.replay(doc));
  const push = (table: string, e: Raw) => (fw[table] ??= []).push(e);
  const k = ctx.kernel;
  const hasChildren = (bdf: string) => [...ctx.parentOf.values()].includes(bdf);
  const pick = (g: RecordedGroup, ok: (cls: number) => boolean) =>
    g.bdfs.find((b) => ok(ctx.classOf.get(b)!) && !(isBridge(ctx.classOf.get(b)!) && hasChildren(b)));

  for (const g of groups) {
    const R = recorded.get(g.id)!;
    const have = base.get(g.bdfs[0]!) ?? '';
    if (have === g.rr) continue;
    const B = parseResvLines(have, `replay of group ${g.id}`);
    const extra = minus(R, B);
    const missing = minus(B, R);
    const drv = ctx.unitDriverOf(g.bdfs[0]!);
    const any = pick(g, () => true) ?? g.bdfs[0]!;
    switch (drv) {
      case 'intel-iommu':
        for (const l of extra) {
          const relax = l.type === 'direct-relaxable';
          if (l.type !== 'direct' && !relax) continue;
          const target = pick(g, (c) => (relax ? k.has('direct_relaxable') && isGfxOrUsb(c) : !(k.has('direct_relaxable') && isGfxOrUsb(c))));
          if (target) push('rmrr', { base: hex(l.start), end: hex(l.last), devices: [target] });
        }
        break;
      case 'amd-iommu':
        for (const l of extra) {
          if (l.type === 'direct') push('ivmd', { start: hex(l.start), length: hex(l.last - l.start + 1n), devices: [any] });
          // Only v5.1–v5.5 print an exclusion range as reserved (later ones make it a unity map).
          if (l.type === 'reserved' && k.has('amd_ivmd_exclusion_reserved') && !k.has('amd_ivmd_exclusion_unity'))
            push('ivmd', { start: hex(l.start), length: hex(l.last - l.start + 1n), devices: [any], exclusion: true });
        }
        if (missing.some((l) => l.start === 0xfd00000000n && l.type === 'reserved') && k.has('amd_ht_range_ignore')) {
          const name = devOf.get(any)?.iommu;
          const u = units.find((x, i) => (x.name ?? null) === (name ?? null) || (name === undefined && i === 0));
          if (u) u.htRangeIgnore = true;
        }
        break;
      case 'virtio-iommu': {
        const swGone = missing.some((l) => l.type === 'msi' && l.start === MSI_IOVA.start && l.last === MSI_IOVA.last);
        const probeMsi = swGone || extra.some((l) => l.type === 'msi');
        for (const l of probeMsi ? R.filter((x) => x.type === 'msi') : [])
          push('virtioIommuProbe', { start: hex(l.start), end: hex(l.last), subtype: 'msi', devices: [any] });
        for (const l of extra) {
          if (l.type === 'reserved') push('virtioIommuProbe', { start: hex(l.start), end: hex(l.last), subtype: 'reserved', devices: [any] });
          if (l.type === 'direct') push('dtIommuAddresses', dtDirect(any, l));
        }
        break;
      }
      case 'arm-smmu':
      case 'arm-smmu-v3':
      case 'apple-dart':
        for (const l of extra) {
          const len = l.last - l.start + 1n;
          if (l.type === 'reserved') push('dtIommuAddresses', { device: any, iova: hex(l.start), length: hex(len) });
          else if (l.type === 'direct' && k.has('iort_rmr')) push('iortRmr', { base: hex(l.start), length: hex(len), devices: [any] });
          else if (l.type === 'direct') push('dtIommuAddresses', dtDirect(any, l));
          else if (l.type === 'direct-relaxable' && k.has('iort_rmr'))
            push('iortRmr', { base: hex(l.start), length: hex(len), devices: [any], remapPermitted: true });
          else if (l.type === 'msi' && len === SZ_64K && l.start >= SZ_64K && k.has('iort_its_msi'))
            push('its', { base: hex(l.start - SZ_64K), devices: [any] });
        }
        break;
      case 's390-iommu': {
        const below = R.find((l) => l.start === 0n && l.type === 'reserved');
        const above = R.find((l) => l.last === S390_TOP && l.type === 'reserved' && l !== below);
        for (const b of g.bdfs) {
          const d = devOf.get(b)!;
          d.startDma = hex(below ? below.last + 1n : 0n);
          d.endDma = hex(above ? above.start - 1n : S390_TOP);
        }
        break;
      }
      default:
        break;
    }
  }
  const firmware = { ...((doc.firmware as Raw | undefined) ?? {}) };
  for (const [t, list] of Object.entries(fw)) firmware[t] = [...((firmware[t] as Raw[] | undefined) ?? []), ...list];
  // A host is ACPI or device tree: when both kinds were fitted, the DT guesses go and their
  // groups replay verbatim below.
  if (firmware.dtIommuAddresses && ['rmrr', 'ivmd', 'iortRmr', 'its'].some((t) => (firmware[t] as Raw[] | undefined)?.length)) delete firmware.dtIommuAddresses;
  if (Object.keys(firmware).length) doc.firmware = firmware;

  // Whatever the rules cannot reproduce replays verbatim: the lines on the group's first device.
  for (let round = 0; round < 3; round++) {
    const got = renderedGroups(ctx.replay(doc));
    const wrong = groups.filter((g) => (got.get(g.bdfs[0]!) ?? '') !== g.rr);
    if (!wrong.length) return;
    for (const g of wrong) {
      if (round === 2) {
        ctx.note('error', `/sys/kernel/iommu_groups/${g.id}/reserved_regions`, 'the replay still differs after writing the lines verbatim');
        continue;
      }
      dropFirmwareFor(doc, g.bdfs);
      const R = recorded.get(g.id)!;
      g.bdfs.forEach((b, i) => {
        devOf.get(b)!.resvRegions = i === 0 ? verbatim(R) : [];
      });
      ctx.note(
        'info',
        `/sys/kernel/iommu_groups/${g.id}/reserved_regions`,
        `no firmware table explains ${R.length ? 'these lines' : 'an empty list'} under ${ctx.unitDriverOf(g.bdfs[0]!) ?? 'this IOMMU'}; recorded verbatim (devices[].resvRegions)`,
      );
    }
  }
}

function dtDirect(device: string, l: Line): Raw {
  const length = hex(l.last - l.start + 1n);
  return { device, iova: hex(l.start), length, reg: { start: hex(l.start), length } };
}

/** MSI and SW_MSI never merge: a second overlapping msi line must have been the other type. */
function verbatim(lines: readonly Line[]): Raw[] {
  const msi: Line[] = [];
  return lines.map((l) => {
    let type = l.type;
    if (type === 'msi') {
      if (msi.some((x) => x.start <= l.last + 1n && l.start <= x.last + 1n)) type = 'sw-msi';
      else msi.push(l);
    }
    return { start: hex(l.start), end: hex(l.last), type };
  });
}

function dropFirmwareFor(doc: Raw, bdfs: readonly string[]): void {
  const fw = doc.firmware as Record<string, Raw[]> | undefined;
  if (!fw) return;
  for (const [t, list] of Object.entries(fw)) {
    const keep = list.filter((e) => {
      const devs = (e.devices as string[] | undefined) ?? (e.device ? [e.device as string] : []);
      return !devs.some((d) => bdfs.includes(d));
    });
    if (keep.length) fw[t] = keep;
    else delete fw[t];
  }
  if (!Object.keys(fw).length) delete doc.firmware;
}
