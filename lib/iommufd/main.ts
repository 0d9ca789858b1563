// SPDX-License-Identifier: GPL-2.0-only
/**
 * drivers/iommu/iommufd/main.c (studied at 6.12.117) — the iommufd module: the /dev/iommu misc
 * device (and, with CONFIG_IOMMUFD_VFIO_CONTAINER, /dev/vfio/vfio), the context each open gets,
 * its object table, and the ioctl op table with its size protocol.
 *
 * Objects live in the context, not in any fd: an object id is an xarray index allocated from 1
 * (lowest free first), reserved at allocation and visible to lookups only once finalized.
 * `users` counts references (1 for the table itself); IOMMU_DESTROY succeeds only when the
 * table's is the last one (EBUSY otherwise). The context lives as long as its file: fds, dups,
 * fork children and in-kernel holders (a bound VFIO device, an access or fault fd) each keep the
 * file, and its release at the last fput destroys what is left, leaves first.
 */
import { Decoded, FieldName, Member, StructLayout, UserAccess, checkZeroedUser, copyToUser, decode, encode, getUser, offsetofend, structPrefix, u32 } from '../abi';
import { kerr } from '../errno';
import type { Kernel, KernelModule } from '../host';
import type { Feature, KernelProfile } from '../kernel/profile';
import type { IommuGroup } from '../model/host';
import { MISC_MAJOR } from '../drivers/char_dev';
import { shouldFail } from '../task/fault_inject';
import { File, FileOperations, fput, getFile } from '../task/file_table';
import type { Task } from '../task/sched';
import { _IOC_NR } from '../uapi/ioctl';
import {
  IOMMUFD_CMD_BASE,
  IOMMU_DESTROY,
  IOMMU_FAULT_QUEUE_ALLOC,
  IOMMU_GET_HW_INFO,
  IOMMU_HWPT_ALLOC,
  IOMMU_HWPT_GET_DIRTY_BITMAP,
  IOMMU_HWPT_INVALIDATE,
  IOMMU_HWPT_SET_DIRTY_TRACKING,
  IOMMU_IOAS_ALLOC,
  IOMMU_IOAS_ALLOW_IOVAS,
  IOMMU_IOAS_COPY,
  IOMMU_IOAS_IOVA_RANGES,
  IOMMU_IOAS_MAP,
  IOMMU_IOAS_UNMAP,
  IOMMU_OPTION,
  IOMMU_VFIO_IOAS,
  iommu_destroy,
  iommu_fault_alloc,
  iommu_hw_info,
  iommu_hwpt_alloc,
  iommu_hwpt_get_dirty_bitmap,
  iommu_hwpt_invalidate,
  iommu_hwpt_set_dirty_tracking,
  iommu_ioas_allow_iovas,
  iommu_ioas_alloc,
  iommu_ioas_copy,
  iommu_ioas_iova_ranges,
  iommu_ioas_map,
  iommu_ioas_unmap,
  iommu_option,
  iommu_vfio_ioas,
} from '../uapi/iommufd';
import { IOMMU_TEST_CMD, iommu_test_cmd } from '../uapi/iommufd_test';
import { iommufdGetHwInfo } from './device';
import { iommufdFaultAlloc } from './fault';
import { iommufdHwptAlloc, iommufdHwptGetDirtyBitmap, iommufdHwptInvalidate, iommufdHwptSetDirtyTracking } from './hw_pagetable';
import {
  iommufdIoasAllocIoctl,
  iommufdIoasAllowIovas,
  iommufdIoasCopy,
  iommufdIoasIovaRanges,
  iommufdIoasMap,
  iommufdIoasUnmap,
  iommufdOption,
} from './ioas';
import type { IoptPagesAccountMode, PagesEnv } from './pages';
import { iommufdTest, iommufdTestInit } from './selftest';
import { iommufdVfioIoas, iommufdVfioIoctl } from './vfio_compat';

/** @see drivers/iommu/iommufd/iommufd_private.h:enum iommufd_object_type */
export type IommufdObjectType = 'device' | 'hwpt_paging' | 'hwpt_nested' | 'ioas' | 'access' | 'fault' | 'selftest';

