// SPDX-License-Identifier: GPL-2.0-only
/** `--target emulator` (the default): a fresh emulated machine; `--host` and `--kernel` pick it. */
import { DEFAULT_HOST, createMachine, type Credentials } from '../../lib/index';
import type { Target } from './target';

export interface EmulatorTargetOptions {
  /** A built-in host name or a topology file (default: the built-in default host). */
  readonly host?: string | undefined;
  /** Run the host under this kernel instead of the one its topology names. */
  readonly kernel?: string | undefined;
  readonly cred?: Credentials;
}

export function emulatorTarget(opts: EmulatorTargetOptions = {}): Target {
  const host = opts.host ?? DEFAULT_HOST;
  const m = createMachine(host, { ...(opts.kernel ? { kernel: opts.kernel } : {}), ...(opts.cred ? { cred: opts.cred } : {}) });
  return {
    kind: 'emulator',
    description: `emulator:${m.topology.name}@${m.kernel.release}`,
    root: '/',
    fs: m.fs,
    kernel: m.kernel.release,
    arch: m.topology.arch,
    sys: m.sys,
    sysUnavailable: undefined,
    machine: m,
    close() {
      for (const [fd] of m.sys.fds.entries()) m.sys.close(fd);
    },
  };
}
