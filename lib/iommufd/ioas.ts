// SPDX-License-Identifier: GPL-2.0-only
/**
 * drivers/iommu/iommufd/ioas.c (studied at 6.12.117) — the IOAS object and its ioctls:
 * IOAS_ALLOC, IOAS_IOVA_RANGES, IOAS_ALLOW_IOVAS, IOAS_MAP, IOAS_COPY, IOAS_UNMAP and the
 * options (RLIMIT_MODE, HUGE_PAGES). Checks run in the kernel's order.
 */
import { copyFromUser, copyToUser, decode, encode, offsetof } from '../abi';
import { capable } from '../cred';
import { kerr } from '../errno';
import { IovaRange, U64_MAX } from '../model/iova';
import {
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  IOMMU_OPTION_HUGE_PAGES,
  IOMMU_OPTION_OP_GET,
  IOMMU_OPTION_OP_SET,
  IOMMU_OPTION_RLIMIT_MODE,
  iommu_ioas_allow_iovas,
  iommu_ioas_alloc,
  iommu_ioas_copy,
  iommu_ioas_iova_ranges,
  iommu_ioas_map,
  iommu_ioas_unmap,
  iommu_iova_range,
  iommu_option,
} from '../uapi/iommufd';
import { IOMMU_CACHE, IOMMU_READ, IOMMU_WRITE, IoPagetable, IoptAccess, IoptPagesElm, ULONG_MAX } from './io_pagetable';
import type { IommufdCtx, IommufdObject, IommufdUcmd } from './main';
import { IOPT_PAGES_OPS, IoptPages, ioptAllocPages } from './pages';

/** What an IOAS needs of an access on it: its object (to hold it) and its unmap callback. */
export interface IoasAccess extends IoptAccess {
  readonly obj: IommufdObject;
  /** `access->ops->unmap`: let go of pins in [iova, iova+length). */
  unmap(iova: bigint, length: bigint): void;
}

export class IommufdIoas {
  readonly iopt: IoPagetable;
  /** HWPTs built on this IOAS (struct iommufd_ioas.hwpt_list), oldest first. */
  readonly hwptList: unknown[] = [];

  constructor(readonly obj: IommufdObject<IommufdIoas>) {
    const ictx = obj.ictx;
    this.iopt = new IoPagetable({
      faults: ictx.faults,
      pagesOps: IOPT_PAGES_OPS,
      notifyUnmap: (iova, length) => iommufdAccessNotifyUnmap(this, iova, length),
    });
  }
}

/**
 * Ask every access of the IOAS to drop its pins in [iova, iova+length).
 * @see drivers/iommu/iommufd/device.c:iommufd_access_notify_unmap
 */
export function iommufdAccessNotifyUnmap(ioas: IommufdIoas, iova: bigint, length: bigint): void {
  for (const a of [...ioas.iopt.accesses] as IoasAccess[]) {
    if (!ioas.obj.ictx.lockObj(a.obj)) continue;
    try {
      a.unmap(iova, length);
    } finally {
      ioas.obj.ictx.putObject(a.obj);
    }
  }
}

/**
 * @see drivers/iommu/iommufd/ioas.c:iommufd_ioas_alloc — reserved, not yet visible.
 */
export function iommufdIoasAlloc(ictx: IommufdCtx): IommufdIoas {
  const obj = ictx.objectAlloc<IommufdIoas>('ioas');
  const ioas = new IommufdIoas(obj);
  obj.impl = ioas;
  obj.ops = { destroy: () => iommufdIoasDestroy(ioas) };
  return ioas;
}

/**
 * `iopt_map_user_pages`' pages: `current`'s memory, accounted as the context says (RLIMIT mode
 * per IOMMU_OPTION; CAP_IPC_LOCK is never charged).
 * @see drivers/iommu/iommufd/io_pagetable.c:iopt_map_user_pages
 */
export function iommufdUserPages(ictx: IommufdCtx, current: import('../task/sched').Task, uptr: bigint, length: bigint, writable: boolean): IoptPages {
  const pages = ioptAllocPages(ictx, current, uptr, length, writable, { ipcLock: capable(current.cred, 'CAP_IPC_LOCK') });
  if (ictx.accountMode === 'mm' && pages.accountMode === 'user') pages.accountMode = 'mm';
  return pages;
}

