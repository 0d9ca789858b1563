// SPDX-License-Identifier: GPL-2.0-only
/**
 * /sys/kernel/iommu_groups/N/reserved_regions: the line format, the order and the merge rules
 * every kernel since v4.11 (v5.3 for adjacency) guarantees, on any tree.
 * @see drivers/iommu/iommu.c:iommu_group_show_resv_regions, iommu_insert_resv_region
 * @see shared/reference/kernel-sysfs-abi.md §1.2–§1.4
 */
import { suite, kernelAtLeast, needGroups, needMachine, type SuiteT } from '../lib/suite';
import { RESV_LINE, RESV_TYPES, parseRegions, type Region } from '../lib/sysfs';
import { tryReadAttr, writeAttr } from '../lib/attr';
import { createMachine } from '../../lib/index';

const h = suite('reserved_regions_test');

const rank = (r: Region): number => RESV_TYPES.indexOf(r.type);

function eachGroupRegions(t: SuiteT, fn: (id: string, regions: Region[], text: string) => void): void {
  for (const id of needGroups(t)) {
    const text = t.sysfs.read(`${t.sysfs.groupDir(id)}/reserved_regions`);
    let regions: Region[];
    try {
      regions = parseRegions(text);
    } catch {
      continue; // line_format names the line
    }
    fn(id, regions, text);
  }
}

h.test('line_format', t => {
  for (const id of needGroups(t)) {
    const text = t.sysfs.read(`${t.sysfs.groupDir(id)}/reserved_regions`);
    if (text === '') continue;
    if (!t.expectTrue(text.endsWith('\n'))) t.log('group %s: no newline at the end', id);
    const lines = text.split('\n').slice(0, -1);
    lines.forEach((l, i) => {
      if (!t.expectTrue(RESV_LINE.test(l))) t.log('group %s line %d: %j', id, i + 1, l);
    });
  }
});

h.test('end_not_before_start', t => {
  eachGroupRegions(t, (id, regions) => {
    for (const r of regions) if (!t.expectLe(r.start, r.end)) t.log('group %s: %s', id, r.line);
  });
});

h.test('type_names_exist_in_kernel', t => {
  const relaxable = kernelAtLeast(t, '5.3');
  eachGroupRegions(t, (id, regions) => {
    for (const r of regions) {
      if (r.type === 'direct-relaxable' && !t.expectTrue(relaxable)) t.log('group %s: %s before v5.3', id, r.line);
    }
  });
});

h.test('sorted_by_start_then_type', t => {
  const merged = kernelAtLeast(t, '5.3');
  eachGroupRegions(t, (id, regions) => {
    for (let i = 1; i < regions.length; i++) {
      const [a, b] = [regions[i - 1]!, regions[i]!];
      const ok = a.start < b.start || (a.start === b.start && (merged ? rank(a) <= rank(b) : true));
      if (!t.expectTrue(ok)) t.log('group %s: %s before %s', id, a.line, b.line);
    }
  });
});

/**
 * Same-type lines neither overlap nor (v5.3+) touch. `msi` is two enum types (MSI, SW_MSI)
 * that never merge with each other, so up to two `msi` lines may chain.
 */
h.test('same_type_merged', t => {
  const adjacent = kernelAtLeast(t, '5.3');
  eachGroupRegions(t, (id, regions) => {
    for (const type of RESV_TYPES) {
      const same = regions.filter(r => r.type === type);
      let chain: Region[] = [];
      let end = -2n;
      for (const r of same) {
        const joins = r.start <= end || (adjacent && r.start === end + 1n);
        chain = joins ? [...chain, r] : [r];
        if (r.end > end || !joins) end = r.end;
        if (!t.expectGe(type === 'msi' ? 2 : 1, chain.length)) t.log('group %s: unmerged %s', id, chain.map(c => c.line).join(' | '));
      }
    }
  });
});

h.test('rendered_on_every_read', t => {
  eachGroupRegions(t, (id, _regions, text) => {
    t.expectStrEq(text, t.sysfs.read(`${t.sysfs.groupDir(id)}/reserved_regions`));
  });
});

/** read(2) in small pieces gives the same bytes as one read (seq_file). */
h.test('partial_reads', t => {
  const m = needMachine(t);
  for (const id of needGroups(t)) {
    const p = `/sys/kernel/iommu_groups/${id}/reserved_regions`;
    const whole = tryReadAttr(m.sys, p);
    const fd = m.sys.open(p);
    t.assertLe(0, fd);
    let pieces = '';
    const buf = new Uint8Array(7);
    for (let n = m.sys.read(fd, buf); n > 0; n = m.sys.read(fd, buf)) pieces += Buffer.from(buf.subarray(0, n)).toString('latin1');
    m.sys.close(fd);
    t.expectStrEq(whole as string, pieces);
  }
});

h.test('not_writable', t => {
  const m = needMachine(t);
  for (const id of needGroups(t)) {
    t.expectEq(0o444, t.sysfs.mode(`/sys/kernel/iommu_groups/${id}/reserved_regions`));
    t.expectErrno('EACCES', m.sys.open(`/sys/kernel/iommu_groups/${id}/reserved_regions`, 1));
  }
});

/** A VFIO no-IOMMU group has no IOMMU behind its devices: its file is empty. */
h.test('empty_for_noiommu_groups', t => {
  for (const id of t.sysfs.groups()) {
    const name = t.sysfs.tryRead(`${t.sysfs.groupDir(id)}/name`);
    if (name === 'vfio-noiommu\n') t.expectStrEq('', t.sysfs.read(`${t.sysfs.groupDir(id)}/reserved_regions`));
  }
  const base = needMachine(t);
  const spare = base.host.devices.find(d => !d.unit && d.driver === null);
  if (!spare) t.skip(`${base.topology.name}: every device sits behind an IOMMU`);
  const m = createMachine(
    { ...base.topology, cmdline: { ...base.topology.cmdline, 'vfio.enable_unsafe_noiommu_mode': true } },
    { kernel: base.kernel.release },
  );
  const bdf = spare!.bdf;
  writeAttr(t, m.sys, `/sys/bus/pci/devices/${bdf}/driver_override`, 'vfio-pci\n');
  writeAttr(t, m.sys, '/sys/bus/pci/drivers/vfio-pci/bind', `${bdf}\n`);
  const link = String(m.fs.realpathSync(`/sys/bus/pci/devices/${bdf}/iommu_group`));
  t.expectStrEq('vfio-noiommu\n', String(m.fs.readFileSync(`${link}/name`)));
  t.expectStrEq('', String(m.fs.readFileSync(`${link}/reserved_regions`)));
});

export const main = h.main;
h.runIfMain(module);
