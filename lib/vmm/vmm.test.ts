// SPDX-License-Identifier: GPL-2.0-only
/**
 * The seed's scenarios (LPC 2016 guest MSI on arm64) and the VMM tools' promises: the one
 * usable-IOVA computation agrees with VFIO_IOMMU_GET_INFO after attach on every built-in host
 * and kernel profile; the admission check agrees with MAP_DMA; plan names the blocking host and
 * range; the AMD >= 1 TiB guest meets the HyperTransport hole and plan finds the layout QEMU 7.1
 * uses; guest map files are checked against their schema.
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { KERNEL_PROFILES } from '../kernel/profile';
import { builtinHostNames } from '../hosts';
import { createMachine, Machine } from '../machine';
import { VfioContainerHandle, VfioGroupHandle } from '../user/vfio';
import { VFIO_TYPE1v2_IOMMU } from '../uapi';
import { bindVfioPci } from '../testing/vfio';
import { iommufdInfo } from '../user/iommufd';
import { isKernelError } from '../errno';
import { IovaRange, range } from '../model/iova';
import { checkGuest } from './check';
import { GuestMapError, parseGuestMap } from './guest_map';
import { hostUsable, hostViewOfMachine, hostViewOfTopology } from './host_view';
import { planFleet } from './plan';
import { AMD_ABOVE_1TB_START, AMD_HT_START, buildPreset, parsePresetSpec, resolveGuest } from './presets';
import { placeMsiForHost, placeMsiWindow } from './msi_place';
import { GiB, MiB, TiB } from './size';
import { loadHost } from './fleet';
import { usableJson } from './json';
import { resolveHost } from '../hosts';

const hexr = (rs: readonly IovaRange[]) => rs.map((r) => `${r.start.toString(16)}-${r.last.toString(16)}`).join(' ');

/** Bind every device of the group to vfio-pci; false when VFIO will not take one (bridges). */
function takeGroup(m: Machine, id: number): boolean {
  const g = m.host.findGroup(id)!;
  for (const d of g.devices) if (d.driver !== 'vfio-pci' && bindVfioPci(m, d.bdf) < 0) return false;
  return m.fs.existsSync(`/dev/vfio/${id}`);
}

for (const host of builtinHostNames()) {
  for (const kernel of KERNEL_PROFILES) {
    test(`usable agrees with VFIO_IOMMU_GET_INFO after attach: ${host} on ${kernel}, each group alone and all together`, (t) => {
      const m = createMachine(host, { kernel });
      const view = hostViewOfMachine(m);
      const c = VfioContainerHandle.open(m);
      const attached: number[] = [];
      let compared = 0;
      for (const g of view.groups.filter((x) => x.translated)) {
        if (!takeGroup(m, g.id)) continue;
        // Alone: a fresh container.
        const solo = VfioContainerHandle.open(m);
        const gh = VfioGroupHandle.open(m, g.id);
        let err: string | undefined;
        try {
          gh.setContainer(solo);
          solo.setIommu(VFIO_TYPE1v2_IOMMU);
        } catch (e) {
          if (!isKernelError(e)) throw e;
          err = e.code;
        }
        if (g.notAssignable) {
          t.is(err, 'EINVAL', `group ${g.id}: usable says not assignable (${g.notAssignable}); VFIO must refuse it`);
        } else {
          t.is(err, undefined, `group ${g.id} attaches`);
          const info = solo.info();
          if (m.kernel.has('vfio_iova_range_cap')) t.is(hexr(info.iovaRanges ?? []), hexr(g.usable), `group ${g.id}`);
          else t.is(info.iovaRanges, undefined, 'no IOVA-range capability before 5.4');
          compared++;
        }
        gh.close();
        solo.close();
        if (!g.notAssignable) {
          const again = VfioGroupHandle.open(m, g.id);
          again.setContainer(c);
          if (!attached.length) c.setIommu(VFIO_TYPE1v2_IOMMU);
          attached.push(g.id);
        }
      }
      if (view.groups.some((g) => g.translated)) t.true(compared > 0, 'at least one group was compared');
      else t.is(m.host.units.length, 0, `kernel ${kernel} probes no IOMMU on ${host}: nothing to compare`);
      if (attached.length > 1 && m.kernel.has('vfio_iova_range_cap')) {
        const all = hostUsable({ ...view, groups: view.groups.filter((g) => attached.includes(g.id)) });
        t.is(hexr(c.info().iovaRanges ?? []), hexr(all), `groups ${attached.join(',')} in one container`);
      }
    });
  }
}

