// SPDX-License-Identifier: GPL-2.0-only
/**
 * umockdev's `.umockdev` device descriptions (what umockdev-record writes and umockdev-run -d
 * reads): one paragraph per device, `P:` path under /devices, `E:` udev properties, `A:` text
 * attributes (g_strescape'd), `H:` binary attributes in hex, `L:` links, `N:`/`S:` nodes.
 * Export writes every PCI device and IOMMU unit of a machine; import builds the sysfs tree the
 * description implies and records it. umockdev paths must start with /devices/, so the group
 * directories (/sys/kernel/iommu_groups) cannot be described: that loss is reported both ways.
 * @see martinpitt/umockdev src/umockdev.vala:add_dev_from_string, src/umockdev-record.vala:write_attr
 */
import type { Machine } from '../machine';
import { walkEmulated } from '../export/export';
import type { TreeEntry } from '../export/export';
import type { RecordOptions } from './recorder';
import { ByteLimit, overLimit } from '../hostfs';
import { DEFAULT_LIMITS, MemNode, RecordError, SysSource, memSource } from './source';

/** GLib g_strescape(s, ""): C escapes, other bytes outside 0x20..0x7e as octal. */
export function gStrescape(b: Buffer): string {
  let out = '';
  for (const c of b) {
    if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x0b) out += '\\v';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x22) out += '\\"';
    else if (c < 0x20 || c >= 0x7f) out += `\\${c.toString(8).padStart(3, '0')}`;
    else out += String.fromCharCode(c);
  }
  return out;
}

/**
 * GLib g_strcompress: the inverse of g_strescape, in one pass over the UTF-8 bytes (a backslash
 * never occurs inside a multi-byte sequence). A trailing lone backslash is dropped, as GLib does.
 * @see GNOME/glib glib/gstrfuncs.c:g_strcompress
 */
export function gStrcompress(s: string): Buffer {
  const src = Buffer.from(s, 'utf8');
  const out = Buffer.allocUnsafe(src.length);
  let q = 0;
  const ESC: Record<number, number> = { 0x62: 8, 0x66: 12, 0x6e: 10, 0x72: 13, 0x74: 9, 0x76: 11 };
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c !== 0x5c) {
      out[q++] = c;
      continue;
    }
    if (++i >= src.length) break;
    const n = src[i]!;
    if (n >= 0x30 && n <= 0x37) {
      let v = 0;
      const end = Math.min(i + 3, src.length);
      for (; i < end && src[i]! >= 0x30 && src[i]! <= 0x37; i++) v = v * 8 + (src[i]! - 0x30);
      out[q++] = v & 0xff;
      i--;
      continue;
    }
    out[q++] = ESC[n] ?? n;
  }
  return out.subarray(0, q);
}

/** Text if it is valid UTF-8 without NULs, as umockdev-record decides between A: and H:. */
const isText = (b: Buffer) => !b.includes(0) && Buffer.from(b.toString('utf8'), 'utf8').equals(b);

export interface UmockdevExport {
  readonly text: string;
  /** What the description cannot carry. */
  readonly notes: string[];
}

/** Every PCI device and IOMMU unit of the machine, parents first. */
export function toUmockdev(m: Machine): UmockdevExport {
  const entries = walkEmulated(m, '/sys');
  const byDir = new Map<string, TreeEntry[]>();
  for (const e of entries) {
    const dir = e.path.slice(0, e.path.lastIndexOf('/'));
    if (!byDir.has(dir)) byDir.set(dir, []);
    byDir.get(dir)!.push(e);
  }
  const paragraphs: string[] = [];
  const paragraph = (devPath: string, subsystem: string) => {
    const lines = [`P: ${devPath.slice('/sys'.length)}`];
    const attrs: string[] = [];
    const uevent = entries.find((e) => e.path === `${devPath}/uevent`);
    for (const l of uevent?.content?.toString('utf8').split('\n').filter(Boolean) ?? []) lines.push(`E: ${l}`);
    lines.push(`E: SUBSYSTEM=${subsystem}`);
    // Attributes below the device, not below child devices (which get their own paragraph).
    const visit = (dir: string, prefix: string) => {
      for (const e of (byDir.get(dir) ?? []).sort((a, b) => (a.path < b.path ? -1 : 1))) {
        const name = prefix + e.path.slice(dir.length + 1);
        if (name === 'uevent' || name === 'subsystem') continue;
        if (e.kind === 'link') attrs.push(`L: ${name}=${e.target!}`);
        else if (e.kind === 'file') attrs.push(isText(e.content!) ? `A: ${name}=${gStrescape(e.content!)}` : `H: ${name}=${e.content!.toString('hex').toUpperCase()}`);
        else if (!isDevice(e.path)) visit(e.path, `${name}/`);
      }
    };
    visit(devPath, '');
    paragraphs.push([...lines, ...attrs].join('\n'));
  };
  const devices = m.host.devices.filter((d) => !d.removed);
  const isDevice = (p: string) => devices.some((d) => d.sysfsPath === p) || m.host.units.some((u) => u.sysfsPath === p);
  for (const d of devices) paragraph(d.sysfsPath, 'pci');
  for (const u of m.host.units) paragraph(u.sysfsPath, 'iommu');
  const notes: string[] = [];
  if (m.host.groups().length)
    notes.push(
      `/sys/kernel/iommu_groups (${m.host.groups().length} groups: reserved_regions, type, devices/) is not described: umockdev paths must start with /devices/, so the iommu_group links dangle under umockdev-run; run programs that read groups with \`iommu-emu run\``,
    );
  if (m.host.drivers.size) notes.push('/sys/bus/pci/drivers (bind, unbind, new_id, remove_id) is not described: umockdev attributes are plain files, they have no store semantics');
  if (devices.some((d) => d.vfioDevIndex !== undefined)) notes.push('empty directories (vfio-dev/vfioN) cannot be described and are left out');
  return { text: `${paragraphs.join('\n\n')}\n\n`, notes };
}

