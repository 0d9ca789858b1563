// SPDX-License-Identifier: GPL-2.0-only
/** `--agent URL`: run a command against an iommu-emu agent instead of an in-process machine. */
import { AgentClient, AgentClientError } from '../../lib/index';
import { ParsedArgs, Options, str } from './command';
import { ExitError } from './errors';
import type { CommandIO } from './io';
import { TOKEN_ENV } from './commands/serve';

export const agentOptions = {
  agent: { type: 'string' },
  machine: { type: 'string' },
  token: { type: 'string' },
} as const satisfies Options;

/**
 * Calls `fn` with a client and a machine id: `--machine ID`, else a machine made from `--host`
 * (a built-in name; destroyed afterwards), else the agent's `default` machine.
 */
export async function withAgent<T>(args: ParsedArgs, io: CommandIO, fn: (c: AgentClient, id: string) => Promise<T>): Promise<T> {
  try {
    const c = new AgentClient(str(args, 'agent')!, { token: str(args, 'token') ?? io.env[TOKEN_ENV] });
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
      const input = e.status === 0 || [400, 401, 404, 405, 413, 415].includes(e.status);
      throw new ExitError(input ? 2 : 1, `agent: ${e.code}: ${e.message}`);
    }
    throw e;
  }
}
