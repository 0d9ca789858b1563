// SPDX-License-Identifier: GPL-2.0-only
/**
 * Config space as the PCI core leaves it (bridge bus numbers and windows over the children's
 * BARs, the PCIe capability and link, ACS where the topology says so, SSVID on bridges) and the
 * write masks of `config` (read-only registers stay, BARs size, RW1C status, the end cuts).
 */
import test from 'ava';
import { user } from '../cred';
import { ERRNO } from '../errno';
import { O_RDWR } from '../uapi/fcntl';
import { builtinHostNames } from '../hosts';
import { createMachine } from '../machine';
import type { Machine } from '../machine';
import { validateSysfsTree, violations } from '../sysfs/validate';
import { machine, nic } from '../testing/topo';
import { barSpace } from './setup_bus';

const cfgOf = (m: Machine, bdf: string) => Buffer.from(m.fs.readFileSync(`/sys/bus/pci/devices/${bdf}/config`) as Buffer);
const resourceLines = (m: Machine, bdf: string) =>
  String(m.fs.readFileSync(`/sys/bus/pci/devices/${bdf}/resource`, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ').map((x) => BigInt(x)) as [bigint, bigint, bigint]);

/** pwrite(2) through the syscall layer: what C sees. */
function pwrite(m: Machine, bdf: string, pos: number, bytes: number[]): number {
  const fd = m.sys.open(`/sys/bus/pci/devices/${bdf}/config`, O_RDWR);
  if (fd < 0) return fd;
  try {
    return m.sys.pwrite(fd, Uint8Array.from(bytes), pos);
  } finally {
    m.sys.close(fd);
  }
}

const hasBridges = (host: string) => createMachine(host).host.devices.some((d) => d.class >> 8 === 0x0604);
for (const host of builtinHostNames()) {
  if (hasBridges(host)) test(`${host}: every bridge forwards its children's bus and covers every BAR below it`, (t) => {
    const m = createMachine(host);
    const bridges = m.host.devices.filter((d) => d.class >> 8 === 0x0604);
    t.true(bridges.length > 0);
    for (const b of bridges) {
      const cfg = cfgOf(m, b.bdf);
      t.is(cfg[0x0e]! & 0x7f, 1, `${b.bdf} has a type 1 header`);
      const [primary, secondary, subordinate] = [cfg[0x18]!, cfg[0x19]!, cfg[0x1a]!];
      t.is(primary, b.bus, `${b.bdf} primary`);
      t.true(secondary > primary && subordinate >= secondary, `${b.bdf} ${primary}/${secondary}/${subordinate}`);
      const res = resourceLines(m, b.bdf);
      const win = { io: res.at(-4)!, mem: res.at(-3)!, pref: res.at(-2)! };
      const below = m.host.devices.filter((d) => {
        for (let p = d.parent; p; p = p.parent) if (p === b) return true;
        return false;
      });
      for (const d of below) {
        t.true(d.bus >= secondary && d.bus <= subordinate, `${d.bdf} is in ${b.bdf}'s bus range`);
        const dres = resourceLines(m, d.bdf);
        for (const bar of d.spec.bars) {
          const [start, end] = dres[bar.index]!;
          const w = win[barSpace(bar)];
          t.true(w[2] !== 0n && w[0] <= start && end <= w[1], `${d.bdf} BAR${bar.index} ${start.toString(16)}-${end.toString(16)} inside ${b.bdf}'s ${barSpace(bar)} window`);
        }
        if (d.spec.rom) t.true(win.mem[0] <= dres[6]![0] && dres[6]![1] <= win.mem[1], `${d.bdf} ROM inside ${b.bdf}'s memory window`);
      }
      // The config bytes say the same as the resource lines.
      const memBase = BigInt(cfg.readUInt16LE(0x20) & 0xfff0) << 16n;
      if (win.mem[2]) t.is(memBase, win.mem[0], `${b.bdf} memory base register`);
      const prefBase = (BigInt(cfg.readUInt32LE(0x28)) << 32n) | (BigInt(cfg.readUInt16LE(0x24) & 0xfff0) << 16n);
      if (win.pref[2]) t.is(prefBase, win.pref[0], `${b.bdf} prefetchable base registers`);
    }
  });

  test(`${host}: no two BARs overlap, and the tree validates`, (t) => {
    const m = createMachine(host);
    const ranges: [bigint, bigint, string][] = [];
    for (const d of m.host.devices) {
      const res = resourceLines(m, d.bdf);
      for (let i = 0; i <= 6; i++) {
        const [s, e, f] = res[i]!;
        if (f) ranges.push([s, e, `${d.bdf}/${i}${f & 0x100n ? ' io' : ''}`]);
      }
    }
    for (const a of ranges) for (const b of ranges) if (a !== b && a[2].endsWith(' io') === b[2].endsWith(' io')) t.false(a[0] <= b[1] && b[0] <= a[1], `${a[2]} overlaps ${b[2]}`);
    t.deepEqual(violations(validateSysfsTree(m.fs, '/sys', { kernelVersion: m.kernel.version })), []);
  });
}

/** The PCIe capability's offset in a config space. */
function capAt(cfg: Buffer, id: number): number | undefined {
  for (let p = cfg[0x34]! & 0xfc, n = 0; p >= 0x40 && n < 48; p = cfg[p + 1]! & 0xfc, n++) if (cfg[p] === id) return p;
  return undefined;
}

test('PCIe capability: port types, trained link, ACS only where acs: true, SSVID only with subsystem ids', (t) => {
  const m = machine({
    devices: [
      { bdf: '0000:00:01.0', vendor: '0x8086', device: '0x1901', class: '0x060400', driver: 'pcieport', acs: true, linkSpeed: 16, linkWidth: 16 },
      { bdf: '0000:00:02.0', vendor: '0x8086', device: '0x1901', class: '0x060400', driver: 'pcieport', subsystem_vendor: '0x15d9', subsystem_device: '0x1b0b' },
      { bdf: '0000:00:03.0', vendor: '0x8086', device: '0x3e96', class: '0x030000', driver: null },
      nic('0000:01:00.0', { parent: '0000:00:01.0', linkSpeed: 8, linkWidth: 8, bars: [{ index: 0, size: '0x800000', prefetchable: true }] }),
    ],
  });
  const exp = (bdf: string) => {
    const cfg = cfgOf(m, bdf);
    const p = capAt(cfg, 0x10)!;
    return { type: (cfg.readUInt16LE(p + 2) >> 4) & 0xf, lnkcap: cfg.readUInt32LE(p + 0x0c), lnksta: cfg.readUInt16LE(p + 0x12), cfg };
  };
  t.is(exp('0000:00:01.0').type, 4, 'root port');
  t.is(exp('0000:00:03.0').type, 9, 'root complex integrated endpoint');
  t.is(exp('0000:01:00.0').type, 0, 'endpoint');
  // LnkCap is each end's own; both ends train to 8 GT/s x8.
  t.is(exp('0000:00:01.0').lnkcap & 0x3ff, 4 | (16 << 4));
  t.is(exp('0000:00:01.0').lnksta & 0x3ff, 3 | (8 << 4));
  t.is(exp('0000:01:00.0').lnksta & 0x3ff, 3 | (8 << 4));
  t.truthy(exp('0000:00:01.0').lnksta & 0x2000, 'data link layer active on the port with a device below');
  t.is((exp('0000:00:02.0').lnksta >> 4) & 0x3f, 0, 'an empty port has its link down');
  const acs = (bdf: string) => {
    const c = exp(bdf).cfg;
    return (c.readUInt32LE(0x100) & 0xffff) === 0x0d ? [c.readUInt16LE(0x104), c.readUInt16LE(0x106)] : undefined;
  };
  t.deepEqual(acs('0000:00:01.0'), [0x1f, 0x1d]);
  t.is(acs('0000:00:02.0'), undefined);
  t.is(capAt(exp('0000:00:01.0').cfg, 0x0d), undefined, 'no SSVID without subsystem ids');
  t.is(String(m.fs.readFileSync('/sys/bus/pci/devices/0000:00:01.0/subsystem_vendor', 'utf8')), '0x0000\n');
  const ss = capAt(exp('0000:00:02.0').cfg, 0x0d)!;
  t.is(exp('0000:00:02.0').cfg.readUInt16LE(ss + 4), 0x15d9);
  t.is(String(m.fs.readFileSync('/sys/bus/pci/devices/0000:00:02.0/subsystem_vendor', 'utf8')), '0x15d9\n');
  // The empty port got a bus of its own.
  t.is(exp('0000:00:02.0').cfg[0x19], 2);
});

test('topology: devices behind a bridge must be on its secondary bus, and nobody else on it', (t) => {
  const br = (bdf: string) => ({ bdf, vendor: '0x8086', device: '0x1901', class: '0x060400', driver: 'pcieport' });
  t.throws(() => machine({ devices: [br('0000:00:01.0'), nic('0000:01:00.0', { parent: '0000:00:01.0' }), nic('0000:02:00.0', { parent: '0000:00:01.0' })] }), {
    message: /devices\[2\]\.bdf: devices behind bridge 0000:00:01.0 share its secondary bus 0000:01/,
  });
  t.throws(() => machine({ devices: [br('0000:00:01.0'), nic('0000:01:00.0', { parent: '0000:00:01.0' }), nic('0000:01:00.1')] }), {
    message: /devices\[2\]\.bdf: bus 0000:01 is the secondary bus of bridge 0000:00:01.0/,
  });
  t.throws(() => machine({ devices: [br('0000:00:01.0'), nic('0000:00:02.0', { parent: '0000:00:01.0' })] }), { message: /is on the bus of its parent bridge/ });
});

interface WriteCase {
  readonly name: string;
  readonly bdf: string;
  readonly pos: number;
  readonly bytes: number[];
  /** The write's return value (bytes or -errno). */
  readonly rc: number;
  /** [offset, expected bytes after]; undefined: unchanged. */
  readonly after?: [number, number[]];
}

const NIC = '0000:01:00.0'; // X710: BAR0 8 MiB pref mem64, BAR3 32 KiB, ROM 512 KiB, PCIe
const GPU = '0000:00:02.0'; // BAR4 64-byte I/O
const PORT = '0000:00:01.0';
const ff = (n: number) => Array<number>(n).fill(0xff);

// drivers/pci/pci-sysfs.c:pci_write_config; the hardware ignores writes to read-only bits.
const writeCases: WriteCase[] = [
  { name: 'vendor and device ids are read-only', bdf: NIC, pos: 0x00, bytes: [0, 0, 0, 0], rc: 4 },
  { name: 'revision and class are read-only', bdf: NIC, pos: 0x08, bytes: [0xaa, 0xbb, 0xcc, 0xdd], rc: 4 },
  { name: 'header type is read-only', bdf: NIC, pos: 0x0e, bytes: [0x81], rc: 1 },
  { name: 'capability pointer is read-only', bdf: NIC, pos: 0x34, bytes: [0x00], rc: 1 },
  { name: 'subsystem ids are read-only', bdf: NIC, pos: 0x2c, bytes: [0, 0, 0, 0], rc: 4 },
  { name: 'command is writable', bdf: NIC, pos: 0x04, bytes: [0x00, 0x00], rc: 2, after: [0x04, [0x00, 0x00]] },
  { name: 'status: capability bit stays, error bits are write-1-to-clear', bdf: NIC, pos: 0x06, bytes: [0xff, 0xff], rc: 2, after: [0x06, [0x10, 0x00]] },
  { name: 'cache line and latency are writable', bdf: NIC, pos: 0x0c, bytes: [0x10, 0x20], rc: 2, after: [0x0c, [0x10, 0x20]] },
  { name: 'BAR sizing: a 64-bit 8 MiB BAR reads back its size mask and flags', bdf: NIC, pos: 0x10, bytes: ff(8), rc: 8, after: [0x10, [0x0c, 0x00, 0x80, 0xff, 0xff, 0xff, 0xff, 0xff]] },
  { name: 'an unimplemented BAR stays 0', bdf: NIC, pos: 0x18, bytes: ff(4), rc: 4, after: [0x18, [0, 0, 0, 0]] },
  { name: 'BAR sizing: a 64-byte I/O BAR', bdf: GPU, pos: 0x20, bytes: ff(4), rc: 4, after: [0x20, [0xc1, 0xff, 0xff, 0xff]] },
  { name: 'ROM sizing keeps the enable bit writable', bdf: NIC, pos: 0x30, bytes: ff(4), rc: 4, after: [0x30, [0x01, 0x00, 0xf8, 0xff]] },
  { name: 'interrupt line is writable, pin is not', bdf: NIC, pos: 0x3c, bytes: [0x0b, 0x04], rc: 2, after: [0x3c, [0x0b, 0x01]] },
  { name: 'bridge bus numbers are writable', bdf: PORT, pos: 0x18, bytes: [0x00, 0x05, 0x06], rc: 3, after: [0x18, [0x00, 0x05, 0x06]] },
  { name: 'bridge I/O window: the type nibble is read-only', bdf: PORT, pos: 0x1c, bytes: [0x2f, 0x3f], rc: 2, after: [0x1c, [0x20, 0x30]] },
  { name: 'capability ids and next pointers are read-only', bdf: NIC, pos: 0x40, bytes: [0, 0], rc: 2 },
  { name: 'a write past the end is 0 bytes', bdf: NIC, pos: 4096, bytes: [1, 2, 3], rc: 0 },
  { name: 'a write across the end is cut there', bdf: NIC, pos: 4094, bytes: [1, 2, 3, 4], rc: 2 },
];

for (const c of writeCases) {
  test(`config write: ${c.name}`, (t) => {
    const m = createMachine('intel-vtd-server');
    const before = cfgOf(m, c.bdf);
    const vendor = String(m.fs.readFileSync(`/sys/bus/pci/devices/${c.bdf}/vendor`, 'utf8'));
    t.is(pwrite(m, c.bdf, c.pos, c.bytes), c.rc);
    const after = cfgOf(m, c.bdf);
    const want = Buffer.from(before);
    if (c.after) Buffer.from(c.after[1]).copy(want, c.after[0]);
    t.deepEqual([...after], [...want], 'm.fs shows exactly the accepted bits, at once');
    t.is(String(m.fs.readFileSync(`/sys/bus/pci/devices/${c.bdf}/vendor`, 'utf8')), vendor);
    t.deepEqual(violations(validateSysfsTree(m.fs, '/sys', { kernelVersion: m.kernel.version })), []);
  });
}

test('config write: a plain user cannot open config for writing (0644 root)', (t) => {
  const m = createMachine('intel-vtd-server', { cred: user(1000) });
  t.is(m.sys.open(`/sys/bus/pci/devices/${NIC}/config`, O_RDWR), -ERRNO.EACCES[0]);
});
