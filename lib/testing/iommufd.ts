// SPDX-License-Identifier: GPL-2.0-only
/**
 * Builders for the lib/iommufd AVA tests (not exported): an open /dev/iommu of a machine built
 * with iommufd, its raw ioctls with the argument structs in the machine's memory (results as an
 * errno name, 0 or the value), and the selftest commands the tests lean on.
 */
import { Input, StructLayout, decode, encode } from '../abi';
import type { Errno } from '../errno';
import type { IommufdCtx } from '../iommufd/main';
import { Machine, MachineOptions, createMachine } from '../machine';
import type { Process } from '../fs/process';
import type { Kconfig, TopologyInput } from '../topology/topology';
import { O_RDWR } from '../uapi/fcntl';
import * as I from '../uapi/iommufd';
import * as T from '../uapi/iommufd_test';
import { iommufdMachine, rcCode } from './vfio';

export const PAGE = 4096n;
export const RW = I.IOMMU_IOAS_MAP_READABLE | I.IOMMU_IOAS_MAP_WRITEABLE;

/**
 * A machine with iommufd and its selftest (the mock driver). Without `host`, a kernel with no
 * IOMMU and no PCI devices (the mock devices are all there is, as in the kselftest's machine):
 * a tenth of the cost of building a full host, which the fail_nth sweeps do hundreds of times.
 */
export function selftestMachine(opts: MachineOptions & { kconfig?: Partial<Kconfig>; topology?: Partial<TopologyInput>; host?: string } = {}): Machine {
  const { host, kconfig, topology, ...rest } = opts;
  if (host !== undefined) return iommufdMachine(host, { kernel: '6.12', topology, ...rest, kconfig: { CONFIG_IOMMUFD_TEST: true, ...kconfig } });
  const bare = { name: 'iommufd-selftest', kernel: '6.12', arch: 'x86_64', iommus: [], devices: [], ...topology } as TopologyInput;
  return createMachine({ ...bare, kconfig: { CONFIG_IOMMUFD: true, CONFIG_IOMMUFD_TEST: true, ...(bare.kconfig ?? {}), ...kconfig } } as TopologyInput, { kernel: '6.12', ...rest });
}

/** One open iommufd of one process. */
export class IommufdFd {
  constructor(
    readonly p: Process,
    readonly fd: number,
  ) {}

  static open(m: Machine | Process, path = '/dev/iommu'): IommufdFd {
    const p = 'init' in m ? m.init : m;
    const fd = p.sys.open(path, O_RDWR);
    if (fd < 0) throw new Error(`open ${path}: ${rcCode(fd)}`);
    return new IommufdFd(p, fd);
  }

  /** The context behind the fd (white-box checks). */
  get ictx(): IommufdCtx {
    return this.p.sys.fds.peek(this.fd)!.privateData as IommufdCtx;
  }

  alloc(bytes: Uint8Array | number): bigint {
    const b = typeof bytes === 'number' ? new Uint8Array(bytes) : bytes;
    const base = this.p.mem.mmap(Math.max(b.length, 1));
    if (b.length) this.p.mem.write(base, b);
    return base;
  }

  /** The raw ioctl: 0 or a value, or the errno's name. */
  raw(cmd: number, arg: bigint | number): number | Errno {
    const rc = this.p.sys.ioctl(this.fd, cmd, arg);
    return rc >= 0 ? rc : rcCode(rc);
  }

  /** Issue `cmd` with `value` (size defaults to sizeof); returns the result and the struct after. */
  io<L extends StructLayout<any>>(cmd: number, layout: L, value: Input<L>, size = layout.size) {
    const bytes = new Uint8Array(Math.max(size, layout.size));
    bytes.set(encode(layout, { size, ...value } as Input<L>).subarray(0, Math.min(size, layout.size)));
    const p = this.alloc(bytes);
    const rc = this.raw(cmd, p);
    return { rc, out: decode(layout, this.p.mem.read(p, layout.size)), p };
  }

  ioasAlloc(): number {
    const { rc, out } = this.io(I.IOMMU_IOAS_ALLOC, I.iommu_ioas_alloc, {});
    if (rc !== 0) throw new Error(`IOAS_ALLOC: ${rc}`);
    return out.out_ioas_id;
  }

  /** IOAS_MAP of a fresh buffer (or `user_va`); `iova` undefined: automatic. */
  map(ioas: number, length: bigint, iova?: bigint, flags = RW, userVa?: bigint) {
    const user_va = userVa ?? this.p.mem.mmap(length);
    return this.io(I.IOMMU_IOAS_MAP, I.iommu_ioas_map, { ioas_id: ioas, flags: flags | (iova === undefined ? 0 : I.IOMMU_IOAS_MAP_FIXED_IOVA), user_va, length, iova: iova ?? 0n });
  }

  unmap(ioas: number, iova: bigint, length: bigint) {
    return this.io(I.IOMMU_IOAS_UNMAP, I.iommu_ioas_unmap, { ioas_id: ioas, iova, length });
  }

  destroy(id: number): number | Errno {
    return this.io(I.IOMMU_DESTROY, I.iommu_destroy, { id }).rc;
  }

  /** IOMMU_TEST_CMD `op` with its union member. */
  test(op: number, id: number, member: Input<typeof T.iommu_test_cmd>) {
    return this.io(T.IOMMU_TEST_CMD, T.iommu_test_cmd, { op, id, ...member });
  }

  /** MOCK_DOMAIN(_FLAGS): a mock device attached to `pt`. */
  mockDomain(pt: number, devFlags?: number) {
    const r =
      devFlags === undefined
        ? this.test(T.IOMMU_TEST_OP_MOCK_DOMAIN, pt, {})
        : this.test(T.IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS, pt, { mock_domain_flags: { dev_flags: devFlags } });
    return { rc: r.rc, stdev: r.out.mock_domain.out_stdev_id, hwpt: r.out.mock_domain.out_hwpt_id, idev: r.out.mock_domain.out_idev_id };
  }

  addReserved(ioas: number, start: bigint, length: bigint): number | Errno {
    return this.test(T.IOMMU_TEST_OP_ADD_RESERVED, ioas, { add_reserved: { start, length } }).rc;
  }

  checkRefs(uptr: bigint, length: bigint, refs: number): number | Errno {
    return this.test(T.IOMMU_TEST_OP_MD_CHECK_REFS, 0, { check_refs: { uptr, length, refs } }).rc;
  }

  checkMap(hwpt: number, iova: bigint, length: bigint, uptr: bigint): number | Errno {
    return this.test(T.IOMMU_TEST_OP_MD_CHECK_MAP, hwpt, { check_map: { iova, length, uptr } }).rc;
  }

  /** IOAS_IOVA_RANGES with room for `room` ranges. */
  iovaRanges(ioas: number, room = 16) {
    const arr = this.alloc(16 * Math.max(room, 1));
    const r = this.io(I.IOMMU_IOAS_IOVA_RANGES, I.iommu_ioas_iova_ranges, { ioas_id: ioas, num_iovas: room, allowed_iovas: arr });
    const n = Math.min(r.out.num_iovas, room);
    const ranges = Array.from({ length: n }, (_, i) => decode(I.iommu_iova_range, this.p.mem.read(arr + BigInt(16 * i), 16)));
    return { rc: r.rc, num: r.out.num_iovas, alignment: r.out.out_iova_alignment, ranges };
  }

  close(): void {
    this.p.sys.close(this.fd);
  }
}
