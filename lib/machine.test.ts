// SPDX-License-Identifier: GPL-2.0-only
/**
 * The composition root: modules load in initcall order and register themselves; the char
 * device and driver registries refuse duplicates with EBUSY; kconfig decides what is built.
 */
import test from 'ava';
import { thrownCode as code } from './testing/errno';
import { ChrdevRegistry, MISC_MAJOR } from './drivers/char_dev';
import { ERRNO, Errno } from './errno';
import type { KernelModule } from './host';
import { createMachine } from './machine';
import { loadBuiltinHost } from './hosts';
import { O_RDWR } from './uapi/fcntl';
import { vfioFops } from './vfio/container';

const E = (e: Errno) => -ERRNO[e][0];

const node = (path: string, minor: number) => ({ path, mode: 0o600, major: MISC_MAJOR, minor, fops: { name: 'x' } });

const registryCases: { name: string; second: ReturnType<typeof node>; want: Errno | 'OK' }[] = [
  { name: 'the same path', second: node('/dev/a', 2), want: 'EBUSY' },
  { name: 'the same major:minor', second: node('/dev/b', 1), want: 'EBUSY' },
  { name: 'another path and minor', second: node('/dev/b', 2), want: 'OK' },
];

for (const c of registryCases) {
  test(`char devices: a second registration of ${c.name} → ${c.want}`, (t) => {
    const r = new ChrdevRegistry();
    r.register(node('/dev/a', 1));
    t.is(code(() => r.register(c.second)), c.want);
  });
}

test('char devices: unregister frees the path and the number', (t) => {
  const r = new ChrdevRegistry();
  const del = r.register(node('/dev/a', 1));
  del();
  del();
  t.is(code(() => r.register(node('/dev/a', 1))), 'OK');
});

test('modules load in initcall order and each registers itself', (t) => {
  const m = createMachine('intel-vtd-server');
  t.deepEqual(m.modules, ['vfio', 'vfio_iommu_type1', 'vfio_pci']);
  t.deepEqual(m.failedModules, []);
  t.true(m.host.drivers.has('vfio-pci'));
  t.true(m.fs.existsSync('/dev/vfio/vfio'));
});

test('a module whose init registers a taken node fails with EBUSY; the machine boots without it', (t) => {
  const dup: KernelModule = {
    name: 'dup_container',
    init: (k) => void k.chrdevs.register({ path: '/dev/vfio/vfio', mode: 0o666, major: MISC_MAJOR, minor: 196, fops: vfioFops }),
  };
  const m = createMachine('intel-vtd-server', { modules: [dup] });
  t.deepEqual(m.failedModules.map((f) => [f.name, f.error.code]), [['dup_container', 'EBUSY']]);
  t.false(m.modules.includes('dup_container'));
  t.true(m.sys.open('/dev/vfio/vfio', O_RDWR) >= 0, 'the first registration serves the node');
});

test('a second PCI driver of a name is EBUSY', (t) => {
  const m = createMachine('intel-vtd-server');
  t.is(code(() => m.host.registerDriver({ name: 'vfio-pci' })), 'EBUSY');
});

test('kconfig: without CONFIG_VFIO_CONTAINER there is no /dev/vfio/vfio and no type1, but groups still register', (t) => {
  const topo = loadBuiltinHost('intel-vtd-server');
  const m = createMachine({ ...topo.source, kconfig: { ...(topo.source.kconfig as object), CONFIG_VFIO_CONTAINER: false } });
  t.deepEqual(m.modules, ['vfio', 'vfio_pci']);
  t.false(m.fs.existsSync('/dev/vfio/vfio'));
  t.true(m.fs.existsSync('/dev/vfio/7'));
  t.is(m.sys.open('/dev/vfio/vfio', O_RDWR), E('ENOENT'));
});

test('kconfig: without CONFIG_VFIO nothing of VFIO loads', (t) => {
  const topo = loadBuiltinHost('arm64-smmuv3');
  const devices = topo.source.devices.map((d) =>
    d.driver === 'vfio-pci' ? { ...d, driver: null, driver_override: undefined } : d,
  );
  const m = createMachine({ ...topo.source, devices, kconfig: { CONFIG_VFIO: false } });
  t.deepEqual(m.modules, []);
  t.false(m.fs.existsSync('/dev/vfio'));
  t.false(m.host.drivers.has('vfio-pci'));
});
