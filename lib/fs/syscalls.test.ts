// SPDX-License-Identifier: GPL-2.0-only
/** The syscall boundary: return values and errno as a C program sees them. */
import test from 'ava';
import { ERRNO, Errno } from '../errno';
import { createMachine } from '../machine';
import { O_RDONLY, O_RDWR, O_WRONLY, SEEK_SET } from '../uapi/fcntl';

const E = (e: Errno) => -ERRNO[e][0];
const RR = '/sys/kernel/iommu_groups/2/reserved_regions';

test('open/read/close of a sysfs file; fds are the lowest free from 3', (t) => {
  const m = createMachine('intel-vtd-server');
  const fd = m.sys.open(RR);
  t.is(fd, 3);
  t.is(m.sys.open(RR), 4);
  t.is(m.sys.close(3), 0);
  t.is(m.sys.open(RR), 3);
  const buf = new Uint8Array(4096);
  const n = m.sys.read(3, buf);
  t.is(Buffer.from(buf.subarray(0, n)).toString(), '0x000000007b800000 0x000000007fffffff direct-relaxable\n0x00000000fee00000 0x00000000feefffff msi\n');
  t.is(m.sys.read(3, buf), 0);
});

const errnoCases: [string, (m: ReturnType<typeof createMachine>) => number, Errno][] = [
  ['open of a missing path', (m) => m.sys.open('/sys/kernel/iommu_groups/99/type'), 'ENOENT'],
  ['open through a file', (m) => m.sys.open(`${RR}/x`), 'ENOTDIR'],
  ['open of a directory for writing', (m) => m.sys.open('/sys/kernel', O_WRONLY), 'EISDIR'],
  ['open for writing of a read-only attribute', (m) => m.sys.open(RR, O_RDWR), 'EACCES'],
  ['open for reading of a write-only attribute', (m) => m.sys.open('/sys/bus/pci/drivers/vfio-pci/bind', O_RDONLY), 'EACCES'],
  ['read of a closed fd', (m) => m.sys.read(42, new Uint8Array(1)), 'EBADF'],
  ['close of a closed fd', (m) => m.sys.close(42), 'EBADF'],
  ['write to an fd opened read-only', (m) => m.sys.write(m.sys.open('/sys/bus/pci/devices/0000:01:00.0/driver_override'), 'x'), 'EBADF'],
  ['read from an fd opened write-only', (m) => m.sys.read(m.sys.open('/sys/bus/pci/devices/0000:01:00.0/driver_override', O_WRONLY), new Uint8Array(4)), 'EBADF'],
  ['ioctl on a sysfs file', (m) => m.sys.ioctl(m.sys.open(RR), 0x3b64, 0n), 'ENOTTY'],
  ['ioctl on a bad fd', (m) => m.sys.ioctl(99, 0x3b64, 0n), 'EBADF'],
  ['lseek with a bad whence', (m) => m.sys.lseek(m.sys.open(RR), 0, 7), 'EINVAL'],
  ['lseek before the start', (m) => m.sys.lseek(m.sys.open(RR), -1, SEEK_SET), 'EINVAL'],
  ['munmap of an unaligned address', (m) => m.sys.munmap(0x1001n, 4096), 'EINVAL'],
];
for (const [name, run, code] of errnoCases) {
  test(`errno: ${name} → ${code}`, (t) => {
    const m = createMachine('intel-vtd-server');
    t.is(run(m), E(code));
    // The boundary keeps the error with its context; ENOIOCTLCMD inside is ENOTTY outside.
    t.true(m.sys.lastError?.code === code || (code === 'ENOTTY' && m.sys.lastError?.code === 'ENOIOCTLCMD'));
    t.truthy(m.sys.lastError?.context.syscall);
  });
}

test('seq_file semantics: show() runs at offset 0 and the rest of a read sequence sees that snapshot', (t) => {
  const m = createMachine('intel-vtd-server');
  const p = '/sys/bus/pci/devices/0000:01:00.0/driver_override';
  const fd = m.sys.open(p);
  const b = new Uint8Array(3);
  t.is(m.sys.read(fd, b), 3);
  t.is(Buffer.from(b).toString(), '(nu');
  m.fs.writeFileSync(p, 'vfio-pci');
  t.is(m.sys.read(fd, b), 3);
  t.is(Buffer.from(b).toString(), 'll)');
  t.is(m.sys.lseek(fd, 0, SEEK_SET), 0);
  const all = new Uint8Array(64);
  t.is(m.sys.read(fd, all), 9);
  t.is(Buffer.from(all.subarray(0, 9)).toString(), 'vfio-pci\n');
  t.is(m.sys.pread(fd, all, 5), 4);
});

test('every write(2) to a text attribute reaches store(), whatever the position; empty writes do not', (t) => {
  const m = createMachine('intel-vtd-server');
  const p = '/sys/bus/pci/devices/0000:01:00.0/driver_override';
  const fd = m.sys.open(p, O_WRONLY);
  t.is(m.sys.write(fd, 'pci-stub\n'), 9);
  t.is(m.sys.write(fd, 'vfio-pci\n'), 9);
  t.is(m.fs.readFileSync(p, 'utf8'), 'vfio-pci\n');
  t.is(m.sys.pwrite(fd, 'pci-stub', 100), 8);
  t.is(m.fs.readFileSync(p, 'utf8'), 'pci-stub\n');
  t.is(m.sys.write(fd, ''), 0);
  t.is(m.fs.readFileSync(p, 'utf8'), 'pci-stub\n', 'a zero-length write does not clear the override');
});

