// SPDX-License-Identifier: GPL-2.0-only
/**
 * The shipped ABI prototypes, each with a consumer — what a VMM would gain or lose — and the
 * validator and conformance suites run against a machine with the plugin loaded.
 */
import test from 'ava';
import * as path from 'node:path';
import {
  VFIO_TYPE1v2_IOMMU,
  VfioContainerHandle,
  VfioGroupHandle,
  checkGuest,
  createMachine,
  diffAbi,
  hostViewOfMachine,
  isKernelError,
  loadPluginFile,
  resolveGuest,
  resolveHost,
  schemaWithPlugins,
  validateSysfsTree,
  violations,
  vmm,
} from '../lib/index';
import type { Machine, SysfsFs, TopologyInput } from '../lib/index';
import { runPrograms } from '../kselftest/run_lib';
import { decode } from '../lib/abi';
import { VFIO_IOMMU_TYPE1_INFO_CAP_MSI_RESV, vfio_iommu_type1_info_cap_msi_resv } from './vfio_msi_resv_cap';

const P = (n: string) => loadPluginFile(path.join(__dirname, `${n}.ts`));
const PLUGINS = ['usable_regions', 'iommu_reserved_regions', 'vfio_msi_resv_cap', 'msi_placement'];
const parseLines = (text: string) => text.split('\n').filter(Boolean).map((l) => l.split(' ').slice(0, 2).map((x) => BigInt(x)) as [bigint, bigint]);
const fsOf = (m: Machine) => m.fs as unknown as SysfsFs;

for (const name of PLUGINS) {
  test(`${name}: its sysfs-schema entries validate, and the whole tree conforms with the plugin loaded`, (t) => {
    const p = P(name);
    t.true(p.summary.length > 10);
    for (const host of ['intel-vtd-server', 'amd-epyc', 'arm64-smmuv3', 'arm64-msi-bypass']) {
      const m = createMachine(host, { plugins: [p] });
      const found = violations(validateSysfsTree(fsOf(m), '/sys', { kernelVersion: m.kernel.release, schema: schemaWithPlugins([p]) }));
      t.deepEqual(found.map((f) => `${f.path}: ${f.rule}: ${f.message}`), [], host);
    }
  });
}

test('usable_regions without its schema entry: the validator names the unknown attribute', (t) => {
  const m = createMachine('intel-vtd-server', { plugins: [{ ...P('usable_regions'), sysfsSchema: undefined }] });
  const found = violations(validateSysfsTree(fsOf(m), '/sys', { kernelVersion: m.kernel.release }));
  t.true(found.some((f) => f.path === '/sys/kernel/iommu_groups/0/usable_regions' && f.rule === 'unknown-attribute'));
});

test('the conformance suites pass with each prototype loaded, except where the variant changes what a test encodes', async (t) => {
  const root = path.join(__dirname, '..', 'kselftest');
  for (const name of PLUGINS) {
    const r = await runPrograms({ root, passthrough: ['--host', 'arm64-msi-bypass', '--plugin', path.join(__dirname, `${name}.ts`)], env: {} });
    const failed = r.programs.flatMap((p) => (p.result?.results ?? []).filter((x) => x.exitCode !== 0 && x.exitCode !== 4).map((x) => `${p.program.name} :: ${x.name}`));
    if (name === 'msi_placement') t.deepEqual(failed, ['iommu/resv_platform_test :: global.arm_sw_msi_window'], 'a consumer that hard-codes MSI_IOVA_BASE 0x8000000 breaks: the variant is visible');
    else t.deepEqual(failed, [], name);
  }
});

