// SPDX-License-Identifier: GPL-2.0-only
/** The errno name an inner-kernel call throws (a KernelError), or 'OK'; any other error is a bug and propagates. */
import { Errno, isKernelError } from '../errno';

export function thrownCode(fn: () => unknown): Errno | 'OK' {
  try {
    fn();
    return 'OK';
  } catch (e) {
    if (isKernelError(e)) return e.code as Errno;
    throw e;
  }
}
