// SPDX-License-Identifier: GPL-2.0-only
/**
 * In-kernel accesses (the selftest's access fds) and the pin model underneath: pins counted per
 * page, reads and writes through the IOAS reaching the owning process's live memory (across
 * fork, after exit), and RLIMIT_MEMLOCK charged to the user or the mm.
 */
import test from 'ava';
import { ROOT, user } from '../cred';
import type { Errno } from '../errno';
import type { Process } from '../fs/process';
import { MAP_SHARED, PROT_READ } from '../uapi/fcntl';
import * as I from '../uapi/iommufd';
import * as T from '../uapi/iommufd_test';
import { IommufdFd, PAGE, RW, selftestMachine } from '../testing/iommufd';

const PIN = T.MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES;

function access(fd: IommufdFd, ioas: number, flags = PIN): number | Errno {
  const r = fd.test(T.IOMMU_TEST_OP_CREATE_ACCESS, ioas, { create_access: { flags } });
  return r.rc === 0 ? r.out.create_access.out_access_fd : r.rc;
}
const pages = (fd: IommufdFd, afd: number, iova: bigint, length: bigint, uptr: bigint, flags = 0) => {
  const r = fd.test(T.IOMMU_TEST_OP_ACCESS_PAGES, afd, { access_pages: { iova, length, uptr, flags } });
  return { rc: r.rc, id: r.out.access_pages.out_access_pages_id };
};
const rw = (fd: IommufdFd, afd: number, iova: bigint, uptr: bigint, length: bigint, flags = 0) => fd.test(T.IOMMU_TEST_OP_ACCESS_RW, afd, { access_rw: { iova, length, uptr, flags } }).rc;

function setup(mock = true) {
  const m = selftestMachine();
  const fd = IommufdFd.open(m);
  const ioas = fd.ioasAlloc();
  if (mock) fd.mockDomain(ioas);
  const buf = m.sys.mmap(16n * PAGE, { flags: MAP_SHARED });
  const iova = fd.map(ioas, 16n * PAGE, undefined, RW, buf).out.iova;
  return { m, fd, ioas, buf, iova };
}

test('CREATE_ACCESS: an fd holding the context; flags EOPNOTSUPP; an unknown IOAS ENOENT; closing destroys the access', (t) => {
  const s = setup();
  t.is(access(s.fd, s.ioas, 1 << 4), 'EOPNOTSUPP');
  t.is(access(s.fd, 99), 'ENOENT');
  const afd = access(s.fd, s.ioas) as number;
  t.true(afd > s.fd.fd);
  t.deepEqual([...s.fd.ictx.objects.values()].map((o) => o.type), ['ioas', 'selftest', 'device', 'hwpt_paging', 'access']);
  t.is(s.fd.destroy(s.ioas), 'EBUSY', 'the access holds the IOAS');
  const ictx = s.fd.ictx;
  s.fd.close();
  t.false(ictx.file!.released, 'the access fd keeps the context');
  s.m.sys.close(afd);
  t.true(ictx.file!.released);
});

test('ACCESS_PAGES: pins the pages under the IOVA (once per page), checks them against uptr, unpins on request or on unmap', (t) => {
  const s = setup();
  const afd = access(s.fd, s.ioas) as number;
  const cases: [string, () => number | Errno, Errno][] = [
    ['not an access fd', () => pages(s.fd, s.fd.fd, s.iova, PAGE, s.buf).rc, 'EBADFD'],
    ['a closed fd', () => pages(s.fd, 77, s.iova, PAGE, s.buf).rc, 'EBADFD'],
    ['an unknown flag', () => pages(s.fd, afd, s.iova, PAGE, s.buf, 2).rc, 'EOPNOTSUPP'],
    ['length 0', () => pages(s.fd, afd, s.iova, 0n, s.buf).rc, 'EINVAL'],
    ['nothing mapped there', () => pages(s.fd, afd, s.iova + 16n * PAGE, PAGE, s.buf).rc, 'ENOENT'],
    ['not page aligned', () => pages(s.fd, afd, s.iova + 2048n, PAGE, s.buf).rc, 'EINVAL'],
    ['the pages are not the ones at uptr', () => pages(s.fd, afd, s.iova, PAGE, s.buf + PAGE).rc, 'EBADE'],
    ['over 16 MiB', () => pages(s.fd, afd, s.iova, (16n << 20n) + 1n, s.buf).rc, 'ENOMEM'],
  ];
  for (const [what, run, want] of cases) t.is(run(), want, what);
  t.is(s.fd.checkRefs(s.buf, 16n * PAGE, 1), 0, 'the mock domain holds one pin per page; failed pins added none');
  const p = pages(s.fd, afd, s.iova + PAGE, 2n * PAGE, s.buf + PAGE);
  t.is(p.rc, 0);
  t.is(s.fd.checkRefs(s.buf, 16n * PAGE, 1), 0, 'an access of pinned pages pins nothing more');
  const nonpin = access(s.fd, s.ioas, 0) as number;
  t.is(pages(s.fd, nonpin, s.iova, PAGE, s.buf).rc, 'EOPNOTSUPP', 'an access without NEEDS_PIN_PAGES');
  t.is(s.fd.test(T.IOMMU_TEST_OP_DESTROY_ACCESS_PAGES, afd, { destroy_access_pages: { access_pages_id: 7 } }).rc, 'ENOENT');
  const q = pages(s.fd, afd, s.iova + 4n * PAGE, PAGE, s.buf + 4n * PAGE);
  t.is(q.id, p.id + 1);
  t.is(s.fd.test(T.IOMMU_TEST_OP_DESTROY_ACCESS_PAGES, afd, { destroy_access_pages: { access_pages_id: q.id } }).rc, 0);
  t.is(s.fd.unmap(s.ioas, s.iova, 16n * PAGE).rc, 0, 'the unmap asks the access to let go');
  t.is(s.fd.test(T.IOMMU_TEST_OP_DESTROY_ACCESS_PAGES, afd, { destroy_access_pages: { access_pages_id: p.id } }).rc, 'ENOENT', 'gone with the unmap');
  t.is(s.fd.checkRefs(s.buf, 16n * PAGE, 0), 0);
});

