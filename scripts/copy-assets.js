#!/usr/bin/env node
// Copies the data files tsc does not emit (built-in host topologies, sysfs schema) next to dist/.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const root = path.join(__dirname, '..');
for (const [from, to] of [['lib/hosts', 'dist/lib/hosts'], ['sysfs-schema', 'dist/sysfs-schema']]) {
  const src = path.join(root, from);
  if (!fs.existsSync(src)) continue;
  fs.mkdirSync(path.join(root, to), { recursive: true });
  for (const f of fs.readdirSync(src)) {
    if (/\.(json|ya?ml)$/.test(f)) fs.copyFileSync(path.join(src, f), path.join(root, to, f));
  }
}
