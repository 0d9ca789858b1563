// SPDX-License-Identifier: GPL-2.0-only
/**
 * drivers/iommu/iommufd/main.c (studied at 6.12.117) — the iommufd context (one per open of
 * /dev/iommu), its object table, and the ioctl op table with its size protocol.
 *
 * Objects live in the context's table, not in any fd: an object id is an xarray index
 * allocated from 1 (lowest free first), reserved at allocation and visible to lookups only once
 * finalized. `users` counts references (1 for the table itself); IOMMU_DESTROY succeeds only
 * when the table's is the last one (EBUSY otherwise), so an IOAS with a HWPT or a device on it
 * cannot go. Closing the last fd destroys what can be destroyed, repeatedly, until the table is
 * empty.
 *
 * Written against small interfaces (UserMemory for the caller's memory, a credentials object, a
 * kernel profile, a fault-injection hook) so that the device node and file plumbing can be
 * plugged in around it.
 */
import {
  Decoded,
  FieldName,
  StructLayout,
  copyStructToUser,
  getUser,
  iommufdCmdFromUser,
  offsetofend,
  structPrefix,
  u32,
} from '../abi';
import { Credentials } from '../cred';
import type { MmStruct } from '../mm/mm';
import { kerr } from '../errno';
import type { Feature, KernelProfile } from '../kernel/profile';
import { _IOC_NR } from '../uapi/ioctl';
import {
  IOMMUFD_CMD_BASE,
  IOMMU_DESTROY,
  IOMMU_IOAS_ALLOC,
  IOMMU_IOAS_ALLOW_IOVAS,
  IOMMU_IOAS_COPY,
  IOMMU_IOAS_IOVA_RANGES,
  IOMMU_IOAS_MAP,
  IOMMU_IOAS_UNMAP,
  IOMMU_OPTION,
  IOMMU_VFIO_IOAS,
  iommu_destroy,
  iommu_ioas_allow_iovas,
  iommu_ioas_alloc,
  iommu_ioas_copy,
  iommu_ioas_iova_ranges,
  iommu_ioas_map,
  iommu_ioas_unmap,
  iommu_option,
  iommu_vfio_ioas,
} from '../uapi/iommufd';
import {
  iommufdIoasAllocIoctl,
  iommufdIoasAllowIovas,
  iommufdIoasCopy,
  iommufdIoasIovaRanges,
  iommufdIoasMap,
  iommufdIoasUnmap,
  iommufdOption,
} from './ioas';
import type { IoptPagesAccountMode } from './pages';
import { iommufdVfioIoas } from './vfio_compat';

/** @see drivers/iommu/iommufd/iommufd_private.h:enum iommufd_object_type */
export type IommufdObjectType =
  | 'device'
  | 'hwpt_paging'
  | 'hwpt_nested'
  | 'ioas'
  | 'access'
  | 'fault'
  | 'viommu'
  | 'vdevice'
  | 'selftest';

/** A type to look up, or any. */
export type IommufdObjectMatch = IommufdObjectType | 'any';

/** @see drivers/iommu/iommufd/main.c:struct iommufd_object_ops */
export interface IommufdObjectOps {
  destroy(): void;
  /** Undo a half-built object; destroy() when absent. */
  abort?(): void;
}

/** Allocation and lookup sites where fail_nth-style injection can strike. */
export interface IommufdFaults {
  /** iommufd_should_fail(), and every kzalloc the model counts. */
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

const NEVER: IommufdFaults = { shouldFail: () => false };
/** xa_limit_31b */
const ID_MAX = 0x7fff_ffff;

export interface IommufdCtxOptions {
  profile: KernelProfile;
  faults?: IommufdFaults;
  /** /dev/vfio/vfio opened as the iommufd compat container: process (mm) accounting. */
  vfioCompat?: boolean;
}

/** @see drivers/iommu/iommufd/iommufd_private.h:struct iommufd_ctx */
export class IommufdCtx {
  readonly profile: KernelProfile;
  readonly faults: IommufdFaults;
  readonly objects = new Map<number, IommufdObject<any>>(); // eslint-disable-line @typescript-eslint/no-explicit-any
  accountMode: IoptPagesAccountMode;
  /** The IOAS the VFIO compat ioctls act on (IOMMU_VFIO_IOAS). */
  vfioIoas: IommufdObject<any> | undefined; // eslint-disable-line @typescript-eslint/no-explicit-any

