// SPDX-License-Identifier: GPL-2.0-only
import test from 'ava';
import { Input, decode, encode } from '../abi';
import { ROOT, user } from '../cred';
import type { Errno } from '../errno';
import { kernelProfile } from '../kernel/profile';
import type { Machine } from '../machine';
import { U64_MAX } from '../model/iova';
import { _IO } from '../uapi/ioctl';
import * as I from '../uapi/iommufd';
import { IommufdFd } from '../testing/iommufd';
import { iommufdMachine } from '../testing/vfio';
import { ioctlOp, ioctlTable, opMinSize, opSize } from './main';

const PAGE = 4096n;

/**
 * An open /dev/iommu of a fresh machine (with the selftest, so IOMMU_TEST_CMD is in the table).
 * /dev/iommu is root's 0660: a user process gets the fd opened for it, as from a privileged
 * launcher, and acts as `cred` from then on.
 */
class Fd extends IommufdFd {
  readonly m: Machine;
  constructor(kernel = '6.12', cred = ROOT, selftest = true) {
    const m = iommufdMachine('intel-vtd-server', { kernel, kconfig: { CONFIG_IOMMUFD_TEST: selftest } });
    const o = IommufdFd.open(m);
    super(o.p, o.fd);
    this.m = m;
    m.setCredentials(cred);
  }
  get table() {
    return this.ictx.st.table;
  }
  get mem() {
    return this.p.mem;
  }
  /** A fresh context on the same machine (opened as root). */
  reopen(): IommufdFd {
    const cred = this.m.cred;
    this.m.setCredentials(ROOT);
    try {
      return IommufdFd.open(this.m);
    } finally {
      this.m.setCredentials(cred);
    }
  }
}

/*
 * The selftest's TEST_LENGTH, generated from the op table for every op at every profile:
 * size = min_size - 1 → EINVAL; size = the kernel's sizeof + 1 with a non-zero extra byte →
 * E2BIG; with a zero extra byte → exactly what sizeof gives.
 */
for (const kernel of ['6.2', '6.6', '6.7', '6.12', 'latest']) {
  test(`TEST_LENGTH for every op at ${kernel}`, (t) => {
    const fd = new Fd(kernel);
    const table = fd.table.filter((op) => op !== undefined);
    t.true(table.length >= 9);
    for (const op of table) {
      const size = opSize(op, fd.ictx.profile);
      const buf = fd.mem.mmap(PAGE);
      const at = (n: number, extra: number) => {
        fd.mem.write(buf, new Uint8Array(Number(PAGE)));
        const bytes = encode(op.layout, { size: n });
        fd.mem.write(buf, bytes.subarray(0, Math.min(n, bytes.length)));
        fd.mem.write(buf + BigInt(size), Uint8Array.of(extra));
        return fd.raw(op.ioctlNum, buf);
      };
      const name = op.layout.name;
      t.is(at(opMinSize(op) - 1, 0xff), 'EINVAL', `${name}: min_size - 1`);
      t.is(at(size + 1, 0xff), 'E2BIG', `${name}: sizeof + 1, non-zero`);
      const fresh = fd.reopen();
      const fbuf = fresh.alloc(Number(PAGE));
      fresh.p.mem.write(fbuf, encode(op.layout, { size }).subarray(0, size));
      const plain = fresh.raw(op.ioctlNum, fbuf);
      const fresh2 = fd.reopen();
      const fbuf2 = fresh2.alloc(Number(PAGE));
      fresh2.p.mem.write(fbuf2, encode(op.layout, { size: size + 1 }).subarray(0, size));
      t.is(fresh2.raw(op.ioctlNum, fbuf2), plain, `${name}: sizeof + 1 with a zero byte behaves as sizeof`);
      fresh.close();
      fresh2.close();
    }
  });
}

