// SPDX-License-Identifier: GPL-2.0-only
import { FleetError, TopologyError, formatSize, loadAgentHosts, loadHost, mapHtml, parseSize, planFleet, planJson, planPicture, renderMapSvg, vmm, writeFileAtomic } from '../../../lib/index';
import type { HostView, PlanResult } from '../../../lib/index';
import { Command, flag, str, strs } from '../command';
import { ExitError, UsageError } from '../errors';
import type { CommandIO } from '../io';
import { readTokenEnv } from '../vmm_args';
import { jsonText } from '../vmm_args';

const h = (x: bigint) => `0x${x.toString(16).padStart(16, '0')}`;

export function formatPlan(p: PlanResult): string {
  const names = p.hosts.slice(0, 6).map((x) => x.name);
  const lines = [`plan: ${p.hosts.length} host${p.hosts.length === 1 ? '' : 's'} (${names.join(', ')}${p.hosts.length > 6 ? ', …' : ''})`, ''];
  lines.push('reserved across the fleet (the union; who reserves each range):');
  for (const b of p.blockers) lines.push(`  ${h(b.start)} ${h(b.last)} ${b.type.padEnd(8)} ${vmm.describeHosts(b.hosts)}`);
  lines.push('', 'usable on every host (the intersection):');
  for (const u of p.common) lines.push(`  ${h(u.start)} ${h(u.last)}  ${formatSize(u.last - u.start + 1n)}`);
  for (const l of p.layouts) {
    lines.push('', `guest layout for ${formatSize(l.ram)} of RAM (${l.preset}):`);
    for (const r of l.conventional.regions.filter((x) => x.kind === 'ram')) lines.push(`  conventional ${r.name.padEnd(14)} ${h(r.start)} ${h(r.last)}`);
    for (const c of l.conventionalConflicts)
      lines.push(`  BLOCKED ${c.guest} ${h(c.overlap.start)}..${h(c.overlap.last)} by ${vmm.describeHosts(c.blocker.hosts)}: ${c.blocker.type} ${h(c.blocker.start)}..${h(c.blocker.last)}`);
    if (l.layout) {
      if (l.moves.length) {
        lines.push('  safe layout:');
        for (const r of l.layout.regions.filter((x) => x.kind === 'ram')) lines.push(`    ${r.name.padEnd(14)} ${h(r.start)} ${h(r.last)}  ${formatSize(r.last - r.start + 1n)}`);
        for (const m of l.moves) lines.push(`    moved ${m.region}: ${h(m.from.start)} → ${h(m.to.start)} (${m.why})`);
        for (const x of l.how) lines.push(`    how: ${x}`);
      } else lines.push('  safe on every host as it is');
    } else {
      lines.push('  NO SAFE LAYOUT:');
      for (const e of l.explanation) lines.push(`    ${e}`);
    }
    for (const w of l.warnings) lines.push(`  warning: ${w}`);
  }
  return `${lines.join('\n')}\n`;
}

async function loadFleet(args: Parameters<Command['run']>[0], io: CommandIO): Promise<HostView[]> {
  const files = strs(args, 'hosts');
  const agents = strs(args, 'agents');
  if (!files.length && !agents.length) throw new UsageError('plan needs --hosts FILE… (topologies, recordings, usable --json summaries, built-in names) or --agents URL…');
  const total = files.length + agents.length;
  let last = 0;
  const progress = (done: number) => {
    if (!io.stderrTTY || total < 200) return;
    const now = Date.now();
    if (done !== total && now - last < 150) return;
    last = now;
    io.stderr(`\riommu-emu: plan: ${done}/${total} hosts read${done === total ? '\n' : ''}`);
  };
  const cache = new Map<string, HostView>();
  const out: HostView[] = [];
  for (const f of files) {
    try {
      out.push(loadHost(f, { cache, kernel: str(args, 'kernel') }));
    } catch (e) {
      if (e instanceof FleetError) throw new UsageError(e.message);
      throw e;
    }
    progress(out.length);
  }
  if (agents.length) out.push(...(await loadAgentHosts(agents, { token: readTokenEnv(args, io), progress: (d) => progress(files.length + d) })));
  return out;
}

export const planCommand: Command = {
  summary: 'fleet migration planner: union of reserved regions, intersection of usable IOVA, who blocks what, a guest layout safe on every host',
  options: {
    hosts: { type: 'string', multiple: true, value: 'FILE…', description: 'hosts: topology or recorded files, usable --json summaries, built-in names' },
    agents: { type: 'string', multiple: true, value: 'URL…', description: 'hosts served by iommu-emu agents (their default machine)' },
    ram: { type: 'string', multiple: true, value: 'SIZE…', description: 'guest RAM sizes to lay out, one layout each (default 16G)' },
    vmm: { type: 'string', value: 'PRESET', description: `the VMM layout: ${Object.keys(vmm.PRESETS).join(', ')} (default q35 on x86, virt on arm64), with ,opt=v options` },
    kernel: { type: 'string', short: 'k', value: 'VERSION', description: 'run every topology under this kernel' },
    json: { type: 'boolean', description: 'print JSON (schema: lib/vmm/schemas/plan.schema.json)' },
    svg: { type: 'string', value: 'FILE', description: 'also draw the hosts side by side with the common usable window (SVG)' },
    html: { type: 'string', value: 'FILE', description: 'the same picture in a self-contained HTML page' },
    'token-file': { type: 'string', value: 'FILE', description: 'with --agents: read the agents\' token from FILE (else from $IOMMU_EMU_AGENT_TOKEN)' },
  },
  variadic: ['hosts', 'agents', 'ram'],
  async run(args, io) {
    const ram = (strs(args, 'ram').length ? strs(args, 'ram') : ['16G']).flatMap((x) => x.split(',')).map((x) => {
      const v = parseSize(x);
      if (v === undefined || v === 0n || v % (2n << 20n) !== 0n) throw new UsageError(`--ram: not a RAM size (a multiple of 2 MiB, e.g. 16G, 2T): ${JSON.stringify(x)}`);
      return v;
    });
    let hosts: HostView[];
    try {
      hosts = await loadFleet(args, io);
    } catch (e) {
      if (e instanceof TopologyError) throw e;
      if (e instanceof Error && e.name === 'AgentClientError') throw new ExitError(2, `plan: agent: ${e.message}`);
      throw e;
    }
    let p: PlanResult;
    try {
      p = planFleet(hosts, { ram, vmm: str(args, 'vmm') });
    } catch (e) {
      if (e instanceof vmm.PlanError || e instanceof vmm.PresetError) throw new UsageError(`plan: ${e.message}`);
      throw e;
    }
    const svgFile = str(args, 'svg');
    const htmlFile = str(args, 'html');
    if (svgFile || htmlFile) {
      const svg = renderMapSvg(planPicture(p, hosts));
      if (svgFile) writeFileAtomic(svgFile, svg);
      if (htmlFile) writeFileAtomic(htmlFile, mapHtml('iommu-emu plan', svg, p.layouts.flatMap((l) => [...l.explanation, ...l.how])));
    }
    io.stdout(flag(args, 'json') ? jsonText(planJson(p)) : formatPlan(p));
    return p.layouts.every((l) => l.layout) ? 0 : 1;
  },
};
