// SPDX-License-Identifier: GPL-2.0-only
/**
 * The HTTP agent: a small JSON API over emulated machines for test suites in other languages.
 * node:http only. Bodies are size-limited, must be JSON, and are schema-checked (ajv); every
 * error is `{error: {code, errno, message}}` with the kernel's errno name and a fitting status.
 * A token, when set, is checked on every request; a non-loopback listener requires one.
 *
 *   GET    /v1/hosts                               built-in hosts
 *   GET    /v1/machines                            machines
 *   POST   /v1/machines            {host|topology, kernel?, kconfig?}   kconfig: {CONFIG_IOMMUFD: true, …}
 *   DELETE /v1/machines/:id
 *   GET    /v1/machines/:id/file?path=/sys/…        file (text|base64), dir (entries), link (target)
 *   PUT    /v1/machines/:id/file   {path, data}      write(2): the attribute's store and its errno
 *   GET    /v1/machines/:id/groups                 groups, reserved and usable IOVA ranges
 *   POST   /v1/machines/:id/vfio/containers                        open /dev/vfio/vfio
 *   GET    /v1/machines/:id/vfio/containers/:cid                   VFIO_IOMMU_GET_INFO
 *   POST   /v1/machines/:id/vfio/containers/:cid/groups {group}    attach (+ SET_IOMMU type1v2)
 *   POST   /v1/machines/:id/vfio/containers/:cid/map {iova, size, vaddr?}
 *   POST   /v1/machines/:id/vfio/containers/:cid/unmap {iova, size} | {all: true}
 *   DELETE /v1/machines/:id/vfio/containers/:cid
 *   GET    /v1/machines/:id/iommufd/groups/:group   the group's cdevs bound to /dev/iommu and attached to
 *                                                  a fresh IOAS: IOAS_IOVA_RANGES, alignment, the IOMMU
 *                                                  core's usable IOVA (a kernel with CONFIG_IOMMUFD)
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import Ajv from 'ajv';
import { ERRNO, errnoName, errnoNumber, isKernelError, kerr } from '../errno';
import type { Errno } from '../errno';
import { builtinHostNames, loadBuiltinHost } from '../hosts';
import { Machine, createMachine } from '../machine';
import { TopologyError, topologyFromJSON } from '../topology/topology';
import type { Topology } from '../topology/topology';
import { O_RDONLY, O_WRONLY } from '../uapi/fcntl';
import { IovaRange, hex64 } from '../model/iova';
import { RESV_TYPE_STRING } from '../model/resv_region';
import { VfioContainerHandle, VfioGroupHandle, vfio } from '../user/vfio';
import { iommufdInfo } from '../user/iommufd';
import type { KernelError } from '../errno';

export interface AgentOptions {
  /** Required for any non-loopback listener; checked on every request when set. */
  readonly token?: string;
  /** Request body limit in bytes (default 1 MiB). */
  readonly maxBody?: number;
  /** Machines alive at once (default 64). */
  readonly maxMachines?: number;
  /** A machine created at start under the id `default`. */
  readonly defaultHost?: Topology;
  readonly defaultKernel?: string;
}

export class AgentError extends Error {
  override readonly name = 'AgentError';
  constructor(
    readonly status: number,
    readonly code: Errno,
    message: string,
  ) {
    super(message);
  }
}

interface Entry {
  readonly id: string;
  readonly m: Machine;
  readonly created: string;
  readonly containers: Map<string, { c: VfioContainerHandle; groups: { id: number; g: VfioGroupHandle }[] }>;
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
};

