// SPDX-License-Identifier: GPL-2.0-only
/** `--agent URL`: run a command against an iommu-emu agent instead of an in-process machine. */
import { AgentClient, AgentClientError } from '../../lib/index';
import { ParsedArgs, Options, TOKEN_ENV, readToken, str } from './command';
import { ExitError } from './errors';
import type { CommandIO } from './io';

export const agentOptions = {
  agent: { type: 'string', value: 'URL', description: 'ask a running `iommu-emu serve` at URL instead of building a machine here' },
  machine: { type: 'string', value: 'ID', description: "with --agent: the agent's machine ID (default: a fresh one from --host, else \"default\")" },
  'token-file': { type: 'string', value: 'FILE', description: `with --agent: read the agent's token from FILE (else from $${TOKEN_ENV})` },
} as const satisfies Options;

/**
 * Calls `fn` with a client and a machine id: `--machine ID`, else a machine made from `--host`
 * (a built-in name; destroyed afterwards), else the agent's `default` machine.
 */
export async function withAgent<T>(args: ParsedArgs, io: CommandIO, fn: (c: AgentClient, id: string) => Promise<T>): Promise<T> {
  const token = readToken(str(args, 'token-file'), io);
  try {
    const c = new AgentClient(str(args, 'agent')!, { token });
    const host = str(args, 'host');
    const machine = str(args, 'machine');
    if (machine !== undefined || host === undefined) return await fn(c, machine ?? 'default');
    const m = await c.createMachine({ host, ...(str(args, 'kernel') ? { kernel: str(args, 'kernel')! } : {}) });
    try {
      return await fn(c, m.id);
    } finally {
      await c.destroyMachine(m.id).catch(() => undefined);
    }
  } catch (e) {
    if (e instanceof AgentClientError) {
      const input = e.status === 0 || [400, 401, 403, 404, 405, 413, 415].includes(e.status);
      throw new ExitError(input ? 2 : 1, `agent: ${e.code}: ${e.message}`);
    }
    throw e;
  }
}
