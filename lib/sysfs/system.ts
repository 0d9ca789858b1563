// SPDX-License-Identifier: GPL-2.0-only
/**
 * The machine's CPUs and NUMA nodes (/sys/devices/system/{cpu,node}), the masks PCI devices
 * report as their locality, and the network interfaces of NICs bound to a network driver.
 * @see drivers/base/cpu.c, drivers/base/topology.c, drivers/base/node.c
 * @see drivers/pci/pci-sysfs.c:local_cpus_show, local_cpulist_show
 * @see net/core/net-sysfs.c (net class attributes), drivers/base/core.c:dev_uevent
 * @note emulation: one package per NUMA node, one core per CPU (no SMT), no caches, 16 GiB per
 * node unless the topology says otherwise.
 */
import type { Host } from '../host';
import type { PciDevice } from '../model/host';
import type { Attribute, SysTree } from '../kernfs/attribute';

const ro = (name: string, show: () => string): Attribute => ({ name, mode: 0o444, show });

/** Every CPU, ascending. */
export const allCpus = (host: Host): number[] => host.topology.nodes.flatMap((n) => n.cpus).sort((a, b) => a - b);

/** `nr_cpu_ids`: one past the highest possible CPU. */
export const nrCpuIds = (host: Host): number => Math.max(0, ...allCpus(host)) + 1;

/**
 * `%*pb`: the mask as hex, most significant 32-bit chunk first, chunks separated by commas, the
 * first chunk only as wide as the bits it holds. @see lib/vsprintf.c:bitmap_string
 */
export function cpumaskString(cpus: readonly number[], nbits: number): string {
  const chunks = Math.max(1, Math.ceil(nbits / 32));
  const parts: string[] = [];
  for (let c = chunks - 1; c >= 0; c--) {
    let v = 0;
    for (const cpu of cpus) if (cpu >= 32 * c && cpu < 32 * (c + 1)) v |= 1 << (cpu - 32 * c);
    const width = c === chunks - 1 ? Math.ceil((nbits - 32 * c) / 4) : 8;
    parts.push((v >>> 0).toString(16).padStart(width, '0'));
  }
  return parts.join(',');
}

