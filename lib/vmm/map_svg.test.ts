// SPDX-License-Identifier: GPL-2.0-only
/**
 * The IOVA picture judged by a real browser: headless chromium lays the SVG out and, from a
 * script in the page, reports each element that must be visible — its size on screen and
 * whether it is what the browser finds at that point (not covered, not clipped).
 */
import test from 'ava';
import { createMachine } from '../machine';
import { chromiumDumpDom, findChromium } from '../testing/chromium';
import { checkGuest } from './check';
import { hostViewOfMachine } from './host_view';
import { hostPicture, renderMapSvg, planPicture } from './map_svg';
import { planFleet } from './plan';
import { resolveGuest } from './presets';
import { GiB } from './size';

const chromium = findChromium();

function picture() {
  const h = hostViewOfMachine(createMachine('amd-epyc'));
  const guest = resolveGuest('x86-1t');
  return renderMapSvg(hostPicture(h, { groups: [4], guest, check: checkGuest(h, guest, [4]) }));
}

test('the axis is segmented and labelled: a 4 KiB range and a 1 TiB range both get width; every boundary has a tick', (t) => {
  const svg = picture();
  const width = (kind: string, start: string) => Number(new RegExp(`data-kind="${kind}" data-start="${start}"[^>]* width="([\\d.]+)"`).exec(svg)![1]);
  t.true(width('device', '0xfec00000') >= 12, 'the 4 KiB IOAPIC');
  t.true(width('ram', '0x100000000') >= 60, 'the 1022 GiB of high RAM');
  t.true(width('ram', '0x100000000') > width('device', '0xfec00000'));
  for (const tick of ['0xfec00000', '0xfec01000', '0xfee00000', '0xfd00000000', '0x10000000000']) t.regex(svg, new RegExp(`data-tick="${tick}"`));
});

const CHECK_SCRIPT = `
<pre id="out"></pre>
<script>
const out = [];
const probe = (sel, label, at) => {
  const el = document.querySelector(sel);
  if (!el) { out.push({ label, found: false }); return; }
  const r = el.getBoundingClientRect();
  const x = at === 'edge' ? r.left + 1 : r.left + r.width / 2, y = r.top + r.height / 2;
  const hit = document.elementFromPoint(x, y);
  out.push({ label, hit: hit && (hit.getAttribute('data-kind') || hit.tagName), x, y, l: r.left, found: true, w: r.width, h: r.height, inView: r.left >= 0 && r.right <= innerWidth && r.top >= 0 && r.bottom <= document.documentElement.scrollHeight, top: hit === el || el.contains(hit) });
};
probe('[data-row="guest"] [data-kind="device"][data-start="0xfec00000"]', 'ioapic 4 KiB');
probe('[data-row="guest"] [data-kind="ram"][data-start="0x100000000"]', 'high RAM ~1 TiB');
probe('[data-row="group"] [data-kind="reserved"][data-start="0xfd00000000"]', 'HT hole');
probe('[data-row="group"] [data-kind="msi"][data-start="0xfee00000"]', 'MSI window');
probe('[data-row="group"] [data-kind="conflict"][data-start="0xfd00000000"]', 'conflict outline', 'edge');
probe('[data-tick="0xfec01000"]', 'tick after the 4 KiB range');
probe('[data-tick="0xfd00000000"]', 'tick at the HT hole');
document.getElementById('out').textContent = JSON.stringify(out);
</script>`;

('bin' in chromium ? test : test.skip)(
  `headless chromium shows the 4 KiB range, the 1 TiB range, the HT hole, the MSI window, the conflict and the ticks${'bin' in chromium ? '' : ` (skipped: ${chromium.reason})`}`,
  (t) => {
    const bin = (chromium as { bin: string }).bin;
    const dom = chromiumDumpDom(bin, `<!DOCTYPE html><html><body style="margin:0">${picture()}${CHECK_SCRIPT}</body></html>`);
    const m = /<pre id="out">([^<]*)<\/pre>/.exec(dom);
    t.truthy(m, 'the page script ran');
    const res = JSON.parse(m![1]!.replace(/&quot;/g, '"')) as { label: string; found: boolean; w: number; h: number; inView: boolean; top: boolean }[];
    for (const r of res) {
      t.true(r.found, `${r.label}: in the picture`);
      t.true(r.w >= 6 && r.h >= 6, `${r.label}: ${r.w}x${r.h} px on screen`);
      t.true(r.inView, `${r.label}: inside the page`);
      if (!r.label.startsWith('tick')) t.true(r.top, `${r.label}: what the browser finds there (not covered): ${JSON.stringify(r)}`);
    }
  },
);

test('plan draws the hosts side by side on one axis with the common usable row', (t) => {
  const a = hostViewOfMachine(createMachine('arm64-smmuv3'));
  const b = hostViewOfMachine(createMachine('arm64-msi-bypass'));
  const svg = renderMapSvg(planPicture(planFleet([a, b], { ram: [16n * GiB] }), [a, b]));
  t.regex(svg, /data-row="common"/);
  t.regex(svg, /data-row="host" data-label="arm64-smmuv3"/);
  t.regex(svg, /data-row="host" data-label="arm64-msi-bypass"/);
  t.regex(svg, /data-kind="conflict" data-start="0x202110000"/);
});
