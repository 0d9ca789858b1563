// SPDX-License-Identifier: GPL-2.0-only
/**
 * Writing /sys/kernel/iommu_groups/N/type, as `echo identity > type` does: one table of rules
 * with the errno each kernel returns, run under several kernel profiles.
 * @see drivers/iommu/iommu.c:iommu_group_store_type
 * @see shared/reference/kernel-sysfs-abi.md §1.5
 */
import { DEFAULT_HOST, createMachine, user, type Credentials, type Machine } from '../../lib/index';
import { suite, needMachine, type SuiteT } from '../lib/suite';
import { SysfsView } from '../lib/sysfs';
import { machineTarget } from '../targets';
import { tryWriteAttr } from '../lib/attr';
import { NON_DMA_API_DRIVERS, bind, findGroups, unbind, type GroupPick } from '../lib/pci';

const h = suite('type_store_test');

interface Kernel {
  /** undefined: the host's own (or --kernel). */
  readonly kernel: string | undefined;
}

interface Self {
  readonly m: Machine;
  readonly v: SysfsView;
  readonly at: (xy: string) => boolean;
}

const ks = h.fixture<Self, Kernel>('type_store', {
  setup(t, variant) {
    if (t.target.kind !== 'emulator') needMachine(t);
    const host = typeof t.options.host === 'string' ? t.options.host : DEFAULT_HOST;
    const m = variant.kernel === undefined ? needMachine(t) : createMachine(host, { kernel: variant.kernel });
    const v = variant.kernel === undefined ? t.sysfs : new SysfsView(machineTarget(m));
    if (!m.kernel.has('group_type_attr')) t.skip(`no type attribute before v4.19 (kernel ${m.kernel.release})`);
    const [maj, min] = m.kernel.release.split('.').map(Number) as [number, number];
    const at = (xy: string): boolean => {
      const [a, b] = xy.split('.').map(Number) as [number, number];
      return maj > a || (maj === a && min >= b);
    };
    return { m, v, at };
  },
});
ks.variant('host', { kernel: undefined });
ks.variant('v5_10', { kernel: '5.10' });
ks.variant('v5_11', { kernel: '5.11' });
ks.variant('v5_15', { kernel: '5.15' });
ks.variant('v6_3', { kernel: '6.3' });
ks.variant('v6_4', { kernel: '6.4' });

const typeOf = (s: Self, id: string): string => s.v.read(`/sys/kernel/iommu_groups/${id}/type`);
const typePath = (id: string): string => `/sys/kernel/iommu_groups/${id}/type`;

const soloDmaApi = (s: Self): GroupPick | undefined =>
  findGroups(s.v, d => d.length === 1 && d[0]!.driver !== undefined && !NON_DMA_API_DRIVERS.has(d[0]!.driver))[0];
const multi = (s: Self): GroupPick | undefined => findGroups(s.v, d => d.length > 1)[0];
const anyGroup = (s: Self): GroupPick | undefined => findGroups(s.v, () => true)[0];
const soloVfio = (s: Self): GroupPick | undefined => findGroups(s.v, d => d.length === 1 && d[0]!.driver === 'vfio-pci')[0];

function pick(t: SuiteT, g: GroupPick | undefined, what: string): GroupPick {
  if (!g) t.skip(`no ${what} group on this host`);
  return g as GroupPick;
}

/** Unbinds every member, as an administrator does before changing the domain type. */
function unbindAll(t: SuiteT, s: Self, g: GroupPick): Map<string, string> {
  const was = new Map<string, string>();
  for (const bdf of g.devices) {
    const drv = s.v.pciDriver(bdf);
    if (drv) was.set(bdf, drv);
    unbind({ ...t, sysfs: s.v } as SuiteT, s.m.sys, bdf);
  }
  return was;
}

/** What the store returns for a 0644 type file; before v5.11 the file is 0444 and open(O_WRONLY) fails. */
const writable = (s: Self): boolean => s.at('5.11');

interface Row {
  readonly name: string;
  readonly cred?: Credentials;
  readonly input: string;
  readonly group: (s: Self) => GroupPick | undefined;
  readonly groupKind: string;
  /** Writes `type` itself first: SKIPs where the file is read-only. */
  readonly prepare?: (t: SuiteT, s: Self, g: GroupPick) => void;
  /** A known emulator divergence on this kernel: the reason. */
  readonly xfail?: (s: Self) => string | undefined;
  /** errno name, or null for success (the whole buffer consumed). */
  readonly errno: (s: Self) => string | null;
  /** The type read back after a successful write. */
  readonly after?: (s: Self, before: string) => string;
}

const boot = (_s: Self, initial: string): string => initial;

/** Puts a group into DMA first; SKIPs where this kernel refuses that for the group. */
function toDma(t: SuiteT, s: Self, g: GroupPick): void {
  if (typeOf(s, g.id) === 'DMA\n') return;
  const rc = tryWriteAttr(s.m.sys, typePath(g.id), 'DMA\n');
  if (rc !== 4) t.skip(`cannot set up: writing DMA to group ${g.id} gives ${rc} on ${s.m.kernel.release}`);
}

