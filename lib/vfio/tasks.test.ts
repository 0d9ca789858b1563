// SPDX-License-Identifier: GPL-2.0-only
/**
 * VFIO across tasks: what real programs do with fork, dup and exit. An open file is released at
 * its last reference in any task, ioctls act for the calling task (its memory, its fds, its
 * credentials), and exit drops everything a task held.
 */
import test from 'ava';
import { decode, encode, findCap } from '../abi';
import { user } from '../cred';
import { ERRNO, Errno } from '../errno';
import type { Process } from '../fs/process';
import { FD_CLOEXEC, F_GETFD, O_RDWR } from '../uapi/fcntl';
import {
  VFIO_GROUP_GET_DEVICE_FD,
  VFIO_GROUP_GET_STATUS,
  VFIO_GROUP_FLAGS_CONTAINER_SET,
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_MAP_DMA,
  VFIO_SET_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
  vfio_group_status,
  vfio_iommu_type1_dma_map,
  vfio_iommu_type1_info,
  vfio_iommu_type1_info_dma_avail,
} from '../uapi';
import { rcCode, setContainerRaw, type1Fixture, unmapRaw } from '../testing/vfio';
import { createMachine } from '../machine';
import { putUser, s32 } from '../abi';
import { VFIO_GROUP_SET_CONTAINER } from '../uapi';

const E = (e: Errno) => -ERRNO[e][0];
const MiB = 1n << 20n;

function mapIn(p: Process, cfd: number, iova: bigint, vaddr: bigint, size = MiB): number {
  const a = p.mem.alloc(encode(vfio_iommu_type1_dma_map, { argsz: 32, flags: 3, vaddr, iova, size }));
  return p.sys.ioctl(cfd, VFIO_IOMMU_MAP_DMA, a);
}

/** GET_INFO's dma_avail capability, read through `p`. */
function dmaAvail(p: Process, cfd: number): number {
  const buf = new Uint8Array(4096);
  buf.set(encode(vfio_iommu_type1_info, { argsz: buf.length }));
  const a = p.mem.alloc(buf);
  if (p.sys.ioctl(cfd, VFIO_IOMMU_GET_INFO, a) !== 0) throw new Error('GET_INFO');
  const raw = p.mem.read(a, buf.length);
  const info = decode(vfio_iommu_type1_info, raw);
  const cap = findCap(raw, info.cap_offset, VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL);
  if (!cap) throw new Error('no DMA_AVAIL cap');
  return decode(vfio_iommu_type1_info_dma_avail, raw, cap.offset).avail;
}

function groupStatus(p: Process, gfd: number): number {
  const a = p.mem.alloc(encode(vfio_group_status, { argsz: 8, flags: 0 }));
  const rc = p.sys.ioctl(gfd, VFIO_GROUP_GET_STATUS, a);
  if (rc) return rc;
  return new DataView(p.mem.read(a, 8).buffer).getUint32(4, true);
}

test('a forked child maps through the inherited container fd: the same container, its own memory', (t) => {
  const f = type1Fixture();
  const parent = f.m.task();
  const before = dmaAvail(parent, f.cfd);
  const child = parent.fork();
  t.is(mapIn(child, f.cfd, 0x100000n, f.ram), 0, "the child's copy of the parent's mapping is pinned");
  t.is(dmaAvail(parent, f.cfd), before - 1, 'the parent sees the mapping the child made');
  t.is(child.mem.lockedVm, 256n, "pages are charged to the child's mm");
  t.is(parent.mem.lockedVm, 0n);
  t.is(mapIn(parent, f.cfd, 0x100000n, f.ram), E('EEXIST'), 'one container, one IOVA space');
  const un = unmapRaw(f.m, f.cfd, { iova: 0x100000n, size: MiB });
  t.is(un.rc, 0);
  t.is(un.size, MiB, 'the parent unmaps what the child mapped');
  t.is(child.mem.lockedVm, 0n, 'and the charge goes back to the mm that paid it');
});

test('memory is per task: the parent cannot map from an address only its child has mapped (EFAULT)', (t) => {
  const f = type1Fixture();
  const child = f.m.task().fork();
  const mine = child.mem.mmap(MiB);
  t.is(mapIn(child, f.cfd, 0x200000n, mine), 0);
  t.is(mapIn(f.m.task(), f.cfd, 0x400000n, mine), E('EFAULT'), "the parent has no mapping at the child's address");
});

test('a dup of the group fd keeps the group open and claimed until the last close', (t) => {
  const f = type1Fixture();
  const p = f.m.task();
  const dup = p.sys.dup(f.gfd);
  t.true(dup > f.gfd);
  t.is(p.sys.close(f.gfd), 0);
  t.is(p.sys.open(`/dev/vfio/${f.group.id}`, O_RDWR), E('EBUSY'), 'the group file is still open through the dup');
  t.truthy(f.group.owner, 'DMA ownership held');
  t.is(groupStatus(p, dup) & VFIO_GROUP_FLAGS_CONTAINER_SET, VFIO_GROUP_FLAGS_CONTAINER_SET);
  t.is(p.sys.close(dup), 0);
  t.is(f.group.owner, null, 'released at the last close');
  t.true(p.sys.open(`/dev/vfio/${f.group.id}`, O_RDWR) >= 0);
});