test('a grown struct: the kernel of each version reads its own size (iommu_hwpt_alloc 24/40/48)', (t) => {
  const op = ioctlOp(I.IOMMU_HWPT_ALLOC, I.iommu_hwpt_alloc, '__reserved', 'iommufd_hwpt_alloc', () => 0, [
    ['iommufd_nesting', 'data_uptr'],
    ['iommufd_fault_queue', '__reserved2'],
  ]);
  const sizes = ['6.6', '6.7', '6.10', '6.11', '6.12'].map((k) => opSize(op, kernelProfile(k)));
  t.deepEqual(sizes, [24, 40, 40, 48, 48]);
  t.is(opMinSize(op), 24);
  t.is(ioctlTable([op], kernelProfile('6.5')).length, 0, 'before 6.6 the row is absent');
});

test('dispatch order: NULL → EFAULT; nr below the table or past it → VFIO compat (ENOTTY there); a hole or another number in a slot → ENOTTY', (t) => {
  const fd = new Fd();
  t.is(fd.raw(I.IOMMU_DESTROY, 0n), 'EFAULT');
  t.is(fd.raw(_IO(I.IOMMUFD_TYPE, 0x7f), 0n), 'ENOTTY', "the selftest's cmd_fail: _IO(';', 0x7f)");
  const p = fd.alloc(encode(I.iommu_destroy, { size: 8 }));
  t.is(fd.raw(_IO(I.IOMMUFD_TYPE, 0x8f), 0n), 'EFAULT', 'a hole inside the table (selftest built): the size is read first');
  t.is(fd.raw(_IO(I.IOMMUFD_TYPE, 0x8f), p), 'ENOTTY', 'IOAS_MAP_FILE is not a 6.12 row');
  t.is(new Fd('6.12', ROOT, false).raw(_IO(I.IOMMUFD_TYPE, 0x8f), 0n), 'ENOTTY', 'without the selftest the table ends at 0x8e: compat, no size read');
  const old = new Fd('6.5');
  t.is(old.raw(_IO(I.IOMMUFD_TYPE, 0x89), old.alloc(encode(I.iommu_destroy, { size: 8 }))), 'ENOTTY', 'HWPT_ALLOC is not a 6.5 row');
  t.is(fd.raw(_IO('x', 0x80), p), 'ENOTTY', 'slot 0 holds another number');
  t.is(fd.raw(0x3b64, 0n), 0, 'VFIO_GET_API_VERSION goes to the compat handler (VFIO_API_VERSION 0)');
  t.is(fd.raw(I.IOMMU_IOAS_ALLOC, fd.alloc(encode(I.iommu_ioas_alloc, { size: 12, flags: 1 }))), 'EOPNOTSUPP');
});

test('objects hold each other: IOAS ← automatic HWPT ← mock device ← selftest object; EBUSY until the leaf goes', (t) => {
  const fd = new Fd();
  const a = fd.ioasAlloc();
  const md = fd.mockDomain(a);
  t.is(md.rc, 0);
  t.deepEqual([md.stdev, md.idev, md.hwpt], [2, 3, 4]);
  t.is(fd.destroy(a), 'EBUSY', "the mock domain's HWPT holds the IOAS");
  t.is(fd.destroy(md.hwpt), 'EBUSY', 'the device holds its HWPT');
  t.is(fd.destroy(md.idev), 'EBUSY', 'the selftest object holds the device');
  t.is(fd.destroy(md.stdev), 0);
  t.is(fd.destroy(md.hwpt), 'ENOENT', 'the automatic HWPT went with its last device');
  t.is(fd.destroy(a), 0);
});

