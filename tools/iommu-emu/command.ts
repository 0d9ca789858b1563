// SPDX-License-Identifier: GPL-2.0-only
import { parseArgs, ParseArgsConfig } from 'node:util';
import { DEFAULT_HOST, FEATURES, HostFsError, PluginError, createMachine, isTopologyPath, loadPluginFile, loadTopologyFile, Machine, parseKernelVersion, readRegularTextFile, resolveHost, withKconfig, type Kconfig } from '../../lib/index';
import type { AbiPlugin } from '../../lib/index';
import type { CommandIO } from './io';
import { UsageError } from './errors';
import { inputLimits } from './limits';

/** One command-line option; every option is described, and `help CMD` prints them all. */
export interface CliOption {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly multiple?: boolean;
  /** The value's placeholder in usage and help (`--host NAME|FILE`). */
  readonly value?: string;
  readonly description: string;
}
export type Options = Readonly<Record<string, CliOption>>;

export interface Command {
  readonly summary: string;
  /** Operands after the command name in the usage line (`PATH`, `[DIR]`, `-- COMMAND [ARG…]`). */
  readonly operands?: string;
  /** More paragraphs for `help CMD`. */
  readonly details?: string;
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

export const HELP_OPTION: CliOption = { type: 'boolean', short: 'h', description: 'print this help and exit' };

export function parse(cmd: Command, argv: string[]): ParsedArgs {
  argv = expandVariadic(cmd.variadic ?? [], argv);
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const [name, o] of Object.entries(cmd.options))
    options[name] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) };
  const end = argv.indexOf('--');
  if ((end < 0 ? argv : argv.slice(0, end)).some((a) => a === '--token' || a.startsWith('--token=')))
    throw new UsageError(`--token on the command line is visible to every user (/proc/PID/cmdline): use --token-file FILE or ${TOKEN_ENV}`);
  try {
    const r = parseArgs({ args: argv, options, allowPositionals: cmd.allowPositionals ?? false, strict: true });
    return { values: r.values as ParsedArgs['values'], positionals: r.positionals };
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0]!.replace(/^TypeError \[\w+\]: /, ''));
  }
}

const flagText = (name: string, o: CliOption) => `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;

/** `show [--host NAME|FILE] [--kernel VERSION] [--json] …` */
export function usageLine(name: string, cmd: Command): string {
  const opts = Object.entries(cmd.options).map(([n, o]) => `[--${n}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}]`);
  return [name, ...(cmd.operands ? [cmd.operands] : []), ...opts].join(' ');
}

/** `help CMD` / `CMD --help`: usage, what it does, every option with its description. */
export function commandHelp(name: string, cmd: Command): string {
  const all: [string, CliOption][] = [...Object.entries(cmd.options), ['help', HELP_OPTION]];
  const w = Math.max(...all.map(([n, o]) => flagText(n, o).length)) + 2;
  const lines = [`usage: iommu-emu ${usageLine(name, cmd)}`, '', cmd.summary];
  if (cmd.details) lines.push('', cmd.details.trim());
  lines.push('', 'options:');
  for (const [n, o] of all) lines.push(`  ${flagText(n, o).padEnd(w)}${o.description}`);
  return `${lines.join('\n')}\n`;
}

export const TOKEN_ENV = 'IOMMU_EMU_AGENT_TOKEN';

/** `--host NAME|FILE` and `--kernel VERSION`, shared by every command that builds a machine. */
export const hostOptions = {
  host: { type: 'string', short: 'H', value: 'NAME|FILE', description: `a built-in host (see \`iommu-emu hosts\`) or a topology file (.json/.yaml); default ${DEFAULT_HOST}` },
  kernel: { type: 'string', short: 'k', value: 'VERSION', description: "run the host under this kernel version (e.g. 5.3, 6.8.12, latest) instead of its topology's" },
  plugin: { type: 'string', multiple: true, value: 'FILE', description: 'load an ABI prototype (plugins/*.ts, see docs/plugins.md) into the machine; repeatable' },
} as const satisfies Options;

export const jsonOption = {
  json: { type: 'boolean', description: 'print JSON instead of text (its JSON Schema: lib/schemas/cli/)' },
} as const satisfies Options;

const TOKEN_FILE_MAX_BYTES = 4096;

/** A token for the agent: from --token-file, else the environment; never from argv. */
export function readToken(file: string | undefined, io: CommandIO): string | undefined {
  if (file === undefined) return io.env[TOKEN_ENV] || undefined;
  let text: string;
  try {
    // hostfs: opened without blocking, proved a regular file on the descriptor, read capped.
    text = readRegularTextFile(file, { maxBytes: TOKEN_FILE_MAX_BYTES, what: 'token file' });
  } catch (e) {
    if (!(e instanceof HostFsError)) throw e;
    if (e.reason.startsWith('larger than')) throw new UsageError(`--token-file ${file}: larger than ${TOKEN_FILE_MAX_BYTES} bytes; a token file holds one line`);
    throw new UsageError(`--token-file ${e.message}`);
  }
  const token = text.replace(/\r?\n$/, '');
  if (!token || /[\r\n]/.test(token)) throw new UsageError(`--token-file ${file}: must hold the token on one line`);
  return token;
}

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

/** The kernel option checked: a version, and new enough for what the command needs. */
export function kernelArg(args: ParsedArgs): string | undefined {
  const kernel = args.values.kernel as string | undefined;
  if (kernel !== undefined && kernel !== 'latest' && !parseKernelVersion(kernel))
    throw new UsageError(`--kernel: not a kernel version: ${JSON.stringify(kernel)} (e.g. 6.8, 5.15.2 or latest)`);
  return kernel;
}

/** The machine of `--host`/`--kernel`/`--plugin`; `kconfig` builds that host with those options over its own. */
export function machineFrom(args: ParsedArgs, fallback: string, io: Pick<CommandIO, 'env'>, kconfig?: Partial<Kconfig>): Machine {
  const host = (args.values.host as string | undefined) ?? fallback;
  const kernel = kernelArg(args);
  const plugins = pluginsArg(args);
  const opts = { kernel, ...(plugins.length ? { plugins } : {}) };
  const topology = isTopologyPath(host) ? loadTopologyFile(host, { limit: inputLimits(io.env).topology }) : host;
  if (!kconfig) return createMachine(topology, opts);
  return createMachine(withKconfig(typeof topology === 'string' ? resolveHost(topology) : topology, kconfig), opts);
}

/** A usage error when the machine's kernel predates `feature` ("VFIO is not on kernel 2.6 (since 3.6)"). */
export function needKernel(m: Machine, feature: keyof typeof FEATURES, what: string): void {
  if (m.kernel.has(feature)) return;
  const since = FEATURES[feature].since;
  throw new UsageError(`${what} is not on kernel ${m.kernel.release} (since ${since}); pass --kernel ${since} or later`);
}

export const str = (args: ParsedArgs, k: string): string | undefined => args.values[k] as string | undefined;
export const strs = (args: ParsedArgs, k: string): string[] => (args.values[k] as string[] | undefined) ?? [];
export const flag = (args: ParsedArgs, k: string): boolean => args.values[k] === true;

/** JSON output: pretty, newline-terminated. */
export const jsonText = (v: unknown): string => `${JSON.stringify(v, null, 2)}\n`;