/** A type to look up, or any. */
export type IommufdObjectMatch = IommufdObjectType | 'any';

/** @see drivers/iommu/iommufd/main.c:struct iommufd_object_ops */
export interface IommufdObjectOps {
  destroy(): void;
  /** Undo a half-built object; destroy() when absent. */
  abort?(): void;
  /** Objects with a file (the fault queue): aborting releases it synchronously (`__fput_sync`). */
  file?(): File<unknown> | undefined;
}

/** Allocation and copy sites where fail_nth-style injection strikes. */
export interface IommufdFaults {
  /** iommufd_should_fail(), and every kzalloc or user copy the model counts. */
  shouldFail(): boolean;
}

export class IommufdObject<T = unknown> {
  users = 1;
  shorttermUsers = 1;
  finalized = false;
  ops: IommufdObjectOps = { destroy: () => undefined };
  /** The typed object this header belongs to (struct iommufd_ioas containing its obj, …). */
  impl!: T;

  constructor(
    readonly ictx: IommufdCtx,
    readonly id: number,
    readonly type: IommufdObjectType,
  ) {}
}

/** xa_limit_31b */
const ID_MAX = 0x7fff_ffff;

/** The misc devices' private data: which node was opened. */
export interface IommufdMiscDev {
  readonly st: IommufdState;
  /** /dev/vfio/vfio (CONFIG_IOMMUFD_VFIO_CONTAINER): VFIO's accounting by default. */
  readonly vfio: boolean;
}

/** One machine's iommufd module: what the kernel keeps in globals and in struct page. */
export class IommufdState implements Omit<PagesEnv, 'current' | 'shouldFail'> {
  /** GUP pins per page (what MD_CHECK_REFS reads). */
  readonly pins = new WeakMap<Uint8Array, number>();
  /** `user_struct.locked_vm` by uid, in pages. */
  readonly userLockedVm = new Map<number, bigint>();
  /** The selftest's module state (CONFIG_IOMMUFD_TEST). */
  selftest: unknown;
  /** The op table of this kernel. */
  readonly table: (IommufdIoctlOp | undefined)[];
  /** `current` while iommufd code runs on behalf of a task (every entry point sets it). */
  private cur: Task | undefined;
  readonly faults: IommufdFaults = { shouldFail: () => shouldFail(this.cur) };

  constructor(readonly k: Kernel) {
    this.table = ioctlTable(iommufdIoctlOps, k.profile, k.kconfig.CONFIG_IOMMUFD_TEST);
  }

  get profile(): KernelProfile {
    return this.k.profile;
  }

  get current(): Task | undefined {
    return this.cur;
  }

  /** Run `fn` as `current`. */
  enter<T>(current: Task, fn: () => T): T {
    const prev = this.cur;
    this.cur = current;
    try {
      return fn();
    } finally {
      this.cur = prev;
    }
  }
}

const states = new WeakMap<Kernel, IommufdState>();

/** The machine's iommufd, or undefined when the module is not loaded. */
export function iommufdStateOf(k: Kernel): IommufdState | undefined {
  return states.get(k);
}

/** A user access whose every copy is a fault-injection site (fail_usercopy: EFAULT). */
export function faultingAccess(mm: UserAccess, faults: IommufdFaults): UserAccess {
  return {
    read: (addr, len) => {
      if (faults.shouldFail()) throw kerr('EFAULT');
      return mm.read(addr, len);
    },
    write: (addr, bytes) => {
      if (faults.shouldFail()) throw kerr('EFAULT');
      mm.write(addr, bytes);
    },
  };
}

/** @see drivers/iommu/iommufd/iommufd_private.h:struct iommufd_ctx */
export class IommufdCtx implements PagesEnv {
  /** `ictx->file`: the file the context is the private data of (set when first seen). */
  file: File<IommufdCtx> | undefined;
  readonly objects = new Map<number, IommufdObject<any>>(); // eslint-disable-line @typescript-eslint/no-explicit-any
  /** `ictx->groups`: iommufd's per-group data (struct iommufd_group), by IOMMU group. */
  readonly groups = new Map<IommuGroup, unknown>();
  accountMode: IoptPagesAccountMode;
  /** Compatibility with VFIO no-iommu (iommufd_vfio_compat_set_no_iommu). */
  noIommuMode = false;
  /** The IOAS the VFIO compat ioctls act on (IOMMU_VFIO_IOAS). */
  vfioIoas: IommufdObject<any> | undefined; // eslint-disable-line @typescript-eslint/no-explicit-any

