// SPDX-License-Identifier: GPL-2.0-only
import test from 'ava';
import { LayoutCase, testLayouts } from '../testing/layout_cases';
import {
  StructLayout,
  decode,
  decodeFlex,
  encode,
  info_cap_header,
  offsetof,
  offsetofend,
  sizeof,
  structSize,
  vfioInfoAddCapability,
  vfioInfoCapInit,
  vfioInfoCapShift,
  walkCapChain,
} from '../abi';
import * as V from './vfio';


/*
 * Numbers printed by lib/uapi/c/uapi_layout.c against /usr/include/linux/vfio.h of Linux 6.1
 * (gcc 12.2, x86_64), except where marked "reference": members and structs newer than 6.1 —
 * vfio_device_info.pad (6.1 sizeof is 20), vfio_iommu_type1_info.pad (6.1 has the same 24 bytes
 * as implicit tail padding), vfio_pci_dependent_device.devid, and the iommufd cdev structs —
 * whose values come from the struct table in vfio-iommufd-abi.md §1.3.
 */
const layouts: LayoutCase[] = [
  { layout: V.vfio_info_cap_header, size: 8, fields: { id: [0, 2], version: [2, 4], next: [4, 8] } },
  { layout: V.vfio_group_status, size: 8, fields: { argsz: [0, 4], flags: [4, 8] } },
  {
    layout: V.vfio_device_info,
    size: 24, // reference (6.1: 20, no pad)
    fields: {
      argsz: [0, 4],
      flags: [4, 8],
      num_regions: [8, 12],
      num_irqs: [12, 16],
      cap_offset: [16, 20],
      pad: [20, 24], // reference
    },
  },
  {
    layout: V.vfio_region_info,
    size: 32,
    fields: { argsz: [0, 4], flags: [4, 8], index: [8, 12], cap_offset: [12, 16], size: [16, 24], offset: [24, 32] },
  },
  { layout: V.vfio_region_sparse_mmap_area, size: 16, fields: { offset: [0, 8], size: [8, 16] } },
  {
    layout: V.vfio_region_info_cap_sparse_mmap,
    size: 16,
    fields: { header: [0, 8], nr_areas: [8, 12], reserved: [12, 16], areas: [16, null] },
  },
  { layout: V.vfio_region_info_cap_type, size: 16, fields: { header: [0, 8], type: [8, 12], subtype: [12, 16] } },
  { layout: V.vfio_irq_info, size: 16, fields: { argsz: [0, 4], flags: [4, 8], index: [8, 12], count: [12, 16] } },
  {
    layout: V.vfio_irq_set,
    size: 20,
    fields: { argsz: [0, 4], flags: [4, 8], index: [8, 12], start: [12, 16], count: [16, 20], data: [20, null] },
  },
  {
    layout: V.vfio_pci_dependent_device,
    size: 8,
    fields: { group_id: [0, 4], devid: [0, 4] /* reference */, segment: [4, 6], bus: [6, 7], devfn: [7, 8] },
  },
  {
    layout: V.vfio_pci_hot_reset_info,
    size: 12,
    fields: { argsz: [0, 4], flags: [4, 8], count: [8, 12], devices: [12, null] },
  },
  {
    layout: V.vfio_pci_hot_reset,
    size: 12,
    fields: { argsz: [0, 4], flags: [4, 8], count: [8, 12], group_fds: [12, null] },
  },
  { layout: V.vfio_device_feature, size: 8, fields: { argsz: [0, 4], flags: [4, 8], data: [8, null] } },
  {
    // reference (not in 6.1)
    layout: V.vfio_device_bind_iommufd,
    size: 24,
    fields: { argsz: [0, 4], flags: [4, 8], iommufd: [8, 12], out_devid: [12, 16], token_uuid_ptr: [16, 24] },
  },
  {
    // reference (not in 6.1)
    layout: V.vfio_device_attach_iommufd_pt,
    size: 16,
    fields: { argsz: [0, 4], flags: [4, 8], pt_id: [8, 12], pasid: [12, 16] },
  },
  {
    // reference (not in 6.1)
    layout: V.vfio_device_detach_iommufd_pt,
    size: 12,
    fields: { argsz: [0, 4], flags: [4, 8], pasid: [8, 12] },
  },
  {
    layout: V.vfio_iommu_type1_info,
    size: 24,
    fields: { argsz: [0, 4], flags: [4, 8], iova_pgsizes: [8, 16], cap_offset: [16, 20], pad: [20, 24] /* reference */ },
  },
  { layout: V.vfio_iova_range, size: 16, fields: { start: [0, 8], end: [8, 16] } },
  {
    layout: V.vfio_iommu_type1_info_cap_iova_range,
    size: 16,
    fields: { header: [0, 8], nr_iovas: [8, 12], reserved: [12, 16], iova_ranges: [16, null] },
  },
  {
    layout: V.vfio_iommu_type1_info_cap_migration,
    size: 32,
    fields: { header: [0, 8], flags: [8, 12], pgsize_bitmap: [16, 24], max_dirty_bitmap_size: [24, 32] },
  },
  { layout: V.vfio_iommu_type1_info_dma_avail, size: 12, fields: { header: [0, 8], avail: [8, 12] } },
  {
    layout: V.vfio_iommu_type1_dma_map,
    size: 32,
    fields: { argsz: [0, 4], flags: [4, 8], vaddr: [8, 16], iova: [16, 24], size: [24, 32] },
  },
  { layout: V.vfio_bitmap, size: 24, fields: { pgsize: [0, 8], size: [8, 16], data: [16, 24] } },
  {
    layout: V.vfio_iommu_type1_dma_unmap,
    size: 24,
    fields: { argsz: [0, 4], flags: [4, 8], iova: [8, 16], size: [16, 24], data: [24, null] },
  },
  { layout: V.vfio_iommu_type1_dirty_bitmap, size: 8, fields: { argsz: [0, 4], flags: [4, 8], data: [8, null] } },
  {
    layout: V.vfio_iommu_type1_dirty_bitmap_get,
    size: 40,
    fields: { iova: [0, 8], size: [8, 16], bitmap: [16, 40] },
  },
];

