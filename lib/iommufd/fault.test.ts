// SPDX-License-Identifier: GPL-2.0-only
import test from 'ava';
import { decode, encode } from '../abi';
import { UserMemory } from '../mm/mm';
import { AnyErrno, isKernelError } from '../errno';
import * as I from '../uapi/iommufd';
import { IommufdFault, IopfGroup } from './fault';

const REC = I.iommu_hwpt_pgfault.size;
const RESP = I.iommu_hwpt_page_response.size;
const code = (fn: () => number): number | AnyErrno => {
  try {
    return fn();
  } catch (e) {
    if (isKernelError(e)) return e.code;
    throw e;
  }
};
const fault = (addr: bigint, grpid = 0) => ({ flags: I.IOMMU_PGFAULT_FLAGS_LAST_PAGE, pasid: 0, grpid, perm: I.IOMMU_PGFAULT_PERM_READ, addr });

test('read: whole groups as iommu_hwpt_pgfault records with cookies from 1; ESPIPE / EINVAL / EFAULT', (t) => {
  const mem = new UserMemory();
  const q = new IommufdFault();
  const answered: number[] = [];
  const group = (devId: number, n: number): IopfGroup => ({
    devId,
    faults: Array.from({ length: n }, (_, i) => fault(0x1000n * BigInt(i + 1), i)),
    respond: (c) => answered.push(c),
  });
  q.queue(group(2, 1));
  q.queue(group(2, 2));
  const buf = mem.mmap(4096);
  t.is(code(() => q.read(mem, buf, REC - 1)), 'ESPIPE');
  t.is(code(() => q.read(mem, buf, REC, 8)), 'ESPIPE');
  t.is(code(() => q.read(mem, 0n, REC)), 'EFAULT');
  t.is(q.pending, 2, 'the group went back');
  t.is(code(() => q.read(mem, buf, 2 * REC)), REC, 'the second group (2 records) does not fit after the first');
  const rec = decode(I.iommu_hwpt_pgfault, mem.read(buf, REC));
  t.like(rec, { dev_id: 2, addr: 0x1000n, cookie: 1, length: 0, perm: I.IOMMU_PGFAULT_PERM_READ });
  t.is(code(() => q.read(mem, buf, REC)), 'EINVAL', 'a first group bigger than the buffer');
  t.is(code(() => q.read(mem, buf, 4 * REC)), 2 * REC);
  t.is(decode(I.iommu_hwpt_pgfault, mem.read(buf + BigInt(REC), REC)).cookie, 2);
  t.is(q.read(mem, buf, REC), 0, 'nothing queued: 0');

  const w = mem.mmap(4096);
  mem.write(w, encode(I.iommu_hwpt_page_response, { cookie: 2, code: I.IOMMUFD_PAGE_RESP_SUCCESS }));
  mem.write(w + BigInt(RESP), encode(I.iommu_hwpt_page_response, { cookie: 9, code: 0 }));
  t.is(code(() => q.write(mem, w, RESP + 1)), 'ESPIPE');
  t.is(code(() => q.write(mem, w, 2 * RESP)), RESP, 'the unknown cookie stops the write after the first');
  t.deepEqual(answered, [I.IOMMUFD_PAGE_RESP_SUCCESS]);
  t.is(code(() => q.write(mem, w, RESP)), 'EINVAL', 'cookie 2 is answered already');
  mem.write(w, encode(I.iommu_hwpt_page_response, { cookie: 1, code: 2 }));
  t.is(code(() => q.write(mem, w, RESP)), 'EINVAL', 'response code neither SUCCESS nor INVALID');
  q.queue(group(3, 1));
  q.autoRespond(2);
  t.deepEqual(answered, [0, 1], 'detaching device 2 answers its read-but-unanswered group INVALID');
  t.is(q.pending, 1, "device 3's group stays");
  q.autoRespond();
  t.is(q.pending + q.awaitingResponse, 0);
});
