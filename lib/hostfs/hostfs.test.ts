// SPDX-License-Identifier: GPL-2.0-only
/** Untrusted host files: what is read, what is refused, and what a write may replace. */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { HostFsError, canonicalDir, confinedFs, formatBytes, outputTarget, readRegularFile, resolveInside, writeFileAtomic } from '.';

const TEMP: string[] = [];
/** A fresh canonical directory with: file, dir/, fifo, link-in -> file, link-out -> /etc, loop -> loop. */
function tree(): string {
  const d = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'iommu-emu-hostfs-')));
  TEMP.push(d);
  fs.writeFileSync(path.join(d, 'file'), 'hello');
  fs.mkdirSync(path.join(d, 'dir'));
  fs.writeFileSync(path.join(d, 'dir', 'inner'), 'x');
  spawnSync('mkfifo', [path.join(d, 'fifo')]);
  fs.symlinkSync('file', path.join(d, 'link-in'));
  fs.symlinkSync('/etc', path.join(d, 'link-out'));
  fs.symlinkSync('../..', path.join(d, 'dir', 'climb'));
  fs.symlinkSync('loop', path.join(d, 'loop'));
  fs.symlinkSync('dir', path.join(d, 'dirlink'));
  return d;
}
test.after.always(() => {
  for (const d of TEMP) fs.rmSync(d, { recursive: true, force: true });
});

const reason = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    if (e instanceof HostFsError) return e.reason;
    return `${(e as NodeJS.ErrnoException).code}`;
  }
  return 'ok';
};

test('readRegularFile: regular files only, capped, the reason names the limit and its knob', (t) => {
  const d = tree();
  const lim = { maxBytes: 100, raise: 'X=N', what: 'test file' };
  const cases: [string, string, RegExp][] = [
    ['a regular file', 'file', /^ok$/],
    ['a link to a regular file', 'link-in', /^ok$/],
    ['a FIFO (never waited on)', 'fifo', /^is a FIFO, not a regular file; not read$/],
    ['a directory', 'dir', /^is a directory, not a regular file; not read$/],
    ['missing', 'nope', /^cannot read: ENOENT$/],
  ];
  for (const [what, name, want] of cases) t.regex(reason(() => readRegularFile(path.join(d, name), lim)), want, what);
  t.regex(reason(() => readRegularFile('/dev/zero', lim)), /^is a character device, not a regular file; not read$/);
  t.regex(reason(() => readRegularFile(path.join(d, 'link-in'), lim, { noFollow: true })), /^is a symbolic link, not followed$/);
  t.regex(reason(() => readRegularFile(path.join(d, 'file'), { ...lim, maxBytes: 4 })), /^larger than 4 bytes \(5 bytes\), the test file size limit; raise it with X=N$/);
  t.is(readRegularFile(path.join(d, 'file'), lim).toString(), 'hello');
  t.is(formatBytes(8 << 20), '8 MiB');
  t.is(formatBytes(1000), '1000 bytes');
});

test('resolveInside: links are followed only while they stay inside the root', (t) => {
  const d = tree();
  t.is(resolveInside(d, 'link-in'), path.join(d, 'file'));
  t.is(resolveInside(d, 'link-in', { followLast: false }), path.join(d, 'link-in'));
  t.is(resolveInside(d, 'dirlink/inner'), path.join(d, 'dir', 'inner'));
  t.is(resolveInside(d, 'nope/x'), undefined);
  t.regex(reason(() => resolveInside(d, 'link-out/passwd')), /-> \/etc: absolute link leaves .*, not followed/);
  t.regex(reason(() => resolveInside(d, 'dir/climb/x')), /-> \.\.\/\.\.: link leaves .*, not followed/);
  t.regex(reason(() => resolveInside(d, '../x')), /leaves .*, not followed/);
  t.regex(reason(() => resolveInside(d, 'loop')), /too many levels of symbolic links/);
  t.regex(reason(() => canonicalDir(path.join(d, 'file'))), /not a directory/);
});

test('confinedFs: no call leaves the root, no component is followed, open reads regular files only', (t) => {
  const d = tree();
  const cfs = confinedFs(d);
  t.true(cfs.lstatSync(path.join(d, 'link-out')).isSymbolicLink());
  t.is(cfs.readlinkSync(path.join(d, 'link-out')), '/etc');
  t.deepEqual(cfs.readdirSync(path.join(d, 'dir')).sort(), ['climb', 'inner']);
  t.is(cfs.readFileSync(path.join(d, 'dir', 'inner')).toString(), 'x');
  t.true(cfs.statSync(path.join(d, 'dirlink')).isDirectory(), 'stat resolves a link by hand, inside');
  const cases: [string, () => unknown, RegExp][] = [
    ['readdir through an absolute link', () => cfs.readdirSync(path.join(d, 'link-out')), /^ELOOP$/],
    ['lstat below a link', () => cfs.lstatSync(path.join(d, 'link-out', 'passwd')), /^ELOOP$/],
    ['open below a link', () => cfs.openSync(path.join(d, 'dirlink', 'inner')), /^ELOOP$/],
    ['a path outside the root', () => cfs.lstatSync('/etc/passwd'), /^EXDEV$/],
    ['stat of a link leaving', () => cfs.statSync(path.join(d, 'link-out')), /absolute link leaves/],
    ['open a FIFO', () => cfs.openSync(path.join(d, 'fifo')), /^is a FIFO, not a regular file; not read$/],
    ['open a link', () => cfs.openSync(path.join(d, 'link-in')), /^is a symbolic link, not followed$/],
  ];
  for (const [what, f, want] of cases) t.regex(reason(f), want, what);
});

test('outputTarget / writeFileAtomic: only nothing, a regular file, or a link to one is replaced', (t) => {
  const d = tree();
  t.is(outputTarget(path.join(d, 'new')).target, path.join(d, 'new'));
  t.is(outputTarget(path.join(d, 'link-in')).target, path.join(d, 'file'));
  const cases: [string, string, RegExp][] = [
    ['a FIFO', 'fifo', /^is a FIFO, not a regular file; refusing to replace it$/],
    ['a directory', 'dir', /^is a directory, not a regular file; refusing to replace it$/],
    ['a link to a directory', 'link-out', /^links to \/etc, which is a directory, not a regular file; refusing to replace it$/],
    ['a dangling link', 'loop', /^is a dangling symbolic link \(to loop\); not written through$/],
  ];
  for (const [what, name, want] of cases) t.regex(reason(() => writeFileAtomic(path.join(d, name), 'x')), want, what);
  // Only checked, never written: a regression run as root would replace the real node.
  t.regex(reason(() => outputTarget('/dev/null')), /^is a character device, not a regular file; refusing to replace it$/);
  t.true(fs.lstatSync(path.join(d, 'fifo')).isFIFO());
  writeFileAtomic(path.join(d, 'link-in'), 'new');
  t.true(fs.lstatSync(path.join(d, 'link-in')).isSymbolicLink());
  t.is(fs.readFileSync(path.join(d, 'file'), 'utf8'), 'new');
  t.deepEqual(fs.readdirSync(d).filter((n) => n.includes('iommu-emu-')), [], 'no temporary left');
});
