#!/usr/bin/env node
// SPDX-License-Identifier: GPL-2.0-only
import { main } from './main';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`iommu-emu: internal error, please report: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = 70;
  },
);
