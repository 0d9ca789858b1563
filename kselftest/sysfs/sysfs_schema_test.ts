// SPDX-License-Identifier: GPL-2.0-only
/**
 * The whole tree against sysfs-schema/ (the ABI documents as data), one test per class of
 * rule, so a failure names what kind of ABI promise broke. Works on every target: the
 * emulated /sys, an exported or recorded directory, and this host's real /sys (read-only).
 * @see Documentation/ABI/testing/sysfs-kernel-iommu_groups, sysfs-class-iommu, sysfs-bus-pci
 */
import { VALIDATE_RULES, schemaWithPlugins, validateSysfsTree, type Finding, type RuleId, type SysfsFs } from '../../lib/index';
import { suite, kernelOf, type SuiteT } from '../lib/suite';

const h = suite('sysfs_schema_test');

const CLASSES: Readonly<Record<string, readonly RuleId[]>> = {
  attributes_present_and_known: ['missing-required', 'unknown-attribute', 'wrong-kind'],
  modes: ['wrong-mode'],
  kernel_version_gates: ['version-gate'],
  line_grammar: ['line-grammar', 'content-grammar', 'line-count'],
  reserved_regions_order: ['resv-unsorted', 'resv-unmerged', 'resv-end-before-start'],
  link_shapes: ['dangling-link', 'link-depth', 'link-target', 'link-escape'],
  backlinks: ['group-backlink', 'iommu-backlink', 'driver-backlink'],
  pci_identity: ['config-size', 'config-mismatch', 'modalias-mismatch'],
  readable: ['unreadable', 'read-cap'],
};

function findings(t: SuiteT): Finding[] {
  const sysRoot = t.sysfs.real('/sys');
  const plugins = t.target.machine?.plugins ?? [];
  const all = validateSysfsTree(t.target.fs as unknown as SysfsFs, sysRoot, { kernelVersion: kernelOf(t), ...(plugins.length ? { schema: schemaWithPlugins(plugins) } : {}) });
  const none = all.find(f => f.rule === 'no-iommu-groups');
  if (none) t.skip(`${t.target.description}: ${none.message}`);
  return all;
}

h.test('every_rule_is_classified', t => {
  const classified = new Set(Object.values(CLASSES).flat());
  for (const rule of Object.keys(VALIDATE_RULES)) {
    if (rule === 'no-iommu-groups') continue;
    if (!t.expectTrue(classified.has(rule as RuleId))) t.log('rule %s has no test', rule);
  }
});

for (const [name, rules] of Object.entries(CLASSES)) {
  h.test(name, t => {
    for (const f of findings(t)) {
      if (!rules.includes(f.rule) || f.severity === 'info') continue;
      t.expectStrEq('', `${f.path}${f.line ? `:${f.line}` : ''}: ${f.rule}: ${f.message}`);
    }
  });
}

export const main = h.main;
h.runIfMain(module);