// iommufd's IOAS_IOVA_RANGES must report the same ranges as type1 and the tools.
test('usable agrees with IOMMU_IOAS_IOVA_RANGES: every group vfio-pci can take, bound through its cdevs and attached to an IOAS, on every built-in host built with CONFIG_IOMMUFD', (t) => {
  let compared = 0;
  for (const name of builtinHostNames()) {
    const src = resolveHost(name).source;
    const m = createMachine({ ...src, kconfig: { ...(src.kconfig ?? {}), CONFIG_IOMMUFD: true } }, { kernel: 'latest' });
    const h = hostViewOfMachine(m);
    for (const g of h.groups.filter((x) => x.translated && !x.notAssignable)) {
      if (!takeGroup(m, g.id)) continue;
      const want = hexr(g.usable);
      let got: string;
      try {
        got = hexr(iommufdInfo(m, g.id).iovaRanges);
      } catch (e) {
        // iommufd refuses a group that reports both a software and a hardware MSI window (arm64
        // with an MSI-bypass doorbell): there is nothing to compare, and the tools say so.
        t.true(isKernelError(e) && e.code === 'EINVAL', `${name} group ${g.id}: ${String(e)}`);
        t.true(g.reserved.some((r) => r.type === 'msi' && r.swMsi) && g.reserved.some((r) => r.type === 'msi' && !r.swMsi), `${name} group ${g.id}: refused, but it does not report both MSI windows`);
        continue;
      }
      t.is(got, want, `${name} group ${g.id}`);
      compared++;
    }
  }
  t.true(compared >= 15, `${compared} groups compared`);
});

test('seed: arm64 SMMUv3 — guest RAM over 0x8000000 conflicts with the software MSI window; RAM at 0x40000000 (QEMU virt) does not', (t) => {
  const h = hostViewOfMachine(createMachine('arm64-smmuv3'));
  const guest = parseGuestMap('name: ram-at-0\narch: aarch64\nregions:\n  - { name: ram, kind: ram, start: 0, size: 1G }\n', 'ram-at-0.yaml');
  const r = checkGuest(h, guest, [4]);
  t.false(r.ok);
  const c = r.conflicts.find((x) => x.severity === 'error')!;
  t.is(c.group, 4);
  t.is(c.region?.type, 'msi');
  t.true(c.region!.swMsi);
  t.deepEqual([c.overlap.start, c.overlap.last], [0x8000000n, 0x80fffffn]);
  t.regex(c.consequence, /software MSI window.*raises interrupts.*EINVAL/);
  t.true(checkGuest(h, resolveGuest('virt:8G'), [4]).ok);
});

test('check-guest agrees with MAP_DMA: every reported conflict is refused, the rest of the RAM maps', (t) => {
  const files: Record<string, string> = {
    ram0: 'regions:\n  - { name: ram, kind: ram, start: 0, size: 1G }\n',
    ramHigh: 'regions:\n  - { name: ram, kind: ram, start: 0xf0000000, size: 256M }\n',
  };
  for (const [host, spec, group] of [['arm64-smmuv3', 'ram0', 4], ['amd-epyc', 'x86-1t', 4], ['intel-vtd-server', 'ramHigh', 7]] as const) {
    const m = createMachine(host);
    const h = hostViewOfMachine(m);
    const guest = files[spec] ? parseGuestMap(files[spec]!, 'g.yaml') : resolveGuest(spec, { cpu: 'amd' });
    const r = checkGuest(h, guest, [group]);
    const c = VfioContainerHandle.open(m);
    VfioGroupHandle.open(m, group).setContainer(c);
    c.setIommu(VFIO_TYPE1v2_IOMMU);
    const page = m.sys.mmap(4096);
    const mapPage = (iova: bigint) => {
      try {
        c.map({ iova, size: 4096n, vaddr: page });
        c.unmap({ iova, size: 4096n });
        return 'ok';
      } catch (e) {
        if (!isKernelError(e)) throw e;
        return e.code;
      }
    };
    const errs = r.conflicts.filter((x) => x.severity === 'error');
    t.true(errs.length > 0, `${host} ${spec}: a conflict`);
    for (const x of errs) {
      t.is(mapPage(x.overlap.start), 'EINVAL', `${host}: first page of the conflict ${x.overlap.start.toString(16)}`);
      t.is(mapPage(x.overlap.last - 4095n), 'EINVAL', `${host}: last page of the conflict`);
    }
    for (const g of guest.regions.filter((x) => x.kind === 'ram')) {
      // The pages just outside each conflict, inside the RAM range, map.
      for (const x of errs.filter((e) => e.guest === g)) {
        if (x.overlap.start > g.start) t.is(mapPage(x.overlap.start - 4096n), 'ok');
        if (x.overlap.last < g.last) t.is(mapPage(x.overlap.last + 1n), 'ok');
      }
    }
  }
});

