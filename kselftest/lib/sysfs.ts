// SPDX-License-Identifier: GPL-2.0-only
/**
 * Reading a target's `/sys` as a consumer does (readdir, readlink, realpath, cat), plus the
 * `reserved_regions` line grammar and the PCI facts the per-platform rules key on.
 * @see shared/reference/kernel-sysfs-abi.md §1.2, §1.7, §4
 */
import * as path from 'node:path';
import type { Target } from '../targets';

export const SYS_IOMMU_GROUPS = '/sys/kernel/iommu_groups';
export const SYS_PCI_DEVICES = '/sys/bus/pci/devices';
export const SYS_PCI_DRIVERS = '/sys/bus/pci/drivers';
export const SYS_CLASS_IOMMU = '/sys/class/iommu';

/** `0x%016llx 0x%016llx %s\n` @see drivers/iommu/iommu.c:iommu_group_show_resv_regions */
export const RESV_LINE = /^0x[0-9a-f]{16} 0x[0-9a-f]{16} (direct|direct-relaxable|reserved|msi)$/;
export const RESV_TYPES = ['direct', 'direct-relaxable', 'reserved', 'msi'] as const;
export type ResvTypeName = (typeof RESV_TYPES)[number];

export interface Region {
  readonly start: bigint;
  /** Inclusive. */
  readonly end: bigint;
  readonly type: ResvTypeName;
  readonly line: string;
}

/** Lines of a `reserved_regions` file; a line breaking the grammar throws (check RESV_LINE first). */
export function parseRegions(text: string): Region[] {
  return text
    .split('\n')
    .filter((l, i, all) => l !== '' || i !== all.length - 1)
    .map(line => {
      const m = RESV_LINE.exec(line);
      if (!m) throw new Error(`reserved_regions line breaks the grammar: ${JSON.stringify(line)}`);
      const [s, e] = line.split(' ') as [string, string];
      return { start: BigInt(s), end: BigInt(e), type: m[1] as ResvTypeName, line };
    });
}

export const regionLine = (start: bigint, end: bigint, type: ResvTypeName): string =>
  `0x${start.toString(16).padStart(16, '0')} 0x${end.toString(16).padStart(16, '0')} ${type}`;

const byNumber = (a: string, b: string): number => Number(a) - Number(b) || (a < b ? -1 : a > b ? 1 : 0);

/** Read-only `/sys` of a target; every path is spelled `/sys/...`. */
export class SysfsView {
  private readonly rootReal: string;

  constructor(readonly target: Target) {
    this.rootReal = target.root === '/' ? '/' : String(target.fs.realpathSync(target.root));
  }

  /** Where `/sys/...` lives in the target's fs. */
  real(p: string): string {
    if (!p.startsWith('/sys')) throw new Error(`not a /sys path: ${p}`);
    return this.target.root === '/' ? p : path.join(this.target.root, p);
  }

  exists(p: string): boolean {
    try {
      this.target.fs.lstatSync(this.real(p));
      return true;
    } catch {
      return false;
    }
  }

  isDir(p: string): boolean {
    try {
      return this.target.fs.lstatSync(this.real(p)).isDirectory();
    } catch {
      return false;
    }
  }

  isLink(p: string): boolean {
    try {
      return this.target.fs.lstatSync(this.real(p)).isSymbolicLink();
    } catch {
      return false;
    }
  }

  /** Permission bits (lstat). */
  mode(p: string): number {
    return Number(this.target.fs.lstatSync(this.real(p)).mode) & 0o7777;
  }

  read(p: string): string {
    const v = this.target.fs.readFileSync(this.real(p));
    return typeof v === 'string' ? v : Buffer.from(v as Uint8Array).toString('latin1');
  }

  tryRead(p: string): string | undefined {
    try {
      return this.read(p);
    } catch {
      return undefined;
    }
  }

