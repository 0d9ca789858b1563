// SPDX-License-Identifier: GPL-2.0-only
/**
 * The ioctl fuzzer: random sequences of open/close and ioctl calls on every fd kind a VFIO user
 * meets (container, group, device from GET_DEVICE_FD, device cdev, eventfd, sysfs files, closed
 * and never-opened numbers), with random request numbers, sizes, flags, bytes and pointers
 * (valid, unmapped, straddling an unmapped page, read-only), on every built-in host under several
 * kernel profiles — through the public API only (`createMachine`, `m.sys`, `m.mem`, `m.fs`).
 * About a third of the calls are well-formed MAP_DMA, UNMAP_DMA, SET_IRQS and attach steps, so
 * successful mappings and interrupt set-ups are common rather than rare.
 *
 * After every call: the result is `>= 0` or a known `-errno` and nothing was thrown; a MAP_DMA
 * that succeeded overlaps no live mapping and lies inside one valid IOVA range (GET_INFO's list);
 * a successful UNMAP_DMA reports exactly the bytes of the mappings it removed; GET_INFO's
 * DMA_AVAIL equals the entry limit less the live mappings; each group fd's GET_STATUS agrees
 * with the attachments the calls made. Every 256 calls and at the end, /sys equals a fresh
 * render; at the end, closing every fd returns the machine to its initial state (the group opens
 * again, a device fd can be had, an unprivileged process can lock its whole RLIMIT_MEMLOCK, /sys
 * and /dev are as a fresh machine has them).
 */
import * as fc from 'fast-check';
import {
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
  PROT_READ,
  ROOT,
  VFIO_DEVICE_GET_IRQ_INFO,
  VFIO_DEVICE_SET_IRQS,
  VFIO_GROUP_FLAGS_CONTAINER_SET,
  VFIO_GROUP_GET_DEVICE_FD,
  VFIO_GROUP_GET_STATUS,
  VFIO_GROUP_SET_CONTAINER,
  VFIO_GROUP_UNSET_CONTAINER,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_DATA_NONE,
  VFIO_SET_IOMMU,
  VFIO_TYPE1_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  VfioContainerHandle,
  abi,
  builtinHostNames,
  createMachine,
  errnoName,
  eventfd,
  user,
  vfio_group_status,
  vfio_iommu_type1_dma_map,
  vfio_iommu_type1_dma_unmap,
  vfio_irq_info,
  vfio_irq_set,
  walkEmulated,
  type Machine,
} from '../lib/index';
import { FuzzFailure, rcName } from './common';
import { knownBug } from './known';

const PAGE = 4096n;
const U64 = (1n << 64n) - 1n;
/** The fuzzed process's RAM for mappings (RW), and argument areas. */
const RAM = 0x7e00_0000_0000n;
const RAM_PAGES = 4096;
const ARGS = 0x7d00_0000_0000n;
/** ARGS: 16 RW pages, one unmapped guard page, one read-only page. */
const ARG_RW_PAGES = 16n;
const GUARD = ARGS + ARG_RW_PAGES * PAGE;
const READ_ONLY = GUARD + PAGE;

export type FdKind = 'container' | 'group' | 'device' | 'cdev' | 'eventfd' | 'sysfs' | 'closed';

/** The VFIO ioctl numbers, _IO(';', 100 + n), plus neighbours and unrelated types. */
const REQUESTS = [...Array(24).keys()].map((n) => 0x3b64 + n);

export type Arg =
  | { readonly kind: 'value'; readonly v: bigint }
  | { readonly kind: 'buf'; readonly at: 'valid' | 'straddle'; readonly bytes: Uint8Array }
  | { readonly kind: 'readonly' | 'unmapped' | 'guard' };

export type Call =
  | { readonly k: 'open'; readonly what: 'container' | 'group' | 'cdev' | 'sysfs' | 'eventfd'; readonly n: number; readonly flags: number }
  | { readonly k: 'close'; readonly slot: number }
  | { readonly k: 'attach'; readonly g: number; readonly c: number; readonly v2: boolean }
  | { readonly k: 'unset'; readonly g: number }
  | { readonly k: 'getdev'; readonly g: number; readonly n: number }
  | { readonly k: 'map'; readonly c: number; readonly vpage: number; readonly ipage: number; readonly pages: number; readonly flags: number }
  | { readonly k: 'unmap'; readonly c: number; readonly ipage: number; readonly pages: number; readonly flags: number }
  | { readonly k: 'irq'; readonly d: number; readonly index: number; readonly count: number; readonly e: number; readonly none: boolean }
  | { readonly k: 'raw'; readonly slot: number; readonly req: number; readonly arg: Arg };

