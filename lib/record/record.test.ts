// SPDX-License-Identifier: GPL-2.0-only
/** record → replay → export: byte-identical trees for every built-in host, and each fitting rule. */
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { builtinHostNames, createMachine, exportTree, loadBuiltinHost } from '../index';
import type { Machine } from '../index';
import { RecordError, dirSource, formatTopology, openRecordRoot, recordSys } from '.';
import { parseTopology } from '../topology/topology';
import { nic } from '../testing/topo';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'iommu-emu-record-test-'));

/** Every entry of a real tree: relative path → kind, mode, bytes or link target. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (p: string) => {
    const st = fs.lstatSync(p);
    const rel = path.relative(dir, p);
    if (st.isSymbolicLink()) out.set(rel, `link ${fs.readlinkSync(p)}`);
    else if (st.isDirectory()) {
      out.set(rel, `dir ${(st.mode & 0o7777).toString(8)}`);
      for (const n of fs.readdirSync(p)) walk(path.join(p, n));
    } else out.set(rel, `file ${(st.mode & 0o7777).toString(8)} ${fs.readFileSync(p).toString('base64')}`);
  };
  walk(dir);
  return out;
}

function roundTrip(m: Machine, opts: { kernel?: string } = {}) {
  const base = tmp();
  exportTree(m, path.join(base, 'a'), { metadata: { kernel: m.kernel.version.text, arch: m.topology.arch, host: m.topology.name } });
  const opened = openRecordRoot(path.join(base, 'a'));
  const rec = recordSys(opened.source, { ...opened.options, ...opts });
  // Through the text a user would keep, not just the in-memory document.
  const text = formatTopology(rec.doc, 'yaml', ['round trip']);
  const replayed = createMachine(parseTopology(text, { file: 'recorded.yaml' }));
  exportTree(replayed, path.join(base, 'b'));
  const a = snapshot(path.join(base, 'a', 'sys'));
  const b = snapshot(path.join(base, 'b', 'sys'));
  fs.rmSync(base, { recursive: true, force: true });
  return { rec, a, b, text };
}

function sameTrees(t: import('ava').ExecutionContext, a: Map<string, string>, b: Map<string, string>) {
  const diff: string[] = [];
  for (const [k, v] of a) if (b.get(k) !== v) diff.push(`${k}: ${v.slice(0, 60)} ≠ ${b.get(k)?.slice(0, 60)}`);
  for (const k of b.keys()) if (!a.has(k)) diff.push(`${k}: only in the replay`);
  t.deepEqual(diff, []);
  t.true(a.size > 50);
}

for (const host of builtinHostNames()) {
  test(`round trip is byte-identical: ${host}`, (t) => {
    const { rec, a, b } = roundTrip(createMachine(host));
    t.deepEqual(rec.differences, []);
    t.is(rec.kernelFrom, 'metadata');
    t.deepEqual(rec.notes.filter((n) => n.level !== 'info'), []);
    sameTrees(t, a, b);
  });
}

for (const kernel of ['4.11', '5.3', '5.11', 'latest']) {
  test(`round trip is byte-identical under kernel ${kernel}: every built-in host`, (t) => {
    for (const host of builtinHostNames()) {
      const { rec, a, b } = roundTrip(createMachine(host, { kernel }));
      t.deepEqual(rec.differences, [], host);
      sameTrees(t, a, b);
    }
  });
}

test('recorded firmware is the original firmware where the rules can tell (intel RMRRs, AMD IVMDs, virtio probe)', (t) => {
  const intel = roundTrip(createMachine('intel-vtd-server')).rec.doc.firmware as Record<string, unknown[]>;
  t.is(intel.rmrr!.length, loadBuiltinHost('intel-vtd-server').firmware.rmrr.length);
  const amd = roundTrip(createMachine('amd-epyc')).rec.doc.firmware as Record<string, { exclusion?: boolean }[]>;
  // Since 387caf0b759a an exclusion range is a unity map (direct): reserved_regions tell them
  // apart only on v5.1–v5.5, but the tree's IVRS table says which is which on every kernel.
  t.deepEqual(amd.ivmd!.map((e) => e.exclusion ?? false).sort(), [false, true]);
  const amd54 = roundTrip(createMachine('amd-epyc', { kernel: '5.4' })).rec.doc.firmware as Record<string, { exclusion?: boolean }[]>;
  t.deepEqual(amd54.ivmd!.map((e) => e.exclusion ?? false).sort(), [false, true]);
  const v = roundTrip(createMachine('virtio-iommu-guest')).rec.doc.firmware as Record<string, unknown[]>;
  // One probe property per translated endpoint (each is its own group), as the device reports it.
  t.deepEqual(
    v.virtioIommuProbe,
    ['0000:00:02.0', '0000:00:04.0'].map((d) => ({ start: '0xfee00000', end: '0xfeefffff', subtype: 'msi', devices: [d] })),
  );
});

const machineOf = (doc: Record<string, unknown>) => createMachine({ name: 't', kernel: '6.8', arch: 'x86_64', ...doc });

test('lines no firmware table explains replay verbatim (reserved on VT-d, duplicate msi)', (t) => {
  const m = machineOf({
    iommus: [{ driver: 'intel-iommu' }],
    devices: [
      nic('0000:00:03.0', {
        resvRegions: [
          { start: '0x1000', end: '0x1fff', type: 'reserved' },
          { start: '0xfee00000', end: '0xfeefffff', type: 'msi' },
          { start: '0xfee00000', end: '0xfeefffff', type: 'sw-msi' },
        ],
      }),
    ],
  });
  const { rec, a, b } = roundTrip(m);
  t.deepEqual(rec.differences, []);
  t.truthy((rec.doc.devices as Record<string, unknown>[])[0]!.resvRegions);
  t.true(rec.notes.some((n) => /recorded verbatim/.test(n.message)));
  sameTrees(t, a, b);
});

test('fit: AMD without the HT hole on a latest kernel is htRangeIgnore; SMMU RMR/DT/ITS; s390 dma window', (t) => {
  const amd = roundTrip(createMachine({ name: 'a', kernel: 'latest', arch: 'x86_64', iommus: [{ driver: 'amd-iommu', htRangeIgnore: true }], devices: [nic('0000:00:03.0')] }));
  t.deepEqual(amd.rec.differences, []);
  t.is((amd.rec.doc.iommus as Record<string, unknown>[])[0]!.htRangeIgnore, true);
  const arm = roundTrip(
    createMachine({
      name: 'b',
      kernel: '6.8',
      arch: 'aarch64',
      iommus: [{ driver: 'arm-smmu-v3', base: '0x9050000' }],
      devices: [nic('0000:01:00.0'), nic('0000:02:00.0')],
      firmware: {
        iortRmr: [{ base: '0xe0000000', length: '0x10000', devices: ['0000:01:00.0'], remapPermitted: true }],
        its: [{ base: '0x202100000', devices: ['0000:02:00.0'] }],
      },
    }),
  );
  t.deepEqual(arm.rec.differences, []);
  t.false(JSON.stringify(arm.rec.doc).includes('resvRegions'));
  const dt = roundTrip(
    createMachine({
      name: 'd',
      kernel: '6.8',
      arch: 'aarch64',
      iommus: [{ driver: 'arm-smmu-v3', base: '0x9050000' }],
      devices: [nic('0000:02:00.0')],
      firmware: { dtIommuAddresses: [{ device: '0000:02:00.0', iova: '0x80000000', length: '0x20000000' }] },
    }),
  );
  t.deepEqual(dt.rec.differences, []);
  t.false(JSON.stringify(dt.rec.doc).includes('resvRegions'));
  const s390 = roundTrip(
    createMachine({ name: 'c', kernel: '6.8', arch: 's390x', iommus: [{ driver: 's390-iommu' }], devices: [nic('0000:00:00.0', { startDma: '0x100000000', endDma: '0x1ffffffffff' })] }),
  );
  t.deepEqual(s390.rec.differences, []);
});

test('grouping the derivation cannot give is recorded as explicit group labels', (t) => {
  const m = machineOf({ iommus: [{ driver: 'intel-iommu' }], devices: [nic('0000:00:03.0', { group: 'x' }), nic('0000:00:05.0', { group: 'x' }), nic('0000:00:06.0')] });
  const { rec, a, b } = roundTrip(m);
  t.deepEqual(rec.differences, []);
  t.true((rec.doc.devices as Record<string, unknown>[]).every((d) => typeof d.group === 'string'));
  sameTrees(t, a, b);
});

test('a tree without metadata: kernel inferred and said so; --kernel wins', (t) => {
  const base = tmp();
  exportTree(createMachine('arm64-smmuv3', { kernel: '5.11' }), path.join(base, 'x'));
  const r = recordSys(openRecordRoot(path.join(base, 'x')).source);
  t.is(r.kernelFrom, 'inferred');
  t.true(r.notes.some((n) => n.where === '(kernel)' && /inferred/.test(n.message)));
  t.deepEqual(r.differences, []);
  const r2 = recordSys(openRecordRoot(path.join(base, 'x')).source, { kernel: '5.11' });
  t.is(r2.kernelFrom, 'option');
  t.deepEqual(r2.differences, []);
  fs.rmSync(base, { recursive: true, force: true });
});

test('confinement: links out of the tree are never followed', (t) => {
  const base = tmp();
  exportTree(createMachine('arm64-smmuv3'), path.join(base, 'x'));
  const sys = path.join(base, 'x', 'sys');
  fs.rmSync(path.join(sys, 'bus/pci/devices/0000:01:00.0'));
  fs.symlinkSync('/etc', path.join(sys, 'bus/pci/devices/0000:01:00.0'));
  t.throws(() => recordSys(dirSource(sys)), { instanceOf: RecordError, message: /absolute link, not followed/ });
  fs.rmSync(path.join(sys, 'bus/pci/devices/0000:01:00.0'));
  fs.symlinkSync('../../../../../../etc', path.join(sys, 'bus/pci/devices/0000:01:00.0'));
  t.throws(() => recordSys(dirSource(sys)), { instanceOf: RecordError, message: /leaves \/sys, not followed/ });
  fs.rmSync(base, { recursive: true, force: true });
});

test('bounded: file, byte and time limits stop the recording with a clear error', (t) => {
  const base = tmp();
  exportTree(createMachine('intel-vtd-server'), path.join(base, 'x'));
  const sys = path.join(base, 'x', 'sys');
  t.throws(() => recordSys(dirSource(sys, sys, { maxFiles: 10 })), { instanceOf: RecordError, message: /more than 10 files read \(limit: 10 files; raise it with limits\.maxFiles\)/ });
  t.throws(() => recordSys(dirSource(sys, sys, { maxBytes: 2000 })), { instanceOf: RecordError, message: /more than 2000 bytes read in total \(limit: 2000 bytes; raise it with limits\.maxBytes\)/ });
  t.throws(() => recordSys(dirSource(sys, sys, { maxFileBytes: 100 })), { instanceOf: RecordError, message: /larger than 100 bytes, the attribute size limit \(limit: 100 bytes; raise it with limits\.maxFileBytes\)/ });
  t.throws(() => recordSys(dirSource(sys, sys, { maxFileBytes: 100, raise: { maxFileBytes: 'X=N' } })), { instanceOf: RecordError, message: /raise it with X=N\)/ });
  t.throws(() => recordSys(dirSource(sys, sys, { maxMillis: -1 })), { instanceOf: RecordError, message: /longer than -1 ms/ });
  fs.rmSync(base, { recursive: true, force: true });
});

test("this machine's /sys: records what there is, says when there is no IOMMU, and the modelled attributes replay exactly", (t) => {
  if (!fs.existsSync('/sys/bus/pci/devices')) return t.pass('no /sys/bus/pci on this machine');
  const opened = openRecordRoot(undefined);
  const rec = recordSys(opened.source, opened.options);
  t.is(rec.kernelFrom, 'option');
  t.is(rec.doc.kernel, os.release());
  const groups = fs.readdirSync('/sys/kernel/iommu_groups');
  if (!groups.length) t.true(rec.notes.some((n) => /no IOMMU/.test(n.message)));
  // What the topology models must be exact; config/resource bytes and driver dirs depend on the
  // kernel config and are reported (see the report), never silently dropped.
  const exact = /\/(vendor|device|class|revision|subsystem_vendor|subsystem_device|irq|numa_node|driver_override|modalias|driver|iommu|iommu_group|reserved_regions|type)$/;
  const bad = rec.differences.filter((d) => exact.test(d.path) && !d.path.startsWith('/sys/bus/pci/drivers/'));
  t.deepEqual(bad, []);
  t.log(`real /sys: ${rec.topology.devices.length} devices, ${groups.length} groups; replay differs at ${rec.differences.length} paths`);
});
