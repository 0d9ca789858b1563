// SPDX-License-Identifier: GPL-2.0-only
import test from 'ava';
import * as nodeFs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Volume, createFsFromVolume } from 'memfs';
import { sysfsSchema } from './schema';
import { kernelVersion } from '../kernel/version';
import { Finding, RULES, SysfsFs, checkReservedRegions, validateSysfsTree } from './validate';

/* A small Intel-like host, hand-built from the tree spec:
 *   00:02.0 endpoint (conventional PCI, 256-byte config), group 0, driver i915
 *   00:1c.0 PCIe root port (4096), group 1, driver pcieport
 *   01:00.0 PCIe endpoint behind 00:1c.0, group 2, driver vfio-pci (vfio-dev/vfio0 from 6.6)
 * all behind dmar0. */

interface Dev {
  bdf: string;
  parent?: string;
  vendor: number;
  device: number;
  sv: number;
  sd: number;
  cls: number;
  rev: number;
  bridge: boolean;
  pcie: boolean;
  group: number;
  driver: string;
}

const DEVS: Dev[] = [
  { bdf: '0000:00:02.0', vendor: 0x8086, device: 0x3e92, sv: 0x1028, sd: 0x0869, cls: 0x030000, rev: 0x02, bridge: false, pcie: false, group: 0, driver: 'i915' },
  { bdf: '0000:00:1c.0', vendor: 0x8086, device: 0xa338, sv: 0x0000, sd: 0x0000, cls: 0x060400, rev: 0xf0, bridge: true, pcie: true, group: 1, driver: 'pcieport' },
  { bdf: '0000:01:00.0', parent: '0000:00:1c.0', vendor: 0x8086, device: 0x1533, sv: 0x8086, sd: 0x0001, cls: 0x020000, rev: 0x03, bridge: false, pcie: true, group: 2, driver: 'vfio-pci' },
];

const hex = (v: number, w: number): string => `0x${v.toString(16).padStart(w, '0')}`;
const X = (v: number, w: number): string => v.toString(16).toUpperCase().padStart(w, '0');
const devDir = (d: Dev): string => (d.parent ? `/sys/devices/pci0000:00/${d.parent}/${d.bdf}` : `/sys/devices/pci0000:00/${d.bdf}`);
const rel = (from: string, to: string): string => path.posix.relative(path.posix.dirname(from), to);

function config(d: Dev): Buffer {
  const b = Buffer.alloc(d.pcie ? 4096 : 256);
  b.writeUInt16LE(d.vendor, 0);
  b.writeUInt16LE(d.device, 2);
  b[8] = d.rev;
  b[9] = d.cls & 0xff;
  b[10] = (d.cls >> 8) & 0xff;
  b[11] = (d.cls >> 16) & 0xff;
  b[0x0e] = d.bridge ? 1 : 0;
  if (!d.bridge) {
    b.writeUInt16LE(d.sv, 0x2c);
    b.writeUInt16LE(d.sd, 0x2e);
  }
  if (d.pcie) {
    b[0x06] = 0x10;
    b[0x34] = 0x40;
    b[0x40] = 0x10;
  }
  return b;
}

const modalias = (d: Dev): string =>
  `pci:v${X(d.vendor, 8)}d${X(d.device, 8)}sv${X(d.sv, 8)}sd${X(d.sd, 8)}bc${X(d.cls >> 16, 2)}sc${X((d.cls >> 8) & 0xff, 2)}i${X(d.cls & 0xff, 2)}\n`;

const RESV_0 = '0x00000000fee00000 0x00000000feefffff msi\n';
const RESV_2 = '0x000000007b800000 0x000000007fffffff direct\n0x00000000fee00000 0x00000000feefffff msi\n';

interface Tree {
  files: Map<string, { data: string | Buffer; mode: number }>;
  dirs: Set<string>;
  links: Map<string, string>;
}