  /** Directory entries, numeric names in numeric order, the rest sorted; [] when absent. */
  list(p: string): string[] {
    try {
      return this.target.fs.readdirSync(this.real(p)).map(String).sort(byNumber);
    } catch {
      return [];
    }
  }

  readlink(p: string): string {
    return String(this.target.fs.readlinkSync(this.real(p)));
  }

  /** realpath(3) in `/sys` space; undefined when dangling or outside the tree. */
  resolve(p: string): string | undefined {
    let r: string;
    try {
      r = String(this.target.fs.realpathSync(this.real(p)));
    } catch {
      return undefined;
    }
    if (this.rootReal === '/') return r;
    if (r === this.rootReal) return '/';
    return r.startsWith(this.rootReal + '/') ? r.slice(this.rootReal.length) : undefined;
  }

  // ---- IOMMU groups and PCI devices --------------------------------------------------

  groups(): string[] {
    return this.list(SYS_IOMMU_GROUPS);
  }

  groupDir(id: string): string {
    return `${SYS_IOMMU_GROUPS}/${id}`;
  }

  /** Names in `devices/` of a group. */
  groupDevices(id: string): string[] {
    return this.list(`${this.groupDir(id)}/devices`);
  }

  regions(id: string): Region[] {
    return parseRegions(this.read(`${this.groupDir(id)}/reserved_regions`));
  }

  pciDevices(): string[] {
    return this.list(SYS_PCI_DEVICES);
  }

  /** `class` of a PCI device as a number (0x0c0330 → xHCI). */
  pciClass(bdf: string): number | undefined {
    const s = this.tryRead(`${SYS_PCI_DEVICES}/${bdf}/class`);
    return s === undefined ? undefined : Number.parseInt(s.trim(), 16);
  }

  /** Name of the IOMMU unit a device's `iommu` link names (`dmar0`, `ivhd0`, `smmu3.0x…`). */
  deviceUnit(dev: string): string | undefined {
    const p = `${dev}/iommu`;
    if (!this.isLink(p)) return undefined;
    const r = this.resolve(p);
    return r === undefined ? undefined : path.posix.basename(r);
  }

  /** Name of the driver bound to a PCI device, if any. */
  pciDriver(bdf: string): string | undefined {
    const r = this.resolve(`${SYS_PCI_DEVICES}/${bdf}/driver`);
    return r === undefined ? undefined : path.posix.basename(r);
  }

  /** The group a PCI device belongs to, by its `iommu_group` link. */
  pciGroup(bdf: string): string | undefined {
    const r = this.resolve(`${SYS_PCI_DEVICES}/${bdf}/iommu_group`);
    return r === undefined ? undefined : path.posix.basename(r);
  }

  /** Units of every member of a group. */
  groupUnits(id: string): string[] {
    const units = new Set<string>();
    for (const d of this.groupDevices(id)) {
      const dev = this.resolve(`${this.groupDir(id)}/devices/${d}`);
      const u = dev === undefined ? undefined : this.deviceUnit(dev);
      if (u !== undefined) units.add(u);
    }
    return [...units].sort();
  }
}

/** IOMMU driver family from a unit name. @see shared/reference/kernel-sysfs-abi.md §4.1 */
export type UnitFamily = 'intel' | 'amd' | 'smmuv3' | 'virtio' | 'other';
export function unitFamily(unit: string): UnitFamily {
  if (/^dmar\d+$/.test(unit)) return 'intel';
  if (/^ivhd\d+$/.test(unit)) return 'amd';
  if (/^smmu3\./.test(unit)) return 'smmuv3';
  if (/^virtio\d+$/.test(unit)) return 'virtio';
  return 'other';
}

/** PCI base/sub class (`class >> 8`). */
export const PCI_CLASS_BRIDGE_ISA = 0x0601;
export const PCI_CLASS_SERIAL_USB = 0x0c03;
export const PCI_BASE_CLASS_DISPLAY = 0x03;
