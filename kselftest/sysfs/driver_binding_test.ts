// SPDX-License-Identifier: GPL-2.0-only
/**
 * The PCI driver-core files a VFIO user drives by hand: driver_override, bind/unbind,
 * new_id/remove_id. Each rule is a row with the errno the kernel returns.
 * @see drivers/base/driver.c:driver_set_override, drivers/base/bus.c:bind_store, unbind_store
 * @see drivers/pci/pci-driver.c:new_id_store, remove_id_store
 * @see fs/sysfs/file.c:sysfs_kf_write
 * @see shared/reference/kernel-sysfs-abi.md §4.3–§4.5
 */
import { O_WRONLY } from '../../lib/index';
import { suite, needGroups, needMachine, needSys, type SuiteT } from '../lib/suite';
import { tryWriteAttr, writeAttr } from '../lib/attr';
import { NON_DMA_API_DRIVERS, tryBind, tryUnbind, unbind } from '../lib/pci';
import { SYS_PCI_DEVICES, SYS_PCI_DRIVERS } from '../lib/sysfs';
import type { Sys } from '../targets';

const h = suite('driver_binding_test');

const override = (bdf: string): string => `${SYS_PCI_DEVICES}/${bdf}/driver_override`;

/** A device bound to a DMA-API driver (i915, mlx5_core, ...), or SKIP. */
function boundDevice(t: SuiteT): { bdf: string; drv: string } {
  for (const bdf of t.sysfs.pciDevices()) {
    const drv = t.sysfs.pciDriver(bdf);
    if (drv !== undefined && !NON_DMA_API_DRIVERS.has(drv)) return { bdf, drv };
  }
  return t.skip('no device bound to a DMA-API driver');
}

/** Any driver other than `drv` that the tree lists. */
function otherDriver(t: SuiteT, drv: string): string {
  const o = t.sysfs.list(SYS_PCI_DRIVERS).find(d => d !== drv && d !== 'vfio-pci');
  return o ?? t.skip('only one driver registered');
}

h.test('driver_override_show', t => {
  const devs = t.sysfs.pciDevices();
  if (devs.length === 0) t.skip(`no PCI devices on ${t.target.description}`);
  for (const bdf of devs) {
    const s = t.sysfs.tryRead(override(bdf));
    if (s === undefined) continue;
    if (!t.expectTrue(/^(\(null\)|[^\n]+)\n$/.test(s))) t.log('%s: %j', bdf, s);
  }
});

interface OverrideRow {
  readonly name: string;
  readonly first?: string;
  readonly input: string | Uint8Array;
  readonly errno: string | null;
  /** What driver_override reads afterwards. */
  readonly shows: string;
}

const OVERRIDE_ROWS: readonly OverrideRow[] = [
  { name: 'set', input: 'vfio-pci\n', errno: null, shows: 'vfio-pci\n' },
  { name: 'set_without_newline', input: 'vfio-pci', errno: null, shows: 'vfio-pci\n' },
  { name: 'cut_at_first_newline', input: 'vfio-pci\nextra\n', errno: null, shows: 'vfio-pci\n' },
  { name: 'cut_at_nul', input: Buffer.from('pci-stub\0junk'), errno: null, shows: 'pci-stub\n' },
  { name: 'lone_newline_clears', first: 'vfio-pci\n', input: '\n', errno: null, shows: '(null)\n' },
  { name: 'nul_clears', first: 'vfio-pci\n', input: Buffer.from([0]), errno: null, shows: '(null)\n' },
  { name: 'zero_length_write_is_a_noop', first: 'vfio-pci\n', input: '', errno: null, shows: 'vfio-pci\n' },
  { name: 'page_size_minus_one_is_einval', input: 'x'.repeat(4095), errno: 'EINVAL', shows: '(null)\n' },
  { name: 'longest_accepted', input: 'x'.repeat(4094), errno: null, shows: `${'x'.repeat(4094)}\n` },
];

const ov = h.fixture<{ sys: Sys; bdf: string }>('driver_override', {
  setup(t) {
    const sys = needSys(t);
    const bdf = t.sysfs.pciDevices().find(b => t.sysfs.tryRead(override(b)) === '(null)\n');
    if (bdf === undefined) t.skip('no device with driver_override unset');
    return { sys, bdf: bdf! };
  },
});

for (const row of OVERRIDE_ROWS) {
  ov.test(row.name, (t, { sys, bdf }) => {
    if (row.first !== undefined) writeAttr(t, sys, override(bdf), row.first);
    const rc = tryWriteAttr(sys, override(bdf), row.input);
    if (row.errno === null) t.expectEq(row.input.length, rc);
    else t.expectErrno(row.errno, rc);
    t.expectStrEq(row.shows, t.sysfs.read(override(bdf)));
  });
}

