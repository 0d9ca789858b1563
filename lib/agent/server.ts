// SPDX-License-Identifier: GPL-2.0-only
/**
 * The HTTP agent: a small JSON API over emulated machines for test suites in other languages.
 * node:http only. One route table drives both the router and the OpenAPI 3.1 document
 * (`GET /v1/openapi.json`); request bodies are checked against the same JSON Schemas the
 * document publishes (lib/schemas/agent.schema.json), and every response has a schema there.
 * Every error is `{error: {code, errno, message}}` with the kernel's errno name.
 *
 * Hardening: the listen address is resolved first and the loopback decision is made on the
 * address actually bound (a non-loopback listener needs a token); the Host header must name the
 * bound address (DNS rebinding); requests a browser marks with an Origin are refused unless the
 * origin is allowed; connections are capped in number and in time; bodies in size.
 */
import * as dns from 'node:dns';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { ERRNO, errnoNumber, isKernelError } from '../errno';
import type { Errno, KernelError } from '../errno';
import { DEFAULT_HOST, builtinHostNames, loadBuiltinHost } from '../hosts';
import { Machine, createMachine } from '../machine';
import type { AbiPlugin } from '../plugin/plugin';
import { TopologyError, topologyFromJSON, withKconfig } from '../topology/topology';
import type { Topology } from '../topology/topology';
import { U64_MAX } from '../model/iova';
import { must, tryWriteAttr } from '../user/sys';
import { VfioContainerHandle, VfioGroupHandle, vfio } from '../user/vfio';
import { fileJson, hostJson, iommufdGroupJson, machineReport, u64Json, vfioIommuInfoJson } from '../report';
import { AGENT_SCHEMA, COMMON_SCHEMA, schemaAjv, type JsonSchema } from '../schemas';
import { iommufdInfo } from '../user/iommufd';

export interface AgentOptions {
  /** Required for any non-loopback listener; checked on every request when set. */
  readonly token?: string;
  /** Request body limit in bytes (default 1 MiB). */
  readonly maxBody?: number;
  /** Machines alive at once (default 64). */
  readonly maxMachines?: number;
  /** Connections open at once (default 32); more are closed as they arrive. */
  readonly maxConnections?: number;
  /** ms a client may take to send its headers (default 10 s) and its whole request (default 30 s); idle keep-alive (30 s, past clients' own idle timers). */
  readonly timeouts?: { readonly headers?: number; readonly request?: number; readonly keepAlive?: number };
  /** Browser origins allowed to call the agent (`http://localhost:3000`); any other Origin is refused. */
  readonly allowedOrigins?: readonly string[];
  /** Host header names accepted besides the bound address (and `localhost` on loopback). */
  readonly allowedHosts?: readonly string[];
  /** A machine created at start under the id `default`. */
  readonly defaultHost?: Topology;
  readonly defaultKernel?: string;
  /** The version reported by `GET /v1` and the OpenAPI document. */
  readonly version?: string;
  /** Name resolution for listen() (default dns.lookup); tests give their own. */
  readonly lookup?: (host: string) => Promise<{ address: string; family: number }[]>;
  /** ABI prototypes loaded into every machine the agent makes. */
  readonly plugins?: readonly AbiPlugin[];
}

