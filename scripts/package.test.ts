// SPDX-License-Identifier: GPL-2.0-only
/**
 * The package as a user gets it: `npm pack` on a clean copy of the source (its `prepare` builds
 * dist/), installed into a fresh project, then used from CommonJS, from ESM, from TypeScript
 * (`tsc --noEmit` on a consumer file, both module resolutions) and through `npx iommu-emu`.
 *
 * Offline: the consumer's lockfile is derived from this repository's, so `npm ci --offline`
 * takes every dependency from the npm cache that this checkout's own `npm ci` filled (on a
 * clean CI machine too: `make test` runs `npm ci` first).
 */
import test from 'ava';
import { spawnSync, SpawnSyncOptions } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../lib/testing/tmp';

const REPO = path.join(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  license: string;
  dependencies: Record<string, string>;
  bin: Record<string, string>;
  engines: Record<string, string>;
};
const lock = JSON.parse(fs.readFileSync(path.join(REPO, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { dev?: boolean; version?: string }>;
};
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const TSC = require.resolve('typescript/bin/tsc', { paths: [REPO] });

/** The environment without npm's per-run variables (ava may run under `npm test`). */
const cleanEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));

const timings: string[] = [];
function run(cmd: string, args: string[], opts: SpawnSyncOptions & { cwd: string }) {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: cleanEnv(), timeout: 90_000, ...opts });
  timings.push(`${path.basename(cmd)} ${args.slice(0, 2).join(' ')}: ${Date.now() - t0} ms`);
  return { code: r.status, out: String(r.stdout ?? ''), err: String(r.stderr ?? ''), error: r.error };
}

/** The files a fresh clone has: tracked and not-ignored ones (so uncommitted work is tested too). */
function sourceFiles(): string[] | undefined {
  const r = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO, encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  return r.stdout.split('\0').filter((f) => f && fs.existsSync(path.join(REPO, f)));
}

const CONSUMER_TS = `import { createMachine, DEFAULT_HOST, type Machine, type TopologyInput } from 'iommu-emu';
const m: Machine = createMachine('amd-epyc', { kernel: '6.8' });
const regions: string = String(m.fs.readFileSync('/sys/kernel/iommu_groups/0/reserved_regions', 'utf8'));
const t: TopologyInput = { name: 'mine', kernel: '6.8', arch: 'x86_64', iommus: [{ driver: 'intel-iommu' }], devices: [] };
const fs: typeof import('node:fs') = m.fs;
export const out: [string, string, number, boolean] = [regions, DEFAULT_HOST, createMachine(t).host.devices.length, fs.existsSync('/dev/vfio/vfio')];
`;