const u64 = { type: 'string', pattern: '^(0x[0-9a-fA-F]{1,16}|[0-9]{1,20})$' } as const;
const SCHEMAS = {
  create: {
    type: 'object',
    additionalProperties: false,
    properties: {
      host: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]*$' },
      topology: { type: 'object' },
      kernel: { type: 'string', maxLength: 64 },
      kconfig: { type: 'object', maxProperties: 32, propertyNames: { pattern: '^CONFIG_[A-Z0-9_]{1,64}$' }, additionalProperties: { type: 'boolean' } },
    },
    oneOf: [{ required: ['host'] }, { required: ['topology'] }],
  },
  write: {
    type: 'object',
    additionalProperties: false,
    required: ['path', 'data'],
    properties: { path: { type: 'string', pattern: '^/', maxLength: 4096 }, data: { type: 'string', maxLength: 1 << 20 }, base64: { type: 'boolean' } },
  },
  attach: { type: 'object', additionalProperties: false, required: ['group'], properties: { group: { type: 'integer', minimum: 0, maximum: 1 << 20 } } },
  map: { type: 'object', additionalProperties: false, required: ['iova', 'size'], properties: { iova: u64, size: u64, vaddr: u64 } },
  unmap: {
    type: 'object',
    additionalProperties: false,
    properties: { iova: u64, size: u64, all: { const: true } },
    oneOf: [{ required: ['iova', 'size'] }, { required: ['all'] }],
  },
} as const;

type Validators = Record<keyof typeof SCHEMAS, ReturnType<Ajv['compile']>>;
let validators: Validators | undefined;

function check<T>(kind: keyof typeof SCHEMAS, body: unknown): T {
  // Compiled on first use: a pure function of the schemas above. oneOf branches name required
  // properties declared one level up, which strictRequired would reject.
  if (!validators) {
    const ajv = new Ajv({ allErrors: false, strict: true, strictRequired: false });
    validators = Object.fromEntries(Object.entries(SCHEMAS).map(([k, s]) => [k, ajv.compile(s)])) as unknown as Validators;
  }
  const v = validators![kind];
  if (!v(body)) {
    const e = v.errors![0]!;
    const alts = (SCHEMAS[kind] as { oneOf?: readonly { required: readonly string[] }[] }).oneOf;
    if (alts && (e.schemaPath.startsWith('#/oneOf') || e.keyword === 'oneOf'))
      throw new AgentError(400, 'EINVAL', `body: needs exactly one of ${alts.map((a) => a.required.join('+')).join(' or ')}`);
    const where = `body${e.instancePath.replace(/\//g, '.')}`;
    const extra = e.keyword === 'additionalProperties' ? ` (${String((e.params as { additionalProperty: string }).additionalProperty)})` : '';
    throw new AgentError(400, 'EINVAL', `${where}: ${e.message ?? e.keyword}${extra}`);
  }
  return body as T;
}

const big = (s: string) => BigInt(s);
const hexOut = (x: bigint) => `0x${hex64(x)}`;
const rangeOut = (r: IovaRange) => ({ start: hexOut(r.start), last: hexOut(r.last) });
const isLoopback = (h: string) => h === '127.0.0.1' || h === '::1' || h === 'localhost' || /^127\./.test(h);

export class Agent {
  private readonly machines = new Map<string, Entry>();
  private nextId = 1;
  readonly server: http.Server;
  private readonly maxBody: number;
  private readonly maxMachines: number;

  constructor(private readonly opts: AgentOptions = {}) {
    this.maxBody = opts.maxBody ?? 1 << 20;
    this.maxMachines = opts.maxMachines ?? 64;
    if (opts.defaultHost) this.add('default', createMachine(opts.defaultHost, { kernel: opts.defaultKernel }));
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 5_000;
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 30_000;
  }

