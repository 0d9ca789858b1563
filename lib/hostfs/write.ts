// SPDX-License-Identifier: GPL-2.0-only
/**
 * Writing an output file whole or not at all, and only over what is safe to replace: nothing,
 * or a regular file (a symbolic link is resolved first and its regular target replaced, the
 * link kept). A device node, a FIFO, a socket, a directory or a dangling link is refused: a
 * rename over `/dev/full` as root would otherwise turn the device node into a regular file.
 */
import * as nodeFs from 'node:fs';
import * as path from 'node:path';
import { HostFsError, describeFileType } from './read';

/** The path a write to `file` must replace, after the checks above; throws HostFsError. */
export function outputTarget(file: string): { target: string; existing: nodeFs.Stats | undefined } {
  const abs = path.resolve(file);
  let st: nodeFs.Stats;
  try {
    st = nodeFs.lstatSync(abs);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { target: abs, existing: undefined };
    throw new HostFsError(file, `cannot write: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let target = abs;
  if (st.isSymbolicLink()) {
    try {
      target = nodeFs.realpathSync(abs);
      st = nodeFs.statSync(target);
    } catch {
      throw new HostFsError(file, `is a dangling symbolic link (to ${nodeFs.readlinkSync(abs)}); not written through`);
    }
  }
  if (!st.isFile()) throw new HostFsError(file, `${target === abs ? 'is' : `links to ${target}, which is`} ${describeFileType(st)}, not a regular file; refusing to replace it`);
  return { target, existing: st };
}

/** Write `file` whole or not at all: a temporary sibling renamed into place. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const { target, existing } = outputTarget(file);
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.iommu-emu-${process.pid}-${Date.now()}`);
  try {
    nodeFs.writeFileSync(tmp, data, { mode: 0o644, flag: 'wx' });
    if (existing) nodeFs.chmodSync(tmp, existing.mode & 0o7777);
    nodeFs.renameSync(tmp, target);
  } catch (e) {
    nodeFs.rmSync(tmp, { force: true });
    throw e;
  }
}