  constructor(opts: IommufdCtxOptions) {
    this.profile = opts.profile;
    this.faults = opts.faults ?? NEVER;
    this.accountMode = opts.vfioCompat ? 'mm' : 'user';
  }

  /** ENOMEM at an allocation site chosen by fault injection. */
  alloc(): void {
    if (this.faults.shouldFail()) throw kerr('ENOMEM');
  }

  /**
   * Reserve the lowest free id ≥ 1; the object is invisible to lookups until finalized.
   * @see drivers/iommu/iommufd/main.c:_iommufd_object_alloc
   */
  objectAlloc<T>(type: IommufdObjectType): IommufdObject<T> {
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
    (obj.ops.abort ?? obj.ops.destroy).call(obj.ops);
    this.objectAbort(obj);
  }

  /**
   * A counted reference to a finalized object of `type`: missing id, wrong type or an object
   * being destroyed → ENOENT. Release with putObject.
   * @see drivers/iommu/iommufd/main.c:iommufd_get_object
   */
  getObject<T = unknown>(id: number, type: IommufdObjectMatch): IommufdObject<T> {
    if (this.faults.shouldFail()) throw kerr('ENOENT');
    const obj = this.objects.get(id);
    if (!obj || !obj.finalized || (type !== 'any' && obj.type !== type) || obj.users === 0) throw kerr('ENOENT');
    obj.users++;
    obj.shorttermUsers++;
    return obj;
  }

  /** @see drivers/iommu/iommufd/iommufd_private.h:iommufd_put_object */
  putObject(obj: IommufdObject): void {
    obj.shorttermUsers--;
    obj.users--;
  }

  /** A long-term reference (refcount_inc(&obj->users)), e.g. a HWPT holding its IOAS. */
  refObject(obj: IommufdObject): void {
    obj.users++;
  }

  unrefObject(obj: IommufdObject): void {
    obj.users--;
  }

  /**
   * Destroy by id (IOMMU_DESTROY; `toDestroy` undefined) or a known object whose caller holds
   * one reference. Not there → ENOENT; still referenced → EBUSY and nothing changes.
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

  /**
   * The last close: destroy every object nobody else references, again and again, until none
   * is left (objects referencing others go first, freeing them).
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

/** One ioctl as main.c's iommufd_ucmd sees it: the decoded struct and the way back. */
export class IommufdUcmd<L extends StructLayout<any>> {
  constructor(
    readonly ictx: IommufdCtx,
    readonly mem: MmStruct,
    readonly cred: Credentials,
    readonly ubuffer: bigint,
    readonly userSize: number,
    readonly layout: L,
    /** The running kernel's struct size. */
    readonly size: number,
    readonly cmd: Decoded<L>,
  ) {}

