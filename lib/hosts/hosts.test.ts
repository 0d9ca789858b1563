// SPDX-License-Identifier: GPL-2.0-only
import test from 'ava';
import { builtinHostNames, loadBuiltinHost } from '.';
import { createMachine } from '../machine';

test('a built-in host is parsed once and shared frozen: no machine or caller changes the next one', (t) => {
  for (const name of builtinHostNames()) {
    const a = loadBuiltinHost(name);
    t.is(loadBuiltinHost(name), a, `${name}: the cached Topology`);
    t.true(Object.isFrozen(a) && Object.isFrozen(a.devices) && Object.isFrozen(a.devices[0]) && Object.isFrozen(a.source), `${name}: deeply frozen`);
    t.throws(() => (a.devices as unknown[]).push({}), { instanceOf: TypeError });
  }
  const m1 = createMachine('intel-vtd-server');
  const m2 = createMachine('intel-vtd-server');
  t.is(m1.topology, m2.topology);
  m1.host.hotplug({ ...m1.topology.devices[8]!, bdf: '0000:01:00.2' });
  m1.fs.writeFileSync('/sys/bus/pci/devices/0000:01:00.0/driver_override', 'vfio-pci');
  t.true(m1.fs.existsSync('/sys/bus/pci/devices/0000:01:00.2'));
  t.false(m2.fs.existsSync('/sys/bus/pci/devices/0000:01:00.2'), 'hot-plug stays on its machine');
  t.false(createMachine('intel-vtd-server').fs.existsSync('/sys/bus/pci/devices/0000:01:00.2'));
  t.is(String(createMachine('intel-vtd-server').fs.readFileSync('/sys/bus/pci/devices/0000:01:00.0/driver_override', 'utf8')), '(null)\n');
});
