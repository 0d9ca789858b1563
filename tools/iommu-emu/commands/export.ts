// SPDX-License-Identifier: GPL-2.0-only
import { DEFAULT_HOST, Machine, exportTree, outputTarget, toUmockdev, writeFileAtomic } from '../../../lib/index';
import { Command, str } from '../command';
import { hostOptions, machineFrom } from '../host_args';
import { UsageError } from '../errors';

/** What a tree cannot say about itself; `record --root` reads it back. */
export const exportMetadata = (m: Machine) => ({
  tool: 'iommu-emu',
  host: m.topology.name,
  ...(m.topology.description ? { description: m.topology.description } : {}),
  kernel: m.kernel.version.text,
  arch: m.topology.arch,
  ...(Object.keys(m.topology.cmdline).length ? { cmdline: m.topology.cmdline } : {}),
});

export const exportCommand: Command = {
  options: { ...hostOptions, format: { type: 'string', short: 'f' } },
  allowPositionals: true,
  run(args, io) {
    if (args.positionals.length !== 1) throw new UsageError('export takes exactly one DIR (or FILE with --format umockdev)');
    const format = str(args, 'format') ?? 'tree';
    if (format !== 'tree' && format !== 'umockdev') throw new UsageError(`--format must be tree or umockdev (got ${JSON.stringify(format)})`);
    const target = args.positionals[0]!;
    // Refuse an unsafe target (a device node, a FIFO, …) before building anything.
    if (format === 'umockdev' && target !== '-') outputTarget(target);
    const m = machineFrom(args, DEFAULT_HOST, io);
    if (format === 'umockdev') {
      const u = toUmockdev(m);
      if (target === '-') io.stdout(u.text);
      else writeFileAtomic(target, u.text);
      for (const n of u.notes) io.stderr(`iommu-emu: export: not in the .umockdev file: ${n}\n`);
      io.stderr(`exported ${m.topology.name}: ${m.host.devices.length} PCI devices, ${m.host.units.length} IOMMU units as umockdev${target === '-' ? '' : ` into ${target}`}\n`);
      return;
    }
    const r = exportTree(m, target, { metadata: exportMetadata(m) });
    io.stderr(`exported ${m.topology.name}: ${r.files} files, ${r.links} links, ${r.dirs} directories into ${r.dir}/sys\n`);
  },
};
