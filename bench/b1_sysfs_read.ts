// SPDX-License-Identifier: GPL-2.0-only
/**
 * B1, B2: reading `reserved_regions` through `machine.fs`, against a real sysfs read (B1) and a
 * raw memfs volume holding the same bytes at the same path (B2).
 */
import * as nodeFs from 'node:fs';
import { Superblock } from '@jsonjoy.com/fs-core';
import { Volume, createFsFromVolume } from 'memfs';
import { createMachine } from '../lib';
import type { BenchContext } from './config';
import { Row, figure, interleave, ratios, stat, verdict } from './harness';

/** Small show() attributes that exist on most Linux machines; the first readable one is used. */
const REAL_SYSFS = [
  '/sys/kernel/iommu_groups/0/reserved_regions',
  '/sys/kernel/iommu_groups/1/reserved_regions',
  '/sys/devices/system/cpu/online',
  '/sys/kernel/mm/transparent_hugepage/enabled',
];

function realSysfsFile(): string | undefined {
  for (const p of REAL_SYSFS) {
    try {
      nodeFs.readFileSync(p);
      return p;
    } catch {
      // next candidate
    }
  }
  return undefined;
}

export function rows(ctx: BenchContext): Row[] {
  const { rounds, batchMs } = ctx.cfg;
  const m = createMachine('intel-vtd-server');
  const path = '/sys/kernel/iommu_groups/2/reserved_regions';
  const bytes = m.fs.readFileSync(path) as Buffer;
  // The same memfs configuration as a machine's (uid/gid asked once, not per path step), so the
  // ratio is the cost of the emulator's layer alone.
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const shim = { getuid: () => uid, getgid: () => gid, cwd: () => '/', platform: process.platform, env: {}, emitWarning: () => undefined };
  const vol = new Volume(new Superblock({ process: shim as unknown as NonNullable<ConstructorParameters<typeof Superblock>[0]>['process'] }));
  vol.fromJSON({ [path]: bytes.toString('latin1') });
  const raw = createFsFromVolume(vol);
  let sink = 0;
  const emu = { name: 'machine.fs', run: (n: number) => { for (let i = 0; i < n; i++) sink += (m.fs.readFileSync(path) as Buffer).length; } };
  const memfs = { name: 'memfs', run: (n: number) => { for (let i = 0; i < n; i++) sink += (raw.readFileSync(path) as Buffer).length; } };
  const real = realSysfsFile();
  const subjects = real
    ? [emu, memfs, { name: 'node fs', run: (n: number) => { for (let i = 0; i < n; i++) sink += nodeFs.readFileSync(real).length; } }]
    : [emu, memfs];
  ctx.log(`B1/B2: ${subjects.map((s) => s.name).join(' vs ')}`);
  const [tEmu, tMemfs, tReal] = interleave(subjects, { rounds, batchMs });
  if (sink < 0) throw new Error('unreachable');
  const us = (xs: number[]) => figure(xs.map((x) => x * 1e3), 'µs/read');
  const b1Ratio = tReal ? stat(ratios(tEmu!, tReal)) : undefined;
  const b2Ratio = stat(ratios(tEmu!, tMemfs!));
  return [
    {
      id: 'B1',
      what: 'read reserved_regions via m.fs',
      figure: us(tEmu!),
      anchor: real ? `node fs read of ${real}` : 'node fs read of a real sysfs file',
      ratio: b1Ratio,
      target: '≤ 0.5× (keep)',
      status: tReal ? verdict(b1Ratio!.median <= 0.5) : 'NOT RUN',
      note: tReal ? undefined : 'no readable sysfs attribute on this machine',
    },
    {
      id: 'B2',
      what: 'm.fs read (reserved_regions)',
      figure: us(tEmu!),
      anchor: 'raw memfs volume, same bytes and path',
      ratio: b2Ratio,
      target: '≤ 1.1× (keep)',
      status: verdict(b2Ratio.median <= 1.1),
    },
  ];
}