/** kernfs hands each write(2) to store(), whatever the file position. */
ov.test('second_write_on_one_fd_stores_again', (t, { sys, bdf }) => {
  const fd = sys.open(override(bdf), O_WRONLY);
  t.assertLe(0, fd);
  t.expectEq(9, sys.write(fd, 'pci-stub\n'));
  const rc = sys.write(fd, 'vfio-pci\n');
  sys.close(fd);
  t.expectEq(9, rc);
  t.expectStrEq('vfio-pci\n', t.sysfs.read(override(bdf)));
});

/** Overriding does not unbind the current driver and binds nothing by itself. */
ov.test('override_does_not_rebind', t => {
  const sys = needSys(t);
  const { bdf, drv } = boundDevice(t);
  writeAttr(t, sys, override(bdf), 'vfio-pci\n');
  t.expectStrEq(drv, t.sysfs.pciDriver(bdf) ?? '(none)');
});

interface BindRow {
  readonly name: string;
  readonly run: (t: SuiteT, sys: Sys) => number;
  readonly errno: string | null;
}

const BIND_ROWS: readonly BindRow[] = [
  { name: 'unbind_unknown_device', run: (t, sys) => tryUnbind(sys, boundDevice(t).drv, '0000:ff:1f.7'), errno: 'ENODEV' },
  {
    name: 'unbind_from_other_driver',
    run: (t, sys) => {
      const { bdf, drv } = boundDevice(t);
      return tryUnbind(sys, otherDriver(t, drv), bdf);
    },
    errno: 'ENODEV',
  },
  { name: 'unbind_bound', run: (t, sys) => tryUnbind(sys, boundDevice(t).drv, boundDevice(t).bdf), errno: null },
  {
    name: 'unbind_without_newline',
    run: (t, sys) => {
      const { bdf, drv } = boundDevice(t);
      return tryWriteAttr(sys, `${SYS_PCI_DRIVERS}/${drv}/unbind`, bdf);
    },
    errno: null,
  },
  { name: 'bind_already_bound', run: (t, sys) => tryBind(sys, boundDevice(t).drv, boundDevice(t).bdf), errno: 'EBUSY' },
  { name: 'bind_unknown_device', run: (t, sys) => tryBind(sys, 'vfio-pci', '0000:ff:1f.7'), errno: 'ENODEV' },
  {
    name: 'bind_vfio_pci_without_override',
    run: (t, sys) => {
      const { bdf } = boundDevice(t);
      unbind(t, sys, bdf);
      return tryBind(sys, 'vfio-pci', bdf);
    },
    errno: 'ENODEV',
  },
  {
    name: 'bind_when_override_names_another_driver',
    run: (t, sys) => {
      const { bdf, drv } = boundDevice(t);
      unbind(t, sys, bdf);
      writeAttr(t, sys, override(bdf), 'vfio-pci\n');
      return tryBind(sys, drv, bdf);
    },
    errno: 'ENODEV',
  },
  {
    name: 'bind_vfio_pci_with_override',
    run: (t, sys) => {
      const { bdf } = boundDevice(t);
      unbind(t, sys, bdf);
      writeAttr(t, sys, override(bdf), 'vfio-pci\n');
      const rc = tryBind(sys, 'vfio-pci', bdf);
      t.expectStrEq('vfio-pci', t.sysfs.pciDriver(bdf) ?? '(none)');
      t.expectTrue(t.sysfs.exists(`${SYS_PCI_DRIVERS}/vfio-pci/${bdf}`));
      return rc;
    },
    errno: null,
  },
  {
    name: 'rebind_original_driver',
    run: (t, sys) => {
      const { bdf, drv } = boundDevice(t);
      unbind(t, sys, bdf);
      const rc = tryBind(sys, drv, bdf);
      t.expectStrEq(drv, t.sysfs.pciDriver(bdf) ?? '(none)');
      return rc;
    },
    errno: null,
  },
];

for (const row of BIND_ROWS) {
  h.test(row.name, t => {
    const sys = needSys(t);
    const rc = row.run(t, sys);
    if (row.errno === null) t.expectLt(0, rc);
    else t.expectErrno(row.errno, rc);
  });
}

interface IdRow {
  readonly name: string;
  readonly file: 'new_id' | 'remove_id';
  readonly first?: string;
  /** Driver: 'vfio-pci' (no id table) or 'host' (a DMA-API driver with a static table). */
  readonly drv: 'vfio-pci' | 'host';
  readonly input: (t: SuiteT) => string;
  readonly errno: string | null;
  readonly xfail?: string;
}

