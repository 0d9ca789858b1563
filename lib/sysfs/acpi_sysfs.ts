// SPDX-License-Identifier: GPL-2.0-only
/**
 * /sys/firmware/acpi/tables: one root-only (0400) binary file per firmware table, plus the
 * `data/` and `dynamic/` directories. @see drivers/acpi/sysfs.c:acpi_table_attr_init, acpi_tables_sysfs_init
 */
import { buildDmar, buildIort, buildIvrs, buildMadtIts } from '../acpi/tables';
import type { Host } from '../host';
import { amdUnitCap } from '../iommu/amd_iommu';
import { intelUnitBase } from '../iommu/intel_iommu';
import type { SysTree } from '../kernfs/attribute';

export const SYS_ACPI_TABLES = '/sys/firmware/acpi/tables';

/**
 * The tables of the machine's firmware, by signature (what the ACPI table list holds). Firmware
 * writes them once, at boot: a device unplugged later still appears in them.
 */
const booted = new WeakMap<Host, Map<string, Uint8Array>>();
export function acpiTables(host: Host): Map<string, Uint8Array> {
  let tables = booted.get(host);
  if (!tables) booted.set(host, (tables = buildTables(host)));
  return tables;
}

function buildTables(host: Host): Map<string, Uint8Array> {
  const t = host.topology;
  const out = new Map<string, Uint8Array>();
  const add = (name: string, bytes: Uint8Array | undefined) => bytes && out.set(name, bytes);
  if (t.arch === 'x86_64') {
    add('DMAR', buildDmar(t, intelUnitBase));
    add('IVRS', buildIvrs(t, (u) => amdUnitCap(u)));
  }
  if (t.arch === 'aarch64') {
    add('APIC', buildMadtIts(t));
    add('IORT', buildIort(t));
  }
  return out;
}

export function addAcpiTables(tree: SysTree, host: Host): void {
  const tables = acpiTables(host);
  if (!tables.size) return;
  tree.set(`${SYS_ACPI_TABLES}/data`, { kind: 'dir' });
  tree.set(`${SYS_ACPI_TABLES}/dynamic`, { kind: 'dir' });
  for (const [name, bytes] of tables)
    tree.set(`${SYS_ACPI_TABLES}/${name}`, { kind: 'file', attr: { name, mode: 0o400, binary: true, show: () => bytes } });
}
