// SPDX-License-Identifier: GPL-2.0-only
/**
 * The CLI's one error boundary: owns the exit code. Usage and input errors print one clear line
 * per problem and exit 2; kernel errors exit 1; anything else is a bug.
 */
import { parse } from './command';
import { COMMANDS } from './commands';
import { ExitError, UsageError } from './errors';
import { CommandIO, processIO } from './io';

/** The limits section needs the library's defaults, so `--help` loads it; a command's `--help` does not. */
export async function help(): Promise<string> {
  const { limitsHelp } = await import('./limits');
  return [
    'usage: iommu-emu COMMAND [options]',
    '',
    'Emulates the Linux IOMMU reserved-region sysfs ABI and VFIO/iommufd ioctls.',
    '',
    'commands:',
    ...Object.values(COMMANDS).flatMap((c) => [`  ${c.usage}`, `      ${c.summary}`]),
    '',
    'HOST is a built-in host name (see `iommu-emu hosts`) or a topology file (.json/.yaml).',
    '',
    'Input files must be regular files; their sizes are capped (BYTES: 4096, 64k, 16M, 1G):',
    ...limitsHelp(),
    '',
  ].join('\n');
}

export async function main(argv: string[], io: CommandIO = processIO()): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '-h' || name === '--help' || name === 'help') {
    io.stdout(await help());
    return name ? 0 : 2;
  }
  const cmd = COMMANDS[name];
  try {
    if (!cmd) throw new UsageError(`unknown command ${JSON.stringify(name)} (try: iommu-emu --help)`);
    if (rest.includes('--help') || rest.includes('-h')) {
      io.stdout(`usage: iommu-emu ${cmd.usage}\n\n${cmd.summary}\n`);
      return 0;
    }
    const impl = await cmd.load();
    return (await impl.run(parse(impl, rest), io)) ?? 0;
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`iommu-emu: ${e.message}\n`);
      return 2;
    }
    if (e instanceof ExitError) {
      if (e.message) io.stderr(`iommu-emu: ${e.message}\n`);
      return e.code;
    }
    // Any other error came from a command, which has loaded the emulator already.
    const { ExportError, HostFsError, TOPOLOGY_GUIDE, TopologyError, isKernelError } = await import('../../lib/index');
    if (e instanceof TopologyError) {
      for (const i of e.issues) io.stderr(`iommu-emu: ${i.file}: ${i.path || '(document)'}: ${i.message}\n`);
      io.stderr(`iommu-emu: the topology format, field by field: ${TOPOLOGY_GUIDE}\n`);
      return 2;
    }
    if (e instanceof ExportError || e instanceof HostFsError) {
      io.stderr(`iommu-emu: ${e.message}\n`);
      return 2;
    }
    if (isKernelError(e)) {
      io.stderr(`iommu-emu: ${e.context.path ?? name}: ${e.message}\n`);
      return 1;
    }
    const ne = e as NodeJS.ErrnoException;
    if (ne && typeof ne.code === 'string' && typeof ne.syscall === 'string') {
      io.stderr(`iommu-emu: ${ne.message}\n`);
      return ne.code === 'ENOENT' || ne.code === 'EISDIR' || ne.code === 'ENOTDIR' ? 2 : 1;
    }
    io.stderr(`iommu-emu: internal error, please report: ${(e as Error)?.stack ?? String(e)}\n`);
    return 70;
  }
}
