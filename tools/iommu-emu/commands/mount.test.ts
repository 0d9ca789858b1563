// SPDX-License-Identifier: GPL-2.0-only
/**
 * `iommu-emu mount DIR` keeps the machine's tree live at DIR until SIGINT/SIGTERM, as root and as
 * nobody; `export DIR` then `rm -rf DIR` works for whoever exported. Programs reach DIR from other
 * processes, as users do.
 */
import test, { ExecutionContext } from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { liveMountMode } from '../../../lib/index';
import { NOBODY, TEST_TMP, cli, cliArgv, isMounted, leftovers, nobodyAvailable, plainUserLive } from '../testing/cli';

const isRoot = process.getuid?.() === 0;
const nobody = nobodyAvailable();
const plain = plainUserLive();
const live = liveMountMode();

const asUser = (who: 'me' | 'nobody', script: string) =>
  who === 'me'
    ? spawnSync('sh', ['-c', script], { encoding: 'utf8', timeout: 30_000 })
    : spawnSync('setpriv', ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', '--', 'sh', '-c', script], { encoding: 'utf8', timeout: 30_000 });

const VARIANTS: { who: 'me' | 'nobody'; label: string; skip?: string }[] = [
  { who: 'me', label: isRoot ? 'root' : 'a plain user', skip: live.ok ? undefined : live.reason },
  { who: 'nobody', label: 'nobody', skip: !nobody.ok ? nobody.reason : !plain.ok ? `no live mount for a plain user: ${plain.reason}` : undefined },
];

async function mounted(t: ExecutionContext, who: 'me' | 'nobody', body: (dir: string) => void): Promise<void> {
  const dir = fs.mkdtempSync(path.join(TEST_TMP, 'iommu-emu-mnt-'));
  if (who === 'nobody') fs.chownSync(dir, NOBODY, NOBODY);
  t.teardown(() => {
    if (isMounted(dir)) spawnSync(who === 'nobody' ? 'fusermount3' : 'umount', who === 'nobody' ? ['-u', '-z', dir] : ['-l', dir]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const [cmd, argv] = cliArgv(['mount', dir, '--host', 'intel-vtd-server'], who);
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: TEST_TMP, HOME: TEST_TMP } });
  let err = '';
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const closed = new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  const deadline = Date.now() + 60_000;
  while (!/mounted live at/.test(err) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
  t.regex(err, /mounted live at/, 'the command says where the tree is');
  t.true(isMounted(dir));
  body(dir);
  child.kill('SIGTERM');
  t.is(await closed, 0, err);
  t.regex(err, /unmounted/);
  t.false(isMounted(dir), 'unmounted on SIGTERM');
  t.deepEqual(fs.readdirSync(dir), [], 'the mount point is empty again');
}

for (const v of VARIANTS) {
  const title = `mount as ${v.label}: DIR/sys is live for other processes until SIGTERM, then gone`;
  if (v.skip) test.serial.skip(`${title} (skipped: ${v.skip})`, () => undefined);
  else
    test.serial(title, async (t) => {
      const before = leftovers();
      await mounted(t, v.who, (dir) => {
        const sys = `${dir}/sys`;
        const r = asUser(
          v.who,
          `cat ${sys}/kernel/iommu_groups/2/reserved_regions | head -1; echo 0000:01:00.0 > ${sys}/bus/pci/drivers/i40e/unbind; ` +
            `test -e ${sys}/bus/pci/devices/0000:01:00.0/driver || echo unbound; mkdir ${sys}/x 2>&1; stat -c %s ${sys}/bus/pci/devices/0000:01:00.0/vendor`,
        );
        const out = r.stdout.trim().split('\n');
        t.regex(out[0] ?? '', /^0x[0-9a-f]{16} 0x[0-9a-f]{16} /, r.stderr);
        t.is(out[1], 'unbound', 'the write reached the model');
        t.regex(out[2] ?? '', /Operation not permitted/);
        t.is(out[3], '4096');
      });
      t.deepEqual(leftovers(), before, 'the run directory is removed');
    });
}

test('mount refuses a DIR that is not a directory, with a usage error', async (t) => {
  const r = await cli(['mount', path.join(TEST_TMP, 'no-such-dir')]);
  t.is(r.code, 2);
  t.regex(r.stderr, /no-such-dir: no such directory/);
});

for (const v of [{ who: 'me' as const, label: isRoot ? 'root' : 'a plain user' }, { who: 'nobody' as const, label: 'nobody' }]) {
  const title = `export DIR then rm -rf DIR works for ${v.label}, who exported`;
  if (v.who === 'nobody' && !nobody.ok) test.serial.skip(`${title} (skipped: ${nobody.reason})`, () => undefined);
  else
    test.serial(title, async (t) => {
      const parent = fs.mkdtempSync(path.join(TEST_TMP, 'export-'));
      if (v.who === 'nobody') fs.chownSync(parent, NOBODY, NOBODY);
      t.teardown(() => fs.rmSync(parent, { recursive: true, force: true }));
      const dir = path.join(parent, 'tree');
      const r = await cli(['export', dir], { who: v.who });
      t.is(r.code, 0, r.stderr);
      t.true(fs.existsSync(path.join(dir, 'sys/kernel/iommu_groups')));
      const rm = asUser(v.who, `rm -rf ${dir}`);
      t.is(rm.status, 0, rm.stderr);
      t.false(fs.existsSync(dir));
    });
}
