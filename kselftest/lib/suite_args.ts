// SPDX-License-Identifier: GPL-2.0-only
/**
 * The runner's check of the options it forwards to every conformance program: only the suite
 * options (`--target`, `--host`, `--kernel`), with values that name a target, a host and a
 * kernel that exist. A typo (`--hots`) or a bad host is refused before anything runs, instead of
 * running the default host or failing every test.
 */
import * as fs from 'node:fs';
import { TopologyError, parseKernelVersion, resolveHost } from '../../lib/index';
import { TARGET_USAGE } from '../targets';
import { SUITE_OPTIONS } from './suite';

export function checkSuiteArgs(options: readonly string[]): string | undefined {
  const names = Object.keys(SUITE_OPTIONS);
  const values: Record<string, string> = {};
  for (let i = 0; i < options.length; i++) {
    const a = options[i]!;
    const eq = a.indexOf('=');
    const name = a.slice(2, eq < 0 ? undefined : eq);
    if (!names.includes(name)) return `unknown option '--${name}' (program options: ${names.map((n) => `--${n}`).join(', ')}; put others after --)`;
    const v = eq >= 0 ? a.slice(eq + 1) : options[i + 1]?.startsWith('--') === false ? options[++i] : undefined;
    if (v === undefined || v === '') return `option '--${name}' requires a value (${SUITE_OPTIONS[name as keyof typeof SUITE_OPTIONS].valueName})`;
    values[name] = v;
  }
  const target = values.target;
  if (target !== undefined && target !== 'emulator' && target !== 'live') {
    if (!target.startsWith('dir:') || target.length === 4) return `--target ${JSON.stringify(target)}: expected ${TARGET_USAGE}`;
    const dir = target.slice(4);
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) return `--target ${target}: ${dir} is not a directory`;
  }
  if (values.host !== undefined) {
    if (target !== undefined && target !== 'emulator') return `--host picks the emulated host; it does not apply to --target ${target}`;
    try {
      resolveHost(values.host);
    } catch (e) {
      if (e instanceof TopologyError) return `--host ${values.host}: ${e.issues.map((x) => `${x.path || '(document)'}: ${x.message}`).join('; ')}`;
      throw e;
    }
  }
  const k = values.kernel;
  if (k !== undefined && k !== 'latest' && !parseKernelVersion(k)) return `--kernel ${JSON.stringify(k)}: not a kernel version (e.g. 6.8, 5.15.2 or latest)`;
  return undefined;
}