  constructor(
    readonly st: IommufdState,
    vfioMisc = false,
  ) {
    this.accountMode = vfioMisc ? 'mm' : 'user';
  }

  get profile(): KernelProfile {
    return this.st.profile;
  }

  get pins(): WeakMap<Uint8Array, number> {
    return this.st.pins;
  }

  get userLockedVm(): Map<number, bigint> {
    return this.st.userLockedVm;
  }

  get faults(): IommufdFaults {
    return this.st.faults;
  }

  current(): Task | undefined {
    return this.st.current;
  }

  shouldFail(): boolean {
    return this.st.faults.shouldFail();
  }

  /** Run `fn` as `current` (every entry point from a syscall: ioctls, binds, fault fd I/O). */
  enter<T>(current: Task, fn: () => T): T {
    return this.st.enter(current, fn);
  }

  /** `iommufd_ctx_get`: one more reference on the context's file. */
  get(): void {
    if (!this.file) throw new Error('iommufd_ctx_get before the context has a file');
    getFile(this.file);
  }

  /** `iommufd_ctx_put`: the last one releases the context. */
  put(): void {
    fput(this.file!);
  }

  /** ENOMEM at an allocation site chosen by fault injection. */
  alloc(): void {
    if (this.faults.shouldFail()) throw kerr('ENOMEM');
  }

  /**
   * Reserve the lowest free id ≥ 1; the object is invisible to lookups until finalized.
   * @see drivers/iommu/iommufd/main.c:_iommufd_object_alloc (kzalloc, then xa_alloc)
   */
  objectAlloc<T>(type: IommufdObjectType): IommufdObject<T> {
    this.alloc();
    this.alloc();
    let id = 1;
    while (this.objects.has(id)) id++;
    if (id > ID_MAX) throw kerr('EBUSY');
    const obj = new IommufdObject<T>(this, id, type);
    this.objects.set(id, obj);
    return obj;
  }

  /** @see drivers/iommu/iommufd/main.c:iommufd_object_finalize */
  objectFinalize(obj: IommufdObject): void {
    obj.finalized = true;
  }

  /** @see drivers/iommu/iommufd/main.c:iommufd_object_abort */
  objectAbort(obj: IommufdObject): void {
    this.objects.delete(obj.id);
  }

  /** @see drivers/iommu/iommufd/main.c:iommufd_object_abort_and_destroy */
  objectAbortAndDestroy(obj: IommufdObject): void {
    const f = obj.ops.file?.();
    if (f) fput(f);
    (obj.ops.abort ?? obj.ops.destroy).call(obj.ops);
    this.objectAbort(obj);
  }

  /**
   * A counted reference to a finalized object of `type`: missing id, wrong type or an object
   * being destroyed → ENOENT (fault injection too). Release with putObject.
   * @see drivers/iommu/iommufd/main.c:iommufd_get_object
   */
  getObject<T = unknown>(id: number, type: IommufdObjectMatch): IommufdObject<T> {
    if (this.faults.shouldFail()) throw kerr('ENOENT');
    const obj = this.objects.get(id);
    if (!obj || !obj.finalized || (type !== 'any' && obj.type !== type) || !this.lockObj(obj)) throw kerr('ENOENT');
    return obj;
  }

  /** @see drivers/iommu/iommufd/iommufd_private.h:iommufd_lock_obj */
  lockObj(obj: IommufdObject): boolean {
    if (obj.users === 0 || obj.shorttermUsers === 0) return false;
    obj.users++;
    obj.shorttermUsers++;
    return true;
  }

  /** @see drivers/iommu/iommufd/iommufd_private.h:iommufd_put_object */
  putObject(obj: IommufdObject): void {
    obj.users--;
    obj.shorttermUsers--;
  }

