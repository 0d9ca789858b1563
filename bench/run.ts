// SPDX-License-Identifier: GPL-2.0-only
/** `make bench`: runs every bench/*.ts module's `run()` in turn (not a test: figures only). */
import * as fs from 'node:fs';
import * as path from 'node:path';

async function main(): Promise<void> {
  for (const f of fs.readdirSync(__dirname).sort()) {
    if (!f.endsWith('.ts') || f === 'run.ts' || f.endsWith('.test.ts') || f.endsWith('.d.ts')) continue;
    const mod = require(path.join(__dirname, f)) as { run?: () => void | Promise<void> }; // eslint-disable-line @typescript-eslint/no-require-imports
    if (typeof mod.run !== 'function') continue;
    console.log(`# ${f}`);
    await mod.run();
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
