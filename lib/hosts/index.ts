// SPDX-License-Identifier: GPL-2.0-only
/** Built-in hosts: topology files shipped beside this module, which users can copy and edit. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ByteLimit, HostFsError, readRegularTextFile } from '../hostfs';
import { Topology, TopologyError, parseTopology } from '../topology/topology';

export const DEFAULT_HOST = 'intel-vtd-server';

export function builtinHostNames(): string[] {
  return fs
    .readdirSync(__dirname)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -5))
    .sort();
}

export function builtinHostPath(name: string): string | undefined {
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(name)) return undefined;
  const p = path.join(__dirname, `${name}.yaml`);
  return fs.existsSync(p) ? p : undefined;
}

/**
 * Parsed built-in hosts, keyed by file and checked against its mtime and size: every
 * `createMachine('intel-vtd-server')` used to re-read, re-parse and re-validate the YAML. The
 * cached Topology is deeply frozen, so no caller can change what the next one gets.
 */
const builtinCache = new Map<string, { mtimeMs: number; size: number; topology: Topology }>();

function deepFreeze<T>(x: T): T {
  if (typeof x !== 'object' || x === null || Object.isFrozen(x) || ArrayBuffer.isView(x)) return x;
  for (const v of Object.values(x)) deepFreeze(v);
  return Object.freeze(x);
}

export function loadBuiltinHost(name: string): Topology {
  const p = builtinHostPath(name);
  if (!p)
    throw new TopologyError([
      { file: `<builtin:${name}>`, path: '', message: `no built-in host named ${JSON.stringify(name)} (have: ${builtinHostNames().join(', ')})` },
    ]);
  const st = fs.statSync(p);
  const hit = builtinCache.get(p);
  if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit.topology;
  const topology = deepFreeze(parseTopology(fs.readFileSync(p, 'utf8'), { file: p }));
  builtinCache.set(p, { mtimeMs: st.mtimeMs, size: st.size, topology });
  return topology;
}

/**
 * The largest topology file read (8 MiB; a recorded host with its config spaces, trailing zeros
 * trimmed, takes about 2 KiB per device). Parsing YAML costs some 35 times the text in memory,
 * so the cap bounds memory too.
 */
export const MAX_TOPOLOGY_BYTES = 8 << 20;

export interface LoadOptions {
  /** Size cap (default MAX_TOPOLOGY_BYTES) and how the caller's user raises it. */
  readonly limit?: Partial<ByteLimit>;
}

/**
 * Read a topology file (JSON or YAML, by extension or content). Only a regular file is read (a
 * FIFO or a device is refused, never waited on) and at most `limit` bytes. Errors name the file.
 */
export function loadTopologyFile(file: string, opts: LoadOptions = {}): Topology {
  let text: string;
  try {
    text = readRegularTextFile(file, { maxBytes: MAX_TOPOLOGY_BYTES, raise: 'loadTopologyFile(file, { limit: { maxBytes } })', ...opts.limit, what: 'topology file' });
  } catch (e) {
    if (e instanceof HostFsError) throw new TopologyError([{ file, path: '', message: e.reason }]);
    throw e;
  }
  return parseTopology(text, { file });
}

/** A built-in name, or a path to a topology file (anything with a '/' or a .json/.yaml/.yml ending). */
export function resolveHost(nameOrFile: string, opts: LoadOptions = {}): Topology {
  if (isTopologyPath(nameOrFile)) return loadTopologyFile(nameOrFile, opts);
  return loadBuiltinHost(nameOrFile);
}

/** Whether resolveHost takes `nameOrFile` for a file rather than a built-in name. */
export const isTopologyPath = (nameOrFile: string): boolean => /[/\\]/.test(nameOrFile) || /\.(json|ya?ml)$/i.test(nameOrFile);