export class AgentError extends Error {
  override readonly name = 'AgentError';
  constructor(
    readonly status: number,
    readonly code: Errno,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

interface Mapping {
  readonly iova: bigint;
  readonly size: bigint;
  /** Memory the agent mapped for it (no vaddr given): unmapped with it. */
  readonly owned: boolean;
  readonly vaddr: bigint;
}
interface ContainerEntry {
  readonly id: string;
  readonly c: VfioContainerHandle;
  readonly groups: { id: number; g: VfioGroupHandle }[];
  mappings: Mapping[];
}
interface Entry {
  readonly id: string;
  readonly m: Machine;
  readonly created: string;
  readonly containers: Map<string, ContainerEntry>;
  nextContainer: number;
}

const STATUS: Partial<Record<Errno, number>> = {
  ENOENT: 404,
  ENODEV: 404,
  ENXIO: 404,
  EACCES: 403,
  EPERM: 403,
  EBUSY: 409,
  EEXIST: 409,
  ENOSPC: 507,
  E2BIG: 413,
  EOPNOTSUPP: 405,
  ENOTTY: 400,
  EINVAL: 400,
  EFAULT: 400,
  ERANGE: 400,
  EOVERFLOW: 400,
  ENOMEM: 507,
  EMFILE: 507,
};

// ---- the route table: router and OpenAPI document -----------------------------------------

type BodyName = 'create_machine' | 'write_file' | 'open_container' | 'attach_group' | 'map_dma' | 'unmap_dma';
interface Ctx {
  readonly params: Record<string, string>;
  readonly query: URLSearchParams;
  readonly body: unknown;
}
interface Route {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  readonly body?: BodyName;
  /** `common.schema.json#/$defs/X` or `agent.schema.json#/$defs/X`, by def name. */
  readonly response: string;
  readonly status?: 200 | 201;
  readonly query?: Record<string, string>;
  /** Errors this operation answers with besides 400/401/403/404. */
  readonly errors?: readonly number[];
  readonly run: (a: Agent, c: Ctx) => unknown;
}

const COMMON_DEFS = new Set(Object.keys(COMMON_SCHEMA.$defs ?? {}));
/** The `$id`-qualified schema of a definition named in ROUTES. */
const ref = (name: string) => `${COMMON_DEFS.has(name) ? COMMON_SCHEMA.$id : AGENT_SCHEMA.$id}#/$defs/${name}`;

export const ROUTES: readonly Route[] = [
  { method: 'GET', path: '/v1', operationId: 'index', summary: 'this index: version, resources, where the OpenAPI document is', response: 'index', run: (a) => a.index() },
  { method: 'GET', path: '/v1/openapi.json', operationId: 'openapi', summary: 'the OpenAPI 3.1 document of this API', response: '', run: (a) => a.openapi() },
  { method: 'GET', path: '/v1/hosts', operationId: 'listHosts', summary: 'the built-in hosts', response: 'host_list', run: () => ({ hosts: builtinHostNames().map((n) => hostJson(n, loadBuiltinHost(n), n === DEFAULT_HOST)) }) },
  { method: 'GET', path: '/v1/machines', operationId: 'listMachines', summary: 'the machines alive', response: 'machine_list', run: (a) => ({ machines: a.entries().map(machineJson) }) },
  { method: 'POST', path: '/v1/machines', operationId: 'createMachine', summary: 'create a machine from a built-in host or a topology document', body: 'create_machine', response: 'machine', status: 201, errors: [507], run: (a, c) => machineJson(a.create(c.body as CreateBody)) },
  { method: 'GET', path: '/v1/machines/{id}', operationId: 'getMachine', summary: 'one machine', response: 'machine', run: (a, c) => machineJson(a.machine(c.params.id!)) },
  { method: 'DELETE', path: '/v1/machines/{id}', operationId: 'deleteMachine', summary: 'destroy a machine (its containers are closed)', response: 'deleted', run: (a, c) => a.destroy(c.params.id!) },
  { method: 'GET', path: '/v1/machines/{id}/report', operationId: 'getReport', summary: 'what iommu-emu show prints: IOMMU units, groups with reserved and usable ranges, ungrouped devices', response: 'machine_report', run: (a, c) => ({ machine: c.params.id!, ...machineReport(a.machine(c.params.id!).m) }) },
  { method: 'GET', path: '/v1/machines/{id}/groups', operationId: 'listGroups', summary: 'IOMMU groups with their devices, reserved regions and usable IOVA ranges', response: 'group_list', run: (a, c) => ({ groups: machineReport(a.machine(c.params.id!).m).groups }) },
  {
    method: 'GET',
    path: '/v1/machines/{id}/file',
    operationId: 'readFile',
    summary: "a file's bytes as read(2) returns them (text or base64), a directory's entries, a link's target",
    query: { path: 'an absolute path in the machine (/sys/…, /dev/…)' },
    response: 'file',
    run: (a, c) => a.readPath(c.params.id!, c.query.get('path')),
  },
  { method: 'PUT', path: '/v1/machines/{id}/file', operationId: 'writeFile', summary: "one write(2): the attribute's store runs; a refusal comes back with its errno", body: 'write_file', response: 'write_result', errors: [409], run: (a, c) => a.writePath(c.params.id!, c.body as WriteBody) },
  {
    method: 'GET',
    path: '/v1/machines/{id}/iommufd/groups/{group}',
    operationId: 'iommufdGroup',
    summary: "bind the group's device cdevs to a fresh /dev/iommu, attach them to an IOAS and report IOMMU_IOAS_IOVA_RANGES beside the IOMMU core's usable IOVA (a machine with CONFIG_IOMMUFD); everything is closed again",
    response: 'iommufd_group',
    run: (a, c) => iommufdGroupInfo(a.machine(c.params.id!).m, c.params.group!),
  },
  { method: 'GET', path: '/v1/machines/{id}/vfio/containers', operationId: 'listContainers', summary: 'the open VFIO containers', response: 'container_list', run: (a, c) => ({ containers: [...a.machine(c.params.id!).containers.values()].map((x) => containerJson(a.machine(c.params.id!), x)) }) },
  { method: 'POST', path: '/v1/machines/{id}/vfio/containers', operationId: 'openContainer', summary: 'open /dev/vfio/vfio', body: 'open_container', response: 'container', status: 201, errors: [507], run: (a, c) => a.openContainer(c.params.id!) },
  { method: 'GET', path: '/v1/machines/{id}/vfio/containers/{cid}', operationId: 'getContainer', summary: 'a container: its groups and, once one is attached, VFIO_IOMMU_GET_INFO', response: 'container', run: (a, c) => a.container(c.params.id!, c.params.cid!) },
  { method: 'DELETE', path: '/v1/machines/{id}/vfio/containers/{cid}', operationId: 'closeContainer', summary: 'close the container and its groups', response: 'deleted', run: (a, c) => a.closeContainer(c.params.id!, c.params.cid!) },
  { method: 'POST', path: '/v1/machines/{id}/vfio/containers/{cid}/groups', operationId: 'attachGroup', summary: 'open /dev/vfio/<group> and VFIO_GROUP_SET_CONTAINER (the first group also VFIO_SET_IOMMU type1v2)', body: 'attach_group', response: 'container', errors: [409], run: (a, c) => a.attach(c.params.id!, c.params.cid!, (c.body as { group: number }).group) },
  { method: 'POST', path: '/v1/machines/{id}/vfio/containers/{cid}/map', operationId: 'mapDma', summary: 'VFIO_IOMMU_MAP_DMA (read+write)', body: 'map_dma', response: 'mapping', errors: [409, 507], run: (a, c) => a.map(c.params.id!, c.params.cid!, c.body as MapBody) },
  { method: 'POST', path: '/v1/machines/{id}/vfio/containers/{cid}/unmap', operationId: 'unmapDma', summary: 'VFIO_IOMMU_UNMAP_DMA of a range, or of everything', body: 'unmap_dma', response: 'unmap_result', run: (a, c) => a.unmap(c.params.id!, c.params.cid!, c.body as UnmapBody) },
];

type U64In = string | number;
type CreateBody = { host?: string; topology?: Record<string, unknown>; kernel?: string; kconfig?: Record<string, boolean> };
type WriteBody = { path: string; data: string; base64?: boolean };
type MapBody = { iova: U64In; size: U64In; vaddr?: U64In };
type UnmapBody = { iova?: U64In; size?: U64In; all?: true };

const BODY_ID = (name: BodyName) => `${AGENT_SCHEMA.$id}#/$defs/${name}`;
let validators: Map<BodyName, ValidateFunction> | undefined;

function describeError(name: BodyName, errs: readonly ErrorObject[]): string {
  const def = (AGENT_SCHEMA.$defs ?? {})[name] as { oneOf?: { required: string[] }[] };
  const top = errs.find((e) => e.keyword === 'oneOf' && e.instancePath === '');
  if (top && def.oneOf) return `body: needs exactly one of ${def.oneOf.map((a) => a.required.join('+')).join(' or ')}`;
  const u64 = errs.find((e) => e.keyword === 'anyOf');
  const e = u64 ?? errs[0]!;
  const where = `body${e.instancePath.replace(/\//g, '.')}`;
  if (u64) return `${where}: must be a u64: a "0x…" hex or decimal string, or a JSON number up to 2^53-1 (send larger values as strings)`;
  const extra = e.keyword === 'additionalProperties' ? ` (${String((e.params as { additionalProperty: string }).additionalProperty)})` : '';
  return `${where}: ${e.message ?? e.keyword}${extra}`;
}

function check<T>(name: BodyName, body: unknown): T {
  // Compiled on first use: a pure function of the bundled schemas.
  if (!validators) {
    const ajv = schemaAjv();
    validators = new Map();
    for (const n of ['create_machine', 'write_file', 'open_container', 'attach_group', 'map_dma', 'unmap_dma'] as BodyName[]) validators.set(n, ajv.getSchema(BODY_ID(n))!);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new AgentError(400, 'EINVAL', `body: must be object (got ${Array.isArray(body) ? 'array' : body === null ? 'null' : typeof body})`);
  const v = validators.get(name)!;
  if (!v(body)) throw new AgentError(400, 'EINVAL', describeError(name, v.errors ?? []));
  return body as T;
}

/** A u64 from a validated body value; decimal strings are checked against 2^64-1 here. */
function u64In(v: U64In, where: string): bigint {
  const b = typeof v === 'number' ? BigInt(v) : BigInt(v);
  if (b > U64_MAX) throw new AgentError(400, 'EINVAL', `body.${where}: ${v} exceeds 2^64-1`);
  return b;
}

const LOOPBACK = new net.BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** IPv4 127.0.0.0/8, IPv6 ::1, and IPv4-mapped loopback (::ffff:127.x.y.z). */
export function isLoopbackAddress(ip: string): boolean {
  const family = net.isIP(ip);
  return family !== 0 && LOOPBACK.check(ip, family === 6 ? 'ipv6' : 'ipv4');
}

const defaultLookup = async (host: string) => dns.promises.lookup(host, { all: true, verbatim: true });

export class Agent {
  private readonly machines = new Map<string, Entry>();
  private nextId = 1;
  readonly server: http.Server;
  private readonly maxBody: number;
  private readonly maxMachines: number;
  /** `host:port` values the Host header may carry, lower-case; set by listen(). */
  private hostNames = new Set<string>();
  private boundPort = 0;
  private doc: unknown;

  constructor(private readonly opts: AgentOptions = {}) {
    this.maxBody = opts.maxBody ?? 1 << 20;
    this.maxMachines = opts.maxMachines ?? 64;
    if (opts.defaultHost) this.add('default', createMachine(opts.defaultHost, { kernel: opts.defaultKernel, plugins: opts.plugins ?? [] }));
    const t = opts.timeouts ?? {};
    this.server = http.createServer(
      {
        headersTimeout: t.headers ?? 10_000,
        requestTimeout: t.request ?? 30_000,
        // Longer than any client's idle timer (undici's, behind fetch, is 4 s), so the client closes
        // an idle connection first. With the server first, a client whose event loop stalls reuses
        // a socket the server has just closed and sees ECONNRESET on a request it never sent.
        keepAliveTimeout: t.keepAlive ?? 30_000,
        // How often slow connections are looked for: small enough that the timeouts hold.
        connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor((t.headers ?? 10_000) / 4))),
      },
      (req, res) => void this.handle(req, res),
    );
    this.server.maxConnections = opts.maxConnections ?? 32;
    // Sockets silent for the whole request time (before any header byte) go too.
    this.server.setTimeout(t.request ?? 30_000, (s) => s.destroy());
  }

  /**
   * Listen on `host` (a name or an address): resolved first, then bound to the address it
   * resolved to; a non-loopback address without a token is refused. Resolves to the bound URL.
   */
  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    let address: string;
    try {
      const all = net.isIP(host) ? [{ address: host, family: net.isIPv6(host) ? 6 : 4 }] : await (this.opts.lookup ?? defaultLookup)(host);
      if (!all.length) throw new Error('no address');
      address = all[0]!.address;
    } catch (e) {
      throw new AgentError(400, 'EINVAL', `cannot resolve listen host ${JSON.stringify(host)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const loopback = isLoopbackAddress(address);
    if (!loopback && !this.opts.token)
      throw new AgentError(403, 'EACCES', `listening on ${host}${host === address ? '' : ` (${address})`}, not a loopback address, requires a token (--token-file FILE or IOMMU_EMU_AGENT_TOKEN)`);
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, address, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const a = this.server.address() as AddressInfo;
    this.boundPort = a.port;
    const names = new Set<string>([a.address, host, ...(this.opts.allowedHosts ?? [])]);
    if (loopback) names.add('localhost');
    if (a.address === '0.0.0.0' || a.address === '::') {
      names.add('localhost');
      names.add(os.hostname());
      for (const list of Object.values(os.networkInterfaces())) for (const i of list ?? []) names.add(i.address);
    }
    this.hostNames = new Set([...names].map((n) => `${net.isIPv6(n) ? `[${n}]` : n}:${a.port}`.toLowerCase()));
    return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  }

  close(): Promise<void> {
    for (const e of this.machines.values()) this.closeContainers(e);
    this.machines.clear();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  get machineCount(): number {
    return this.machines.size;
  }

  entries(): Entry[] {
    return [...this.machines.values()];
  }

  private add(id: string, m: Machine): Entry {
    const e: Entry = { id, m, created: new Date().toISOString(), containers: new Map(), nextContainer: 1 };
    this.machines.set(id, e);
    return e;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let status = 200;
    let out: unknown;
    const headers: Record<string, string> = {};
    try {
      this.screen(req);
      const url = new URL(req.url ?? '/', 'http://agent');
      const route = this.match(req.method ?? 'GET', url.pathname);
      let body: unknown;
      if (req.method === 'POST' || req.method === 'PUT') {
        body = await this.body(req);
        if (body === undefined) body = route.route.body === 'open_container' ? {} : undefined;
        if (route.route.body) body = check(route.route.body, body === undefined ? missingBody() : body);
      }
      out = route.route.run(this, { params: route.params, query: url.searchParams, body });
      status = route.route.status ?? 200;
    } catch (e) {
      [status, out] = errorReply(e);
      if (e instanceof AgentError) Object.assign(headers, e.headers);
      // A refused request's body is not read: close rather than drain it.
      if (status === 413 || status === 401 || status === 403 || status === 415) headers.Connection = 'close';
    }
    const text = JSON.stringify(out);
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text)), 'Cache-Control': 'no-store', ...headers });
    res.end(text);
  }

  /** Host, Origin and token, before anything is read or routed. */
  private screen(req: http.IncomingMessage): void {
    const host = (req.headers.host ?? '').toLowerCase();
    const withPort = /:\d+$/.test(host) ? host : `${host}:80`;
    if (this.hostNames.size && !this.hostNames.has(withPort))
      throw new AgentError(403, 'EACCES', `Host ${JSON.stringify(req.headers.host ?? '')} is not this agent (${[...this.hostNames].join(', ')}): refused (DNS rebinding guard; serve --allow-host NAME adds a name)`);
    const origin = req.headers.origin;
    if (origin !== undefined && !(this.opts.allowedOrigins ?? []).includes(origin))
      throw new AgentError(403, 'EACCES', `requests from web pages are refused (Origin: ${origin}); serve --allow-origin ${origin} permits that page`);
    const token = this.opts.token;
    if (!token) return;
    const got = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    const a = Buffer.from(got);
    const b = Buffer.from(token);
    if (a.length !== b.length || !timingSafeEqual(a, b)) throw new AgentError(401, 'EACCES', 'missing or wrong token (Authorization: Bearer …)', { 'WWW-Authenticate': 'Bearer' });
  }

  private match(method: string, pathname: string): { route: Route; params: Record<string, string> } {
    const parts = pathname.split('/').filter(Boolean);
    let decoded: string[];
    try {
      decoded = parts.map(decodeURIComponent);
    } catch {
      throw new AgentError(400, 'EINVAL', `bad percent-encoding in ${pathname}`);
    }
    const allowed: string[] = [];
    for (const r of ROUTES) {
      const t = r.path.split('/').filter(Boolean);
      if (t.length !== decoded.length) continue;
      const params: Record<string, string> = {};
      if (!t.every((seg, i) => (seg.startsWith('{') ? ((params[seg.slice(1, -1)] = decoded[i]!), true) : seg === decoded[i]))) continue;
      if (r.method === method) return { route: r, params };
      allowed.push(r.method);
    }
    if (allowed.length) throw new AgentError(405, 'EOPNOTSUPP', `${method} not allowed on ${pathname} (allowed: ${allowed.join(', ')})`, { Allow: allowed.join(', ') });
    throw new AgentError(404, 'ENOENT', `no such endpoint ${pathname} (GET /v1 lists them; the API is under /v1)`);
  }

  /** The body as JSON, or undefined when there is none. */
  private body(req: http.IncomingMessage): Promise<unknown> {
    const declared = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
    if (declared === 0 || (declared === undefined && req.headers['transfer-encoding'] === undefined)) return Promise.resolve(undefined);
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json')
      return Promise.reject(
        new AgentError(
          415,
          'EINVAL',
          `Content-Type must be application/json (got ${JSON.stringify(type || 'none')})${type === 'application/x-www-form-urlencoded' ? "; curl -d sends a form: add -H 'Content-Type: application/json'" : ''}`,
        ),
      );
    if (declared !== undefined && declared > this.maxBody) return Promise.reject(new AgentError(413, 'E2BIG', `body of ${declared} bytes exceeds the ${this.maxBody}-byte limit`));
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let n = 0;
      let failed = false;
      req.on('data', (c: Buffer) => {
        if (failed) return;
        n += c.length;
        if (n > this.maxBody) {
          failed = true;
          chunks.length = 0;
          req.pause();
          reject(new AgentError(413, 'E2BIG', `body exceeds the ${this.maxBody}-byte limit`));
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => {
        if (failed) return;
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch (e) {
          reject(new AgentError(400, 'EINVAL', `body is not JSON: ${(e as Error).message}`));
        }
      });
      req.on('error', (e) => reject(new AgentError(400, 'EIO', `reading the body: ${e.message}`)));
    });
  }

  // ---- operations ------------------------------------------------------------------------

  index() {
    return {
      api: 'v1' as const,
      version: this.opts.version ?? '0',
      openapi: '/v1/openapi.json',
      resources: Object.fromEntries(ROUTES.filter((r) => r.path !== '/v1').map((r) => [r.operationId, `${r.method} ${r.path}`])),
    };
  }

  openapi(): unknown {
    this.doc ??= openapiDocument(this.opts.version ?? '0', this.opts.token !== undefined);
    return this.doc;
  }

  machine(id: string): Entry {
    const e = this.machines.get(id);
    if (!e) throw new AgentError(404, 'ENOENT', `no machine ${JSON.stringify(id)} (have: ${[...this.machines.keys()].join(', ') || 'none'})`);
    return e;
  }

  create(b: CreateBody): Entry {
    if (this.machines.size >= this.maxMachines) throw new AgentError(507, 'ENOSPC', `${this.maxMachines} machines exist (limit); destroy one first`);
    let t: Topology;
    try {
      t = b.host !== undefined ? loadBuiltinHost(b.host) : topologyFromJSON(b.topology, 'body.topology');
      if (b.kconfig) t = withKconfig(t, b.kconfig, 'body.kconfig');
    } catch (err) {
      if (err instanceof TopologyError) throw new AgentError(400, 'EINVAL', err.message);
      throw err;
    }
    let m: Machine;
    try {
      m = createMachine(t, { kernel: b.kernel, plugins: this.opts.plugins ?? [] });
    } catch (err) {
      throw new AgentError(400, 'EINVAL', `body.kernel: ${(err as Error).message}`);
    }
    return this.add(`m${this.nextId++}`, m);
  }

  destroy(id: string) {
    const e = this.machine(id);
    this.closeContainers(e);
    this.machines.delete(e.id);
    return { deleted: e.id };
  }

  readPath(id: string, p: string | null) {
    const e = this.machine(id);
    if (!p || !p.startsWith('/')) throw new AgentError(400, 'EINVAL', 'query parameter path= must be an absolute path');
    return fileJson(e.m, p);
  }

  writePath(id: string, b: WriteBody) {
    const m = this.machine(id).m;
    const data = b.base64 ? Buffer.from(b.data, 'base64') : Buffer.from(b.data, 'utf8');
    // open(O_WRONLY), one write(2), close: the attribute's store runs once, as from a C program.
    return { path: b.path, written: must(tryWriteAttr(m.sys, b.path, data), `write ${b.path}`) };
  }

  private containerEntry(id: string, cid: string): [Entry, ContainerEntry] {
    const e = this.machine(id);
    const c = e.containers.get(cid);
    if (!c) throw new AgentError(404, 'ENOENT', `no container ${JSON.stringify(cid)} on machine ${e.id} (have: ${[...e.containers.keys()].join(', ') || 'none'})`);
    return [e, c];
  }

  openContainer(id: string) {
    const e = this.machine(id);
    const c = vfio.openContainer(e.m);
    const ent: ContainerEntry = { id: `c${e.nextContainer++}`, c, groups: [], mappings: [] };
    e.containers.set(ent.id, ent);
    return containerJson(e, ent);
  }

  container(id: string, cid: string) {
    const [e, c] = this.containerEntry(id, cid);
    return containerJson(e, c);
  }

  closeContainer(id: string, cid: string) {
    const [e, c] = this.containerEntry(id, cid);
    closeContainer(e, c);
    e.containers.delete(cid);
    return { deleted: cid };
  }

  attach(id: string, cid: string, group: number) {
    const [e, ent] = this.containerEntry(id, cid);
    const g = vfio.openGroup(e.m, group);
    try {
      g.setContainer(ent.c);
      if (!ent.groups.length) ent.c.setIommu();
    } catch (err) {
      tryClose(g);
      throw err;
    }
    ent.groups.push({ id: group, g });
    return containerJson(e, ent);
  }

  map(id: string, cid: string, b: MapBody) {
    const [e, ent] = this.containerEntry(id, cid);
    const iova = u64In(b.iova, 'iova');
    const size = u64In(b.size, 'size');
    const owned = b.vaddr === undefined;
    const vaddr = owned ? e.m.mem.mmap(size === 0n ? 1n : size) : u64In(b.vaddr!, 'vaddr');
    try {
      ent.c.map({ iova, size, vaddr });
    } catch (err) {
      if (owned) e.m.mem.munmap(vaddr, size === 0n ? 1n : size);
      throw err;
    }
    ent.mappings.push({ iova, size, vaddr, owned });
    return { iova: u64Json(iova), size: u64Json(size), vaddr: u64Json(vaddr) };
  }

  unmap(id: string, cid: string, b: UnmapBody) {
    const [e, ent] = this.containerEntry(id, cid);
    let n: bigint;
    let gone: (x: Mapping) => boolean;
    if (b.all) {
      n = ent.c.unmapAll();
      gone = () => true;
    } else {
      const iova = u64In(b.iova!, 'iova');
      const size = u64In(b.size!, 'size');
      n = ent.c.unmap({ iova, size });
      // type1 v2 unmaps whole mappings only: the ones inside the range are gone.
      gone = (x) => x.iova >= iova && x.iova + x.size <= iova + size;
    }
    ent.mappings = ent.mappings.filter((x) => {
      if (!gone(x)) return true;
      if (x.owned) e.m.mem.munmap(x.vaddr, x.size);
      return false;
    });
    return { unmapped: u64Json(n) };
  }

  private closeContainers(e: Entry): void {
    for (const c of e.containers.values()) closeContainer(e, c);
    e.containers.clear();
  }
}

function closeContainer(e: Entry, c: ContainerEntry): void {
  for (const g of c.groups) tryClose(g.g);
  tryClose(c.c);
  for (const x of c.mappings) if (x.owned) e.m.mem.munmap(x.vaddr, x.size);
  c.mappings = [];
}

function tryClose(h: { close(): void }): void {
  try {
    h.close();
  } catch {
    // Already closed with its machine.
  }
}

function missingBody(): never {
  throw new AgentError(400, 'EINVAL', 'body: required (a JSON document, Content-Type: application/json)');
}

function errorReply(e: unknown): [number, unknown] {
  const reply = (status: number, code: string, message: string): [number, unknown] => [status, { error: { code, errno: errnoNumber(code as Errno) ?? null, message } }];
  if (e instanceof AgentError) return reply(e.status, e.code, e.message);
  if (isKernelError(e)) {
    const k = e as KernelError;
    return reply(STATUS[k.code as Errno] ?? 422, k.code, k.message);
  }
  const ne = e as NodeJS.ErrnoException;
  if (ne && typeof ne.code === 'string' && ne.code in ERRNO) return reply(STATUS[ne.code as Errno] ?? 422, ne.code, ne.message);
  return reply(500, 'EIO', `internal error: ${(e as Error)?.message ?? String(e)}`);
}

function machineJson(e: Entry) {
  return {
    id: e.id,
    host: e.m.topology.name,
    kernel: e.m.kernel.release,
    arch: e.m.topology.arch,
    created: e.created,
    iommus: e.m.host.units.map((u) => ({ name: u.name, driver: u.driver })),
    group_count: e.m.host.groups().length,
  };
}

/** `GET …/iommufd/groups/:group`: what `iommu-emu vfio-info --iommufd --json` prints. */
function iommufdGroupInfo(m: Machine, group: string) {
  if (!/^\d{1,7}$/.test(group)) throw new AgentError(400, 'EINVAL', `group ${JSON.stringify(group)}: expected a group number`);
  if (!m.fs.existsSync('/dev/iommu')) throw new AgentError(404, 'ENODEV', `machine has no /dev/iommu: create it with kconfig {"CONFIG_IOMMUFD": true} on a kernel with iommufd (6.2+)`);
  return iommufdGroupJson(iommufdInfo(m, Number(group)));
}

function containerJson(e: Entry, c: ContainerEntry) {
  return {
    id: c.id,
    machine: e.id,
    api_version: c.c.apiVersion(),
    groups: c.groups.map((g) => g.id),
    iommu: c.groups.length ? vfioIommuInfoJson(e.m, c.c.info()) : null,
  };
}

// ---- the OpenAPI document --------------------------------------------------------------------

/** `$ref`s between the schema files become references into components.schemas. */
function componentsOf(): Record<string, unknown> {
  const rewrite = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(rewrite);
    if (v && typeof v === 'object') {
      const o: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) o[k] = k === '$ref' && typeof x === 'string' ? `#/components/schemas/${x.split('/').pop()}` : rewrite(x);
      return o;
    }
    return v;
  };
  const out: Record<string, unknown> = {};
  for (const s of [COMMON_SCHEMA, AGENT_SCHEMA] as JsonSchema[])
    for (const [k, d] of Object.entries(s.$defs ?? {})) {
      if (k in out) throw new Error(`schema definition ${k} is defined twice`);
      out[k] = rewrite(d);
    }
  return out;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'bad request: a body or parameter fails its schema, or the kernel said EINVAL/EFAULT/ENOTTY',
  401: 'missing or wrong token',
  403: 'refused: Host not this agent, a browser Origin, or the kernel said EACCES/EPERM',
  404: 'no such machine, container, endpoint or path (ENOENT/ENODEV)',
  405: 'method not allowed here',
  409: 'EBUSY / EEXIST',
  413: 'body too large',
  415: 'the body is not application/json',
  507: 'a limit was reached (machines, ENOSPC, ENOMEM)',
};

export function openapiDocument(version: string, token: boolean): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const schemaRef = (name: string) => ({ $ref: `#/components/schemas/${name}` });
  const err = { description: '', content: { 'application/json': { schema: schemaRef('error') } } };
  for (const r of ROUTES) {
    const params = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    for (const [name, description] of Object.entries(r.query ?? {})) params.push({ name, in: 'query', required: true, schema: { type: 'string' }, description } as never);
    const responses: Record<string, unknown> = {
      [String(r.status ?? 200)]: {
        description: r.summary,
        content: { 'application/json': { schema: r.response ? schemaRef(r.response) : { type: 'object', description: 'an OpenAPI 3.1 document' } } },
      },
    };
    const codes = [400, ...(token ? [401] : []), 403, ...(r.path.includes('{') ? [404] : []), ...(r.body ? [413, 415] : []), ...(r.errors ?? [])];
    for (const c of [...new Set(codes)].sort()) responses[String(c)] = { ...err, description: STATUS_TEXT[c] ?? 'error' };
    (paths[r.path] ??= {})[r.method.toLowerCase()] = {
      operationId: r.operationId,
      summary: r.summary,
      ...(params.length ? { parameters: params } : {}),
      ...(r.body
        ? {
            requestBody: {
              required: r.body !== 'open_container',
              content: { 'application/json': { schema: schemaRef(r.body) } },
            },
          }
        : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'iommu-emu agent',
      version,
      description: 'Emulated Linux machines (IOMMU reserved-region sysfs ABI, VFIO type1) over HTTP. Errors carry the errno name and number. u64 values: send "0x…"/decimal strings or JSON numbers up to 2^53-1; replies give 0x + 16 hex digits.',
      license: { name: 'GPL-2.0-only', identifier: 'GPL-2.0-only' },
    },
    paths,
    components: {
      schemas: componentsOf(),
      ...(token ? { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } } : {}),
    },
    ...(token ? { security: [{ bearer: [] }] } : {}),
  };
}

export { ref as schemaRefOf };