testLayouts(test, layouts);

// gcc output for everything 6.1 has; BIND/ATTACH/DETACH_IOMMUFD_PT and MIG_GET_PRECOPY_INFO
// from the reference's §1.2 table.
const ioctls: Record<string, number> = {
  VFIO_GET_API_VERSION: 0x3b64,
  VFIO_CHECK_EXTENSION: 0x3b65,
  VFIO_SET_IOMMU: 0x3b66,
  VFIO_GROUP_GET_STATUS: 0x3b67,
  VFIO_GROUP_SET_CONTAINER: 0x3b68,
  VFIO_GROUP_UNSET_CONTAINER: 0x3b69,
  VFIO_GROUP_GET_DEVICE_FD: 0x3b6a,
  VFIO_DEVICE_GET_INFO: 0x3b6b,
  VFIO_DEVICE_GET_REGION_INFO: 0x3b6c,
  VFIO_DEVICE_GET_IRQ_INFO: 0x3b6d,
  VFIO_DEVICE_SET_IRQS: 0x3b6e,
  VFIO_DEVICE_RESET: 0x3b6f,
  VFIO_DEVICE_GET_PCI_HOT_RESET_INFO: 0x3b70,
  VFIO_DEVICE_PCI_HOT_RESET: 0x3b71,
  VFIO_DEVICE_QUERY_GFX_PLANE: 0x3b72,
  VFIO_DEVICE_GET_GFX_DMABUF: 0x3b73,
  VFIO_DEVICE_IOEVENTFD: 0x3b74,
  VFIO_DEVICE_FEATURE: 0x3b75,
  VFIO_DEVICE_BIND_IOMMUFD: 0x3b76,
  VFIO_DEVICE_ATTACH_IOMMUFD_PT: 0x3b77,
  VFIO_DEVICE_DETACH_IOMMUFD_PT: 0x3b78,
  VFIO_MIG_GET_PRECOPY_INFO: 0x3b79,
  VFIO_IOMMU_GET_INFO: 0x3b70,
  VFIO_IOMMU_MAP_DMA: 0x3b71,
  VFIO_IOMMU_UNMAP_DMA: 0x3b72,
  VFIO_IOMMU_ENABLE: 0x3b73,
  VFIO_IOMMU_DISABLE: 0x3b74,
  VFIO_IOMMU_DIRTY_PAGES: 0x3b75,
  VFIO_IOMMU_SPAPR_TCE_GET_INFO: 0x3b70,
  VFIO_IOMMU_SPAPR_REGISTER_MEMORY: 0x3b75,
  VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY: 0x3b76,
  VFIO_IOMMU_SPAPR_TCE_CREATE: 0x3b77,
  VFIO_IOMMU_SPAPR_TCE_REMOVE: 0x3b78,
  VFIO_EEH_PE_OP: 0x3b79,
};