/** The valid tree for kernel `kv`, as data (so it can be materialized into memfs or a real directory). */
function spec(kv: string): Tree {
  const v = kernelVersion(kv);
  const at = (x: string): boolean => (v.major - Number(x.split('.')[0])) * 1000 + v.minor - Number(x.split('.')[1]) >= 0;
  const files = new Map<string, { data: string | Buffer; mode: number }>();
  const dirs = new Set<string>();
  const links = new Map<string, string>();
  const dir = (p: string): void => {
    for (let q = p; q !== '/' && q !== ''; q = path.posix.dirname(q)) dirs.add(q);
  };
  const file = (p: string, data: string | Buffer, mode: number): void => {
    dir(path.posix.dirname(p));
    files.set(p, { data, mode });
  };
  const link = (p: string, target: string): void => {
    dir(path.posix.dirname(p));
    links.set(p, rel(p, target));
  };
  dir('/sys/kernel/iommu_groups');
  dir('/sys/class/iommu');
  const unit = '/sys/devices/virtual/iommu/dmar0';
  dir(`${unit}/devices`);
  link('/sys/class/iommu/dmar0', unit);
  for (const d of DEVS) {
    const g = `/sys/kernel/iommu_groups/${d.group}`;
    dir(`${g}/devices`);
    if (at('4.11')) file(`${g}/reserved_regions`, d.group === 2 ? RESV_2 : RESV_0, 0o444);
    if (at('4.19')) file(`${g}/type`, d.driver === 'vfio-pci' ? 'DMA\n' : at('5.15') ? 'DMA-FQ\n' : 'DMA\n', at('5.11') ? 0o644 : 0o444);
    const dd = devDir(d);
    link(`${g}/devices/${d.bdf}`, dd);
    file(`${dd}/vendor`, `${hex(d.vendor, 4)}\n`, 0o444);
    file(`${dd}/device`, `${hex(d.device, 4)}\n`, 0o444);
    file(`${dd}/subsystem_vendor`, `${hex(d.sv, 4)}\n`, 0o444);
    file(`${dd}/subsystem_device`, `${hex(d.sd, 4)}\n`, 0o444);
    file(`${dd}/class`, `${hex(d.cls, 6)}\n`, 0o444);
    file(`${dd}/revision`, `${hex(d.rev, 2)}\n`, 0o444);
    file(`${dd}/irq`, '16\n', 0o444);
    file(`${dd}/numa_node`, '-1\n', at('4.4') ? 0o644 : 0o444);
    file(`${dd}/resource`, '0x0000000000000000 0x0000000000000000 0x0000000000000000\n'.repeat(d.bridge ? 17 : 13), 0o444);
    file(`${dd}/config`, config(d), 0o644);
    file(`${dd}/driver_override`, d.driver === 'vfio-pci' ? 'vfio-pci\n' : '(null)\n', 0o644);
    file(`${dd}/enable`, '1\n', 0o644);
    file(`${dd}/modalias`, modalias(d), 0o444);
    file(`${dd}/uevent`, `DRIVER=${d.driver}\nPCI_SLOT_NAME=${d.bdf}\nMODALIAS=${modalias(d)}`, 0o644);
    link(`${dd}/iommu_group`, g);
    link(`${dd}/iommu`, unit);
    link(`${dd}/driver`, `/sys/bus/pci/drivers/${d.driver}`);
    link(`${dd}/subsystem`, '/sys/bus/pci');
    link(`/sys/bus/pci/devices/${d.bdf}`, dd);
    link(`${unit}/devices/${d.bdf}`, dd);
    const drv = `/sys/bus/pci/drivers/${d.driver}`;
    for (const a of ['bind', 'unbind', 'new_id', 'remove_id']) file(`${drv}/${a}`, '', 0o200);
    link(`${drv}/${d.bdf}`, dd);
    if (d.driver === 'vfio-pci' && at('6.6')) {
      dir(`${dd}/vfio-dev/vfio0`);
      link('/sys/class/vfio-dev/vfio0', `${dd}/vfio-dev/vfio0`);
    }
  }
  return { files, dirs, links };
}

type Fs = SysfsFs & {
  mkdirSync(p: string, o?: unknown): unknown;
  writeFileSync(p: string, d: string | Buffer): void;
  chmodSync(p: string, m: number): void;
  symlinkSync(target: string, p: string): void;
  unlinkSync(p: string): void;
  rmSync(p: string, o?: unknown): void;
};