  /** A long-term reference (refcount_inc(&obj->users)), e.g. a HWPT holding its IOAS. */
  refObject(obj: IommufdObject): void {
    obj.users++;
  }

  unrefObject(obj: IommufdObject): void {
    obj.users--;
  }

  /**
   * Destroy by id (IOMMU_DESTROY; `toDestroy` undefined) or a known object whose caller holds one
   * reference (which is dropped either way). Not there → ENOENT; still referenced → EBUSY and
   * nothing changes.
   * @see drivers/iommu/iommufd/main.c:iommufd_object_remove
   */
  objectRemove(toDestroy: IommufdObject | undefined, id: number): void {
    const obj = this.objects.get(id);
    if (toDestroy) {
      toDestroy.users--;
      if (obj !== toDestroy) throw kerr('ENOENT');
    } else if (!obj || !obj.finalized) {
      throw kerr('ENOENT');
    }
    if (obj.users !== 1) throw kerr('EBUSY');
    obj.users = 0;
    this.objects.delete(id);
    if (this.vfioIoas === obj) this.vfioIoas = undefined;
    obj.shorttermUsers = 0;
    obj.ops.destroy();
  }

  /** `iommufd_object_destroy_user`: the caller's reference goes with the object. */
  objectDestroyUser(obj: IommufdObject): void {
    this.objectRemove(obj, obj.id);
  }

  /**
   * `iommufd_object_put_and_try_destroy`: drop the caller's reference and destroy the object if
   * that left only the table's (an automatic HWPT nobody uses any more).
   */
  objectPutAndTryDestroy(obj: IommufdObject): void {
    try {
      this.objectRemove(obj, obj.id);
    } catch {
      // still in use: it stays
    }
  }

  /**
   * The last fput: destroy every object nobody else references, again and again, until none is
   * left (objects referencing others go first, freeing them).
   * @see drivers/iommu/iommufd/main.c:iommufd_fops_release
   */
  release(): void {
    while (this.objects.size) {
      let destroyed = 0;
      for (const [id, obj] of [...this.objects]) {
        if (obj.users !== 1) continue;
        destroyed++;
        obj.users = 0;
        this.objects.delete(id);
        obj.ops.destroy();
      }
      if (!destroyed) throw new Error(`iommufd: ${this.objects.size} objects still referenced at release`);
    }
    this.vfioIoas = undefined;
  }
}

/** Deep equality of decoded values (numbers, bigints, arrays, nested structs). */
function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return a === b;
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** Encode one member's value into `raw` at its offset. */
function putMember(raw: Uint8Array, m: Member, value: unknown): void {
  const one = { kind: 'struct', name: m.name, size: m.type.size, align: m.type.align, members: [{ name: 'v', type: m.type, offset: 0 }] } as unknown as StructLayout<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  encode(one, { v: value } as never, raw, m.offset);
}

/**
 * One ioctl as main.c's iommufd_ucmd sees it: the command buffer (the user's bytes, zero-extended
 * to the kernel's struct), its decoded members, and the way back.
 */
export class IommufdUcmd<L extends StructLayout<any>> {
  readonly cmd: Decoded<L>;
  private readonly orig: Decoded<L>;

  constructor(
    readonly ictx: IommufdCtx,
    readonly current: Task,
    /** The caller's memory; every copy through it is a fault-injection site. */
    readonly mem: UserAccess,
    readonly ubuffer: bigint,
    readonly userSize: number,
    readonly layout: L,
    /** The running kernel's struct size. */
    readonly size: number,
    /** `union ucmd_buffer buf` as copy_struct_from_user left it. */
    private readonly raw: Uint8Array,
  ) {
    this.cmd = decode(layout, raw);
    this.orig = decode(layout, raw);
  }

  get cred(): Task['cred'] {
    return this.current.cred;
  }

  /**
   * Copy the command buffer back: min(user size, the kernel's struct) bytes (EFAULT), with the
   * members the handler changed (of a union, the one it set) encoded over the bytes it was given.
   * @see drivers/iommu/iommufd/iommufd_private.h:iommufd_ucmd_respond
   */
  respond(len: number = this.size): void {
    const out = this.raw.slice();
    const cmd = this.cmd as Record<string, unknown>;
    const orig = this.orig as Record<string, unknown>;
    for (const m of this.layout.members) if (!sameValue(cmd[m.name], orig[m.name])) putMember(out, m, cmd[m.name]);
    copyToUser(this.mem, this.ubuffer, out.subarray(0, Math.min(this.userSize, len)));
  }
}

