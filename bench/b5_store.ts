// SPDX-License-Identifier: GPL-2.0-only
/**
 * B5: one sysfs store through `m.fs` (a driver unbind, then the bind that undoes it) on synthetic
 * hosts of two sizes and on the default host, side by side: a store should cost what it
 * changes, not what the host holds.
 */
import { Machine, createMachine } from '../lib';
import type { BenchContext } from './config';
import { Row, Subject, figure, interleave, ratios, stat, verdict } from './harness';

function storeSubject(name: string, m: Machine, driver: string, bdf: string): Subject {
  const link = `/sys/bus/pci/devices/${bdf}/driver`;
  if (!String(m.fs.readlinkSync(link)).endsWith(`/${driver}`)) throw new Error(`${name}: ${bdf} is not on ${driver}`);
  return {
    name,
    run(n: number) {
      for (let i = 0; i < n; i++) {
        m.fs.writeFileSync(`/sys/bus/pci/drivers/${driver}/unbind`, bdf);
        m.fs.writeFileSync(`/sys/bus/pci/drivers/${driver}/bind`, bdf);
      }
    },
  };
}

const fmt = (n: number): string => n.toLocaleString('en-US');

export function rows(ctx: BenchContext): Row[] {
  const { rounds, batchMs, storeGroups: [small, large] } = ctx.cfg;
  const mSmall = ctx.synthetic(small);
  const mLarge = ctx.synthetic(large);
  const nSmall = mSmall.host.devices.length;
  const nLarge = mLarge.host.devices.length;
  ctx.log(`B5: unbind+bind on the default host, ${fmt(nSmall)} and ${fmt(nLarge)} devices`);
  const [tDef, tSmall, tLarge] = interleave(
    [
      storeSubject('default', createMachine('intel-vtd-server'), 'i40e', '0000:01:00.0'),
      storeSubject('small', mSmall, 'i40e', '0000:00:00.0'),
      storeSubject('large', mLarge, 'i40e', '0000:00:00.0'),
    ],
    { rounds, batchMs },
  );
  // Two stores per pair.
  const perStore = (xs: number[]) => figure(xs.map((x) => x / 2), 'ms/store');
  const fLarge = perStore(tLarge!);
  const fDef = perStore(tDef!);
  const vsDefault = stat(ratios(tLarge!, tDef!));
  const scale = stat(ratios(tLarge!, tSmall!));
  return [
    {
      id: 'B5',
      what: `a sysfs store (unbind / bind), ${fmt(nLarge)}-device host`,
      figure: fLarge,
      anchor: `the same store on the default host, ${fDef.median.toPrecision(2)} ms`,
      ratio: vsDefault,
      target: '≤ 1 ms at any size',
      status: verdict(fLarge.median <= 1, fDef.median <= 1),
    },
    {
      id: 'B5 scale',
      what: `the same store, ${fmt(nLarge)} vs ${fmt(nSmall)} devices`,
      figure: fLarge,
      anchor: `${fmt(nSmall)}-device host, ${perStore(tSmall!).median.toPrecision(2)} ms`,
      ratio: scale,
      target: '≤ 1.5× (cost of what changed)',
      status: verdict(scale.median <= 1.5),
    },
  ];
}
