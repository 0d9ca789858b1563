// SPDX-License-Identifier: GPL-2.0-only
/**
 * `iommu-emu validate [DIR | --host X | --live] [--kernel V] [--strict]`: check a sysfs tree
 * against sysfs-schema/. Read-only on every source. One line per finding (`path[:line]: rule:
 * message`), then a summary; exit 1 on any violation. A tree without IOMMU groups (a host with
 * no IOMMU) is reported as such and exits 0.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  DEFAULT_HOST,
  EXPORT_METADATA_FILE,
  HostFsError,
  canonicalDir,
  confinedFs,
  parseKernelVersion,
  readRegularTextFile,
  resolveInside,
  validateSysfsTree,
  violations,
  type Finding,
  type SysfsFs,
} from '../../../lib/index';
import { Command, flag, str } from '../command';
import { hostOptions, machineFrom } from '../host_args';
import { ExitError, UsageError } from '../errors';

interface Source {
  readonly fs: SysfsFs;
  readonly sysRoot: string;
  readonly kernel: string;
  readonly label: string;
}

function kernelOption(v: string | undefined): string | undefined {
  if (v !== undefined && v !== 'latest' && !parseKernelVersion(v))
    throw new UsageError(`--kernel: not a kernel version: ${JSON.stringify(v)} (e.g. 6.8, 5.15.2 or 6.8.0-45-generic)`);
  return v;
}

/**
 * A tree on disk, read as a closed world: DIR's own links are followed (the user named it), but
 * nothing inside may lead out of DIR (DIR/sys -> /sys is refused), no file but a regular one is
 * opened, and the metadata file is capped and must not be a link.
 */
function dirSource(dir: string, kernel: string | undefined): Source {
  let root: string;
  let sysRoot: string | undefined;
  const has = (base: string, name: string) => {
    const r = resolveInside(root, path.relative(root, path.join(base, name)));
    return r !== undefined && fs.lstatSync(r).isDirectory();
  };
  try {
    root = canonicalDir(dir);
    const sys = resolveInside(root, 'sys');
    if (sys !== undefined && fs.lstatSync(sys).isDirectory() && (has(sys, 'kernel') || has(sys, 'devices'))) sysRoot = sys;
    else if (has(root, 'kernel') || has(root, 'devices')) sysRoot = root;
  } catch (e) {
    if (e instanceof HostFsError) throw new ExitError(2, e.message);
    throw e;
  }
  if (sysRoot === undefined) throw new UsageError(`${dir}: neither a sys/ tree nor a directory holding one`);
  let k = kernel;
  if (k === undefined) {
    // Beside sys/: inside DIR for an export, or next to DIR when DIR is the sys tree itself.
    const meta = path.join(sysRoot === root ? path.dirname(root) : root, EXPORT_METADATA_FILE);
    let j: { kernel?: unknown } | undefined;
    try {
      if (fs.existsSync(meta)) j = JSON.parse(readRegularTextFile(meta, { maxBytes: 1 << 20, what: 'metadata file' }, { noFollow: true })) as { kernel?: unknown };
    } catch (e) {
      throw new ExitError(2, `${meta}: ${e instanceof HostFsError ? e.reason : (e as Error).message}`);
    }
    if (typeof j?.kernel === 'string') k = j.kernel;
  }
  if (k === undefined) throw new UsageError(`${dir}: the tree does not say its kernel version (no ${EXPORT_METADATA_FILE}); pass --kernel`);
  return { fs: confinedFs(root) as unknown as SysfsFs, sysRoot, kernel: k, label: sysRoot };
}

export const validateCommand: Command = {
  options: { ...hostOptions, live: { type: 'boolean' }, strict: { type: 'boolean' } },
  allowPositionals: true,
  run(args, io) {
    const kernel = kernelOption(str(args, 'kernel'));
    const live = flag(args, 'live');
    const host = str(args, 'host');
    if (args.positionals.length > 1) throw new UsageError('validate takes at most one DIR');
    const dir = args.positionals[0];
    if ([dir !== undefined, live, host !== undefined].filter(Boolean).length > 1) throw new UsageError('give one of DIR, --host or --live');

    let src: Source;
    if (live) src = { fs: fs as unknown as SysfsFs, sysRoot: '/sys', kernel: kernel ?? os.release(), label: '/sys (live)' };
    else if (dir !== undefined) src = dirSource(dir, kernel);
    else {
      const m = machineFrom(args, DEFAULT_HOST, io);
      src = { fs: m.fs as unknown as SysfsFs, sysRoot: '/sys', kernel: m.kernel.release, label: `emulated ${m.topology.name}` };
    }

    let findings: Finding[];
    try {
      findings = validateSysfsTree(src.fs, src.sysRoot, { kernelVersion: src.kernel, strict: flag(args, 'strict') });
    } catch (e) {
      throw new ExitError(2, (e as Error).message);
    }
    const none = findings.find(f => f.rule === 'no-iommu-groups');
    if (none) {
      io.stdout(`${src.label}: ${none.message} (no IOMMU in use; nothing to validate)\n`);
      return 0;
    }
    for (const f of findings) io.stdout(`${f.path}${f.line ? `:${f.line}` : ''}: ${f.severity}: ${f.rule}: ${f.message}\n`);
    const bad = violations(findings);
    const files = new Set(bad.map(f => f.path)).size;
    io.stderr(
      bad.length
        ? `${src.label} (kernel ${src.kernel}): ${bad.length} violation(s) in ${files} path(s)\n`
        : `${src.label} (kernel ${src.kernel}): conforms to sysfs-schema/\n`,
    );
    return bad.length ? 1 : 0;
  },
};
