// SPDX-License-Identifier: GPL-2.0-only
/**
 * `diff-abi`: what plugins change in the ABI a consumer sees — the /sys and /dev tree (entries
 * added, removed, or with other content, mode or link target) and the ioctl answers (for every
 * VFIO group: VFIO_CHECK_EXTENSION of each extension, and VFIO_IOMMU_GET_INFO's capability
 * chain after attaching the group alone).
 */
import { isKernelError } from '../errno';
import { TreeEntry, walkEmulated } from '../export/export';
import { Machine, MachineOptions, createMachine } from '../machine';
import type { AbiPlugin } from '../plugin/plugin';
import type { Topology } from '../topology/topology';
import { VFIO_TYPE1v2_IOMMU } from '../uapi';
import { VfioContainerHandle, VfioGroupHandle } from '../user/vfio';

export interface TreeChange {
  readonly path: string;
  readonly kind: 'added' | 'removed' | 'changed';
  /** What differs, for a person: `content`, `mode 0444 → 0644`, `target …`. */
  readonly what: string;
  readonly before?: string | undefined;
  readonly after?: string | undefined;
}

export interface IoctlChange {
  readonly group: number;
  readonly ioctl: string;
  readonly before: string;
  readonly after: string;
}

export interface AbiDiff {
  readonly host: string;
  readonly kernel: string;
  readonly plugins: readonly string[];
  readonly tree: readonly TreeChange[];
  readonly ioctls: readonly IoctlChange[];
}

const text = (e: TreeEntry | undefined): string | undefined => {
  if (!e) return undefined;
  if (e.kind === 'link') return `-> ${e.target}`;
  if (e.kind === 'dir') return '(directory)';
  const b = e.content ?? Buffer.alloc(0);
  return b.includes(0) ? `(${b.length} bytes binary)` : b.toString('utf8');
};

function treeDiff(a: Machine, b: Machine): TreeChange[] {
  const before = new Map(walkEmulated(a, '/').map((e) => [e.path, e]));
  const after = new Map(walkEmulated(b, '/').map((e) => [e.path, e]));
  const out: TreeChange[] = [];
  for (const [p, e] of after) {
    const o = before.get(p);
    if (!o) out.push({ path: p, kind: 'added', what: `${e.kind} ${e.mode.toString(8).padStart(4, '0')}`, after: text(e) });
    else {
      const diffs: string[] = [];
      if (o.kind !== e.kind) diffs.push(`${o.kind} → ${e.kind}`);
      if (o.mode !== e.mode) diffs.push(`mode ${o.mode.toString(8).padStart(4, '0')} → ${e.mode.toString(8).padStart(4, '0')}`);
      if (o.kind === 'link' && o.target !== e.target) diffs.push('target');
      if (o.kind === 'file' && e.kind === 'file' && !(o.content ?? Buffer.alloc(0)).equals(e.content ?? Buffer.alloc(0))) diffs.push('content');
      if (diffs.length) out.push({ path: p, kind: 'changed', what: diffs.join(', '), before: text(o), after: text(e) });
    }
  }
  for (const [p, o] of before) if (!after.has(p)) out.push({ path: p, kind: 'removed', what: o.kind, before: text(o) });
  return out.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
}

const hexBytes = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** The ioctl answers a consumer sees for one group, as comparable strings. */
function ioctlAnswers(m: Machine, group: number): Map<string, string> {
  const out = new Map<string, string>();
  const c = VfioContainerHandle.open(m);
  try {
    for (let ext = 1; ext <= 16; ext++) out.set(`VFIO_CHECK_EXTENSION(${ext})`, String(c.checkExtension(ext)));
    const g = VfioGroupHandle.open(m, group);
    try {
      g.setContainer(c);
      c.setIommu(VFIO_TYPE1v2_IOMMU);
      const info = c.info();
      out.set('VFIO_IOMMU_GET_INFO flags', `0x${info.flags.toString(16)}`);
      out.set('VFIO_IOMMU_GET_INFO argsz', String(info.argsz));
      // The header's `next` offset moves whenever a capability is added; compare the rest.
      for (const cap of info.caps) out.set(`VFIO_IOMMU_GET_INFO cap id ${cap.id} v${cap.version}`, hexBytes(Buffer.concat([cap.bytes.subarray(0, 4), Buffer.alloc(4), cap.bytes.subarray(8)])));
    } catch (e) {
      if (!isKernelError(e)) throw e;
      out.set('attach', e.code);
    } finally {
      g.close();
    }
  } finally {
    c.close();
  }
  return out;
}

export function diffAbi(host: string | Topology, plugins: readonly AbiPlugin[], opts: Pick<MachineOptions, 'kernel'> = {}): AbiDiff {
  const a = createMachine(host, opts);
  const b = createMachine(host, { ...opts, plugins });
  const ioctls: IoctlChange[] = [];
  for (const g of a.host.groups()) {
    if (!a.fs.existsSync(`/dev/vfio/${g.id}`) || !b.fs.existsSync(`/dev/vfio/${g.id}`)) continue;
    const x = ioctlAnswers(a, g.id);
    const y = ioctlAnswers(b, g.id);
    for (const k of new Set([...x.keys(), ...y.keys()])) {
      const before = x.get(k) ?? '(absent)';
      const after = y.get(k) ?? '(absent)';
      if (before !== after) ioctls.push({ group: g.id, ioctl: k, before, after });
    }
  }
  return { host: a.topology.name, kernel: a.kernel.release, plugins: plugins.map((p) => p.name), tree: treeDiff(a, b), ioctls };
}
