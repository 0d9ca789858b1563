// SPDX-License-Identifier: GPL-2.0-only
import { parseArgs, ParseArgsConfig } from 'node:util';
import type { CommandIO } from './io';
import { UsageError } from './errors';

export type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * A command as the table lists it: what `--help` prints, known without loading the command's
 * module (which loads the emulator), and how to load it.
 */
export interface CommandEntry {
  readonly summary: string;
  readonly usage: string;
  load(): Promise<Command>;
}

export interface Command {
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

export const str = (args: ParsedArgs, k: string): string | undefined => args.values[k] as string | undefined;
export const flag = (args: ParsedArgs, k: string): boolean => args.values[k] === true;
