#!/usr/bin/env node
// SPDX-License-Identifier: GPL-2.0-only
import { main } from './main';

// A reader that went away (`iommu-emu … | head -1`) ends us quietly, as SIGPIPE ends a C tool.
for (const s of [process.stdout, process.stderr])
  s.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`iommu-emu: internal error, please report: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = 70;
  },
);
