// SPDX-License-Identifier: GPL-2.0-only
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bufferIO } from '../io';
import { main } from '../main';

const run = async (...argv: string[]) => {
  const io = bufferIO();
  const code = await main(argv, io);
  return { code, out: io.out(), err: io.err() };
};

const TEMP: string[] = [];
const tmp = (): string => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'validate-'));
  TEMP.push(d);
  return d;
};
test.after.always(() => {
  for (const d of TEMP) fs.rmSync(d, { recursive: true, force: true });
});

test('every built-in host conforms, emulated and exported', async t => {
  for (const host of ['intel-vtd-server', 'amd-epyc', 'arm64-smmuv3']) {
    const r = await run('validate', '--host', host);
    t.is(r.code, 0, r.out + r.err);
    t.regex(r.err, /conforms to sysfs-schema/);
    const dir = path.join(tmp(), 'x');
    t.is((await run('export', dir, '--host', host)).code, 0);
    const e = await run('validate', dir);
    t.is(e.code, 0, e.out + e.err);
  }
});

test('a hand-broken export exits 1 naming the path and the rule', async t => {
  const dir = path.join(tmp(), 'x');
  t.is((await run('export', dir, '--host', 'intel-vtd-server')).code, 0);
  const rr = path.join(dir, 'sys/kernel/iommu_groups/5/reserved_regions');
  fs.chmodSync(rr, 0o644);
  fs.writeFileSync(rr, fs.readFileSync(rr, 'latin1').replace('direct-relaxable', 'direct_relaxable'), 'latin1');
  const r = await run('validate', dir);
  t.is(r.code, 1);
  t.regex(r.out, /^\/sys\/kernel\/iommu_groups\/5\/reserved_regions:1: error: line-grammar: /m);
  t.regex(r.out, /^\/sys\/kernel\/iommu_groups\/5\/reserved_regions: error: wrong-mode: /m);
  t.regex(r.err, /violation\(s\)/);
});

test('--live reads this host without writing; no IOMMU is a clean "no iommu_groups" result', async t => {
  const r = await run('validate', '--live');
  if (/no iommu_groups/.test(r.out)) {
    t.is(r.code, 0);
    t.regex(r.out, /^\/sys \(live\): no iommu_groups/);
  } else {
    t.true(r.code === 0 || r.code === 1, r.err);
  }
});

test('usage errors: a tree without a kernel version, two sources, a bad --kernel', async t => {
  const dir = tmp();
  fs.mkdirSync(path.join(dir, 'sys', 'kernel'), { recursive: true });
  t.is((await run('validate', dir)).code, 2);
  t.is((await run('validate', dir, '--kernel', '6.8')).code, 0);
  t.is((await run('validate', dir, '--live')).code, 2);
  t.is((await run('validate', '--kernel', 'six')).code, 2);
  t.is((await run('validate', path.join(dir, 'nope'))).code, 2);
});
