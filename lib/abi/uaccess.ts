/**
 * The kernel's user-access helpers over a process address space (lib/mm): copy_from_user /
 * copy_to_user, get_user / put_user, copy_struct_from_user, strndup_user, and the two
 * size-prefixed ioctl argument protocols (VFIO `argsz`, iommufd `size`).
 *
 * Addresses are bigint user virtual addresses. Anything not inside a mapping — NULL included —
 * faults with EFAULT.
 */
import { kerr } from '../errno';
import { Decoded, Input, ValueOf, decode, encode, encodedLength } from './codec';
import { FieldName, Prim, StructLayout, offsetofend, u32 } from './layout';

export { PAGE_SHIFT, PAGE_SIZE, TASK_SIZE } from '../kernel/page';

/**
 * What the user-access helpers need of an address space (lib/mm implements it): a read or
 * write faults with EFAULT unless every byte is mapped with the right protection.
 */
export interface UserAccess {
  read(addr: bigint, length: number): Uint8Array;
  write(addr: bigint, bytes: Uint8Array): void;
}

/** @see include/linux/uaccess.h:copy_from_user */
export function copyFromUser(mem: UserAccess, addr: bigint, len: number): Uint8Array {
  return mem.read(addr, len);
}

/** @see include/linux/uaccess.h:copy_to_user */
export function copyToUser(mem: UserAccess, addr: bigint, bytes: Uint8Array): void {
  mem.write(addr, bytes);
}

type UserScalar = Prim<'u32' | 's32' | 'u64' | 'aligned_u64' | 's64' | 'u8' | 'u16', number | bigint>;

/** @see arch/x86/include/asm/uaccess.h:get_user */
export function getUser<P extends UserScalar>(mem: UserAccess, type: P, addr: bigint): ValueOf<P> {
  const raw = mem.read(addr, type.size);
  const v = new DataView(raw.buffer);
  switch (type.name) {
    case 'u8':
      return v.getUint8(0) as ValueOf<P>;
    case 'u16':
      return v.getUint16(0, true) as ValueOf<P>;
    case 'u32':
      return v.getUint32(0, true) as ValueOf<P>;
    case 's32':
      return v.getInt32(0, true) as ValueOf<P>;
    case 's64':
      return v.getBigInt64(0, true) as ValueOf<P>;
    default:
      return v.getBigUint64(0, true) as ValueOf<P>;
  }
}

/** @see arch/x86/include/asm/uaccess.h:put_user */
export function putUser<P extends UserScalar>(mem: UserAccess, type: P, addr: bigint, value: ValueOf<P>): void {
  const buf = new Uint8Array(type.size);
  const v = new DataView(buf.buffer);
  switch (type.name) {
    case 'u8':
      v.setUint8(0, value as number);
      break;
    case 'u16':
      v.setUint16(0, value as number, true);
      break;
    case 'u32':
      v.setUint32(0, value as number, true);
      break;
    case 's32':
      v.setInt32(0, value as number, true);
      break;
    case 's64':
      v.setBigInt64(0, value as bigint, true);
      break;
    default:
      v.setBigUint64(0, value as bigint, true);
  }
  mem.write(addr, buf);
}

/** True if all `len` user bytes at `addr` are zero; EFAULT if any is unmapped. @see lib/usercopy.c:check_zeroed_user */
export function checkZeroedUser(mem: UserAccess, addr: bigint, len: number): boolean {
  return mem.read(addr, len).every((b) => b === 0);
}

/**
 * Copy a struct whose user-side size is `usize` into a kernel struct of `sizeof(layout)`:
 * a shorter user struct is zero-extended, a longer one is accepted only if every byte past the
 * kernel's size is zero (otherwise E2BIG). `ksize` is the kernel's struct size when the running
 * kernel's struct is an older, shorter shape of `layout` (see structPrefix): members past it
 * decode as zero, as the kernel's zeroed command buffer has them.
 * @see include/linux/uaccess.h:copy_struct_from_user
 */
export function copyStructFromUser<L extends StructLayout<any>>(
  mem: UserAccess,
  layout: L,
  addr: bigint,
  usize: number,
  /** The kernel's `ksize` argument: the running kernel's struct size (see above). */
  ksize: number = layout.size,
): Decoded<L> {
  const size = Math.min(ksize, usize);
  if (usize > ksize && !checkZeroedUser(mem, addr + BigInt(size), usize - size)) throw kerr('E2BIG');
  return decode(layout, copyFromUser(mem, addr, size), 0, size);
}

/**
 * Write the first `len` bytes (default: all) of `value`'s encoding — the kernel's
 * `copy_to_user(arg, &info, minsz)` with `minsz = min(argsz, sizeof(info))`.
 */
export function copyStructToUser<L extends StructLayout<any>>(
  mem: UserAccess,
  layout: L,
  addr: bigint,
  value: Input<L>,
  len: number = encodedLength(layout, value),
): void {
  copyToUser(mem, addr, encode(layout, value).subarray(0, len));
}

/** @see mm/util.c:strndup_user — EFAULT on a fault before the NUL, EINVAL if no NUL within `n`. */
export function strndupUser(mem: UserAccess, addr: bigint, n: number): string {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const b = mem.read(addr + BigInt(i), 1)[0] as number;
    if (b === 0) return new TextDecoder().decode(Uint8Array.from(out));
    out.push(b);
  }
  throw kerr('EINVAL');
}

type ArgszLayout = StructLayout<{ argsz: typeof u32 }>;

/**
 * The VFIO `argsz` protocol: copy `minsz = offsetofend(layout, last)` bytes (EFAULT), then
 * `argsz < minsz` → EINVAL. The value is zero past minsz, like the kernel's `struct x = {}`.
 * @see drivers/vfio/vfio_iommu_type1.c:vfio_iommu_type1_get_info
 * @see drivers/vfio/group.c:vfio_group_ioctl_get_status
 */
export function vfioArgszFromUser<L extends ArgszLayout>(
  mem: UserAccess,
  layout: L,
  addr: bigint,
  last: FieldName<L>,
): { value: Decoded<L>; minsz: number } {
  const minsz = offsetofend(layout, last);
  const value = decode(layout, copyFromUser(mem, addr, minsz), 0, minsz);
  if ((value as { argsz: number }).argsz < minsz) throw kerr('EINVAL');
  return { value, minsz };
}

/**
 * The iommufd `size` protocol after the dispatcher has read `userSize` with get_user and found
 * the op: `userSize < offsetofend(layout, last)` → EINVAL, then copy_struct_from_user (E2BIG for a
 * non-zero tail the kernel does not know, zero-extension for an older, shorter struct). `ksize`:
 * the running kernel's struct size (the op's `size`), when that is an older shape of `layout`.
 * @see drivers/iommu/iommufd/main.c:iommufd_fops_ioctl
 * @see include/linux/uaccess.h:copy_struct_from_user
 */
export function iommufdCmdFromUser<L extends StructLayout<{ size: typeof u32 }>>(
  mem: UserAccess,
  layout: L,
  addr: bigint,
  userSize: number,
  last: FieldName<L>,
  ksize: number = layout.size,
): Decoded<L> {
  if (userSize < offsetofend(layout, last)) throw kerr('EINVAL');
  return copyStructFromUser(mem, layout, addr, userSize, ksize);
}

/** Read the leading `__u32 size` of an iommufd command, as the dispatcher does first. */
export function iommufdUserSize(mem: UserAccess, addr: bigint): number {
  return getUser(mem, u32, addr);
}