/** @see drivers/iommu/iommufd/ioas.c:iommufd_ioas_destroy */
export function iommufdIoasDestroy(ioas: IommufdIoas): void {
  try {
    ioas.iopt.unmapAll();
  } catch {
    // WARN_ON in the kernel: an access that does not let go
  }
}

/** @see drivers/iommu/iommufd/iommufd_private.h:iommufd_get_ioas */
export function iommufdGetIoas(ictx: IommufdCtx, id: number): IommufdObject<IommufdIoas> {
  return ictx.getObject<IommufdIoas>(id, 'ioas');
}

/** IOMMU_IOAS_ALLOC: flags must be 0 (EOPNOTSUPP). @see ioas.c:iommufd_ioas_alloc_ioctl */
export function iommufdIoasAllocIoctl(ucmd: IommufdUcmd<typeof iommu_ioas_alloc>): number {
  const cmd = ucmd.cmd;
  if (cmd.flags) throw kerr('EOPNOTSUPP');
  const ioas = iommufdIoasAlloc(ucmd.ictx);
  cmd.out_ioas_id = ioas.obj.id;
  try {
    ucmd.respond();
  } catch (e) {
    ucmd.ictx.objectAbortAndDestroy(ioas.obj);
    throw e;
  }
  ucmd.ictx.objectFinalize(ioas.obj);
  return 0;
}

/**
 * IOMMU_IOAS_IOVA_RANGES: the holes of the reserved tree, as many as fit written out, then the
 * struct with the total count (and alignment) written back, and only then EMSGSIZE if the
 * array was short.
 * @see drivers/iommu/iommufd/ioas.c:iommufd_ioas_iova_ranges
 */
export function iommufdIoasIovaRanges(ucmd: IommufdUcmd<typeof iommu_ioas_iova_ranges>): number {
  const cmd = ucmd.cmd;
  if (cmd.__reserved) throw kerr('EOPNOTSUPP');
  const obj = iommufdGetIoas(ucmd.ictx, cmd.ioas_id);
  try {
    const iopt = obj.impl.iopt;
    const max = cmd.num_iovas;
    cmd.num_iovas = 0;
    cmd.out_iova_alignment = iopt.iovaAlignment;
    for (const r of iopt.iovaRanges()) {
      if (cmd.num_iovas < max) {
        const at = cmd.allowed_iovas + BigInt(cmd.num_iovas * iommu_iova_range.size);
        copyToUser(ucmd.mem, at, encode(iommu_iova_range, { start: r.start, last: r.last }));
      }
      cmd.num_iovas++;
    }
    ucmd.respond();
    if (cmd.num_iovas > max) throw kerr('EMSGSIZE');
    return 0;
  } finally {
    ucmd.ictx.putObject(obj);
  }
}

/**
 * Read `num` ranges from user memory into a fresh tree: EFAULT, start >= last → EINVAL,
 * overlapping an earlier one → EINVAL.
 * @see drivers/iommu/iommufd/ioas.c:iommufd_ioas_load_iovas
 */
export function iommufdIoasLoadIovas(ucmd: IommufdUcmd<any>, ranges: bigint, num: number): IovaRange[] {
  const out: IovaRange[] = [];
  for (let i = 0; i < num; i++) {
    const raw = copyFromUser(ucmd.mem, ranges + BigInt(i * iommu_iova_range.size), iommu_iova_range.size);
    const r = decode(iommu_iova_range, raw);
    if (r.start >= r.last) throw kerr('EINVAL');
    if (out.some((o) => o.start <= r.last && r.start <= o.last)) throw kerr('EINVAL');
    ucmd.ictx.alloc();
    out.push({ start: r.start, last: r.last });
  }
  return out;
}

/** IOMMU_IOAS_ALLOW_IOVAS. @see drivers/iommu/iommufd/ioas.c:iommufd_ioas_allow_iovas */
export function iommufdIoasAllowIovas(ucmd: IommufdUcmd<typeof iommu_ioas_allow_iovas>): number {
  const cmd = ucmd.cmd;
  if (cmd.__reserved) throw kerr('EOPNOTSUPP');
  const obj = iommufdGetIoas(ucmd.ictx, cmd.ioas_id);
  try {
    const list = iommufdIoasLoadIovas(ucmd, cmd.allowed_iovas, cmd.num_iovas);
    obj.impl.iopt.setAllowIova(list);
    return 0;
  } finally {
    ucmd.ictx.putObject(obj);
  }
}

