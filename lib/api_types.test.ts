// SPDX-License-Identifier: GPL-2.0-only
/**
 * The public API's types as a downstream TypeScript user meets them (checked by `npm run
 * typecheck`; the assertions below also run): m.fs goes where node:fs is expected, inline
 * topologies are checked field by field, createMachine() needs no argument.
 */
import test from 'ava';
import * as nodeFs from 'node:fs';
import { DEFAULT_HOST, createMachine, type NodeFs, type TopologyInput } from './index';

/** A library under test that takes an injectable fs, the usual way. */
function groupsOf(fs: typeof import('node:fs') = nodeFs): string[] {
  return fs.readdirSync('/sys/kernel/iommu_groups').sort((a, b) => Number(a) - Number(b));
}
function firstRegion(fs: Pick<typeof nodeFs, 'readFileSync' | 'existsSync'>, group: string): string | undefined {
  const p = `/sys/kernel/iommu_groups/${group}/reserved_regions`;
  return fs.existsSync(p) ? fs.readFileSync(p, 'utf8').split('\n')[0] : undefined;
}
async function typeOf(fs: Pick<typeof nodeFs, 'promises'>, group: string): Promise<string> {
  return (await fs.promises.readFile(`/sys/kernel/iommu_groups/${group}/type`, 'utf8')).trim();
}

test('m.fs is accepted where node:fs or a Pick of it is expected, without a cast', async (t) => {
  const m = createMachine();
  const asNode: typeof import('node:fs') = m.fs;
  const alias: NodeFs = asNode;
  t.deepEqual(groupsOf(m.fs), groupsOf(alias));
  t.is(firstRegion(m.fs, '2'), '0x000000007b800000 0x000000007fffffff direct-relaxable');
  t.is(await typeOf(m.fs, '2'), 'DMA-FQ');
});

test('createMachine() without an argument is the default host', (t) => {
  t.is(createMachine().topology.name, DEFAULT_HOST);
  t.is(createMachine(undefined, { kernel: '5.3' }).kernel.release, '5.3');
});

test('inline topologies are typed: a wrong key or value is a compile error', (t) => {
  const ok: TopologyInput = { name: 'mine', kernel: '6.8', arch: 'aarch64', iommus: [{ driver: 'arm-smmu-v3', base: 0x9050000 }], devices: [{ bdf: '0000:00:01.0', vendor: 0x19e5, device: '0x0123', class: 0x020000 }] };
  t.is(createMachine(ok).host.devices.length, 1);
  // Each line below must fail to compile (tsc reports an unused @ts-expect-error otherwise);
  // at run time the schema refuses them too.
  const bad: unknown[] = [
    // @ts-expect-error misspelt top-level key
    { name: 'x', kernel: '6.8', arch: 'x86_64', iommus: [], devices: [], firmwre: {} } satisfies TopologyInput,
    // @ts-expect-error an unknown IOMMU driver
    { name: 'x', kernel: '6.8', arch: 'x86_64', iommus: [{ driver: 'intel' }], devices: [] } satisfies TopologyInput,
    // @ts-expect-error a device without its class
    { name: 'x', kernel: '6.8', arch: 'x86_64', iommus: [], devices: [{ bdf: '0000:00:01.0', vendor: 1, device: 2 }] } satisfies TopologyInput,
    // @ts-expect-error a wrong arch
    { name: 'x', kernel: '6.8', arch: 'arm64', iommus: [], devices: [] } satisfies TopologyInput,
  ];
  for (const doc of bad) t.throws(() => createMachine(doc as TopologyInput), { name: 'TopologyError' });
});

test('the node:fs type of m.fs is honest: every node:fs function (and fs.promises one) is there', (t) => {
  const m = createMachine();
  const fsFns = (o: object) => Object.keys(o).filter((k) => typeof (o as Record<string, unknown>)[k] === 'function');
  t.deepEqual(fsFns(nodeFs).filter((k) => typeof (m.fs as unknown as Record<string, unknown>)[k] !== 'function'), []);
  t.deepEqual(fsFns(nodeFs.promises).filter((k) => typeof (m.fs.promises as unknown as Record<string, unknown>)[k] !== 'function'), []);
});