export interface IoctlScenario {
  readonly host: string;
  readonly kernel: string;
  readonly entryLimit: number;
}

interface OpenFd {
  readonly fd: number;
  readonly kind: FdKind;
  /** group fds: the container fd it was attached to by these calls. */
  container?: number;
}

interface Shadow {
  v2: boolean;
  /** Live mappings by iova (bytes). */
  maps: { iova: bigint; size: bigint }[];
  ranges: { start: bigint; last: bigint }[];
  limit: number;
  avail: boolean;
}

/** Calls made (for the figures), and per-outcome counts of the biased calls. */
export const ioctlCounters = { calls: 0, mapOk: 0, irqOk: 0, outcomes: new Map<string, number>() };

class Harness {
  readonly m: Machine;
  readonly fds: OpenFd[] = [];
  /** container fd → what its mappings must be. */
  readonly shadows = new Map<number, Shadow>();
  readonly groups: number[];
  readonly groupDevices: string[];
  readonly sysfsFiles: string[];
  readonly initialSys: string;
  readonly initialDev: string;
  private steps = 0;
  /** A call that can change a container's mappings happened since the last check. */
  private touched = false;

  constructor(readonly sc: IoctlScenario) {
    this.m = createMachine(sc.host, { kernel: sc.kernel });
    this.m.params.dma_entry_limit = sc.entryLimit;
    this.initialSys = snapshotSys(this.m);
    this.initialDev = snapshotDev(this.m);
    this.m.mem.mmap(BigInt(RAM_PAGES) * PAGE, { addr: RAM });
    this.m.mem.mmap(ARG_RW_PAGES * PAGE, { addr: ARGS });
    this.m.mem.mmap(PAGE, { addr: READ_ONLY, prot: PROT_READ });
    this.groups = (this.m.fs.readdirSync('/dev/vfio') as string[]).filter((n) => /^\d+$/.test(n)).map(Number);
    this.groupDevices = this.groups.flatMap((g) => (this.m.fs.readdirSync(`/sys/kernel/iommu_groups/${g}/devices`) as string[]).sort());
    const bdf = (this.m.fs.readdirSync('/sys/bus/pci/devices') as string[])[0]!;
    this.sysfsFiles = ['vendor', 'config', 'driver_override', 'reset', 'remove', 'iommu_group/reserved_regions', 'iommu_group/type'].map((f) => `/sys/bus/pci/devices/${bdf}/${f}`);
  }

  /** Mostly a container with an IOMMU set (so the well-formed calls can succeed), else any. */
  container(slot: number): OpenFd | undefined {
    const ready = this.fds.filter((f) => f.kind === 'container' && this.shadows.has(f.fd));
    return ready.length && slot % 5 !== 0 ? ready[slot % ready.length] : this.fdAt(slot, ['container']);
  }

  fdAt(slot: number, kinds?: readonly FdKind[]): OpenFd | undefined {
    const pool = kinds ? this.fds.filter((f) => kinds.includes(f.kind)) : this.fds;
    return pool.length ? pool[slot % pool.length] : undefined;
  }

  private ioctl(fd: number, req: number, arg: bigint | number, what: string): number {
    this.steps++;
    ioctlCounters.calls++;
    let rc: number;
    try {
      rc = this.m.sys.ioctl(fd, req, arg);
    } catch (e) {
      throw new FuzzFailure(`${what}: ioctl threw ${(e as Error)?.stack ?? String(e)}`);
    }
    checkRc(rc, what);
    return rc;
  }

  private put(bytes: Uint8Array, at: bigint = ARGS): bigint {
    this.m.mem.write(at, bytes);
    return at;
  }