/** `%*pbl`: `0-3,8`. @see lib/vsprintf.c:bitmap_list_string */
export function cpulistString(cpus: readonly number[]): string {
  const s = [...cpus].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j]! + 1) j++;
    out.push(i === j ? `${s[i]}` : `${s[i]}-${s[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

/** A device's local CPUs: its node's, or every online CPU without a node. @see arch/x86/include/asm/pci.h:cpumask_of_pcibus */
export function localCpus(host: Host, d: PciDevice): number[] {
  const node = host.topology.nodes.find((n) => n.id === d.spec.numa_node);
  return node ? [...node.cpus] : allCpus(host);
}

export function pciLocalityAttrs(host: Host, d: PciDevice): Attribute[] {
  return [
    ro('local_cpus', () => `${cpumaskString(localCpus(host, d), nrCpuIds(host))}\n`),
    ro('local_cpulist', () => `${cpulistString(localCpus(host, d))}\n`),
  ];
}

/** Adds /sys/devices/system/{cpu,node} and /sys/bus/{cpu,node}. */
export function addSystemTree(t: SysTree, host: Host, link: (p: string, target: string) => void): void {
  const file = (d: string, a: Attribute) => t.set(`${d}/${a.name}`, { kind: 'file', attr: a });
  const cpus = allCpus(host);
  const nr = nrCpuIds(host);
  const list = `${cpulistString(cpus)}\n`;
  const nodes = [...host.topology.nodes].sort((a, b) => a.id - b.id);
  const C = '/sys/devices/system/cpu';
  t.set(C, { kind: 'dir' });
  for (const [name, text] of [['online', list], ['possible', list], ['present', list], ['offline', '\n'], ['isolated', '\n'], ['kernel_max', `${Math.max(nr - 1, 8191)}\n`]] as const)
    file(C, ro(name, () => text));
  t.set('/sys/bus/cpu/devices', { kind: 'dir' });
  nodes.forEach((node, pkg) => {
    node.cpus.forEach((cpu, core) => {
      const d = `${C}/cpu${cpu}`;
      t.set(d, { kind: 'dir' });
      // cpu0 cannot be offlined on most systems: no `online` file. @see drivers/base/cpu.c:register_cpu (hotpluggable)
      if (cpu !== cpus[0]) file(d, { name: 'online', mode: 0o644, show: () => '1\n' });
      file(d, { name: 'uevent', mode: 0o644, show: () => 'DRIVER=processor\n' });
      link(`${d}/node${node.id}`, `/sys/devices/system/node/node${node.id}`);
      link(`${d}/subsystem`, '/sys/bus/cpu');
      link(`/sys/bus/cpu/devices/cpu${cpu}`, d);
      const tp = `${d}/topology`;
      t.set(tp, { kind: 'dir' });
      const pkgCpus = node.cpus;
      for (const [name, v] of [
        ['physical_package_id', `${pkg}`],
        ['die_id', '0'],
        ['core_id', `${core}`],
        ['cluster_id', `${core}`],
        ['core_cpus', cpumaskString([cpu], nr)],
        ['core_cpus_list', `${cpu}`],
        ['thread_siblings', cpumaskString([cpu], nr)],
        ['thread_siblings_list', `${cpu}`],
        ['cluster_cpus', cpumaskString([cpu], nr)],
        ['cluster_cpus_list', `${cpu}`],
        ['die_cpus', cpumaskString(pkgCpus, nr)],
        ['die_cpus_list', cpulistString(pkgCpus)],
        ['package_cpus', cpumaskString(pkgCpus, nr)],
        ['package_cpus_list', cpulistString(pkgCpus)],
        ['core_siblings', cpumaskString(pkgCpus, nr)],
        ['core_siblings_list', cpulistString(pkgCpus)],
      ] as const)
        file(tp, ro(name, () => `${v}\n`));
    });
  });

  const N = '/sys/devices/system/node';
  t.set(N, { kind: 'dir' });
  const ids = `${cpulistString(nodes.map((n) => n.id))}\n`;
  for (const name of ['possible', 'online', 'has_normal_memory', 'has_memory']) file(N, ro(name, () => ids));
  file(N, ro('has_cpu', () => `${cpulistString(nodes.filter((n) => n.cpus.length).map((n) => n.id))}\n`));
  t.set('/sys/bus/node/devices', { kind: 'dir' });
  for (const node of nodes) {
    const d = `${N}/node${node.id}`;
    t.set(d, { kind: 'dir' });
    file(d, ro('cpumap', () => `${cpumaskString(node.cpus, nr)}\n`));
    file(d, ro('cpulist', () => `${cpulistString(node.cpus)}\n`));
    // SLIT default: 10 to itself, 20 to the others. @see drivers/acpi/numa/srat.c (LOCAL_DISTANCE, REMOTE_DISTANCE)
    file(d, ro('distance', () => `${nodes.map((o) => (o.id === node.id ? 10 : 20)).join(' ')}\n`));
    file(d, ro('meminfo', () => nodeMeminfo(node.id, node.memory)));
    file(d, { name: 'uevent', mode: 0o644, show: () => '' });
    for (const cpu of node.cpus) link(`${d}/cpu${cpu}`, `${C}/cpu${cpu}`);
    link(`${d}/subsystem`, '/sys/bus/node');
    link(`/sys/bus/node/devices/node${node.id}`, d);
  }
}

/** The first lines of node meminfo. @see drivers/base/node.c:node_read_meminfo ("Node %d MemTotal: %8lu kB") */
function nodeMeminfo(id: number, bytes: bigint): string {
  const kb = bytes / 1024n;
  const line = (k: string, v: bigint) => `Node ${id} ${`${k}:`.padEnd(16)}${v.toString().padStart(8)} kB\n`;
  return line('MemTotal', kb) + line('MemFree', kb - kb / 8n) + line('MemUsed', kb / 8n);
}

/** The net class device of a NIC bound to a network driver, or undefined. */
export function netdevOf(host: Host, d: PciDevice): { name: string; mac: string; ifindex: number } | undefined {
  if (!isNetdev(d)) return undefined;
  const index = host.devices.filter(isNetdev).indexOf(d);
  const name = d.spec.ifname ?? predictableName(d);
  const mac = d.spec.mac ?? `02:00:${[d.domain & 0xff, d.bus, d.slot, d.func].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
  return { name, mac, ifindex: index + 2 };
}

/**
 * Drivers whose functions have no net device of their own: userspace drivers, and virtio-pci,
 * whose net device is a child of the virtio device (`virtioN/net/…`).
 * @note emulation: virtio devices are not modelled, so a virtio NIC shows no interface.
 */
const NON_NET_DRIVERS = new Set(['vfio-pci', 'pci-stub', 'virtio-pci']);
const isNetdev = (d: PciDevice) => d.class >> 16 === 0x02 && d.driver !== null && !NON_NET_DRIVERS.has(d.driver) && !d.removed;

/**
 * The name udev gives by path when firmware names nothing: `enp<bus>s<slot>[f<func>]`, the
 * function only on multi-function devices. @see systemd src/udev/udev-builtin-net_id.c (ID_NET_NAME_PATH)
 */
function predictableName(d: PciDevice): string {
  const multi = (d.spec.multifunction ?? false) || d.config[0x0e]! & 0x80 || d.func > 0;
  return `enp${d.bus}s${d.slot}${multi ? `f${d.func}` : ''}`;
}

/** `<device>/net/<ifname>/…` and `/sys/class/net/<ifname>`. @see net/core/net-sysfs.c:net_class_attrs */
export function addNetdev(t: SysTree, host: Host, d: PciDevice, link: (p: string, target: string) => void): void {
  const nd = netdevOf(host, d);
  if (!nd) return;
  const file = (dir: string, a: Attribute) => t.set(`${dir}/${a.name}`, { kind: 'file', attr: a });
  const dir = `${d.sysfsPath}/net/${nd.name}`;
  t.set(dir, { kind: 'dir' });
  for (const [name, v] of [
    ['address', nd.mac],
    ['broadcast', 'ff:ff:ff:ff:ff:ff'],
    ['addr_len', '6'],
    ['addr_assign_type', '0'],
    ['ifindex', `${nd.ifindex}`],
    ['iflink', `${nd.ifindex}`],
    ['type', '1'],
    ['dev_id', '0x0'],
    ['dev_port', '0'],
    ['operstate', 'down'],
    ['carrier_changes', '0'],
  ] as const)
    file(dir, ro(name, () => `${v}\n`));
  file(dir, { name: 'mtu', mode: 0o644, show: () => '1500\n' });
  file(dir, { name: 'flags', mode: 0o644, show: () => '0x1002\n' });
  file(dir, { name: 'tx_queue_len', mode: 0o644, show: () => '1000\n' });
  file(dir, { name: 'uevent', mode: 0o644, show: () => `INTERFACE=${nd.name}\nIFINDEX=${nd.ifindex}\n` });
  link(`${dir}/device`, d.sysfsPath);
  link(`${dir}/subsystem`, '/sys/class/net');
  link(`/sys/class/net/${nd.name}`, dir);
}
