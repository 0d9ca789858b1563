// SPDX-License-Identifier: GPL-2.0-only
/**
 * The type1 IOMMU backend on a container: GET_INFO and its argsz protocol, the usable IOVA
 * ranges against the group's reserved_regions, MAP/UNMAP rules, and argsz length checks
 * generated from one table of (ioctl, struct, last field), for every IOMMU mode with a container:
 * the legacy type1 backend and iommufd's emulation of it (/dev/iommu, or /dev/vfio/vfio with
 * CONFIG_IOMMUFD_VFIO_CONTAINER), whose answers differ in a few rows, each said where.
 * @see drivers/vfio/vfio_iommu_type1.c, drivers/iommu/iommufd/vfio_compat.c, include/uapi/linux/vfio.h
 * @see tools/testing/selftests/vfio/vfio_dma_mapping_test.c
 */
import {
  abi,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_UNMAP_FLAG_ALL,
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_INFO_CAPS,
  VFIO_IOMMU_INFO_PGSIZES,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_TYPE1v2_IOMMU,
  vfio_iommu_type1_dma_map,
  vfio_iommu_type1_dma_unmap,
  vfio_iommu_type1_info,
  type Machine,
} from '../../lib/index';
import { suite, needMachine } from '../lib/suite';
import {
  CONTAINER_MODES,
  errIommuMap,
  errIommuUnmap,
  iommuInfo,
  iommuInit,
  iommuMap,
  iommuUnmap,
  iommufdContainer,
  tryIommuInfo,
  tryIommuMap,
  tryIommuUnmap,
  type IommuMode,
  type VfioSetup,
} from '../lib/iommu';

const h = suite('vfio_type1_test');

interface Self extends VfioSetup {
  readonly m: Machine;
  /** A free, usable IOVA with room for 16 MiB. */
  readonly iova: bigint;
  readonly pgsize: bigint;
}

const MiB = 1n << 20n;

const type1 = h.fixture<Self, IommuMode>('type1', {
  setup(t, mode) {
    const m = needMachine(t);
    const s = iommuInit(t, m, mode);
    const info = iommuInfo(t, m, s.container);
    const pgsize = info.info.iova_pgsizes & -info.info.iova_pgsizes;
    const range = (info.ranges ?? [{ start: 0n, end: (1n << 39n) - 1n }]).find(r => r.end - r.start + 1n >= 32n * MiB && r.start + 16n * MiB > r.start);
    if (!range) t.skip('no usable IOVA range of 32 MiB');
    const iova = (range!.start + 16n * MiB - 1n) & ~(16n * MiB - 1n);
    return { ...s, m, iova, pgsize };
  },
});
for (const mode of CONTAINER_MODES) type1.variant(mode.name, mode);

type1.test('info_argsz_protocol', (t, s) => {
  const minsz = abi.offsetofend(vfio_iommu_type1_info, 'iova_pgsizes');
  t.expectErrno('EINVAL', tryIommuInfo(s.m, s.container, minsz - 1).rc);
  const min = tryIommuInfo(s.m, s.container, minsz);
  t.expectEq(0, min.rc);
  t.expectTrue(min.info.flags & VFIO_IOMMU_INFO_PGSIZES);
  t.expectNe(0n, min.info.iova_pgsizes);
  const fixed = tryIommuInfo(s.m, s.container, vfio_iommu_type1_info.size);
  t.expectEq(0, fixed.rc);
  if (s.m.kernel.has('vfio_iova_range_cap')) {
    t.expectTrue(fixed.info.flags & VFIO_IOMMU_INFO_CAPS);
    t.expectEq(0, fixed.info.cap_offset);
    t.expectLt(vfio_iommu_type1_info.size, fixed.info.argsz);
    const full = tryIommuInfo(s.m, s.container, fixed.info.argsz);
    t.expectEq(fixed.info.argsz, full.info.argsz);
    t.expectLe(vfio_iommu_type1_info.size, full.info.cap_offset);
    t.expectNotNull(full.ranges ?? null);
  }
});

