// SPDX-License-Identifier: GPL-2.0-only
import { DEFAULT_HOST, VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU, hex64, iommufdGroupJson, iommufdInfo, iommufdMatchesCore, notOnKernel, u64Json, vfioInfo, vfioIommuInfoJson } from '../../../lib/index';
import type { IommufdInfo, Machine, VfioInfo } from '../../../lib/index';
import { Command, flag, hostOptions, jsonOption, jsonText, machineFrom, needKernel, str } from '../command';
import { UsageError } from '../errors';

const size = (b: bigint): string => {
  for (const [unit, shift] of [['G', 30n], ['M', 20n], ['K', 10n]] as const) if (b >= 1n << shift && b % (1n << shift) === 0n) return `${b >> shift}${unit}`;
  return `${b}`;
};

const typeName = (t: number) => (t === VFIO_TYPE1_IOMMU ? 'VFIO_TYPE1_IOMMU' : 'VFIO_TYPE1v2_IOMMU');

/** VFIO_IOMMU_GET_INFO as text; a capability the kernel does not have reads "not on kernel X (since Y)". */
export function formatVfioInfo(m: Machine, i: VfioInfo): string {
  const lines = [
    `VFIO_IOMMU_GET_INFO after attaching group ${i.group} (kernel ${i.kernel}, ${typeName(i.iommuType)})`,
    `  iova_pgsizes  0x${hex64(i.iovaPgsizes)}  (${i.pageSizes.length > 8 ? `${size(i.pageSizes[0]!)} and every larger power of two up to ${size(i.pageSizes.at(-1)!)}` : i.pageSizes.map(size).join(', ')})`,
    `  argsz needed  ${i.argsz}`,
    `  dma_avail     ${m.kernel.has('vfio_dma_avail_cap') ? (i.dmaAvail ?? '(none reported)') : notOnKernel(m, 'vfio_dma_avail_cap')}`,
  ];
  if (i.migration) lines.push(`  migration     pgsize_bitmap 0x${i.migration.pgsizeBitmap.toString(16)}, max_dirty_bitmap_size 0x${i.migration.maxDirtyBitmapSize.toString(16)}`);
  else if (!m.kernel.has('vfio_migration_cap')) lines.push(`  migration     ${notOnKernel(m, 'vfio_migration_cap')}`);
  if (!m.kernel.has('vfio_iova_range_cap')) lines.push(`  usable IOVA ranges: ${notOnKernel(m, 'vfio_iova_range_cap')}`);
  else {
    lines.push(`  usable IOVA ranges (${i.iovaRanges.length}):`);
    for (const r of i.iovaRanges) lines.push(`    0x${hex64(r.start)} 0x${hex64(r.last)}`);
  }
  return `${lines.join('\n')}\n`;
}

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
  if (iommufdMatchesCore(i)) lines.push("  the IOMMU core's usable IOVA for the group (what type1 reports): the same");
  else {
    lines.push(`  the IOMMU core's usable IOVA for the group differs (${i.groupUsableIova.length}):`);
    for (const r of i.groupUsableIova) lines.push(`    0x${hex64(r.start)} 0x${hex64(r.last)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** --iommufd --json: the agent's iommufd_group with the kernel and the ioctl count. */
const iommufdJson = (i: IommufdInfo) => {
  const { group, ...rest } = iommufdGroupJson(i);
  return { group, kernel: i.kernel, iommu_type: 'iommufd' as const, ...rest, calls: i.calls };
};

export const vfioInfoCommand: Command = {
  summary: 'attach one group to a VFIO container (or, --iommufd, its cdevs to an IOAS) and print the usable IOVA it reports',
  details:
    'The group needs a device bound to vfio-pci (see `iommu-emu show`: groups with /dev/vfio/N).\n' +
    '--iommufd builds the host with CONFIG_IOMMUFD (Debian leaves it out) and needs a kernel with iommufd (6.2)\n' +
    'and the VFIO device cdev (6.6). Everything is closed again afterwards.',
  options: {
    ...hostOptions,
    group: { type: 'string', short: 'g', value: 'N', description: 'the IOMMU group to attach (required)' },
    type1: { type: 'boolean', description: 'VFIO_SET_IOMMU with VFIO_TYPE1_IOMMU (v1) instead of VFIO_TYPE1v2_IOMMU' },
    iommufd: { type: 'boolean', description: "bind the group's device cdevs to /dev/iommu, attach them to an IOAS and print IOMMU_IOAS_IOVA_RANGES" },
    ...jsonOption,
  },
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
      io.stdout(flag(args, 'json') ? jsonText(iommufdJson(info)) : formatIommufdInfo(info));
      return;
    }
    const m = machineFrom(args, DEFAULT_HOST, io);
    needKernel(m, 'vfio', 'VFIO');
    if (!m.topology.kconfig.CONFIG_VFIO) throw new UsageError(`host ${m.topology.name} is built without VFIO (kconfig.CONFIG_VFIO false)`);
    const info = vfioInfo(m, Number(g), { iommuType: flag(args, 'type1') ? VFIO_TYPE1_IOMMU : VFIO_TYPE1v2_IOMMU });
    if (flag(args, 'json'))
      io.stdout(jsonText({ group: info.group, kernel: info.kernel, iommu_type: typeName(info.iommuType), argsz: info.argsz, page_sizes: info.pageSizes.map(u64Json), iommu: vfioIommuInfoJson(m, info) }));
    else io.stdout(formatVfioInfo(m, info));
  },
};
