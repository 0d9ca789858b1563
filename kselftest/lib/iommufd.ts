// SPDX-License-Identifier: GPL-2.0-only
/**
 * The iommufd selftest's helpers (tools/testing/selftests/iommu/iommufd_utils.h) over raw
 * syscalls of an emulated machine: `test_ioctl_*` asserts success, `err*` expects an errno,
 * `try*` returns the result. Structs live in the process's memory and are passed by address.
 *
 * The selftest needs a kernel built with CONFIG_IOMMUFD_TEST (the mock IOMMU driver), not any
 * particular hardware: `selftestKernel(t)` is one such machine per kernel version, shared by the
 * tests of a run the way the real selftest shares the running kernel, with the selftest's global
 * 16-page MAP_SHARED `buffer`. Every teardown closes the fd and checks, from a new one, that no
 * page of the buffer is still pinned.
 */
import {
  abi,
  DEFAULT_HOST,
  IOMMU_DESTROY,
  IOMMU_HWPT_ALLOC,
  IOMMU_IOAS_ALLOC,
  IOMMU_IOAS_MAP,
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  IOMMU_IOAS_UNMAP,
  IOMMU_TEST_CMD,
  IOMMU_TEST_OP_ADD_RESERVED,
  IOMMU_TEST_OP_MD_CHECK_MAP,
  IOMMU_TEST_OP_MD_CHECK_REFS,
  IOMMU_TEST_OP_MOCK_DOMAIN,
  IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS,
  IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE,
  IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT,
  MAP_SHARED,
  O_RDWR,
  createMachine,
  iommu_destroy,
  iommu_hwpt_alloc,
  iommu_ioas_alloc,
  iommu_ioas_map,
  iommu_ioas_unmap,
  iommu_test_cmd,
  kernelProfile,
  resolveHost,
  type Feature,
  type Machine,
} from '../../lib/index';
import type { SuiteT } from './suite';

export const PAGE_SIZE = 4096n;
/** MOCK_PAGE_SIZE (iommufd_utils.h): the mock domain's 2 KiB pages. */
export const MOCK_PAGE_SIZE = PAGE_SIZE / 2n;
export const BUFFER_SIZE = 16n * PAGE_SIZE;
export const MiB = 1n << 20n;
/** The memory limit the selftest restores after each test (iommufd_test_memory_limit). */
export const DEFAULT_MEMORY_LIMIT = 65536;

type Layout = Parameters<typeof abi.encode>[0];

/** One selftest kernel: the machine and its global buffer. */
export interface SelftestKernel {
  readonly m: Machine;
  readonly buffer: bigint;
}

/**
 * One selftest kernel per run of a program (keyed by its parsed options, one object per run) and
 * kernel release: the tests of a run share it as they share the one kernel they run on, while
 * two runs in one process (the AVA bridge runs programs concurrently) never see each other's
 * objects, pins or memory limit.
 */
const kernels = new WeakMap<object, Map<string, SelftestKernel>>();

/** The kernel the run targets (its --kernel, else the host topology's), without building the host. */
function targetKernel(t: SuiteT): string {
  const o = t.options as Record<string, unknown>;
  if (typeof o.kernel === 'string') return o.kernel;
  const host = typeof o.host === 'string' ? o.host : DEFAULT_HOST;
  return resolveHost(host).kernel;
}

/**
 * A machine of the target's kernel built with CONFIG_IOMMUFD and CONFIG_IOMMUFD_TEST, or SKIP:
 * on a directory or live target (the mock driver exists only in an emulated kernel), and on
 * kernels before iommufd (6.2).
 */
export function selftestKernel(t: SuiteT, need: Feature = 'iommufd'): SelftestKernel {
  if (t.target.kind !== 'emulator') t.skip(`${t.target.description}: the iommufd selftest needs CONFIG_IOMMUFD_TEST (an emulated kernel)`);
  const kernel = targetKernel(t);
  const profile = kernelProfile(kernel);
  if (!profile.has('iommufd')) t.skip(`kernel ${profile.release} has no iommufd (6.2 and later)`);
  if (!profile.has(need)) t.skip(`kernel ${profile.release} has no ${need}`);
  let run = kernels.get(t.options);
  if (!run) kernels.set(t.options, (run = new Map()));
  let k = run.get(profile.release);
  if (!k) {
    const m = createMachine({
      name: 'iommufd-selftest',
      description: 'a kernel built with CONFIG_IOMMUFD_TEST: the mock IOMMU driver, no PCI devices',
      kernel: profile.release,
      arch: 'x86_64',
      iommus: [],
      devices: [],
      kconfig: { CONFIG_IOMMUFD: true, CONFIG_IOMMUFD_TEST: true },
    });
    k = { m, buffer: m.sys.mmap(BUFFER_SIZE, { flags: MAP_SHARED }) };
    run.set(profile.release, k);
  }
  return k;
}