  run(c: Call): void {
    const m = this.m;
    const what = describe(c);
    if (c.k === 'map' || c.k === 'unmap' || c.k === 'attach' || c.k === 'unset' || c.k === 'close') this.touched = true;
    if (c.k === 'raw' && ['container', 'group'].includes(this.fdAt(c.slot)?.kind ?? '')) this.touched = true;
    switch (c.k) {
      case 'open': {
        const path =
          c.what === 'container'
            ? '/dev/vfio/vfio'
            : c.what === 'group'
              ? `/dev/vfio/${this.groups[c.n % this.groups.length]}`
              : c.what === 'cdev'
                ? '/dev/vfio/devices/vfio0'
                : this.sysfsFiles[c.n % this.sysfsFiles.length]!;
        this.steps++;
        ioctlCounters.calls++;
        const fd = c.what === 'eventfd' ? eventfd(m, c.n) : m.sys.open(path, c.what === 'sysfs' ? [O_RDONLY, O_WRONLY, O_RDWR][c.flags % 3]! : O_RDWR);
        checkRc(fd, what);
        if (fd >= 0) this.fds.push({ fd, kind: c.what });
        return;
      }
      case 'close': {
        const f = this.fdAt(c.slot);
        if (!f) return;
        this.steps++;
        ioctlCounters.calls++;
        const rc = m.sys.close(f.fd);
        checkRc(rc, what);
        if (rc !== 0) throw new FuzzFailure(`${what}: close of open fd ${f.fd} (${f.kind}) returned ${rcName(rc)}`);
        this.fds.splice(this.fds.indexOf(f), 1);
        if (f.kind === 'group') this.detached(f);
        if (f.kind === 'container') {
          // The container stays alive while a group holds it; with none it is released.
          if (!this.fds.some((g) => g.container === f.fd)) this.shadows.delete(f.fd);
        }
        // An fd number may be reused: a closed container's shadow must not follow it.
        if (f.kind === 'container' && this.fds.some((g) => g.container === f.fd)) this.rekeyClosedContainer(f.fd);
        return;
      }
      case 'attach': {
        const g = this.fdAt(c.g, ['group']);
        const ct = this.fdAt(c.c, ['container']);
        if (!g || !ct) return;
        const p = this.m.mem.alloc(4);
        abi.putUser(m.mem, abi.s32, p, ct.fd);
        const rc = this.ioctl(g.fd, VFIO_GROUP_SET_CONTAINER, p, what);
        m.mem.munmap(p & ~(PAGE - 1n), PAGE);
        if (rc === 0) g.container = ct.fd;
        const rc2 = this.ioctl(ct.fd, VFIO_SET_IOMMU, c.v2 ? VFIO_TYPE1v2_IOMMU : VFIO_TYPE1_IOMMU, `${what} SET_IOMMU`);
        if (rc2 === 0) this.newShadow(ct.fd, c.v2);
        return;
      }
      case 'unset': {
        const g = this.fdAt(c.g, ['group']);
        if (!g) return;
        const rc = this.ioctl(g.fd, VFIO_GROUP_UNSET_CONTAINER, 0, what);
        if (rc === 0) this.detached(g);
        return;
      }
      case 'getdev': {
        const g = this.fdAt(c.g, ['group']);
        if (!g) return;
        const name = Buffer.from(`${this.groupDevices[c.n % this.groupDevices.length]}\0`);
        const rc = this.ioctl(g.fd, VFIO_GROUP_GET_DEVICE_FD, this.put(name), what);
        if (rc >= 0) this.fds.push({ fd: rc, kind: 'device' });
        return;
      }
      case 'map': {
        const ct = this.container(c.c);
        if (!ct) {
          tally('map no container');
          return;
        }
        const sh = this.shadows.get(ct.fd);
        const base = sh?.ranges.find((r) => r.last - r.start > 0x200_0000n)?.start ?? 0x100_0000n;
        const iova = ((base + 0xf_ffffn) & ~0xf_ffffn) + BigInt(c.ipage) * PAGE;
        const size = BigInt(c.pages) * PAGE;
        const arg = this.put(abi.encode(vfio_iommu_type1_dma_map, { argsz: 32, flags: c.flags, vaddr: RAM + BigInt(c.vpage) * PAGE, iova, size }));
        const rc = this.ioctl(ct.fd, VFIO_IOMMU_MAP_DMA, arg, what);
        if (rc === 0) ioctlCounters.mapOk++;
        tally(`map ${rcName(rc)}`);
        this.afterMap(ct.fd, rc, iova, size, c.flags, what);
        return;
      }
      case 'unmap': {
        const ct = this.container(c.c);
        if (!ct) return;
        const sh = this.shadows.get(ct.fd);
        const base = sh?.ranges.find((r) => r.last - r.start > 0x200_0000n)?.start ?? 0x100_0000n;
        const all = (c.flags & 2) !== 0;
        const iova = all ? 0n : ((base + 0xf_ffffn) & ~0xf_ffffn) + BigInt(c.ipage) * PAGE;
        const size = all ? 0n : BigInt(c.pages) * PAGE;
        const arg = this.put(abi.encode(vfio_iommu_type1_dma_unmap, { argsz: 24, flags: c.flags, iova, size }));
        const rc = this.ioctl(ct.fd, VFIO_IOMMU_UNMAP_DMA, arg, what);
        this.afterUnmap(ct.fd, rc, arg, c.flags, iova, size, what);
        return;
      }
      case 'irq': {
        const d = this.fdAt(c.d, ['device']);
        if (!d) return;
        // The first index from c.index on that has interrupts (INTx, MSI, MSI-X, ERR, REQ).
        let index = c.index;
        let have = 0;
        for (let i = 0; i < 5 && !have; i++) {
          index = (c.index + i) % 5;
          const info = this.put(abi.encode(vfio_irq_info, { argsz: 16, flags: 0, index, count: 0 }));
          if (this.ioctl(d.fd, VFIO_DEVICE_GET_IRQ_INFO, info, `${what} GET_IRQ_INFO`) !== 0) return;
          have = abi.decode(vfio_irq_info, m.mem.read(info, 16)).count;
        }
        const count = Math.min(c.count, have);
        const efds = this.fds.filter((f) => f.kind === 'eventfd');
        const fds = c.none ? [] : [...Array(count).keys()].map((i) => (efds.length ? efds[(c.e + i) % efds.length]!.fd : -1));
        const flags = (c.none ? VFIO_IRQ_SET_DATA_NONE : VFIO_IRQ_SET_DATA_EVENTFD) | VFIO_IRQ_SET_ACTION_TRIGGER;
        const data = abi.encodeArray(abi.s32, fds);
        const head = abi.encode(vfio_irq_set, { argsz: 20 + data.length, flags, index, start: 0, count: c.none ? 0 : count, data: [] });
        const buf = new Uint8Array(head.length + data.length);
        buf.set(head);
        buf.set(data, head.length);
        const rc = this.ioctl(d.fd, VFIO_DEVICE_SET_IRQS, this.put(buf), what);
        if (rc === 0 && !c.none && count > 0) ioctlCounters.irqOk++;
        tally(`irq ${rcName(rc)}`);
        return;
      }
      case 'raw': {
        const f = this.fdAt(c.slot);
        const fd = f ? f.fd : c.slot % 3 === 0 ? -1 : 900 + (c.slot % 100);
        const arg = this.argOf(c.arg);
        // Decode what a MAP/UNMAP asked for, to keep the shadow exact even for random bytes.
        const pre = f?.kind === 'container' && typeof arg === 'bigint' && (c.req === VFIO_IOMMU_MAP_DMA || c.req === VFIO_IOMMU_UNMAP_DMA) ? this.peek(arg, c.req) : undefined;
        const rc = this.ioctl(fd, c.req, arg, what);
        if (f?.kind === 'container' && pre) {
          if (c.req === VFIO_IOMMU_MAP_DMA) this.afterMap(f.fd, rc, pre.iova, pre.size, pre.flags, what);
          else this.afterUnmap(f.fd, rc, arg as bigint, pre.flags, pre.iova, pre.size, what, pre.vaddr);
        }
        if (f?.kind === 'group' && c.req === VFIO_GROUP_UNSET_CONTAINER && rc === 0) this.detached(f);
        if (f?.kind === 'group' && c.req === VFIO_GROUP_SET_CONTAINER && rc === 0) {
          const cfd = abi.getUser(m.mem, abi.s32, arg as bigint);
          f.container = cfd;
        }
        if (f?.kind === 'container' && c.req === VFIO_SET_IOMMU && rc === 0) this.newShadow(f.fd, BigInt(arg) === BigInt(VFIO_TYPE1v2_IOMMU));
        if (f?.kind === 'group' && c.req === VFIO_GROUP_GET_DEVICE_FD && rc >= 0) this.fds.push({ fd: rc, kind: 'device' });
        return;
      }
    }
  }

