// SPDX-License-Identifier: GPL-2.0-only
import { Agent, AgentError, resolveHost } from '../../../lib/index';
import { Command, str } from '../command';
import { ExitError, UsageError } from '../errors';
import { inputLimits } from '../limits';

export const TOKEN_ENV = 'IOMMU_EMU_AGENT_TOKEN';

export function parseListen(s: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:]+)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UsageError(`--listen must be HOST:PORT (e.g. 127.0.0.1:7070, port 0 = any free port), got ${JSON.stringify(s)}`);
  return { host: m[1] ?? m[2]!, port };
}

export const serveCommand: Command = {
  options: {
    host: { type: 'string', short: 'H' },
    kernel: { type: 'string', short: 'k' },
    listen: { type: 'string', short: 'l' },
    token: { type: 'string' },
    'max-body': { type: 'string' },
  },
  async run(args, io) {
    const { host, port } = parseListen(str(args, 'listen') ?? '127.0.0.1:7070');
    const maxBody = str(args, 'max-body');
    if (maxBody !== undefined && !/^\d{1,9}$/.test(maxBody)) throw new UsageError('--max-body must be a byte count');
    const token = str(args, 'token') ?? io.env[TOKEN_ENV] ?? undefined;
    const h = str(args, 'host');
    const agent = new Agent({
      token: token || undefined,
      maxBody: maxBody === undefined ? undefined : Number(maxBody),
      defaultHost: h ? resolveHost(h, { limit: inputLimits(io.env).topology }) : undefined,
      defaultKernel: str(args, 'kernel'),
    });
    let url: string;
    try {
      url = await agent.listen(port, host);
    } catch (e) {
      if (e instanceof AgentError) throw new ExitError(2, `serve: ${e.message}`);
      throw new ExitError(1, `serve: cannot listen on ${host}:${port}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    io.stderr(`iommu-emu: serving on ${url}${h ? ` (machine "default": ${h})` : ''}${token ? ' (token required)' : ''}; Ctrl-C stops\n`);
    io.stdout(`${url}\n`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        void agent.close().then(resolve);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    return 0;
  },
};
