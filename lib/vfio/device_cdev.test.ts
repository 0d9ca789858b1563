// SPDX-License-Identifier: GPL-2.0-only
import test from 'ava';
import { decode, encode } from '../abi';
import { ERRNO, Errno } from '../errno';
import { O_RDWR } from '../uapi/fcntl';
import { Machine, createMachine } from '../machine';
import { ResvType } from '../model/resv_region';
import {
  VFIO_DEVICE_ATTACH_IOMMUFD_PT,
  VFIO_DEVICE_BIND_IOMMUFD,
  VFIO_DEVICE_DETACH_IOMMUFD_PT,
  VFIO_DEVICE_GET_INFO,
  vfio_device_attach_iommufd_pt,
  vfio_device_bind_iommufd,
  vfio_device_info,
} from '../uapi';
import * as I from '../uapi/iommufd';
import { IommufdFd } from '../testing/iommufd';
import { iommufdMachine, rcCode } from '../testing/vfio';

const E = (e: Errno) => -ERRNO[e][0];
const NVME = '0000:02:00.0';
const MSI = 0xfee0_0000n;
const MiB = 1n << 20n;

test('the device cdev exists with CONFIG_VFIO_DEVICE_CDEV (which needs iommufd), beside sysfs vfio-dev', (t) => {
  const m = iommufdMachine();
  t.true(m.fs.existsSync(`/sys/bus/pci/devices/${NVME}/vfio-dev/vfio0`));
  const st = m.fs.statSync('/dev/vfio/devices/vfio0');
  t.true(st.isCharacterDevice());
  t.is(Number(st.mode) & 0o777, 0o600);
  t.is(Number(st.rdev) >> 8, 511);
  t.false(iommufdMachine('intel-vtd-server', { kernel: '6.1' }).fs.existsSync('/dev/vfio/devices'), 'no cdev before 6.6');
  const plain = createMachine('intel-vtd-server');
  t.false(plain.fs.existsSync('/dev/vfio/devices'), 'a kernel without CONFIG_IOMMUFD has no cdev (Debian 6.12)');
  t.true(plain.fs.existsSync(`/sys/bus/pci/devices/${NVME}/vfio-dev/vfio0`), 'the vfio-dev class device is there all the same');
  t.false(iommufdMachine('intel-vtd-server', { kconfig: { CONFIG_VFIO_DEVICE_CDEV: false } }).fs.existsSync('/dev/vfio/devices'));
  m.fs.writeFileSync('/sys/bus/pci/drivers/vfio-pci/unbind', NVME);
  t.false(m.fs.existsSync('/dev/vfio/devices/vfio0'));
});

const bindArg = (m: Machine, over: Partial<{ argsz: number; flags: number; iommufd: number }>) =>
  m.mem.alloc(encode(vfio_device_bind_iommufd, { argsz: 24, flags: 0, iommufd: 3, ...over }));

