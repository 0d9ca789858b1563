// SPDX-License-Identifier: GPL-2.0-only
/** The README's "API in ten lines" runs as written (against this checkout's lib/index.ts). */
import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

test("README: the API in ten lines runs and does what its comments say", (t) => {
  const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
  const section = readme.split('## The API in ten lines')[1];
  const code = /```ts\n([\s\S]*?)```/.exec(section ?? '')?.[1];
  t.truthy(code, 'README has the API section with a ts block');
  const body = code!.replace(/from 'iommu-emu'/, `from ${JSON.stringify(path.join(__dirname, 'index'))}`);
  const js = ts.transpileModule(`${body}\nexport const __m = m, __n = n, __api = api;`, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText;
  const mod = { exports: {} as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  new Function('require', 'module', 'exports', js)(require, mod, mod.exports);
  const m = mod.exports.__m;
  t.is(String(m.fs.readlinkSync('/sys/bus/pci/devices/0000:01:00.0/driver')), '../../../../bus/pci/drivers/vfio-pci');
  t.true(m.fs.existsSync('/sys/bus/pci/devices/0000:01:00.2'));
  t.is(m.cred.uid, 1000);
  t.is(mod.exports.__n, 12);
  t.is(mod.exports.__api, 0);
});
