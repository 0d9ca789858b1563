// SPDX-License-Identifier: GPL-2.0-only
/** lib/kstrtox.c: the number and boolean parsers sysfs stores use. */
import { kerr } from '../errno';

/**
 * `kstrtoull(s, 0, …)` bounded by `max` (kstrtouint: 2^32-1, kstrtoul: 2^64-1): base 0 reads
 * 0x… as hex, 0… as octal, else decimal; a leading '+' and one trailing newline are allowed.
 * EINVAL when it does not parse, ERANGE above `max`. @see lib/kstrtox.c:_kstrtoull
 */
export function kstrtoull(s: string, max: bigint = 0xffffffffffffffffn): bigint {
  const t = s.endsWith('\n') ? s.slice(0, -1) : s;
  const m = /^\+?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(t);
  if (!m) throw kerr('EINVAL');
  const body = m[1]!;
  const v = /^0[xX]/.test(body) ? BigInt(body) : body.length > 1 && body.startsWith('0') ? BigInt(`0o${body.slice(1)}`) : BigInt(body);
  if (v > max) throw kerr('ERANGE');
  return v;
}

export const kstrtouint = (s: string): number => Number(kstrtoull(s, 0xffffffffn));
export const kstrtoul = (s: string): bigint => kstrtoull(s);

/** @see lib/kstrtox.c:kstrtobool (the first character decides; "on"/"off" by the second) */
export function kstrtobool(s: string): boolean {
  const c = s[0];
  if (c === 'y' || c === 'Y' || c === 't' || c === 'T' || c === '1') return true;
  if (c === 'n' || c === 'N' || c === 'f' || c === 'F' || c === '0') return false;
  if ((c === 'o' || c === 'O') && (s[1] === 'n' || s[1] === 'N')) return true;
  if ((c === 'o' || c === 'O') && (s[1] === 'f' || s[1] === 'F')) return false;
  throw kerr('EINVAL');
}
