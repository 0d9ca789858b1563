// SPDX-License-Identifier: GPL-2.0-only
/**
 * The conformance run as a whole: its exact text (golden), its TAP read by a standard
 * consumer, the same verdicts on an emulated host and on its export, a one-byte corruption
 * failing the run by name, and the live target staying read-only and honest about skips.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import test from 'ava';
import { parseKtap } from './ktap_parse';
import { builtinHostNames, createMachine, DEFAULT_HOST, exportTree } from '../lib/index';
import { KSFT_FAIL, KSFT_PASS, KSFT_SKIP } from './harness/exit_codes';
import { runnerMain, runPrograms, type RunnerResult } from './run_lib';
import { openTarget } from './targets';

const ROOT = __dirname;
const NO_ENV = {};
/** Programs that only read /sys: they must give one verdict per tree, whatever the target. */
const READ_ONLY = ['reserved_regions_test', 'resv_platform_test', 'group_links_test', 'sysfs_schema_test'];

const TEMP: string[] = [];
test.after.always(() => {
  for (const d of TEMP) fs.rmSync(d, { recursive: true, force: true });
});

function exportHost(host: string, kernel?: string): string {
  const m = createMachine(host, kernel ? { kernel } : {});
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ksft-export-'));
  TEMP.push(tmp);
  const dir = path.join(tmp, host);
  exportTree(m, dir, { metadata: { kernel: m.kernel.release, arch: m.topology.arch, host: m.topology.name } });
  return dir;
}

/** `program :: test` → the KTAP result line's verdict (`ok`, `ok # SKIP`, `not ok`, `ok # XFAIL`). */
function verdicts(r: RunnerResult): Map<string, string> {
  const out = new Map<string, string>();
  for (const p of r.programs) {
    for (const res of p.result?.results ?? []) out.set(`${p.program.name} :: ${res.name}`, String(res.exitCode));
  }
  return out;
}

test('golden: the exact text of a small run', async t => {
  const r = await runnerMain(['reserved_regions_test', '--', '-t', 'line_format', '-t', 'empty_for_noiommu_groups'], {
    env: NO_ENV,
    defaultRoot: ROOT,
  });
  t.is(r.exitCode, KSFT_PASS);
  t.is(
    r.stdout,
    [
      'KTAP version 1',
      '1..1',
      '    KTAP version 1',
      '    1..2',
      '    # Starting 2 tests from 1 test cases.',
      '    #  RUN           global.line_format ...',
      '    #            OK  global.line_format',
      '    ok 1 global.line_format',
      '    #  RUN           global.empty_for_noiommu_groups ...',
      '    #      SKIP      intel-vtd-server: every device sits behind an IOMMU',
      '    #            OK  global.empty_for_noiommu_groups',
      '    ok 2 global.empty_for_noiommu_groups # SKIP intel-vtd-server: every device sits behind an IOMMU',
      '    # PASSED: 2 / 2 tests passed.',
      '    # 1 skipped test(s) detected. Consider enabling relevant config options to improve coverage.',
      '    # Totals: pass:1 fail:0 xfail:0 xpass:0 skip:1 error:0',
      'ok 1 iommu/reserved_regions_test',
      '1 passed, 0 failed, 1 skipped',
      '',
    ].join('\n'),
  );
});

test('tap-parser reads the whole default run: every program a passing subtest', async t => {
  const r = await runPrograms({ root: ROOT, env: NO_ENV });
  t.is(r.exitCode, KSFT_PASS, r.stdout);
  const { top, children } = await parseKtap(r.stdout);
  t.true(top.ok);
  t.is(top.count, r.programs.length);
  t.is(top.fail, 0);
  t.is(children.length, r.programs.length);
  for (const [i, c] of children.entries()) {
    const res = r.programs[i]!.result!;
    t.true(c.ok, r.programs[i]!.program.name);
    t.is(c.count, res.plan);
    t.is(c.skip, res.counts.skip);
  }
  t.regex(r.stdout, /\n\d+ passed, 0 failed, \d+ skipped\n$/);
});

test('an export gives the same verdict as the emulated host, for every built-in host', async t => {
  for (const host of builtinHostNames()) {
    const dir = exportHost(host);
    const emu = await runPrograms({ root: ROOT, filters: READ_ONLY, passthrough: ['--host', host], env: NO_ENV });
    const exp = await runPrograms({ root: ROOT, filters: READ_ONLY, passthrough: ['--target', `dir:${dir}`], env: NO_ENV });
    t.is(emu.exitCode, KSFT_PASS, emu.stdout);
    const [a, b] = [verdicts(emu), verdicts(exp)];
    for (const [name, code] of a) {
      const onDir = b.get(name);
      if (onDir === String(KSFT_SKIP) && code !== String(KSFT_SKIP)) continue;
      t.is(onDir, code, `${host}: ${name}`);
    }
    t.is(exp.exitCode, KSFT_PASS, exp.stdout);
  }
});

