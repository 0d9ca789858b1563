// SPDX-License-Identifier: GPL-2.0-only
import { checkGuest, hostPicture, mapHtml, renderMapSvg, writeFileAtomic } from '../../../lib/index';
import { Command, hostOptions, str } from '../command';
import { UsageError } from '../errors';
import { agentHostOptions, groupOption, groupsArg, guestFrom, hostViewFrom } from '../vmm_args';

export const mapCommand: Command = {
  summary: 'draw the IOVA space: groups\' reserved regions by type, usable ranges, a guest overlaid, conflicts in red (SVG or HTML)',
  options: {
    ...hostOptions,
    guest: { type: 'string', value: 'FILE|PRESET', description: 'overlay a guest memory map (file or preset) and outline its conflicts' },
    ...groupOption,
    svg: { type: 'string', value: 'FILE', description: 'write the SVG here (default: standard output)' },
    html: { type: 'string', value: 'FILE', description: 'write a self-contained HTML page with the SVG and the conflicts' },
    ...agentHostOptions,
  },
  variadic: ['group'],
  async run(args, io) {
    const svgFile = str(args, 'svg');
    const htmlFile = str(args, 'html');
    if (svgFile && htmlFile) throw new UsageError('map takes --svg FILE or --html FILE, not both');
    const host = await hostViewFrom(args, io);
    const groups = groupsArg(args, host);
    const g = str(args, 'guest');
    const guest = g === undefined ? undefined : guestFrom(g, host);
    const check = guest ? checkGuest(host, guest, groups) : undefined;
    const svg = renderMapSvg(hostPicture(host, { groups, ...(guest ? { guest } : {}), ...(check ? { check } : {}) }));
    if (htmlFile) {
      const notes = check ? check.conflicts.filter((c) => c.severity !== 'note').map((c) => `group ${c.group}: ${c.guest.name} 0x${c.overlap.start.toString(16)}..0x${c.overlap.last.toString(16)}: ${c.consequence}`) : [];
      writeFileAtomic(htmlFile, mapHtml(`IOVA space of ${host.name}`, svg, notes));
    } else if (svgFile) writeFileAtomic(svgFile, svg);
    else io.stdout(svg);
  },
};