function materialize(fs: Fs, root: string, t: Tree): void {
  const at = (p: string): string => root + p.slice('/sys'.length);
  for (const d of [...t.dirs].filter(d => d.startsWith('/sys')).sort()) fs.mkdirSync(at(d), { recursive: true });
  for (const [p, f] of t.files) {
    fs.writeFileSync(at(p), f.data);
    fs.chmodSync(at(p), f.mode);
  }
  for (const d of t.dirs) if (d.startsWith('/sys')) fs.chmodSync(at(d), 0o755);
  for (const [p, target] of t.links) fs.symlinkSync(target, at(p));
}

function memTree(kv: string): Fs {
  const vol = Volume.fromJSON({});
  const fs = createFsFromVolume(vol);
  materialize(fs as unknown as Fs, '/sys', spec(kv));
  // memfs enforces permission bits: rewrite read-only attributes the way a test fixture would.
  const write = fs.writeFileSync.bind(fs);
  const put = (p: string, d: string | Buffer): void => {
    const mode = fs.existsSync(p) ? fs.statSync(p).mode & 0o7777 : undefined;
    if (mode !== undefined) fs.chmodSync(p, 0o644);
    write(p, d);
    if (mode !== undefined) fs.chmodSync(p, mode);
  };
  return Object.assign(fs, { writeFileSync: put }) as unknown as Fs;
}

const pairs = (fs: readonly Finding[]): string[] => fs.map(f => `${f.rule} ${f.path}${f.line ? `:${f.line}` : ''}`);

for (const kv of ['4.10', '4.11', '4.19', '5.3', '5.11', '5.15', '6.6', '6.8.0-45-generic']) {
  test(`the hand-built tree is valid on ${kv} (strict)`, t => {
    const fs = memTree(kv);
    t.deepEqual(pairs(validateSysfsTree(fs, '/sys', { kernelVersion: kv, strict: true })), []);
  });
}

const G0 = '/sys/kernel/iommu_groups/0';
const D02 = '/sys/devices/pci0000:00/0000:00:02.0';
const D1C = '/sys/devices/pci0000:00/0000:00:1c.0';
const D01 = `${D1C}/0000:01:00.0`;

interface Case {
  name: string;
  kernel?: string;
  strict?: boolean;
  mutate: (fs: Fs) => void;
  expect: string[];
}

const resv = (fs: Fs, text: string, g = G0): void => fs.writeFileSync(`${g}/reserved_regions`, text);
const relink = (fs: Fs, p: string, target: string): void => {
  fs.unlinkSync(p);
  fs.symlinkSync(target, p);
};