test('without a domain an access pins by itself; a read-only mapping cannot be pinned for writing (EPERM)', (t) => {
  const s = setup(false);
  const afd = access(s.fd, s.ioas) as number;
  t.is(s.fd.checkRefs(s.buf, 16n * PAGE, 0), 0, 'no domain: nothing pinned by the map');
  t.is(pages(s.fd, afd, s.iova, 2n * PAGE, s.buf).rc, 0);
  t.is(s.fd.checkRefs(s.buf, 2n * PAGE, 1), 0);
  t.is(s.fd.checkRefs(s.buf + 2n * PAGE, 14n * PAGE, 0), 0);
  const ro = s.m.sys.mmap(PAGE, { prot: PROT_READ });
  const ri = s.fd.map(s.ioas, PAGE, undefined, I.IOMMU_IOAS_MAP_READABLE, ro).out.iova;
  t.is(pages(s.fd, afd, ri, PAGE, ro, T.MOCK_FLAGS_ACCESS_WRITE).rc, 'EPERM');
  t.is(pages(s.fd, afd, ri, PAGE, ro).rc, 0);
});

test('ACCESS_RW reads and writes the owner\'s live memory through the IOAS, fast and slow path, at any alignment', (t) => {
  const s = setup();
  const afd = access(s.fd, s.ioas, 0) as number;
  const text = new TextEncoder().encode('written after the map');
  s.m.mem.write(s.buf + 4093n, text);
  const out = s.fd.alloc(64);
  t.is(rw(s.fd, afd, s.iova + 4093n, out, BigInt(text.length)), 0);
  t.deepEqual(s.m.mem.read(out, text.length), text, 'crossing a page boundary');
  t.is(rw(s.fd, afd, s.iova + 4093n, out, BigInt(text.length), T.MOCK_ACCESS_RW_SLOW_PATH), 0);
  t.deepEqual(s.m.mem.read(out, text.length), text, 'slow path: through the pinned pages');
  const w = s.fd.alloc(new TextEncoder().encode('DMA'));
  t.is(rw(s.fd, afd, s.iova + 8n * PAGE + 1n, w, 3n, T.MOCK_ACCESS_RW_WRITE | T.MOCK_ACCESS_RW_SLOW_PATH), 0);
  t.is(new TextDecoder().decode(s.m.mem.read(s.buf + 8n * PAGE + 1n, 3)), 'DMA', 'a write lands in the buffer');
  t.is(rw(s.fd, afd, s.iova + 16n * PAGE - 1n, out, 2n), 'ENOENT', 'running off the mapping');
  t.is(rw(s.fd, afd, s.iova, out, 0n), 'EINVAL');
  t.is(rw(s.fd, afd, s.iova, out, 1n, 1 << 3), 'EOPNOTSUPP');
  const ro = s.m.sys.mmap(PAGE, { prot: PROT_READ });
  const ri = s.fd.map(s.ioas, PAGE, undefined, I.IOMMU_IOAS_MAP_READABLE, ro).out.iova;
  t.is(rw(s.fd, afd, ri, w, 3n, T.MOCK_ACCESS_RW_WRITE), 'EPERM', 'the area is not writeable');
});

/** The selftest's fork_gone / fork_present: a child maps into the shared iommufd; the parent reads through an access. */
function forked(domainFirst: boolean) {
  const m = selftestMachine();
  const fd = IommufdFd.open(m);
  const ioas = fd.ioasAlloc();
  const afd = access(fd, ioas, 0) as number;
  if (domainFirst) fd.mockDomain(ioas);
  const child: Process = m.init.fork();
  const cbuf = child.mem.mmap(PAGE);
  child.mem.write(cbuf, new TextEncoder().encode('child data'));
  const cfd = new IommufdFd(child, fd.fd);
  const iova = cfd.map(ioas, PAGE, undefined, RW, cbuf).out.iova;
  return { m, fd, ioas, afd, child, iova };
}