/** Usable IOVA = everything minus the group's reserved regions, except direct-relaxable ones. */
type1.test('iova_ranges_avoid_reserved_regions', (t, s) => {
  if (!s.m.kernel.has('vfio_iova_range_cap')) t.skip('no IOVA range capability before v5.4');
  const ranges = iommuInfo(t, s.m, s.container).ranges ?? [];
  t.assertLt(0, ranges.length);
  for (let i = 1; i < ranges.length; i++) t.expectLt(ranges[i - 1]!.end + 1n, ranges[i]!.start);
  for (const r of t.sysfs.regions(s.groupId)) {
    if (r.type === 'direct-relaxable') continue;
    for (const u of ranges) if (!t.expectTrue(u.end < r.start || u.start > r.end)) t.log('usable [%s, %s] overlaps %s', u.start.toString(16), u.end.toString(16), r.line);
  }
});

/**
 * Unmapping what is already gone: type1 succeeds with size 0; iommufd's compat returned ENOENT
 * until "iommufd: Make vfio_compat's unmap succeed if the range is already empty".
 */
type1.test('map_unmap', (t, s, mode) => {
  iommuMap(t, s.m, s.container, { iova: s.iova, size: MiB });
  t.expectEq(MiB, iommuUnmap(t, s.m, s.container, { iova: s.iova, size: MiB }));
  if (iommufdContainer(s.m, mode) && !s.m.kernel.has('iommufd_compat_unmap_empty_ok'))
    t.expectErrno('ENOENT', tryIommuUnmap(s.m, s.container, { iova: s.iova, size: MiB }).rc);
  else t.expectEq(0n, iommuUnmap(t, s.m, s.container, { iova: s.iova, size: MiB }));
});

interface MapRow {
  readonly name: string;
  readonly run: (t: Parameters<Parameters<typeof type1.test>[1]>[0], s: Self, mode: IommuMode) => boolean;
}

const MAP_ROWS: readonly MapRow[] = [
  { name: 'map_overlap', run: (t, s) => (iommuMap(t, s.m, s.container, { iova: s.iova, size: MiB }), errIommuMap(t, s.m, 'EEXIST', s.container, { iova: s.iova + s.pgsize, size: MiB })) },
  { name: 'map_zero_size', run: (t, s) => errIommuMap(t, s.m, 'EINVAL', s.container, { iova: s.iova, size: 0n }) },
  { name: 'map_unaligned_iova', run: (t, s) => errIommuMap(t, s.m, 'EINVAL', s.container, { iova: s.iova + 1n, size: s.pgsize }) },
  { name: 'map_unaligned_size', run: (t, s) => errIommuMap(t, s.m, 'EINVAL', s.container, { iova: s.iova, size: s.pgsize + 1n }) },
  {
    // type1 wants READ or WRITE; iommufd_vfio_map_dma rejects only unknown flags and maps with IOMMU_CACHE alone.
    name: 'map_no_access_flags',
    run: (t, s, mode) =>
      iommufdContainer(s.m, mode)
        ? t.expectEq(0, tryIommuMap(s.m, s.container, { iova: s.iova, size: s.pgsize, flags: 0 }))
        : errIommuMap(t, s.m, 'EINVAL', s.container, { iova: s.iova, size: s.pgsize, flags: 0 }),
  },
  { name: 'map_unknown_flag', run: (t, s) => errIommuMap(t, s.m, 'EINVAL', s.container, { iova: s.iova, size: s.pgsize, flags: VFIO_DMA_MAP_FLAG_READ | (1 << 8) }) },
  { name: 'map_unmapped_vaddr', run: (t, s) => errIommuMap(t, s.m, 'EFAULT', s.container, { iova: s.iova, size: s.pgsize, vaddr: 0x1000n }) },
  {
    name: 'map_into_reserved_region',
    run: (t, s) => {
      const r = t.sysfs.regions(s.groupId).find(x => x.type !== 'direct-relaxable' && x.end - x.start + 1n >= s.pgsize);
      if (!r || !s.m.kernel.has('vfio_iova_range_cap')) t.skip('no reserved region to aim at');
      return errIommuMap(t, s.m, 'EINVAL', s.container, { iova: r!.start, size: s.pgsize });
    },
  },
  {
    name: 'unmap_bisects_mapping',
    run: (t, s, mode) => {
      if (mode.type !== VFIO_TYPE1v2_IOMMU) t.skip('type1 v1 unmaps whole mappings it overlaps');
      iommuMap(t, s.m, s.container, { iova: s.iova, size: 2n * MiB });
      // iopt_unmap_iova: an area not wholly inside the range is ENOENT.
      return errIommuUnmap(t, s.m, iommufdContainer(s.m, mode) ? 'ENOENT' : 'EINVAL', s.container, { iova: s.iova + MiB, size: MiB });
    },
  },
  {
    name: 'unmap_all',
    run: (t, s) => {
      if (!s.m.kernel.has('vfio_unmap_all')) t.skip('VFIO_DMA_UNMAP_FLAG_ALL from v5.12');
      iommuMap(t, s.m, s.container, { iova: s.iova, size: MiB });
      iommuMap(t, s.m, s.container, { iova: s.iova + 4n * MiB, size: MiB });
      errIommuUnmap(t, s.m, 'EINVAL', s.container, { iova: s.iova, size: MiB, flags: VFIO_DMA_UNMAP_FLAG_ALL });
      return t.expectEq(2n * MiB, iommuUnmap(t, s.m, s.container, { iova: 0n, size: 0n, flags: VFIO_DMA_UNMAP_FLAG_ALL }));
    },
  },
];

