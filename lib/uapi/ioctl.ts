// SPDX-License-Identifier: GPL-2.0-only
/**
 * ioctl request numbers, include/uapi/asm-generic/ioctl.h (x86, arm64, riscv: 14 size bits,
 * direction in the top two). `_IOR`/`_IOW`/`_IOWR` take a layout, never a size.
 */
import assert from 'node:assert';
import { Type, sizeof } from '../abi';

export const _IOC_NRBITS = 8;
export const _IOC_TYPEBITS = 8;
export const _IOC_SIZEBITS = 14;
export const _IOC_DIRBITS = 2;

export const _IOC_NRMASK = (1 << _IOC_NRBITS) - 1;
export const _IOC_TYPEMASK = (1 << _IOC_TYPEBITS) - 1;
export const _IOC_SIZEMASK = (1 << _IOC_SIZEBITS) - 1;
export const _IOC_DIRMASK = (1 << _IOC_DIRBITS) - 1;

export const _IOC_NRSHIFT = 0;
export const _IOC_TYPESHIFT = _IOC_NRSHIFT + _IOC_NRBITS;
export const _IOC_SIZESHIFT = _IOC_TYPESHIFT + _IOC_TYPEBITS;
export const _IOC_DIRSHIFT = _IOC_SIZESHIFT + _IOC_SIZEBITS;

export const _IOC_NONE = 0;
export const _IOC_WRITE = 1;
export const _IOC_READ = 2;

/** A character constant such as `';'` or its code. */
export type IocType = string | number;

const typeCode = (type: IocType): number => {
  if (typeof type === 'number') return type;
  assert(type.length === 1, `ioctl type must be one character, got '${type}'`);
  return type.charCodeAt(0);
};

/** Request numbers are unsigned 32-bit, as the `unsigned int cmd` the kernel receives. */
export function _IOC(dir: number, type: IocType, nr: number, size: number): number {
  const t = typeCode(type);
  assert(dir >= 0 && dir <= _IOC_DIRMASK, `bad _IOC dir ${dir}`);
  assert(t >= 0 && t <= _IOC_TYPEMASK, `bad _IOC type ${t}`);
  assert(Number.isInteger(nr) && nr >= 0 && nr <= _IOC_NRMASK, `bad _IOC nr ${nr}`);
  assert(Number.isInteger(size) && size >= 0 && size <= _IOC_SIZEMASK, `bad _IOC size ${size}`);
  return ((dir << _IOC_DIRSHIFT) | (t << _IOC_TYPESHIFT) | (nr << _IOC_NRSHIFT) | (size << _IOC_SIZESHIFT)) >>> 0;
}

export const _IO = (type: IocType, nr: number): number => _IOC(_IOC_NONE, type, nr, 0);
export const _IOR = (type: IocType, nr: number, layout: Type): number => _IOC(_IOC_READ, type, nr, sizeof(layout));
export const _IOW = (type: IocType, nr: number, layout: Type): number => _IOC(_IOC_WRITE, type, nr, sizeof(layout));
export const _IOWR = (type: IocType, nr: number, layout: Type): number =>
  _IOC(_IOC_READ | _IOC_WRITE, type, nr, sizeof(layout));

export const _IOC_DIR = (cmd: number): number => (cmd >>> _IOC_DIRSHIFT) & _IOC_DIRMASK;
export const _IOC_TYPE = (cmd: number): number => (cmd >>> _IOC_TYPESHIFT) & _IOC_TYPEMASK;
export const _IOC_NR = (cmd: number): number => (cmd >>> _IOC_NRSHIFT) & _IOC_NRMASK;
export const _IOC_SIZE = (cmd: number): number => (cmd >>> _IOC_SIZESHIFT) & _IOC_SIZEMASK;

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

/**
 * A request number for error messages: the names in `names` that carry this number (several,
 * when fd kinds share one, joined with '|'), else its decoded `_IOC(...)` form; the number follows.
 * E.g. `VFIO_IOMMU_GET_INFO|VFIO_DEVICE_GET_PCI_HOT_RESET_INFO (0x3b70)`.
 */
export function ioctlName(cmd: number, names: Readonly<Record<string, number>> = {}): string {
  const hits = Object.keys(names).filter((k) => names[k] === cmd >>> 0);
  if (hits.length > 0) return `${hits.join('|')} (${hex(cmd)})`;
  const t = _IOC_TYPE(cmd);
  const ch = t >= 0x20 && t < 0x7f ? `'${String.fromCharCode(t)}'` : hex(t);
  const dir = ['_IO', '_IOW', '_IOR', '_IOWR'][_IOC_DIR(cmd)] as string;
  const size = _IOC_DIR(cmd) === _IOC_NONE ? '' : `, ${_IOC_SIZE(cmd)}`;
  return `${dir}(${ch}, ${hex(_IOC_NR(cmd))}${size}) (${hex(cmd)})`;
}
