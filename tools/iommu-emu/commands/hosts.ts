// SPDX-License-Identifier: GPL-2.0-only
import { DEFAULT_HOST, builtinHostNames, builtinHostPath, hostJson, loadBuiltinHost } from '../../../lib/index';
import type { HostJson } from '../../../lib/index';
import { Command, flag, jsonOption, jsonText } from '../command';

export function listHosts(): HostJson[] {
  return builtinHostNames().map((name) => hostJson(name, loadBuiltinHost(name), name === DEFAULT_HOST, builtinHostPath(name)!));
}

export const hostsCommand: Command = {
  summary: 'list the built-in hosts',
  details: 'Each is a topology file you can copy and edit; --json gives their paths.',
  options: { ...jsonOption },
  run(args, io) {
    const hosts = listHosts();
    if (flag(args, 'json')) {
      io.stdout(jsonText({ hosts }));
      return;
    }
    const w = Math.max(...hosts.map((h) => h.name.length)) + 2;
    for (const h of hosts)
      io.stdout(`${(h.name + (h.default ? '*' : '')).padEnd(w)}${h.arch.padEnd(8)} ${h.kernel.padEnd(6)} ${h.iommus.join(',').padEnd(13)} ${h.description}\n`);
    io.stdout(`\n* default host. Each is a topology file you can copy: iommu-emu hosts --json shows the paths.\n`);
  },
};