  /** Listen; a non-loopback address without a token is refused. Resolves to the bound URL. */
  listen(port = 0, host = '127.0.0.1'): Promise<string> {
    if (!isLoopback(host) && !this.opts.token)
      return Promise.reject(new AgentError(403, 'EACCES', `listening on ${host} (not loopback) requires a token (--token or IOMMU_EMU_AGENT_TOKEN)`));
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const a = this.server.address() as AddressInfo;
        resolve(`http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`);
      });
    });
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

  private add(id: string, m: Machine): Entry {
    const e: Entry = { id, m, created: new Date().toISOString(), containers: new Map(), nextContainer: 1 };
    this.machines.set(id, e);
    return e;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let status = 200;
    let out: unknown;
    try {
      this.authorize(req);
      const url = new URL(req.url ?? '/', 'http://agent');
      const body = req.method === 'POST' || req.method === 'PUT' ? await this.body(req) : undefined;
      [status, out] = this.route(req.method ?? 'GET', url, body);
    } catch (e) {
      [status, out] = errorReply(e);
      // Drain nothing more: a refused body must not be buffered.
      if (status === 413 || status === 401) res.setHeader('Connection', 'close');
    }
    const text = JSON.stringify(out);
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
    res.end(text);
  }

  private authorize(req: http.IncomingMessage): void {
    const token = this.opts.token;
    if (!token) return;
    const got = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    const a = Buffer.from(got);
    const b = Buffer.from(token);
    if (a.length !== b.length || !timingSafeEqual(a, b)) throw new AgentError(401, 'EACCES', 'missing or wrong token (Authorization: Bearer …)');
  }

  private body(req: http.IncomingMessage): Promise<unknown> {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
    if (type !== 'application/json') return Promise.reject(new AgentError(415, 'EINVAL', `Content-Type must be application/json (got ${JSON.stringify(type || 'none')})`));
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > this.maxBody) {
      req.resume();
      return Promise.reject(new AgentError(413, 'E2BIG', `body of ${declared} bytes exceeds the ${this.maxBody}-byte limit`));
    }
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

  private machine(id: string): Entry {
    const e = this.machines.get(id);
    if (!e) throw new AgentError(404, 'ENOENT', `no machine ${JSON.stringify(id)} (have: ${[...this.machines.keys()].join(', ') || 'none'})`);
    return e;
  }

  private route(method: string, url: URL, body: unknown): [number, unknown] {
    const p = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const allow = (...ms: string[]) => {
      if (!ms.includes(method)) throw new AgentError(405, 'EOPNOTSUPP', `${method} not allowed on ${url.pathname} (allowed: ${ms.join(', ')})`);
    };
    if (p[0] !== 'v1') throw new AgentError(404, 'ENOENT', `no such endpoint ${url.pathname} (the API is under /v1)`);
    if (p.length === 2 && p[1] === 'hosts') {
      allow('GET');
      return [200, { hosts: builtinHostNames().map((name) => hostInfo(name)) }];
    }
    if (p[1] !== 'machines') throw new AgentError(404, 'ENOENT', `no such endpoint ${url.pathname}`);
    if (p.length === 2) {
      allow('GET', 'POST');
      if (method === 'GET') return [200, { machines: [...this.machines.values()].map(machineInfo) }];
      return [201, machineInfo(this.create(check('create', body)))];
    }
    const e = this.machine(p[2]!);
    if (p.length === 3) {
      allow('GET', 'DELETE');
      if (method === 'GET') return [200, machineInfo(e)];
      this.closeContainers(e);
      this.machines.delete(e.id);
      return [200, { deleted: e.id }];
    }
    switch (p[3]) {
      case 'file':
        if (p.length !== 4) break;
        allow('GET', 'PUT');
        if (method === 'GET') return [200, readPath(e.m, url.searchParams.get('path'))];
        return [200, writePath(e.m, check('write', body))];
      case 'groups':
        if (p.length !== 4) break;
        allow('GET');
        return [200, { groups: groupsOf(e.m) }];
      case 'vfio':
        if (p[4] === 'containers') return this.vfioRoute(method, e, p.slice(5), body, allow);
        break;
      case 'iommufd':
        if (p.length !== 6 || p[4] !== 'groups') break;
        allow('GET');
        return [200, iommufdGroupInfo(e.m, p[5]!)];
    }
    throw new AgentError(404, 'ENOENT', `no such endpoint ${url.pathname}`);
  }

  private create(b: { host?: string; topology?: Record<string, unknown>; kernel?: string; kconfig?: Record<string, boolean> }): Entry {
    if (this.machines.size >= this.maxMachines) throw new AgentError(507, 'ENOSPC', `${this.maxMachines} machines exist (limit); destroy one first`);
    let t: Topology;
    try {
      t = b.host !== undefined ? loadBuiltinHost(b.host) : topologyFromJSON(b.topology, 'body.topology');
      if (b.kconfig) {
        const src = t.source as Record<string, unknown> & { kconfig?: Record<string, boolean> };
        t = topologyFromJSON({ ...src, kconfig: { ...(src.kconfig ?? {}), ...b.kconfig } }, 'body.kconfig');
      }
    } catch (err) {
      if (err instanceof TopologyError) throw new AgentError(400, 'EINVAL', err.message);
      throw err;
    }
    let m: Machine;
    try {
      m = createMachine(t, { kernel: b.kernel });
    } catch (err) {
      throw new AgentError(400, 'EINVAL', `body.kernel: ${(err as Error).message}`);
    }
    return this.add(`m${this.nextId++}`, m);
  }

  private closeContainers(e: Entry): void {
    for (const { c, groups } of e.containers.values()) {
      for (const g of groups) tryClose(g.g);
      tryClose(c);
    }
    e.containers.clear();
  }

  private vfioRoute(method: string, e: Entry, p: string[], body: unknown, allow: (...ms: string[]) => void): [number, unknown] {
    if (p.length === 0) {
      allow('POST', 'GET');
      if (method === 'GET') return [200, { containers: [...e.containers.keys()] }];
      const c = vfio.openContainer(e.m);
      const id = `c${e.nextContainer++}`;
      e.containers.set(id, { c, groups: [] });
      return [201, { container: id, apiVersion: c.apiVersion() }];
    }
    const ent = e.containers.get(p[0]!);
    if (!ent) throw new AgentError(404, 'ENOENT', `no container ${JSON.stringify(p[0])} on machine ${e.id}`);
    if (p.length === 1) {
      allow('GET', 'DELETE');
      if (method === 'DELETE') {
        for (const g of ent.groups) tryClose(g.g);
        tryClose(ent.c);
        e.containers.delete(p[0]!);
        return [200, { deleted: p[0] }];
      }
      if (!ent.groups.length) return [200, { container: p[0], groups: [], iommu: null }];
      const info = ent.c.info();
      return [
        200,
        {
          container: p[0],
          groups: ent.groups.map((g) => g.id),
          iommu: { iovaPgsizes: hexOut(info.iovaPgsizes), iovaRanges: (info.iovaRanges ?? []).map(rangeOut), dmaAvail: info.dmaAvail ?? null },
        },
      ];
    }
    allow('POST');
    switch (p[1]) {
      case 'groups': {
        const { group } = check<{ group: number }>('attach', body);
        const g = vfio.openGroup(e.m, group);
        try {
          g.setContainer(ent.c);
          if (!ent.groups.length) ent.c.setIommu();
        } catch (err) {
          tryClose(g);
          throw err;
        }
        ent.groups.push({ id: group, g });
        return [200, { container: p[0], groups: ent.groups.map((x) => x.id) }];
      }
      case 'map': {
        const a = check<{ iova: string; size: string; vaddr?: string }>('map', body);
        const size = big(a.size);
        const vaddr = a.vaddr !== undefined ? big(a.vaddr) : e.m.mem.mmap(size);
        ent.c.map({ iova: big(a.iova), size, vaddr });
        return [200, { iova: hexOut(big(a.iova)), size: hexOut(size), vaddr: hexOut(vaddr) }];
      }
      case 'unmap': {
        const a = check<{ iova?: string; size?: string; all?: true }>('unmap', body);
        const n = a.all ? ent.c.unmapAll() : ent.c.unmap({ iova: big(a.iova!), size: big(a.size!) });
        return [200, { unmapped: hexOut(n) }];
      }
    }
    throw new AgentError(404, 'ENOENT', `no such container operation ${JSON.stringify(p[1])}`);
  }
}