test('seed: started on a host without an MSI-bypass doorbell, migrated to one with it — plan names the blocking host and range', (t) => {
  const a = hostViewOfMachine(createMachine('arm64-smmuv3'));
  const b = hostViewOfMachine(createMachine('arm64-msi-bypass'));
  // The VM's layout was chosen on host A, where it is fine.
  t.true(checkGuest(a, resolveGuest('virt:16G')).ok);
  const p = planFleet([a, b], { ram: [16n * GiB, 4n * GiB] });
  const [big, small] = p.layouts;
  t.is(big!.layout, undefined);
  const blocked = big!.conventionalConflicts;
  t.is(blocked.length, 1);
  t.deepEqual(blocked[0]!.blocker.hosts.map((h) => h.name), ['arm64-msi-bypass']);
  t.deepEqual([blocked[0]!.overlap.start, blocked[0]!.overlap.last], [0x202110000n, 0x20211ffffn]);
  t.is(blocked[0]!.blocker.type, 'msi');
  t.true(big!.explanation.some((e) => /0x40000000.*no option moves it/.test(e)));
  t.true(big!.explanation.some((e) => /largest RAM .* 7\.03 GiB/.test(e)));
  t.truthy(small!.layout, '4 GiB ends below the doorbell');
  // The common window excludes both hosts' regions.
  t.false(p.common.some((r) => r.start <= 0x8000000n && 0x8000000n <= r.last));
  t.false(p.common.some((r) => r.start <= 0x202110000n && 0x202110000n <= r.last));
});

test('seed: an AMD guest of 1 TiB and more meets the HyperTransport hole; plan finds the layout QEMU >= 7.1 uses', (t) => {
  const amd = hostViewOfMachine(createMachine('amd-epyc'));
  const old = checkGuest(amd, resolveGuest('q35:2T,machine=7.0', { cpu: 'amd' }), [4]);
  t.false(old.ok);
  const ht = old.conflicts.find((c) => c.severity === 'error')!;
  t.is(ht.region?.type, 'reserved');
  t.deepEqual([ht.overlap.start, ht.overlap.last], [AMD_HT_START, AMD_ABOVE_1TB_START - 1n]);
  // QEMU 7.1's own relocation avoids it.
  const q71 = resolveGuest('q35:2T', { cpu: 'amd' });
  t.is(q71.regions.find((r) => r.name === 'ram-above-4g')!.start, AMD_ABOVE_1TB_START);
  t.deepEqual(checkGuest(amd, q71, [4]).conflicts.filter((c) => c.severity === 'error'), []);
  // And plan proposes it from the conventional (unrelocated) layout.
  const p = planFleet([amd], { ram: [2n * TiB], vmm: 'x86-1t' });
  const l = p.layouts[0]!;
  t.truthy(l.layout);
  t.is(l.moves[0]!.region, 'ram-above-4g');
  t.is(l.moves[0]!.to.start, AMD_ABOVE_1TB_START);
  t.regex(l.how.join('\n'), /QEMU >= 7\.1 .* enforce_amd_1tb_hole/);
  t.true(checkGuest(amd, l.layout!, [4]).conflicts.every((c) => c.severity !== 'error'));
});