  private argOf(a: Arg): bigint | number {
    switch (a.kind) {
      case 'value':
        return a.v;
      case 'unmapped':
        return 0n;
      case 'guard':
        return GUARD;
      case 'readonly':
        return READ_ONLY;
      case 'buf': {
        const bytes = a.bytes.subarray(0, Number(ARG_RW_PAGES * PAGE));
        // Straddling: the bytes end where the guard page begins, so reading past them faults.
        const at = a.at === 'straddle' ? GUARD - BigInt(bytes.length) : ARGS;
        this.m.mem.write(at, bytes);
        return at;
      }
    }
  }

  /** What a MAP_DMA (32 bytes) or UNMAP_DMA (24-byte header) argument asks for, before the call. */
  private peek(arg: bigint, req: number): { flags: number; vaddr: bigint; iova: bigint; size: bigint } | undefined {
    const map = req === VFIO_IOMMU_MAP_DMA;
    const len = map ? 32 : 24;
    if (!this.m.mem.isMapped(arg, len, PROT_READ)) return undefined;
    const v = new DataView(this.m.mem.read(arg, len).buffer);
    return map
      ? { flags: v.getUint32(4, true), vaddr: v.getBigUint64(8, true), iova: v.getBigUint64(16, true), size: v.getBigUint64(24, true) }
      : { flags: v.getUint32(4, true), vaddr: 0n, iova: v.getBigUint64(8, true), size: v.getBigUint64(16, true) };
  }

