// SPDX-License-Identifier: GPL-2.0-only
import test from 'ava';
import { encode } from '../abi';
import { ERRNO, Errno } from '../errno';
import { O_RDWR } from '../uapi/fcntl';
import { createMachine } from '../machine';
import { VFIO_DEVICE_BIND_IOMMUFD, VFIO_DEVICE_GET_INFO, vfio_device_bind_iommufd } from '../uapi';

const E = (e: Errno) => -ERRNO[e][0];
const NVME = '0000:02:00.0';

test('the device cdev exists beside sysfs vfio-dev on kernels that have it', (t) => {
  const m = createMachine('intel-vtd-server');
  t.true(m.fs.existsSync(`/sys/bus/pci/devices/${NVME}/vfio-dev/vfio0`));
  const st = m.fs.statSync('/dev/vfio/devices/vfio0');
  t.true(st.isCharacterDevice());
  t.is(Number(st.mode) & 0o777, 0o600);
  t.is(Number(st.rdev) >> 8, 511);
  t.false(createMachine('intel-vtd-server', { kernel: '6.1' }).fs.existsSync('/dev/vfio/devices'));
  m.fs.writeFileSync('/sys/bus/pci/drivers/vfio-pci/unbind', NVME);
  t.false(m.fs.existsSync('/dev/vfio/devices/vfio0'));
});

const bind = (m: ReturnType<typeof createMachine>, over: Partial<{ argsz: number; flags: number; iommufd: number }>) =>
  m.mem.alloc(encode(vfio_device_bind_iommufd, { argsz: 24, flags: 0, iommufd: 3, ...over }));

const cases: [string, (m: ReturnType<typeof createMachine>, fd: number) => number, Errno][] = [
  ['any ioctl before BIND_IOMMUFD', (m, fd) => m.sys.ioctl(fd, VFIO_DEVICE_GET_INFO, m.mem.alloc(24)), 'EINVAL'],
  ['BIND_IOMMUFD: arg not mapped', (m, fd) => m.sys.ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, 0n), 'EFAULT'],
  ['BIND_IOMMUFD: argsz below minsz', (m, fd) => m.sys.ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, bind(m, { argsz: 8 })), 'EINVAL'],
  ['BIND_IOMMUFD: unknown flag', (m, fd) => m.sys.ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, bind(m, { flags: 2 })), 'EINVAL'],
  ['BIND_IOMMUFD: negative iommufd', (m, fd) => m.sys.ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, bind(m, { iommufd: -1 })), 'EINVAL'],
  ['BIND_IOMMUFD: while the legacy group is open', (m, fd) => (m.sys.open('/dev/vfio/7', O_RDWR), m.sys.ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, bind(m, {}))), 'EBUSY'],
  ['BIND_IOMMUFD: an fd that is not open', (m, fd) => m.sys.ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, bind(m, { iommufd: 77 })), 'EBADF'],
  ['BIND_IOMMUFD: an open fd that is not an iommufd', (m, fd) => m.sys.ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, bind(m, { iommufd: fd })), 'EBADFD'],
];
const withTail = (m: ReturnType<typeof createMachine>, over: Partial<{ flags: number; iommufd: number; token_uuid_ptr: bigint }>, tail: number[]) => {
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
    const m = createMachine('intel-vtd-server');
    const fd = m.sys.open('/dev/vfio/devices/vfio0', O_RDWR);
    t.true(fd >= 0);
    t.is(run(m, fd), E(code));
  });
}

for (const { kernel, c } of kernelCases) {
  const [name, run, code] = c;
  test(`vfio device cdev [${kernel}]: ${name} → ${code}`, (t) => {
    const m = createMachine('intel-vtd-server', { kernel });
    const fd = m.sys.open('/dev/vfio/devices/vfio0', O_RDWR);
    t.true(fd >= 0);
    t.is(run(m, fd), E(code));
  });
}
