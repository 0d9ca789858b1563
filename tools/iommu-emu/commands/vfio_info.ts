// SPDX-License-Identifier: GPL-2.0-only
import { DEFAULT_HOST, VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU, hex64, iommufdInfo, vfioInfo } from '../../../lib/index';
import type { IommufdInfo, VfioInfo } from '../../../lib/index';
import { Command, flag, hostOptions, machineFrom, str } from '../command';
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

const sameRanges = (i: IommufdInfo): boolean =>
  i.iovaRanges.length === i.groupUsableIova.length && i.iovaRanges.every((r, k) => r.start === i.groupUsableIova[k]!.start && r.last === i.groupUsableIova[k]!.last);

export function formatIommufdInfo(i: IommufdInfo): string {
  const lines = [`IOMMU_IOAS_IOVA_RANGES after attaching group ${i.group} through iommufd (kernel ${i.kernel})`];
  for (const d of i.devices) lines.push(`  device        ${d.bdf}  ${d.cdev}  devid ${d.devid}`);
  lines.push(
    `  ioas ${i.ioas}, hwpt ${i.hwpt} (the automatic domain of the attach)`,
    `  alignment     0x${i.alignment.toString(16)} (${size(i.alignment)})`,
    `  ioctls        ${i.calls} (QEMU's probe with no room, EMSGSIZE, then the fetch)`,
    `  usable IOVA ranges (${i.iovaRanges.length}):`,
  );
  for (const r of i.iovaRanges) lines.push(`    0x${hex64(r.start)} 0x${hex64(r.last)}`);
  if (sameRanges(i)) lines.push("  the IOMMU core's usable IOVA for the group (what type1 reports): the same");
  else {
    lines.push(`  the IOMMU core's usable IOVA for the group differs (${i.groupUsableIova.length}):`);
    for (const r of i.groupUsableIova) lines.push(`    0x${hex64(r.start)} 0x${hex64(r.last)}`);
  }
  return `${lines.join('\n')}\n`;
}

const toJson = (v: unknown): string => `${JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `0x${x.toString(16)}` : x), 2)}\n`;

export const vfioInfoCommand: Command = {
  summary: 'attach one group to a VFIO container (or, --iommufd, its cdevs to an IOAS) and print the usable IOVA it reports',
  usage: 'vfio-info --group N [--type1 | --iommufd] [--host NAME|FILE] [--kernel VERSION] [--json]',
  options: { ...hostOptions, group: { type: 'string', short: 'g' }, type1: { type: 'boolean' }, iommufd: { type: 'boolean' }, json: { type: 'boolean' } },
  run(args, io) {
    const g = str(args, 'group');
    if (g === undefined || !/^\d+$/.test(g)) throw new UsageError('vfio-info needs --group N (a group with a device on vfio-pci; see `iommu-emu show`)');
    if (flag(args, 'iommufd')) {
      if (flag(args, 'type1')) throw new UsageError('vfio-info: --type1 and --iommufd exclude each other');
      // The host built with CONFIG_IOMMUFD (its device cdev follows): Debian's configs leave it out.
      const m = machineFrom(args, DEFAULT_HOST, io, { CONFIG_IOMMUFD: true });
      if (!m.kernel.has('iommufd')) throw new UsageError(`vfio-info --iommufd: kernel ${m.kernel.release} has no iommufd (6.2 and later)`);
      if (!m.kernel.has('vfio_device_cdev')) throw new UsageError(`vfio-info --iommufd: kernel ${m.kernel.release} has no VFIO device cdev (6.6 and later)`);
      const info = iommufdInfo(m, Number(g));
      io.stdout(flag(args, 'json') ? toJson({ ...info, matchesGroupUsableIova: sameRanges(info) }) : formatIommufdInfo(info));
      return;
    }
    const m = machineFrom(args, DEFAULT_HOST, io);
    const info = vfioInfo(m, Number(g), { iommuType: flag(args, 'type1') ? VFIO_TYPE1_IOMMU : VFIO_TYPE1v2_IOMMU });
    io.stdout(flag(args, 'json') ? toJson(info) : formatVfioInfo(info));
  },
};
