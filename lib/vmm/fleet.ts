// SPDX-License-Identifier: GPL-2.0-only
/**
 * Hosts for the fleet tools: a built-in name, a topology or recorded file (`record --out`), a
 * host summary (`usable --json` saved from each host), or an HTTP agent. Files with the same
 * bytes are read once: a fleet is mostly identical machines.
 */
import { createHash } from 'node:crypto';
import { AgentClient } from '../agent/client';
import { HostFsError, readRegularFile } from '../hostfs';
import { MAX_TOPOLOGY_BYTES, builtinHostPath, isTopologyPath, loadBuiltinHost } from '../hosts';
import { TopologyError, parseTopology } from '../topology/topology';
import { HostView, hostViewOfAgent, hostViewOfTopology } from './host_view';
import { UsableJson, hostViewOfUsableJson } from './json';
import { vmmSchemaAjv } from './schemas';

export class FleetError extends Error {
  override readonly name = 'FleetError';
}

export interface FleetLoadOptions {
  /** Run every topology under this kernel instead of its own. */
  readonly kernel?: string | undefined;
  readonly maxBytes?: number | undefined;
  /** Content hash → view, shared across calls. */
  readonly cache?: Map<string, HostView> | undefined;
}

const isSummary = (doc: unknown): doc is UsableJson =>
  typeof doc === 'object' && doc !== null && !Array.isArray(doc) && 'usable_ranges' in doc && 'groups' in doc && 'host' in doc;

/** One host from a built-in name or a file. */
export function loadHost(spec: string, opts: FleetLoadOptions = {}): HostView {
  if (!isTopologyPath(spec) && builtinHostPath(spec)) return hostViewOfTopology(loadBuiltinHost(spec), spec, opts.kernel);
  if (!isTopologyPath(spec)) {
    // Surfaces the "no built-in host named …" error with the list.
    loadBuiltinHost(spec);
  }
  let bytes: Buffer;
  try {
    bytes = readRegularFile(spec, { maxBytes: opts.maxBytes ?? MAX_TOPOLOGY_BYTES, what: 'host file', raise: 'IOMMU_EMU_MAX_TOPOLOGY_BYTES=BYTES' });
  } catch (e) {
    if (e instanceof HostFsError) throw new FleetError(`${spec}: ${e.reason}`);
    throw e;
  }
  const key = `${opts.kernel ?? ''}:${createHash('sha1').update(bytes).digest('hex')}`;
  const hit = opts.cache?.get(key);
  if (hit) return { ...hit, source: spec };
  const text = bytes.toString('utf8');
  let view: HostView | undefined;
  if (/^\s*\{/.test(text)) {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      doc = undefined;
    }
    if (isSummary(doc)) {
      // Hosts of one kind differ only in their name: the groups are parsed and checked once.
      const sig = `${doc.kernel}:${doc.arch}:${createHash('sha1').update(JSON.stringify(doc.groups)).digest('hex')}`;
      const same = opts.cache?.get(`summary:${sig}`);
      if (same && typeof doc.host === 'string' && typeof doc.source === 'string' && !opts.kernel) {
        const v = { ...same, name: doc.host, source: spec };
        opts.cache?.set(key, v);
        return v;
      }
      const validate = vmmSchemaAjv().getSchema('https://iommu-emu/schemas/cli/usable.schema.json')!;
      if (!validate(doc)) throw new FleetError(`${spec}: not a valid host summary (usable --json): ${vmmSchemaAjv().errorsText(validate.errors, { dataVar: '' })}`);
      if (opts.kernel) throw new FleetError(`${spec}: a host summary (usable --json) was computed on kernel ${doc.kernel}; --kernel cannot rerun it (use the topology file)`);
      view = { ...hostViewOfUsableJson(doc, spec), signature: sig };
      opts.cache?.set(`summary:${sig}`, view);
    }
  }
  view ??= { ...hostViewOfTopology(parseTopology(text, { file: spec }), spec, opts.kernel), signature: `topology:${key}` };
  opts.cache?.set(key, view);
  return view;
}

export { TopologyError };

/** One host from an agent: its `default` machine (or `machine`). */
export async function loadAgentHost(url: string, opts: { token?: string | undefined; machine?: string | undefined } = {}): Promise<HostView> {
  const c = new AgentClient(url, { ...(opts.token ? { token: opts.token } : {}) });
  const id = opts.machine ?? 'default';
  const [m, groups] = await Promise.all([c.machine(id), c.groups(id)]);
  return hostViewOfAgent(`${c.base}#${id}`, m, groups);
}

/** Hosts from agents, a few requests in flight at a time; `progress(done, total)` after each. */
export async function loadAgentHosts(urls: readonly string[], opts: { token?: string | undefined; concurrency?: number; progress?: (done: number, total: number) => void } = {}): Promise<HostView[]> {
  const out: HostView[] = new Array(urls.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    for (let i = next++; i < urls.length; i = next++) {
      out[i] = await loadAgentHost(urls[i]!, opts);
      opts.progress?.(++done, urls.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 16, urls.length) }, worker));
  return out;
}
