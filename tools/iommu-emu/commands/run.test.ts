// SPDX-License-Identifier: GPL-2.0-only
/**
 * `iommu-emu run`: an unmodified program gets the emulated /sys live in a private mount
 * namespace — as root, and as a plain user (nobody, through setpriv, when the tests run as
 * root; this user otherwise). Every variant checks the exit status and that nothing stays
 * behind (run directory, mounts).
 */
import test, { ExecutionContext } from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createMachine } from '../../../lib/index';
import { main } from '../main';
import { bufferIO } from '../io';
import { BIN, TEST_TMP, cli, leftovers, nobodyAvailable, plainUserLive, runMounts } from '../testing/cli';
import { namespacesAvailable } from './run';

const isRoot = process.getuid?.() === 0;
const ns = namespacesAvailable();
const nobody = nobodyAvailable();
const plain = plainUserLive();

/** Tests that need a private mount namespace: skipped, with the reason in the title, where there is none. */
const nsTest = (title: string, fn: (t: ExecutionContext) => Promise<void>) =>
  ns.ok ? test.serial(title, fn) : test.serial.skip(`${title} (skipped: namespaces not allowed here: ${ns.reason})`, fn);

type Who = 'me' | 'nobody';
const meSkip = !ns.ok ? `namespaces not allowed here: ${ns.reason}` : !isRoot && !plain.ok ? `no live mount for a plain user: ${plain.reason}` : undefined;
const nobodySkip = !nobody.ok ? nobody.reason : !plain.ok ? `no live mount for a plain user: ${plain.reason}` : undefined;
const ME = isRoot ? 'root' : 'a plain user';

/** Checks that nothing stays behind around `fn`. */
const clean = async (t: ExecutionContext, fn: () => Promise<void>) => {
  const before = leftovers();
  const mountsBefore = runMounts();
  await fn();
  t.deepEqual(leftovers(), before, 'the run directory is removed');
  t.deepEqual(runMounts(), mountsBefore, 'no mount stays behind');
};

const DEV = '/sys/bus/pci/devices/0000:01:00.0';

/**
 * What a program does on the live tree (default host) and what it must see. As this user each
 * case is a run of its own; as nobody (a process start costs seconds) all of them are one run.
 */
interface Case {
  readonly title: string;
  readonly script: string;
  check(t: ExecutionContext, out: string, err: string, who: Who): void;
}

