// SPDX-License-Identifier: GPL-2.0-only
import { DEFAULT_HOST, builtinHostNames, builtinHostPath, loadBuiltinHost } from '../../../lib/index';
import { Command, flag } from '../command';

export interface HostInfo {
  readonly name: string;
  readonly default: boolean;
  readonly kernel: string;
  readonly arch: string;
  readonly iommus: string[];
  readonly devices: number;
  readonly description: string;
  readonly file: string;
}

export function listHosts(): HostInfo[] {
  return builtinHostNames().map((name) => {
    const t = loadBuiltinHost(name);
    return {
      name,
      default: name === DEFAULT_HOST,
      kernel: t.kernel,
      arch: t.arch,
      iommus: t.iommus.map((u) => u.driver),
      devices: t.devices.length,
      description: t.description ?? '',
      file: builtinHostPath(name)!,
    };
  });
}

export const hostsCommand: Command = {
  options: { json: { type: 'boolean' } },
  run(args, io) {
    const hosts = listHosts();
    if (flag(args, 'json')) {
      io.stdout(`${JSON.stringify(hosts, null, 2)}\n`);
      return;
    }
    const w = Math.max(...hosts.map((h) => h.name.length)) + 2;
    for (const h of hosts)
      io.stdout(`${(h.name + (h.default ? '*' : '')).padEnd(w)}${h.arch.padEnd(8)} ${h.kernel.padEnd(6)} ${h.iommus.join(',').padEnd(13)} ${h.description}\n`);
    io.stdout(`\n* default host. Each is a topology file you can copy: iommu-emu hosts --json shows the paths.\n`);
  },
};