export interface IommufdIoctlOp<L extends StructLayout<any> = StructLayout<any>> {
  readonly ioctlNum: number;
  readonly layout: L;
  /** min_size = offsetofend(struct, last): the struct as first released. */
  readonly last: FieldName<L>;
  /** The profile row that brought the ioctl. */
  readonly feature: Feature;
  /** Later releases that grew the struct: from that row on, the struct ends at that member. */
  readonly grew?: readonly (readonly [Feature, FieldName<L>])[];
  /** Built only with CONFIG_IOMMUFD_TEST. */
  readonly selftest?: boolean;
  readonly execute: (ucmd: IommufdUcmd<L>) => number;
}

/** IOCTL_OP(...): one row of the table, `last` typed against the layout. */
export function ioctlOp<L extends StructLayout<any>>(
  ioctlNum: number,
  layout: L,
  last: FieldName<L>,
  feature: Feature,
  execute: (ucmd: IommufdUcmd<L>) => number,
  grew?: readonly (readonly [Feature, FieldName<L>])[],
): IommufdIoctlOp<L> {
  return grew ? { ioctlNum, layout, last, feature, execute, grew } : { ioctlNum, layout, last, feature, execute };
}

/** offsetofend(struct, last) */
export const opMinSize = (op: IommufdIoctlOp): number => offsetofend(op.layout, op.last);

/**
 * The kernel's struct size for `op` at `profile`: a grown struct ends where its newest enabled
 * growth row says (its first shape ending at `last`); any other is its whole layout.
 */
export function opSize(op: IommufdIoctlOp, profile: KernelProfile): number {
  if (!op.grew) return op.layout.size;
  let end: string = op.last;
  for (const [f, field] of op.grew) if (profile.has(f)) end = field;
  return structPrefix(op.layout, end).size;
}

/** The rows a kernel has, indexed by `nr - IOMMUFD_CMD_BASE`, holes left undefined. */
export function ioctlTable(ops: readonly IommufdIoctlOp[], profile: KernelProfile, selftest = false): (IommufdIoctlOp | undefined)[] {
  const table: (IommufdIoctlOp | undefined)[] = [];
  for (const op of ops) if (profile.has(op.feature) && (!op.selftest || selftest)) table[_IOC_NR(op.ioctlNum) - IOMMUFD_CMD_BASE] = op;
  return table;
}

/**
 * The dispatcher, in the kernel's order: nr outside the table → the VFIO compat handler; the
 * leading `size` read (EFAULT); a hole or another number at that slot → ENOIOCTLCMD (ENOTTY to
 * the user); size < min_size → EINVAL; copy_struct_from_user against the running kernel's struct
 * (E2BIG, EFAULT); then the handler.
 * @see drivers/iommu/iommufd/main.c:iommufd_fops_ioctl
 */
export function iommufdFopsIoctl(ictx: IommufdCtx, current: Task, cmd: number, arg: bigint): number {
  const table = ictx.st.table;
  const nr = _IOC_NR(cmd);
  if (nr < IOMMUFD_CMD_BASE || nr - IOMMUFD_CMD_BASE >= table.length) return iommufdVfioIoctl(ictx, current, cmd, arg);
  const mem = faultingAccess(current.mm, ictx.faults);
  const userSize = getUser(mem, u32, arg);
  const op = table[nr - IOMMUFD_CMD_BASE];
  if (!op || op.ioctlNum !== cmd) throw kerr('ENOIOCTLCMD');
  if (userSize < opMinSize(op)) throw kerr('EINVAL');
  // copy_struct_from_user against the running kernel's struct: E2BIG for a non-zero tail past it.
  const size = opSize(op, ictx.profile);
  if (userSize > size && !checkZeroedUser(mem, arg + BigInt(size), userSize - size)) throw kerr('E2BIG');
  const raw = new Uint8Array(op.layout.size);
  raw.set(mem.read(arg, Math.min(size, userSize)));
  return op.execute(new IommufdUcmd(ictx, current, mem, arg, userSize, op.layout, size, raw));
}

