// SPDX-License-Identifier: GPL-2.0-only
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The version in the package's package.json (found upwards from this module: source or dist/). */
export function packageVersion(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const f = path.join(dir, 'package.json');
    if (fs.existsSync(f)) {
      const p = JSON.parse(fs.readFileSync(f, 'utf8')) as { name?: string; version?: string };
      if (p.name === 'iommu-emu' && p.version) return p.version;
    }
    if (path.dirname(dir) === dir) return 'unknown';
  }
}
