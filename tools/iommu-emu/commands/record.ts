// SPDX-License-Identifier: GPL-2.0-only
import {
  HostFsError,
  RecordError,
  Recording,
  formatTopology,
  importUmockdev,
  openRecordRoot,
  outputTarget,
  readRegularTextFile,
  recordSys,
  summarizeDifferences,
  writeFileAtomic,
} from '../../../lib/index';
import { Command, flag, str } from '../command';
import { ExitError, UsageError } from '../errors';
import type { CommandIO } from '../io';
import { inputLimits } from '../limits';

export const recordCommand: Command = {
  options: {
    root: { type: 'string' },
    'from-umockdev': { type: 'string' },
    out: { type: 'string', short: 'o' },
    kernel: { type: 'string', short: 'k' },
    arch: { type: 'string' },
    name: { type: 'string' },
    json: { type: 'boolean' },
    strict: { type: 'boolean' },
  },
  run(args, io) {
    const root = str(args, 'root');
    const umockdev = str(args, 'from-umockdev');
    if (root !== undefined && umockdev !== undefined) throw new UsageError('--root and --from-umockdev exclude each other');
    const out = str(args, 'out');
    const arch = str(args, 'arch');
    if (arch !== undefined && !['x86_64', 'aarch64', 's390x', 'riscv64', 'ppc64le'].includes(arch))
      throw new UsageError(`--arch must be one of x86_64, aarch64, s390x, riscv64, ppc64le (got ${JSON.stringify(arch)})`);
    const overrides = {
      ...(str(args, 'kernel') ? { kernel: str(args, 'kernel') } : {}),
      ...(arch ? { arch: arch as 'x86_64' } : {}),
      ...(str(args, 'name') ? { name: str(args, 'name') } : {}),
    };
    const limits = inputLimits(io.env);
    // Refuse an unsafe --out before the recording, not after it.
    if (out !== undefined) outputTarget(out);
    let rec: Recording;
    let from: string;
    try {
      if (umockdev !== undefined) {
        let text: string;
        try {
          text = readRegularTextFile(umockdev, limits.umockdev);
        } catch (e) {
          if (e instanceof HostFsError) throw new RecordError(e.message);
          throw e;
        }
        const imp = importUmockdev(text, umockdev, { attribute: limits.attribute });
        for (const n of imp.notes) io.stderr(`iommu-emu: ${umockdev}: ${n}\n`);
        rec = recordSys(imp.source, { kernel: 'latest', ...imp.options, ...overrides });
        from = umockdev;
      } else {
        const opened = openRecordRoot(root, { maxFileBytes: limits.attribute.maxBytes, raise: { maxFileBytes: limits.attribute.raise } });
        rec = recordSys(opened.source, { ...opened.options, ...overrides });
        from = opened.source.label;
      }
    } catch (e) {
      if (e instanceof RecordError) throw new ExitError(2, e.message);
      throw e;
    }
    const format = flag(args, 'json') || (out !== undefined && /\.json$/i.test(out)) ? 'json' : 'yaml';
    const header = [
      `Recorded by iommu-emu record from ${from} (kernel ${String(rec.doc.kernel)}, ${rec.kernelFrom}).`,
      ...rec.notes.filter((n) => n.level !== 'info').map((n) => `${n.level}: ${n.where}: ${n.message}`),
    ];
    const text = formatTopology(rec.doc, format, header);
    if (out !== undefined) writeFileAtomic(out, text);
    else io.stdout(text);
    report(rec, out, io);
    if (rec.notes.some((n) => n.level === 'error')) return 1;
    if (flag(args, 'strict') && rec.differences.length) return 1;
  },
};

function report(rec: Recording, out: string | undefined, io: CommandIO): void {
  for (const n of rec.notes) io.stderr(`iommu-emu: record: ${n.level}: ${n.where}: ${n.message}\n`);
  const t = rec.topology;
  io.stderr(
    `iommu-emu: record: ${t.devices.length} devices, ${t.iommus.length} IOMMU units${rec.hasIommu ? '' : ' (this host has no IOMMU)'}${out ? `, written to ${out}` : ''}\n`,
  );
  if (!rec.differences.length) io.stderr('iommu-emu: record: the replay is byte-identical wherever it renders (files, modes, links)\n');
  else {
    io.stderr(`iommu-emu: record: the replay differs at ${rec.differences.length} paths: ${summarizeDifferences(rec.differences)}\n`);
    for (const d of rec.differences.slice(0, 10)) io.stderr(`  ${d.what} ${d.path}: ${d.detail}\n`);
    if (rec.differences.length > 10) io.stderr(`  … ${rec.differences.length - 10} more\n`);
  }
}
