// SPDX-License-Identifier: GPL-2.0-only
/**
 * Where each platform's reserved regions come from, checked on any tree: the IOMMU family is
 * read from the unit a group's devices link to (`dmar*`, `ivhd*`, `smmu3.*`), the device kind
 * from its PCI class. A host without the hardware a rule needs SKIPs that test.
 * @see shared/reference/kernel-sysfs-abi.md §3
 */
import { suite, kernelAtLeast, kernelIn, needGroups, type SuiteT } from '../lib/suite';
import {
  PCI_BASE_CLASS_DISPLAY,
  PCI_CLASS_BRIDGE_ISA,
  PCI_CLASS_SERIAL_USB,
  regionLine,
  unitFamily,
  type UnitFamily,
} from '../lib/sysfs';

const h = suite('resv_platform_test');

/** IOAPIC_RANGE_* (intel/iommu.c), MSI_RANGE_* (amd/iommu.c) */
const X86_MSI = regionLine(0xfee00000n, 0xfeefffffn, 'msi');
/** HT_RANGE_* (amd/iommu.c) */
const AMD_HT = regionLine(0xfd00000000n, 0xffffffffffn, 'reserved');
/** MSI_IOVA_BASE / MSI_IOVA_LENGTH (arm-smmu-v3.h, virtio-iommu.c) */
const ARM_SW_MSI = regionLine(0x8000000n, 0x8000000n + 0x100000n - 1n, 'msi');

function groupsOf(t: SuiteT, family: UnitFamily): string[] {
  const out = needGroups(t).filter(id => t.sysfs.groupUnits(id).some(u => unitFamily(u) === family));
  if (out.length === 0) t.skip(`no groups behind an IOMMU of family ${family} on ${t.target.description}`);
  return out;
}

const lines = (t: SuiteT, id: string): string[] => t.sysfs.regions(id).map(r => r.line);

/** Member devices of a group with their PCI class (`class >> 8`). */
function members(t: SuiteT, id: string): { bdf: string; cls: number | undefined }[] {
  return t.sysfs.groupDevices(id).map(bdf => {
    const c = t.sysfs.pciClass(bdf);
    return { bdf, cls: c === undefined ? undefined : c >> 8 };
  });
}

h.test('x86_msi_window', t => {
  for (const family of ['intel', 'amd'] as const) {
    const ids = needGroups(t).filter(id => t.sysfs.groupUnits(id).some(u => unitFamily(u) === family));
    for (const id of ids) if (!t.expectTrue(lines(t, id).includes(X86_MSI))) t.log('%s group %s lacks %s', family, id, X86_MSI);
  }
  if (!needGroups(t).some(id => t.sysfs.groupUnits(id).some(u => ['intel', 'amd'].includes(unitFamily(u)))))
    t.skip(`no Intel or AMD IOMMU on ${t.target.description}`);
});

/** Before v6.13 every AMD group has the HyperTransport hole; after, all or none (a per-IOMMU feature bit). */
h.test('amd_ht_hole', t => {
  const ids = groupsOf(t, 'amd');
  const have = ids.filter(id => lines(t, id).includes(AMD_HT));
  if (kernelAtLeast(t, '6.13') && have.length === 0) return;
  for (const id of ids) if (!t.expectTrue(have.includes(id))) t.log('amd group %s lacks %s', id, AMD_HT);
});

h.test('arm_sw_msi_window', t => {
  for (const id of groupsOf(t, 'smmuv3')) if (!t.expectTrue(lines(t, id).includes(ARM_SW_MSI))) t.log('smmuv3 group %s lacks %s', id, ARM_SW_MSI);
});

/** virtio-iommu adds the software window only when the device reported no MSI region itself. */
h.test('virtio_msi_region', t => {
  for (const id of groupsOf(t, 'virtio')) {
    if (!t.expectTrue(t.sysfs.regions(id).some(r => r.type === 'msi'))) t.log('virtio group %s has no msi line', id);
  }
});

/** The 16 MiB floppy workaround on ISA bridges: none before v5.3, `direct` in v5.3–v5.4, `direct-relaxable` since. */
h.test('intel_isa_range', t => {
  const ids = groupsOf(t, 'intel').filter(id => members(t, id).some(m => m.cls === PCI_CLASS_BRIDGE_ISA));
  if (ids.length === 0) t.skip('no ISA bridge behind an Intel IOMMU');
  const want = kernelIn(t, '5.3', '5.5') ? 'direct' : 'direct-relaxable';
  for (const id of ids) {
    const isa = t.sysfs.regions(id).filter(r => r.start === 0n && r.end === 0xffffffn);
    if (!kernelAtLeast(t, '5.3')) {
      t.expectEq(0, isa.length);
      continue;
    }
    if (!t.expectEq(1, isa.length)) t.log('group %s: %j', id, lines(t, id));
    else t.expectStrEq(want, isa[0]!.type);
  }
});

/** RMRRs of USB and graphics devices are relaxable since v5.3: such groups never show `direct`. */
h.test('rmrr_relaxable_for_gpu_usb', t => {
  if (!kernelAtLeast(t, '5.3')) t.skip('direct-relaxable exists since v5.3');
  const ids = groupsOf(t, 'intel').filter(id => {
    const m = members(t, id);
    return m.length > 0 && m.every(d => d.cls === PCI_CLASS_SERIAL_USB || (d.cls !== undefined && d.cls >> 8 === PCI_BASE_CLASS_DISPLAY));
  });
  if (ids.length === 0) t.skip('no USB or graphics-only group behind an Intel IOMMU');
  let relaxable = 0;
  for (const id of ids) {
    for (const r of t.sysfs.regions(id)) {
      if (!t.expectStrNe('direct', r.type)) t.log('group %s: %s', id, r.line);
      if (r.type === 'direct-relaxable') relaxable++;
    }
  }
  t.log('%d direct-relaxable RMRR line(s) in %d USB/graphics group(s)', relaxable, ids.length);
});

/** Every group behind an IOMMU of one of these families has at least one msi line. */
h.test('msi_line_present', t => {
  const ids = needGroups(t).filter(id => t.sysfs.groupUnits(id).some(u => unitFamily(u) !== 'other'));
  if (ids.length === 0) t.skip('no groups behind a known IOMMU family');
  for (const id of ids) if (!t.expectTrue(t.sysfs.regions(id).some(r => r.type === 'msi'))) t.log('group %s: %j', id, lines(t, id));
});

export const main = h.main;
h.runIfMain(module);