test('presets follow QEMU and cloud-hypervisor: the q35 and pc splits, virt at 0x40000000, cloud-hypervisor 3 GiB', (t) => {
  const ram = (spec: string) => buildPreset(parsePresetSpec(spec)).regions.filter((r) => r.kind === 'ram').map((r) => [r.start, r.last - r.start + 1n]);
  t.deepEqual(ram('q35:2G'), [[0n, 2n * GiB]]);
  t.deepEqual(ram('q35:0xb0000000'), [[0n, 2n * GiB], [4n * GiB, 0xb0000000n - 2n * GiB]]);
  t.deepEqual(ram('q35:2816M'), [[0n, 2n * GiB], [4n * GiB, 768n * MiB]], 'ram_size >= 0xb0000000: lowmem 2 GiB');
  t.deepEqual(ram('q35:2560M'), [[0n, 2560n * MiB]], 'below 0xb0000000: all below 4 GiB');
  t.deepEqual(ram('pc:3G'), [[0n, 3n * GiB]], 'pc: below 3.5 GiB all low');
  t.deepEqual(ram('pc:4G'), [[0n, 3n * GiB], [4n * GiB, GiB]], 'pc -m 4G: 3072M low, 1024M high (pc_piix.c example)');
  t.deepEqual(ram('pc:4G,max-ram-below-4g=2G'), [[0n, 2n * GiB], [4n * GiB, 2n * GiB]]);
  t.deepEqual(ram('virt:8G'), [[GiB, 8n * GiB]]);
  t.deepEqual(ram('cloud-hypervisor:8G'), [[0n, 3n * GiB], [4n * GiB, 5n * GiB]]);
  t.deepEqual(ram('cloud-hypervisor-arm64:8G'), [[GiB, 0xfc000000n - GiB], [4n * GiB, 8n * GiB - (0xfc000000n - GiB)]]);
  // AMD: relocation only when the max used GPA reaches the HT start (1008 GiB incl. the 32 GiB hole64).
  const high = (spec: string) => buildPreset(parsePresetSpec(spec)).regions.find((r) => r.name === 'ram-above-4g')!.start;
  t.is(high('q35:512G,cpu=amd'), 4n * GiB);
  t.is(high('q35:1000G,cpu=amd'), AMD_ABOVE_1TB_START, '4G + 998G + 32G hole64 reaches 0xfd00000000');
  t.is(high('q35:1000G,cpu=intel'), 4n * GiB);
  t.is(high('q35:1000G,cpu=amd,machine=7.0'), 4n * GiB);
  t.throws(() => parsePresetSpec('q35:16G,frob=1'), { message: /unknown option "frob=1" \(options: cpu, machine, hole64, max-ram-below-4g\)/ });
  t.throws(() => parsePresetSpec('virt:7'), { message: /not a multiple of 2 MiB/ });
});

test('guest map files: the schema and the semantic checks name the file and the place', (t) => {
  const bad = (text: string, re: RegExp) => {
    const e = t.throws(() => parseGuestMap(text, 'vm.yaml'), { instanceOf: GuestMapError });
    t.regex(e!.message, re);
  };
  bad('regions: []\n', /vm\.yaml: \/regions: must NOT have fewer than 1 items/);
  bad('regions:\n  - { name: a, kind: rom, start: 0, size: 1G }\n', /\/regions\/0\/kind: must be equal to one of the allowed values/);
  bad('regions:\n  - { name: a, kind: ram, start: 0 }\n', /\/regions\/0: give exactly one of "size" and "end"/);
  bad('regions:\n  - { name: a, kind: ram, start: 0, size: 1G, colour: red }\n', /unknown property "colour"/);
  bad('regions:\n  - { name: a, kind: ram, start: 0, size: 2G }\n  - { name: b, kind: ram, start: 1G, size: 1G }\n', /region "b" \(0x40000000\.\.0x7fffffff\) overlaps "a"/);
  bad('regions:\n  - { name: a, kind: device, start: 0, size: 1G }\n', /no region of kind "ram"/);
  bad('regions:\n  - { name: a, kind: ram, start: 0xffffffffffffffff, size: 2 }\n', /ends past the 64-bit address space/);
  bad('regions: [', /not valid YAML/);
  const ok = parseGuestMap('regions:\n  - { name: hi, kind: ram, start: 4G, end: 0x1ffffffff }\n  - { name: lo, kind: ram, start: 0, size: "1.5G" }\n', 'vm.yaml');
  t.deepEqual(ok.regions.map((r) => [r.name, r.start, r.last]), [['lo', 0n, 0x5fffffffn], ['hi', 4n * GiB, 0x1ffffffffn]]);
});

