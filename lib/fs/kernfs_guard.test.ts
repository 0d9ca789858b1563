// SPDX-License-Identifier: GPL-2.0-only
/** machine.fs under /sys refuses what sysfs refuses, with sysfs' errno, in every API flavour. */
import test from 'ava';
import { ROOT, user } from '../cred';
import { createMachine } from '../machine';

const DEV = '/sys/bus/pci/devices/0000:01:00.0';
const REAL = '/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0';
const GROUP = '/sys/kernel/iommu_groups/2';

type Op = { name: string; sync: (fs: any) => unknown; cb?: (fs: any, done: (e: unknown) => void) => void; promise?: (fs: any) => Promise<unknown> }; // eslint-disable-line @typescript-eslint/no-explicit-any

/** [operation, errno as root, errno as uid 1000] — from fs/namei.c + fs/kernfs (see lib/kernfs/iops.ts). */
const CASES: [Op, string | null, string | null][] = [
  [{ name: 'create a file (writeFile)', sync: (f) => f.writeFileSync('/sys/bus/pci/new_file', 'x'), promise: (f) => f.promises.writeFile('/sys/bus/pci/new_file', 'x') }, 'EACCES', 'EACCES'],
  [{ name: "open(…, 'w') of a missing name", sync: (f) => f.openSync(`${GROUP}/nope`, 'w') }, 'EACCES', 'EACCES'],
  [{ name: 'appendFile to a missing name', sync: (f) => f.appendFileSync(`${DEV}/nope`, 'x') }, 'EACCES', 'EACCES'],
  [{ name: 'copyFile to a missing name', sync: (f) => f.copyFileSync(`${DEV}/vendor`, `${DEV}/vendor2`) }, 'EACCES', 'EACCES'],
  [{ name: 'mkdir', sync: (f) => f.mkdirSync('/sys/kernel/foo'), cb: (f, d) => f.mkdir('/sys/kernel/foo', d), promise: (f) => f.promises.mkdir('/sys/kernel/foo') }, 'EPERM', 'EACCES'],
  [{ name: 'mkdir of an existing name', sync: (f) => f.mkdirSync(GROUP) }, 'EEXIST', 'EEXIST'],
  [{ name: 'mkdir -p below an existing directory', sync: (f) => f.mkdirSync(`${GROUP}/a/b`, { recursive: true }) }, 'EPERM', 'EACCES'],
  [{ name: 'mkdtemp', sync: (f) => f.mkdtempSync('/sys/kernel/tmp-') }, 'EPERM', 'EACCES'],
  [{ name: 'unlink an attribute', sync: (f) => f.unlinkSync(`${DEV}/vendor`), cb: (f, d) => f.unlink(`${DEV}/vendor`, d), promise: (f) => f.promises.unlink(`${DEV}/vendor`) }, 'EPERM', 'EACCES'],
  [{ name: 'unlink a link', sync: (f) => f.unlinkSync(DEV) }, 'EPERM', 'EACCES'],
  [{ name: 'unlink a directory', sync: (f) => f.unlinkSync(GROUP) }, 'EISDIR', 'EACCES'],
  [{ name: 'unlink a missing name', sync: (f) => f.unlinkSync(`${DEV}/nope`) }, 'ENOENT', 'ENOENT'],
  [{ name: 'rmdir a directory', sync: (f) => f.rmdirSync(`${GROUP}/devices`) }, 'EPERM', 'EACCES'],
  [{ name: 'rmdir an attribute', sync: (f) => f.rmdirSync(`${DEV}/vendor`) }, 'ENOTDIR', 'EACCES'],
  [{ name: 'rm -rf a device directory', sync: (f) => f.rmSync(REAL, { recursive: true, force: true }), promise: (f) => f.promises.rm(REAL, { recursive: true, force: true }) }, 'EPERM', 'EACCES'],
  [{ name: 'rmdir the mount point', sync: (f) => f.rmdirSync('/sys') }, 'EBUSY', 'EBUSY'],
  [{ name: 'rename an attribute', sync: (f) => f.renameSync(`${DEV}/vendor`, `${DEV}/vendor2`), cb: (f, d) => f.rename(`${DEV}/vendor`, `${DEV}/v2`, d) }, 'EPERM', 'EACCES'],
  [{ name: 'rename out of /sys', sync: (f) => f.renameSync(`${DEV}/vendor`, '/dev/vendor') }, 'EXDEV', 'EXDEV'],
  [{ name: 'symlink', sync: (f) => f.symlinkSync('../x', '/sys/bus/pci/link') }, 'EPERM', 'EACCES'],
  [{ name: 'hard link', sync: (f) => f.linkSync(`${DEV}/vendor`, `${DEV}/vendor2`) }, 'EPERM', 'EACCES'],
  [{ name: 'chmod', sync: (f) => f.chmodSync(`${GROUP}/reserved_regions`, 0o644), promise: (f) => f.promises.chmod(`${GROUP}/reserved_regions`, 0o644) }, null, 'EPERM'],
  [{ name: 'chown', sync: (f) => f.chownSync(`${GROUP}/reserved_regions`, 1000, 1000) }, null, 'EPERM'],
  [{ name: 'truncate a read-only attribute', sync: (f) => f.truncateSync(`${GROUP}/reserved_regions`, 0) }, null, 'EACCES'],
  [{ name: 'truncate a writable attribute', sync: (f) => f.truncateSync(`${DEV}/driver_override`, 0) }, null, 'EACCES'],
];

