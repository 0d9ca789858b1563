// SPDX-License-Identifier: GPL-2.0-only
import { DEFAULT_HOST, VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU, hex64, vfioInfo } from '../../../lib/index';
import type { VfioInfo } from '../../../lib/index';
import { Command, flag, str } from '../command';
import { hostOptions, machineFrom } from '../host_args';
import { UsageError } from '../errors';

const size = (b: bigint): string => {
  for (const [unit, shift] of [['G', 30n], ['M', 20n], ['K', 10n]] as const) if (b >= 1n << shift && b % (1n << shift) === 0n) return `${b >> shift}${unit}`;
  return `${b}`;
};

export function formatVfioInfo(i: VfioInfo): string {
  const lines = [
    `VFIO_IOMMU_GET_INFO after attaching group ${i.group} (kernel ${i.kernel}, ${i.iommuType === VFIO_TYPE1_IOMMU ? 'VFIO_TYPE1_IOMMU' : 'VFIO_TYPE1v2_IOMMU'})`,
    `  iova_pgsizes  0x${hex64(i.iovaPgsizes)}  (${i.pageSizes.length > 8 ? `${size(i.pageSizes[0]!)} and every larger power of two up to ${size(i.pageSizes.at(-1)!)}` : i.pageSizes.map(size).join(', ')})`,
    `  argsz needed  ${i.argsz}`,
    `  dma_avail     ${i.dmaAvail ?? '(no DMA_AVAIL capability)'}`,
  ];
  if (i.migration) lines.push(`  migration     pgsize_bitmap 0x${i.migration.pgsizeBitmap.toString(16)}, max_dirty_bitmap_size 0x${i.migration.maxDirtyBitmapSize.toString(16)}`);
  lines.push(`  usable IOVA ranges (${i.iovaRanges.length}):`);
  for (const r of i.iovaRanges) lines.push(`    0x${hex64(r.start)} 0x${hex64(r.last)}`);
  return `${lines.join('\n')}\n`;
}

export const vfioInfoCommand: Command = {
  options: { ...hostOptions, group: { type: 'string', short: 'g' }, type1: { type: 'boolean' }, json: { type: 'boolean' } },
  run(args, io) {
    const g = str(args, 'group');
    if (g === undefined || !/^\d+$/.test(g)) throw new UsageError('vfio-info needs --group N (a group with a device on vfio-pci; see `iommu-emu show`)');
    const m = machineFrom(args, DEFAULT_HOST, io);
    const info = vfioInfo(m, Number(g), { iommuType: flag(args, 'type1') ? VFIO_TYPE1_IOMMU : VFIO_TYPE1v2_IOMMU });
    if (flag(args, 'json'))
      io.stdout(`${JSON.stringify(info, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v), 2)}\n`);
    else io.stdout(formatVfioInfo(info));
  },
};
