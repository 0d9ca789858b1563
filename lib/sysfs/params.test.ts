// SPDX-License-Identifier: GPL-2.0-only
/**
 * /sys/module: which modules are there (loadable vs built-in, per kernel), their attributes and
 * links, and the parameters' show/store rules (kstrtobool, kstrtouint, read-only perms), with
 * the stores reaching what the emulated kernel reads.
 */
import test from 'ava';
import { ERRNO, Errno } from '../errno';
import { createMachine } from '../machine';
import type { Machine } from '../machine';
import { encode } from '../abi';
import { IommufdFd } from '../testing/iommufd';
import { iommufdMachine, sysfsWrite } from '../testing/vfio';
import { VFIO_DEVICE_BIND_IOMMUFD, vfio_device_bind_iommufd } from '../uapi';
import { O_RDWR, O_WRONLY } from '../uapi/fcntl';
import { machine, nic, read } from '../testing/topo';
import { validateSysfsTree, violations } from './validate';

const E = (e: Errno) => -ERRNO[e][0];
const ls = (m: Machine, p: string) => (m.fs.readdirSync(p) as string[]).sort();
const P = '/sys/module/vfio_iommu_type1/parameters';

test('intel-vtd-server @ 6.8: the drivers’ modules and the VFIO stack are loaded, each with its attributes', (t) => {
  const m = createMachine('intel-vtd-server');
  t.deepEqual(ls(m, '/sys/module'), ['i2c_i801', 'i40e', 'i915', 'intel_uncore', 'irqbypass', 'spi_intel_pci', 'vfio', 'vfio_iommu_type1', 'vfio_pci', 'vfio_pci_core', 'xhci_pci']);
  t.deepEqual(ls(m, '/sys/module/vfio_pci'), ['coresize', 'drivers', 'holders', 'initsize', 'initstate', 'parameters', 'refcnt', 'taint', 'uevent']);
  t.is(read(m, '/sys/module/vfio_pci/initstate'), 'live\n');
  t.deepEqual(ls(m, '/sys/module/vfio/holders'), ['vfio_iommu_type1', 'vfio_pci', 'vfio_pci_core']);
  t.is(read(m, '/sys/module/vfio/refcnt'), '3\n');
  t.is(String(m.fs.readlinkSync('/sys/module/vfio/holders/vfio_pci')), '../../vfio_pci');
  t.is(String(m.fs.readlinkSync('/sys/module/vfio_pci/drivers/pci:vfio-pci')), '../../../bus/pci/drivers/vfio-pci');
  t.is(String(m.fs.readlinkSync('/sys/bus/pci/drivers/vfio-pci/module')), '../../../../module/vfio_pci');
  t.is(String(m.fs.readlinkSync('/sys/bus/pci/drivers/xhci_hcd/module')), '../../../../module/xhci_pci', 'driver and module names differ');
  t.deepEqual(ls(m, P), ['allow_unsafe_interrupts', 'disable_hugepages', 'dma_entry_limit']);
  t.deepEqual(ls(m, '/sys/module/vfio_pci/parameters'), ['disable_denylist', 'disable_idle_d3', 'disable_vga', 'enable_sriov', 'nointxmask'], 'ids has perm 0: no file');
  t.is((Number(m.fs.statSync('/sys/module/vfio_pci/parameters/disable_denylist').mode) & 0o777).toString(8), '444');
  t.is((Number(m.fs.statSync(`${P}/dma_entry_limit`).mode) & 0o777).toString(8), '644');
  t.deepEqual(violations(validateSysfsTree(m.fs, '/sys', { kernelVersion: '6.8', strict: true })), []);
});

test('built-in pcieport: no module directory or link before v6.15, both from v6.15', (t) => {
  const old = createMachine('intel-vtd-server', { kernel: '6.8' });
  t.false(old.fs.existsSync('/sys/module/pcieportdrv'));
  t.false(old.fs.existsSync('/sys/bus/pci/drivers/pcieport/module'));
  const now = createMachine('intel-vtd-server', { kernel: '6.15' });
  t.deepEqual(ls(now, '/sys/module/pcieportdrv'), ['drivers', 'uevent'], 'a built-in module has no initstate, refcnt or holders');
  t.is(String(now.fs.readlinkSync('/sys/bus/pci/drivers/pcieport/module')), '../../../../module/pcieportdrv');
});