/** IOMMU_DESTROY: any finalized object by id. @see drivers/iommu/iommufd/main.c:iommufd_destroy */
export function iommufdDestroy(ucmd: IommufdUcmd<typeof iommu_destroy>): number {
  ucmd.ictx.objectRemove(undefined, ucmd.cmd.id);
  return 0;
}

/**
 * The op table of drivers/iommu/iommufd/main.c, row by row with the profile feature that brought
 * each ioctl and, for structs that grew, the member each later release ends at. Newer ioctls
 * (IOAS_MAP_FILE, VIOMMU_ALLOC, VDEVICE_ALLOC, IOAS_CHANGE_PROCESS, VEVENTQ_ALLOC, HW_QUEUE_ALLOC)
 * are not modelled.
 * @note emulation: those newer ioctls answer ENOTTY on every kernel, also where the kernel has them.
 */
export const iommufdIoctlOps: readonly IommufdIoctlOp[] = [
  ioctlOp(IOMMU_DESTROY, iommu_destroy, 'id', 'iommufd', iommufdDestroy),
  ioctlOp(IOMMU_FAULT_QUEUE_ALLOC, iommu_fault_alloc, 'out_fault_fd', 'iommufd_fault_queue', iommufdFaultAlloc),
  ioctlOp(IOMMU_GET_HW_INFO, iommu_hw_info, '__reserved', 'iommufd_hw_info', iommufdGetHwInfo, [['iommufd_dirty_tracking', 'out_capabilities']]),
  ioctlOp(IOMMU_HWPT_ALLOC, iommu_hwpt_alloc, '__reserved', 'iommufd_hwpt_alloc', iommufdHwptAlloc, [
    ['iommufd_nesting', 'data_uptr'],
    ['iommufd_fault_queue', '__reserved2'],
  ]),
  ioctlOp(IOMMU_HWPT_GET_DIRTY_BITMAP, iommu_hwpt_get_dirty_bitmap, 'data', 'iommufd_dirty_tracking', iommufdHwptGetDirtyBitmap),
  ioctlOp(IOMMU_HWPT_INVALIDATE, iommu_hwpt_invalidate, '__reserved', 'iommufd_hwpt_invalidate', iommufdHwptInvalidate),
  ioctlOp(IOMMU_HWPT_SET_DIRTY_TRACKING, iommu_hwpt_set_dirty_tracking, '__reserved', 'iommufd_dirty_tracking', iommufdHwptSetDirtyTracking),
  ioctlOp(IOMMU_IOAS_ALLOC, iommu_ioas_alloc, 'out_ioas_id', 'iommufd', iommufdIoasAllocIoctl),
  ioctlOp(IOMMU_IOAS_ALLOW_IOVAS, iommu_ioas_allow_iovas, 'allowed_iovas', 'iommufd', iommufdIoasAllowIovas),
  ioctlOp(IOMMU_IOAS_COPY, iommu_ioas_copy, 'src_iova', 'iommufd', iommufdIoasCopy),
  ioctlOp(IOMMU_IOAS_IOVA_RANGES, iommu_ioas_iova_ranges, 'out_iova_alignment', 'iommufd', iommufdIoasIovaRanges),
  ioctlOp(IOMMU_IOAS_MAP, iommu_ioas_map, 'iova', 'iommufd', iommufdIoasMap),
  ioctlOp(IOMMU_IOAS_UNMAP, iommu_ioas_unmap, 'length', 'iommufd', iommufdIoasUnmap),
  ioctlOp(IOMMU_OPTION, iommu_option, 'val64', 'iommufd', iommufdOption),
  ioctlOp(IOMMU_VFIO_IOAS, iommu_vfio_ioas, '__reserved', 'iommufd', iommufdVfioIoas),
  { ...ioctlOp(IOMMU_TEST_CMD, iommu_test_cmd, 'last', 'iommufd', iommufdTest), selftest: true },
];

