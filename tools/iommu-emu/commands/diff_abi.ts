// SPDX-License-Identifier: GPL-2.0-only
import { DEFAULT_HOST, diffAbi, isTopologyPath, loadTopologyFile } from '../../../lib/index';
import type { AbiDiff } from '../../../lib/index';
import { Command, flag, hostOptions, kernelArg, pluginsArg, str } from '../command';
import { UsageError } from '../errors';
import { inputLimits } from '../limits';
import { jsonText } from '../vmm_args';

const clip = (s: string | undefined) => (s === undefined ? '' : s.length > 200 ? `${s.slice(0, 200)}…` : s).replace(/\n$/, '').split('\n').join('\n      ');

export function formatDiffAbi(d: AbiDiff): string {
  const lines = [`diff-abi: ${d.host} (kernel ${d.kernel}) without and with ${d.plugins.join(', ')}`, ''];
  lines.push(`tree: ${d.tree.length} change${d.tree.length === 1 ? '' : 's'}`);
  for (const c of d.tree) {
    lines.push(`  ${c.kind === 'added' ? '+' : c.kind === 'removed' ? '-' : '~'} ${c.path}  (${c.what})`);
    if (c.kind !== 'added' && c.before !== undefined && c.kind === 'changed') lines.push(`      before: ${clip(c.before)}`);
    if (c.after !== undefined && c.kind !== 'removed') lines.push(`      ${c.kind === 'added' ? '' : 'after:  '}${clip(c.after)}`);
  }
  lines.push('', `ioctls: ${d.ioctls.length} change${d.ioctls.length === 1 ? '' : 's'}`);
  for (const c of d.ioctls) lines.push(`  group ${c.group} ${c.ioctl}`, `      before: ${clip(c.before)}`, `      after:  ${clip(c.after)}`);
  return `${lines.join('\n')}\n`;
}

export const diffAbiCommand: Command = {
  summary: 'what ABI prototypes (--plugin) change: /sys and /dev entries, CHECK_EXTENSION and GET_INFO answers',
  options: { ...hostOptions, json: { type: 'boolean', description: 'print JSON (schema: lib/vmm/schemas/diff-abi.schema.json)' } },
  variadic: ['plugin'],
  run(args, io) {
    const plugins = pluginsArg(args);
    if (!plugins.length) throw new UsageError('diff-abi needs --plugin FILE (e.g. plugins/usable_regions.ts)');
    const host = str(args, 'host') ?? DEFAULT_HOST;
    const d = diffAbi(isTopologyPath(host) ? loadTopologyFile(host, { limit: inputLimits(io.env).topology }) : host, plugins, { kernel: kernelArg(args) });
    io.stdout(flag(args, 'json') ? jsonText({ host: d.host, kernel: d.kernel, plugins: d.plugins, tree: d.tree.map((c) => ({ path: c.path, kind: c.kind, what: c.what, before: c.before ?? null, after: c.after ?? null })), ioctls: d.ioctls }) : formatDiffAbi(d));
  },
};