test('object ids: from 1, lowest free reused; wrong type and unknown id are ENOENT; destroy of a busy object EBUSY', (t) => {
  const fd = new Fd();
  t.deepEqual([fd.ioasAlloc(), fd.ioasAlloc(), fd.ioasAlloc()], [1, 2, 3]);
  t.is(fd.io(I.IOMMU_DESTROY, I.iommu_destroy, { id: 2 }).rc, 0);
  t.is(fd.io(I.IOMMU_DESTROY, I.iommu_destroy, { id: 2 }).rc, 'ENOENT');
  t.is(fd.io(I.IOMMU_DESTROY, I.iommu_destroy, { id: 0 }).rc, 'ENOENT');
  t.is(fd.ioasAlloc(), 2);
  const ioas = fd.ictx.getObject(1, 'ioas');
  t.is(fd.io(I.IOMMU_DESTROY, I.iommu_destroy, { id: 1 }).rc, 'EBUSY', 'a reference is held');
  fd.ictx.putObject(ioas);
  t.throws(() => fd.ictx.getObject(1, 'device'), { code: 'ENOENT' } as never);
  t.is(fd.io(I.IOMMU_DESTROY, I.iommu_destroy, { id: 1 }).rc, 0);
  const pending = fd.ictx.objectAlloc('ioas');
  t.is(pending.id, 1, 'allocation reserves the id');
  t.is(fd.io(I.IOMMU_DESTROY, I.iommu_destroy, { id: 1 }).rc, 'ENOENT', 'not finalized: invisible');
  t.is(fd.ioasAlloc(), 4);
});

test('the last close destroys every object, dependents first: pins, accounting and DMA ownership go', (t) => {
  const fd = new Fd('6.12', user(1000));
  const a = fd.ioasAlloc();
  const buf = fd.mem.mmap(4n * PAGE);
  t.is(fd.map(a, 4n * PAGE, undefined, undefined, buf).rc, 0);
  t.is(fd.mockDomain(a).rc, 'EADDRINUSE', 'the area sits below the mock aperture, which the domain reserves');
  t.is(fd.unmap(a, 0n, U64_MAX).rc, 0);
  const md = fd.mockDomain(a);
  t.is(md.rc, 0);
  t.is(fd.checkRefs(buf, 4n * PAGE, 0), 0, 'nothing mapped: nothing pinned');
  t.is(fd.map(a, 4n * PAGE, undefined, undefined, buf).rc, 0);
  t.is(fd.checkRefs(buf, 4n * PAGE, 1), 0, 'the mock domain pinned the buffer once');
  t.is(fd.mem.pinnedVm, 4n);
  t.is(fd.ictx.st.userLockedVm.get(1000), 4n, "charged to the user's locked_vm");
  const ictx = fd.ictx;
  const dup = fd.p.sys.dup(fd.fd);
  fd.close();
  t.is(ictx.objects.size, 4, 'a dup keeps the context');
  fd.p.sys.close(dup);
  t.is(ictx.objects.size, 0);
  t.is(fd.mem.pinnedVm, 0n);
  t.is(ictx.st.userLockedVm.size, 0, "the user's locked_vm is back to 0");
  const again = fd.reopen();
  t.is(again.checkRefs(buf, 4n * PAGE, 0), 0, 'no page is pinned any more');
});

