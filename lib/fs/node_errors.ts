// SPDX-License-Identifier: GPL-2.0-only
/**
 * The `machine.fs` boundary: a KernelError becomes an error shaped like Node's own fs errors
 * (`code`, negative `errno`, `syscall`, `path`, "EINVAL: invalid argument, write '/sys/…'").
 */
import { KernelError, errnoNumber, isErrno } from '../errno';

export interface NodeFsError extends Error {
  code: string;
  errno: number;
  syscall: string;
  path?: string;
}

export function toNodeFsError(e: KernelError, syscall: string, path?: string): NodeFsError {
  const code = e.code === 'ENOIOCTLCMD' ? 'ENOTTY' : e.code;
  const text = isErrno(code) ? e.message.slice(code.length + 2).split(',')[0]!.split(' — ')[0]!.toLowerCase() : code;
  const err = new Error(`${code}: ${text}, ${syscall}${path ? ` '${path}'` : ''}`) as NodeFsError;
  err.code = code;
  err.errno = -errnoNumber(e.code === 'ENOIOCTLCMD' ? 'ENOTTY' : e.code);
  err.syscall = syscall;
  if (path) err.path = path;
  return err;
}
