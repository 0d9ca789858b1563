#!/usr/bin/env node
// `npm run build` (and `prepare`, so `npm pack` and git installs ship a fresh dist/): removes
// dist/ so no stale module survives a rename, compiles with tsc, then copies the data files tsc
// does not emit (built-in host topologies, sysfs schema) next to the compiled modules.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.join(__dirname, '..');
fs.rmSync(path.join(root, 'dist'), { recursive: true, force: true });
const tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);
for (const [from, to] of [['lib/hosts', 'dist/lib/hosts'], ['sysfs-schema', 'dist/sysfs-schema']]) {
  const src = path.join(root, from);
  if (!fs.existsSync(src)) continue;
  fs.mkdirSync(path.join(root, to), { recursive: true });
  for (const f of fs.readdirSync(src)) {
    if (/\.(json|ya?ml)$/.test(f)) fs.copyFileSync(path.join(src, f), path.join(root, to, f));
  }
}