  private newShadow(cfd: number, v2: boolean): void {
    const info = new VfioContainerHandle(this.m, cfd).info();
    this.shadows.set(cfd, { v2, maps: [], ranges: info.iovaRanges ?? [], limit: this.sc.entryLimit, avail: info.dmaAvail !== undefined });
  }

  private rekeyClosedContainer(cfd: number): void {
    const sh = this.shadows.get(cfd);
    this.shadows.delete(cfd);
    const key = -1000 - cfd;
    if (sh) this.shadows.set(key, sh);
    for (const g of this.fds) if (g.container === cfd) g.container = key;
  }

  /** A group left its container: the last one out releases the IOMMU and all mappings. */
  private detached(g: OpenFd): void {
    const c = g.container;
    g.container = undefined;
    if (c === undefined) return;
    if (!this.fds.some((o) => o.kind === 'group' && o.container === c)) this.shadows.delete(c);
  }

  private afterMap(cfd: number, rc: number, iova: bigint, size: bigint, flags: number, what: string): void {
    const sh = this.shadows.get(cfd);
    if (rc !== 0 || !sh) return;
    if (flags & 4) return; // VFIO_DMA_MAP_FLAG_VADDR: an existing mapping got its vaddr back
    const last = iova + size - 1n;
    const hit = sh.maps.find((d) => d.iova <= last && iova <= d.iova + d.size - 1n);
    if (hit) throw new FuzzFailure(`${what}: MAP_DMA of 0x${iova.toString(16)}+0x${size.toString(16)} succeeded over the live mapping 0x${hit.iova.toString(16)}+0x${hit.size.toString(16)}`);
    if (sh.ranges.length && !sh.ranges.some((r) => iova >= r.start && last <= r.last))
      throw new FuzzFailure(`${what}: MAP_DMA of 0x${iova.toString(16)}+0x${size.toString(16)} succeeded outside the valid IOVA list ${fmtRanges(sh.ranges)}`);
    sh.maps.push({ iova, size });
    sh.maps.sort((a, b) => (a.iova < b.iova ? -1 : 1));
  }

