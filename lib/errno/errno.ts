// SPDX-License-Identifier: GPL-2.0-only
/**
 * errno values from include/uapi/asm-generic/errno-base.h and errno.h (x86/arm64 numbering),
 * with glibc's strerror text. The kernel-internal codes never reach userspace.
 */
export const ERRNO = {
  EPERM: [1, 'Operation not permitted'],
  ENOENT: [2, 'No such file or directory'],
  ESRCH: [3, 'No such process'],
  EINTR: [4, 'Interrupted system call'],
  EIO: [5, 'Input/output error'],
  ENXIO: [6, 'No such device or address'],
  E2BIG: [7, 'Argument list too long'],
  EBADF: [9, 'Bad file descriptor'],
  EAGAIN: [11, 'Resource temporarily unavailable'],
  ENOMEM: [12, 'Cannot allocate memory'],
  EACCES: [13, 'Permission denied'],
  EFAULT: [14, 'Bad address'],
  EBUSY: [16, 'Device or resource busy'],
  EEXIST: [17, 'File exists'],
  EXDEV: [18, 'Invalid cross-device link'],
  ENODEV: [19, 'No such device'],
  ENOTDIR: [20, 'Not a directory'],
  EISDIR: [21, 'Is a directory'],
  EINVAL: [22, 'Invalid argument'],
  ENFILE: [23, 'Too many open files in system'],
  EMFILE: [24, 'Too many open files'],
  ENOTTY: [25, 'Inappropriate ioctl for device'],
  EFBIG: [27, 'File too large'],
  ENOSPC: [28, 'No space left on device'],
  ESPIPE: [29, 'Illegal seek'],
  EROFS: [30, 'Read-only file system'],
  ERANGE: [34, 'Numerical result out of range'],
  /** EDEADLOCK is the same number on x86 and arm64. */
  EDEADLK: [35, 'Resource deadlock avoided'],
  ENAMETOOLONG: [36, 'File name too long'],
  ENOSYS: [38, 'Function not implemented'],
  ENOTEMPTY: [39, 'Directory not empty'],
  ELOOP: [40, 'Too many levels of symbolic links'],
  EBADE: [52, 'Invalid exchange'],
  ENODATA: [61, 'No data available'],
  EOVERFLOW: [75, 'Value too large for defined data type'],
  EBADFD: [77, 'File descriptor in bad state'],
  EMSGSIZE: [90, 'Message too long'],
  EOPNOTSUPP: [95, 'Operation not supported'],
  ESTALE: [116, 'Stale file handle'],
  EADDRINUSE: [98, 'Address already in use'],
  ETIMEDOUT: [110, 'Connection timed out'],
} as const satisfies Record<string, readonly [number, string]>;

/** Kernel-internal codes: legal inside lib/, never visible to userspace (fs/ioctl.c turns ENOIOCTLCMD into ENOTTY). */
export const KERNEL_INTERNAL = {
  ERESTARTSYS: [512, 'Restart system call (internal)'],
  EPROBE_DEFER: [517, 'Driver requests probe retry (internal)'],
  ENOIOCTLCMD: [515, 'No ioctl command (internal)'],
  ENOTSUPP: [524, 'Operation is not supported (internal)'],
} as const satisfies Record<string, readonly [number, string]>;

export type Errno = keyof typeof ERRNO;
export type InternalErrno = keyof typeof KERNEL_INTERNAL;
export type AnyErrno = Errno | InternalErrno;

const BY_NUMBER = new Map<number, Errno>(
  (Object.keys(ERRNO) as Errno[]).map((k) => [ERRNO[k][0], k]),
);

export function errnoNumber(code: AnyErrno): number {
  return code in ERRNO ? ERRNO[code as Errno][0] : KERNEL_INTERNAL[code as InternalErrno][0];
}

export function strerror(code: AnyErrno): string {
  return code in ERRNO ? ERRNO[code as Errno][1] : KERNEL_INTERNAL[code as InternalErrno][1];
}

/** The errno name for a positive number, or undefined for numbers the table does not know. */
export function errnoName(n: number): Errno | undefined {
  return BY_NUMBER.get(Math.abs(n));
}

export function isErrno(s: string): s is Errno {
  return Object.prototype.hasOwnProperty.call(ERRNO, s);
}
