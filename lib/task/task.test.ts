// SPDX-License-Identifier: GPL-2.0-only
/** Tasks, fd tables and struct file lifetimes: the fs/file.c and kernel/fork.c rules, errno included. */
import test from 'ava';
import { thrownCode as code } from '../testing/errno';
import { ROOT, user } from '../cred';
import { ERRNO, Errno, isKernelError } from '../errno';
import { UserMemory } from '../mm/mm';
import { FD_CLOEXEC, F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_SETFD, O_CLOEXEC, O_RDWR, PROT_READ, PROT_WRITE } from '../uapi/fcntl';
import { File, FileOperations, fput, getFile } from './file_table';
import { TaskSet } from './sched';


/** A file whose release is counted. */
function counted(): { fops: FileOperations<null>; releases: () => number } {
  let n = 0;
  return { fops: { name: 'counted', release: () => void n++ }, releases: () => n };
}

const newFile = (fops: FileOperations<null>) => new File(fops, O_RDWR, 'anon_inode:[test]', null, ROOT);

test('release runs once, at the last reference, however many holders there were', (t) => {
  const c = counted();
  const f = newFile(c.fops);
  getFile(f);
  getFile(f);
  fput(f);
  fput(f);
  t.is(c.releases(), 0);
  fput(f);
  t.is(c.releases(), 1);
  t.throws(() => fput(f), { message: /released/ }, 'a reference drop past zero is a caller bug');
});

interface FdCase {
  readonly name: string;
  readonly run: (ts: TaskSet, fd: number) => number;
  readonly want: Errno | number;
}

const fdCases: FdCase[] = [
  { name: 'dup of a bad fd', run: (ts) => ts.init.files.dup(99), want: 'EBADF' },
  { name: 'dup gives the lowest free fd', run: (ts, fd) => ts.init.files.dup(fd), want: 4 },
  { name: 'dup2 onto itself returns it', run: (ts, fd) => ts.init.files.dup2(fd, fd), want: 3 },
  { name: 'dup2 of a bad fd onto itself', run: (ts) => ts.init.files.dup2(42, 42), want: 'EBADF' },
  { name: 'dup2 to a high fd', run: (ts, fd) => ts.init.files.dup2(fd, 100), want: 100 },
  { name: 'dup2 past RLIMIT_NOFILE', run: (ts, fd) => ts.init.files.dup2(fd, 1024), want: 'EBADF' },
  { name: 'dup2 to a negative fd', run: (ts, fd) => ts.init.files.dup2(fd, -1), want: 'EBADF' },
  { name: 'dup3 onto itself', run: (ts, fd) => ts.init.files.dup3(fd, fd, 0), want: 'EINVAL' },
  { name: 'dup3 with a flag other than O_CLOEXEC', run: (ts, fd) => ts.init.files.dup3(fd, 9, 0o4000), want: 'EINVAL' },
  { name: 'F_DUPFD at a minimum', run: (ts, fd) => ts.init.files.fcntl(fd, F_DUPFD, 50), want: 50 },
  { name: 'F_DUPFD minimum past the limit', run: (ts, fd) => ts.init.files.fcntl(fd, F_DUPFD, 1024), want: 'EINVAL' },
  { name: 'F_DUPFD negative minimum', run: (ts, fd) => ts.init.files.fcntl(fd, F_DUPFD, -1), want: 'EINVAL' },
  { name: 'F_GETFD of a plain fd', run: (ts, fd) => ts.init.files.fcntl(fd, F_GETFD, 0), want: 0 },
  { name: 'an unknown fcntl command', run: (ts, fd) => ts.init.files.fcntl(fd, 9999, 0), want: 'EINVAL' },
  { name: 'fcntl on a bad fd', run: (ts) => ts.init.files.fcntl(77, F_GETFD, 0), want: 'EBADF' },
  { name: 'close of a bad fd', run: (ts) => (ts.init.files.close(77), 0), want: 'EBADF' },
];

for (const c of fdCases) {
  test(`fd table: ${c.name} → ${c.want}`, (t) => {
    const ts = new TaskSet(new UserMemory(), ROOT);
    const fd = ts.init.files.installNew(newFile(counted().fops), 0);
    t.is(fd, 3, 'fds start at 3');
    let got: Errno | number | 'OK' = 'OK';
    try {
      got = c.run(ts, fd);
    } catch (e) {
      if (!isKernelError(e)) throw e;
      got = e.code as Errno;
    }
    t.is(got, c.want);
  });
}

test('close-on-exec: O_CLOEXEC, F_DUPFD_CLOEXEC, F_SETFD, and dup clears it', (t) => {
  const ts = new TaskSet(new UserMemory(), ROOT);
  const f = ts.init.files;
  const fd = f.installNew(newFile(counted().fops), O_CLOEXEC);
  t.is(f.fcntl(fd, F_GETFD, 0), FD_CLOEXEC);
  t.is(f.fcntl(f.dup(fd), F_GETFD, 0), 0, 'dup does not copy FD_CLOEXEC');
  const c = f.fcntl(fd, F_DUPFD_CLOEXEC, 10);
  t.is(c, 10);
  t.is(f.fcntl(c, F_GETFD, 0), FD_CLOEXEC);
  f.fcntl(c, F_SETFD, 0);
  t.is(f.fcntl(c, F_GETFD, 0), 0);
  t.is(f.fcntl(f.dup3(fd, 20, O_CLOEXEC), F_GETFD, 0), FD_CLOEXEC);
});

