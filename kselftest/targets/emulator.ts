// SPDX-License-Identifier: GPL-2.0-only
/**
 * `--target emulator` (the default): an emulated machine; `--host`, `--kernel` and `--kconfig`
 * pick it. The machine is built on first use, so a test that builds its own pays for one machine.
 */
import { DEFAULT_HOST, createMachine, loadPluginFile, resolveHost, TopologyError, withKconfig, type Credentials, type Kconfig, type Machine } from '../../lib/index';
import { TargetError } from './dir';
import type { Target } from './target';

export interface EmulatorTargetOptions {
  /** A built-in host name or a topology file (default: the built-in default host). */
  readonly host?: string | undefined;
  /** Run the host under this kernel instead of the one its topology names. */
  readonly kernel?: string | undefined;
  readonly cred?: Credentials;
  /** Plugin files (ABI prototypes) to load into the machine. */
  readonly plugins?: readonly string[] | undefined;
  /** `--kconfig`: Kconfig options over the topology's, e.g. `CONFIG_IOMMUFD=y,CONFIG_VFIO_CONTAINER=n`. */
  readonly kconfig?: string | undefined;
}

/** `NAME=y|n[,NAME=y|n...]` → the options it sets (TargetError naming the bad item). */
export function parseKconfigOption(spec: string): Partial<Kconfig> {
  const out: Record<string, boolean> = {};
  for (const item of spec.split(',').filter(s => s !== '')) {
    const m = /^(CONFIG_[A-Z0-9_]+)=([yn])$/.exec(item.trim());
    if (!m) throw new TargetError(`--kconfig ${JSON.stringify(item)}: expected CONFIG_NAME=y or CONFIG_NAME=n`);
    out[m[1]!] = m[2] === 'y';
  }
  return out as Partial<Kconfig>;
}

export function emulatorTarget(opts: EmulatorTargetOptions = {}): Target {
  const host = opts.host ?? DEFAULT_HOST;
  const kconfig = opts.kconfig !== undefined ? parseKconfigOption(opts.kconfig) : undefined;
  let m: Machine | undefined;
  const build = (): Machine => {
    const mopts = {
      ...(opts.kernel ? { kernel: opts.kernel } : {}),
      ...(opts.cred ? { cred: opts.cred } : {}),
      ...(opts.plugins?.length ? { plugins: opts.plugins.map((f) => loadPluginFile(f)) } : {}),
    };
    if (!kconfig) return createMachine(host, mopts);
    try {
      return createMachine(withKconfig(resolveHost(host), kconfig), mopts);
    } catch (e) {
      if (e instanceof TopologyError) throw new TargetError(`--kconfig ${opts.kconfig}: ${e.message}`);
      throw e;
    }
  };
  const machine = (): Machine => (m ??= build());
  return {
    kind: 'emulator',
    get description() {
      return `emulator:${machine().topology.name}@${machine().kernel.release}${opts.kconfig ? `+${opts.kconfig}` : ''}`;
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
