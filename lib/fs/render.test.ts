// SPDX-License-Identifier: GPL-2.0-only
/** The renderer keeps /sys in step with the model at the cost of what changed. */
import test from 'ava';
import { Volume } from 'memfs';
import type { SysFragment, SysNode } from '../kernfs/attribute';
import { createMachine } from '../machine';
import { buildSysfsTree } from '../sysfs/tree';
import { sysfsWrite } from '../testing/vfio';
import { MemfsRenderer, attrContent } from './render';

const ino = (m: ReturnType<typeof createMachine>, p: string) => Number(m.fs.lstatSync(p).ino);

test('a store re-renders only the objects it changed: other inodes stay, the changed links follow', (t) => {
  const m = createMachine('intel-vtd-server');
  const other = ['/sys/devices/pci0000:00/0000:00:02.0/vendor', '/sys/kernel/iommu_groups/2/reserved_regions', '/sys/bus/pci/devices/0000:00:14.0'];
  const before = other.map((p) => ino(m, p));
  const vendor = ino(m, '/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/vendor');
  m.fs.writeFileSync('/sys/bus/pci/drivers/i40e/unbind', '0000:01:00.0');
  t.false(m.fs.existsSync('/sys/bus/pci/devices/0000:01:00.0/driver'));
  t.false(m.fs.existsSync('/sys/bus/pci/drivers/i40e/0000:01:00.0'));
  t.true(m.fs.existsSync('/sys/bus/pci/drivers/i40e/0000:01:00.1'));
  t.deepEqual(other.map((p) => ino(m, p)), before, 'untouched objects keep their inodes');
  m.fs.writeFileSync('/sys/bus/pci/drivers/i40e/bind', '0000:01:00.0');
  t.is(String(m.fs.readlinkSync('/sys/bus/pci/devices/0000:01:00.0/driver')), '../../../../bus/pci/drivers/i40e');
  t.is(ino(m, '/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/vendor'), vendor, 'an attribute file survives its device being rebuilt');
});

test('attribute files compute their bytes when read, so reads, stat and fds agree with the model', (t) => {
  const m = createMachine('intel-vtd-server');
  const p = '/sys/bus/pci/devices/0000:01:00.0/driver_override';
  t.is(String(m.fs.readFileSync(p, 'utf8')), '(null)\n');
  m.fs.writeFileSync(p, 'vfio-pci');
  t.is(String(m.fs.readFileSync(p, 'utf8')), 'vfio-pci\n');
  t.is(Number(m.fs.statSync(p).size), 4096, 'a text attribute stats one page');
  t.is(Number(m.fs.statSync('/sys/bus/pci/devices/0000:01:00.0/config').size), 4096, 'config: its real size (PCIe)');
  const fd = m.fs.openSync(p, 'r');
  const buf = Buffer.alloc(4);
  t.is(m.fs.readSync(fd, buf, 0, 4, 5), 4);
  t.is(buf.toString(), 'pci\n');
  m.fs.closeSync(fd);
});

test('hot-unplug of the last device on a root bus takes the implied bus directory with it', (t) => {
  const m = createMachine('intel-vtd-server');
  const spec = { ...m.topology.devices[8]!, bdf: '0001:00:00.0', parent: undefined };
  m.host.hotplug(spec);
  t.true(m.fs.existsSync('/sys/devices/pci0001:00/0001:00:00.0/vendor'));
  m.host.hotUnplug('0001:00:00.0');
  t.false(m.fs.existsSync('/sys/devices/pci0001:00'));
  t.true(m.fs.existsSync('/sys/devices/pci0000:00'));
});

test('fragments: a path claimed by two fragments is a bug; a moved path and a kind change are handled', (t) => {
  const vol = new Volume();
  const r = new MemfsRenderer(vol, () => 0);
  const dir: SysNode = { kind: 'dir' };
  const frag = (key: string, entries: [string, SysNode][]): SysFragment => ({ key, nodes: new Map(entries) });
  r.apply([frag('a', [['/x/a', dir]]), frag('b', [['/x/b', { kind: 'link', target: 'a' }]])]);
  t.true(vol.statSync('/x/a').isDirectory());
  t.is(String(vol.readlinkSync('/x/b')), 'a');
  t.throws(() => r.apply([frag('a', [['/x/a', dir]]), frag('b', [['/x/a', { kind: 'dir' }]])]), { message: /\/x\/a is in fragments a and b/ });
  // The path moves from b to c and turns from a link into a directory.
  const r2 = new MemfsRenderer(new Volume(), () => 0);
  r2.apply([frag('b', [['/y/p', { kind: 'link', target: 'q' }]])]);
  r2.apply([frag('c', [['/y/p', dir], ['/y/p/z', { kind: 'link', target: '..' }]])]);
  t.is(r2.lookup('/y/p')?.kind, 'dir');
});

test('a config space write through m.fs reads back through m.fs (a store without a model change)', (t) => {
  const m = createMachine('intel-vtd-server');
  const p = '/sys/bus/pci/devices/0000:01:00.0/config';
  const before = Buffer.from(m.fs.readFileSync(p) as Buffer);
  const fd = m.fs.openSync(p, 'r+');
  m.fs.writeSync(fd, Buffer.from([0x06, 0x01]), 0, 2, 4); // PCI_COMMAND: memory + bus master + SERR
  m.fs.closeSync(fd);
  const after = m.fs.readFileSync(p) as Buffer;
  t.deepEqual([...after.subarray(4, 6)], [0x06, 0x01]);
  t.deepEqual([...after.subarray(0, 4)], [...before.subarray(0, 4)]);
});