test('usable_regions consumer: a VMM gains the aperture limit that reserved_regions cannot show, before any VFIO fd', (t) => {
  // A 39-bit IOMMU: 512 GiB of IOVA. The reserved list says nothing about that.
  const src = resolveHost('intel-vtd-server').source as TopologyInput & { iommus: object[] };
  const m = createMachine({ ...src, iommus: [{ driver: 'intel-iommu', addressWidth: 39 }] } as TopologyInput, { plugins: [P('usable_regions')] });
  const group = 7;
  const reserved = String(m.fs.readFileSync(`/sys/kernel/iommu_groups/${group}/reserved_regions`, 'utf8'));
  const usable = parseLines(String(m.fs.readFileSync(`/sys/kernel/iommu_groups/${group}/usable_regions`, 'utf8')));
  const ramAt600G = [600n << 30n, (601n << 30n) - 1n] as const;
  const byReserved = !parseLines(reserved).some(([s, l]) => s <= ramAt600G[1] && ramAt600G[0] <= l);
  const byUsable = usable.some(([s, l]) => s <= ramAt600G[0] && ramAt600G[1] <= l);
  t.true(byReserved, 'a reserved_regions consumer accepts RAM at 600 GiB');
  t.false(byUsable, 'a usable_regions consumer refuses it');
  // VFIO agrees with usable_regions.
  const c = VfioContainerHandle.open(m);
  VfioGroupHandle.open(m, group).setContainer(c);
  c.setIommu(VFIO_TYPE1v2_IOMMU);
  t.deepEqual(c.iovaRanges().map((r) => [r.start, r.last]), usable);
  const page = m.sys.mmap(4096);
  t.throws(() => c.map({ iova: ramAt600G[0], size: 4096n, vaddr: page }), { code: 'EINVAL' } as never);
  // What it loses: on a kernel without the prototype the file is absent; the VMM needs the old path too.
  t.false(createMachine('intel-vtd-server').fs.existsSync(`/sys/kernel/iommu_groups/${group}/usable_regions`));
});

test('iommu_reserved_regions consumer: gains the unit-wide regions before a device exists; loses per-device firmware regions', (t) => {
  const m = createMachine('amd-epyc', { plugins: [P('iommu_reserved_regions')] });
  const unit = parseLines(String(m.fs.readFileSync('/sys/class/iommu/ivhd0/reserved_regions', 'utf8')));
  // Every group has at least the unit's regions: a VMM can plan for a device not yet plugged.
  for (const g of m.host.groups()) {
    const grp = parseLines(String(m.fs.readFileSync(`/sys/kernel/iommu_groups/${g.id}/reserved_regions`, 'utf8')));
    for (const u of unit) t.true(grp.some(([s, l]) => s === u[0] && l === u[1]), `group ${g.id} has ${u[0].toString(16)}`);
  }
  // But the ConnectX group's IVMD unity map (direct, 0xd5000000) is only in the group's file.
  const cx = parseLines(String(m.fs.readFileSync('/sys/kernel/iommu_groups/3/reserved_regions', 'utf8')));
  t.true(cx.some(([s]) => s === 0xd5000000n));
  t.false(unit.some(([s]) => s === 0xd5000000n), 'a VMM reading only the unit file misses the IVMD direct range');
});

test('vfio_msi_resv_cap consumer: the container reports the MSI window, but only once a group is attached — too late after a migration', (t) => {
  const m = createMachine('arm64-smmuv3', { plugins: [P('vfio_msi_resv_cap')] });
  const c = VfioContainerHandle.open(m);
  // Before any group: no IOMMU set, GET_INFO is refused — no answer while the guest layout is chosen.
  let code: string | undefined;
  try {
    c.info();
  } catch (e) {
    code = isKernelError(e) ? e.code : String(e);
  }
  t.truthy(code, 'no GET_INFO without an attached group');
  VfioGroupHandle.open(m, 4).setContainer(c);
  c.setIommu(VFIO_TYPE1v2_IOMMU);
  const cap = c.info().caps.find((x) => x.id === VFIO_IOMMU_TYPE1_INFO_CAP_MSI_RESV)!;
  const v = decode(vfio_iommu_type1_info_cap_msi_resv, cap.bytes);
  t.deepEqual([v.start, v.size], [0x8000000n, 0x100000n]);
  // The sysfs answer is there before: the admission check works without a container.
  t.false(checkGuest(hostViewOfMachine(createMachine('arm64-smmuv3')), vmm.parseGuestMap('regions:\n  - { name: ram, kind: ram, start: 0, size: 1G }\n', 'g.yaml'), [4]).ok);
  // On x86 (hardware MSI, no cookie) the capability is simply absent.
  const x = createMachine('intel-vtd-server', { plugins: [P('vfio_msi_resv_cap')] });
  const cx = VfioContainerHandle.open(x);
  VfioGroupHandle.open(x, 7).setContainer(cx);
  cx.setIommu(VFIO_TYPE1v2_IOMMU);
  t.false(cx.info().caps.some((k) => k.id === VFIO_IOMMU_TYPE1_INFO_CAP_MSI_RESV));
});

