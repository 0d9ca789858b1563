// SPDX-License-Identifier: GPL-2.0-only
/**
 * The AVA side of the conformance suite: which (host, kernel) pairs `make test` runs every
 * program against, and one AVA test per program and pair asserting KSFT_PASS.
 */
import type { TestFn } from 'ava';
import { builtinHostNames, DEFAULT_HOST, kernelProfile, resolveHost } from '../lib/index';
import { KSFT_PASS } from './harness/exit_codes';
import { discover, loadProgram } from './run_lib';

export interface Combo {
  readonly host: string;
  /** undefined: the kernel the host's topology names. */
  readonly kernel: string | undefined;
  /** `--kconfig`: the host built with these options. */
  readonly kconfig?: string;
}

/** The iommufd builds of the matrix: /dev/iommu next to the legacy container, and iommufd serving /dev/vfio/vfio. */
export const IOMMUFD_KCONFIG = 'CONFIG_IOMMUFD=y';
export const IOMMUFD_COMPAT_KCONFIG = 'CONFIG_IOMMUFD=y,CONFIG_VFIO_CONTAINER=n,CONFIG_IOMMUFD_VFIO_CONTAINER=y';

/**
 * The default host under several profiles; every other host under its own kernel and the latest;
 * and, with iommufd built in (Debian's configs leave it out), the default host under its own kernel
 * and with iommufd's container under the latest, the SMMUv3 host (software MSI window) under its own.
 */
export function matrix(): Combo[] {
  const out: Combo[] = [];
  for (const k of [undefined, '4.11', '5.4', '5.15', 'latest']) out.push({ host: DEFAULT_HOST, kernel: k });
  for (const host of builtinHostNames()) if (host !== DEFAULT_HOST) for (const k of [undefined, 'latest']) out.push({ host, kernel: k });
  out.push({ host: DEFAULT_HOST, kernel: undefined, kconfig: IOMMUFD_KCONFIG });
  out.push({ host: DEFAULT_HOST, kernel: 'latest', kconfig: IOMMUFD_COMPAT_KCONFIG });
  if (builtinHostNames().includes('arm64-smmuv3')) out.push({ host: 'arm64-smmuv3', kernel: undefined, kconfig: IOMMUFD_KCONFIG });
  return out;
}

/** Kernel-profile variants of programs that build their own machines run once per host. */
const FIXED_KERNEL_VARIANTS = ['v5_10', 'v5_11', 'v5_15', 'v6_3', 'v6_4'];

export function argvFor(c: Combo): string[] {
  const argv = ['--target', 'emulator', '--host', c.host];
  if (c.kernel !== undefined) argv.push('--kernel', c.kernel, ...FIXED_KERNEL_VARIANTS.flatMap(v => ['-V', v]));
  if (c.kconfig !== undefined) argv.push('--kconfig', c.kconfig);
  return argv;
}

/**
 * Programs whose outcome depends on the kernel release alone: they build their own machine and
 * read nothing of the host (the iommufd selftest runs on a CONFIG_IOMMUFD_TEST kernel of the
 * target's release). They run at the first combination of each release in the matrix; the others
 * would repeat the same run.
 */
export const PER_RELEASE_PROGRAMS: ReadonlySet<string> = new Set(['iommu/iommufd_test']);

/** The combinations of the whole matrix a program runs at (both bridge files agree on it). */
export function combosFor(program: string): Combo[] {
  if (!PER_RELEASE_PROGRAMS.has(program)) return matrix();
  const seen = new Set<string>();
  return matrix().filter(c => {
    const release = kernelProfile(c.kernel ?? resolveHost(c.host).kernel).release;
    if (seen.has(release)) return false;
    seen.add(release);
    return true;
  });
}

const comboKey = (c: Combo) => `${c.host}|${c.kernel ?? ''}|${c.kconfig ?? ''}`;

export function registerBridge(test: TestFn, pick: (c: Combo) => boolean): void {
  const programs = discover(__dirname).map(p => ({ ...p, at: new Set(combosFor(p.name).map(comboKey)) }));
  for (const c of matrix().filter(pick)) {
    for (const p of programs) {
      if (!p.at.has(comboKey(c))) continue;
      test(`${p.name} --host ${c.host}${c.kernel ? ` --kernel ${c.kernel}` : ''}${c.kconfig ? ` --kconfig ${c.kconfig}` : ''}`, async t => {
        const r = await loadProgram(p.file)(argvFor(c), { env: { KSFT_TAP_LEVEL: '1' } });
        t.is(r.counts.fail + r.counts.error, 0, r.output);
        t.is(r.exitCode, KSFT_PASS, r.output);
        t.true(r.plan > 0);
      });
    }
  }
}