test('kernel versions: vfio_pci_core from 5.15, vfio_virqfd until 6.2, dma_entry_limit from 5.1', (t) => {
  const mods = (kernel: string) => ls(createMachine('intel-vtd-server', { kernel }), '/sys/module').filter((n) => /vfio|irqbypass/.test(n));
  t.deepEqual(mods('5.10'), ['irqbypass', 'vfio', 'vfio_iommu_type1', 'vfio_pci', 'vfio_virqfd']);
  t.deepEqual(mods('5.15'), ['irqbypass', 'vfio', 'vfio_iommu_type1', 'vfio_pci', 'vfio_pci_core', 'vfio_virqfd']);
  t.deepEqual(mods('6.2'), ['irqbypass', 'vfio', 'vfio_iommu_type1', 'vfio_pci', 'vfio_pci_core']);
  t.false(createMachine('intel-vtd-server', { kernel: '5.0' }).fs.existsSync(`${P}/dma_entry_limit`));
  t.false(createMachine('arm64-smmuv3').fs.existsSync('/sys/module/vfio_pci/parameters/disable_vga'), 'CONFIG_VFIO_PCI_VGA is x86 only');
});

test('a topology names the module of a driver it knows better', (t) => {
  const m = machine({ modules: { i40e: { module: 'i40e_custom' }, 'my-drv': { builtin: true } }, devices: [nic('0000:00:03.0'), nic('0000:00:04.0', { driver: 'my-drv' })] });
  t.is(String(m.fs.readlinkSync('/sys/bus/pci/drivers/i40e/module')), '../../../../module/i40e_custom');
  t.false(m.fs.existsSync('/sys/module/my_drv'), 'built-in, no parameters, 6.8');
});

interface ParamCase {
  readonly name: string;
  readonly file: string;
  readonly data: string;
  readonly rc: number | 'all';
  readonly shows?: string;
}

// kernel/params.c:param_attr_store → param_set_bool (kstrtobool) / param_set_uint (kstrtouint)
const paramCases: ParamCase[] = [
  { name: 'bool: Y', file: `${P}/allow_unsafe_interrupts`, data: 'Y', rc: 'all', shows: 'Y\n' },
  { name: 'bool: 1 with a newline', file: `${P}/allow_unsafe_interrupts`, data: '1\n', rc: 'all', shows: 'Y\n' },
  { name: 'bool: "on"', file: `${P}/allow_unsafe_interrupts`, data: 'on', rc: 'all', shows: 'Y\n' },
  { name: 'bool: "yes please" (first character decides)', file: `${P}/allow_unsafe_interrupts`, data: 'yes please', rc: 'all', shows: 'Y\n' },
  { name: 'bool: n', file: `${P}/allow_unsafe_interrupts`, data: 'n', rc: 'all', shows: 'N\n' },
  { name: 'bool: "o" alone is EINVAL', file: `${P}/allow_unsafe_interrupts`, data: 'o', rc: E('EINVAL'), shows: 'N\n' },
  { name: 'bool: junk is EINVAL', file: `${P}/allow_unsafe_interrupts`, data: 'maybe', rc: E('EINVAL'), shows: 'N\n' },
  { name: 'uint: decimal', file: `${P}/dma_entry_limit`, data: '100\n', rc: 'all', shows: '100\n' },
  { name: 'uint: hex', file: `${P}/dma_entry_limit`, data: '0x10', rc: 'all', shows: '16\n' },
  { name: 'uint: octal', file: `${P}/dma_entry_limit`, data: '010', rc: 'all', shows: '8\n' },
  { name: 'uint: 2^32 is ERANGE', file: `${P}/dma_entry_limit`, data: '4294967296', rc: E('ERANGE'), shows: '65535\n' },
  { name: 'uint: negative is EINVAL', file: `${P}/dma_entry_limit`, data: '-1', rc: E('EINVAL'), shows: '65535\n' },
  { name: 'uint: trailing junk is EINVAL', file: `${P}/dma_entry_limit`, data: '12abc', rc: E('EINVAL'), shows: '65535\n' },
  { name: 'a 0444 parameter cannot be opened for writing', file: '/sys/module/vfio_pci/parameters/disable_denylist', data: 'Y', rc: E('EACCES'), shows: 'N\n' },
  { name: 'module uevent takes an action', file: '/sys/module/vfio/uevent', data: 'change', rc: 'all' },
  { name: 'module uevent refuses junk', file: '/sys/module/vfio/uevent', data: 'junk', rc: E('EINVAL') },
];