/** An open /dev/iommu with the iommufd_utils.h helpers. */
export class Iommufd {
  readonly fd: number;
  /** One page the single-struct commands are encoded into (no allocation per call). */
  private readonly scratch: bigint;
  /** Mappings `put` made, unmapped at `close`: the selftest machine outlives the test. */
  private readonly owned: { addr: bigint; length: bigint }[] = [];

  constructor(
    readonly t: SuiteT,
    readonly m: Machine,
  ) {
    this.fd = m.sys.open('/dev/iommu', O_RDWR);
    t.assertNe(-1, this.fd);
    this.scratch = this.mmap(PAGE_SIZE);
  }

  /** Anonymous memory released at `close`. */
  mmap(length: bigint, flags = 0): bigint {
    const addr = this.m.sys.mmap(length, { flags });
    this.t.assertLt(0n, addr);
    this.owned.push({ addr, length });
    return addr;
  }

  /** A struct in fresh user memory (zero-padded to `size`, at least its layout's size), ending where its mapping ends. */
  put<L extends Layout>(layout: L, value: abi.Input<L>, size = abi.sizeof(layout)): bigint {
    const bytes = new Uint8Array(Math.max(size, abi.sizeof(layout)));
    bytes.set(abi.encode(layout, value).subarray(0, abi.sizeof(layout)));
    const length = (BigInt(bytes.length) + PAGE_SIZE - 1n) & ~(PAGE_SIZE - 1n);
    const base = this.mmap(length);
    const addr = base + length - BigInt(bytes.length);
    this.m.mem.write(addr, bytes);
    return addr;
  }

  get<L extends Layout>(layout: L, addr: bigint): abi.Decoded<L> {
    return abi.decode(layout, this.m.mem.read(addr, abi.sizeof(layout)));
  }

  ioctl(req: number, arg: bigint | number): number {
    return this.m.sys.ioctl(this.fd, req, arg);
  }

  /** An iommufd command with its `size` filled in, encoded in the scratch page; `out` decodes the struct after the call. */
  cmd<L extends Layout>(req: number, layout: L, value: abi.Input<L>): { rc: number; readonly out: abi.Decoded<L> } {
    const p = this.scratch;
    this.m.mem.write(p, abi.encode(layout, { size: abi.sizeof(layout), ...value } as abi.Input<L>));
    const rc = this.ioctl(req, p);
    const bytes = this.m.mem.read(p, abi.sizeof(layout));
    let out: abi.Decoded<L> | undefined;
    return {
      rc,
      get out() {
        return (out ??= abi.decode(layout, bytes));
      },
    };
  }

  test(op: number, id: number, member: abi.Input<typeof iommu_test_cmd> = {}) {
    return this.cmd(IOMMU_TEST_CMD, iommu_test_cmd, { op, id, ...member });
  }

  ioasAlloc(): number {
    const r = this.cmd(IOMMU_IOAS_ALLOC, iommu_ioas_alloc, {});
    this.t.assertEq(0, r.rc);
    return r.out.out_ioas_id;
  }

  tryMap(ioas: number, buf: bigint, length: bigint, iova?: bigint, flags = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE) {
    const r = this.cmd(IOMMU_IOAS_MAP, iommu_ioas_map, { ioas_id: ioas, user_va: buf, length, iova: iova ?? 0n, flags: flags | (iova === undefined ? 0 : IOMMU_IOAS_MAP_FIXED_IOVA) });
    return { rc: r.rc, iova: r.out.iova };
  }

  /** test_ioctl_ioas_map(_fixed): returns the IOVA. */
  map(ioas: number, buf: bigint, length: bigint, iova?: bigint): bigint {
    const r = this.tryMap(ioas, buf, length, iova);
    this.t.assertEq(0, r.rc);
    return r.iova;
  }

  errMap(errno: string, ioas: number, buf: bigint, length: bigint, iova?: bigint): boolean {
    return this.t.expectErrno(errno, this.tryMap(ioas, buf, length, iova).rc);
  }