test('IOAS_IOVA_RANGES: one range on a fresh IOAS; EMSGSIZE after writing back the count and what fits', (t) => {
  const fd = new Fd();
  const id = fd.ioasAlloc();
  const arr = fd.mem.mmap(PAGE);
  let r = fd.io(I.IOMMU_IOAS_IOVA_RANGES, I.iommu_ioas_iova_ranges, { ioas_id: id, num_iovas: 4, allowed_iovas: arr });
  t.is(r.rc, 0);
  t.is(r.out.num_iovas, 1);
  t.is(r.out.out_iova_alignment, 1n);
  t.deepEqual(decode(I.iommu_iova_range, fd.mem.read(arr, 16)), { start: 0n, last: U64_MAX });
  t.is(fd.addReserved(id, 0xfee0_0000n, 0x10_0000n), 0);
  t.is(fd.addReserved(id, 0x1_0000_0000n, 0x1000n), 0);
  // QEMU's probe: num_iovas 0, then fetch.
  r = fd.io(I.IOMMU_IOAS_IOVA_RANGES, I.iommu_ioas_iova_ranges, { ioas_id: id, num_iovas: 0, allowed_iovas: 0n });
  t.is(r.rc, 'EMSGSIZE');
  t.is(r.out.num_iovas, 3, 'the count is written back before EMSGSIZE');
  r = fd.io(I.IOMMU_IOAS_IOVA_RANGES, I.iommu_ioas_iova_ranges, { ioas_id: id, num_iovas: 1, allowed_iovas: arr });
  t.is(r.rc, 'EMSGSIZE');
  t.deepEqual(decode(I.iommu_iova_range, fd.mem.read(arr, 16)), { start: 0n, last: 0xfedf_ffffn }, 'what fits is filled');
  r = fd.io(I.IOMMU_IOAS_IOVA_RANGES, I.iommu_ioas_iova_ranges, { ioas_id: id, num_iovas: 3, allowed_iovas: arr });
  t.is(r.rc, 0);
  t.deepEqual(decode(I.iommu_iova_range, fd.mem.read(arr + 32n, 16)), { start: 0x1_0000_1000n, last: U64_MAX });
  const table: [string, Input<typeof I.iommu_ioas_iova_ranges>, Errno][] = [
    ['__reserved', { ioas_id: id, __reserved: 1 }, 'EOPNOTSUPP'],
    ['bad id', { ioas_id: 99 }, 'ENOENT'],
    ['unmapped array', { ioas_id: id, num_iovas: 1, allowed_iovas: 0x10n }, 'EFAULT'],
  ];
  for (const [what, v, want] of table) t.is(fd.io(I.IOMMU_IOAS_IOVA_RANGES, I.iommu_ioas_iova_ranges, v).rc, want, what);
});

test('IOAS_MAP errno table in the kernel order; without a domain no user memory is touched', (t) => {
  const fd = new Fd();
  const id = fd.ioasAlloc();
  const RW = I.IOMMU_IOAS_MAP_READABLE | I.IOMMU_IOAS_MAP_WRITEABLE;
  const F = I.IOMMU_IOAS_MAP_FIXED_IOVA;
  const ok = fd.map(id, PAGE, 0x10_0000n);
  t.is(ok.rc, 0);
  t.is(fd.addReserved(id, 0x20_0000n, 0x10_0000n), 0);
  const cases: [string, Input<typeof I.iommu_ioas_map>, Errno][] = [
    ['unknown flag', { ioas_id: 99, flags: 8 | RW, length: PAGE }, 'EOPNOTSUPP'],
    ['__reserved', { ioas_id: 99, flags: RW, __reserved: 1, length: PAGE }, 'EOPNOTSUPP'],
    ['iova ULONG_MAX', { ioas_id: 99, flags: RW, iova: U64_MAX, length: PAGE }, 'EOVERFLOW'],
    ['length ULONG_MAX', { ioas_id: 99, flags: RW, length: U64_MAX }, 'EOVERFLOW'],
    ['neither R nor W', { ioas_id: 99, flags: F, length: PAGE }, 'EINVAL'],
    ['bad ioas', { ioas_id: 99, flags: RW, length: PAGE }, 'ENOENT'],
    ['length 0', { ioas_id: id, flags: RW, length: 0n, user_va: PAGE }, 'EINVAL'],
    ['uptr+length wraps', { ioas_id: id, flags: RW, length: 2n * PAGE, user_va: U64_MAX - PAGE }, 'EOVERFLOW'],
    ['fixed into a reserved range', { ioas_id: id, flags: RW | F, length: PAGE, iova: 0x20_0000n, user_va: PAGE }, 'EINVAL'],
    ['fixed over an area', { ioas_id: id, flags: RW | F, length: PAGE, iova: 0x10_0000n, user_va: PAGE }, 'EEXIST'],
  ];
  for (const [what, v, want] of cases) t.is(fd.io(I.IOMMU_IOAS_MAP, I.iommu_ioas_map, v).rc, want, what);
  // The selftest's area_auto_iova maps the unmapped address 1<<31: fine without a domain.
  const r = fd.io(I.IOMMU_IOAS_MAP, I.iommu_ioas_map, { ioas_id: id, flags: RW, length: PAGE, user_va: 1n << 31n });
  t.is(r.rc, 0);
  t.is(r.out.iova, PAGE, 'automatic placement starts after page 0');
  const one = fd.io(I.IOMMU_IOAS_MAP, I.iommu_ioas_map, { ioas_id: id, flags: RW | F, length: 1n, iova: 0x40_0001n, user_va: 1n << 31n });
  t.is(one.rc, 0, 'alignment 1 without a domain: a 1-byte map at an odd IOVA');
});

