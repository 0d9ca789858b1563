// SPDX-License-Identifier: GPL-2.0-only
/**
 * The firmware tables of a topology, as /sys/firmware/acpi/tables shows them, and the way back:
 * DMAR (one DRHD per VT-d unit with its device scopes, the RMRRs), IVRS (one IVHD per AMD-Vi
 * unit, the IVMDs), IORT (ITS groups, SMMUv3 nodes, the root complex, RMR nodes) and the MADT
 * GIC ITS entries that give the ITS doorbell addresses. Every table carries a valid checksum.
 * @see drivers/iommu/intel/dmar.c:dmar_walk_remapping_entries, dmar_parse_one_rmrr
 * @see drivers/iommu/amd/init.c:init_iommu_from_acpi, init_unity_map_range
 * @see drivers/acpi/arm64/iort.c:iort_get_rmrs, iort_iommu_msi_get_resv_regions
 * @note emulation: a table holds only what the IOMMU drivers read; OEM ids are "IOMEMU".
 */
import { decode, encode } from '../abi';
import type { Input } from '../abi';
import type { DeviceSpec, FirmwareSpec, IommuSpec, Topology } from '../topology/topology';
import {
  ACPI_DMAR_INCLUDE_ALL,
  ACPI_DMAR_INTR_REMAP,
  ACPI_DMAR_SCOPE_TYPE_BRIDGE,
  ACPI_DMAR_SCOPE_TYPE_ENDPOINT,
  ACPI_DMAR_SCOPE_TYPE_IOAPIC,
  ACPI_DMAR_TYPE_HARDWARE_UNIT,
  ACPI_DMAR_TYPE_RESERVED_MEMORY,
  ACPI_IORT_ID_SINGLE_MAPPING,
  ACPI_IORT_NODE_ITS_GROUP,
  ACPI_IORT_NODE_PCI_ROOT_COMPLEX,
  ACPI_IORT_NODE_RMR,
  ACPI_IORT_NODE_SMMU_V3,
  ACPI_IORT_RMR_REMAP_PERMITTED,
  ACPI_IORT_SMMU_V3_COHACC_OVERRIDE,
  ACPI_IORT_SMMU_V3_GENERIC,
  ACPI_IORT_SMMU_V3_HISILICON_HI161X,
  ACPI_IVHD_IOAPIC,
  ACPI_IVMD_EXCLUSION_RANGE,
  ACPI_IVMD_READ,
  ACPI_IVMD_UNITY,
  ACPI_IVMD_WRITE,
  ACPI_IVRS_TYPE_HARDWARE2,
  ACPI_IVRS_TYPE_MEMORY2,
  ACPI_IVRS_TYPE_SELECT,
  ACPI_IVRS_TYPE_SPECIAL,
  ACPI_MADT_TYPE_GENERIC_TRANSLATOR,
  acpi_dmar_device_scope,
  acpi_dmar_hardware_unit,
  acpi_dmar_header,
  acpi_dmar_pci_path,
  acpi_dmar_reserved_memory,
  acpi_iort_id_mapping,
  acpi_iort_its_group,
  acpi_iort_node,
  acpi_iort_rmr,
  acpi_iort_rmr_desc,
  acpi_iort_root_complex,
  acpi_iort_smmu_v3,
  acpi_ivrs_device4,
  acpi_ivrs_device8c,
  acpi_ivrs_hardware_11,
  acpi_ivrs_header,
  acpi_ivrs_memory,
  acpi_madt_generic_translator,
  acpi_subtable_header,
  acpi_table_dmar,
  acpi_table_header,
  acpi_table_iort,
  acpi_table_ivrs,
  acpi_table_madt,
} from './actbl';

export class AcpiTableError extends Error {
  override readonly name = 'AcpiTableError';
}

const ascii = (s: string, n: number) => Array.from({ length: n }, (_, i) => s.charCodeAt(i) || 0x20);
const str = (a: readonly number[]) => String.fromCharCode(...a).replace(/[\0 ]+$/, '');