  private afterUnmap(cfd: number, rc: number, arg: bigint, flags: number, iova: bigint, size: bigint, what: string, _vaddr?: bigint): void {
    const sh = this.shadows.get(cfd);
    if (rc !== 0 || !sh) return;
    const back = new DataView(this.m.mem.read(arg + 16n, 8).buffer).getBigUint64(0, true);
    const all = (flags & 2) !== 0;
    const end = all ? U64 : iova + size - 1n;
    let hit = sh.maps.filter((d) => d.iova <= end && iova <= d.iova + d.size - 1n);
    if (!sh.v2 && hit.length && hit[0]!.iova < iova) hit = [];
    const want = hit.reduce((n, d) => n + d.size, 0n);
    if (back !== want)
      throw new FuzzFailure(`${what}: UNMAP_DMA reported 0x${back.toString(16)} bytes unmapped; the live mappings it covers hold 0x${want.toString(16)} (${sh.v2 ? 'v2' : 'v1'}, mappings ${sh.maps.map((d) => `0x${d.iova.toString(16)}+0x${d.size.toString(16)}`).join(', ')})`);
    if (!(flags & 4)) sh.maps = sh.maps.filter((d) => !hit.includes(d));
  }

  /** The invariants that must hold after every call. */
  checkInvariants(what: string): void {
    const touched = this.touched;
    this.touched = false;
    for (const [cfd, sh] of touched ? this.shadows : []) {
      if (cfd < 0 || !sh.avail) continue;
      const avail = new VfioContainerHandle(this.m, cfd).info().dmaAvail;
      if (avail !== sh.limit - sh.maps.length) throw new FuzzFailure(`after ${what}: DMA_AVAIL ${avail}, but ${sh.maps.length} mappings are live of ${sh.limit}`);
    }
    for (const g of this.fds) {
      if (g.kind !== 'group') continue;
      const p = this.put(abi.encode(vfio_group_status, { argsz: 8, flags: 0 }), ARGS + 8n * PAGE);
      const rc = this.m.sys.ioctl(g.fd, VFIO_GROUP_GET_STATUS, p);
      if (rc !== 0) throw new FuzzFailure(`after ${what}: GROUP_GET_STATUS on open group fd ${g.fd} returned ${rcName(rc)}`);
      const set = (abi.decode(vfio_group_status, this.m.mem.read(p, 8)).flags & VFIO_GROUP_FLAGS_CONTAINER_SET) !== 0;
      if (set !== (g.container !== undefined))
        throw new FuzzFailure(`after ${what}: group fd ${g.fd} says CONTAINER_SET=${set}, but the calls ${g.container !== undefined ? 'attached' : 'did not attach (or detached)'} it`);
    }
    if (this.steps >= 256) {
      this.steps = 0;
      this.checkSysfs(what);
    }
  }

  checkSysfs(what: string): void {
    const now = snapshotSys(this.m);
    if (now !== this.initialSys) throw new FuzzFailure(`after ${what}: /sys differs from a fresh render: ${firstDiff(this.initialSys, now)}`);
  }

  /** Close everything; the machine must be as it started. */
  closeAll(order: number): void {
    const m = this.m;
    while (this.fds.length) {
      const f = this.fds.splice((order * 7919) % this.fds.length, 1)[0]!;
      const rc = m.sys.close(f.fd);
      if (rc !== 0) throw new FuzzFailure(`closing everything: close(${f.fd}) of a ${f.kind} returned ${rcName(rc)}`);
    }
    this.checkSysfs('closing everything');
    if (snapshotDev(m) !== this.initialDev) throw new FuzzFailure(`closing everything: /dev differs from the start: ${firstDiff(this.initialDev, snapshotDev(m))}`);
    // Usable again as a fresh machine: attach, a device fd, the whole memlock limit unprivileged.
    const cfd = m.sys.open('/dev/vfio/vfio', O_RDWR);
    if (!this.groups.length) {
      // A host with no IOMMU groups at this kernel (virtio-iommu on x86 before VIOT, 5.14): the
      // container still opens, and there is nothing to attach.
      if (cfd < 0) throw new FuzzFailure(`closing everything: reopening the container gave ${rcName(cfd)}`);
      m.sys.close(cfd);
      return;
    }
    const gfd = m.sys.open(`/dev/vfio/${this.groups[0]}`, O_RDWR);
    if (cfd < 0 || gfd < 0) throw new FuzzFailure(`closing everything: reopening the container/group gave ${rcName(cfd)}/${rcName(gfd)}`);
    const p = m.mem.alloc(4);
    abi.putUser(m.mem, abi.s32, p, cfd);
    const steps: [string, number][] = [
      ['SET_CONTAINER', m.sys.ioctl(gfd, VFIO_GROUP_SET_CONTAINER, p)],
      ['SET_IOMMU', m.sys.ioctl(cfd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU)],
    ];
    const dfd = m.sys.ioctl(gfd, VFIO_GROUP_GET_DEVICE_FD, m.mem.alloc(Buffer.from(`${this.groupDevices[0]}\0`)));
    steps.push(['GET_DEVICE_FD', dfd]);
    const sh = new VfioContainerHandle(m, cfd).info();
    const base = ((sh.iovaRanges?.find((r) => r.last - r.start > 0x100_0000n)?.start ?? 0x100_0000n) + 0xf_ffffn) & ~0xf_ffffn;
    m.setCredentials(user(1000));
    steps.push(['MAP_DMA of the whole RLIMIT_MEMLOCK, unprivileged', m.sys.ioctl(cfd, VFIO_IOMMU_MAP_DMA, this.put(abi.encode(vfio_iommu_type1_dma_map, { argsz: 32, flags: 3, vaddr: RAM, iova: base, size: 8n << 20n })))]);
    m.setCredentials(ROOT);
    for (const [name, rc] of steps) if (rc < 0) throw new FuzzFailure(`closing everything: the machine is not as new: ${name} returned ${rcName(rc)}`);
    for (const fd of [dfd, gfd, cfd]) m.sys.close(fd);
  }
}