for (const c of paramCases) {
  test(`module parameter store: ${c.name}`, (t) => {
    const m = createMachine('intel-vtd-server');
    t.is(sysfsWrite(m, c.file, c.data), c.rc === 'all' ? c.data.length : c.rc);
    if (c.shows) t.is(read(m, c.file), c.shows);
  });
}

test('the stores reach the kernel: dma_entry_limit and allow_unsafe_interrupts as type1 reads them, noiommu mode as vfio-pci probe does', (t) => {
  const m = createMachine('intel-vtd-server');
  sysfsWrite(m, `${P}/dma_entry_limit`, '7');
  sysfsWrite(m, `${P}/allow_unsafe_interrupts`, 'Y');
  t.is(m.params.dma_entry_limit, 7);
  t.true(m.params.allow_unsafe_interrupts);
  const n = machine({ iommus: [], devices: [nic('0000:00:03.0', { driver: null, driver_override: 'vfio-pci' })] });
  t.is(sysfsWrite(n, '/sys/bus/pci/drivers/vfio-pci/bind', '0000:00:03.0'), E('EINVAL'), 'no IOMMU group, noiommu off');
  t.is(sysfsWrite(n, '/sys/module/vfio/parameters/enable_unsafe_noiommu_mode', 'Y'), 1);
  t.is(sysfsWrite(n, '/sys/bus/pci/drivers/vfio-pci/bind', '0000:00:03.0'), 12);
  t.is(read(n, '/sys/kernel/iommu_groups/0/name'), 'vfio-noiommu\n');
  t.is(n.sys.open(`${P}/dma_entry_limit`, O_WRONLY) >= 0, true);
});

test('CONFIG_IOMMUFD: vfio holds iommufd, whose allow_unsafe_interrupts (0644) is what binding a device without MSI isolation asks', (t) => {
  const on = iommufdMachine();
  t.deepEqual(ls(on, '/sys/module/iommufd/holders'), ['vfio']);
  t.deepEqual(ls(on, '/sys/module/iommufd/parameters'), ['allow_unsafe_interrupts']);
  t.is((Number(on.fs.statSync('/sys/module/iommufd/parameters/allow_unsafe_interrupts').mode) & 0o777).toString(8), '644');
  t.deepEqual(violations(validateSysfsTree(on.fs, '/sys', { kernelVersion: '6.8', strict: true })), []);
  t.false(createMachine('intel-vtd-server').fs.existsSync('/sys/module/iommufd'), 'no CONFIG_IOMMUFD');
  t.false(iommufdMachine('intel-vtd-server', { kernel: '6.1' }).fs.existsSync('/sys/module/iommufd'), 'no iommufd before 6.2');
  const compat = iommufdMachine('intel-vtd-server', { kconfig: { CONFIG_VFIO_CONTAINER: false, CONFIG_IOMMUFD_VFIO_CONTAINER: true } });
  t.false(compat.fs.existsSync('/sys/module/vfio_iommu_type1'), 'type1 needs CONFIG_VFIO_CONTAINER');
  t.deepEqual(ls(compat, '/sys/module/vfio/holders'), ['vfio_pci', 'vfio_pci_core']);

  const src = structuredClone(on.topology.source) as { iommus: { interruptRemapping?: boolean }[] };
  for (const u of src.iommus) u.interruptRemapping = false;
  const m = createMachine(src as never);
  const bind = () => {
    const io = IommufdFd.open(m);
    const cdev = m.sys.open('/dev/vfio/devices/vfio0', O_RDWR);
    const rc = m.sys.ioctl(cdev, VFIO_DEVICE_BIND_IOMMUFD, m.mem.alloc(encode(vfio_device_bind_iommufd, { argsz: 24, flags: 0, iommufd: io.fd })));
    m.sys.close(cdev);
    io.close();
    return rc;
  };
  t.is(bind(), E('EPERM'), 'MSIs not isolated');
  t.is(sysfsWrite(m, '/sys/module/iommufd/parameters/allow_unsafe_interrupts', 'Y'), 1);
  t.true(m.params.iommufd_allow_unsafe_interrupts);
  t.is(bind(), 0);
});