const cases: Case[] = [
  {
    name: 'wrong byte in a reserved_regions line',
    mutate: fs => resv(fs, '0x0000000000000000 0x0000000000ffffff direct-relaxable\n0x00000000fee00000 0x00000000feeFffff msi\n'),
    expect: [`line-grammar ${G0}/reserved_regions:2`],
  },
  {
    name: 'reserved_regions line without the trailing newline',
    mutate: fs => resv(fs, '0x00000000fee00000 0x00000000feefffff msi'),
    expect: [`line-grammar ${G0}/reserved_regions:1`],
  },
  {
    name: 'reserved_regions unsorted by start',
    mutate: fs => resv(fs, `${RESV_0}0x0000000000000000 0x0000000000ffffff direct-relaxable\n`),
    expect: [`resv-unsorted ${G0}/reserved_regions:2`],
  },
  {
    name: 'reserved_regions tie broken against the enum order (msi before reserved)',
    mutate: fs => resv(fs, `${RESV_0}0x00000000fee00000 0x00000000feefffff reserved\n`),
    expect: [`resv-unsorted ${G0}/reserved_regions:2`],
  },
  {
    name: 'unmerged adjacent same-type regions (v5.3+)',
    mutate: fs => resv(fs, '0x0000000000001000 0x0000000000001fff direct\n0x0000000000002000 0x0000000000002fff direct\n'),
    expect: [`resv-unmerged ${G0}/reserved_regions:2`],
  },
  {
    name: 'adjacent same-type regions are legal on v5.2 (only overlaps merged then)',
    kernel: '5.2',
    mutate: fs => resv(fs, '0x0000000000001000 0x0000000000001fff direct\n0x0000000000002000 0x0000000000002fff direct\n'),
    expect: [],
  },
  {
    name: 'overlapping same-type regions on v5.2',
    kernel: '5.2',
    mutate: fs => resv(fs, '0x0000000000001000 0x0000000000002fff direct\n0x0000000000002000 0x0000000000003fff direct\n'),
    expect: [`resv-unmerged ${G0}/reserved_regions:2`],
  },
  {
    name: 'merged-looking different types are legal (reserved and msi over one range; MSI+SW_MSI duplicates)',
    mutate: fs =>
      resv(
        fs,
        '0x0000000008000000 0x00000000080fffff msi\n0x0000000008000000 0x00000000080fffff msi\n0x00000000fee00000 0x00000000feefffff reserved\n0x00000000fee00000 0x00000000feefffff msi\n',
      ),
    expect: [],
  },
  {
    name: 'three identical msi lines cannot come from two MSI types',
    mutate: fs => resv(fs, RESV_0.repeat(3)),
    expect: [`resv-unmerged ${G0}/reserved_regions:3`],
  },
  {
    name: 'a different-type region inside a merged one is legal (worked example D)',
    mutate: fs => resv(fs, '0x0000000000000000 0x0000000000003fff direct\n0x0000000000001800 0x00000000000018ff msi\n'),
    expect: [],
  },
  {
    name: 'end below start',
    mutate: fs => resv(fs, '0x00000000fee00000 0x00000000fedfffff msi\n'),
    expect: [`resv-end-before-start ${G0}/reserved_regions:1`],
  },
  {
    name: 'wrong mode',
    mutate: fs => fs.chmodSync(`${G0}/reserved_regions`, 0o644),
    expect: [`wrong-mode ${G0}/reserved_regions`],
  },
  {
    name: 'wrong directory mode',
    mutate: fs => fs.chmodSync(`${G0}/devices`, 0o777),
    expect: [`wrong-mode ${G0}/devices`],
  },
  {
    name: 'missing required group file',
    mutate: fs => fs.unlinkSync(`${G0}/reserved_regions`),
    expect: [`missing-required ${G0}/reserved_regions`],
  },
  {
    name: 'missing required PCI attribute',
    mutate: fs => fs.unlinkSync(`${D01}/driver_override`),
    expect: [`missing-required ${D01}/driver_override`],
  },
  {
    name: 'unknown file in a group directory (closed)',
    mutate: fs => fs.writeFileSync(`${G0}/foo`, 'x\n'),
    expect: [`unknown-attribute ${G0}/foo`],
  },
  {
    name: 'unknown group directory name',
    mutate: fs => fs.mkdirSync('/sys/kernel/iommu_groups/group3'),
    expect: ['unknown-attribute /sys/kernel/iommu_groups/group3'],
  },
  {
    name: 'unknown PCI attribute is not a violation without strict',
    mutate: fs => fs.writeFileSync(`${D02}/ari_enabled`, '0\n'),
    expect: [],
  },
  {
    name: 'unknown PCI attribute in strict mode',
    strict: true,
    mutate: fs => fs.writeFileSync(`${D02}/ari_enabled`, '0\n'),
    expect: [`unknown-attribute ${D02}/ari_enabled`],
  },
  {
    name: 'wrong kind: type as a directory',
    mutate: fs => {
      fs.unlinkSync(`${G0}/type`);
      fs.mkdirSync(`${G0}/type`);
      fs.chmodSync(`${G0}/type`, 0o755);
    },
    expect: [`wrong-kind ${G0}/type`],
  },
  {
    name: 'wrong kind: iommu_group as a directory',
    mutate: fs => {
      fs.unlinkSync(`${D02}/iommu_group`);
      fs.mkdirSync(`${D02}/iommu_group`);
    },
    expect: [`group-backlink ${G0}/devices/0000:00:02.0`, `wrong-kind ${D02}/iommu_group`],
  },
  {
    name: 'dangling link',
    mutate: fs => fs.symlinkSync('../../../devices/pci0000:00/0000:00:03.0', '/sys/bus/pci/devices/0000:00:03.0'),
    expect: ['dangling-link /sys/bus/pci/devices/0000:00:03.0'],
  },
  {
    name: "iommu_group with one '../' too many",
    mutate: fs => relink(fs, `${D02}/iommu_group`, '../../../../kernel/iommu_groups/0'),
    expect: [`group-backlink ${G0}/devices/0000:00:02.0`, `link-depth ${D02}/iommu_group`],
  },
  {
    name: "nested device's iommu_group with the depth of a top-level device",
    mutate: fs => relink(fs, `${D01}/iommu_group`, '../../../kernel/iommu_groups/2'),
    expect: ['group-backlink /sys/kernel/iommu_groups/2/devices/0000:01:00.0', `link-depth ${D01}/iommu_group`],
  },
  {
    name: 'group devices/ link with the wrong depth',
    mutate: fs => relink(fs, `${G0}/devices/0000:00:02.0`, '../../../devices/pci0000:00/0000:00:02.0'),
    expect: [`group-backlink ${D02}/iommu_group`, `link-depth ${G0}/devices/0000:00:02.0`],
  },
  {
    name: 'class/iommu link with the wrong depth',
    mutate: fs => relink(fs, '/sys/class/iommu/dmar0', '../../../devices/virtual/iommu/dmar0'),
    expect: ['link-depth /sys/class/iommu/dmar0'],
  },
  {
    name: 'absolute link',
    mutate: fs => relink(fs, '/sys/bus/pci/devices/0000:00:02.0', '/sys/devices/pci0000:00/0000:00:02.0'),
    expect: ['link-depth /sys/bus/pci/devices/0000:00:02.0'],
  },
  {
    name: 'link that reaches the right target by a detour kernfs never writes',
    mutate: fs => relink(fs, '/sys/bus/pci/devices/0000:00:02.0', '../../../devices/pci0000:00/../pci0000:00/0000:00:02.0'),
    expect: ['link-depth /sys/bus/pci/devices/0000:00:02.0'],
  },
  {
    name: 'link target outside the pattern',
    mutate: fs => relink(fs, `${D02}/subsystem`, '../../../bus/platform'),
    expect: [`link-target ${D02}/subsystem`],
  },
  {
    name: 'link name differs from its target',
    mutate: fs => relink(fs, '/sys/bus/pci/devices/0000:00:02.0', '../../../devices/pci0000:00/0000:00:1c.0'),
    expect: ['link-target /sys/bus/pci/devices/0000:00:02.0'],
  },
  {
    name: 'collision-suffixed group member name is legal',
    mutate: fs => {
      fs.unlinkSync(`${G0}/devices/0000:00:02.0`);
      fs.symlinkSync('../../../../devices/pci0000:00/0000:00:02.0', `${G0}/devices/0000:00:02.0.0`);
    },
    expect: [],
  },
  {
    name: 'inconsistent group back-link (device points at another group)',
    mutate: fs => relink(fs, `${D02}/iommu_group`, '../../../kernel/iommu_groups/1'),
    expect: [`group-backlink ${G0}/devices/0000:00:02.0`, `group-backlink ${D02}/iommu_group`],
  },
  {
    name: 'group member missing from the group (device still points at it)',
    mutate: fs => fs.unlinkSync('/sys/kernel/iommu_groups/2/devices/0000:01:00.0'),
    expect: [`group-backlink ${D01}/iommu_group`],
  },
  {
    name: 'IOMMU unit lost the device link',
    mutate: fs => fs.unlinkSync('/sys/devices/virtual/iommu/dmar0/devices/0000:00:02.0'),
    expect: [`iommu-backlink ${D02}/iommu`],
  },
  {
    name: 'device lost its iommu link',
    mutate: fs => fs.unlinkSync(`${D02}/iommu`),
    expect: ['iommu-backlink /sys/devices/virtual/iommu/dmar0/devices/0000:00:02.0'],
  },
  {
    name: 'driver directory lost the device link',
    mutate: fs => fs.unlinkSync('/sys/bus/pci/drivers/i915/0000:00:02.0'),
    expect: [`driver-backlink ${D02}/driver`],
  },
  {
    name: 'config bytes inconsistent with vendor',
    mutate: fs => fs.writeFileSync(`${D02}/vendor`, '0x8087\n'),
    expect: [`config-mismatch ${D02}/config`, `modalias-mismatch ${D02}/modalias`],
  },
  {
    name: 'config class bytes disagree with class',
    mutate: fs => {
      const d = DEVS[0] as Dev;
      const b = config(d);
      b[0x0b] = 0x04;
      fs.writeFileSync(`${D02}/config`, b);
    },
    expect: [`config-mismatch ${D02}/config`],
  },
  {
    name: 'config subsystem id bytes disagree with subsystem_device',
    mutate: fs => {
      const b = config(DEVS[0] as Dev);
      b.writeUInt16LE(0x0870, 0x2e);
      fs.writeFileSync(`${D02}/config`, b);
    },
    expect: [`config-mismatch ${D02}/config`],
  },
  {
    name: 'config of a wrong size',
    mutate: fs => fs.writeFileSync(`${D02}/config`, Buffer.concat([config(DEVS[0] as Dev), Buffer.alloc(256)])),
    expect: [`config-size ${D02}/config`],
  },
  {
    name: '4096-byte config without a PCIe capability',
    mutate: fs => fs.writeFileSync(`${D02}/config`, Buffer.concat([config(DEVS[0] as Dev), Buffer.alloc(4096 - 256)])),
    expect: [`config-size ${D02}/config`],
  },
  {
    name: 'resource with the endpoint line count on a bridge',
    mutate: fs => fs.writeFileSync(`${D1C}/resource`, '0x0000000000000000 0x0000000000000000 0x0000000000000000\n'.repeat(13)),
    expect: [`line-count ${D1C}/resource`],
  },
  {
    name: 'vendor in upper case',
    mutate: fs => fs.writeFileSync(`${D02}/vendor`, '0x808G\n'),
    expect: [`content-grammar ${D02}/vendor`],
  },
  {
    name: 'type value outside the grammar',
    mutate: fs => fs.writeFileSync(`${G0}/type`, 'dma\n'),
    expect: [`content-grammar ${G0}/type`],
  },
  {
    name: 'reserved_regions on 4.10',
    kernel: '4.10',
    mutate: fs => {
      fs.writeFileSync(`${G0}/reserved_regions`, RESV_0);
      fs.chmodSync(`${G0}/reserved_regions`, 0o444);
    },
    expect: [`version-gate ${G0}/reserved_regions`],
  },
  {
    name: 'writable type before 5.11',
    kernel: '5.10',
    mutate: fs => fs.chmodSync(`${G0}/type`, 0o644),
    expect: [`version-gate ${G0}/type`],
  },
  {
    name: 'DMA-FQ before 5.15',
    kernel: '5.14',
    mutate: fs => fs.writeFileSync(`${G0}/type`, 'DMA-FQ\n'),
    expect: [`version-gate ${G0}/type`],
  },
  {
    name: 'direct-relaxable before 5.3',
    kernel: '5.2',
    mutate: fs => resv(fs, `0x0000000000000000 0x0000000000ffffff direct-relaxable\n${RESV_0}`),
    expect: [`version-gate ${G0}/reserved_regions:1`],
  },
  {
    name: 'vfio-dev before 6.6',
    kernel: '6.5',
    mutate: fs => {
      fs.mkdirSync(`${D01}/vfio-dev/vfio0`, { recursive: true });
      fs.chmodSync(`${D01}/vfio-dev`, 0o755);
      fs.chmodSync(`${D01}/vfio-dev/vfio0`, 0o755);
    },
    expect: [`version-gate ${D01}/vfio-dev`],
  },
];