test('msi_placement variant: guests with RAM at 0 gain (0x8000000 is free), QEMU virt guests above ~3 GiB lose (RAM at 1 GiB reaches 0xfee00000)', (t) => {
  const stock = hostViewOfMachine(createMachine('arm64-smmuv3'));
  const variant = hostViewOfMachine(createMachine('arm64-smmuv3', { plugins: [P('msi_placement')] }));
  const ramAt0 = vmm.parseGuestMap('regions:\n  - { name: ram, kind: ram, start: 0, size: 2G }\n', 'g.yaml');
  t.false(checkGuest(stock, ramAt0).ok);
  t.true(checkGuest(variant, ramAt0).ok);
  t.true(checkGuest(stock, resolveGuest('virt:8G')).ok);
  const lost = checkGuest(variant, resolveGuest('virt:8G'));
  t.false(lost.ok);
  t.is(lost.conflicts.find((c) => c.severity === 'error')!.overlap.start, 0xfee00000n);
  t.true(checkGuest(variant, resolveGuest('virt:2G')).ok, 'RAM 1..3 GiB stays below 0xfee00000');
  // The placement is msi-place's.
  const placed = vmm.placeMsiForHost(stock);
  t.deepEqual(variant.groups[4]!.reserved.find((r) => r.swMsi), { start: placed.window!.start, last: placed.window!.last, type: 'msi', swMsi: true, sources: variant.groups[4]!.reserved.find((r) => r.swMsi)!.sources });
});

test('diff-abi shows each prototype exactly: new files, changed regions, a new GET_INFO capability', (t) => {
  const u = diffAbi('arm64-smmuv3', [P('usable_regions')]);
  t.deepEqual(u.tree.map((c) => c.kind), u.tree.map(() => 'added'));
  t.true(u.tree.every((c) => c.path.endsWith('/usable_regions')));
  t.deepEqual(u.ioctls, []);
  const cap = diffAbi('arm64-smmuv3', [P('vfio_msi_resv_cap')]);
  t.deepEqual(cap.tree, []);
  t.true(cap.ioctls.some((c) => c.ioctl === `VFIO_IOMMU_GET_INFO cap id ${VFIO_IOMMU_TYPE1_INFO_CAP_MSI_RESV} v1` && c.before === '(absent)'));
  const place = diffAbi('arm64-smmuv3', [P('msi_placement')]);
  t.true(place.tree.some((c) => c.kind === 'changed' && c.path === '/sys/kernel/iommu_groups/4/reserved_regions' && c.after === '0x00000000fee00000 0x00000000fee00fff msi\n'));
  t.true(place.ioctls.some((c) => c.ioctl.startsWith('VFIO_IOMMU_GET_INFO cap id 1 ')), 'the IOVA ranges change with it');
});

test('a bad plugin is refused with the file and the reason', (t) => {
  t.throws(() => loadPluginFile(path.join(__dirname, 'no-such.ts')), { message: /no-such\.ts: no such file/ });
  t.throws(() => loadPluginFile(path.join(__dirname, '..', 'lib', 'vmm', 'size.ts')), { message: /exports no plugin/ });
});
