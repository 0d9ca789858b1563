// SPDX-License-Identifier: GPL-2.0-only
/**
 * Headless Debian chromium for tests that judge what a picture shows: a fresh profile per run,
 * no network, no background services, a bounded time, and everything removed afterwards.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** The chromium binary, or why there is none. */
export function findChromium(): { bin: string } | { reason: string } {
  for (const bin of ['chromium', 'chromium-browser']) {
    const r = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 20_000 });
    if (!r.error && r.status === 0) return { bin };
  }
  return { reason: 'chromium is not installed (Debian: apt-get install -y chromium; .ci/run installs it best-effort)' };
}

/** Load an HTML page and return the DOM after its scripts ran (`--dump-dom`). */
export function chromiumDumpDom(bin: string, html: string, opts: { width?: number; height?: number } = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iommu-emu-chromium-'));
  try {
    const page = path.join(dir, 'page.html');
    fs.writeFileSync(page, html);
    const r = spawnSync(bin, [...CHROMIUM_FLAGS, `--user-data-dir=${path.join(dir, 'profile')}`, `--window-size=${opts.width ?? 1500},${opts.height ?? 1200}`, '--virtual-time-budget=2000', '--dump-dom', `file://${page}`], {
      encoding: 'utf8',
      timeout: 90_000,
      maxBuffer: 64 << 20,
    });
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`chromium exited ${r.status}: ${r.stderr.slice(0, 2000)}`);
    return r.stdout;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Render an SVG file to a PNG screenshot of the given size. */
export function chromiumScreenshot(bin: string, svgOrHtmlFile: string, png: string, width: number, height: number): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iommu-emu-chromium-'));
  try {
    const r = spawnSync(bin, [...CHROMIUM_FLAGS, '--hide-scrollbars', `--user-data-dir=${path.join(dir, 'profile')}`, `--window-size=${width},${height}`, `--screenshot=${png}`, `file://${path.resolve(svgOrHtmlFile)}`], { encoding: 'utf8', timeout: 90_000 });
    if (r.error) throw r.error;
    if (r.status !== 0 || !fs.existsSync(png)) throw new Error(`chromium --screenshot failed (${r.status}): ${r.stderr.slice(0, 2000)}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