test('npm pack ships a built package that installs offline and works from JS, ESM, TypeScript and npx', async (t) => {
  t.timeout(300_000, 'npm pack builds, then tsc checks the shipped declarations');
  const files = sourceFiles();
  if (!files) return t.pass('skipped: not a git checkout (git ls-files failed), cannot tell the source files');
  const work = tempDir(t, 'iommu-emu-pack-');

  // A clean copy: no dist/, no node_modules of its own (a link to this checkout's, for tsc).
  const src = path.join(work, 'src');
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(src, f)), { recursive: true });
    fs.copyFileSync(path.join(REPO, f), path.join(src, f));
  }
  fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(src, 'node_modules'), 'dir');
  const packed = run(NPM, ['pack', '--json', '--pack-destination', work], { cwd: src });
  t.is(packed.code, 0, packed.err);
  const info = JSON.parse(packed.out.slice(packed.out.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  const tgz = path.join(work, info[0]!.filename);
  const shipped = info[0]!.files.map((f) => f.path);
  for (const must of ['LICENSE', 'README.md', 'package.json', 'dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/tools/iommu-emu/bin.js', 'dist/lib/hosts/intel-vtd-server.yaml', 'dist/sysfs-schema/sysfs-kernel-iommu_groups.json', 'docs/topology.md'])
    t.true(shipped.includes(must), `the tarball has ${must}`);
  t.deepEqual(shipped.filter((f) => /\.test\.|^\.ci\/|^kselftest\/|^lib\/|^tools\/|^bench\/|tsbuildinfo|lib\/testing\//.test(f)), [], 'no tests, sources or CI files ship');
  t.regex(fs.readFileSync(path.join(src, 'LICENSE'), 'utf8'), /GNU GENERAL PUBLIC LICENSE\s+Version 2, June 1991/);

  // A fresh project whose lockfile pins the tarball and this repository's runtime dependencies.
  const app = path.join(work, 'app');
  fs.mkdirSync(app);
  const rel = `file:../${path.basename(tgz)}`;
  const integrity = `sha512-${crypto.createHash('sha512').update(fs.readFileSync(tgz)).digest('base64')}`;
  const packages: Record<string, unknown> = {
    '': { name: 'consumer', version: '1.0.0', dependencies: { [pkg.name]: rel } },
    [`node_modules/${pkg.name}`]: { version: pkg.version, resolved: rel, integrity, license: pkg.license, dependencies: pkg.dependencies, bin: pkg.bin, engines: pkg.engines },
  };
  for (const [k, v] of Object.entries(lock.packages)) if (k && !v.dev) packages[k] = v;
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, dependencies: { [pkg.name]: rel } }, null, 2));
  fs.writeFileSync(path.join(app, 'package-lock.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', lockfileVersion: 3, requires: true, packages }, null, 2));
  const inst = run(NPM, ['ci', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: app });
  t.is(inst.code, 0, `npm ci --offline in the consumer: ${inst.err}`);

  const cjs = run(process.execPath, ['-e', `const e = require('${pkg.name}'); const m = e.createMachine('arm64-smmuv3'); process.stdout.write(String(m.fs.readFileSync('/sys/kernel/iommu_groups/0/reserved_regions', 'utf8')))`], { cwd: app });
  t.is(cjs.code, 0, cjs.err);
  t.is(cjs.out, '0x0000000008000000 0x00000000080fffff msi\n');
  fs.writeFileSync(path.join(app, 'esm.mjs'), `import { createMachine, DEFAULT_HOST } from '${pkg.name}';\nimport def from '${pkg.name}';\nconsole.log(createMachine().topology.name === DEFAULT_HOST, typeof def.createMachine);\n`);
  const esm = run(process.execPath, ['esm.mjs'], { cwd: app });
  t.is(esm.code, 0, esm.err);
  t.is(esm.out, 'true function\n');
  const deep = run(process.execPath, ['-e', `require('${pkg.name}/dist/lib/machine')`], { cwd: app });
  t.not(deep.code, 0, 'only the exports map is public');
  t.regex(deep.err, /ERR_PACKAGE_PATH_NOT_EXPORTED/);

  // TypeScript: the shipped declarations, through "types" (node10) and the exports map (node16).
  fs.writeFileSync(path.join(app, 'consumer.ts'), CONSUMER_TS);
  fs.writeFileSync(path.join(app, 'wrong.ts'), `import { createMachine } from '${pkg.name}';\ncreateMachine('amd-epyc', { kernal: '6.8' });\ncreateMachine({ name: 'x', kernel: '6.8', arch: 'x86_64', iommus: [], devices: [], firmwre: {} });\n`);
  const typeRoots = [path.join(REPO, 'node_modules', '@types')];
  // One program per resolution: consumer.ts must compile clean, wrong.ts must fail where marked.
  // The declarations themselves are checked once (skipLibCheck false), which is the slow part.
  for (const [moduleResolution, module, skipLibCheck] of [['node16', 'node16', false], ['node10', 'commonjs', true]] as const) {
    fs.writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module, moduleResolution, target: 'ES2022', types: ['node'], typeRoots, skipLibCheck }, files: ['consumer.ts', 'wrong.ts'] }));
    const r = run(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: app });
    t.is(r.code, 2, `tsc (${moduleResolution}) must reject wrong.ts: ${r.out}${r.err}`);
    t.deepEqual(r.out.split('\n').filter((l) => /error TS/.test(l) && !l.startsWith('wrong.ts(')), [], `only wrong.ts has errors (${moduleResolution})`);
    t.regex(r.out, /wrong\.ts\(2,\d+\): error TS\d+: .*'kernal'/);
    t.regex(r.out, /wrong\.ts\(3,\d+\): error TS\d+: .*'firmwre'/, 'inline topologies are typed in the shipped declarations');
  }

  // The bin, as `npx iommu-emu` finds it in the project.
  const ver = run(NPM, ['exec', '--offline', '--', 'iommu-emu', '--version'], { cwd: app });
  t.is(ver.code, 0, ver.err);
  t.is(ver.out, `${pkg.version}\n`);
  const cat = run(NPM, ['exec', '--offline', '--', 'iommu-emu', 'cat', '/sys/kernel/iommu_groups/0/reserved_regions', '--host', 'amd-epyc'], { cwd: app });
  t.is(cat.code, 0, cat.err);
  t.is(cat.out, '0x00000000fee00000 0x00000000feefffff msi\n0x000000fd00000000 0x000000ffffffffff reserved\n');
  t.log(timings.join('; '));
});