test('show() runs at the first read after a change or a store, not at render and not on every read', (t) => {
  const vol = new Volume();
  let calls = 0;
  let value = 'a\n';
  const r = new MemfsRenderer(vol, () => 0);
  const attr = { name: 'x', mode: 0o444, show: () => (calls++, value) };
  const tree = { key: 'k', nodes: new Map<string, SysNode>([['/s/x', { kind: 'file', attr }]]) };
  r.apply([tree]);
  t.is(calls, 0, 'rendering computes no contents');
  t.is(String(vol.readFileSync('/s/x', 'utf8')), 'a\n');
  t.is(calls, 1);
  value = 'bb\n';
  t.is(String(vol.readFileSync('/s/x', 'utf8')), 'a\n', 'until something changes');
  r.invalidateContents();
  t.is(String(vol.readFileSync('/s/x', 'utf8')), 'bb\n');
  r.apply([tree]);
  value = 'ccc\n';
  t.is(String(vol.readFileSync('/s/x', 'utf8')), 'ccc\n', 'a render starts afresh');
});

/** Every path the model names now, with what a reader sees there (contents of the world-readable files). */
function expected(m: ReturnType<typeof createMachine>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [p, n] of buildSysfsTree(m.host, m.params)) {
    if (n.kind === 'dir') out.set(p, `dir ${(n.mode ?? 0o755).toString(8)}`);
    else if (n.kind === 'link') out.set(p, `link ${n.target}`);
    else if (n.kind === 'file') out.set(p, `file ${n.attr.mode.toString(8)}${(n.attr.mode & 0o444) === 0o444 ? ` ${attrContent(n.attr).toString('latin1')}` : ''}`);
  }
  return out;
}

/** The same, read back from the machine's volume; also every path it holds under /sys. */
function rendered(m: ReturnType<typeof createMachine>, paths: Iterable<string>): { seen: Map<string, string>; all: string[] } {
  const seen = new Map<string, string>();
  for (const p of paths) {
    if (!m.fs.existsSync(p) && !isLink(m, p)) continue;
    const st = m.fs.lstatSync(p);
    const mode = (Number(st.mode) & 0o7777).toString(8);
    if (st.isDirectory()) seen.set(p, `dir ${mode}`);
    else if (st.isSymbolicLink()) seen.set(p, `link ${String(m.fs.readlinkSync(p))}`);
    else seen.set(p, `file ${mode}${(Number(st.mode) & 0o444) === 0o444 ? ` ${(m.fs.readFileSync(p) as Buffer).toString('latin1')}` : ''}`);
  }
  const all: string[] = [];
  const walk = (d: string) => {
    for (const n of m.fs.readdirSync(d).map(String)) {
      all.push(`${d}/${n}`);
      if (m.fs.lstatSync(`${d}/${n}`).isDirectory()) walk(`${d}/${n}`);
    }
  };
  walk('/sys');
  return { seen, all };
}
const isLink = (m: ReturnType<typeof createMachine>, p: string) => {
  try {
    return m.fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
};

test('after every store the rendered /sys is the whole tree the model gives now (a change re-renders only its objects)', (t) => {
  const m = createMachine('intel-vtd-server');
  const check = (step: string) => {
    const want = expected(m);
    const { seen, all } = rendered(m, want.keys());
    t.deepEqual(seen, want, step);
    // Anything else is a directory some named path implies, or a VFIO device's cdev entries.
    const implied = new Set([...want.keys()].flatMap((p) => p.split('/').map((_, i, a) => a.slice(0, i).join('/'))));
    t.deepEqual(
      all.filter((p) => !want.has(p) && !implied.has(p) && !/\/vfio-dev\/vfio\d+\//.test(p)),
      [],
      `${step}: nothing the model no longer names`,
    );
  };
  const store = (p: string, text: string) => t.is(sysfsWrite(m, p, text), text.length, p);
  check('boot');
  const ifindex = () => Number(m.fs.readFileSync('/sys/class/net/enp1s0f1/ifindex', 'utf8'));
  const last = Math.max(...m.fs.readdirSync('/sys/class/net').map((n) => Number(m.fs.readFileSync(`/sys/class/net/${String(n)}/ifindex`, 'utf8'))));
  t.is(ifindex(), 3);
  store('/sys/bus/pci/drivers/i40e/unbind', '0000:01:00.0');
  t.is(ifindex(), 3, 'an ifindex stays when another net device goes');
  check('unbind');
  store('/sys/bus/pci/devices/0000:01:00.0/driver_override', 'vfio-pci');
  store('/sys/bus/pci/drivers_probe', '0000:01:00.0');
  check('vfio-pci');
  store('/sys/bus/pci/devices/0000:01:00.1/remove', '1');
  check('remove');
  store('/sys/bus/pci/rescan', '1');
  t.is(ifindex(), last + 1, 'the NIC the rescan finds registers a new net device: the next ifindex');
  check('rescan');
  store('/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts', 'Y');
  store('/sys/bus/pci/devices/0000:01:00.1/numa_node', '0');
  check('parameter and numa_node stores');
});
