// SPDX-License-Identifier: GPL-2.0-only
/**
 * A typed client of the HTTP agent (global fetch). Errors come back as AgentClientError with the
 * errno. The shapes are lib/schemas' (common.schema.json, agent.schema.json).
 */
import type { FileJson, GroupJson, HostJson, MachineReport, RangeJson, VfioIommuInfoJson } from '../report';

export interface MachineEntry {
  readonly id: string;
  readonly host: string;
  readonly kernel: string;
  readonly arch: string;
  readonly created: string;
  readonly iommus: { name: string; driver: string }[];
  readonly group_count: number;
}
export interface ContainerEntry {
  readonly id: string;
  readonly machine: string;
  readonly api_version: number;
  readonly groups: number[];
  readonly iommu: VfioIommuInfoJson | null;
}
export interface MappingEntry {
  readonly iova: string;
  readonly size: string;
  readonly vaddr: string;
}

/** `GET …/iommufd/groups/:group`: the group's cdevs bound and attached to a fresh IOAS. */
export interface IommufdGroupInfo {
  readonly group: number;
  readonly devices: { bdf: string; cdev: string; devid: number }[];
  readonly ioas: number;
  readonly hwpt: number;
  readonly alignment: string;
  readonly iova_ranges: RangeJson[];
  readonly group_usable_iova: RangeJson[];
  readonly matches_group_usable_iova: boolean;
}

export class AgentClientError extends Error {
  override readonly name = 'AgentClientError';
  constructor(
    readonly status: number,
    /** Errno name (`EINVAL`), or `ECONNREFUSED`-style for transport failures. */
    readonly code: string,
    readonly errno: number | null,
    message: string,
  ) {
    super(message);
  }
}

export interface AgentClientOptions {
  readonly token?: string;
  /** Per-request timeout in ms (default 30 s). */
  readonly timeout?: number;
}

type U64Arg = bigint | number | string;
const hexArg = (x: U64Arg) => (typeof x === 'string' ? x : `0x${x.toString(16)}`);
const seg = encodeURIComponent;