test('every VFIO ioctl number', (t) => {
  const exported = V as unknown as Record<string, number>;
  for (const [name, value] of Object.entries(ioctls)) t.is(exported[name], value, name);
  t.deepEqual({ ...V.VFIO_IOCTL_NAMES }, ioctls, 'VFIO_IOCTL_NAMES lists exactly these');
});

test('constants', (t) => {
  t.is(V.VFIO_TYPE, ';'.charCodeAt(0));
  t.is(V.VFIO_API_VERSION, 0);
  t.deepEqual(
    [V.VFIO_TYPE1_IOMMU, V.VFIO_TYPE1v2_IOMMU, V.VFIO_NOIOMMU_IOMMU, V.VFIO_UNMAP_ALL, V.VFIO_UPDATE_VADDR],
    [1, 3, 8, 9, 10],
  );
  t.is(V.VFIO_DEVICE_FLAGS_CAPS, 0x80);
  t.is(V.VFIO_DEVICE_FLAGS_CDX, 0x100);
  t.is(V.VFIO_IRQ_SET_DATA_TYPE_MASK, 0x7);
  t.is(V.VFIO_IRQ_SET_ACTION_TYPE_MASK, 0x38);
  t.is(V.VFIO_DEVICE_FEATURE_PROBE, 0x40000);
  t.is(V.VFIO_DEVICE_FEATURE_DMA_BUF, 11);
  t.is(V.VFIO_PCI_NUM_REGIONS, V.VFIO_PCI_VGA_REGION_INDEX + 1);
  t.is(V.VFIO_PCI_NUM_IRQS, V.VFIO_PCI_REQ_IRQ_INDEX + 1);
  t.is(V.VFIO_PCI_INDEX_TO_OFFSET(V.VFIO_PCI_CONFIG_REGION_INDEX), 0x700_0000_0000n);
  t.is(V.VFIO_PCI_OFFSET_TO_INDEX(0x700_0000_0fffn), V.VFIO_PCI_CONFIG_REGION_INDEX);
});

test('a NOT_OWNED devid reads back as the __u32 the kernel stores', (t) => {
  const dev = decode(V.vfio_pci_dependent_device, encode(V.vfio_pci_dependent_device, { devid: V.VFIO_PCI_DEVID_NOT_OWNED }));
  t.is(dev.devid, V.VFIO_PCI_DEVID_NOT_OWNED >>> 0);
});

test('vfio_info_cap_header is the header lib/abi/cap_chain builds', (t) => {
  t.deepEqual(
    V.vfio_info_cap_header.members.map((m) => [m.name, m.offset, m.type.size]),
    info_cap_header.members.map((m) => [m.name, m.offset, m.type.size]),
  );
});

