// SPDX-License-Identifier: GPL-2.0-only
/**
 * `--target emulator` (the default): an emulated machine; `--host` and `--kernel` pick it.
 * The machine is built on first use, so a test that builds its own pays for one machine.
 */
import { DEFAULT_HOST, createMachine, loadPluginFile, type Credentials, type Machine } from '../../lib/index';
import type { Target } from './target';

export interface EmulatorTargetOptions {
  /** A built-in host name or a topology file (default: the built-in default host). */
  readonly host?: string | undefined;
  /** Run the host under this kernel instead of the one its topology names. */
  readonly kernel?: string | undefined;
  readonly cred?: Credentials;
  /** Plugin files (ABI prototypes) to load into the machine. */
  readonly plugins?: readonly string[] | undefined;
}

export function emulatorTarget(opts: EmulatorTargetOptions = {}): Target {
  const host = opts.host ?? DEFAULT_HOST;
  let m: Machine | undefined;
  const machine = (): Machine =>
    (m ??= createMachine(host, {
      ...(opts.kernel ? { kernel: opts.kernel } : {}),
      ...(opts.cred ? { cred: opts.cred } : {}),
      ...(opts.plugins?.length ? { plugins: opts.plugins.map((f) => loadPluginFile(f)) } : {}),
    }));
  return {
    kind: 'emulator',
    get description() {
      return `emulator:${machine().topology.name}@${machine().kernel.release}`;
    },
    root: '/',
    get fs() {
      return machine().fs;
    },
    get kernel() {
      return machine().kernel.release;
    },
    get arch() {
      return machine().topology.arch;
    },
    get sys() {
      return machine().sys;
    },
    sysUnavailable: undefined,
    get machine() {
      return machine();
    },
    close() {
      if (m) for (const [fd] of m.sys.fds.entries()) m.sys.close(fd);
    },
  };
}

/** A target over an existing machine (a suite that builds one per variant). */
export function machineTarget(m: Machine): Target {
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
    close() {},
  };
}
