// SPDX-License-Identifier: GPL-2.0-only
import test from 'ava';
import { decode, encode } from '../abi';
import { AnyErrno, isKernelError } from '../errno';
import * as I from '../uapi/iommufd';
import * as T from '../uapi/iommufd_test';
import { SEEK_SET } from '../uapi/fcntl';
import { IommufdFd, selftestMachine } from '../testing/iommufd';
import { rcCode } from '../testing/vfio';
import { IommufdFault, IopfGroup } from './fault';
import type { IommufdCtx } from './main';

const REC = I.iommu_hwpt_pgfault.size;
const RESP = I.iommu_hwpt_page_response.size;
const code = <R>(fn: () => R): R | AnyErrno => {
  try {
    return fn();
  } catch (e) {
    if (isKernelError(e)) return e.code;
    throw e;
  }
};
const fault = (addr: bigint, grpid = 0) => ({ flags: I.IOMMU_PGFAULT_FLAGS_LAST_PAGE, pasid: 0, grpid, perm: I.IOMMU_PGFAULT_PERM_READ, addr });
/** A fault object outside any context (its fault-injection sites never fire). */
const queue = () => new IommufdFault({} as never, { faults: { shouldFail: () => false } } as unknown as IommufdCtx);

test('read: whole groups as iommu_hwpt_pgfault records with cookies from 1; ESPIPE / EINVAL', (t) => {
  const q = queue();
  const answered: number[] = [];
  const group = (devId: number, n: number): IopfGroup => ({
    devId,
    faults: Array.from({ length: n }, (_, i) => fault(0x1000n * BigInt(i + 1), i)),
    respond: (c) => answered.push(c),
  });
  q.queue(group(2, 1));
  q.queue(group(2, 2));
  t.is(code(() => q.read(REC - 1)), 'ESPIPE');
  t.is(code(() => q.read(REC, 8n)), 'ESPIPE');
  t.is(q.pending, 2);
  t.is(code(() => q.read(2 * REC).length), REC, 'the second group (2 records) does not fit after the first');
  t.is(code(() => q.read(REC)), 'EINVAL', 'a first group bigger than the buffer');
  const two = q.read(4 * REC);
  t.is(two.length, 2 * REC);
  t.is(decode(I.iommu_hwpt_pgfault, two, REC).cookie, 2);
  t.is(q.read(REC).length, 0, 'nothing queued: 0 bytes');

  const w = new Uint8Array(2 * RESP);
  encode(I.iommu_hwpt_page_response, { cookie: 2, code: I.IOMMUFD_PAGE_RESP_SUCCESS }, w, 0);
  encode(I.iommu_hwpt_page_response, { cookie: 9, code: 0 }, w, RESP);
  t.is(code(() => q.write(w.subarray(0, RESP + 1))), 'ESPIPE');
  t.is(code(() => q.write(w)), RESP, 'the unknown cookie stops the write after the first');
  t.deepEqual(answered, [I.IOMMUFD_PAGE_RESP_SUCCESS]);
  t.is(code(() => q.write(w.subarray(0, RESP))), 'EINVAL', 'cookie 2 is answered already');
  t.is(code(() => q.write(encode(I.iommu_hwpt_page_response, { cookie: 1, code: 2 }))), 'EINVAL', 'response code neither SUCCESS nor INVALID');
  q.queue(group(3, 1));
  q.autoRespond(2);
  t.deepEqual(answered, [0, 1], 'detaching device 2 answers its read-but-unanswered group INVALID');
  t.is(q.pending, 1, "device 3's group stays");
  q.autoRespond();
  t.is(q.pending + q.awaitingResponse, 0);
});

/** A mock device on a nested HWPT whose faults go to a fault queue; the queue's fd. */
function faultSetup() {
  const m = selftestMachine();
  const fd = IommufdFd.open(m);
  const ioas = fd.ioasAlloc();
  const md = fd.mockDomain(ioas);
  const parent = fd.io(I.IOMMU_HWPT_ALLOC, I.iommu_hwpt_alloc, { dev_id: md.idev, pt_id: ioas, flags: I.IOMMU_HWPT_ALLOC_NEST_PARENT });
  const q = fd.io(I.IOMMU_FAULT_QUEUE_ALLOC, I.iommu_fault_alloc, {});
  const data = fd.alloc(encode(T.iommu_hwpt_selftest, { iotlb: T.IOMMU_TEST_IOTLB_DEFAULT }));
  const nested = fd.io(I.IOMMU_HWPT_ALLOC, I.iommu_hwpt_alloc, {
    dev_id: md.idev,
    pt_id: parent.out.out_hwpt_id,
    flags: I.IOMMU_HWPT_FAULT_ID_VALID,
    data_type: T.IOMMU_HWPT_DATA_SELFTEST,
    data_len: 4,
    data_uptr: data,
    fault_id: q.out.out_fault_id,
  });
  const trigger = (addr: bigint) =>
    fd.test(T.IOMMU_TEST_OP_TRIGGER_IOPF, 0, { trigger_iopf: { dev_id: md.idev, pasid: 0x1, grpid: 0x2, perm: I.IOMMU_PGFAULT_PERM_READ | I.IOMMU_PGFAULT_PERM_WRITE, addr } }).rc;
  return { m, fd, ioas, md, parent, q, nested, trigger, qfd: q.out.out_fault_fd };
}