const cases: [string, (m: Machine, fd: number) => number, Errno][] = [
  ['any ioctl before BIND_IOMMUFD', (m, fd) => m.sys.ioctl(fd, VFIO_DEVICE_GET_INFO, m.mem.alloc(24)), 'EINVAL'],
  ['read before BIND_IOMMUFD', (m, fd) => m.sys.pread(fd, new Uint8Array(4), 0), 'EINVAL'],
  ['BIND_IOMMUFD: arg not mapped', (m, fd) => m.sys.ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, 0n), 'EFAULT'],
  ['BIND_IOMMUFD: argsz below minsz', (m, fd) => m.sys.ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, bindArg(m, { argsz: 8 })), 'EINVAL'],
  ['BIND_IOMMUFD: unknown flag', (m, fd) => m.sys.ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, bindArg(m, { flags: 2 })), 'EINVAL'],
  ['BIND_IOMMUFD: negative iommufd', (m, fd) => m.sys.ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, bindArg(m, { iommufd: -1 })), 'EINVAL'],
  ['BIND_IOMMUFD: while the legacy group is open', (m, fd) => (m.sys.open('/dev/vfio/7', O_RDWR), m.sys.ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, bindArg(m, {}))), 'EBUSY'],
  ['BIND_IOMMUFD: an fd that is not open', (m, fd) => m.sys.ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, bindArg(m, { iommufd: 77 })), 'EBADF'],
  ['BIND_IOMMUFD: an open fd that is not an iommufd', (m, fd) => m.sys.ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, bindArg(m, { iommufd: fd })), 'EBADFD'],
];
const withTail = (m: Machine, over: Partial<{ flags: number; iommufd: number; token_uuid_ptr: bigint }>, tail: number[]) => {
  const head = encode(vfio_device_bind_iommufd, { argsz: 24 + tail.length, flags: 0, iommufd: 3, ...over });
  return m.mem.alloc(Uint8Array.from([...head, ...tail]));
};
const TOKEN = 1;
type Case = (typeof cases)[number];
const on = (kernel: string, c: Case) => ({ kernel, c });
const kernelCases = [
  on('latest', ['BIND_IOMMUFD: FLAG_TOKEN with the token unreadable', (m, fd) => m.sys.ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, withTail(m, { flags: TOKEN, token_uuid_ptr: 0n }, [])), 'EFAULT']),
  on('latest', ['BIND_IOMMUFD: FLAG_TOKEN on a device that is neither PF nor VF', (m, fd) => m.sys.ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, withTail(m, { flags: TOKEN, token_uuid_ptr: m.mem.alloc(16) }, [])), 'EINVAL']),
  on('latest', ['BIND_IOMMUFD: non-zero bytes past the struct', (m, fd) => m.sys.ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, withTail(m, {}, [0, 0, 0, 1])), 'E2BIG']),
  on('latest', ['BIND_IOMMUFD: zero bytes past the struct', (m, fd) => m.sys.ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, withTail(m, { iommufd: fd }, [0, 0, 0, 0])), 'EBADFD']),
  // 86624ba3b522 (v6.17) read the struct with ksize = minsz; 2f03f21fe751 (v6.19) fixed it
  on('6.17', ['BIND_IOMMUFD 6.17: FLAG_TOKEN with a token pointer in a full struct is E2BIG (ksize was minsz)', (m, fd) => m.sys.ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, withTail(m, { flags: TOKEN, token_uuid_ptr: m.mem.alloc(16) }, [])), 'E2BIG']),
  on('6.18', ['BIND_IOMMUFD 6.18: FLAG_TOKEN with a token pointer in a full struct is E2BIG (ksize was minsz)', (m, fd) => m.sys.ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, withTail(m, { flags: TOKEN, token_uuid_ptr: m.mem.alloc(16) }, [])), 'E2BIG']),
  on('6.18', ['BIND_IOMMUFD 6.18: a zero token pointer passes the copy, then the token read faults', (m, fd) => m.sys.ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, withTail(m, { flags: TOKEN, token_uuid_ptr: 0n }, [])), 'EFAULT']),
  on('6.18.3', ['BIND_IOMMUFD 6.18.3: the fix is in stable: the token pointer is read (neither PF nor VF)', (m, fd) => m.sys.ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, withTail(m, { flags: TOKEN, token_uuid_ptr: m.mem.alloc(16) }, [])), 'EINVAL']),
  on('6.19', ['BIND_IOMMUFD 6.19: the token pointer is read (neither PF nor VF)', (m, fd) => m.sys.ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, withTail(m, { flags: TOKEN, token_uuid_ptr: m.mem.alloc(16) }, [])), 'EINVAL']),
  on('6.16', ['BIND_IOMMUFD before the token patch: FLAG_TOKEN is an unknown flag', (m, fd) => m.sys.ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, withTail(m, { flags: TOKEN, token_uuid_ptr: m.mem.alloc(16) }, [])), 'EINVAL']),
  on('6.16', ['BIND_IOMMUFD before the token patch: the tail is not read', (m, fd) => m.sys.ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, withTail(m, { iommufd: fd, token_uuid_ptr: 1n }, [0, 0, 0, 1])), 'EBADFD']),
];
for (const [name, run, code] of cases) {
  test(`vfio device cdev: ${name} → ${code}`, (t) => {
    const m = iommufdMachine();
    const fd = m.sys.open('/dev/vfio/devices/vfio0', O_RDWR);
    t.true(fd >= 0);
    t.is(run(m, fd), E(code));
  });
}
for (const { kernel, c } of kernelCases) {
  const [name, run, code] = c;
  test(`vfio device cdev [${kernel}]: ${name} → ${code}`, (t) => {
    const m = iommufdMachine('intel-vtd-server', { kernel });
    const fd = m.sys.open('/dev/vfio/devices/vfio0', O_RDWR);
    t.true(fd >= 0);
    t.is(run(m, fd), E(code));
  });
}

