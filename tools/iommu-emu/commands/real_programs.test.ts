// SPDX-License-Identifier: GPL-2.0-only
/**
 * Unmodified programs from Debian read the emulated /sys through `iommu-emu run` and what they
 * print is checked against the topology: lspci -vvv (bridges, bus numbers, ACS, NUMA node,
 * IOMMU group), lstopo-no-graphics (bridges and NUMA nodes), virt-host-validate qemu (IOMMU
 * checks), dpdk-devbind.py --status (the NIC, its driver and /sys/module). Each skips, with the
 * reason in its title, where the program or a private mount namespace is missing.
 */
import test, { ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { builtinHostNames, createMachine } from '../../../lib/index';
import type { Machine } from '../../../lib/index';
import { main } from '../main';
import { bufferIO } from '../io';
import { namespacesAvailable } from './run';
import { plainUserLive } from '../testing/cli';

const ns = namespacesAvailable();

/** The reason a real-program test cannot run here, or undefined. */
function missing(program: string, pkg: string): string | undefined {
  if (!ns.ok) return `namespaces not allowed here: ${ns.reason}`;
  const r = spawnSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `${program} is not installed (Debian package ${pkg})`;
}

/** `test.serial` that also skips without lspci (the live-recipe test picks its own skip). */
const programTestOnly = (title: string, fn: (t: ExecutionContext) => Promise<void>) => programTest(title, 'lspci', 'pciutils', fn);

/** A test that runs `program`: skipped with the reason where it cannot. */
function programTest(title: string, program: string, pkg: string, fn: (t: ExecutionContext) => Promise<void>): void {
  const why = missing(program, pkg);
  if (why) test.serial.skip(`${title} (skipped: ${why})`, fn);
  else test.serial(title, fn);
}

/** `iommu-emu run --host HOST -- sh -c SCRIPT`; `files` are written to a temp dir passed as $1. */
async function run(host: string, script: string, files: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iommu-emu-realprog-'));
  try {
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
    const io = bufferIO({ ...process.env, LC_ALL: 'C' });
    const code = await main(['run', '--host', host, '--', 'sh', '-c', script, 'sh', dir], io);
    return { code, out: io.out(), err: io.err() };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** lspci -vvv's paragraph for one device (`-D` prints the domain). */
function paragraph(out: string, bdf: string): string {
  const at = out.indexOf(`\n${bdf} `) >= 0 ? out.indexOf(`\n${bdf} `) + 1 : out.startsWith(`${bdf} `) ? 0 : -1;
  if (at < 0) return '';
  const end = out.indexOf('\n\n', at);
  return out.slice(at, end < 0 ? undefined : end);
}

const groupOf = (m: Machine, bdf: string) => {
  try {
    return Number(String(m.fs.readlinkSync(`/sys/bus/pci/devices/${bdf}/iommu_group`)).split('/').pop());
  } catch {
    return undefined;
  }
};

for (const host of builtinHostNames()) {
  programTest(`${host}: lspci -vvv shows every device with its bridge bus numbers, ACS, NUMA node, IOMMU group and driver`, 'lspci', 'pciutils', async (t) => {
    const r = await run(host, 'lspci -D -vvv');
    t.is(r.code, 0, r.err);
    const m = createMachine(host);
    for (const d of m.host.devices) {
      const p = paragraph(r.out, d.bdf);
      t.not(p, '', `${d.bdf} is listed`);
      const g = groupOf(m, d.bdf);
      if (g !== undefined) t.regex(p, new RegExp(`\\n\\tIOMMU group: ${g}\\n`), `${d.bdf} group`);
      else t.notRegex(p, /IOMMU group/, `${d.bdf} has no group`);
      if (d.spec.numa_node >= 0) t.regex(p, new RegExp(`\\n\\tNUMA node: ${d.spec.numa_node}\\n`), `${d.bdf} NUMA node`);
      else t.notRegex(p, /NUMA node/);
      if (d.driver) t.regex(p, new RegExp(`Kernel driver in use: ${d.driver.replace(/[-.]/g, '\\$&')}`), `${d.bdf} driver`);
      const bridge = d.class >> 8 === 0x0604;
      if (bridge) {
        const children = m.host.devices.filter((c) => c.parent === d);
        const sub = Math.max(...m.host.devices.filter((c) => { for (let x = c.parent; x; x = x.parent) if (x === d) return true; return false; }).map((c) => c.bus), children[0]?.bus ?? 0);
        const hex2 = (n: number) => n.toString(16).padStart(2, '0');
        if (children.length) t.regex(p, new RegExp(`Bus: primary=${hex2(d.bus)}, secondary=${hex2(children[0]!.bus)}, subordinate=${hex2(sub)},`), `${d.bdf} bus numbers`);
        if (children.some((c) => c.spec.bars.some((b) => b.prefetchable && b.type === 'mem64'))) t.regex(p, /Prefetchable memory behind bridge: [0-9a-f]+-[0-9a-f]+ \[size=/, `${d.bdf} prefetchable window`);
      }
      if (d.spec.pcie && d.spec.acs === true) t.regex(p, /Access Control Services\n\t\tACSCap:\tSrcValid\+ TransBlk\+ ReqRedir\+ CmpltRedir\+ UpstreamFwd\+/, `${d.bdf} ACS`);
      else t.notRegex(p, /Access Control Services/, `${d.bdf} has no ACS`);
      if (d.spec.pcie) t.regex(p, /Capabilities: \[[0-9a-f]+\] Express \(v2\) (Root Port|Endpoint|Root Complex Integrated Endpoint|Upstream Port|Downstream Port)/, `${d.bdf} PCIe`);
    }
    // lspci -t draws the hierarchy from the bridges' bus numbers.
    const tree = await run(host, 'lspci -t');
    t.is(tree.code, 0, tree.err);
    for (const d of m.host.devices.filter((x) => x.class >> 8 === 0x0604 && m.host.devices.some((c) => c.parent === x)))
      t.regex(tree.out, new RegExp(`${d.bdf.slice(8).replace('.', '\\.')}-\\[${m.host.devices.find((c) => c.parent === d)!.bdf.slice(5, 7)}\\]`), `${d.bdf} in lspci -t`);
  });
}

/** The devices below a bridge, at any depth. */
const below = (m: Machine, bdf: string) =>
  m.host.devices.filter((c) => {
    for (let x = c.parent; x; x = x.parent) if (x.bdf === bdf) return true;
    return false;
  });

for (const host of builtinHostNames()) {
  programTest(`${host}: lstopo-no-graphics shows the NUMA nodes, every PCI device, the bridges with their bus ranges and the interfaces`, 'lstopo-no-graphics', 'hwloc-nox', async (t) => {
    const r = await run(host, 'lstopo-no-graphics --whole-io -v');
    t.is(r.code, 0, r.err);
    const m = createMachine(host);
    for (const n of m.topology.nodes) t.regex(r.out, new RegExp(`NUMANode L#\\d+ \\(P#${n.id} `), `node ${n.id}`);
    t.is((r.out.match(/NUMANode L#/g) ?? []).length, m.topology.nodes.length);
    for (const d of m.host.devices) {
      const bridge = d.class >> 8 === 0x0604;
      const kids = below(m, d.bdf);
      if (bridge && kids.length) {
        const hex2 = (n: number) => n.toString(16).padStart(2, '0');
        const sec = m.host.devices.find((c) => c.parent === d)!.bus;
        const sub = Math.max(...kids.map((c) => c.bus));
        t.regex(r.out, new RegExp(`PCIBridge L#\\d+ \\(busid=${d.bdf} id=[0-9a-f]{4}:[0-9a-f]{4} class=0604\\(PCIBridge\\)[^\\n]* buses=0000:\\[${hex2(sec)}-${hex2(sub)}\\]`), `${d.bdf} bridge`);
      } else if (!bridge && d.class >> 8 !== 0x0600) t.regex(r.out, new RegExp(`PCI L#\\d+ \\(busid=${d.bdf} `), `${d.bdf} listed`);
      const ifs = m.fs.existsSync(`/sys/bus/pci/devices/${d.bdf}/net`) ? (m.fs.readdirSync(`/sys/bus/pci/devices/${d.bdf}/net`) as string[]) : [];
      for (const i of ifs) t.regex(r.out, new RegExp(`Network L#\\d+ \\(Address=[0-9a-f:]+\\) "${i}"`), `${d.bdf} interface ${i}`);
    }
  });

  programTest(`${host}: dpdk-devbind.py --status lists every NIC with its driver, interface and the loaded VFIO module`, 'dpdk-devbind.py', 'dpdk', async (t) => {
    const r = await run(host, 'dpdk-devbind.py --status-dev net');
    t.is(r.code, 0, r.err);
    const m = createMachine(host);
    const nics = m.host.devices.filter((d) => d.class >> 16 === 0x02);
    t.true(nics.length > 0);
    const [dpdkPart = '', kernelPart = ''] = ['Network devices using DPDK-compatible driver', 'Network devices using kernel driver'].map((title) => {
      const at = r.out.indexOf(title);
      return at < 0 ? '' : r.out.slice(at, r.out.indexOf('\n\n', at) < 0 ? undefined : r.out.indexOf('\n\n', at));
    });
    for (const d of nics) {
      const line = new RegExp(`^${d.bdf.replace(/\./g, '\\.')} '[^']+ ${d.device.toString(16).padStart(4, '0')}' (if=(\\S*) )?drv=(\\S+) unused=(\\S*)`, 'm');
      if (d.driver === 'vfio-pci') t.regex(dpdkPart, line, `${d.bdf} under DPDK-compatible`);
      else if (d.driver) {
        const mm = line.exec(kernelPart);
        t.truthy(mm, `${d.bdf} under kernel driver`);
        t.is(mm?.[3], d.driver);
        const ifs = m.fs.existsSync(`/sys/bus/pci/devices/${d.bdf}/net`) ? (m.fs.readdirSync(`/sys/bus/pci/devices/${d.bdf}/net`) as string[]) : [];
        t.is(mm?.[2], ifs.join(','), `${d.bdf} interface`);
        // vfio-pci counts as a loaded DPDK module only because /sys/module/vfio_pci exists.
        t.is(mm?.[4], 'vfio-pci', `${d.bdf} offers vfio-pci`);
      }
    }
  });
}

/** A /proc/cpuinfo of one CPU with the given virtualization flag (vmx: Intel VT-x, svm: AMD-V). */
const cpuinfo = (vendor: string, flag: string) =>
  `processor\t: 0\nvendor_id\t: ${vendor}\nflags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx lm ${flag}\n\n`;

const vhv: [string, string, string, 'PASS' | 'WARN', RegExp | undefined][] = [
  ['intel-vtd-server', 'GenuineIntel', 'vmx', 'PASS', undefined],
  ['amd-epyc', 'AuthenticAMD', 'svm', 'PASS', undefined],
  // A QEMU guest with virtio-iommu has groups but no DMAR: libvirt cannot tell, and warns.
  ['virtio-iommu-guest', 'GenuineIntel', 'vmx', 'WARN', /No ACPI DMAR table found/],
];
for (const [host, vendor, flag, want, why] of vhv) {
  programTest(`${host}: virt-host-validate qemu says ${want} for device assignment IOMMU support (stand-in /proc/cpuinfo with ${flag})`, 'virt-host-validate', 'libvirt-clients', async (t) => {
    const r = await run(host, 'mount --bind "$1/cpuinfo" /proc/cpuinfo && virt-host-validate qemu', { cpuinfo: cpuinfo(vendor, flag) });
    const line = (what: string) => new RegExp(`Checking ${what} +: (\\w+)(?: \\((.*)\\))?`).exec(r.out);
    const support = line('for device assignment IOMMU support');
    t.truthy(support, r.out + r.err);
    t.is(support?.[1], want, support?.[0]);
    if (why) t.regex(support?.[2] ?? '', why);
    // With the firmware table there, libvirt goes on to the kernel side: the groups exist.
    if (want === 'PASS') t.is(line('if IOMMU is enabled by kernel')?.[1], 'PASS', r.out);
    else t.is(line('if IOMMU is enabled by kernel'), null, 'without the table libvirt stops there');
  });
}

const live = plainUserLive();
// Root mounts without fusermount3; everyone needs /dev/fuse and the helper make builds.
const liveWhy = live.ok || (process.getuid?.() === 0 && /fusermount3/.test(live.reason)) ? undefined : `no live mount here: ${live.reason}`;
(liveWhy ? test.serial.skip : programTestOnly)(`the remove / rescan recipe through the live run: lspci loses the NIC and finds it again, with its group and driver; junk is EINVAL${liveWhy ? ` (skipped: ${liveWhy})` : ''}`, async (t: ExecutionContext) => {
  const m = createMachine('intel-vtd-server');
  const nic = '0000:01:00.0';
  const g = groupOf(m, nic);
  const r = await run(
    'intel-vtd-server',
    `echo 1 > /sys/bus/pci/devices/${nic}/remove; lspci -D -s ${nic} | wc -l; echo 1 > /sys/bus/pci/rescan; lspci -D -vv -s ${nic}; bash -c 'echo junk > /sys/bus/pci/rescan'; echo "rc=$?"`,
  );
  t.regex(r.out, /^0\n/, 'removed: lspci does not list it');
  t.regex(r.out, new RegExp(`^${nic.replace(/\./g, '\\.')} Ethernet controller`, 'm'), 'rescanned: listed again');
  t.regex(r.out, new RegExp(`IOMMU group: ${g}\\n`));
  t.regex(r.out, /Kernel driver in use: i40e/);
  t.regex(r.err, /write error: Invalid argument/);
  t.regex(r.out, /rc=1/);
});
