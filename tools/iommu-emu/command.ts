// SPDX-License-Identifier: GPL-2.0-only
import { parseArgs, ParseArgsConfig } from 'node:util';
import { PluginError, createMachine, isTopologyPath, loadPluginFile, loadTopologyFile, Machine, parseKernelVersion } from '../../lib/index';
import type { AbiPlugin } from '../../lib/index';
import type { CommandIO } from './io';
import { UsageError } from './errors';
import { inputLimits } from './limits';

/** One option; `value` names its argument and `description` says what it does (`help CMD`). */
export interface CliOption {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly multiple?: boolean;
  readonly value?: string;
  readonly description?: string;
}
export type Options = Readonly<Record<string, CliOption>>;

export interface Command {
  readonly summary: string;
  readonly usage: string;
  readonly options: Options;
  readonly allowPositionals?: boolean;
  /** Options that take several values after one flag (`--hosts A B C`); declared `multiple`. */
  readonly variadic?: readonly string[];
  /** Returns the exit code (0 when omitted). */
  run(args: ParsedArgs, io: CommandIO): Promise<number | void> | number | void;
}

export interface ParsedArgs {
  readonly values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  readonly positionals: string[];
}

/** `--hosts A B --ram 1G` → `--hosts A --hosts B --ram 1G` for the command's variadic options. */
export function expandVariadic(variadic: readonly string[], argv: readonly string[]): string[] {
  if (!variadic.length) return [...argv];
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const name = a.startsWith('--') ? a.slice(2) : undefined;
    if (name === undefined || !variadic.includes(name)) {
      out.push(a);
      continue;
    }
    let n = 0;
    while (i + 1 < argv.length && !argv[i + 1]!.startsWith('-')) {
      out.push(a, argv[++i]!);
      n++;
    }
    if (!n) out.push(a);
  }
  return out;
}

export function parse(cmd: Command, argv: string[]): ParsedArgs {
  argv = expandVariadic(cmd.variadic ?? [], argv);
  try {
    const options: NonNullable<ParseArgsConfig['options']> = {};
    for (const [name, o] of Object.entries(cmd.options)) options[name] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) };
    const r = parseArgs({ args: argv, options, allowPositionals: cmd.allowPositionals ?? false, strict: true });
    return { values: r.values as ParsedArgs['values'], positionals: r.positionals };
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0]!.replace(/^TypeError \[\w+\]: /, ''));
  }
}

/** `--host NAME|FILE` and `--kernel VERSION`, shared by every command that builds a machine. */
export const hostOptions = {
  host: { type: 'string', short: 'H' },
  kernel: { type: 'string', short: 'k' },
  plugin: { type: 'string', multiple: true, value: 'FILE', description: 'load an ABI prototype (plugins/*.ts, see docs/plugins.md) into the machine; repeatable' },
} as const satisfies Options;

/** `--plugin FILE…`, loaded; a bad plugin is a usage error naming the file. */
export function pluginsArg(args: ParsedArgs): AbiPlugin[] {
  const files = (args.values['plugin'] as string[] | undefined) ?? [];
  try {
    return files.map((f) => loadPluginFile(f));
  } catch (e) {
    if (e instanceof PluginError) throw new UsageError(e.message);
    throw e;
  }
}

/** `--kernel VERSION`, checked. */
export function kernelArgChecked(args: ParsedArgs): string | undefined {
  const kernel = args.values.kernel as string | undefined;
  if (kernel !== undefined && kernel !== 'latest' && !parseKernelVersion(kernel))
    throw new UsageError(`--kernel: not a kernel version: ${JSON.stringify(kernel)} (e.g. 6.8, 5.15.2 or latest)`);
  return kernel;
}

export function machineFrom(args: ParsedArgs, fallback: string, io: Pick<CommandIO, 'env'>): Machine {
  const host = (args.values.host as string | undefined) ?? fallback;
  const kernel = kernelArgChecked(args);
  const plugins = pluginsArg(args);
  return createMachine(isTopologyPath(host) ? loadTopologyFile(host, { limit: inputLimits(io.env).topology }) : host, { kernel, ...(plugins.length ? { plugins } : {}) });
}

export const str = (args: ParsedArgs, k: string): string | undefined => args.values[k] as string | undefined;
export const strs = (args: ParsedArgs, k: string): string[] => (args.values[k] as string[] | undefined) ?? [];
export const flag = (args: ParsedArgs, k: string): boolean => args.values[k] === true;
