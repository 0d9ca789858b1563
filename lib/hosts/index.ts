// SPDX-License-Identifier: GPL-2.0-only
/** Built-in hosts: topology files shipped beside this module, which users can copy and edit. */
import * as fs from 'node:fs';
import * as path from 'node:path';
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

export function loadBuiltinHost(name: string): Topology {
  const p = builtinHostPath(name);
  if (!p)
    throw new TopologyError([
      { file: `<builtin:${name}>`, path: '', message: `no built-in host named ${JSON.stringify(name)} (have: ${builtinHostNames().join(', ')})` },
    ]);
  return parseTopology(fs.readFileSync(p, 'utf8'), { file: p });
}

/** Read a topology file (JSON or YAML, by extension or content). Errors name the file. */
export function loadTopologyFile(file: string): Topology {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new TopologyError([{ file, path: '', message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }]);
  }
  return parseTopology(text, { file });
}

/** A built-in name, or a path to a topology file (anything with a '/' or a .json/.yaml/.yml ending). */
export function resolveHost(nameOrFile: string): Topology {
  if (/[/\\]/.test(nameOrFile) || /\.(json|ya?ml)$/i.test(nameOrFile)) return loadTopologyFile(nameOrFile);
  return loadBuiltinHost(nameOrFile);
}