export interface UmockdevImport {
  readonly source: SysSource;
  readonly options: RecordOptions;
  /** What cannot map onto an IOMMU topology, and what the file does not carry. */
  readonly notes: string[];
}

const LINE = /^([A-Z]): (.*)$/;
const KEYVAL = /^([^=\n]+)=(.*)$/;
const HEX = /^(?:[0-9a-fA-F]{2})*$/;
/** udevadm info line types umockdev-record passes through; they carry nothing for sysfs. */
const UDEVADM_ONLY = new Set(['M', 'R', 'U', 'T', 'D', 'I', 'J', 'Q', 'V', 'W', 'G']);

export interface UmockdevImportOptions {
  /** The largest attribute value (decoded), default DEFAULT_LIMITS.maxFileBytes (1 MiB). */
  readonly attribute?: Partial<ByteLimit>;
}

/** Parse a .umockdev description into the /sys tree it describes. Throws RecordError naming file:line. */
export function importUmockdev(text: string, file = '<umockdev>', opts: UmockdevImportOptions = {}): UmockdevImport {
  const at = (n: number, msg: string) => new RecordError(`${file}:${n}: ${msg}`);
  const attrLimit: ByteLimit = { maxBytes: DEFAULT_LIMITS.maxFileBytes, raise: 'importUmockdev(text, file, { attribute: { maxBytes } })', ...opts.attribute, what: 'attribute' };
  /** Decoded sizes: H: is half its digits; A: at least a quarter of its bytes (\\ooo). */
  const capped = (n: number, key: string, decoded: number, exact = true) => {
    if (decoded > attrLimit.maxBytes) throw at(n, `attribute ${key}: value ${overLimit(attrLimit, exact ? decoded : undefined)}`);
  };
  if (text.includes('\0')) throw new RecordError(`${file}: contains NUL bytes; not a .umockdev text file`);
  const nodes = new Map<string, MemNode>();
  const notes: string[] = [];
  const otherSubsystems = new Map<string, string[]>();
  const lines = text.split('\n');
  let devPath: string | undefined;
  let devStart = 0;
  let subsystem: string | undefined;
  let props: string[] = [];
  let sawDevice = false;
  const ignored = new Map<string, number>();
  const set = (n: number, p: string, node: MemNode) => {
    if (nodes.has(p) && nodes.get(p)!.kind !== 'dir') throw at(n, `${p.slice(4)} is described twice`);
    nodes.set(p, node);
  };
  const finish = (n: number) => {
    if (devPath === undefined) return;
    if (subsystem === undefined) throw at(devStart, `missing SUBSYSTEM property in description of device ${devPath}`);
    const name = devPath.split('/').pop()!;
    const sys = `/sys${devPath}`;
    if (subsystem === 'pci') {
      if (!/^[0-9a-f]{4}:[0-9a-f]{2}:[0-1][0-9a-f]\.[0-7]$/.test(name)) throw at(devStart, `PCI device ${devPath}: name is not DDDD:BB:DD.F`);
      set(n, `/sys/bus/pci/devices/${name}`, { kind: 'link', target: `../../..${devPath}` });
      // What umockdev-run (and the kernel) add to every device: the subsystem link and uevent.
      if (!nodes.has(`${sys}/subsystem`)) set(n, `${sys}/subsystem`, { kind: 'link', target: `${'../'.repeat(devPath.split('/').length - 1)}bus/pci` });
      if (props.length && !nodes.has(`${sys}/uevent`)) set(n, `${sys}/uevent`, { kind: 'file', content: Buffer.from(props.map((l) => `${l}\n`).join(''), 'utf8') });
    } else if (subsystem === 'iommu') {
      set(n, `/sys/class/iommu/${name}`, { kind: 'link', target: `../..${devPath}` });
      if (!nodes.has(`${sys}/subsystem`)) set(n, `${sys}/subsystem`, { kind: 'link', target: `${'../'.repeat(devPath.split('/').length - 1)}class/iommu` });
      if (!nodes.has(`${sys}/uevent`)) set(n, `${sys}/uevent`, { kind: 'file', content: Buffer.from(props.map((l) => `${l}\n`).join(''), 'utf8') });
    }
    else {
      if (!otherSubsystems.has(subsystem)) otherSubsystems.set(subsystem, []);
      otherSubsystems.get(subsystem)!.push(devPath);
    }
    if (!nodes.has(sys)) nodes.set(sys, { kind: 'dir' });
    devPath = undefined;
    subsystem = undefined;
    props = [];
  };
  lines.forEach((raw, i) => {
    const n = i + 1;
    const line = raw.replace(/\r$/, '');
    if (line === '') {
      finish(n);
      return;
    }
    const m = LINE.exec(line);
    if (!m) throw at(n, `malformed line ${JSON.stringify(line.slice(0, 60))} (expected "X: …")`);
    const [, type, rest] = m as unknown as [string, string, string];
    if (type === 'P') {
      if (devPath !== undefined) throw at(n, `invalid P: line in description of device ${devPath} (separate devices with a blank line)`);
      if (!rest.startsWith('/devices/')) throw at(n, `invalid device path '${rest}': must start with /devices/`);
      if (rest.split('/').some((c) => c === '..' || c === '.') || rest.endsWith('/')) throw at(n, `invalid device path '${rest}': . and .. components are not allowed`);
      devPath = rest;
      devStart = n;
      sawDevice = true;
      return;
    }
    if (devPath === undefined) throw at(n, 'device descriptions must start with a "P: /devices/path/..." line');
    const sys = `/sys${devPath}`;
    switch (type) {
      case 'E': {
        const kv = KEYVAL.exec(rest);
        if (!kv) throw at(n, `malformed property line ${JSON.stringify(rest.slice(0, 60))} (expected E: KEY=value)`);
        if (kv[1] === 'SUBSYSTEM') {
          if (subsystem !== undefined) throw at(n, `duplicate SUBSYSTEM property in description of device ${devPath}`);
          subsystem = kv[2]!;
        } else props.push(rest);
        return;
      }
      case 'A':
      case 'H':
      case 'L': {
        const kv = KEYVAL.exec(rest);
        if (!kv) throw at(n, `malformed attribute line ${JSON.stringify(rest.slice(0, 60))} (expected ${type}: name=value)`);
        const [, key, val] = kv as unknown as [string, string, string];
        if (key.startsWith('/') || key.split('/').some((c) => c === '..' || c === '.' || c === ''))
          throw at(n, `attribute name '${key}' must be a relative path without . or .. components`);
        const p = `${sys}/${key}`;
        if (type === 'A') {
          capped(n, key, Math.ceil(val.length / 4), false);
          const content = gStrcompress(val);
          capped(n, key, content.length);
          set(n, p, { kind: 'file', content });
        } else if (type === 'H') {
          capped(n, key, Math.floor(val.length / 2));
          if (!HEX.test(val)) throw at(n, `malformed hexadecimal value for ${key}: hex digits must come in pairs`);
          set(n, p, { kind: 'file', content: Buffer.from(val, 'hex') });
        } else {
          if (val.startsWith('/')) throw at(n, `link ${key} -> ${val}: absolute targets are not sysfs links`);
          set(n, p, { kind: 'link', target: val });
          if (key === 'iommu_group') {
            const parts = `${devPath}/${val}`.split('/');
            const stack: string[] = [];
            for (const c of parts) c === '..' ? stack.pop() : c && c !== '.' && stack.push(c);
            const g = `/${stack.join('/')}`;
            if (!/^\/kernel\/iommu_groups\/\d+$/.test(g)) throw at(n, `iommu_group -> ${val}: does not lead to /sys/kernel/iommu_groups/N`);
            set(n, `/sys${g}/devices/${devPath.split('/').pop()!}`, { kind: 'link', target: `../../../..${devPath}` });
          }
        }
        return;
      }
      case 'N':
      case 'S':
        ignored.set(`${type} (device nodes)`, (ignored.get(`${type} (device nodes)`) ?? 0) + 1);
        return;
      default:
        if (UDEVADM_ONLY.has(type)) {
          ignored.set(`${type} (udevadm info)`, (ignored.get(`${type} (udevadm info)`) ?? 0) + 1);
          return;
        }
        throw at(n, `unknown line type '${type}'`);
    }
  });
  finish(lines.length);
  if (!sawDevice) throw new RecordError(`${file}: no device descriptions (no "P: /devices/…" line)`);
  for (const [s, list] of otherSubsystems)
    notes.push(`${list.length} ${s} device(s) cannot map onto an IOMMU topology and are not recorded: ${list.slice(0, 3).join(', ')}${list.length > 3 ? ', …' : ''}`);
  for (const [k, c] of ignored) notes.push(`${c} ${k} line(s) carry nothing the emulator renders; not recorded`);
  notes.push('a .umockdev file has no /sys/kernel/iommu_groups contents: reserved_regions and type are derived from the driver rules (no firmware tables); pass --kernel for the host kernel (default: latest)');
  return { source: memSource(nodes, file), options: {}, notes };
}