test('fork: a child maps its memory; the parent reads it through an access while the child lives', (t) => {
  const s = forked(false);
  const out = s.fd.alloc(16);
  t.is(rw(s.fd, s.afd, s.iova, out, 10n), 0);
  t.is(new TextDecoder().decode(s.m.mem.read(out, 10)), 'child data', "another mm: one page through a temporary pin of the child's");
});

test('fork_gone: after the child exited, pages never pinned are EFAULT, pages a domain pinned still read', (t) => {
  const none = forked(false);
  none.child.exit();
  t.is(rw(none.fd, none.afd, none.iova, none.fd.alloc(16), 10n), 'EFAULT', 'the owner is gone and nothing held its pages');
  const held = forked(true);
  held.child.exit();
  const out = held.fd.alloc(16);
  t.is(rw(held.fd, held.afd, held.iova, out, 10n), 0);
  t.is(new TextDecoder().decode(held.m.mem.read(out, 10)), 'child data', 'the pin kept the page');
});

test('ACCESS_REPLACE_IOAS moves an access; an unattached one is ENOENT', (t) => {
  const s = setup();
  const afd = access(s.fd, s.ioas) as number;
  const other = s.fd.ioasAlloc();
  t.is(s.fd.test(T.IOMMU_TEST_OP_ACCESS_REPLACE_IOAS, afd, { access_replace_ioas: { ioas_id: 99 } }).rc, 'ENOENT');
  t.is(s.fd.test(T.IOMMU_TEST_OP_ACCESS_REPLACE_IOAS, afd, { access_replace_ioas: { ioas_id: other } }).rc, 0);
  t.is(s.fd.destroy(other), 'EBUSY');
  t.is(pages(s.fd, afd, s.iova, PAGE, s.buf).rc, 'ENOENT', 'nothing mapped in the new IOAS');
});

test('accounting: a user is charged against RLIMIT_MEMLOCK (ENOMEM past it); RLIMIT_MODE 1 charges the mm; CAP_IPC_LOCK is free', (t) => {
  const m = selftestMachine();
  const fd = IommufdFd.open(m);
  const ioas = fd.ioasAlloc();
  t.is(fd.mockDomain(ioas).rc, 0);
  m.setCredentials(user(1000));
  m.tasks.init.rlim.memlock = 8n * PAGE;
  const buf = m.sys.mmap(16n * PAGE);
  t.is(fd.map(ioas, 16n * PAGE, undefined, RW, buf).rc, 'ENOMEM', '16 pages over an 8-page limit');
  t.is(fd.ictx.st.userLockedVm.size, 0, 'nothing charged after the failure');
  t.is(fd.checkRefs(buf, 16n * PAGE, 0), 0, 'and nothing left pinned');
  t.is(fd.map(ioas, 8n * PAGE, undefined, RW, buf).rc, 0);
  t.is(fd.ictx.st.userLockedVm.get(1000), 8n);
  t.is(m.mem.pinnedVm, 8n);
  t.is(m.mem.lockedVm, 0n, 'the user, not the mm');
  const opt = (val64: bigint) => fd.io(I.IOMMU_OPTION, I.iommu_option, { option_id: I.IOMMU_OPTION_RLIMIT_MODE, op: I.IOMMU_OPTION_OP_SET, val64 }).rc;
  t.is(opt(1n), 'EPERM', 'CAP_SYS_RESOURCE');
  m.setCredentials(ROOT);
  t.is(opt(1n), 'EBUSY', 'objects exist');
  const fresh = IommufdFd.open(m);
  t.is(fresh.io(I.IOMMU_OPTION, I.iommu_option, { option_id: I.IOMMU_OPTION_RLIMIT_MODE, op: I.IOMMU_OPTION_OP_SET, val64: 1n }).rc, 0);
  const a2 = fresh.ioasAlloc();
  t.is(fresh.mockDomain(a2).rc, 0);
  m.setCredentials(user(1000));
  const buf2 = m.sys.mmap(4n * PAGE);
  t.is(fresh.map(a2, 4n * PAGE, undefined, RW, buf2).rc, 0);
  t.is(m.mem.lockedVm, 4n, 'VFIO-style: the mm');
  m.setCredentials(ROOT);
  const buf3 = m.sys.mmap(4n * PAGE);
  t.is(fd.map(ioas, 4n * PAGE, undefined, RW, buf3).rc, 0);
  t.is(fd.ictx.st.userLockedVm.get(1000), 8n, 'CAP_IPC_LOCK: not charged');
  t.is(m.mem.pinnedVm, 16n, 'but pinned_vm counts every pin');
});
