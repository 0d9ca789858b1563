// SPDX-License-Identifier: GPL-2.0-only
/**
 * The ACPI tables the IOMMU drivers read, declared once as packed layouts (ACPICA declares them
 * under `#pragma pack(1)`): the common header, DMAR (VT-d), IVRS (AMD-Vi), IORT (Arm) and the
 * GIC ITS entries of MADT. Field names follow ACPICA.
 * @see include/acpi/actbl.h (acpi_table_header), include/acpi/actbl1.h (DMAR, IVRS, MADT),
 *      include/acpi/actbl2.h (IORT); ACPI 6.5 §5.2.6; VT-d spec §8; AMD IOMMU spec §5; IORT E.e
 */
import { array, packedStruct, u16, u32, u64, u8 } from '../abi';

/** `struct acpi_table_header` (36 bytes). */
export const acpi_table_header = packedStruct('acpi_table_header', {
  signature: array(u8, 4),
  length: u32,
  revision: u8,
  checksum: u8,
  oem_id: array(u8, 6),
  oem_table_id: array(u8, 8),
  oem_revision: u32,
  asl_compiler_id: array(u8, 4),
  asl_compiler_revision: u32,
});

// ---- DMAR ---------------------------------------------------------------------------------

/** `struct acpi_table_dmar` (48 bytes): header, host address width - 1, flags. */
export const acpi_table_dmar = packedStruct('acpi_table_dmar', {
  header: acpi_table_header,
  width: u8,
  flags: u8,
  reserved: array(u8, 10),
});
export const ACPI_DMAR_INTR_REMAP = 1;
export const ACPI_DMAR_X2APIC_OPT_OUT = 1 << 1;

/** `struct acpi_dmar_header`: every remapping structure starts with type and length. */
export const acpi_dmar_header = packedStruct('acpi_dmar_header', { type: u16, length: u16 });
export const ACPI_DMAR_TYPE_HARDWARE_UNIT = 0;
export const ACPI_DMAR_TYPE_RESERVED_MEMORY = 1;

/** `struct acpi_dmar_hardware_unit` (DRHD, 16 bytes + device scopes). */
export const acpi_dmar_hardware_unit = packedStruct('acpi_dmar_hardware_unit', {
  header: acpi_dmar_header,
  flags: u8,
  size: u8,
  segment: u16,
  address: u64,
});
export const ACPI_DMAR_INCLUDE_ALL = 1;

/** `struct acpi_dmar_reserved_memory` (RMRR, 24 bytes + device scopes); end is inclusive. */
export const acpi_dmar_reserved_memory = packedStruct('acpi_dmar_reserved_memory', {
  header: acpi_dmar_header,
  reserved: u16,
  segment: u16,
  base_address: u64,
  end_address: u64,
});

/** `struct acpi_dmar_device_scope` (6 bytes + (device, function) path entries). */
export const acpi_dmar_device_scope = packedStruct('acpi_dmar_device_scope', {
  entry_type: u8,
  length: u8,
  flags: u8,
  reserved: u8,
  enumeration_id: u8,
  bus: u8,
});
export const acpi_dmar_pci_path = packedStruct('acpi_dmar_pci_path', { device: u8, function: u8 });
export const ACPI_DMAR_SCOPE_TYPE_ENDPOINT = 1;
export const ACPI_DMAR_SCOPE_TYPE_BRIDGE = 2;
export const ACPI_DMAR_SCOPE_TYPE_IOAPIC = 3;

// ---- IVRS ---------------------------------------------------------------------------------

/** `struct acpi_table_ivrs` (48 bytes). */
export const acpi_table_ivrs = packedStruct('acpi_table_ivrs', { header: acpi_table_header, info: u32, reserved: u64 });

/** `struct acpi_ivrs_header` (IVHD/IVMD common part). */
export const acpi_ivrs_header = packedStruct('acpi_ivrs_header', { type: u8, flags: u8, length: u16, device_id: u16 });
export const ACPI_IVRS_TYPE_HARDWARE1 = 0x10;
export const ACPI_IVRS_TYPE_HARDWARE2 = 0x11;
export const ACPI_IVRS_TYPE_MEMORY1 = 0x20; // every device
export const ACPI_IVRS_TYPE_MEMORY2 = 0x21; // one device
export const ACPI_IVRS_TYPE_MEMORY3 = 0x22; // a device range

/** `struct acpi_ivrs_hardware_11` (IVHD type 11h, 40 bytes + device entries). */
export const acpi_ivrs_hardware_11 = packedStruct('acpi_ivrs_hardware_11', {
  header: acpi_ivrs_header,
  capability_offset: u16,
  base_address: u64,
  pci_segment_group: u16,
  info: u16,
  attributes: u32,
  efr_register_image: u64,
  efr_register_image2: u64,
});

