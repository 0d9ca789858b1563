// SPDX-License-Identifier: GPL-2.0-only
import { DEFAULT_HOST, Machine, exportTree, outputTarget, toUmockdev, writeFileAtomic } from '../../../lib/index';
import { Command, flag, hostOptions, jsonOption, jsonText, machineFrom, str } from '../command';
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
  summary: 'write the emulated sys/ tree (files, modes, relative links) into a new directory, or a .umockdev description',
  operands: 'DIR|FILE',
  details:
    'DIR must not exist or be empty; the tree lands in DIR/sys with DIR/iommu-emu.json beside it (what\n' +
    '`record --root DIR` and `validate DIR` read back). With --format umockdev, FILE gets a description\n' +
    'for umockdev-run (- for stdout). Nothing is left half-written on failure.',
  options: {
    ...hostOptions,
    format: { type: 'string', short: 'f', value: 'tree|umockdev', description: 'a directory tree (default) or a .umockdev file' },
    ...jsonOption,
  },
  allowPositionals: true,
  run(args, io) {
    if (args.positionals.length !== 1) throw new UsageError('export takes exactly one DIR (or FILE with --format umockdev)');
    const format = str(args, 'format') ?? 'tree';
    if (format !== 'tree' && format !== 'umockdev') throw new UsageError(`--format must be tree or umockdev (got ${JSON.stringify(format)})`);
    const target = args.positionals[0]!;
    const json = flag(args, 'json');
    if (json && target === '-') throw new UsageError('--json prints what was written; it cannot share stdout with the .umockdev text (give a FILE)');
    // Refuse an unsafe target (a device node, a FIFO, …) before building anything.
    if (format === 'umockdev' && target !== '-') outputTarget(target);
    const m = machineFrom(args, DEFAULT_HOST, io);
    const base = { host: m.topology.name, kernel: m.kernel.release, format, target, devices: m.host.devices.length, iommus: m.host.units.length };
    if (format === 'umockdev') {
      const u = toUmockdev(m);
      if (target === '-') io.stdout(u.text);
      else writeFileAtomic(target, u.text);
      if (json) io.stdout(jsonText({ ...base, notes: u.notes }));
      for (const n of u.notes) io.stderr(`iommu-emu: export: not in the .umockdev file: ${n}\n`);
      io.stderr(`exported ${m.topology.name}: ${m.host.devices.length} PCI devices, ${m.host.units.length} IOMMU units as umockdev${target === '-' ? '' : ` into ${target}`}\n`);
      return;
    }
    const r = exportTree(m, target, { metadata: exportMetadata(m) });
    if (json) io.stdout(jsonText({ ...base, target: r.dir, files: r.files, links: r.links, dirs: r.dirs, notes: [] }));
    io.stderr(`exported ${m.topology.name}: ${r.files} files, ${r.links} links, ${r.dirs} directories into ${r.dir}/sys\n`);
  },
};