/** @see drivers/iommu/iommufd/ioas.c:conv_iommu_prot */
export function convIommuProt(flags: number): number {
  let prot = IOMMU_CACHE;
  if (flags & IOMMU_IOAS_MAP_WRITEABLE) prot |= IOMMU_WRITE;
  if (flags & IOMMU_IOAS_MAP_READABLE) prot |= IOMMU_READ;
  return prot;
}

const MAP_FLAGS = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE;

/**
 * IOMMU_IOAS_MAP: unknown flags or __reserved → EOPNOTSUPP; iova or length ≥ ULONG_MAX →
 * EOVERFLOW; neither READABLE nor WRITEABLE → EINVAL; bad ioas → ENOENT; then the pages object
 * (EINVAL/EOVERFLOW) and the io_pagetable's checks.
 * @see drivers/iommu/iommufd/ioas.c:iommufd_ioas_map
 */
export function iommufdIoasMap(ucmd: IommufdUcmd<typeof iommu_ioas_map>): number {
  const cmd = ucmd.cmd;
  if (cmd.flags & ~MAP_FLAGS || cmd.__reserved) throw kerr('EOPNOTSUPP');
  if (cmd.iova >= ULONG_MAX || cmd.length >= ULONG_MAX) throw kerr('EOVERFLOW');
  if (!(cmd.flags & (IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE))) throw kerr('EINVAL');
  const obj = iommufdGetIoas(ucmd.ictx, cmd.ioas_id);
  try {
    const pages = iommufdUserPages(ucmd.ictx, ucmd.current, cmd.user_va, cmd.length, (convIommuProt(cmd.flags) & IOMMU_WRITE) !== 0);
    const fixed = (cmd.flags & IOMMU_IOAS_MAP_FIXED_IOVA) !== 0;
    cmd.iova = obj.impl.iopt.mapUserPages(pages, cmd.user_va, cmd.length, fixed ? cmd.iova : undefined, convIommuProt(cmd.flags));
    ucmd.respond();
    return 0;
  } finally {
    ucmd.ictx.putObject(obj);
  }
}

/**
 * IOMMU_IOAS_COPY: flags (EOPNOTSUPP), overflow (EOVERFLOW), READ/WRITE (EINVAL), the source
 * IOAS and its pages over [src_iova, +length) (ENOENT), then the destination IOAS and the map.
 * @see drivers/iommu/iommufd/ioas.c:iommufd_ioas_copy
 */
export function iommufdIoasCopy(ucmd: IommufdUcmd<typeof iommu_ioas_copy>): number {
  const cmd = ucmd.cmd;
  if (cmd.flags & ~MAP_FLAGS) throw kerr('EOPNOTSUPP');
  if (cmd.length >= ULONG_MAX || cmd.src_iova >= ULONG_MAX || cmd.dst_iova >= ULONG_MAX) throw kerr('EOVERFLOW');
  if (!(cmd.flags & (IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE))) throw kerr('EINVAL');
  const src = iommufdGetIoas(ucmd.ictx, cmd.src_ioas_id);
  let list: IoptPagesElm[];
  try {
    list = src.impl.iopt.getPages(cmd.src_iova, cmd.length);
  } finally {
    ucmd.ictx.putObject(src);
  }
  try {
    const dst = iommufdGetIoas(ucmd.ictx, cmd.dst_ioas_id);
    try {
      const fixed = (cmd.flags & IOMMU_IOAS_MAP_FIXED_IOVA) !== 0;
      cmd.dst_iova = dst.impl.iopt.mapPages(list, cmd.length, fixed ? cmd.dst_iova : undefined, convIommuProt(cmd.flags));
      list = []; // the references moved into the new areas
      ucmd.respond();
      return 0;
    } finally {
      ucmd.ictx.putObject(dst);
    }
  } finally {
    for (const e of list) e.pages.put();
  }
}

