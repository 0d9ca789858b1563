// SPDX-License-Identifier: GPL-2.0-only
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