const tally = (k: string) => ioctlCounters.outcomes.set(k, (ioctlCounters.outcomes.get(k) ?? 0) + 1);

const fmtRanges = (r: { start: bigint; last: bigint }[]) => r.map((x) => `[0x${x.start.toString(16)}, 0x${x.last.toString(16)}]`).join(' ');

function checkRc(rc: number, what: string): void {
  if (!Number.isInteger(rc)) throw new FuzzFailure(`${what}: returned ${String(rc)}, not an integer`);
  if (rc < 0 && !errnoName(-rc)) throw new FuzzFailure(`${what}: returned ${rc}, not a known -errno`);
}

/** /sys as text: every entry's path, kind, mode and content (or target). */
export function snapshotSys(m: Machine): string {
  return walkEmulated(m, '/sys')
    .map((e) => `${e.path} ${e.kind} ${e.mode.toString(8)} ${e.kind === 'link' ? e.target : e.kind === 'file' ? e.content!.toString('base64') : ''}`)
    .join('\n');
}

function snapshotDev(m: Machine): string {
  const out: string[] = [];
  const walk = (p: string) => {
    for (const n of (m.fs.readdirSync(p) as string[]).sort()) {
      const c = `${p}/${n}`;
      const st = m.fs.lstatSync(c);
      out.push(`${c} ${Number(st.mode).toString(8)} ${st.rdev}`);
      if (st.isDirectory()) walk(c);
    }
  };
  walk('/dev');
  return out.join('\n');
}

function firstDiff(a: string, b: string): string {
  const x = a.split('\n');
  const y = b.split('\n');
  for (let i = 0; i < Math.max(x.length, y.length); i++) if (x[i] !== y[i]) return `was "${(x[i] ?? '(nothing)').slice(0, 160)}", now "${(y[i] ?? '(nothing)').slice(0, 160)}"`;
  return '(no difference)';
}

export function describe(c: Call): string {
  switch (c.k) {
    case 'raw': {
      const a = c.arg;
      const arg = a.kind === 'value' ? `0x${a.v.toString(16)}` : a.kind === 'buf' ? `${a.at}[${a.bytes.length}]=${Buffer.from(a.bytes.subarray(0, 48)).toString('hex')}${a.bytes.length > 48 ? '…' : ''}` : a.kind;
      return `ioctl(slot ${c.slot}, 0x${c.req.toString(16)}, ${arg})`;
    }
    default:
      return JSON.stringify(c);
  }
}

// ---- generators ------------------------------------------------------------------------------