test('IOAS_UNMAP: ENOENT first for the IOAS; unmap-all of nothing is 0; nothing there is ENOENT; partial ENOENT', (t) => {
  const fd = new Fd();
  const id = fd.ioasAlloc();
  const unmap = (ioas_id: number, iova: bigint, length: bigint) => fd.io(I.IOMMU_IOAS_UNMAP, I.iommu_ioas_unmap, { ioas_id, iova, length });
  t.is(unmap(99, U64_MAX, U64_MAX).rc, 'ENOENT', 'the IOAS is looked up before the overflow check');
  t.is(unmap(id, 0n, U64_MAX).rc, 0);
  t.is(unmap(id, 0n, U64_MAX).out.length, 0n);
  t.is(unmap(id, 1n, U64_MAX).rc, 'EOVERFLOW');
  t.is(unmap(id, 0x10_0000n, PAGE).rc, 'ENOENT');
  t.is(unmap(id, 0x10_0000n, 0n).rc, 'EINVAL');
  fd.map(id, 2n * PAGE, 0x10_0000n);
  t.is(unmap(id, 0x10_0000n, PAGE).rc, 'ENOENT', 'cannot split an area');
  const all = unmap(id, 0n, U64_MAX);
  t.is(all.rc, 0);
  t.is(all.out.length, 2n * PAGE);
});

test('IOAS_ALLOW_IOVAS: __reserved, ENOENT, EFAULT, start >= last, overlap, EADDRINUSE; replaces the list', (t) => {
  const fd = new Fd();
  const id = fd.ioasAlloc();
  const arr = fd.mem.mmap(PAGE);
  const put = (...r: [bigint, bigint][]) => r.forEach(([s, l], i) => fd.mem.write(arr + BigInt(16 * i), encode(I.iommu_iova_range, { start: s, last: l })));
  const allow = (v: Input<typeof I.iommu_ioas_allow_iovas>) => fd.io(I.IOMMU_IOAS_ALLOW_IOVAS, I.iommu_ioas_allow_iovas, { ioas_id: id, allowed_iovas: arr, ...v }).rc;
  t.is(allow({ __reserved: 1 }), 'EOPNOTSUPP');
  t.is(allow({ ioas_id: 99 }), 'ENOENT');
  t.is(allow({ num_iovas: 1, allowed_iovas: 8n }), 'EFAULT');
  put([0x1000n, 0x1000n]);
  t.is(allow({ num_iovas: 1 }), 'EINVAL', 'start == last');
  put([0x1000n, 0x4fffn], [0x4000n, 0x8fffn]);
  t.is(allow({ num_iovas: 2 }), 'EINVAL', 'overlapping ranges');
  t.is(fd.addReserved(id, 0x8000n, 0x1000n), 0);
  const allowed = () => (fd.ictx.objects.get(id)!.impl as { iopt: { allowed: readonly unknown[] } }).iopt.allowed;
  put([0x1000n, 0x3fffn], [0x4000n, 0x8fffn]);
  t.is(allow({ num_iovas: 2 }), 'EADDRINUSE');
  t.deepEqual(allowed(), []);
  put([0x1000n, 0x3fffn], [0x4000n, 0x7fffn]);
  t.is(allow({ num_iovas: 2 }), 0);
  t.is(allowed().length, 2);
  t.is(fd.addReserved(id, 0x7000n, 0x2000n), 'EADDRINUSE', 'a reservation may not cover an allowed range');
  t.is(allow({ num_iovas: 0 }), 0);
  t.deepEqual(allowed(), [], 'num_iovas 0 clears');
});