for (const c of cases) {
  test(`rule table: ${c.name}`, t => {
    const kv = c.kernel ?? '6.8.0-45-generic';
    const fs = memTree(kv);
    c.mutate(fs);
    const got = validateSysfsTree(fs, '/sys', { kernelVersion: kv, strict: c.strict ?? false });
    t.deepEqual(pairs(got).sort(), [...c.expect].sort());
    for (const f of got) t.true(f.rule in RULES);
  });
}

test('line numbers and messages of a grammar finding', t => {
  const fs = memTree('6.8');
  resv(fs, `${RESV_0}0x00000000FEE00000 0x00000000feefffff msi\n`);
  const [f] = validateSysfsTree(fs, '/sys', { kernelVersion: '6.8' });
  t.like(f, { rule: 'line-grammar', line: 2, severity: 'error', path: `${G0}/reserved_regions` });
  t.regex(f?.message ?? '', /line 2 .*FEE00000/);
});

test('a link climbing out of root through an absolute intermediate link is never followed', t => {
  const fs = memTree('6.8');
  fs.rmSync('/sys/devices/virtual/iommu/dmar0', { recursive: true });
  fs.symlinkSync('/etc', '/sys/devices/virtual/iommu/dmar0');
  const got = validateSysfsTree(fs, '/sys', { kernelVersion: '6.8' });
  t.true(got.some(f => f.rule === 'link-escape' && f.path === '/sys/class/iommu/dmar0'));
  t.true(got.some(f => f.rule === 'link-escape' && f.path === `${D02}/iommu`));
});

