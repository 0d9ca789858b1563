// SPDX-License-Identifier: GPL-2.0-only
/** A typed client of the HTTP agent (global fetch). Errors come back as AgentClientError with the errno. */

export interface HostEntry {
  readonly name: string;
  readonly kernel: string;
  readonly arch: string;
  readonly iommus: string[];
  readonly devices: number;
  readonly description: string;
}
export interface MachineEntry {
  readonly id: string;
  readonly host: string;
  readonly kernel: string;
  readonly arch: string;
  readonly created: string;
  readonly groups: number;
}
export type FileEntry =
  | { readonly path: string; readonly kind: 'file'; readonly mode: number; readonly size: number; readonly text?: string; readonly base64?: string }
  | { readonly path: string; readonly kind: 'dir'; readonly mode: number; readonly entries: string[] }
  | { readonly path: string; readonly kind: 'link'; readonly target: string };
export interface RangeEntry {
  readonly start: string;
  readonly last: string;
}
export interface GroupEntry {
  readonly id: number;
  readonly type: string | null;
  readonly name: string | null;
  readonly devices: { bdf: string; driver: string | null; iommu: string | null }[];
  readonly reserved: (RangeEntry & { type: string })[];
  readonly usable: RangeEntry[];
  readonly vfio: boolean;
}
export interface ContainerInfo {
  readonly container: string;
  readonly groups: number[];
  readonly iommu: { iovaPgsizes: string; iovaRanges: RangeEntry[]; dmaAvail: number | null } | null;
}

/** `GET …/iommufd/groups/:group`: the group's cdevs bound and attached to a fresh IOAS. */
export interface IommufdGroupInfo {
  readonly group: number;
  readonly devices: { bdf: string; cdev: string; devid: number }[];
  readonly ioas: number;
  readonly hwpt: number;
  readonly alignment: string;
  readonly iovaRanges: RangeEntry[];
  readonly groupUsableIova: RangeEntry[];
  readonly matchesGroupUsableIova: boolean;
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

const hexArg = (x: bigint | number | string) => (typeof x === 'string' ? x : `0x${x.toString(16)}`);

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

  hosts(): Promise<HostEntry[]> {
    return this.call<{ hosts: HostEntry[] }>('GET', '/v1/hosts').then((r) => r.hosts);
  }
  machines(): Promise<MachineEntry[]> {
    return this.call<{ machines: MachineEntry[] }>('GET', '/v1/machines').then((r) => r.machines);
  }
  machine(id: string): Promise<MachineEntry> {
    return this.call('GET', `/v1/machines/${encodeURIComponent(id)}`);
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
    return this.call('DELETE', `/v1/machines/${encodeURIComponent(id)}`);
  }
  stat(id: string, path: string): Promise<FileEntry> {
    return this.call('GET', `/v1/machines/${encodeURIComponent(id)}/file?path=${encodeURIComponent(path)}`);
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
    return this.call('PUT', `/v1/machines/${encodeURIComponent(id)}/file`, body);
  }
  groups(id: string): Promise<GroupEntry[]> {
    return this.call<{ groups: GroupEntry[] }>('GET', `/v1/machines/${encodeURIComponent(id)}/groups`).then((r) => r.groups);
  }
  openContainer(id: string): Promise<{ container: string; apiVersion: number }> {
    return this.call('POST', `/v1/machines/${encodeURIComponent(id)}/vfio/containers`, {});
  }
  attachGroup(id: string, container: string, group: number): Promise<{ container: string; groups: number[] }> {
    return this.call('POST', `/v1/machines/${encodeURIComponent(id)}/vfio/containers/${encodeURIComponent(container)}/groups`, { group });
  }
  containerInfo(id: string, container: string): Promise<ContainerInfo> {
    return this.call('GET', `/v1/machines/${encodeURIComponent(id)}/vfio/containers/${encodeURIComponent(container)}`);
  }
  map(id: string, container: string, a: { iova: bigint | number | string; size: bigint | number | string; vaddr?: bigint | number | string }): Promise<{ iova: string; size: string; vaddr: string }> {
    return this.call('POST', `/v1/machines/${encodeURIComponent(id)}/vfio/containers/${encodeURIComponent(container)}/map`, {
      iova: hexArg(a.iova),
      size: hexArg(a.size),
      ...(a.vaddr !== undefined ? { vaddr: hexArg(a.vaddr) } : {}),
    });
  }
  unmap(id: string, container: string, a: { iova: bigint | number | string; size: bigint | number | string } | 'all'): Promise<{ unmapped: string }> {
    const body = a === 'all' ? { all: true } : { iova: hexArg(a.iova), size: hexArg(a.size) };
    return this.call('POST', `/v1/machines/${encodeURIComponent(id)}/vfio/containers/${encodeURIComponent(container)}/unmap`, body);
  }
  /** The IOVA ranges an iommufd attach of `group` produces (a machine created with CONFIG_IOMMUFD). */
  iommufdGroupInfo(id: string, group: number): Promise<IommufdGroupInfo> {
    return this.call('GET', `/v1/machines/${encodeURIComponent(id)}/iommufd/groups/${group}`);
  }
  closeContainer(id: string, container: string): Promise<{ deleted: string }> {
    return this.call('DELETE', `/v1/machines/${encodeURIComponent(id)}/vfio/containers/${encodeURIComponent(container)}`);
  }
}