/** `struct acpi_ivrs_memory` (IVMD, 32 bytes). */
export const acpi_ivrs_memory = packedStruct('acpi_ivrs_memory', {
  header: acpi_ivrs_header,
  aux_data: u16,
  reserved: u64,
  start_address: u64,
  memory_length: u64,
});
export const ACPI_IVMD_UNITY = 1;
export const ACPI_IVMD_READ = 1 << 1;
export const ACPI_IVMD_WRITE = 1 << 2;
export const ACPI_IVMD_EXCLUSION_RANGE = 1 << 3;

/** `struct acpi_ivrs_device4`: a 4-byte IVHD device entry. */
export const acpi_ivrs_device4 = packedStruct('acpi_ivrs_device4', { type: u8, id: u16, data_setting: u8 });
/** `struct acpi_ivrs_device8c`: an 8-byte special device (IOAPIC/HPET) entry. */
export const acpi_ivrs_device8c = packedStruct('acpi_ivrs_device8c', { type: u8, id: u16, data_setting: u8, handle: u8, used_id: u16, variety: u8 });
export const ACPI_IVRS_TYPE_SELECT = 2;
export const ACPI_IVRS_TYPE_SPECIAL = 0x48;
export const ACPI_IVHD_IOAPIC = 1;

// ---- IORT ---------------------------------------------------------------------------------

/** `struct acpi_table_iort` (48 bytes). */
export const acpi_table_iort = packedStruct('acpi_table_iort', { header: acpi_table_header, node_count: u32, node_offset: u32, reserved: u32 });

/** `struct acpi_iort_node` (16 bytes; `identifier` from revision 3, reserved before). */
export const acpi_iort_node = packedStruct('acpi_iort_node', { type: u8, length: u16, revision: u8, identifier: u32, mapping_count: u32, mapping_offset: u32 });
export const ACPI_IORT_NODE_ITS_GROUP = 0;
export const ACPI_IORT_NODE_PCI_ROOT_COMPLEX = 2;
export const ACPI_IORT_NODE_SMMU_V3 = 4;
export const ACPI_IORT_NODE_RMR = 6;

/** `struct acpi_iort_id_mapping` (20 bytes). */
export const acpi_iort_id_mapping = packedStruct('acpi_iort_id_mapping', { input_base: u32, id_count: u32, output_base: u32, output_reference: u32, flags: u32 });
export const ACPI_IORT_ID_SINGLE_MAPPING = 1;

/** `struct acpi_iort_its_group` (4 bytes + u32 identifiers). */
export const acpi_iort_its_group = packedStruct('acpi_iort_its_group', { its_count: u32 });

/** `struct acpi_iort_smmu_v3` (52 bytes after the node header; `id_mapping_index` from node revision 1). */
export const acpi_iort_smmu_v3 = packedStruct('acpi_iort_smmu_v3', {
  base_address: u64,
  flags: u32,
  reserved: u32,
  vatos_address: u64,
  model: u32,
  event_gsiv: u32,
  pri_gsiv: u32,
  gerr_gsiv: u32,
  sync_gsiv: u32,
  pxm: u32,
  id_mapping_index: u32,
});
export const ACPI_IORT_SMMU_V3_COHACC_OVERRIDE = 1;
export const ACPI_IORT_SMMU_V3_GENERIC = 0;
/** The HiSilicon Hi161x SMMUv3, whose MSIs bypass it: the kernel reserves the ITS doorbells. */
export const ACPI_IORT_SMMU_V3_HISILICON_HI161X = 1;

/** `struct acpi_iort_root_complex` (20 bytes after the node header; memory_address_limit from node revision 1). */
export const acpi_iort_root_complex = packedStruct('acpi_iort_root_complex', {
  memory_properties: u64,
  ats_attribute: u32,
  pci_segment_number: u32,
  memory_address_limit: u8,
  reserved: array(u8, 3),
});

/** `struct acpi_iort_rmr` (12 bytes) and `struct acpi_iort_rmr_desc` (20 bytes). */
export const acpi_iort_rmr = packedStruct('acpi_iort_rmr', { flags: u32, rmr_count: u32, rmr_offset: u32 });
export const acpi_iort_rmr_desc = packedStruct('acpi_iort_rmr_desc', { base_address: u64, length: u64, reserved: u32 });
export const ACPI_IORT_RMR_REMAP_PERMITTED = 1;

// ---- MADT (the GIC ITS entries the IORT's ITS groups refer to) ------------------------------

/** `struct acpi_table_madt` (44 bytes): local interrupt controller address, flags. */
export const acpi_table_madt = packedStruct('acpi_table_madt', { header: acpi_table_header, address: u32, flags: u32 });
export const acpi_subtable_header = packedStruct('acpi_subtable_header', { type: u8, length: u8 });
/** `struct acpi_madt_generic_translator` (GIC ITS, 20 bytes). */
export const acpi_madt_generic_translator = packedStruct('acpi_madt_generic_translator', {
  header: acpi_subtable_header,
  reserved: u16,
  translation_id: u32,
  base_address: u64,
  reserved2: u32,
});
export const ACPI_MADT_TYPE_GENERIC_TRANSLATOR = 15;
