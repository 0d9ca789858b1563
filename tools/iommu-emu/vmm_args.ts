// SPDX-License-Identifier: GPL-2.0-only
/** Shared option handling of the VMM tools (usable, check-guest, plan, msi-place, map). */
import { DEFAULT_HOST, GuestMapError, PresetError, hostViewOfMachine, vmm } from '../../lib/index';
import type { HostView } from '../../lib/index';
import { agentOptions, withAgent } from './agent';
import { ParsedArgs, Options, machineFrom, readToken, str, strs } from './command';
import { UsageError } from './errors';
import type { CommandIO } from './io';

/** `--agent URL [--machine ID] [--token-file FILE]`: the host read from an agent. */
export const agentHostOptions = agentOptions;

export const groupOption = {
  group: { type: 'string', multiple: true, short: 'g', value: 'N…', description: 'only these IOMMU groups (repeatable, or several after one --group)' },
} as const satisfies Options;

/** The host: emulated from --host/--kernel, or an agent's. */
export async function hostViewFrom(args: ParsedArgs, io: CommandIO): Promise<HostView> {
  if (str(args, 'agent') !== undefined)
    return withAgent(args, io, async (c, id) => vmm.hostViewOfAgent(`${c.base}#${id}`, await c.machine(id), await c.groups(id)));
  const m = machineFrom(args, DEFAULT_HOST, io);
  return hostViewOfMachine(m, str(args, 'host') ?? DEFAULT_HOST);
}

/** `--group 2 3` → [2, 3], checked against the host. */
export function groupsArg(args: ParsedArgs, h: HostView): number[] {
  const out: number[] = [];
  for (const g of strs(args, 'group').flatMap((x) => x.split(','))) {
    if (!/^\d+$/.test(g)) throw new UsageError(`--group: not a group number: ${JSON.stringify(g)}`);
    const id = Number(g);
    if (!h.groups.some((x) => x.id === id)) throw new UsageError(`--group ${id}: host ${h.name} has no IOMMU group ${id} (groups: ${h.groups.map((x) => x.id).join(', ') || 'none'})`);
    out.push(id);
  }
  return out;
}

/** Guest map and preset errors are input errors: one line per issue, exit 2. */
export function guestFrom(spec: string | undefined, h: HostView): vmm.GuestMap {
  if (spec === undefined) throw new UsageError(`--guest FILE|PRESET is required (presets: ${Object.keys(vmm.PRESETS).join(', ')}; e.g. --guest q35:16G)`);
  const cpu = h.iommus.some((u) => u.driver === 'amd-iommu') ? 'amd' : 'intel';
  try {
    return vmm.resolveGuest(spec, { cpu });
  } catch (e) {
    if (e instanceof PresetError) throw new UsageError(`--guest: ${e.message}`);
    if (e instanceof GuestMapError) throw new UsageError(e.issues.map((i) => `${i.file}: ${i.path || '(document)'}: ${i.message}`).join('\niommu-emu: '));
    throw e;
  }
}

export { jsonText } from './command';

/** The agent token: --token-file FILE, else the environment (never argv). */
export function readTokenEnv(args: ParsedArgs, io: CommandIO): string | undefined {
  return readToken(str(args, 'token-file'), io);
}