const CASES: Case[] = [
  {
    title: 'writes reach the model: unbind, driver_override and bind move the NIC to vfio-pci',
    script:
      `readlink ${DEV}/driver; echo 0000:01:00.0 > ${DEV}/driver/unbind; test -e ${DEV}/driver || echo unbound; ` +
      `echo vfio-pci > ${DEV}/driver_override; echo 0000:01:00.0 > /sys/bus/pci/drivers/vfio-pci/bind; ` +
      `readlink ${DEV}/driver; cat ${DEV}/driver_override; ls /sys/bus/pci/drivers/vfio-pci | grep -c 0000:01:00.0; ` +
      `g=$(basename $(readlink ${DEV}/iommu_group)); if [ -d /dev/vfio ]; then test -c /dev/vfio/$g && echo "/dev/vfio/$g appeared"; else echo "no /dev/vfio"; fi`,
    check(t, out, err, who) {
      const lines = out.trim().split('\n');
      t.deepEqual(lines.slice(0, 5), ['../../../../bus/pci/drivers/i40e', 'unbound', '../../../../bus/pci/drivers/vfio-pci', 'vfio-pci', '1'], err);
      const group = path.basename(String(createMachine('intel-vtd-server').fs.readlinkSync(`${DEV}/iommu_group`)));
      if (who === 'me' && isRoot) t.is(lines[5], `/dev/vfio/${group} appeared`, 'as root /dev/vfio is the machine’s, even on a host without one');
      else t.true(lines[5] === `/dev/vfio/${group} appeared` || (lines[5] === 'no /dev/vfio' && !fs.existsSync('/dev/vfio')), lines[5]);
    },
  },
  {
    title: 'a write the kernel refuses fails with its errno, as each shell reports it',
    script:
      'echo junk > /sys/kernel/iommu_groups/2/reserved_regions; echo "rc=$?"; ' +
      'bash -c "echo 0000:99:00.0 > /sys/bus/pci/drivers/i40e/bind"; echo "rc=$?"; ' +
      'echo 0000:99:00.0 > /sys/bus/pci/drivers/i40e/bind; echo "rc=$?"; ' +
      '/bin/echo bogus > /sys/kernel/iommu_groups/2/type; echo "rc=$?"; ' +
      'head -c 100 /sys/kernel/iommu_groups/2/reserved_regions',
    check(t, out, err) {
      t.deepEqual(out.split('\n').filter((l) => l.startsWith('rc=')), ['rc=2', 'rc=1', 'rc=1', 'rc=1'], err);
      t.regex(err, /sh: 1: cannot create \/sys\/kernel\/iommu_groups\/2\/reserved_regions: Permission denied/);
      t.regex(err, /bash: line 1: echo: write error: No such device/);
      // dash reports every failed write of its echo builtin as "I/O error", on a real kernel too.
      t.regex(err, /sh: 1: echo: echo: I\/O error/);
      t.regex(err, /\/bin\/echo: write error: Invalid argument/);
      t.regex(out, /^0x[0-9a-f]{16} 0x[0-9a-f]{16} /m, 'reserved_regions still reads as the kernel writes it');
    },
  },
  {
    title: 'creating, removing and renaming under /sys are refused; stat says 4096 for text attributes',
    script:
      'touch /sys/bus/pci/new; mkdir /sys/kernel/new; rm /sys/kernel/iommu_groups/2/type; mv /sys/kernel/iommu_groups/2/type /sys/kernel/t; ' +
      'ln -s x /sys/kernel/l; stat -c "%s %A" /sys/kernel/iommu_groups/2/reserved_regions; ls /sys/bus/pci /sys/kernel | grep -c -E "^(new|t|l)$"; true',
    check(t, out, err) {
      t.is(out.trim().split('\n')[0], '4096 -r--r--r--', err);
      t.is(out.trim().split('\n')[1], '0', 'nothing was created');
      t.regex(err, /touch: cannot touch '\/sys\/bus\/pci\/new': Permission denied/);
      // The program is root of the emulated machine (uid 0 in run's namespace): sysfs says EPERM.
      t.regex(err, /mkdir: cannot create directory ‘\/sys\/kernel\/new’: Operation not permitted/);
      t.regex(err, /rm: cannot remove '\/sys\/kernel\/iommu_groups\/2\/type': Operation not permitted/);
      t.regex(err, /mv: cannot move '\/sys\/kernel\/iommu_groups\/2\/type' to '\/sys\/kernel\/t': Operation not permitted/);
      t.regex(err, /ln: failed to create symbolic link '\/sys\/kernel\/l': Operation not permitted/);
    },
  },
];

for (const c of CASES) {
  const title = `run as ${ME}: ${c.title}`;
  if (meSkip) test.serial.skip(`${title} (skipped: ${meSkip})`, () => undefined);
  else
    test.serial(title, (t) =>
      clean(t, async () => {
        const r = await cli(['run', '--', 'sh', '-c', c.script]);
        t.is(r.code, 0, r.stderr);
        c.check(t, r.stdout, r.stderr, 'me');
      }),
    );
}