test('an fd inherited by fork keeps the group after the parent closes it; dup2 over it drops that reference', (t) => {
  const f = type1Fixture();
  const parent = f.m.task();
  const child = parent.fork();
  parent.sys.close(f.gfd);
  t.truthy(f.group.owner, 'the child holds the group');
  const other = child.sys.open('/sys/kernel/iommu_groups/2/reserved_regions');
  t.is(child.sys.dup2(other, f.gfd), f.gfd);
  t.is(f.group.owner, null, 'replacing the last reference releases the group');
});

test('exit releases the groups, containers and mappings a task held', (t) => {
  const m = createMachine('intel-vtd-server');
  const proc = m.task({ cred: m.cred });
  const cfd = proc.sys.open('/dev/vfio/vfio', O_RDWR);
  const gfd = proc.sys.open('/dev/vfio/7', O_RDWR);
  const p = proc.mem.alloc(new Uint8Array(4));
  putUser(proc.mem, s32, p, cfd);
  t.is(proc.sys.ioctl(gfd, VFIO_GROUP_SET_CONTAINER, p), 0);
  t.is(proc.sys.ioctl(cfd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), 0);
  const ram = proc.sys.mmap(8n * MiB);
  t.is(mapIn(proc, cfd, 0x1000000n, ram, 8n * MiB), 0);
  t.is(proc.mem.lockedVm, 2048n);
  const group = m.host.findGroup(7)!;
  t.truthy(group.owner);
  t.is(m.sys.open('/dev/vfio/7', O_RDWR), E('EBUSY'));
  proc.exit(0);
  t.is(group.owner, null, 'the group is released');
  t.is(group.ownerCnt, 0);
  t.is(proc.mem.lockedVm, 0n, 'the mappings are unpinned');
  t.is(proc.sys.open('/dev/vfio/vfio', O_RDWR), E('ESRCH'), 'an exited task makes no more calls');
  const gfd2 = m.sys.open('/dev/vfio/7', O_RDWR);
  t.true(gfd2 >= 0, 'another process can take the group');
  t.is(setContainerRaw(m, gfd2, m.sys.open('/dev/vfio/vfio', O_RDWR)), 0);
});

test('credentials are per task: a plain user cannot open a root-only group node another task can', (t) => {
  const m = createMachine('intel-vtd-server');
  const u = m.task({ cred: user(1000) });
  t.is(u.sys.open('/dev/vfio/7', O_RDWR), E('EACCES'));
  t.true(u.sys.open('/dev/vfio/vfio', O_RDWR) >= 0, '/dev/vfio/vfio is 0666');
  t.true(m.sys.open('/dev/vfio/7', O_RDWR) >= 0, 'the init task is root');
  t.is(rcCode(u.sys.open('/sys/bus/pci/drivers/vfio-pci/bind', 1)), 'EACCES');
});

test('a full fd table: opening a group is EMFILE and leaves the group free (the open never ran)', (t) => {
  const m = createMachine('intel-vtd-server');
  const p = m.task();
  p.task.rlim.nofile = 8;
  const fds: number[] = [];
  for (let i = 0; i < 5; i++) fds.push(p.sys.open('/sys/kernel/iommu_groups/2/reserved_regions'));
  t.deepEqual(fds, [3, 4, 5, 6, 7]);
  t.is(p.sys.open('/dev/vfio/7', O_RDWR), E('EMFILE'));
  p.sys.close(7);
  t.true(p.sys.open('/dev/vfio/7', O_RDWR) >= 0, 'not EBUSY: nothing was left half-open');
});

test('GET_DEVICE_FD with a full table is EMFILE and opens nothing', (t) => {
  const f = type1Fixture();
  const p = f.m.task();
  p.task.rlim.nofile = p.sys.fds.entries().at(-1)![0] + 1;
  const name = p.mem.alloc(new TextEncoder().encode('0000:02:00.0\0'));
  t.is(p.sys.ioctl(f.gfd, VFIO_GROUP_GET_DEVICE_FD, name), E('EMFILE'));
  p.task.rlim.nofile = 1024;
  const dfd = p.sys.ioctl(f.gfd, VFIO_GROUP_GET_DEVICE_FD, name);
  t.true(dfd >= 0, 'the device opens afterwards');
  t.is(p.sys.fcntl(dfd, F_GETFD), FD_CLOEXEC, 'device fds are close-on-exec (get_unused_fd_flags(O_CLOEXEC))');
});
