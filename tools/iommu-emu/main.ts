// SPDX-License-Identifier: GPL-2.0-only
/**
 * The CLI's one error boundary: owns the exit code. Usage and input errors print one clear line
 * per problem and exit 2; kernel errors exit 1; anything else is a bug.
 */
import { ExportError, HostFsError, TOPOLOGY_GUIDE, TopologyError, isKernelError } from '../../lib/index';
import { commandHelp, parse } from './command';
import { COMMANDS } from './commands';
import { ExitError, UsageError } from './errors';
import { CommandIO, processIO } from './io';
import { limitsHelp } from './limits';
import { packageVersion } from './version';

export function help(): string {
  const w = Math.max(...Object.keys(COMMANDS).map((n) => n.length)) + 2;
  return [
    'usage: iommu-emu COMMAND [options]',
    '       iommu-emu help COMMAND | COMMAND --help    (every option of COMMAND)',
    '       iommu-emu --version',
    '',
    'Emulates the Linux IOMMU reserved-region sysfs ABI and VFIO/iommufd ioctls.',
    '',
    'commands:',
    ...Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(w)}${c.summary}`),
    '',
    'HOST is a built-in host name (see `iommu-emu hosts`) or a topology file (.json/.yaml).',
    'Commands that print data take --json; the schemas of their output are in lib/schemas/cli/\n(usable, check-guest, plan, msi-place, diff-abi: lib/vmm/schemas/).',
    '',
    'Input files must be regular files; their sizes are capped (BYTES: 4096, 64k, 16M, 1G):',
    ...limitsHelp(),
    '',
  ].join('\n');
}

export async function main(argv: string[], io: CommandIO = processIO()): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '-h' || name === '--help') {
    io.stdout(help());
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-V') {
    io.stdout(`${packageVersion()}\n`);
    return 0;
  }
  if (name === 'help') {
    if (!rest.length) {
      io.stdout(help());
      return 0;
    }
    const c = COMMANDS[rest[0]!];
    if (!c || rest.length > 1) {
      io.stderr(`iommu-emu: help: ${c ? 'takes one COMMAND' : `unknown command ${JSON.stringify(rest[0])}`} (commands: ${Object.keys(COMMANDS).join(', ')})\n`);
      return 2;
    }
    io.stdout(commandHelp(rest[0]!, c));
    return 0;
  }
  const cmd = COMMANDS[name];
  try {
    if (!cmd) throw new UsageError(`unknown command ${JSON.stringify(name)} (try: iommu-emu --help)`);
    const end = rest.indexOf('--');
    const opts = end < 0 ? rest : rest.slice(0, end);
    if (opts.includes('--help') || opts.includes('-h')) {
      io.stdout(commandHelp(name, cmd));
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