test('no iommu_groups → exactly one info finding (absent or empty)', t => {
  const absent = memTree('6.8');
  absent.rmSync('/sys/kernel/iommu_groups', { recursive: true });
  t.deepEqual(validateSysfsTree(absent, '/sys', { kernelVersion: '6.8' }), [
    { path: '/sys/kernel/iommu_groups', rule: 'no-iommu-groups', message: 'no iommu_groups: the directory is absent', severity: 'info' },
  ]);
  const empty = createFsFromVolume(Volume.fromJSON({ '/sys/kernel/iommu_groups': null }));
  const got = validateSysfsTree(empty as unknown as SysfsFs, '/sys', { kernelVersion: '6.8' });
  t.deepEqual(pairs(got), ['no-iommu-groups /sys/kernel/iommu_groups']);
  t.is(got[0]?.severity, 'info');
});

test('a missing root is a plain Error naming the path', t => {
  const fs = memTree('6.8');
  const err = t.throws(() => validateSysfsTree(fs, '/nope/sys', { kernelVersion: '6.8' }));
  t.is(err?.constructor, Error);
  t.regex(err?.message ?? '', /"\/nope\/sys" does not exist/);
  t.throws(() => validateSysfsTree(fs, `${G0}/type`, { kernelVersion: '6.8' }), { message: /is not a directory/ });
  t.throws(() => validateSysfsTree(fs, '/sys', { kernelVersion: 'six' }), { message: /not a kernel version/ });
});