test('dup2 onto an open fd releases the file that was there, at its last reference', (t) => {
  const ts = new TaskSet(new UserMemory(), ROOT);
  const a = counted();
  const b = counted();
  const fa = ts.init.files.installNew(newFile(a.fops), 0);
  const fb = ts.init.files.installNew(newFile(b.fops), 0);
  ts.init.files.dup2(fa, fb);
  t.is(b.releases(), 1);
  ts.init.files.close(fa);
  t.is(a.releases(), 0, 'still referenced by the dup');
  ts.init.files.close(fb);
  t.is(a.releases(), 1);
});

test('a full table is EMFILE before anything is opened, and the reference is dropped', (t) => {
  const ts = new TaskSet(new UserMemory(), ROOT, { rlimits: { nofile: 5, memlock: 0n } });
  const c = counted();
  t.is(ts.init.files.installNew(newFile(c.fops), 0), 3);
  t.is(ts.init.files.installNew(newFile(c.fops), 0), 4);
  t.is(code(() => ts.init.files.installNew(newFile(c.fops), 0)), 'EMFILE');
  t.is(c.releases(), 1, 'the file that found no slot was released');
  t.is(code(() => ts.init.files.getUnusedFdFlags(0)), 'EMFILE');
});

test('a reserved fd is not handed out twice and goes back on put_unused_fd', (t) => {
  const ts = new TaskSet(new UserMemory(), ROOT);
  const f = ts.init.files;
  const r = f.getUnusedFdFlags(0);
  t.is(f.getUnusedFdFlags(0), r + 1);
  t.is(code(() => f.dup2(f.installNew(newFile(counted().fops), 0), r)), 'EBUSY', 'dup2 onto a number being opened');
  f.putUnusedFd(r);
  t.is(f.getUnusedFdFlags(0), r);
});

test('the fd allocator hook picks numbers; a bad answer is a front-end bug', (t) => {
  const ts = new TaskSet(new UserMemory(), ROOT);
  const f = ts.init.files;
  const seen: number[] = [];
  const picks = [43, 60];
  f.allocator = (lowest) => {
    seen.push(lowest);
    return picks.shift()!;
  };
  t.is(f.installNew(newFile(counted().fops), 0), 43);
  t.is(f.installNew(newFile(counted().fops), 0), 60);
  t.deepEqual(seen, [3, 3], 'the hook is offered the lowest free number');
  f.allocator = undefined;
  t.is(f.installNew(newFile(counted().fops), 0), 3);
  f.allocator = () => 43;
  t.throws(() => f.getUnusedFdFlags(0), { message: /not a free fd/ });
  f.allocator = () => 2000;
  t.throws(() => f.getUnusedFdFlags(0), { message: /not a free fd/ });
});

test('fork shares open files and copies the table; each side closes its own', (t) => {
  const ts = new TaskSet(new UserMemory(), ROOT);
  const c = counted();
  const fd = ts.init.files.installNew(newFile(c.fops), O_CLOEXEC);
  const child = ts.init.fork();
  t.not(child.pid, ts.init.pid);
  t.is(child.files.peek(fd), ts.init.files.peek(fd), 'the same open file description');
  t.is(child.files.fcntl(fd, F_GETFD, 0), FD_CLOEXEC, 'FD_CLOEXEC is inherited by fork');
  ts.init.files.close(fd);
  t.is(c.releases(), 0, 'the child still holds it');
  child.exit(3);
  t.is(c.releases(), 1, 'exit dropped the last reference');
  t.is(child.exitCode, 3);
  t.false(child.alive);
  t.is(ts.find(child.pid), undefined);
  t.is(code(() => child.fork()), 'ESRCH');
});

test('fork copies private memory and shares MAP_SHARED memory', (t) => {
  const mm = new UserMemory();
  const ts = new TaskSet(mm, ROOT);
  const priv = mm.mmap(4096);
  const shared = mm.mmap(4096, { shared: true, prot: PROT_READ | PROT_WRITE });
  mm.write(priv, Uint8Array.of(1));
  mm.write(shared, Uint8Array.of(1));
  const child = ts.init.fork();
  child.mm.write(priv, Uint8Array.of(2));
  child.mm.write(shared, Uint8Array.of(2));
  t.is(mm.read(priv, 1)[0], 1, 'a private page is copied');
  t.is(mm.read(shared, 1)[0], 2, 'a shared page is the same page');
  child.exit();
  t.false(child.mm.alive);
  t.is(code(() => child.mm.read(priv, 1)), 'EFAULT', "an exited task's memory is gone");
  t.is(mm.read(shared, 1)[0], 2, 'the parent keeps the shared page');
});

test('per-task credentials: a fresh process has its own, fork inherits them', (t) => {
  const ts = new TaskSet(new UserMemory(), ROOT);
  const u = ts.spawn(ts.init, new UserMemory(), { cred: user(1000) });
  t.is(u.cred.uid, 1000);
  t.is(ts.init.cred.uid, 0);
  t.is(u.fork().cred.uid, 1000);
  t.is(u.files.size, 0, 'a fresh process starts with no fds');
});

test('pids: the given one, or the next free; a taken pid is EEXIST', (t) => {
  const ts = new TaskSet(new UserMemory(), ROOT, { pid: 100 });
  t.is(ts.init.pid, 100);
  t.is(ts.init.fork().pid, 101);
  t.is(ts.init.fork({ pid: 500 }).pid, 500);
  t.is(code(() => ts.init.fork({ pid: 500 })), 'EEXIST');
  t.is(ts.init.fork().pid, 501);
});

test('errno numbers the fd rules use are the C ones', (t) => {
  t.deepEqual([ERRNO.EBADF[0], ERRNO.EMFILE[0], ERRNO.EBUSY[0], ERRNO.ESRCH[0]], [9, 24, 16, 3]);
});