test('IOAS_COPY: flags, overflow, R/W, source ENOENT, destination ENOENT; copies into another IOAS', (t) => {
  const fd = new Fd();
  const src = fd.ioasAlloc();
  const dst = fd.ioasAlloc();
  fd.map(src, 4n * PAGE, 0x10_0000n);
  const RW = I.IOMMU_IOAS_MAP_READABLE | I.IOMMU_IOAS_MAP_WRITEABLE;
  const copy = (v: Input<typeof I.iommu_ioas_copy>) => fd.io(I.IOMMU_IOAS_COPY, I.iommu_ioas_copy, { flags: RW, src_ioas_id: src, dst_ioas_id: dst, src_iova: 0x10_0000n, length: 4n * PAGE, ...v });
  t.is(copy({ flags: 16 | RW }).rc, 'EOPNOTSUPP');
  t.is(copy({ dst_iova: U64_MAX }).rc, 'EOVERFLOW');
  t.is(copy({ flags: 0 }).rc, 'EINVAL');
  t.is(copy({ src_ioas_id: 99 }).rc, 'ENOENT');
  t.is(copy({ src_iova: 0x20_0000n }).rc, 'ENOENT', 'nothing mapped at the source');
  t.is(copy({ dst_ioas_id: 99 }).rc, 'ENOENT');
  const r = copy({ src_iova: 0x10_1000n, length: 2n * PAGE });
  t.is(r.rc, 0);
  t.is(r.out.dst_iova, PAGE, 'placed by its source byte (user_va + 4 KiB is only 4 KiB-aligned), not by the 8 KiB length');
  const o = fd.ictx.objects.get(src)!.impl as { iopt: import('./io_pagetable').IoPagetable };
  t.is(o.iopt.areas[0]!.pages.refs, 2, 'the pages are shared, not pinned twice');
});