test('read bounds: a file cap stops reading and says so', t => {
  const fs = memTree('6.8');
  const got = validateSysfsTree(fs, '/sys', { kernelVersion: '6.8', maxFilesRead: 3 });
  t.deepEqual(pairs(got.filter(f => f.rule === 'read-cap')), ['read-cap /sys']);
  const big = memTree('6.8');
  big.writeFileSync(`${G0}/reserved_regions`, RESV_0.repeat(100));
  const capped = validateSysfsTree(big, '/sys', { kernelVersion: '6.8', maxBytesPerFile: 3 * RESV_0.length });
  t.deepEqual(pairs(capped.filter(f => f.path === `${G0}/reserved_regions`)), [
    `read-cap ${G0}/reserved_regions`,
    `resv-unmerged ${G0}/reserved_regions:3`,
  ]);
});

test('every entry of the hand-built tree has a schema entry (the renderer can run the same check)', t => {
  const s = sysfsSchema();
  const tree = spec('6.8');
  const uncovered = [...tree.files.keys(), ...tree.links.keys()].filter(p => !s.match(p));
  t.deepEqual(uncovered, []);
});

test('checkReservedRegions: the kernel worked examples are clean', t => {
  const checks = sysfsSchema().byId('iommu_groups.group.reserved_regions')?.checks ?? [];
  t.true(checks.length > 0);
  const v53 = checks.filter(c => c.since === '5.3' || c.check === 'resv-end-before-start');
  for (const text of [
    '0x0000000000001000 0x0000000000002fff direct\n',
    '0x00000000fee00000 0x00000000feefffff reserved\n0x00000000fee00000 0x00000000feefffff msi\n',
    '0x0000000008000000 0x00000000080fffff msi\n0x0000000008000000 0x00000000080fffff msi\n',
    '0x0000000000000000 0x0000000000003fff direct\n0x0000000000001800 0x00000000000018ff msi\n',
    '0xfffffffffffff000 0xffffffffffffffff reserved\n0xfffffffffffff800 0xffffffffffffffff reserved\n',
    '',
  ]) {
    t.deepEqual(checkReservedRegions(text, v53), [], JSON.stringify(text));
  }
  t.deepEqual(
    checkReservedRegions('0x0000000000001000 0x0000000000001fff direct\n0x0000000000002000 0x0000000000002fff direct\n', v53).map(p => p.rule),
    ['resv-unmerged'],
  );
});