const ids = (t: SuiteT, bdf: string): string =>
  `${t.sysfs.read(`${SYS_PCI_DEVICES}/${bdf}/vendor`).trim().slice(2)} ${t.sysfs.read(`${SYS_PCI_DEVICES}/${bdf}/device`).trim().slice(2)}`;

const ID_ROWS: readonly IdRow[] = [
  { name: 'new_id_no_fields', file: 'new_id', drv: 'vfio-pci', input: () => '\n', errno: 'EINVAL' },
  { name: 'new_id_one_field', file: 'new_id', drv: 'vfio-pci', input: () => 'dead\n', errno: 'EINVAL' },
  { name: 'new_id_not_hex', file: 'new_id', drv: 'vfio-pci', input: () => 'xyz 1\n', errno: 'EINVAL' },
  { name: 'new_id_two_fields', file: 'new_id', drv: 'vfio-pci', input: () => 'dead beef\n', errno: null },
  { name: 'new_id_0x_prefix_any_case', file: 'new_id', drv: 'vfio-pci', input: () => '0xDEAD 0XBeEf\n', errno: null },
  { name: 'new_id_twice', file: 'new_id', drv: 'vfio-pci', first: 'dead beef\n', input: () => 'dead beef\n', errno: 'EEXIST' },
  { name: 'new_id_static_match', file: 'new_id', drv: 'host', input: t => `${ids(t, boundDevice(t).bdf)}\n`, errno: 'EEXIST' },
  {
    name: 'new_id_unknown_driver_data',
    file: 'new_id',
    drv: 'host',
    input: () => 'dead beef ffffffff ffffffff 0 0 1\n',
    errno: 'EINVAL',
  },
  { name: 'new_id_seven_fields_skip_exist_check', file: 'new_id', drv: 'vfio-pci', first: 'dead beef\n', input: () => 'dead beef ffffffff ffffffff 0 0 0\n', errno: null },
  { name: 'remove_id_one_field', file: 'remove_id', drv: 'vfio-pci', input: () => 'dead\n', errno: 'EINVAL' },
  { name: 'remove_id_absent', file: 'remove_id', drv: 'vfio-pci', input: () => 'dead beef\n', errno: 'ENODEV' },
  { name: 'remove_id_present', file: 'remove_id', drv: 'vfio-pci', first: 'dead beef\n', input: () => 'dead beef\n', errno: null },
  {
    name: 'remove_id_class_compared_under_given_mask',
    file: 'remove_id',
    drv: 'vfio-pci',
    first: 'dead beef ffffffff ffffffff 020000 ffff00\n',
    input: () => 'dead beef\n',
    errno: null,
  },
  {
    name: 'remove_id_class_mismatch_under_mask',
    file: 'remove_id',
    drv: 'vfio-pci',
    first: 'dead beef\n',
    input: () => 'dead beef ffffffff ffffffff 020000 ffff00\n',
    errno: 'ENODEV',
  },
];

for (const row of ID_ROWS) {
  h.test(row.name, t => {
    const sys = needSys(t);
    const drv = row.drv === 'vfio-pci' ? 'vfio-pci' : boundDevice(t).drv;
    const file = `${SYS_PCI_DRIVERS}/${drv}/${row.file}`;
    if (row.first !== undefined) writeAttr(t, sys, `${SYS_PCI_DRIVERS}/${drv}/new_id`, row.first);
    if (row.xfail) t.xfail(row.xfail);
    const input = row.input(t);
    const rc = tryWriteAttr(sys, file, input);
    if (row.errno === null) t.expectEq(input.length, rc);
    else t.expectErrno(row.errno, rc);
  });
}

/** new_id binds every unbound device the id now matches (driver_attach). */
h.test('new_id_binds_matching_unbound_devices', t => {
  const sys = needSys(t);
  needGroups(t);
  const { bdf } = boundDevice(t);
  unbind(t, sys, bdf);
  writeAttr(t, sys, `${SYS_PCI_DRIVERS}/vfio-pci/new_id`, `${ids(t, bdf)}\n`);
  t.expectStrEq('vfio-pci', t.sysfs.pciDriver(bdf) ?? '(none)');
  writeAttr(t, sys, `${SYS_PCI_DRIVERS}/vfio-pci/remove_id`, `${ids(t, bdf)}\n`);
  t.expectStrEq('vfio-pci', t.sysfs.pciDriver(bdf) ?? '(none)');
});

h.test('write_only_files', t => {
  const m = needMachine(t);
  for (const f of ['bind', 'unbind', 'new_id', 'remove_id']) {
    t.expectEq(0o200, t.sysfs.mode(`${SYS_PCI_DRIVERS}/vfio-pci/${f}`));
    t.expectErrno('EACCES', m.sys.open(`${SYS_PCI_DRIVERS}/vfio-pci/${f}`));
  }
});

export const main = h.main;
h.runIfMain(module);
