// SPDX-License-Identifier: GPL-2.0-only
/** scripts/ts-register.js: runs TypeScript, caches per source file, re-transpiles on change, reports syntax errors. */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const HOOK = path.join(__dirname, 'ts-register.js');

function run(dir: string, file: string) {
  const r = spawnSync(process.execPath, ['-r', HOOK, file], { env: { ...process.env, IOMMU_EMU_TS_CACHE: path.join(dir, 'cache') }, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('runs TypeScript with tsconfig semantics, caches the output, re-transpiles a changed file', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ts-register-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'a.ts');
  fs.writeFileSync(file, "import * as os from 'node:os';\nconst n: number = 1;\nclass C { readonly x?: number; }\nconsole.log(n, os.EOL === '\\n', 'x' in new C());\n");
  const first = run(dir, file);
  t.is(first.status, 0, first.stderr);
  // ES2022 class fields (useDefineForClassFields), esModuleInterop namespace import.
  t.is(first.stdout, '1 true true\n');
  const entries = fs.readdirSync(path.join(dir, 'cache'));
  t.is(entries.length, 1, 'one cache entry per source file');
  t.is(run(dir, file).stdout, '1 true true\n', 'from the cache');
  fs.writeFileSync(file, 'const n: number = 2;\nconsole.log(n);\n');
  t.is(run(dir, file).stdout, '2\n', 'a changed source is transpiled again');
  t.deepEqual(fs.readdirSync(path.join(dir, 'cache')), entries, 'and replaces its entry');
});

test('stack traces name TypeScript lines; a syntax error names the file and exits non-zero', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ts-register-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'b.ts');
  fs.writeFileSync(file, 'type T = { a: number };\n\nconst v: T = { a: 1 };\nthrow new Error(`at ${v.a}`);\n');
  const r = run(dir, file);
  t.not(r.status, 0);
  t.regex(r.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:4:7`));
  fs.writeFileSync(file, 'const x = ;\n');
  const bad = run(dir, file);
  t.not(bad.status, 0);
  t.regex(bad.stderr, /b\.ts\(1,11\): error TS1109: Expression expected/);
});
