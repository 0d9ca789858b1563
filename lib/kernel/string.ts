// SPDX-License-Identifier: GPL-2.0-only
/** The string helpers of the kernel's lib/ that stores and parsers share. */
import { U64_MAX } from './limits';

/** @see lib/string.c:sysfs_streq — equal, except that either may end in one trailing newline. */
export function sysfsStreq(a: string, b: string): boolean {
  const strip = (s: string) => (s.endsWith('\n') ? s.slice(0, -1) : s);
  return strip(a) === strip(b);
}

/** What a store sees: the kernel passes the written bytes, cut at the first NUL by most parsers. */
export const bufToString = (buf: Uint8Array): string => {
  const nul = buf.indexOf(0);
  return Buffer.from(nul >= 0 ? buf.subarray(0, nul) : buf).toString('latin1');
};

/** Parse a JSON/YAML address: a non-negative integer number or a "0x…"/decimal string. */
export function parseU64(v: unknown): bigint | undefined {
  if (typeof v === 'bigint') return v >= 0n && v <= U64_MAX ? v : undefined;
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? BigInt(v) : undefined;
  if (typeof v === 'string' && /^(0x[0-9a-fA-F]+|[0-9]+)$/.test(v.replace(/_/g, ''))) {
    const b = BigInt(v.replace(/_/g, ''));
    return b <= U64_MAX ? b : undefined;
  }
  return undefined;
}
