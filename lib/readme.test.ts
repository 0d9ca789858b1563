// SPDX-License-Identifier: GPL-2.0-only
/** The README's "API in ten lines" runs as written (against this checkout's lib/index.ts). */
import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import { spawn, spawnSync } from 'node:child_process';
import { Agent } from './agent';
import { tempDir } from './testing/tmp';

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

const readme = () => fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
const block = (heading: string, lang: string): string => {
  const section = readme().split(heading)[1] ?? '';
  const code = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(section)?.[1];
  if (!code) throw new Error(`README: no ${lang} block under ${heading}`);
  return code;
};

test('README: the downstream node:test suite type-checks and passes as written', (t) => {
  const dir = tempDir(t, 'iommu-emu-readme-');
  const file = path.join(dir, 'msi.test.ts');
  fs.writeFileSync(file, block('## Mocking /sys in your own tests', 'ts').replace(/from 'iommu-emu'/, `from ${JSON.stringify(path.join(__dirname, 'index'))}`));
  const program = ts.createProgram([file], { strict: true, noEmit: true, module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true, types: ['node'], skipLibCheck: true, resolveJsonModule: true, noUncheckedIndexedAccess: true });
  const diags = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  t.deepEqual(diags, [], 'no type errors (m.fs passes where a Pick of node:fs is expected)');
  const r = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', '--test', file], { encoding: 'utf8', cwd: path.join(__dirname, '..'), timeout: 60_000 });
  t.is(r.status, 0, r.stdout + r.stderr);
  t.regex(r.stdout, /# pass 2\n/);
  t.regex(r.stdout, /# fail 0\n/);
});

const python = spawnSync('python3', ['--version'], { encoding: 'utf8' }).status === 0;
(python ? test : test.skip)(`README: the Python example runs against a live agent${python ? '' : ' (skipped: python3 is not installed)'}`, async (t) => {
  const agent = new Agent({});
  const url = await agent.listen(0, '127.0.0.1');
  try {
    const r = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const child = spawn('python3', ['-'], { env: { ...process.env, IOMMU_EMU_URL: url }, stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d));
      child.stderr.on('data', (d: Buffer) => (err += d));
      child.on('close', (code) => resolve({ code, out, err }));
      child.stdin.end(block('## The HTTP agent (other languages)', 'python'));
    });
    t.is(r.code, 0, r.err);
    t.is(
      r.out,
      'reserved 0x00000000fee00000 0x00000000feefffff msi\n' +
        'usable 0x0000000000000000-0x00000000fedfffff 0x00000000fef00000-0x0000ffffffffffff\n' +
        'MSI window refused: Invalid argument\n',
    );
    t.is(agent.machineCount, 0, 'the example destroys its machine');
  } finally {
    await agent.close();
  }
});
