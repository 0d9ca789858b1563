// SPDX-License-Identifier: GPL-2.0-only
/** The host's real filesystem, read and written without trusting what is there. */
export { HostFsError, describeFileType, formatBytes, openRegularFile, overLimit, readCapped, readRegularFile, readRegularTextFile } from './read';
export type { ByteLimit, OpenRegularOptions } from './read';
export { canonicalDir, confinedFs, resolveInside, verifyOpenedAt } from './confine';
export type { ConfinedFs, ResolveOptions } from './confine';
export { outputTarget, writeFileAtomic } from './write';
