// SPDX-License-Identifier: GPL-2.0-only
import { Agent, AgentError, resolveHost } from '../../../lib/index';
import { Command, TOKEN_ENV, hostOptions, pluginsArg, readToken, str } from '../command';
import { ExitError, UsageError } from '../errors';
import { inputLimits } from '../limits';
import { packageVersion } from '../version';

export function parseListen(s: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:]+)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UsageError(`--listen must be HOST:PORT (e.g. 127.0.0.1:7070, port 0 = any free port), got ${JSON.stringify(s)}`);
  return { host: m[1] ?? m[2]!, port };
}

const count = (args: Parameters<Command['run']>[0], name: string, max: number): number | undefined => {
  const v = str(args, name);
  if (v === undefined) return undefined;
  if (!/^\d{1,10}$/.test(v) || Number(v) < 1 || Number(v) > max) throw new UsageError(`--${name} must be a number from 1 to ${max} (got ${JSON.stringify(v)})`);
  return Number(v);
};

export const serveCommand: Command = {
  summary: 'serve machines over a small JSON HTTP API (loopback; a token is required elsewhere)',
  details:
    'GET /v1 lists the endpoints, GET /v1/openapi.json describes them (OpenAPI 3.1). The listen host is\n' +
    'resolved first; an address outside 127.0.0.0/8 and ::1 needs a token. Requests must name this\n' +
    'agent in Host (DNS rebinding) and carry no browser Origin unless allowed. Prints the URL on stdout.',
  options: {
    ...hostOptions,
    host: { ...hostOptions.host, description: 'create the machine "default" from this built-in host or topology file' },
    kernel: { ...hostOptions.kernel, description: 'the kernel of the "default" machine' },
    listen: { type: 'string', short: 'l', value: 'HOST:PORT', description: 'where to listen (default 127.0.0.1:7070; port 0 picks a free one)' },
    'token-file': { type: 'string', value: 'FILE', description: `require "Authorization: Bearer TOKEN", the token read from FILE (else from $${TOKEN_ENV}, if set)` },
    'max-body': { type: 'string', value: 'BYTES', description: 'largest request body (default 1048576)' },
    'max-connections': { type: 'string', value: 'N', description: 'connections open at once; more are closed on arrival (default 32)' },
    'max-machines': { type: 'string', value: 'N', description: 'machines alive at once (default 64)' },
    'allow-origin': { type: 'string', multiple: true, value: 'ORIGIN', description: 'let web pages from ORIGIN (e.g. http://localhost:3000) call the agent (repeatable)' },
    'allow-host': { type: 'string', multiple: true, value: 'NAME', description: 'accept NAME in the Host header besides the bound address (repeatable)' },
    plugin: { ...hostOptions.plugin, description: 'load an ABI prototype into every machine the agent makes; repeatable' },
  },
  async run(args, io) {
    const { host, port } = parseListen(str(args, 'listen') ?? '127.0.0.1:7070');
    const token = readToken(str(args, 'token-file'), io);
    const h = str(args, 'host');
    const agent = new Agent({
      token,
      maxBody: count(args, 'max-body', 1 << 30),
      maxConnections: count(args, 'max-connections', 65535),
      maxMachines: count(args, 'max-machines', 4096),
      allowedOrigins: (args.values['allow-origin'] as string[] | undefined) ?? [],
      allowedHosts: (args.values['allow-host'] as string[] | undefined) ?? [],
      defaultHost: h ? resolveHost(h, { limit: inputLimits(io.env).topology }) : undefined,
      defaultKernel: str(args, 'kernel'),
      version: packageVersion(),
      plugins: pluginsArg(args),
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