test('IOMMU_OPTION: RLIMIT_MODE (CAP_SYS_RESOURCE, EBUSY with objects) and HUGE_PAGES per IOAS; only val64 written back', (t) => {
  const fd = new Fd('6.12', user(1000));
  const opt = (v: Input<typeof I.iommu_option>) => fd.io(I.IOMMU_OPTION, I.iommu_option, v);
  const { OP_GET, OP_SET } = { OP_GET: I.IOMMU_OPTION_OP_GET, OP_SET: I.IOMMU_OPTION_OP_SET };
  t.is(opt({ option_id: I.IOMMU_OPTION_RLIMIT_MODE, op: OP_GET, __reserved: 1 }).rc, 'EOPNOTSUPP');
  t.is(opt({ option_id: 7, op: OP_GET }).rc, 'EOPNOTSUPP');
  t.is(opt({ option_id: I.IOMMU_OPTION_RLIMIT_MODE, op: OP_GET, object_id: 1 }).rc, 'EOPNOTSUPP');
  t.is(opt({ option_id: I.IOMMU_OPTION_RLIMIT_MODE, op: OP_SET, val64: 1n }).rc, 'EPERM');
  t.is(opt({ option_id: I.IOMMU_OPTION_RLIMIT_MODE, op: 5 }).rc, 'EOPNOTSUPP');
  const root = new Fd();
  const ropt = (v: Input<typeof I.iommu_option>) => root.io(I.IOMMU_OPTION, I.iommu_option, v);
  t.is(ropt({ option_id: I.IOMMU_OPTION_RLIMIT_MODE, op: OP_SET, val64: 2n }).rc, 'EINVAL');
  t.is(ropt({ option_id: I.IOMMU_OPTION_RLIMIT_MODE, op: OP_SET, val64: 1n }).rc, 0);
  const got = ropt({ option_id: I.IOMMU_OPTION_RLIMIT_MODE, op: OP_GET, object_id: 0, __reserved: 0 });
  t.is(got.out.val64, 1n);
  const id = root.ioasAlloc();
  t.is(ropt({ option_id: I.IOMMU_OPTION_RLIMIT_MODE, op: OP_SET, val64: 0n }).rc, 'EBUSY');
  t.is(ropt({ option_id: I.IOMMU_OPTION_HUGE_PAGES, op: OP_GET, object_id: 99 }).rc, 'ENOENT');
  const hp = ropt({ option_id: I.IOMMU_OPTION_HUGE_PAGES, op: OP_GET, object_id: id });
  t.is(hp.out.val64, 1n);
  t.is(ropt({ option_id: I.IOMMU_OPTION_HUGE_PAGES, op: OP_SET, object_id: id, val64: 2n }).rc, 'EINVAL');
  t.is(ropt({ option_id: I.IOMMU_OPTION_HUGE_PAGES, op: OP_SET, object_id: id, val64: 0n }).rc, 0);
  t.is(ropt({ option_id: I.IOMMU_OPTION_HUGE_PAGES, op: OP_GET, object_id: id }).out.val64, 0n);
  // only val64 is copied back: a GET leaves the rest of the struct as the caller wrote it
  const p = root.alloc(encode(I.iommu_option, { size: 24, option_id: I.IOMMU_OPTION_HUGE_PAGES, op: OP_GET, object_id: id }));
  root.mem.write(p, encode(I.iommu_option, { size: 24, option_id: 1, op: 1, object_id: id }));
  t.is(root.raw(I.IOMMU_OPTION, p), 0);
  t.is(decode(I.iommu_option, root.mem.read(p, 24)).option_id, 1);
});

test('IOMMU_VFIO_IOAS: GET without one ENODEV; SET (ENOENT for a bad id), GET, CLEAR; destroy clears it', (t) => {
  const fd = new Fd();
  const v = (x: Input<typeof I.iommu_vfio_ioas>) => fd.io(I.IOMMU_VFIO_IOAS, I.iommu_vfio_ioas, x);
  t.is(v({ op: I.IOMMU_VFIO_IOAS_GET, __reserved: 1 }).rc, 'EOPNOTSUPP');
  t.is(v({ op: I.IOMMU_VFIO_IOAS_GET }).rc, 'ENODEV');
  t.is(v({ op: 3 }).rc, 'EOPNOTSUPP');
  t.is(v({ op: I.IOMMU_VFIO_IOAS_SET, ioas_id: 5 }).rc, 'ENOENT');
  const id = fd.ioasAlloc();
  t.is(v({ op: I.IOMMU_VFIO_IOAS_SET, ioas_id: id }).rc, 0);
  t.is(v({ op: I.IOMMU_VFIO_IOAS_GET }).out.ioas_id, id);
  t.is(v({ op: I.IOMMU_VFIO_IOAS_CLEAR }).rc, 0);
  t.is(v({ op: I.IOMMU_VFIO_IOAS_GET }).rc, 'ENODEV');
  t.is(v({ op: I.IOMMU_VFIO_IOAS_SET, ioas_id: id }).rc, 0);
  t.is(fd.io(I.IOMMU_DESTROY, I.iommu_destroy, { id }).rc, 0);
  t.is(v({ op: I.IOMMU_VFIO_IOAS_GET }).rc, 'ENODEV');
});