const slot = fc.nat({ max: 31 });
const u32s = fc.oneof(fc.constantFrom(0, 1, 2, 3, 4, 7, 8, 16, 20, 24, 32, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff), fc.nat());
/** A struct-shaped buffer: argsz first (often the true size), then random u32/u64 fields. */
const structBytes = fc
  .tuple(fc.oneof(fc.constantFrom(8, 16, 20, 24, 32, 40, 48, 64, 256), fc.nat({ max: 300 })), fc.array(fc.oneof(u32s, fc.nat()), { maxLength: 24 }), fc.boolean())
  .map(([argsz, words, exact]) => {
    const n = Math.max(4, exact ? argsz : Math.min(argsz + 8, 400));
    const b = new Uint8Array(n);
    const v = new DataView(b.buffer);
    v.setUint32(0, argsz, true);
    words.forEach((w, i) => {
      if (4 + i * 4 + 4 <= n) v.setUint32(4 + i * 4, w >>> 0, true);
    });
    return b;
  });
const argArb: fc.Arbitrary<Arg> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('buf' as const), at: fc.constantFrom('valid' as const, 'valid' as const, 'straddle' as const), bytes: fc.oneof(structBytes, fc.uint8Array({ maxLength: 128 })) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('value' as const), v: fc.oneof(fc.constantFrom(0n, 1n, 3n, 8n, 9n, 10n, U64, 1n << 63n), fc.bigInt({ min: 0n, max: U64 })) }) },
  { weight: 1, arbitrary: fc.constantFrom<Arg>({ kind: 'readonly' }, { kind: 'unmapped' }, { kind: 'guard' }) },
);
const reqArb = fc.oneof(
  { weight: 10, arbitrary: fc.constantFrom(...REQUESTS) },
  { weight: 1, arbitrary: fc.constantFrom(0, 0x5401, 0x3b00, 0x3b7f, 0x3b80, 0x40083b64, 0xc0083b64, 0x8004ff00) },
  { weight: 1, arbitrary: fc.nat({ max: 0xffffffff }) },
);

export const callArb: fc.Arbitrary<Call> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ k: fc.constant('open' as const), what: fc.constantFrom('container' as const, 'group' as const, 'group' as const, 'cdev' as const, 'sysfs' as const, 'eventfd' as const), n: fc.nat({ max: 7 }), flags: fc.nat({ max: 2 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('close' as const), slot }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('attach' as const), g: slot, c: slot, v2: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('unset' as const), g: slot }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('getdev' as const), g: slot, n: fc.nat({ max: 3 }) }) },
  {
    weight: 8,
    arbitrary: fc.record({ k: fc.constant('map' as const), c: slot, vpage: fc.nat({ max: RAM_PAGES - 64 }), ipage: fc.nat({ max: 255 }), pages: fc.integer({ min: 1, max: 32 }), flags: fc.constantFrom(3, 3, 3, 1, 2) }),
  },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('unmap' as const), c: slot, ipage: fc.nat({ max: 255 }), pages: fc.integer({ min: 1, max: 64 }), flags: fc.constantFrom(0, 0, 0, 2, 4) }) },
  { weight: 6, arbitrary: fc.record({ k: fc.constant('irq' as const), d: slot, index: fc.constantFrom(0, 1, 2, 2, 3, 4), count: fc.integer({ min: 1, max: 4 }), e: slot, none: fc.boolean() }) },
  { weight: 18, arbitrary: fc.record({ k: fc.constant('raw' as const), slot: fc.nat({ max: 63 }), req: reqArb, arg: argArb }) },
);

export const ioctlScenarioArb: fc.Arbitrary<IoctlScenario> = fc.record({
  host: fc.constantFrom(...builtinHostNames()),
  kernel: fc.constantFrom('latest', 'latest', '6.12', '6.6', '6.1', '5.15', '5.11', '5.5', '5.3'),
  entryLimit: fc.constantFrom(65535, 65535, 8, 2),
});

/** One property: a scenario and a call sequence; throws FuzzFailure on a broken invariant. */
export const ioctlProperty = (calls: number) =>
  fc.property(ioctlScenarioArb, fc.array(callArb, { minLength: Math.max(1, calls >> 1), maxLength: calls, size: 'max' }), fc.nat(), (sc, seq, order) => {
    const h = new Harness(sc);
    for (const c of seq) {
      h.run(c);
      h.checkInvariants(describe(c));
    }
    h.closeAll(order);
  });

export { knownBug };
