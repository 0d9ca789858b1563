// SPDX-License-Identifier: GPL-2.0-only
/** Byte sizes as people write them (`16G`, `1T`, `512MiB`, `0x100000`) and as the tools print them. */

const UNITS: Readonly<Record<string, bigint>> = { '': 1n, k: 1n << 10n, m: 1n << 20n, g: 1n << 30n, t: 1n << 40n, p: 1n << 50n, e: 1n << 60n };

/** Binary units (`K`, `KiB`, `k` all mean 1024); a `0x` number is bytes. Undefined when it is not a size. */
export function parseSize(text: string): bigint | undefined {
  const s = text.trim();
  if (/^0x[0-9a-f]+$/i.test(s)) return BigInt(s);
  const m = /^(\d+)(?:\.(\d+))?\s*([kmgtpe]?)(?:i?b)?$/i.exec(s);
  if (!m) return undefined;
  const unit = UNITS[m[3]!.toLowerCase()]!;
  const whole = BigInt(m[1]!) * unit;
  if (!m[2]) return whole;
  const frac = (BigInt(m[2]) * unit) / 10n ** BigInt(m[2].length);
  return whole + frac;
}

const NAMES = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'] as const;

/** `4 KiB`, `1 TiB`, `2.5 GiB` (two decimals at most, exact when a unit divides it). */
export function formatSize(bytes: bigint): string {
  if (bytes < 1024n) return `${bytes} B`;
  let i = 0;
  while (i < NAMES.length - 1 && bytes >= 1n << BigInt(10 * (i + 1))) i++;
  const unit = 1n << BigInt(10 * i);
  if (bytes % unit === 0n) return `${bytes / unit} ${NAMES[i]}`;
  const hundredths = (bytes * 100n) / unit;
  return `${(Number(hundredths) / 100).toFixed(2).replace(/0+$/, '').replace(/\.$/, '')} ${NAMES[i]}`;
}

/** `0x0000000080000000` */
export const hex = (x: bigint): string => `0x${x.toString(16).padStart(16, '0')}`;
/** `0x80000000` */
export const shortHex = (x: bigint): string => `0x${x.toString(16)}`;

export const alignUp = (x: bigint, a: bigint): bigint => ((x + a - 1n) / a) * a;
export const alignDown = (x: bigint, a: bigint): bigint => (x / a) * a;

export const KiB = 1n << 10n;
export const MiB = 1n << 20n;
export const GiB = 1n << 30n;
export const TiB = 1n << 40n;