/**
 * IOMMU_IOAS_UNMAP: the IOAS first (ENOENT); iova 0 with length U64_MAX unmaps all (success when
 * empty); otherwise iova/length ≥ ULONG_MAX → EOVERFLOW and nothing unmapped → ENOENT.
 * `length` is written back with the bytes unmapped.
 * @see drivers/iommu/iommufd/ioas.c:iommufd_ioas_unmap
 */
export function iommufdIoasUnmap(ucmd: IommufdUcmd<typeof iommu_ioas_unmap>): number {
  const cmd = ucmd.cmd;
  const obj = iommufdGetIoas(ucmd.ictx, cmd.ioas_id);
  try {
    const iopt = obj.impl.iopt;
    let unmapped: bigint;
    if (cmd.iova === 0n && cmd.length === U64_MAX) {
      unmapped = iopt.unmapAll();
    } else {
      if (cmd.iova >= ULONG_MAX || cmd.length >= ULONG_MAX) throw kerr('EOVERFLOW');
      unmapped = iopt.unmapIova(cmd.iova, cmd.length);
      if (!unmapped) throw kerr('ENOENT');
    }
    cmd.length = unmapped;
    ucmd.respond();
    return 0;
  } finally {
    ucmd.ictx.putObject(obj);
  }
}

/** @see drivers/iommu/iommufd/ioas.c:iommufd_option_rlimit_mode */
function iommufdOptionRlimitMode(ucmd: IommufdUcmd<typeof iommu_option>): void {
  const { cmd, ictx } = ucmd;
  if (cmd.object_id) throw kerr('EOPNOTSUPP');
  if (cmd.op === IOMMU_OPTION_OP_GET) {
    cmd.val64 = ictx.accountMode === 'mm' ? 1n : 0n;
    return;
  }
  if (cmd.op === IOMMU_OPTION_OP_SET) {
    if (!capable(ucmd.cred, 'CAP_SYS_RESOURCE')) throw kerr('EPERM');
    if (ictx.objects.size) throw kerr('EBUSY');
    if (cmd.val64 === 0n) ictx.accountMode = 'user';
    else if (cmd.val64 === 1n) ictx.accountMode = 'mm';
    else throw kerr('EINVAL');
    return;
  }
  throw kerr('EOPNOTSUPP');
}

/** @see drivers/iommu/iommufd/ioas.c:iommufd_ioas_option, iommufd_ioas_option_huge_pages */
function iommufdIoasOption(ucmd: IommufdUcmd<typeof iommu_option>): void {
  const cmd = ucmd.cmd;
  if (cmd.__reserved) throw kerr('EOPNOTSUPP');
  const obj = iommufdGetIoas(ucmd.ictx, cmd.object_id);
  try {
    const iopt = obj.impl.iopt;
    if (cmd.option_id !== IOMMU_OPTION_HUGE_PAGES) throw kerr('EOPNOTSUPP');
    if (cmd.op === IOMMU_OPTION_OP_GET) {
      cmd.val64 = iopt.disableLargePages ? 0n : 1n;
      return;
    }
    if (cmd.op !== IOMMU_OPTION_OP_SET) throw kerr('EOPNOTSUPP');
    if (cmd.val64 === 0n) iopt.disableLargePagesOrThrow();
    else if (cmd.val64 === 1n) iopt.enableLargePages();
    else throw kerr('EINVAL');
  } finally {
    ucmd.ictx.putObject(obj);
  }
}

/**
 * IOMMU_OPTION: __reserved → EOPNOTSUPP, then by option; on success only val64 is written back.
 * @see drivers/iommu/iommufd/main.c:iommufd_option
 */
export function iommufdOption(ucmd: IommufdUcmd<typeof iommu_option>): number {
  const cmd = ucmd.cmd;
  if (cmd.__reserved) throw kerr('EOPNOTSUPP');
  switch (cmd.option_id) {
    case IOMMU_OPTION_RLIMIT_MODE:
      iommufdOptionRlimitMode(ucmd);
      break;
    case IOMMU_OPTION_HUGE_PAGES:
      iommufdIoasOption(ucmd);
      break;
    default:
      throw kerr('EOPNOTSUPP');
  }
  const off = offsetof(iommu_option, 'val64');
  copyToUser(ucmd.mem, ucmd.ubuffer + BigInt(off), encode(iommu_option, { val64: cmd.val64 }).subarray(off, off + 8));
  return 0;
}