/** @see drivers/iommu/iommufd/main.c:iommufd_fops_open */
function iommufdFopsOpen(_ctx: unknown, data: unknown, current: Task): IommufdCtx {
  const misc = data as IommufdMiscDev;
  if (shouldFail(current)) throw kerr('ENOMEM');
  return new IommufdCtx(misc.st, misc.vfio);
}

/** Every entry on the file: the context learns its file and runs as the caller. */
function iommufdFopsUnlIoctl(f: File<IommufdCtx>, cmd: number, arg: bigint, current: Task): number {
  const ictx = f.privateData;
  ictx.file ??= f;
  return ictx.enter(current, () => iommufdFopsIoctl(ictx, current, cmd, arg));
}

export const iommufdFops = {
  name: 'iommufd',
  open: iommufdFopsOpen,
  release: (f: File<IommufdCtx>) => f.privateData.release(),
  unlockedIoctl: iommufdFopsUnlIoctl,
} as const satisfies FileOperations<IommufdCtx>;

/**
 * `iommufd_ctx_from_file`: the context of an iommufd file with a reference taken (EBADFD for any
 * other file). The caller keeps its own reference on `f`.
 * @see drivers/iommu/iommufd/main.c:iommufd_ctx_from_file
 */
export function iommufdCtxFromFile(f: File<unknown>): IommufdCtx {
  if (f.fop !== (iommufdFops as FileOperations<unknown>)) throw kerr('EBADFD');
  const ictx = (f as File<IommufdCtx>).privateData;
  ictx.file ??= f as File<IommufdCtx>;
  ictx.get();
  return ictx;
}

/** `iommufd_ctx_from_fd`: EBADF for a closed fd, EBADFD for another kind of file. */
export function iommufdCtxFromFd(current: Task, fd: number): IommufdCtx {
  const f = current.files.peek(fd);
  if (!f) throw kerr('EBADF');
  return iommufdCtxFromFile(f);
}

/**
 * iommu_misc_dev asks for `MISC_DYNAMIC_MINOR`: the misc core picks the number at registration.
 * @note emulation: a fixed minor in the range dynamic misc minors take on current kernels (other
 * dynamic misc devices of the same boot, registered earlier, would shift it on a real machine).
 */
export const IOMMU_MISC_MINOR = 123;
/** `VFIO_MINOR` (include/linux/miscdevice.h) */
const VFIO_MINOR = 196;

/**
 * iommufd.ko's init: /dev/iommu (0660) and, with CONFIG_IOMMUFD_VFIO_CONTAINER, /dev/vfio/vfio
 * (0666) served by the same fops; then the selftest (CONFIG_IOMMUFD_TEST). Built with
 * CONFIG_IOMMUFD on kernels that have iommufd (6.2 on); registration failures (a second
 * /dev/vfio/vfio: EBUSY) unwind what was registered and fail the module.
 * @see drivers/iommu/iommufd/main.c:iommufd_init
 * @note emulation: /dev/iommu takes minor 123 (a dynamic misc minor in the kernel).
 */
export const iommufdModule: KernelModule = {
  name: 'iommufd',
  kconfig: ['CONFIG_IOMMUFD'],
  init(k) {
    if (!k.profile.has('iommufd')) return;
    const st = new IommufdState(k);
    const undo: (() => void)[] = [];
    try {
      undo.push(k.chrdevs.register({ path: '/dev/iommu', mode: 0o660, major: MISC_MAJOR, minor: IOMMU_MISC_MINOR, fops: iommufdFops, data: { st, vfio: false } satisfies IommufdMiscDev }));
      if (k.kconfig.CONFIG_IOMMUFD_VFIO_CONTAINER)
        undo.push(k.chrdevs.register({ path: '/dev/vfio/vfio', mode: 0o666, major: MISC_MAJOR, minor: VFIO_MINOR, fops: iommufdFops, data: { st, vfio: true } satisfies IommufdMiscDev }));
      if (k.kconfig.CONFIG_IOMMUFD_TEST) iommufdTestInit(st);
    } catch (e) {
      for (const u of undo.reverse()) u();
      throw e;
    }
    states.set(k, st);
  },
};
