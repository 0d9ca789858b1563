// SPDX-License-Identifier: GPL-2.0-only
/**
 * Renders the README's picture: `iommu-emu map --host amd-epyc --guest x86-1t` as SVG, then a
 * PNG of it through headless chromium. Run: node -r ts-node/register/transpile-only scripts/readme-picture.ts
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromiumScreenshot, findChromium } from '../lib/testing/chromium';
import { main } from '../tools/iommu-emu/main';
import { bufferIO } from '../tools/iommu-emu/io';

void (async () => {
  const out = path.join(__dirname, '..', 'docs', 'img');
  const svg = path.join(out, 'map-amd-epyc-x86-1t.svg');
  const io = bufferIO();
  const code = await main(['map', '--host', 'amd-epyc', '--guest', 'x86-1t', '--svg', svg], io);
  if (code !== 0) throw new Error(io.err());
  const c = findChromium();
  if (!('bin' in c)) throw new Error(c.reason);
  const [, w, h] = /width="(\d+)" height="(\d+)"/.exec(fs.readFileSync(svg, 'utf8'))!;
  chromiumScreenshot(c.bin, svg, path.join(out, 'map-amd-epyc-x86-1t.png'), Number(w), Number(h));
  process.stdout.write(`wrote ${svg} and its PNG\n`);
})();