test('a fault queue fd: FAULT_QUEUE_ALLOC, a nested HWPT reporting to it, TRIGGER_IOPF, read the record, write the response', (t) => {
  const s = faultSetup();
  const { m, fd } = s;
  t.is(s.parent.rc, 0);
  t.is(s.q.rc, 0);
  t.true(s.qfd > fd.fd, 'a new fd');
  t.is(m.sys.fcntl(s.qfd, 1 /* F_GETFD */), 1, 'O_CLOEXEC');
  t.is(s.nested.rc, 0);
  t.is(fd.test(T.IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, s.md.stdev, { mock_domain_replace: { pt_id: s.nested.out.out_hwpt_id } }).rc, 0);
  t.is(s.trigger(0xdeadbeef000n), 0);
  const buf = new Uint8Array(4 * REC);
  t.is(rcCode(m.sys.pread(s.qfd, buf, 0)), 'ESPIPE', 'not seekable');
  t.is(rcCode(m.sys.lseek(s.qfd, 0, SEEK_SET)), 'ESPIPE');
  t.is(m.sys.read(s.qfd, buf.subarray(0, REC + 1)), -29, 'ESPIPE: not a multiple of the record');
  t.is(m.sys.read(s.qfd, buf), REC);
  const rec = decode(I.iommu_hwpt_pgfault, buf);
  t.like(rec, {
    dev_id: s.md.idev,
    pasid: 1,
    grpid: 2,
    addr: 0xdeadbeef000n,
    cookie: 1,
    flags: I.IOMMU_PGFAULT_FLAGS_LAST_PAGE | I.IOMMU_PGFAULT_FLAGS_PASID_VALID,
    perm: I.IOMMU_PGFAULT_PERM_READ | I.IOMMU_PGFAULT_PERM_WRITE,
  });
  t.is(m.sys.read(s.qfd, buf), 0, 'nothing more; the position stays 0 (a second read is no ESPIPE)');
  t.is(m.sys.write(s.qfd, encode(I.iommu_hwpt_page_response, { cookie: 1, code: I.IOMMUFD_PAGE_RESP_SUCCESS })), RESP);
  t.is(rcCode(m.sys.write(s.qfd, encode(I.iommu_hwpt_page_response, { cookie: 1, code: 0 }))), 'EINVAL', 'answered already');
  t.is(fd.destroy(s.q.out.out_fault_id), 'EBUSY', 'the nested HWPT and the fd hold the fault object');
});

test('faults wait for a reader; detaching answers them; the fd and the HWPT keep the object and the context', (t) => {
  const s = faultSetup();
  const { m, fd } = s;
  fd.test(T.IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, s.md.stdev, { mock_domain_replace: { pt_id: s.nested.out.out_hwpt_id } });
  t.is(s.trigger(0x1000n), 0);
  t.is(s.trigger(0x2000n), 0);
  const ictx = fd.ictx;
  const fault = ictx.objects.get(s.q.out.out_fault_id)!.impl as IommufdFault;
  t.is(fault.pending, 2);
  const buf = new Uint8Array(REC);
  t.is(m.sys.read(s.qfd, buf), REC, 'one group per read of one record');
  t.is(fault.awaitingResponse, 1);
  t.is(fd.test(T.IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, s.md.stdev, { mock_domain_replace: { pt_id: s.md.hwpt } }).rc, 'ENOENT', 'the automatic HWPT went when the device left it');
  t.is(fd.test(T.IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, s.md.stdev, { mock_domain_replace: { pt_id: s.parent.out.out_hwpt_id } }).rc, 0);
  t.is(fault.pending + fault.awaitingResponse, 0, 'moving off the fault-capable HWPT answered both INVALID');
  fd.close();
  t.true(ictx.objects.size > 0, 'the fault fd keeps the context alive');
  t.is(m.sys.close(s.qfd), 0);
  t.is(ictx.objects.size, 0, 'the last reference went with the fault fd');
});

test('FAULT_QUEUE_ALLOC: flags EOPNOTSUPP; a full fd table EMFILE and no object left; HWPT_ALLOC with a bad fault id ENOENT', (t) => {
  const s = faultSetup();
  const { m, fd } = s;
  t.is(fd.io(I.IOMMU_FAULT_QUEUE_ALLOC, I.iommu_fault_alloc, { flags: 1 }).rc, 'EOPNOTSUPP');
  const before = fd.ictx.objects.size;
  const p = m.task();
  const lim = p.task.rlim.nofile;
  p.task.rlim.nofile = m.sys.fds.entries().at(-1)![0] + 1;
  t.is(fd.io(I.IOMMU_FAULT_QUEUE_ALLOC, I.iommu_fault_alloc, {}).rc, 'EMFILE');
  p.task.rlim.nofile = lim;
  t.is(fd.ictx.objects.size, before, 'nothing left behind');
  const data = fd.alloc(encode(T.iommu_hwpt_selftest, { iotlb: 0 }));
  const bad = fd.io(I.IOMMU_HWPT_ALLOC, I.iommu_hwpt_alloc, {
    dev_id: s.md.idev,
    pt_id: s.parent.out.out_hwpt_id,
    flags: I.IOMMU_HWPT_FAULT_ID_VALID,
    data_type: T.IOMMU_HWPT_DATA_SELFTEST,
    data_len: 4,
    data_uptr: data,
    fault_id: 99,
  });
  t.is(bad.rc, 'ENOENT');
  t.is(fd.ictx.objects.size, before);
});
