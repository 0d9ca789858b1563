// SPDX-License-Identifier: GPL-2.0-only
/**
 * The import rules of docs/ARCHITECTURE.md, checked on the source: each lib/ area may import
 * only the areas listed for it; kselftest/ and tools/ reach the emulator only through
 * lib/index.ts; memfs stays behind the fs/ boundary.
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..');

/** area → areas it may import (itself always allowed). `*` = anything in lib. */
const ALLOWED: Record<string, readonly string[]> = {
  errno: [],
  kernel: [],
  abi: ['errno'],
  uapi: ['abi'],
  model: ['errno', 'topology'],
  topology: ['model', 'kernel', 'errno'],
  cred: [],
  iommu: ['model', 'kernel', 'topology', 'errno', 'cred', 'drivers', 'host'],
  drivers: ['model', 'kernel', 'topology', 'errno', 'cred', 'host', 'uapi'],
  host: ['iommu', 'drivers', 'model', 'kernel', 'topology', 'errno'],
  sysfs: ['host', 'iommu', 'drivers', 'model', 'kernel', 'errno', 'cred'],
  fs: ['sysfs', 'abi', 'errno', 'cred'],
  vfio: ['host', 'model', 'kernel', 'uapi', 'abi', 'errno', 'cred', 'fs', 'machine', 'drivers', 'topology', 'iommu'],
  iommufd: ['host', 'model', 'kernel', 'uapi', 'abi', 'errno', 'cred', 'fs', 'machine', 'vfio', 'drivers', 'topology', 'iommu'],
  hosts: ['topology'],
  export: ['machine'],
  record: ['machine', 'export', 'kernel', 'topology', 'errno', 'uapi', 'iommu'],
  agent: ['machine', 'export', 'record', 'hosts', 'kernel', 'topology', 'model', 'errno', 'cred', 'vfio', 'iommufd', 'uapi', 'abi', 'fs'],
  machine: ['*'],
  index: ['*'],
  testing: ['*'],
};
const MEMFS_OK = new Set(['fs', 'machine', 'testing', 'export']);

function* sources(dir: string): Generator<string> {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory() && e.name !== 'node_modules' && e.name !== 'fixtures') yield* sources(p);
    else if (e.isFile() && p.endsWith('.ts') && !p.endsWith('.test.ts')) yield p;
  }
}

const importsOf = (file: string): string[] =>
  [...fs.readFileSync(file, 'utf8').matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!);

/** `lib/vfio/group.ts` → `vfio`; `lib/host.ts` → `host`. */
const areaOf = (rel: string): string => {
  const parts = rel.split('/');
  return parts.length > 2 ? parts[1]! : parts[1]!.replace(/\.ts$/, '');
};

test('lib/ areas import only what docs/ARCHITECTURE.md allows', (t) => {
  const bad: string[] = [];
  for (const file of sources(path.join(ROOT, 'lib'))) {
    const rel = path.relative(ROOT, file);
    const area = areaOf(rel);
    const allowed = ALLOWED[area];
    if (!allowed) {
      bad.push(`${rel}: area "${area}" has no entry in the layering table`);
      continue;
    }
    for (const spec of importsOf(file)) {
      if (spec === 'memfs' && !MEMFS_OK.has(area)) bad.push(`${rel}: imports memfs outside the fs boundary`);
      if (!spec.startsWith('.')) continue;
      const target = path.relative(ROOT, path.resolve(path.dirname(file), spec));
      if (!target.startsWith('lib/')) {
        bad.push(`${rel}: imports ${spec} outside lib/`);
        continue;
      }
      const to = areaOf(target.endsWith('.ts') ? target : `${target}.ts`);
      if (to !== area && !allowed.includes('*') && !allowed.includes(to)) bad.push(`${rel}: ${area} → ${to} (${spec})`);
    }
  }
  t.deepEqual(bad, []);
});

test('kselftest/ and tools/ reach the emulator only through lib/index.ts', (t) => {
  const bad: string[] = [];
  for (const top of ['kselftest', 'tools']) {
    const dir = path.join(ROOT, top);
    if (!fs.existsSync(dir)) continue;
    for (const file of sources(dir)) {
      for (const spec of importsOf(file)) {
        if (!spec.startsWith('.')) continue;
        const target = path.relative(ROOT, path.resolve(path.dirname(file), spec));
        if (target.startsWith('lib/') && target !== 'lib/index' && target !== 'lib') bad.push(`${path.relative(ROOT, file)}: ${spec}`);
      }
    }
  }
  t.deepEqual(bad, []);
});