/** /dev/iommu and the NVMe's cdev, bound. */
function bound(kernel = '6.12') {
  const m = iommufdMachine('intel-vtd-server', { kernel });
  const io = IommufdFd.open(m);
  const cdev = m.sys.open('/dev/vfio/devices/vfio0', O_RDWR);
  const b = m.mem.alloc(encode(vfio_device_bind_iommufd, { argsz: 16, iommufd: io.fd }).subarray(0, 16));
  const rc = m.sys.ioctl(cdev, VFIO_DEVICE_BIND_IOMMUFD, b);
  const devid = new DataView(m.mem.read(b, 16).buffer).getUint32(12, true);
  const attach = (pt: number, argsz = 12, flags = 0) => {
    const p = m.mem.alloc(encode(vfio_device_attach_iommufd_pt, { argsz, flags, pt_id: pt }).subarray(0, Math.max(argsz, 12)));
    const r = m.sys.ioctl(cdev, VFIO_DEVICE_ATTACH_IOMMUFD_PT, p);
    return { rc: rcCode(r), pt: new DataView(m.mem.read(p, 12).buffer).getUint32(8, true) };
  };
  const detach = (argsz = 8, flags = 0) => rcCode(m.sys.ioctl(cdev, VFIO_DEVICE_DETACH_IOMMUFD_PT, m.mem.alloc(Uint8Array.of(argsz, 0, 0, 0, flags, 0, 0, 0))));
  return { m, io, cdev, rc, devid, attach, detach, group: m.host.findDevice(NVME)!.group! };
}

test('BIND_IOMMUFD binds: out_devid is the iommufd device, the group is the context\'s, the fd reaches the driver; twice is EINVAL', (t) => {
  const s = bound();
  t.is(s.rc, 0);
  t.is(s.devid, 1, 'the first object of the context');
  t.is(s.group.owner, s.io.ictx, 'the iommufd owns the group DMA');
  const info = s.m.mem.alloc(encode(vfio_device_info, { argsz: vfio_device_info.size }));
  t.is(s.m.sys.ioctl(s.cdev, VFIO_DEVICE_GET_INFO, info), 0);
  t.true(decode(vfio_device_info, s.m.mem.read(info, vfio_device_info.size)).num_regions > 0);
  const again = s.m.mem.alloc(encode(vfio_device_bind_iommufd, { argsz: 16, iommufd: s.io.fd }).subarray(0, 16));
  t.is(rcCode(s.m.sys.ioctl(s.cdev, VFIO_DEVICE_BIND_IOMMUFD, again)), 'EINVAL');
  const other = s.m.sys.open('/dev/vfio/devices/vfio0', O_RDWR);
  t.is(rcCode(s.m.sys.ioctl(other, VFIO_DEVICE_BIND_IOMMUFD, again)), 'EINVAL', 'a second cdev fd cannot open the device again');
  t.is(s.io.destroy(s.devid), 'EBUSY', 'the VFIO device holds its iommufd device');
});

test('the cdev and the legacy group exclude each other; closing the cdev gives the group back', (t) => {
  const s = bound();
  t.is(rcCode(s.m.sys.open('/dev/vfio/7', O_RDWR)), 'EBUSY');
  const ictx = s.io.ictx;
  s.io.close();
  t.is(s.group.owner, ictx, 'the bound device keeps the context alive');
  t.false(ictx.file!.released);
  t.is(s.m.sys.close(s.cdev), 0);
  t.is(s.group.owner, null, 'DMA ownership given back');
  const g = s.m.sys.open('/dev/vfio/7', O_RDWR);
  t.true(g >= 0);
});