/** The type1 VFIO_IOMMU_GET_INFO chain: migration, dma_avail, iova_range with `n` ranges. */
function type1Caps(align: boolean, n: number, withMigration = true) {
  const caps = vfioInfoCapInit({ align });
  const ranges = Array.from({ length: n }, (_, i) => ({ start: BigInt(i) << 32n, end: (BigInt(i) << 32n) + 0xfffn }));
  if (withMigration) {
    vfioInfoAddCapability(
      caps,
      encode(V.vfio_iommu_type1_info_cap_migration, {
        header: { id: V.VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION, version: 1 },
        pgsize_bitmap: 0x1000n,
        max_dirty_bitmap_size: 0x1000_0000n,
      }),
    );
  }
  vfioInfoAddCapability(
    caps,
    encode(V.vfio_iommu_type1_info_dma_avail, {
      header: { id: V.VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, version: 1 },
      avail: 65535,
    }),
  );
  vfioInfoAddCapability(
    caps,
    encode(V.vfio_iommu_type1_info_cap_iova_range, {
      header: { id: V.VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, version: 1 },
      nr_iovas: n,
      iova_ranges: ranges,
    }),
  );
  const infosz = sizeof(V.vfio_iommu_type1_info);
  vfioInfoCapShift(caps, infosz);
  const buf = new Uint8Array(infosz + caps.size);
  encode(V.vfio_iommu_type1_info, { argsz: buf.length, flags: 3, iova_pgsizes: 0x1000n, cap_offset: infosz }, buf);
  buf.set(caps.buf, infosz);
  return { buf, ranges };
}

for (const n of [1, 3]) {
  test(`type1 GET_INFO chain, padded (v6.6+), ${n} iova range(s)`, (t) => {
    const { buf, ranges } = type1Caps(true, n);
    t.is(buf.length, 88 + 16 * n);
    t.is(buf.length, sizeof(V.vfio_iommu_type1_info) + 32 + 16 + structSize(V.vfio_iommu_type1_info_cap_iova_range, n));
    const walk = walkCapChain(buf, decode(V.vfio_iommu_type1_info, buf).cap_offset);
    t.is(walk.error, undefined);
    t.deepEqual(
      walk.caps.map((c) => [c.id, c.offset, c.next]),
      [
        [V.VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION, 24, 56],
        [V.VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, 56, 72],
        [V.VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, 72, 0],
      ],
    );
    t.deepEqual([...buf.subarray(68, 72)], [0, 0, 0, 0], 'dma_avail padding is zero');
    t.is(decode(V.vfio_iommu_type1_info_dma_avail, buf, 56).avail, 65535);
    t.is(decode(V.vfio_iommu_type1_info_cap_migration, buf, 24).max_dirty_bitmap_size, 0x1000_0000n);
    const iova = decode(V.vfio_iommu_type1_info_cap_iova_range, buf, 72);
    t.is(iova.nr_iovas, n);
    t.deepEqual(decodeFlex(V.vfio_iommu_type1_info_cap_iova_range, 'iova_ranges', buf, n, 72), ranges);
  });
}

test('type1 GET_INFO chain, unpadded (before v6.6): iova_range at 24+32+12 = 68', (t) => {
  const { buf, ranges } = type1Caps(false, 2);
  t.is(buf.length, 24 + 32 + 12 + 16 + 16 * 2);
  const walk = walkCapChain(buf, 24);
  t.deepEqual(
    walk.caps.map((c) => [c.offset, c.next]),
    [
      [24, 56],
      [56, 68],
      [68, 0],
    ],
  );
  t.deepEqual(decodeFlex(V.vfio_iommu_type1_info_cap_iova_range, 'iova_ranges', buf, 2, 68), ranges);
});

test('iommufd vfio_compat GET_INFO chain: no migration, unpadded, iova_range at 36', (t) => {
  const { buf } = type1Caps(false, 1, false);
  t.deepEqual(
    walkCapChain(buf, 24).caps.map((c) => [c.id, c.offset, c.next]),
    [
      [V.VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, 24, 36],
      [V.VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, 36, 0],
    ],
  );
});