const ROWS: readonly Row[] = [
  { name: 'unprivileged_user', cred: user(1000), input: 'identity\n', group: anyGroup, groupKind: 'any', errno: () => 'EACCES' },
  {
    name: 'dac_override_without_sys_admin',
    cred: user(1000, 1000, ['CAP_DAC_OVERRIDE']),
    input: 'identity\n',
    group: anyGroup,
    groupKind: 'any',
    errno: () => 'EACCES',
  },
  { name: 'bad_string_lowercase_dma', input: 'dma\n', group: anyGroup, groupKind: 'any', errno: s => (writable(s) ? 'EINVAL' : 'EACCES') },
  { name: 'bad_string_trailing_space', input: 'DMA \n', group: anyGroup, groupKind: 'any', errno: s => (writable(s) ? 'EINVAL' : 'EACCES') },
  { name: 'bad_string_two_newlines', input: 'identity\n\n', group: anyGroup, groupKind: 'any', errno: s => (writable(s) ? 'EINVAL' : 'EACCES') },
  { name: 'bad_string_prefix', input: 'ident', group: anyGroup, groupKind: 'any', errno: s => (writable(s) ? 'EINVAL' : 'EACCES') },
  {
    name: 'dma_api_driver_bound',
    input: 'identity\n',
    group: soloDmaApi,
    groupKind: 'single-device DMA-API-bound',
    errno: s => (!writable(s) ? 'EACCES' : s.at('6.4') ? 'EPERM' : 'EBUSY'),
  },
  {
    name: 'vfio_pci_bound_not_opened',
    input: 'identity\n',
    group: soloVfio,
    groupKind: 'single-device vfio-pci',
    errno: s => (!writable(s) ? 'EACCES' : s.at('6.4') ? null : 'EBUSY'),
    after: () => 'identity\n',
  },
  {
    name: 'unbound_identity_with_newline',
    input: 'identity\n',
    group: soloDmaApi,
    groupKind: 'single-device DMA-API-bound',
    prepare: (t, s, g) => void unbindAll(t, s, g),
    errno: s => (writable(s) ? null : 'EACCES'),
    after: () => 'identity\n',
  },
  {
    name: 'unbound_identity_without_newline',
    input: 'identity',
    group: soloDmaApi,
    groupKind: 'single-device DMA-API-bound',
    prepare: (t, s, g) => void unbindAll(t, s, g),
    errno: s => (writable(s) ? null : 'EACCES'),
    after: () => 'identity\n',
  },
  {
    name: 'unbound_auto_is_boot_default',
    input: 'auto\n',
    group: soloDmaApi,
    groupKind: 'single-device DMA-API-bound',
    prepare: (t, s, g) => {
      unbindAll(t, s, g);
      t.assertEq(9, tryWriteAttr(s.m.sys, typePath(g.id), 'identity\n'));
    },
    errno: s => (writable(s) ? null : 'EACCES'),
    after: boot,
  },
  {
    name: 'multi_device_unbound',
    input: 'identity\n',
    group: multi,
    groupKind: 'multi-device',
    prepare: (t, s, g) => void unbindAll(t, s, g),
    errno: s => (!writable(s) ? 'EACCES' : s.at('6.4') ? null : 'EINVAL'),
    after: () => 'identity\n',
  },
  {
    name: 'dma_to_dma_fq_in_place_with_driver_bound',
    input: 'DMA-FQ\n',
    group: soloDmaApi,
    groupKind: 'single-device DMA-API-bound',
    prepare: (t, s, g) => {
      const was = unbindAll(t, s, g);
      toDma(t, s, g);
      for (const [bdf, drv] of was) bind({ ...t, sysfs: s.v } as SuiteT, s.m.sys, drv, bdf);
    },
    errno: s => (!writable(s) ? 'EACCES' : s.at('5.15') ? null : 'EINVAL'),
    after: () => 'DMA-FQ\n',
  },
  /** v5.11–v6.3 refuse any multi-device group before looking at the request (recalled, §1.5 "Older semantics"). */
  {
    name: 'multi_device_dma_to_dma_fq',
    input: 'DMA-FQ\n',
    group: multi,
    groupKind: 'multi-device',
    prepare: (t, s, g) => {
      unbindAll(t, s, g);
      toDma(t, s, g);
    },
    errno: s => (s.at('6.4') ? null : 'EINVAL'),
    after: () => 'DMA-FQ\n',
  },
];

for (const row of ROWS) {
  ks.test(row.name, (t, s) => {
    const g = pick(t, row.group(s), row.groupKind);
    const initial = typeOf(s, g.id);
    if (row.prepare && !writable(s)) t.skip(`type is read-only before v5.11 (kernel ${s.m.kernel.release})`);
    row.prepare?.(t, s, g);
    const reason = row.xfail?.(s);
    if (reason !== undefined) t.xfail(reason);
    const before = typeOf(s, g.id);
    if (row.cred) s.m.setCredentials(row.cred);
    const rc = tryWriteAttr(s.m.sys, typePath(g.id), row.input);
    const want = row.errno(s);
    if (want === null) {
      t.expectEq(Buffer.byteLength(row.input), rc);
      t.expectStrEq(row.after ? row.after(s, initial) : before, typeOf(s, g.id));
    } else {
      t.expectErrno(want, rc);
      t.expectStrEq(before, typeOf(s, g.id));
    }
  });
}


/** The value reads back with one trailing newline, from the names the kernel prints. */
ks.test('read_format', (t, s) => {
  // A unit whose driver is newer than the kernel (virtio-iommu on x86 before 5.14) gives no groups.
  if (!s.v.groups().length) t.skip('no IOMMU group on this host under this kernel');
  const names = s.at('5.15') ? /^(DMA|DMA-FQ|identity|blocked|unmanaged|unknown)\n$/ : /^(DMA|identity|blocked|unmanaged|unknown)\n?$/;
  for (const id of s.v.groups()) if (!t.expectTrue(names.test(typeOf(s, id)))) t.log('group %s: %j', id, typeOf(s, id));
  t.expectEq(writable(s) ? 0o644 : 0o444, s.v.mode(typePath(s.v.groups()[0]!)));
});

export const main = h.main;
h.runIfMain(module);
