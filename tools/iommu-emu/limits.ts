// SPDX-License-Identifier: GPL-2.0-only
/**
 * The CLI's input size caps, each raisable through one environment variable. An input over a
 * cap is refused with a message naming the cap and its variable, and exit 2.
 */
import { MAX_TOPOLOGY_BYTES, RECORD_DEFAULT_LIMITS, type ByteLimit } from '../../lib/index';
import { UsageError } from './errors';

/** A .umockdev description: a 1,000-device host with config spaces is some 20 MiB. */
export const MAX_UMOCKDEV_BYTES = 64 << 20;

export const LIMIT_VARS = {
  topology: { env: 'IOMMU_EMU_MAX_TOPOLOGY_BYTES', default: MAX_TOPOLOGY_BYTES, what: 'topology file' },
  umockdev: { env: 'IOMMU_EMU_MAX_UMOCKDEV_BYTES', default: MAX_UMOCKDEV_BYTES, what: '.umockdev file' },
  attribute: { env: 'IOMMU_EMU_MAX_ATTRIBUTE_BYTES', default: RECORD_DEFAULT_LIMITS.maxFileBytes, what: 'attribute' },
} as const;

export type InputLimits = Record<keyof typeof LIMIT_VARS, Required<ByteLimit>>;

/** `4096`, `64k`, `8M`, `1G` (binary multiples). */
export function parseByteCount(text: string): number | undefined {
  const m = /^\s*(\d+)\s*([kKmMgG]?)(?:i?[bB])?\s*$/.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]) * 1024 ** ' kmg'.indexOf(m[2]!.toLowerCase() || ' ');
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

export function inputLimits(env: NodeJS.ProcessEnv): InputLimits {
  const out = {} as Record<string, Required<ByteLimit>>;
  for (const [k, v] of Object.entries(LIMIT_VARS)) {
    const given = env[v.env];
    let maxBytes: number = v.default;
    if (given !== undefined && given !== '') {
      const n = parseByteCount(given);
      if (n === undefined) throw new UsageError(`${v.env}: not a byte count: ${JSON.stringify(given)} (e.g. 16777216, 64k, 16M, 1G)`);
      maxBytes = n;
    }
    out[k] = { maxBytes, raise: `${v.env}=BYTES`, what: v.what };
  }
  return out as InputLimits;
}

/** For --help. */
export const limitsHelp = (): string[] =>
  Object.values(LIMIT_VARS).map((v) => `  ${v.env}  largest ${v.what} read (default ${v.default} bytes)`);