  /**
   * Copy the struct back: min(user size, the kernel's struct) bytes (EFAULT).
   * @see drivers/iommu/iommufd/iommufd_private.h:iommufd_ucmd_respond
   */
  respond(len: number = this.size): void {
    copyStructToUser(this.mem, this.layout, this.ubuffer, this.cmd as never, Math.min(this.userSize, len));
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
export function ioctlTable(ops: readonly IommufdIoctlOp[], profile: KernelProfile): (IommufdIoctlOp | undefined)[] {
  const table: (IommufdIoctlOp | undefined)[] = [];
  for (const op of ops) if (profile.has(op.feature)) table[_IOC_NR(op.ioctlNum) - IOMMUFD_CMD_BASE] = op;
  return table;
}

export interface IommufdIoctlCall {
  readonly ictx: IommufdCtx;
  readonly mem: MmStruct;
  readonly cred: Credentials;
  /** `nr` outside the table: iommufd_vfio_ioctl (ENOIOCTLCMD when there is none). */
  readonly compat?: (cmd: number, arg: bigint) => number;
}

/**
 * The dispatcher, in the kernel's order: nr outside the table → the VFIO compat handler; the
 * leading `size` read (EFAULT); a hole or another number at that slot → ENOIOCTLCMD (ENOTTY to
 * the user); size < min_size → EINVAL; copy_struct_from_user against the running kernel's struct
 * (E2BIG, EFAULT); then the handler.
 * @see drivers/iommu/iommufd/main.c:iommufd_fops_ioctl
 */
export function iommufdFopsIoctl(
  table: readonly (IommufdIoctlOp | undefined)[],
  call: IommufdIoctlCall,
  cmd: number,
  arg: bigint,
): number {
  const nr = _IOC_NR(cmd);
  if (nr < IOMMUFD_CMD_BASE || nr - IOMMUFD_CMD_BASE >= table.length) {
    if (call.compat) return call.compat(cmd, arg);
    throw kerr('ENOIOCTLCMD');
  }
  const userSize = getUser(call.mem, u32, arg);
  const op = table[nr - IOMMUFD_CMD_BASE];
  if (!op || op.ioctlNum !== cmd) throw kerr('ENOIOCTLCMD');
  const size = opSize(op, call.ictx.profile);
  const value = iommufdCmdFromUser(call.mem, op.layout, arg, userSize, op.last, size);
  return op.execute(new IommufdUcmd(call.ictx, call.mem, call.cred, arg, userSize, op.layout, size, value));
}

/** IOMMU_DESTROY: any finalized object by id. @see drivers/iommu/iommufd/main.c:iommufd_destroy */
export function iommufdDestroy(ucmd: IommufdUcmd<typeof iommu_destroy>): number {
  ucmd.ictx.objectRemove(undefined, ucmd.cmd.id);
  return 0;
}

/**
 * The op table of drivers/iommu/iommufd/main.c, row by row with the profile feature that brought
 * each ioctl and, for structs that grew, the member each later release ends at.
 * @note emulation: ioctls not modelled yet are absent, so they answer ENOTTY on every kernel.
 */
export const iommufdIoctlOps: readonly IommufdIoctlOp[] = [
  ioctlOp(IOMMU_DESTROY, iommu_destroy, 'id', 'iommufd', iommufdDestroy),
  ioctlOp(IOMMU_IOAS_ALLOC, iommu_ioas_alloc, 'out_ioas_id', 'iommufd', (u) => iommufdIoasAllocIoctl(u)),
  ioctlOp(IOMMU_IOAS_ALLOW_IOVAS, iommu_ioas_allow_iovas, 'allowed_iovas', 'iommufd', iommufdIoasAllowIovas),
  ioctlOp(IOMMU_IOAS_COPY, iommu_ioas_copy, 'src_iova', 'iommufd', iommufdIoasCopy),
  ioctlOp(IOMMU_IOAS_IOVA_RANGES, iommu_ioas_iova_ranges, 'out_iova_alignment', 'iommufd', iommufdIoasIovaRanges),
  ioctlOp(IOMMU_IOAS_MAP, iommu_ioas_map, 'iova', 'iommufd', iommufdIoasMap),
  ioctlOp(IOMMU_IOAS_UNMAP, iommu_ioas_unmap, 'length', 'iommufd', iommufdIoasUnmap),
  ioctlOp(IOMMU_OPTION, iommu_option, 'val64', 'iommufd', iommufdOption),
  ioctlOp(IOMMU_VFIO_IOAS, iommu_vfio_ioas, '__reserved', 'iommufd', iommufdVfioIoas),
];