test('a text attribute store sees at most PAGE_SIZE bytes of one write', (t) => {
  const m = createMachine('intel-vtd-server');
  const fd = m.sys.open('/sys/bus/pci/devices/0000:01:00.0/uevent', O_WRONLY);
  t.is(m.sys.write(fd, `change${' '.repeat(5000)}`), 4096);
});

test('write returns the bytes the store consumed; a binary attribute takes positional writes', (t) => {
  const m = createMachine('intel-vtd-server');
  const fd = m.sys.open('/sys/bus/pci/devices/0000:01:00.0/config', O_RDWR);
  t.is(m.sys.pwrite(fd, new Uint8Array([0x07, 0x04]), 4), 2);
  const b = new Uint8Array(2);
  t.is(m.sys.pread(fd, b, 4), 2);
  t.deepEqual([...b], [0x07, 0x04]);
  t.is(m.sys.pwrite(fd, new Uint8Array([1]), 5000), 0);
});

test('mmap hands out addresses in the machine memory; munmap releases them', (t) => {
  const m = createMachine('intel-vtd-server');
  const a = m.sys.mmap(1n << 30n);
  t.true(a > 0n);
  t.true(m.mem.isMapped(a, 1n << 30n));
  t.is(m.sys.munmap(a, 1n << 30n), 0);
  t.false(m.mem.isMapped(a, 4096));
  t.true(m.sys.mmap(0) < 0n);
});

// Values no C program can pass come back as the errno the kernel would give for the nearest
// thing C can express; nothing escapes the boundary but a return value.
const contractCases: [string, (m: ReturnType<typeof createMachine>) => number | bigint, Errno][] = [
  ['open("")', (m) => m.sys.open(''), 'ENOENT'],
  ['open of a path of PATH_MAX bytes', (m) => m.sys.open(`/sys/${'a/'.repeat(2046)}`), 'ENAMETOOLONG'],
  ['open of a 256-byte component', (m) => m.sys.open(`/sys/${'x'.repeat(256)}`), 'ENAMETOOLONG'],
  ['open of a path with a NUL', (m) => m.sys.open('/sys/kernel\0/x'), 'EINVAL'],
  ['open with non-integer flags', (m) => m.sys.open(RR, 0.5), 'EINVAL'],
  ['ioctl with a non-integer argument', (m) => m.sys.ioctl(m.sys.open('/dev/vfio/vfio', O_RDWR), 0x3b64, 1.5), 'EFAULT'],
  ['ioctl with NaN as argument', (m) => m.sys.ioctl(m.sys.open('/dev/vfio/vfio', O_RDWR), 0x3b65, Number.NaN), 'EFAULT'],
  ['ioctl with a non-integer request', (m) => m.sys.ioctl(m.sys.open('/dev/vfio/vfio', O_RDWR), 0.5, 0), 'EINVAL'],
  ['pread at a non-integer offset', (m) => m.sys.pread(m.sys.open(RR), new Uint8Array(4), 1.5), 'EINVAL'],
  ['pwrite at NaN', (m) => m.sys.pwrite(m.sys.open('/sys/bus/pci/devices/0000:01:00.0/driver_override', O_WRONLY), 'x', Number.NaN), 'EINVAL'],
  ['lseek to a non-integer offset', (m) => m.sys.lseek(m.sys.open(RR), 0.25, SEEK_SET), 'EINVAL'],
  ['lseek past 2^53 (no JS number holds it exactly)', (m) => m.sys.lseek(m.sys.open(RR), 1n << 60n, SEEK_SET), 'EOVERFLOW'],
  ['read into something that is not a buffer', (m) => m.sys.read(m.sys.open(RR), 'x' as unknown as Uint8Array), 'EFAULT'],
  ['write of something that is not a buffer', (m) => m.sys.write(m.sys.open('/sys/bus/pci/devices/0000:01:00.0/driver_override', O_WRONLY), 7 as unknown as string), 'EFAULT'],
  ['mmap of a non-integer length', (m) => m.sys.mmap(1.5), 'EINVAL'],
  ['munmap of NaN bytes', (m) => m.sys.munmap(m.sys.mmap(4096), Number.NaN), 'EINVAL'],
  ['close of a non-integer fd', (m) => m.sys.close(3.5), 'EBADF'],
];
for (const [name, run, code] of contractCases) {
  test(`contract: ${name} → ${code}`, (t) => {
    const m = createMachine('intel-vtd-server');
    t.is(Number(run(m)), E(code));
  });
}

test('hot-unplug then hot-plug at the same BDF (the AMD IOMMU function) leaves every syscall answering', (t) => {
  const m = createMachine('amd-epyc');
  const spec = m.host.topology.devices.find((d) => d.bdf === '0000:00:00.2')!;
  m.host.hotUnplug(spec.bdf);
  t.is(m.sys.open(`/sys/bus/pci/devices/${spec.bdf}/vendor`), E('ENOENT'));
  m.host.hotplug({ ...spec });
  const fd = m.sys.open(`/sys/bus/pci/devices/${spec.bdf}/driver_override`, O_RDWR);
  t.true(fd >= 0);
  t.is(m.sys.write(fd, 'pci-stub'), 8);
  t.is(m.fs.readFileSync(`/sys/bus/pci/devices/${spec.bdf}/driver_override`, 'utf8'), 'pci-stub\n');
  t.true(m.fs.existsSync(`/sys/devices/pci0000:00/${spec.bdf}/iommu/ivhd0`), "the IOMMU's own directory under its function is still there");
});