/** The byte that makes the table sum to 0 mod 256. @see drivers/acpi/acpica/utcksum.c:acpi_ut_checksum */
export function acpiChecksum(t: Uint8Array): number {
  let sum = 0;
  for (const b of t) sum = (sum + b) & 0xff;
  return sum;
}

const CHECKSUM_AT = 9;

/** Header + body, with length and checksum filled in. */
function table(signature: string, revision: number, fixed: Uint8Array, parts: readonly Uint8Array[]): Uint8Array {
  const length = fixed.length + parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(length);
  out.set(fixed);
  let at = fixed.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  encode(
    acpi_table_header,
    {
      signature: ascii(signature, 4),
      length,
      revision,
      oem_id: ascii('IOMEMU', 6),
      oem_table_id: ascii(`EMU${signature}`, 8),
      oem_revision: 1,
      asl_compiler_id: ascii('IEMU', 4),
      asl_compiler_revision: 1,
    },
    out,
    0,
  );
  out[CHECKSUM_AT] = (0x100 - acpiChecksum(out)) & 0xff;
  return out;
}

const concat = (parts: readonly Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

/** The topology's hierarchy, as the tables address devices (bus, device, function paths). */
class Hierarchy {
  private readonly byBdf: Map<string, DeviceSpec>;
  constructor(private readonly devices: readonly DeviceSpec[]) {
    this.byBdf = new Map(devices.map((d) => [d.bdf, d]));
  }

  /** Root bus and the (device, function) hops from it down to `bdf`. @see drivers/iommu/intel/dmar.c:dmar_insert_dev_scope */
  path(bdf: string): { bus: number; path: [number, number][] } {
    const chain: DeviceSpec[] = [];
    for (let d = this.byBdf.get(bdf); d; d = d.parent ? this.byBdf.get(d.parent) : undefined) chain.unshift(d);
    const top = chain[0] ?? ({ bdf } as DeviceSpec);
    return { bus: parseInt(top.bdf.slice(5, 7), 16), path: chain.map((d) => [parseInt(d.bdf.slice(8, 10), 16), parseInt(d.bdf.slice(11), 16)]) };
  }

  /** `PCI_DEVID(bus, devfn)` */
  static rid(bdf: string): number {
    return (parseInt(bdf.slice(5, 7), 16) << 8) | (parseInt(bdf.slice(8, 10), 16) << 3) | parseInt(bdf.slice(11), 16);
  }

  streamIds(bdf: string): readonly number[] {
    return this.byBdf.get(bdf)?.streamIds ?? [Hierarchy.rid(bdf)];
  }

  isBridge(bdf: string): boolean {
    return (this.byBdf.get(bdf)?.class ?? 0) >> 8 === 0x0604;
  }

  unitOf(d: DeviceSpec, units: readonly IommuSpec[]): IommuSpec | undefined {
    if (d.iommu === null) return undefined;
    return d.iommu === undefined ? units[0] : units.find((u) => u.name === d.iommu);
  }

  get all(): readonly DeviceSpec[] {
    return this.devices;
  }
}

// ---- DMAR ---------------------------------------------------------------------------------

function dmarScope(h: Hierarchy, bdf: string, type?: number): Uint8Array {
  const { bus, path } = h.path(bdf);
  const entryType = type ?? (h.isBridge(bdf) ? ACPI_DMAR_SCOPE_TYPE_BRIDGE : ACPI_DMAR_SCOPE_TYPE_ENDPOINT);
  return concat([
    encode(acpi_dmar_device_scope, { entry_type: entryType, length: acpi_dmar_device_scope.size + 2 * path.length, bus }),
    ...path.map(([device, fn]) => encode(acpi_dmar_pci_path, { device, function: fn })),
  ]);
}

/** The IOAPIC a VT-d unit that remaps interrupts must list (x86 boards put it at bus F0, 1F.0). */
const IOAPIC_SCOPE = { enumeration_id: 8, bus: 0xf0, path: [0x1f, 0x00] as const };

/**
 * DMAR: host address width, interrupt remapping, a DRHD per unit (explicit scopes first, the
 * INCLUDE_PCI_ALL unit last, as the kernel requires), an RMRR per reserved range.
 * @see drivers/iommu/intel/dmar.c:dmar_parse_one_drhd, dmar_parse_one_rmrr
 */
export function buildDmar(t: Topology, unitBase: (u: IommuSpec, index: number) => bigint): Uint8Array | undefined {
  const units = t.iommus.filter((u) => u.driver === 'intel-iommu');
  if (!units.length) return undefined;
  const h = new Hierarchy(t.devices);
  const width = Math.max(...units.map((u) => u.addressWidth ?? 48)) - 1;
  const ir = units.some((u) => u.interruptRemapping);
  const drhd = (u: IommuSpec, i: number, includeAll: boolean): Uint8Array => {
    const scopes: Uint8Array[] = [];
    if (includeAll) {
      if (u.interruptRemapping)
        scopes.push(
          concat([
            encode(acpi_dmar_device_scope, { entry_type: ACPI_DMAR_SCOPE_TYPE_IOAPIC, length: 8, enumeration_id: IOAPIC_SCOPE.enumeration_id, bus: IOAPIC_SCOPE.bus }),
            encode(acpi_dmar_pci_path, { device: IOAPIC_SCOPE.path[0], function: IOAPIC_SCOPE.path[1] }),
          ]),
        );
    } else {
      // The topmost devices behind the unit: a bridge's scope covers what is below it.
      for (const d of h.all) {
        if (h.unitOf(d, t.iommus) !== u) continue;
        const parent = d.parent ? h.all.find((p) => p.bdf === d.parent) : undefined;
        if (parent && h.unitOf(parent, t.iommus) === u) continue;
        scopes.push(dmarScope(h, d.bdf));
      }
    }
    const body = concat(scopes);
    return concat([
      encode(acpi_dmar_hardware_unit, {
        header: { type: ACPI_DMAR_TYPE_HARDWARE_UNIT, length: acpi_dmar_hardware_unit.size + body.length },
        flags: includeAll ? ACPI_DMAR_INCLUDE_ALL : 0,
        size: 0,
        segment: 0,
        address: unitBase(u, i),
      }),
      body,
    ]);
  };
  // Devices without an explicit unit fall to the first one: it is the INCLUDE_PCI_ALL unit.
  const parts = [...units.slice(1).map((u, i) => drhd(u, i + 1, false)), drhd(units[0]!, 0, true)];
  for (const r of t.firmware.rmrr) {
    const body = concat(r.devices.map((b) => dmarScope(h, b)));
    parts.push(
      concat([
        encode(acpi_dmar_reserved_memory, {
          header: { type: ACPI_DMAR_TYPE_RESERVED_MEMORY, length: acpi_dmar_reserved_memory.size + body.length },
          segment: 0,
          base_address: r.base,
          end_address: r.end,
        }),
        body,
      ]),
    );
  }
  return table('DMAR', 1, encode(acpi_table_dmar, { width, flags: ir ? ACPI_DMAR_INTR_REMAP : 0 }), parts);
}

// ---- IVRS ---------------------------------------------------------------------------------

/**
 * IVRS: IVinfo (EFR supported, 48-bit physical, 64-bit virtual, 2-level guest), an IVHD type
 * 11h per unit selecting each device behind it (and the IOAPIC when it remaps interrupts), an
 * IVMD per device of every unity or exclusion range. @see drivers/iommu/amd/init.c:init_iommu_from_acpi
 */
export function buildIvrs(t: Topology, caps: (u: IommuSpec) => { cap: bigint; features: bigint }): Uint8Array | undefined {
  const units = t.iommus.filter((u) => u.driver === 'amd-iommu');
  if (!units.length) return undefined;
  const h = new Hierarchy(t.devices);
  const parts: Uint8Array[] = [];
  units.forEach((u, i) => {
    const entries: Uint8Array[] = [];
    for (const d of h.all) if (h.unitOf(d, t.iommus) === u) entries.push(encode(acpi_ivrs_device4, { type: ACPI_IVRS_TYPE_SELECT, id: Hierarchy.rid(d.bdf), data_setting: 0 }));
    if (u.interruptRemapping)
      entries.push(encode(acpi_ivrs_device8c, { type: ACPI_IVRS_TYPE_SPECIAL, id: 0, data_setting: 0xd7, handle: 0x21, used_id: Hierarchy.rid('0000:00:14.0'), variety: ACPI_IVHD_IOAPIC }));
    const body = concat(entries);
    parts.push(
      concat([
        encode(acpi_ivrs_hardware_11, {
          header: { type: ACPI_IVRS_TYPE_HARDWARE2, flags: 0x30, length: acpi_ivrs_hardware_11.size + body.length, device_id: u.bdf ? Hierarchy.rid(u.bdf) : 2 },
          capability_offset: 0x40,
          base_address: u.base ?? 0xfd200000n + 0x100000n * BigInt(i),
          pci_segment_group: 0,
          info: 0,
          attributes: 0,
          efr_register_image: caps(u).features,
        }),
        body,
      ]),
    );
  });
  for (const m of t.firmware.ivmd) {
    const flags = m.exclusion ? ACPI_IVMD_EXCLUSION_RANGE : ACPI_IVMD_UNITY | (m.read ? ACPI_IVMD_READ : 0) | (m.write ? ACPI_IVMD_WRITE : 0);
    for (const b of m.devices)
      parts.push(
        encode(acpi_ivrs_memory, {
          header: { type: ACPI_IVRS_TYPE_MEMORY2, flags, length: acpi_ivrs_memory.size, device_id: Hierarchy.rid(b) },
          start_address: m.start,
          memory_length: m.length,
        }),
      );
  }
  const IVINFO = 0x00203041; // EFRSup, PASize 48, VASize 64, GVASize 2 levels
  return table('IVRS', 2, encode(acpi_table_ivrs, { info: IVINFO }), parts);
}

// ---- IORT and MADT ------------------------------------------------------------------------

interface NodeDraft {
  readonly type: number;
  readonly revision: number;
  readonly body: Uint8Array;
  readonly maps: readonly (Omit<Input<typeof acpi_iort_id_mapping>, 'output_reference'> & { readonly to: NodeDraft })[];
}

/**
 * IORT (revision 5, E.d, for RMR nodes): one ITS group per ITS, an SMMUv3 node per unit (mapped
 * to the ITS groups; the Hi161x model when its MSIs bypass it, which is what makes the kernel
 * reserve the doorbells), the root complex mapping every RID to the SMMU as a stream ID, and an
 * RMR node per reserved range. @see drivers/acpi/arm64/iort.c
 */
export function buildIort(t: Topology): Uint8Array | undefined {
  const units = t.iommus.filter((u) => u.driver === 'arm-smmu-v3');
  if (!units.length) return undefined;
  const h = new Hierarchy(t.devices);
  const nodes: NodeDraft[] = [];
  const its = t.firmware.its.map((_, i): NodeDraft => {
    const body = new Uint8Array(acpi_iort_its_group.size + 4);
    encode(acpi_iort_its_group, { its_count: 1 }, body, 0);
    new DataView(body.buffer).setUint32(acpi_iort_its_group.size, i, true);
    return { type: ACPI_IORT_NODE_ITS_GROUP, revision: 0, body, maps: [] };
  });
  nodes.push(...its);
  const smmus = units.map((u): NodeDraft => ({
    type: ACPI_IORT_NODE_SMMU_V3,
    revision: 2,
    body: encode(acpi_iort_smmu_v3, {
      base_address: u.base ?? 0n,
      flags: ACPI_IORT_SMMU_V3_COHACC_OVERRIDE,
      model: its.length ? ACPI_IORT_SMMU_V3_HISILICON_HI161X : ACPI_IORT_SMMU_V3_GENERIC,
      id_mapping_index: 0,
    }),
    // Stream IDs reach the ITS groups through these: all of them, or only the listed devices'.
    maps: its.flatMap((to, i) => {
      const only = t.firmware.its[i]!.devices;
      if (!only) return [{ input_base: 0, id_count: 0xffff, output_base: 0, flags: 0, to }];
      return only.flatMap((b) => h.streamIds(b).map((sid) => ({ input_base: sid, id_count: 0, output_base: sid, flags: ACPI_IORT_ID_SINGLE_MAPPING, to })));
    }),
  }));
  nodes.push(...smmus);
  // One root complex (segment 0): RIDs pass to the first SMMU unchanged.
  nodes.push({
    type: ACPI_IORT_NODE_PCI_ROOT_COMPLEX,
    revision: 1,
    body: encode(acpi_iort_root_complex, { memory_properties: 1n, ats_attribute: 0, pci_segment_number: 0, memory_address_limit: units[0]!.addressWidth ?? 48 }),
    maps: [{ input_base: 0, id_count: 0xffff, output_base: 0, flags: 0, to: smmus[0]! }],
  });
  for (const r of t.firmware.iortRmr) {
    const unitOfBdf = (b: string) => {
      const d = h.all.find((x) => x.bdf === b);
      return d && h.unitOf(d, t.iommus);
    };
    const target = smmus[Math.max(0, units.findIndex((u) => r.devices.some((b) => unitOfBdf(b) === u)))]!;
    const desc = encode(acpi_iort_rmr_desc, { base_address: r.base, length: r.length });
    const head = encode(acpi_iort_rmr, { flags: r.remapPermitted ? ACPI_IORT_RMR_REMAP_PERMITTED : 0, rmr_count: 1, rmr_offset: 0 });
    nodes.push({
      type: ACPI_IORT_NODE_RMR,
      revision: 3,
      body: concat([head, desc]),
      maps: r.devices.flatMap((b) => h.streamIds(b).map((sid) => ({ input_base: 0, id_count: 0, output_base: sid, flags: ACPI_IORT_ID_SINGLE_MAPPING, to: target }))),
    });
  }
  // Lay the nodes out, then resolve the mappings' output references to node offsets.
  const offsets = new Map<NodeDraft, number>();
  let at = acpi_table_iort.size;
  const sizes = nodes.map((n) => acpi_iort_node.size + n.body.length + acpi_iort_id_mapping.size * n.maps.length);
  nodes.forEach((n, i) => {
    offsets.set(n, at);
    at += sizes[i]!;
  });
  const parts = nodes.map((n, i) => {
    const bodyLen = acpi_iort_node.size + n.body.length;
    let body = n.body;
    if (n.type === ACPI_IORT_NODE_RMR) {
      // rmr_offset: from the node start to the descriptors, which follow the ID mappings.
      body = Uint8Array.from(n.body);
      const descAt = bodyLen - acpi_iort_rmr_desc.size + acpi_iort_id_mapping.size * n.maps.length;
      new DataView(body.buffer).setUint32(8, descAt, true);
      const desc = body.slice(acpi_iort_rmr.size);
      body = body.slice(0, acpi_iort_rmr.size);
      return concat([
        encode(acpi_iort_node, { type: n.type, length: sizes[i]!, revision: n.revision, identifier: i, mapping_count: n.maps.length, mapping_offset: acpi_iort_node.size + body.length }),
        body,
        ...n.maps.map(({ to, ...m }) => encode(acpi_iort_id_mapping, { ...m, output_reference: offsets.get(to)! })),
        desc,
      ]);
    }
    return concat([
      encode(acpi_iort_node, { type: n.type, length: sizes[i]!, revision: n.revision, identifier: i, mapping_count: n.maps.length, mapping_offset: n.maps.length ? bodyLen : 0 }),
      body,
      ...n.maps.map(({ to, ...m }) => encode(acpi_iort_id_mapping, { ...m, output_reference: offsets.get(to)! })),
    ]);
  });
  // RMR nodes need IORT E.d (table revision 5); without them E.b (3) is enough.
  return table('IORT', t.firmware.iortRmr.length ? 5 : 3, encode(acpi_table_iort, { node_count: nodes.length, node_offset: acpi_table_iort.size }), parts);
}

/** MADT with the GIC ITS entries (the doorbell frames are at base + 64 KiB). @see drivers/irqchip/irq-gic-v3-its.c:gic_acpi_parse_madt_its */
export function buildMadtIts(t: Topology): Uint8Array | undefined {
  if (!t.firmware.its.length) return undefined;
  const parts = t.firmware.its.map((e, i) =>
    encode(acpi_madt_generic_translator, { header: { type: ACPI_MADT_TYPE_GENERIC_TRANSLATOR, length: acpi_madt_generic_translator.size }, translation_id: i, base_address: e.base }),
  );
  return table('APIC', 5, encode(acpi_table_madt, {}), parts);
}

// ---- reading tables back ------------------------------------------------------------------

/** Resolves a (bus, path) device address against the machine's hierarchy. */
export type PathResolver = (bus: number, path: readonly (readonly [number, number])[]) => string | undefined;

function checkTable(bytes: Uint8Array, signature: string, where: string): ReturnType<typeof decode<typeof acpi_table_header>> {
  if (bytes.length < acpi_table_header.size) throw new AcpiTableError(`${where}: ${bytes.length} bytes, shorter than an ACPI table header`);
  const hdr = decode(acpi_table_header, bytes);
  if (str(hdr.signature) !== signature) throw new AcpiTableError(`${where}: signature ${JSON.stringify(str(hdr.signature))}, expected ${signature}`);
  if (hdr.length !== bytes.length) throw new AcpiTableError(`${where}: header length ${hdr.length}, the file has ${bytes.length} bytes`);
  if (acpiChecksum(bytes) !== 0) throw new AcpiTableError(`${where}: bad checksum (bytes sum to 0x${acpiChecksum(bytes).toString(16)} mod 256)`);
  return hdr;
}

/** Walks `[type u8|u16, length u16]` subtables; a zero or overrunning length stops with an error. */
function* subtables(bytes: Uint8Array, start: number, lengthOf: (at: number) => number, where: string): Generator<number> {
  for (let at = start; at < bytes.length; ) {
    const len = lengthOf(at);
    if (len < 4 || at + len > bytes.length) throw new AcpiTableError(`${where}: subtable at offset ${at} has length ${len}`);
    yield at;
    at += len;
  }
}

function readScopes(bytes: Uint8Array, start: number, end: number, resolve: PathResolver, where: string): { bdfs: string[]; unresolved: number } {
  const bdfs: string[] = [];
  let unresolved = 0;
  for (let at = start; at < end; ) {
    const s = decode(acpi_dmar_device_scope, bytes, at);
    if (s.length < acpi_dmar_device_scope.size || at + s.length > end) throw new AcpiTableError(`${where}: device scope at offset ${at} has length ${s.length}`);
    if (s.entry_type === ACPI_DMAR_SCOPE_TYPE_ENDPOINT || s.entry_type === ACPI_DMAR_SCOPE_TYPE_BRIDGE) {
      const path: [number, number][] = [];
      for (let p = at + acpi_dmar_device_scope.size; p + 2 <= at + s.length; p += 2) path.push([bytes[p]!, bytes[p + 1]!]);
      const bdf = resolve(s.bus, path);
      if (bdf) bdfs.push(bdf);
      else unresolved++;
    }
    at += s.length;
  }
  return { bdfs, unresolved };
}

export interface AcpiFirmware {
  readonly rmrr: FirmwareSpec['rmrr'];
  readonly ivmd: FirmwareSpec['ivmd'];
  readonly iortRmr: FirmwareSpec['iortRmr'];
  readonly its: FirmwareSpec['its'];
  /** Scope entries naming no device of the machine (dropped). */
  readonly unresolved: number;
}

/** DMAR → RMRRs with the devices their scopes name. @see drivers/iommu/intel/dmar.c:dmar_parse_one_rmrr */
export function parseDmar(bytes: Uint8Array, resolve: PathResolver, where = 'DMAR'): Pick<AcpiFirmware, 'rmrr' | 'unresolved'> {
  checkTable(bytes, 'DMAR', where);
  const rmrr: { base: bigint; end: bigint; devices: string[] }[] = [];
  let unresolved = 0;
  for (const at of subtables(bytes, acpi_table_dmar.size, (a) => decode(acpi_dmar_header, bytes, a).length, where)) {
    const h = decode(acpi_dmar_header, bytes, at);
    if (h.type !== ACPI_DMAR_TYPE_RESERVED_MEMORY) continue;
    const r = decode(acpi_dmar_reserved_memory, bytes, at);
    const s = readScopes(bytes, at + acpi_dmar_reserved_memory.size, at + h.length, resolve, where);
    unresolved += s.unresolved;
    if (s.bdfs.length) rmrr.push({ base: r.base_address, end: r.end_address, devices: s.bdfs });
  }
  return { rmrr, unresolved };
}

/** IVRS → IVMDs, one entry per range with every device it names. */
export function parseIvrs(bytes: Uint8Array, deviceOfRid: (rid: number) => string | undefined, where = 'IVRS'): Pick<AcpiFirmware, 'ivmd' | 'unresolved'> {
  checkTable(bytes, 'IVRS', where);
  const ivmd: { start: bigint; length: bigint; devices: string[]; exclusion: boolean; read: boolean; write: boolean }[] = [];
  let unresolved = 0;
  for (const at of subtables(bytes, acpi_table_ivrs.size, (a) => decode(acpi_ivrs_header, bytes, a).length, where)) {
    const h = decode(acpi_ivrs_header, bytes, at);
    if (h.type !== ACPI_IVRS_TYPE_MEMORY2) continue;
    const m = decode(acpi_ivrs_memory, bytes, at);
    const bdf = deviceOfRid(h.device_id);
    if (!bdf) {
      unresolved++;
      continue;
    }
    const e = { start: m.start_address, length: m.memory_length, exclusion: (h.flags & ACPI_IVMD_EXCLUSION_RANGE) !== 0, read: (h.flags & ACPI_IVMD_READ) !== 0, write: (h.flags & ACPI_IVMD_WRITE) !== 0 };
    const same = ivmd.find((x) => x.start === e.start && x.length === e.length && x.exclusion === e.exclusion && x.read === e.read && x.write === e.write);
    if (same) same.devices.push(bdf);
    else ivmd.push({ ...e, devices: [bdf] });
  }
  for (const e of ivmd) if (e.exclusion) Object.assign(e, { read: true, write: true });
  return { ivmd, unresolved };
}

/** IORT (+ MADT for the ITS addresses) → RMRs by device, and ITS doorbells where the SMMU lets MSIs bypass it. */
export function parseIort(
  bytes: Uint8Array,
  madt: Uint8Array | undefined,
  devicesOfSid: (sid: number) => string[],
  where = 'IORT',
): Pick<AcpiFirmware, 'iortRmr' | 'its' | 'unresolved'> {
  checkTable(bytes, 'IORT', where);
  const t = decode(acpi_table_iort, bytes);
  const iortRmr: { base: bigint; length: bigint; devices: string[]; remapPermitted: boolean }[] = [];
  let unresolved = 0;
  let bypass = false;
  /** ITS group node offset → its ITS ids; → the stream ID ranges the SMMUs send there. */
  const groups = new Map<number, number[]>();
  const toGroup: { ref: number; base: number; count: number }[] = [];
  let at = t.node_offset;
  for (let i = 0; i < t.node_count; i++) {
    if (at + acpi_iort_node.size > bytes.length) throw new AcpiTableError(`${where}: node ${i} at offset ${at} overruns the table`);
    const n = decode(acpi_iort_node, bytes, at);
    if (n.length < acpi_iort_node.size || at + n.length > bytes.length) throw new AcpiTableError(`${where}: node ${i} at offset ${at} has length ${n.length}`);
    const body = at + acpi_iort_node.size;
    if (n.type === ACPI_IORT_NODE_SMMU_V3) {
      if (decode(acpi_iort_smmu_v3, bytes, body).model === ACPI_IORT_SMMU_V3_HISILICON_HI161X) bypass = true;
      for (let k = 0; k < n.mapping_count; k++) {
        const m = decode(acpi_iort_id_mapping, bytes, at + n.mapping_offset + k * acpi_iort_id_mapping.size);
        toGroup.push({ ref: m.output_reference, base: m.input_base, count: m.flags & ACPI_IORT_ID_SINGLE_MAPPING ? 1 : m.id_count + 1 });
      }
    }
    if (n.type === ACPI_IORT_NODE_ITS_GROUP) {
      const g = decode(acpi_iort_its_group, bytes, body);
      const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const ids: number[] = [];
      for (let k = 0; k < g.its_count; k++) ids.push(v.getUint32(body + acpi_iort_its_group.size + 4 * k, true));
      groups.set(at, ids);
    }
    if (n.type === ACPI_IORT_NODE_RMR) {
      const r = decode(acpi_iort_rmr, bytes, body);
      const devices = new Set<string>();
      for (let k = 0; k < n.mapping_count; k++) {
        const m = decode(acpi_iort_id_mapping, bytes, at + n.mapping_offset + k * acpi_iort_id_mapping.size);
        const count = m.flags & ACPI_IORT_ID_SINGLE_MAPPING ? 1 : m.id_count + 1;
        for (let sid = m.output_base; sid < m.output_base + count; sid++) {
          const ds = devicesOfSid(sid);
          if (!ds.length) unresolved++;
          ds.forEach((d) => devices.add(d));
        }
      }
      for (let k = 0; k < r.rmr_count; k++) {
        const d = decode(acpi_iort_rmr_desc, bytes, at + r.rmr_offset + k * acpi_iort_rmr_desc.size);
        if (devices.size) iortRmr.push({ base: d.base_address, length: d.length, devices: [...devices].sort(), remapPermitted: (r.flags & ACPI_IORT_RMR_REMAP_PERMITTED) !== 0 });
      }
    }
    at += n.length;
  }
  const its: { base: bigint; devices?: string[] }[] = [];
  if (bypass && madt) {
    checkTable(madt, 'APIC', 'APIC');
    for (const a of subtables(madt, acpi_table_madt.size, (x) => Math.max(madt[x + 1]!, 4), 'APIC')) {
      const s = decode(acpi_subtable_header, madt, a);
      if (s.type !== ACPI_MADT_TYPE_GENERIC_TRANSLATOR) continue;
      const g = decode(acpi_madt_generic_translator, madt, a);
      const refs = [...groups].filter(([, ids]) => ids.includes(g.translation_id)).map(([off]) => off);
      const ranges = toGroup.filter((m) => refs.includes(m.ref));
      if (!ranges.length) continue;
      // The whole RID space: every device; else the devices whose stream IDs are mapped.
      if (ranges.some((r) => r.base === 0 && r.count >= 0x10000)) its.push({ base: g.base_address });
      else {
        const devices = new Set<string>();
        for (const r of ranges) for (let sid = r.base; sid < r.base + Math.min(r.count, 0x10000); sid++) devicesOfSid(sid).forEach((d) => devices.add(d));
        its.push({ base: g.base_address, devices: [...devices].sort() });
      }
    }
  }
  return { iortRmr, its, unresolved };
}
