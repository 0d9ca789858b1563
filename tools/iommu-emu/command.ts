// SPDX-License-Identifier: GPL-2.0-only
import { parseArgs, ParseArgsConfig } from 'node:util';
import { createMachine, isTopologyPath, loadTopologyFile, Machine, parseKernelVersion, resolveHost, type Kconfig, type TopologyInput } from '../../lib/index';
import type { CommandIO } from './io';
import { UsageError } from './errors';
import { inputLimits } from './limits';

export type Options = NonNullable<ParseArgsConfig['options']>;

export interface Command {
  readonly summary: string;
  readonly usage: string;
  readonly options: Options;
  readonly allowPositionals?: boolean;
  /** Returns the exit code (0 when omitted). */
  run(args: ParsedArgs, io: CommandIO): Promise<number | void> | number | void;
}

export interface ParsedArgs {
  readonly values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  readonly positionals: string[];
}

export function parse(cmd: Command, argv: string[]): ParsedArgs {
  try {
    const r = parseArgs({ args: argv, options: cmd.options, allowPositionals: cmd.allowPositionals ?? false, strict: true });
    return { values: r.values as ParsedArgs['values'], positionals: r.positionals };
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0]!.replace(/^TypeError \[\w+\]: /, ''));
  }
}

/** `--host NAME|FILE` and `--kernel VERSION`, shared by every command that builds a machine. */
export const hostOptions = {
  host: { type: 'string', short: 'H' },
  kernel: { type: 'string', short: 'k' },
} as const satisfies Options;

/** The machine of `--host`/`--kernel`; `kconfig` builds that host with those options over its own. */
export function machineFrom(args: ParsedArgs, fallback: string, io: Pick<CommandIO, 'env'>, kconfig?: Partial<Kconfig>): Machine {
  const host = (args.values.host as string | undefined) ?? fallback;
  const kernel = args.values.kernel as string | undefined;
  if (kernel !== undefined && kernel !== 'latest' && !parseKernelVersion(kernel))
    throw new UsageError(`--kernel: not a kernel version: ${JSON.stringify(kernel)} (e.g. 6.8, 5.15.2 or latest)`);
  const topology = isTopologyPath(host) ? loadTopologyFile(host, { limit: inputLimits(io.env).topology }) : host;
  if (!kconfig) return createMachine(topology, { kernel });
  const src = (typeof topology === 'string' ? resolveHost(topology) : topology).source as TopologyInput & { kconfig?: Partial<Kconfig> };
  return createMachine({ ...src, kconfig: { ...(src.kconfig ?? {}), ...kconfig } } as TopologyInput, { kernel });
}

export const str = (args: ParsedArgs, k: string): string | undefined => args.values[k] as string | undefined;
export const flag = (args: ParsedArgs, k: string): boolean => args.values[k] === true;