  tryUnmap(ioas: number, iova: bigint, length: bigint) {
    const r = this.cmd(IOMMU_IOAS_UNMAP, iommu_ioas_unmap, { ioas_id: ioas, iova, length });
    return { rc: r.rc, length: r.out.length };
  }

  unmap(ioas: number, iova: bigint, length: bigint): bigint {
    const r = this.tryUnmap(ioas, iova, length);
    this.t.assertEq(0, r.rc);
    return r.length;
  }

  tryDestroy(id: number): number {
    return this.cmd(IOMMU_DESTROY, iommu_destroy, { id }).rc;
  }

  destroy(id: number): void {
    this.t.assertEq(0, this.tryDestroy(id));
  }

  tryMockDomain(pt: number, devFlags?: number) {
    const r =
      devFlags === undefined
        ? this.test(IOMMU_TEST_OP_MOCK_DOMAIN, pt)
        : this.test(IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS, pt, { mock_domain_flags: { dev_flags: devFlags } });
    return { rc: r.rc, stdev: r.out.mock_domain.out_stdev_id, hwpt: r.out.mock_domain.out_hwpt_id, idev: r.out.mock_domain.out_idev_id };
  }

  /** test_cmd_mock_domain(_flags): { stdev, hwpt, idev }. */
  mockDomain(pt: number, devFlags?: number) {
    const r = this.tryMockDomain(pt, devFlags);
    this.t.assertEq(0, r.rc);
    return r;
  }

  tryReplace(stdev: number, pt: number): number {
    return this.test(IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, stdev, { mock_domain_replace: { pt_id: pt } }).rc;
  }

  replace(stdev: number, pt: number): void {
    this.t.assertEq(0, this.tryReplace(stdev, pt));
  }

  tryHwptAlloc(devId: number, ptId: number, flags = 0, extra: abi.Input<typeof iommu_hwpt_alloc> = {}) {
    const r = this.cmd(IOMMU_HWPT_ALLOC, iommu_hwpt_alloc, { dev_id: devId, pt_id: ptId, flags, ...extra });
    return { rc: r.rc, id: r.out.out_hwpt_id };
  }

  hwptAlloc(devId: number, ptId: number, flags = 0, extra: abi.Input<typeof iommu_hwpt_alloc> = {}): number {
    const r = this.tryHwptAlloc(devId, ptId, flags, extra);
    this.t.assertEq(0, r.rc);
    return r.id;
  }

  addReserved(ioas: number, start: bigint, length: bigint): number {
    return this.test(IOMMU_TEST_OP_ADD_RESERVED, ioas, { add_reserved: { start, length } }).rc;
  }

  /** MD_CHECK_MAP on `hwpts`: the mock entries point at the pages under `uptr`. */
  checkMockIova(hwpts: readonly number[], uptr: bigint, iova: bigint, length: bigint): void {
    for (const h of hwpts) this.t.assertEq(0, this.test(IOMMU_TEST_OP_MD_CHECK_MAP, h, { check_map: { iova, length, uptr } }).rc);
  }

  /** MD_CHECK_REFS: every page of the range is pinned `refs` times. */
  checkRefs(uptr: bigint, length: bigint, refs: number): void {
    this.t.assertEq(0, this.test(IOMMU_TEST_OP_MD_CHECK_REFS, 0, { check_refs: { uptr, length, refs } }).rc);
  }

  setTempMemoryLimit(limit: number): void {
    this.t.assertEq(0, this.test(IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT, 0, { memory_limit: { limit } }).rc);
  }

  close(): void {
    this.t.expectEq(0, this.m.sys.close(this.fd));
    for (const o of this.owned.splice(0)) this.m.sys.munmap(o.addr, o.length);
  }
}

/** teardown_iommufd(): close, reopen, nothing of the buffer pinned any more. */
export function teardownIommufd(t: SuiteT, k: SelftestKernel, fd: Iommufd): void {
  fd.close();
  const again = new Iommufd(t, k.m);
  t.expectEq(0, again.test(IOMMU_TEST_OP_MD_CHECK_REFS, 0, { check_refs: { uptr: k.buffer, length: BUFFER_SIZE, refs: 0 } }).rc);
  again.close();
}

/** Bit `i` of a bitmap in user memory. */
export function testBit(m: Machine, bitmap: bigint, i: bigint): boolean {
  return ((m.mem.read(bitmap + i / 8n, 1)[0]! >> Number(i % 8n)) & 1) === 1;
}