test('suites needing syscalls SKIP on a directory, saying why', async t => {
  const dir = exportHost(DEFAULT_HOST);
  const r = await runPrograms({ root: ROOT, filters: ['type_store_test', 'driver_binding_test'], passthrough: ['--target', `dir:${dir}`], env: NO_ENV });
  t.is(r.exitCode, KSFT_PASS, r.stdout);
  t.regex(r.stdout, /ok \d+ type_store\.host\.unprivileged_user # SKIP target dir:.* is a read-only tree: no syscalls; needs the emulator/);
  t.regex(r.stdout, /ok \d+ global\.unbind_bound # SKIP target dir:.* is a read-only tree: no syscalls/);
  t.regex(r.stdout, /ok \d+ global\.driver_override_show\n/);
});

test('one wrong byte in a rendered reserved_regions file fails the run, naming the case', async t => {
  const dir = exportHost(DEFAULT_HOST);
  const file = path.join(dir, 'sys/kernel/iommu_groups/2/reserved_regions');
  const bytes = fs.readFileSync(file);
  t.is(bytes[1], 0x78);
  bytes[1] = 0x58; // 0x → 0X
  fs.chmodSync(file, 0o644);
  fs.writeFileSync(file, bytes);
  fs.chmodSync(file, 0o444);
  let out = '';
  const r = await runnerMain(['--target', `dir:${dir}`], { stdout: { write: (s: string) => (out += s) }, env: NO_ENV, defaultRoot: ROOT });
  t.is(r.exitCode, KSFT_FAIL);
  t.regex(out, /\n {4}not ok \d+ global\.line_format\n/);
  t.regex(out, /\n {4}# reserved_regions_test\.ts:\d+:line_format:group 2 line 1: "0X000000007b800000 0x000000007fffffff direct-relaxable"\n/);
  t.regex(out, /\nnot ok \d+ iommu\/reserved_regions_test\n/);
  t.regex(out, /\n {4}not ok \d+ global\.line_grammar\n/);
  t.regex(out, /\n\d+ passed, [1-9]\d* failed, \d+ skipped\n$/);
});

test('a corrupted order fails the ordering and merge rules, not the grammar', async t => {
  const dir = exportHost('amd-epyc');
  const file = path.join(dir, 'sys/kernel/iommu_groups/3/reserved_regions');
  const lines = fs.readFileSync(file, 'latin1').split('\n');
  fs.chmodSync(file, 0o644);
  fs.writeFileSync(file, [lines[1], lines[0], lines[0], ...lines.slice(2)].join('\n'), 'latin1');
  const r = await runPrograms({ root: ROOT, filters: ['reserved_regions_test'], passthrough: ['--target', `dir:${dir}`], env: NO_ENV });
  t.is(r.exitCode, KSFT_FAIL);
  const v = verdicts(r);
  t.is(v.get('iommu/reserved_regions_test :: global.line_format'), String(KSFT_PASS));
  t.is(v.get('iommu/reserved_regions_test :: global.sorted_by_start_then_type'), String(KSFT_FAIL));
  t.is(v.get('iommu/reserved_regions_test :: global.same_type_merged'), String(KSFT_FAIL));
});

test('live: this host read-only; no IOMMU means SKIP with the reason, never a failure', async t => {
  const r = await runPrograms({ root: ROOT, passthrough: ['--target', 'live'], env: NO_ENV });
  t.is(r.totals.failed, 0, r.stdout);
  const live = openTarget('live');
  t.is(live.sys, undefined);
  t.regex(live.sysUnavailable ?? '', /^live: /);
  if (!fs.existsSync('/sys/kernel/iommu_groups') || fs.readdirSync('/sys/kernel/iommu_groups').length === 0)
    t.regex(r.stdout, /# SKIP no iommu_groups on live:/);
  t.regex(r.stdout, /ok \d+ vfio\.group_single_open # SKIP live: (no \/dev\/vfio\/vfio on this host|cannot open \/dev\/vfio\/vfio|Node\.js cannot issue ioctl)/);
});

test('a bad --target fails every test of the program with the reason', async t => {
  const r = await runPrograms({ root: ROOT, filters: ['group_links_test'], passthrough: ['--target', 'nfs:x', '-t', 'group_ids_decimal'], env: NO_ENV });
  t.is(r.exitCode, KSFT_FAIL);
  t.regex(r.stdout, /TargetError: --target "nfs:x": expected emulator \(default\) \| dir:PATH \| live/);
  const missing = await runPrograms({ root: ROOT, filters: ['group_links_test'], passthrough: ['--target', 'dir:/nonexistent', '-t', 'group_ids_decimal'], env: NO_ENV });
  t.regex(missing.stdout, /no sys\/ directory there/);
});

test('--kconfig builds the emulated host with those options; a bad item, a Kconfig conflict and a read-only target are refused', async t => {
  const target = openTarget('emulator', { kconfig: 'CONFIG_IOMMUFD=y' });
  t.true(target.machine!.fs.existsSync('/dev/iommu'));
  t.regex(target.description, /\+CONFIG_IOMMUFD=y$/);
  t.false(openTarget('emulator').machine!.fs.existsSync('/dev/iommu'), 'Debian\'s configs leave iommufd out');
  t.throws(() => openTarget('emulator', { kconfig: 'CONFIG_IOMMUFD=m' }).machine, { message: /--kconfig "CONFIG_IOMMUFD=m": expected CONFIG_NAME=y or CONFIG_NAME=n/ });
  t.throws(() => openTarget('emulator', { kconfig: 'CONFIG_IOMMUFD=y,CONFIG_IOMMUFD_VFIO_CONTAINER=y' }).machine, { message: /depends on !CONFIG_VFIO_CONTAINER/ });
  t.throws(() => openTarget('live', { kconfig: 'CONFIG_IOMMUFD=y' }), { message: /needs --target emulator/ });
  const r = await runPrograms({ root: ROOT, filters: ['vfio_iommufd_test'], passthrough: ['--kconfig', 'CONFIG_IOMMUFD=y'], env: NO_ENV });
  t.is(r.exitCode, KSFT_PASS, r.stdout);
  t.is(r.totals.skipped, 0, r.stdout);
});
