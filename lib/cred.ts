// SPDX-License-Identifier: GPL-2.0-only
/** The caller's credentials: uid/gid for DAC checks, capabilities for `capable()`. */
export type Capability =
  | 'CAP_SYS_ADMIN'
  | 'CAP_SYS_RAWIO'
  | 'CAP_DAC_OVERRIDE'
  | 'CAP_IPC_LOCK'
  | 'CAP_SYS_RESOURCE'
  | 'CAP_FOWNER'
  | 'CAP_CHOWN';

export interface Credentials {
  readonly uid: number;
  readonly gid: number;
  readonly caps: ReadonlySet<Capability>;
}

export const ROOT: Credentials = Object.freeze({
  uid: 0,
  gid: 0,
  caps: new Set<Capability>(['CAP_SYS_ADMIN', 'CAP_SYS_RAWIO', 'CAP_DAC_OVERRIDE', 'CAP_IPC_LOCK', 'CAP_SYS_RESOURCE', 'CAP_FOWNER', 'CAP_CHOWN']),
});

export const user = (uid = 1000, gid = uid, caps: Capability[] = []): Credentials => ({ uid, gid, caps: new Set(caps) });

export const capable = (c: Credentials, cap: Capability): boolean => c.caps.has(cap);

/**
 * `generic_permission` for a want of r/w/x bits (4/2/1). CAP_DAC_OVERRIDE passes read/write,
 * and execute when any x bit is set.
 */
export function permitted(c: Credentials, mode: number, ownerUid: number, ownerGid: number, want: number): boolean {
  let bits = mode & 0o7;
  if (c.uid === ownerUid) bits = (mode >> 6) & 0o7;
  else if (c.gid === ownerGid) bits = (mode >> 3) & 0o7;
  if ((bits & want) === want) return true;
  if (capable(c, 'CAP_DAC_OVERRIDE')) return (want & 1) === 0 || (mode & 0o111) !== 0;
  return false;
}