{
  const title = `run as nobody: ${CASES.map((c) => c.title.split(':')[0]).join('; ')}; the exit status comes back`;
  if (nobodySkip) test.serial.skip(`${title} (skipped: ${nobodySkip})`, () => undefined);
  else
    test.serial(title, (t) =>
      clean(t, async () => {
        const script = CASES.map((c) => `sh -c '${c.script.replaceAll("'", `'"'"'`)}'; echo @@@`).join('; ') + '; exit 7';
        const r = await cli(['run', '--', 'sh', '-c', script], { who: 'nobody' });
        t.is(r.code, 7, r.stderr);
        const parts = r.stdout.split('@@@\n');
        CASES.forEach((c, i) => c.check(t, parts[i] ?? '', r.stderr, 'nobody'));
      }),
    );
}

const meTest = (title: string, fn: (t: ExecutionContext) => Promise<void>) =>
  meSkip ? test.serial.skip(`run as ${ME}: ${title} (skipped: ${meSkip})`, () => undefined) : test.serial(`run as ${ME}: ${title}`, (t) => clean(t, () => fn(t)));

meTest('the exit status comes back (and 128+N for a signal death)', async (t) => {
  t.is((await cli(['run', '--host', 'amd-epyc', '--', 'sh', '-c', 'test -e /sys/class/iommu/ivhd0 && exit 7'])).code, 7);
  t.is((await cli(['run', '--', 'sh', '-c', 'kill -TERM $$'])).code, 128 + os.constants.signals.SIGTERM);
});

meTest('--static gives the old snapshot: writes change nothing and say nothing about it', async (t) => {
  const r = await cli(['run', '--static', '--', 'sh', '-c', `echo 0000:01:00.0 > ${DEV}/driver/unbind; readlink ${DEV}/driver`]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout.trim(), '../../../../bus/pci/drivers/i40e');
  t.notRegex(r.stderr, /no live \/sys/);
});

if (nobodySkip) test.serial.skip(`run as nobody without the FUSE helper falls back to the snapshot and says so (skipped: ${nobodySkip})`, () => undefined);
else
  test.serial('run as nobody without the FUSE helper falls back to the snapshot, says so on stderr, and still cleans up', async (t) => {
    const before = leftovers();
    const r = await cli(['run', '--', 'sh', '-c', 'cat /sys/kernel/iommu_groups/2/type; exit 5'], { who: 'nobody', env: { IOMMU_EMU_FUSE_HELPER: '/nonexistent/iommu-emu-fuse' } });
    t.is(r.code, 5);
    t.regex(r.stdout, /DMA/);
    t.regex(r.stderr, /iommu-emu run: no live \/sys here \(the FUSE helper is not built \(\/nonexistent\/iommu-emu-fuse; run make\)\); the program gets a static snapshot/);
    t.deepEqual(leftovers(), before);
  });

nsTest('run --host intel-vtd-server -- sh -c cat …/reserved_regions prints the emulated regions', async (t) => {
  const before = leftovers();
  const io = bufferIO({ ...process.env, TMPDIR: TEST_TMP });
  const code = await main(['run', '--host', 'intel-vtd-server', '--', 'sh', '-c', 'cat /sys/kernel/iommu_groups/*/reserved_regions'], io);
  t.is(code, 0, io.err());
  const m = createMachine('intel-vtd-server');
  const ids = (m.fs.readdirSync('/sys/kernel/iommu_groups') as string[]).sort();
  t.is(io.out(), ids.map((i) => String(m.fs.readFileSync(`/sys/kernel/iommu_groups/${i}/reserved_regions`, 'utf8'))).join(''));
  t.deepEqual(leftovers(), before, 'the run directory is removed');
});

nsTest('SIGTERM to iommu-emu run reaches the program and the run directory is still removed', async (t) => {
  const before = leftovers();
  // The shell cannot exec its last command here, so the sleep is a grandchild that must die too.
  const marker = `sleep 29.${process.pid}`;
  const child = spawn(process.execPath, ['-r', path.join(__dirname, '..', '..', '..', 'scripts', 'ts-register.js'), BIN, 'run', '--', 'sh', '-c', `cat /sys/kernel/iommu_groups/2/type >/dev/null; echo ready; ${marker}; echo after`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TMPDIR: TEST_TMP },
  });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  child.kill('SIGTERM');
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  t.is(code, 128 + os.constants.signals.SIGTERM);
  t.deepEqual(leftovers(), before);
  t.deepEqual(runMounts(), []);
  t.is(spawnSync('pgrep', ['-f', marker], { encoding: 'utf8' }).stdout, '', 'no process of the program outlives it');
});

test('run without a COMMAND is a usage error', async (t) => {
  const io = bufferIO();
  t.is(await main(['run', '--host', 'amd-epyc'], io), 2);
  t.regex(io.err(), /run needs a COMMAND after --/);
});
