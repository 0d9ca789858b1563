// SPDX-License-Identifier: GPL-2.0-only
/** The options of every command that builds a machine; kept out of command.ts so `--help` loads no emulator. */
import { createMachine, isTopologyPath, loadTopologyFile, Machine, parseKernelVersion } from '../../lib/index';
import type { CommandIO } from './io';
import type { Options, ParsedArgs } from './command';
import { UsageError } from './errors';
import { inputLimits } from './limits';

/** `--host NAME|FILE` and `--kernel VERSION`, shared by every command that builds a machine. */
export const hostOptions = {
  host: { type: 'string', short: 'H' },
  kernel: { type: 'string', short: 'k' },
} as const satisfies Options;

export function machineFrom(args: ParsedArgs, fallback: string, io: Pick<CommandIO, 'env'>): Machine {
  const host = (args.values.host as string | undefined) ?? fallback;
  const kernel = args.values.kernel as string | undefined;
  if (kernel !== undefined && kernel !== 'latest' && !parseKernelVersion(kernel))
    throw new UsageError(`--kernel: not a kernel version: ${JSON.stringify(kernel)} (e.g. 6.8, 5.15.2 or latest)`);
  return createMachine(isTopologyPath(host) ? loadTopologyFile(host, { limit: inputLimits(io.env).topology }) : host, { kernel });
}
