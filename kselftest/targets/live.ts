// SPDX-License-Identifier: GPL-2.0-only
/**
 * `--target live`: this machine's real `/sys`, read-only. Nothing is ever written. Node.js
 * has no ioctl(2), so suites that need syscalls SKIP, naming the first thing missing.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import type { Target } from './target';

const ARCH: Readonly<Record<string, string>> = { x64: 'x86_64', arm64: 'aarch64', s390x: 's390x', ppc64: 'ppc64le' };

export function liveSysUnavailable(): string {
  if (!fs.existsSync('/dev/vfio/vfio')) return 'live: no /dev/vfio/vfio on this host';
  try {
    fs.closeSync(fs.openSync('/dev/vfio/vfio', fs.constants.O_RDWR));
  } catch (e) {
    return `live: cannot open /dev/vfio/vfio: ${(e as NodeJS.ErrnoException).code ?? String(e)}`;
  }
  return 'live: Node.js cannot issue ioctl(2) (no native binding); run the C selftests instead';
}

export function liveTarget(opts: { readonly kernel?: string | undefined } = {}): Target {
  return {
    kind: 'live',
    description: `live:${os.hostname()}`,
    root: '/',
    fs,
    kernel: opts.kernel ?? os.release(),
    arch: ARCH[os.arch()] ?? os.arch(),
    sys: undefined,
    sysUnavailable: liveSysUnavailable(),
    machine: undefined,
    close() {},
  };
}