for (const [op, asRoot, asUser] of CASES) {
  for (const [who, cred, want] of [
    ['root', ROOT, asRoot],
    ['uid 1000', user(1000), asUser],
  ] as const) {
    test(`machine.fs: ${op.name} under /sys as ${who} → ${want ?? 'allowed'}`, async (t) => {
      const m = createMachine('intel-vtd-server', { cred });
      const before = (m.fs.readdirSync(DEV) as string[]).join(',');
      const flavours: [string, () => Promise<unknown>][] = [
        ['sync', async () => op.sync(m.fs)],
        ...(op.cb ? [['callback', () => new Promise<void>((res, rej) => op.cb!(m.fs, (e) => (e ? rej(e) : res())))] as [string, () => Promise<unknown>]] : []),
        ...(op.promise ? [['promises', () => op.promise!(m.fs)] as [string, () => Promise<unknown>]] : []),
      ];
      for (const [flavour, run] of flavours) {
        if (want === null) await t.notThrowsAsync(run, flavour);
        else await t.throwsAsync(run, { code: want }, flavour);
      }
      // Nothing was created, removed or renamed, and the attribute reads as before.
      t.is((m.fs.readdirSync(DEV) as string[]).join(','), before);
      t.false(m.fs.existsSync('/sys/bus/pci/new_file'));
      t.regex(String(m.fs.readFileSync(`${GROUP}/reserved_regions`, 'utf8')), /msi/);
    });
  }
}

test('machine.fs: a refusal is shaped like a Node fs error naming the syscall and path', (t) => {
  const m = createMachine('intel-vtd-server');
  const e = t.throws(() => m.fs.mkdirSync('/sys/kernel/foo')) as NodeJS.ErrnoException;
  t.is(e.code, 'EPERM');
  t.is(e.errno, -1);
  t.is(e.syscall, 'mkdir');
  t.is(e.path, '/sys/kernel/foo');
  t.is(e.message, "EPERM: operation not permitted, mkdir '/sys/kernel/foo'");
});

test('machine.fs: chmod by root is kept across model changes, as kernfs keeps it', (t) => {
  const m = createMachine('intel-vtd-server');
  m.fs.chmodSync(`${DEV}/vendor`, 0o600);
  m.fs.writeFileSync('/sys/bus/pci/drivers/i40e/unbind', '0000:01:00.0'); // re-renders the tree
  t.is(Number(m.fs.statSync(`${DEV}/vendor`).mode) & 0o777, 0o600);
});

test('machine.fs: stat of a text attribute is one page, of a binary attribute its real size', (t) => {
  const m = createMachine('intel-vtd-server');
  t.is(Number(m.fs.statSync(`${GROUP}/reserved_regions`).size), 4096);
  t.is(Number(m.fs.statSync(`${DEV}/vendor`).size), 4096);
  t.is(Number(m.fs.statSync('/sys/bus/pci/drivers/i40e/bind').size), 4096);
  const config = Number(m.fs.statSync(`${DEV}/config`).size);
  t.true(config === 256 || config === 4096, `config is ${config} bytes`);
  t.is(config, (m.fs.readFileSync(`${DEV}/config`) as Buffer).length);
  // The content is what show() says, whatever the size.
  t.is(String(m.fs.readFileSync(`${DEV}/vendor`, 'utf8')), '0x8086\n');
});

test('machine.fs: outside /sys memfs is untouched (the guard is sysfs-only)', (t) => {
  const m = createMachine('intel-vtd-server');
  t.notThrows(() => m.fs.mkdirSync('/tmp'));
  t.notThrows(() => m.fs.writeFileSync('/tmp/x', 'y'));
  t.notThrows(() => m.fs.unlinkSync('/tmp/x'));
});