export class AgentClient {
  readonly base: string;
  constructor(
    baseUrl: string,
    private readonly opts: AgentClientOptions = {},
  ) {
    let u: URL;
    try {
      u = new URL(baseUrl);
    } catch {
      throw new AgentClientError(0, 'EINVAL', null, `agent URL ${JSON.stringify(baseUrl)} is not a URL (e.g. http://127.0.0.1:7070)`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new AgentClientError(0, 'EINVAL', null, `agent URL must be http(s): ${baseUrl}`);
    this.base = u.toString().replace(/\/$/, '');
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (this.opts.token) headers.Authorization = `Bearer ${this.opts.token}`;
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.opts.timeout ?? 30_000),
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause;
      const code = cause?.code ?? ((e as Error).name === 'TimeoutError' ? 'ETIMEDOUT' : 'EIO');
      throw new AgentClientError(0, code, null, `agent ${this.base}: ${method} ${path}: ${cause?.code ?? (e as Error).message}`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      throw new AgentClientError(res.status, 'EPROTO', null, `agent ${this.base}: ${method} ${path}: HTTP ${res.status}, not JSON: ${text.slice(0, 80)}`);
    }
    if (!res.ok) {
      const err = (json as { error?: { code?: string; errno?: number; message?: string } } | undefined)?.error;
      throw new AgentClientError(res.status, err?.code ?? 'EIO', err?.errno ?? null, err?.message ?? `HTTP ${res.status}`);
    }
    return json as T;
  }

  index(): Promise<{ api: 'v1'; version: string; openapi: string; resources: Record<string, string> }> {
    return this.call('GET', '/v1');
  }
  openapi(): Promise<Record<string, unknown>> {
    return this.call('GET', '/v1/openapi.json');
  }
  hosts(): Promise<HostJson[]> {
    return this.call<{ hosts: HostJson[] }>('GET', '/v1/hosts').then((r) => r.hosts);
  }
  machines(): Promise<MachineEntry[]> {
    return this.call<{ machines: MachineEntry[] }>('GET', '/v1/machines').then((r) => r.machines);
  }
  machine(id: string): Promise<MachineEntry> {
    return this.call('GET', `/v1/machines/${seg(id)}`);
  }
  /**
   * A built-in host by name, or a topology document (the JSON shape of a topology file);
   * `kconfig` builds it with those options (`{ CONFIG_IOMMUFD: true }`).
   */
  createMachine(
    a: ({ host: string } | { topology: Record<string, unknown> }) & { kernel?: string; kconfig?: Record<string, boolean> },
  ): Promise<MachineEntry> {
    return this.call('POST', '/v1/machines', a);
  }
  destroyMachine(id: string): Promise<{ deleted: string }> {
    return this.call('DELETE', `/v1/machines/${seg(id)}`);
  }
  /** What `iommu-emu show --json` prints for the machine. */
  report(id: string): Promise<MachineReport> {
    return this.call('GET', `/v1/machines/${seg(id)}/report`);
  }
  stat(id: string, path: string): Promise<FileJson> {
    return this.call('GET', `/v1/machines/${seg(id)}/file?path=${seg(path)}`);
  }
  /** File bytes as read(2) returns them. */
  async readFile(id: string, path: string): Promise<Buffer> {
    const e = await this.stat(id, path);
    if (e.kind !== 'file') throw new AgentClientError(400, e.kind === 'dir' ? 'EISDIR' : 'EINVAL', null, `${path}: is a ${e.kind}`);
    return e.text !== undefined ? Buffer.from(e.text, 'utf8') : Buffer.from(e.base64 ?? '', 'base64');
  }
  /** write(2) to an attribute: its store runs; a refusal throws with the errno. */
  writeFile(id: string, path: string, data: string | Uint8Array): Promise<{ path: string; written: number }> {
    const body = typeof data === 'string' ? { path, data } : { path, data: Buffer.from(data).toString('base64'), base64: true };
    return this.call('PUT', `/v1/machines/${seg(id)}/file`, body);
  }
  groups(id: string): Promise<GroupJson[]> {
    return this.call<{ groups: GroupJson[] }>('GET', `/v1/machines/${seg(id)}/groups`).then((r) => r.groups);
  }
  containers(id: string): Promise<ContainerEntry[]> {
    return this.call<{ containers: ContainerEntry[] }>('GET', `/v1/machines/${seg(id)}/vfio/containers`).then((r) => r.containers);
  }
  openContainer(id: string): Promise<ContainerEntry> {
    return this.call('POST', `/v1/machines/${seg(id)}/vfio/containers`, {});
  }
  attachGroup(id: string, container: string, group: number): Promise<ContainerEntry> {
    return this.call('POST', `/v1/machines/${seg(id)}/vfio/containers/${seg(container)}/groups`, { group });
  }
  container(id: string, container: string): Promise<ContainerEntry> {
    return this.call('GET', `/v1/machines/${seg(id)}/vfio/containers/${seg(container)}`);
  }
  map(id: string, container: string, a: { iova: U64Arg; size: U64Arg; vaddr?: U64Arg }): Promise<MappingEntry> {
    return this.call('POST', `/v1/machines/${seg(id)}/vfio/containers/${seg(container)}/map`, {
      iova: hexArg(a.iova),
      size: hexArg(a.size),
      ...(a.vaddr !== undefined ? { vaddr: hexArg(a.vaddr) } : {}),
    });
  }
  unmap(id: string, container: string, a: { iova: U64Arg; size: U64Arg } | 'all'): Promise<{ unmapped: string }> {
    const body = a === 'all' ? { all: true } : { iova: hexArg(a.iova), size: hexArg(a.size) };
    return this.call('POST', `/v1/machines/${seg(id)}/vfio/containers/${seg(container)}/unmap`, body);
  }
  /** The IOVA ranges an iommufd attach of `group` produces (a machine created with CONFIG_IOMMUFD). */
  iommufdGroupInfo(id: string, group: number): Promise<IommufdGroupInfo> {
    return this.call('GET', `/v1/machines/${seg(id)}/iommufd/groups/${group}`);
  }
  closeContainer(id: string, container: string): Promise<{ deleted: string }> {
    return this.call('DELETE', `/v1/machines/${seg(id)}/vfio/containers/${seg(container)}`);
  }
}