for (const row of MAP_ROWS) type1.test(row.name, (t, s, mode) => void row.run(t, s, mode));

/**
 * VFIO's argsz rule for every argsz-prefixed type1 ioctl: below offsetofend(last) is EINVAL,
 * exactly there works, and a larger buffer with garbage behind it is accepted (unlike iommufd).
 */
const LENGTH_OPS = [
  { name: 'get_info', cmd: VFIO_IOMMU_GET_INFO, layout: vfio_iommu_type1_info, last: 'iova_pgsizes' as const, value: (_s: Self) => ({}) },
  {
    name: 'map_dma',
    cmd: VFIO_IOMMU_MAP_DMA,
    layout: vfio_iommu_type1_dma_map,
    last: 'size' as const,
    value: (s: Self) => ({ flags: VFIO_DMA_MAP_FLAG_READ, vaddr: s.m.sys.mmap(s.pgsize), iova: s.iova, size: s.pgsize }),
  },
  { name: 'unmap_dma', cmd: VFIO_IOMMU_UNMAP_DMA, layout: vfio_iommu_type1_dma_unmap, last: 'size' as const, value: (s: Self) => ({ iova: s.iova, size: s.pgsize }) },
] as const;

for (const op of LENGTH_OPS) {
  type1.test(`cmd_length_${op.name}`, (t, s) => {
    const minsz = abi.offsetofend(op.layout as never, op.last as never);
    const call = (argsz: number, bufsz: number, tail: number): number => {
      const bytes = new Uint8Array(bufsz).fill(tail);
      bytes.set(abi.encode(op.layout as never, { ...op.value(s), argsz } as never).subarray(0, minsz));
      const p = s.m.mem.alloc(bytes);
      return s.m.sys.ioctl(s.container, op.cmd, p);
    };
    // Each unmap has a mapping to remove (iommufd's compat fails an empty one on older kernels).
    const ready = () => op.name === 'unmap_dma' && iommuMap(t, s.m, s.container, { iova: s.iova, size: s.pgsize });
    t.expectErrno('EINVAL', call(minsz - 1, minsz, 0));
    ready();
    t.expectEq(0, call(minsz, minsz, 0));
    if (op.name === 'map_dma') iommuUnmap(t, s.m, s.container, { iova: s.iova, size: s.pgsize });
    ready();
    t.expectEq(0, call(minsz + 64, minsz + 64, op.name === 'get_info' ? 0 : 0xa5));
    t.expectErrno('EFAULT', s.m.sys.ioctl(s.container, op.cmd, 0n));
  });
}

/**
 * Closing the fds with live mappings releases them: a fresh container maps the same IOVA. The
 * device fd goes first: it holds the group file, so the group is not released before it.
 */
type1.test('close_with_mappings', (t, s, mode) => {
  iommuMap(t, s.m, s.container, { iova: s.iova, size: MiB });
  t.expectEq(0, s.m.sys.close(s.device));
  t.expectEq(0, s.m.sys.close(s.group));
  t.expectEq(0, s.m.sys.close(s.container));
  const again = iommuInit(t, s.m, { ...mode, name: `${mode.name}_v2`, type: VFIO_TYPE1v2_IOMMU }, s.groupId);
  iommuMap(t, s.m, again.container, { iova: s.iova, size: MiB });
});

export const main = h.main;
h.runIfMain(module);
