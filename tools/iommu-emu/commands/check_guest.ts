// SPDX-License-Identifier: GPL-2.0-only
import { checkGuest, checkJson, formatSize, vmm } from '../../../lib/index';
import type { CheckResult } from '../../../lib/index';
import { Command, flag, hostOptions, str } from '../command';
import { agentHostOptions, groupOption, groupsArg, guestFrom, hostViewFrom, jsonText } from '../vmm_args';

const h = (x: bigint) => `0x${x.toString(16)}`;

export function formatCheck(r: CheckResult): string {
  const lines = [
    `check-guest: guest ${r.guest.name} (${r.guest.source}${r.guest.vmm ? `, ${r.guest.vmm}` : ''}) against ${r.host.name} (kernel ${r.host.kernel}), group${r.groups.length === 1 ? '' : 's'} ${r.groups.join(', ')}`,
  ];
  for (const d of r.guest.derivation ?? []) lines.push(`  layout: ${d}`);
  for (const g of r.guest.regions.filter((x) => vmm.isDmaMapped(x.kind))) lines.push(`  guest ${g.kind.padEnd(8)} ${g.name.padEnd(16)} ${h(g.start)}..${h(g.last)}  ${formatSize(g.last - g.start + 1n)}`);
  lines.push('');
  const errs = r.conflicts.filter((c) => c.severity === 'error');
  for (const c of r.conflicts) {
    const tag = c.severity === 'error' ? 'CONFLICT' : c.severity === 'warning' ? 'WARNING ' : 'note    ';
    const what = c.region && c.region.type !== 'aperture' ? `${c.region.type}${c.region.swMsi ? ' (software MSI window)' : ''} ${h(c.region.start)}..${h(c.region.last)}` : `beyond the aperture${c.region ? ` (${h(c.region.start)}..${h(c.region.last)})` : ''}`;
    lines.push(`${tag} group ${c.group}: guest ${c.guest.name} ${h(c.overlap.start)}..${h(c.overlap.last)} meets ${what}`);
    lines.push(`         ${c.consequence}`);
    for (const s of c.region?.sources ?? []) lines.push(`         <- ${s}`);
  }
  for (const u of r.unassignable) lines.push(`NOT ASSIGNABLE group ${u.group}: ${u.why}`);
  for (const c of r.caveats) lines.push(`caveat: ${c}`);
  if (r.conflicts.length || r.unassignable.length || r.caveats.length) lines.push('');
  lines.push(
    r.ok
      ? `ok: every DMA-mapped guest range is usable by group${r.groups.length === 1 ? '' : 's'} ${r.groups.join(', ')}; the hot-plug can be accepted`
      : `refuse the hot-plug: ${errs.length} conflict${errs.length === 1 ? '' : 's'}${r.unassignable.length ? `, ${r.unassignable.length} group(s) not assignable` : ''}`,
  );
  return `${lines.join('\n')}\n`;
}

export const checkGuestCommand: Command = {
  summary: 'hot-plug admission check: does a guest memory map (file or VMM preset) avoid the groups\' reserved regions? exit 1 if not',
  options: {
    ...hostOptions,
    guest: { type: 'string', value: 'FILE|PRESET', description: `a guest map file (lib/vmm/guest-map.schema.json) or a preset NAME[:RAM][,opt=v]: ${Object.keys(vmm.PRESETS).join(', ')}` },
    ...groupOption,
    json: { type: 'boolean', description: 'print JSON (schema: lib/vmm/schemas/check-guest.schema.json)' },
    ...agentHostOptions,
  },
  variadic: ['group'],
  async run(args, io) {
    const host = await hostViewFrom(args, io);
    const guest = guestFrom(str(args, 'guest'), host);
    const r = checkGuest(host, guest, groupsArg(args, host));
    io.stdout(flag(args, 'json') ? jsonText(checkJson(r)) : formatCheck(r));
    return r.ok ? 0 : 1;
  },
};