test('node:fs on an exported directory behaves like memfs', t => {
  const dir = nodeFs.mkdtempSync(path.join(os.tmpdir(), 'sysfs-export-'));
  t.teardown(() => nodeFs.rmSync(dir, { recursive: true, force: true }));
  const root = path.join(dir, 'sys');
  materialize(nodeFs as unknown as Fs, root, spec('6.8'));
  t.deepEqual(pairs(validateSysfsTree(nodeFs, root, { kernelVersion: '6.8', strict: true })), []);
  nodeFs.unlinkSync(path.join(root, 'devices/pci0000:00/0000:00:02.0/iommu_group'));
  nodeFs.symlinkSync('../../../../kernel/iommu_groups/0', path.join(root, 'devices/pci0000:00/0000:00:02.0/iommu_group'));
  t.deepEqual(pairs(validateSysfsTree(nodeFs, `${root}/`, { kernelVersion: '6.8' })).sort(), [
    `group-backlink ${G0}/devices/0000:00:02.0`,
    `link-depth ${D02}/iommu_group`,
  ]);
});

const READ_ONLY = new Set(['lstatSync', 'statSync', 'readdirSync', 'readlinkSync', 'readFileSync', 'openSync', 'readSync', 'closeSync']);

function recordingFs(calls: Map<string, number>, flags: string[]): SysfsFs {
  return new Proxy(nodeFs, {
    get(target, prop, receiver) {
      const v: unknown = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function' || typeof prop !== 'string') return v;
      return (...args: unknown[]) => {
        calls.set(prop, (calls.get(prop) ?? 0) + 1);
        if (prop === 'openSync') flags.push(String(args[1]));
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  }) as unknown as SysfsFs;
}

test("this machine's real /sys: completes read-only; no groups → exactly the info finding", t => {
  const calls = new Map<string, number>();
  const flags: string[] = [];
  const got = validateSysfsTree(recordingFs(calls, flags), '/sys', { kernelVersion: os.release() });
  const groups = nodeFs.existsSync('/sys/kernel/iommu_groups') ? nodeFs.readdirSync('/sys/kernel/iommu_groups') : [];
  if (groups.length === 0) t.deepEqual(pairs(got), ['no-iommu-groups /sys/kernel/iommu_groups']);
  else t.false(got.some(f => f.rule === 'no-iommu-groups'));
  const all = validateSysfsTree(recordingFs(calls, flags), '/sys', { kernelVersion: os.release(), requireGroups: false });
  for (const f of all) t.true(f.rule in RULES, f.rule);
  t.true((calls.get('lstatSync') ?? 0) > 0);
  t.deepEqual([...calls.keys()].filter(k => !READ_ONLY.has(k)), []);
  t.deepEqual([...new Set(flags)].filter(f => f !== 'r'), []);
});