test('msi-place: 0xfee00000 where free; the deterministic fallback below 4 GiB names what blocks it; the size follows doorbells and pages', (t) => {
  const free = placeMsiWindow({ platform: [], doorbells: 1, pageSize: 4096n });
  t.deepEqual(free.window, range(0xfee00000n, 0xfee00fffn));
  const blocked = placeMsiWindow({ platform: [{ start: 0xf0000000n, last: 0xffffffffn, type: 'reserved', where: 'group 1' }], doorbells: 20, pageSize: 0x10000n });
  t.is(blocked.size, 0x200000n, '20 × 64 KiB → 2 MiB');
  t.is(blocked.how, 'fallback');
  t.deepEqual(blocked.window, range(0xefe00000n, 0xefffffffn), 'the highest 2 MiB-aligned free window below the blocker');
  t.regex(blocked.reasoning.join('\n'), /collides with group 1 0xf0000000\.\.0xffffffff \(reserved\)/);
  t.regex(blocked.reasoning.join('\n'), /room for 16 doorbells of 64 KiB — too small for 20/);
  t.is(placeMsiWindow({ platform: [{ start: 0n, last: 0xffffffffn, type: 'reserved', where: 'x' }], doorbells: 1, pageSize: 4096n }).how, 'none');
  const x86 = placeMsiForHost(hostViewOfMachine(createMachine('intel-vtd-server')));
  t.true(x86.hardwareFixed);
  const arm = placeMsiForHost(hostViewOfMachine(createMachine('arm64-msi-bypass')));
  t.false(arm.hardwareFixed);
  t.is(arm.doorbells, 1, 'one ITS in the topology');
  t.deepEqual(arm.current.map((c) => c.kind), ['software', 'hardware']);
});

test('plan reads topology files, built-in names and usable --json summaries alike, and folds identical files', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iommu-emu-plan-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const yaml = path.join(dir, 'a.yaml');
  fs.copyFileSync(path.join(__dirname, '..', 'hosts', 'amd-epyc.yaml'), yaml);
  const summary = path.join(dir, 'b.json');
  fs.writeFileSync(summary, JSON.stringify(usableJson(hostViewOfMachine(createMachine('amd-epyc')))));
  const cache = new Map();
  const fromYaml = loadHost(yaml, { cache });
  const fromJson = loadHost(summary, { cache });
  const fromName = loadHost('amd-epyc', { cache });
  t.is(hexr(hostUsable(fromYaml)), hexr(hostUsable(fromJson)));
  t.is(hexr(hostUsable(fromYaml)), hexr(hostUsable(fromName)));
  const before = cache.size;
  t.is(loadHost(yaml, { cache }).groups, fromYaml.groups, 'same bytes: the same view, not parsed again');
  t.is(cache.size, before);
  // Summaries of one host kind under other names share their parsed groups.
  const other = path.join(dir, 'c.json');
  fs.writeFileSync(other, JSON.stringify({ ...usableJson(hostViewOfMachine(createMachine('amd-epyc'))), host: 'amd-epyc-2' }));
  const renamed = loadHost(other, { cache });
  t.is(renamed.name, 'amd-epyc-2');
  t.is(renamed.groups, fromJson.groups);
  t.is(renamed.signature, fromJson.signature);
  const p = planFleet([fromYaml, fromJson], { ram: [16n * GiB] });
  t.is(p.blockers.find((b) => b.start === AMD_HT_START)!.hosts.length, 2);
  t.is(hexr(hostUsable(hostViewOfTopology(resolveHost('amd-epyc'), 'x'))), hexr(hostUsable(fromName)));
});
