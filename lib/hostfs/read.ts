// SPDX-License-Identifier: GPL-2.0-only
/**
 * Reading input files from the host's real filesystem without trusting them: only regular files
 * are read (checked with fstat on the opened descriptor, so a FIFO, a device or a socket swapped
 * in after a look-up is still refused), the open never blocks (O_NONBLOCK) nor takes a
 * controlling terminal (O_NOCTTY), and every read is capped, with an error naming the limit and
 * how to raise it.
 */
import * as nodeFs from 'node:fs';

/** A host file that cannot be used: `file` names it, `reason` says why (no file prefix). */
export class HostFsError extends Error {
  override readonly name = 'HostFsError';
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: ${reason}`);
  }
}

/** A size limit and how the caller lets its user raise it (an option, an environment variable). */
export interface ByteLimit {
  readonly maxBytes: number;
  /** Completes "raise it with …", e.g. `IOMMU_EMU_MAX_TOPOLOGY_BYTES=N`. */
  readonly raise?: string;
  /** What the limit is for, e.g. "topology file". */
  readonly what?: string;
}

/** `1 MiB`, `64 KiB`, `100 bytes`. */
export function formatBytes(n: number): string {
  for (const [unit, shift] of [['GiB', 30], ['MiB', 20], ['KiB', 10]] as const) {
    const size = 2 ** shift;
    if (n >= size && n % size === 0) return `${n / size} ${unit}`;
  }
  return `${n} bytes`;
}

/** The reason text for a value over `limit`. */
export function overLimit(limit: ByteLimit, actual?: number): string {
  const what = limit.what ? `the ${limit.what} size limit` : 'the size limit';
  return `larger than ${formatBytes(limit.maxBytes)}${actual !== undefined ? ` (${actual} bytes)` : ''}, ${what}; raise it with ${limit.raise ?? 'a larger maxBytes'}`;
}

/** What a non-regular file is, for messages: "a FIFO", "a character device", … */
export function describeFileType(st: nodeFs.Stats): string {
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a directory';
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

const { O_RDONLY, O_NONBLOCK, O_NOCTTY, O_NOFOLLOW } = nodeFs.constants;

export interface OpenRegularOptions {
  /** Refuse a symbolic link as the last component (O_NOFOLLOW) instead of following it. */
  readonly noFollow?: boolean;
}

/** Open `file` for reading and prove it is a regular file; the caller closes the descriptor. */
export function openRegularFile(file: string, opts: OpenRegularOptions = {}): { fd: number; stat: nodeFs.Stats } {
  let fd: number;
  try {
    fd = nodeFs.openSync(file, O_RDONLY | O_NONBLOCK | O_NOCTTY | (opts.noFollow ? O_NOFOLLOW : 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    if (code === 'ELOOP' && opts.noFollow) throw new HostFsError(file, 'is a symbolic link, not followed');
    throw new HostFsError(file, `cannot read: ${code}`);
  }
  let stat: nodeFs.Stats;
  try {
    stat = nodeFs.fstatSync(fd);
  } catch (e) {
    nodeFs.closeSync(fd);
    throw new HostFsError(file, `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!stat.isFile()) {
    nodeFs.closeSync(fd);
    throw new HostFsError(file, `is ${describeFileType(stat)}, not a regular file; not read`);
  }
  return { fd, stat };
}

/**
 * Read at most `limit.maxBytes + 1` bytes from an open descriptor; more than `maxBytes` is an
 * error. st_size is only a hint (procfs and sysfs report 0 or 4096), so the read itself counts.
 */
export function readCapped(fd: number, file: string, limit: ByteLimit, sizeHint = 0): Buffer {
  if (sizeHint > limit.maxBytes) throw new HostFsError(file, overLimit(limit, sizeHint));
  const chunks: Buffer[] = [];
  let total = 0;
  // Sized by the hint (+1 to see the end in one read): a 1 MiB zero-filled buffer per small file
  // was most of the cost of reading thousands of host files.
  const chunk = Buffer.allocUnsafe(Math.min(1 << 20, limit.maxBytes + 1, Math.max(4096, sizeHint + 1)));
  for (;;) {
    let n: number;
    try {
      n = nodeFs.readSync(fd, chunk, 0, Math.min(chunk.length, limit.maxBytes + 1 - total), null);
    } catch (e) {
      throw new HostFsError(file, `read failed: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (n <= 0) break;
    chunks.push(Buffer.from(chunk.subarray(0, n)));
    total += n;
    if (total > limit.maxBytes) throw new HostFsError(file, overLimit(limit));
  }
  return Buffer.concat(chunks, total);
}

/** A whole regular file, capped. Throws HostFsError naming the file. */
export function readRegularFile(file: string, limit: ByteLimit, opts: OpenRegularOptions = {}): Buffer {
  const { fd, stat } = openRegularFile(file, opts);
  try {
    return readCapped(fd, file, limit, stat.size);
  } finally {
    nodeFs.closeSync(fd);
  }
}

/** Decoded as UTF-8. */
export function readRegularTextFile(file: string, limit: ByteLimit, opts: OpenRegularOptions = {}): string {
  return readRegularFile(file, limit, opts).toString('utf8');
}