test('ATTACH_IOMMUFD_PT: the IOAS gets the device\'s reserved regions (the IOMMU core\'s usable IOVA), pt_id comes back as the HWPT', (t) => {
  const s = bound();
  const ioas = s.io.ioasAlloc();
  t.deepEqual(s.attach(ioas, 11), { rc: 'EINVAL', pt: ioas }, 'argsz below pt_id: nothing written back');
  t.is(s.attach(ioas, 12, 1).rc, 'EINVAL', 'any flag');
  t.is(s.attach(99).rc, 'ENOENT');
  const a = s.attach(ioas);
  t.is(a.rc, 0);
  t.true(a.pt !== ioas, 'an automatic HWPT');
  const r = s.io.iovaRanges(ioas);
  t.deepEqual(r.ranges, s.m.host.groupUsableIova(s.group), 'exactly what the IOMMU core computes');
  t.is(r.alignment, 4096n, 'the VT-d domain\'s smallest page');
  t.is(s.io.map(ioas, 4096n, MSI).rc, 'EINVAL', 'a fixed map into the MSI window');
  t.is(s.io.map(ioas, 4096n, MSI - 4096n).rc, 0);
  t.is(s.detach(7), 'EINVAL');
  t.is(s.detach(8, 1), 'EINVAL');
  t.is(s.detach(), 0);
  t.deepEqual(s.io.iovaRanges(ioas).ranges, [{ start: 0n, last: (1n << 64n) - 1n }], 'detaching removes the reservations');
  t.is(s.io.destroy(a.pt), 'ENOENT', 'the automatic HWPT went with the device');
  t.is(s.detach(), 0, 'detaching a detached device is fine');
});

test('ATTACH_IOMMUFD_PT with guest RAM over the MSI window, or an allowed range over it → EADDRINUSE, nothing changed', (t) => {
  const s = bound();
  const ioas = s.io.ioasAlloc();
  const ram = s.m.sys.mmap(64n * MiB);
  t.is(s.io.map(ioas, 64n * MiB, MSI - 32n * MiB, undefined, ram).rc, 0);
  t.is(s.attach(ioas).rc, 'EADDRINUSE');
  t.is(s.group.domain?.type, 'blocked', 'still blocked');
  t.is(s.io.unmap(ioas, MSI - 32n * MiB, 64n * MiB).rc, 0);
  const arr = s.io.alloc(encode(I.iommu_iova_range, { start: MSI - MiB, last: MSI + MiB }));
  t.is(s.io.io(I.IOMMU_IOAS_ALLOW_IOVAS, I.iommu_ioas_allow_iovas, { ioas_id: ioas, num_iovas: 1, allowed_iovas: arr }).rc, 0);
  t.is(s.attach(ioas).rc, 'EADDRINUSE', 'the reservation would narrow the allowed IOVA');
  t.is(s.io.io(I.IOMMU_IOAS_ALLOW_IOVAS, I.iommu_ioas_allow_iovas, { ioas_id: ioas, num_iovas: 0, allowed_iovas: 0n }).rc, 0);
  t.is(s.attach(ioas).rc, 0);
  const msi = s.m.host.groupResvRegions(s.group).find((r) => r.type === ResvType.MSI)!;
  t.is(msi.start, MSI);
});

test('ATTACH again replaces: a manual HWPT, then another IOAS; the old automatic HWPT goes', (t) => {
  const s = bound();
  const a1 = s.io.ioasAlloc();
  const a2 = s.io.ioasAlloc();
  const first = s.attach(a1);
  t.is(first.rc, 0);
  const manual = s.io.io(I.IOMMU_HWPT_ALLOC, I.iommu_hwpt_alloc, { dev_id: s.devid, pt_id: a2 });
  t.is(manual.rc, 0);
  t.is(s.attach(manual.out.out_hwpt_id).rc, 0);
  t.is(s.io.destroy(first.pt), 'ENOENT', 'replacing dropped the automatic HWPT');
  t.deepEqual(s.io.iovaRanges(a1).ranges, [{ start: 0n, last: (1n << 64n) - 1n }], 'the old IOAS lost the reservations');
  t.is(s.io.iovaRanges(a2).num, 2);
  t.is(s.io.destroy(manual.out.out_hwpt_id), 'EBUSY', 'attached');
  t.is(s.detach(), 0);
  t.is(s.io.destroy(manual.out.out_hwpt_id), 0, 'a manual HWPT outlives its last device until destroyed');
});