function tryClose(h: { close(): void }): void {
  try {
    h.close();
  } catch {
    // Already closed with its machine.
  }
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

/** `GET …/iommufd/groups/:group`: what `iommu-emu vfio-info --iommufd` prints, as JSON. */
function iommufdGroupInfo(m: Machine, group: string) {
  if (!/^\d{1,7}$/.test(group)) throw new AgentError(400, 'EINVAL', `group ${JSON.stringify(group)}: expected a group number`);
  if (!m.fs.existsSync('/dev/iommu')) throw new AgentError(404, 'ENODEV', `machine has no /dev/iommu: create it with kconfig {"CONFIG_IOMMUFD": true} on a kernel with iommufd (6.2+)`);
  const i = iommufdInfo(m, Number(group));
  const same = i.iovaRanges.length === i.groupUsableIova.length && i.iovaRanges.every((r, k) => r.start === i.groupUsableIova[k]!.start && r.last === i.groupUsableIova[k]!.last);
  return {
    group: i.group,
    devices: i.devices,
    ioas: i.ioas,
    hwpt: i.hwpt,
    alignment: hexOut(i.alignment),
    iovaRanges: i.iovaRanges.map(rangeOut),
    groupUsableIova: i.groupUsableIova.map(rangeOut),
    matchesGroupUsableIova: same,
  };
}

function hostInfo(name: string) {
  const t = loadBuiltinHost(name);
  return { name, kernel: t.kernel, arch: t.arch, iommus: t.iommus.map((u) => u.driver), devices: t.devices.length, description: t.description ?? '' };
}

function machineInfo(e: Entry) {
  return { id: e.id, host: e.m.topology.name, kernel: e.m.kernel.release, arch: e.m.topology.arch, created: e.created, groups: e.m.host.groups().length };
}

function readPath(m: Machine, p: string | null) {
  if (!p || !p.startsWith('/')) throw new AgentError(400, 'EINVAL', 'query parameter path= must be an absolute path');
  const st = m.fs.lstatSync(p);
  const mode = Number(st.mode) & 0o7777;
  if (st.isSymbolicLink()) return { path: p, kind: 'link', target: String(m.fs.readlinkSync(p)) };
  if (st.isDirectory()) return { path: p, kind: 'dir', mode, entries: (m.fs.readdirSync(p) as string[]).sort() };
  // Through the syscall boundary, so a read is what read(2) gives (permission checks included).
  const fd = m.sys.open(p, O_RDONLY);
  if (fd < 0) throw kerr(errnoOf(-fd), `open ${p}`);
  try {
    const chunks: Buffer[] = [];
    for (;;) {
      const b = Buffer.alloc(65536);
      const n = m.sys.read(fd, b);
      if (n < 0) throw kerr(errnoOf(-n), `read ${p}`);
      if (n === 0) break;
      chunks.push(b.subarray(0, n));
    }
    const data = Buffer.concat(chunks);
    const text = !data.includes(0) && Buffer.from(data.toString('utf8'), 'utf8').equals(data);
    return { path: p, kind: 'file', mode, size: data.length, ...(text ? { text: data.toString('utf8') } : { base64: data.toString('base64') }) };
  } finally {
    m.sys.close(fd);
  }
}

function writePath(m: Machine, b: { path: string; data: string; base64?: boolean }) {
  const data = b.base64 ? Buffer.from(b.data, 'base64') : Buffer.from(b.data, 'utf8');
  const fd = m.sys.open(b.path, O_WRONLY);
  if (fd < 0) throw kerr(errnoOf(-fd), `open ${b.path}`);
  try {
    const n = m.sys.write(fd, data);
    if (n < 0) throw kerr(errnoOf(-n), `write ${b.path}`);
    return { path: b.path, written: n };
  } finally {
    m.sys.close(fd);
  }
}

const errnoOf = (n: number): Errno => (errnoName(n) ?? 'EIO') as Errno;

/** Reserved regions as sysfs shows them, and what userspace can map (the IOMMU core's usable-IOVA computation). */
function groupsOf(m: Machine) {
  return m.host.groups().map((g) => {
    const resv = m.host.groupResvRegions(g);
    const usable = m.host.groupUsableIova(g);
    const typePath = `/sys/kernel/iommu_groups/${g.id}/type`;
    return {
      id: g.id,
      type: m.fs.existsSync(typePath) ? String(m.fs.readFileSync(typePath, 'utf8')).trim() : null,
      name: g.name ?? null,
      devices: g.devices.map((d) => ({ bdf: d.bdf, driver: d.driver, iommu: d.unit?.name ?? null })),
      reserved: resv.map((r) => ({ start: hexOut(r.start), last: hexOut(r.last), type: RESV_TYPE_STRING[r.type] })),
      usable: usable.map(rangeOut),
      vfio: m.fs.existsSync(`/dev/vfio/${g.id}`),
    };
  });
}
