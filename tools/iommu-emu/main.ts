// SPDX-License-Identifier: GPL-2.0-only
/**
 * The CLI's one error boundary: owns the exit code. Usage and input errors print one clear line
 * per problem and exit 2; kernel errors exit 1; anything else is a bug.
 */
import { ExportError, HostFsError, TOPOLOGY_GUIDE, TopologyError, isKernelError } from '../../lib/index';
import { parse } from './command';
import { COMMANDS } from './commands';
import { ExitError, UsageError } from './errors';
import { CommandIO, processIO } from './io';
import { limitsHelp } from './limits';

export function help(): string {
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
    io.stdout(help());
    return name ? 0 : 2;
  }
  const cmd = COMMANDS[name];
  try {
    if (!cmd) throw new UsageError(`unknown command ${JSON.stringify(name)} (try: iommu-emu --help)`);
    if (rest.includes('--help') || rest.includes('-h')) {
      io.stdout(`usage: iommu-emu ${cmd.usage}\n\n${cmd.summary}\n`);
      return 0;
    }
    return (await cmd.run(parse(cmd, rest), io)) ?? 0;
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`iommu-emu: ${e.message}\n`);
      return 2;
    }
    if (e instanceof TopologyError) {
      for (const i of e.issues) io.stderr(`iommu-emu: ${i.file}: ${i.path || '(document)'}: ${i.message}\n`);
      io.stderr(`iommu-emu: the topology format, field by field: ${TOPOLOGY_GUIDE}\n`);
      return 2;
    }
    if (e instanceof ExportError || e instanceof HostFsError) {
      io.stderr(`iommu-emu: ${e.message}\n`);
      return 2;
    }
    if (e instanceof ExitError) {
      if (e.message) io.stderr(`iommu-emu: ${e.message}\n`);
      return e.code;
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
