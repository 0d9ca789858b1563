// SPDX-License-Identifier: GPL-2.0-only
/**
 * The address space of a real process as the emulator's `MmStruct`: what the preload shim's
 * callers' ioctls dereference. copy_from_user / copy_to_user are process_vm_readv / writev, which
 * fault exactly where the kernel's own user copies would (an unmapped page, a PROT_NONE page, a
 * read-only page for a write); the pinning checks ask the kernel for the VMAs (PROCMAP_QUERY on
 * /proc/PID/maps, or its text before v6.11). Needs ptrace access to the process (the same user,
 * or root; no Yama restrictions).
 * @see mm/memory.c:access_remote_vm, mm/process_vm_access.c, fs/proc/task_mmu.c:do_procmap_query
 */
import * as nodeFs from 'node:fs';
import { kerr } from '../errno';
import { PAGE_SIZE, TASK_SIZE } from '../kernel/page';
import type { MmStruct, MmapOptions, Vma } from '../mm/mm';
import { PROT_READ, PROT_WRITE } from '../uapi/fcntl';
import type { NativeBinding } from './native';

/** PROCMAP_QUERY_VMA_* (include/uapi/linux/fs.h): the same bits as PROT_* plus SHARED. */
const VMA_SHARED = 8;
const PROT_EXEC = 4;

/** A device mapping the front end makes in the real process: the memfd and offset to map there. */
export type DeviceMapper = (backing: NonNullable<MmapOptions['backing']>, length: bigint, opts: MmapOptions) => void;

const big = (n: bigint | number): bigint => (typeof n === 'bigint' ? n : BigInt(n));

export class ProcMm implements MmStruct {
  lockedVm = 0n;
  pinnedVm = 0n;
  private dead = false;
  private mapsFd = -1;
  /** False once PROCMAP_QUERY said ENOTTY (a kernel before v6.11): read the text instead. */
  private query = true;
  private readonly q = new BigUint64Array(3);

  constructor(
    /** The process, in the server's pid namespace. */
    readonly pid: number,
    private readonly native: NativeBinding,
    private readonly mapper?: DeviceMapper,
  ) {}

  get alive(): boolean {
    return !this.dead;
  }

  read(addr: bigint, length: number): Uint8Array {
    const out = new Uint8Array(length);
    if (length === 0) return out;
    if (this.dead || addr < 0n || addr + BigInt(length) > TASK_SIZE) throw kerr('EFAULT');
    if (this.native.vmRead(this.pid, addr, out) !== length) throw kerr('EFAULT');
    return out;
  }

  write(addr: bigint, bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (this.dead || addr < 0n || addr + BigInt(bytes.length) > TASK_SIZE) throw kerr('EFAULT');
    if (this.native.vmWrite(this.pid, addr, bytes) !== bytes.length) throw kerr('EFAULT');
  }

  private maps(): number {
    if (this.mapsFd < 0) this.mapsFd = nodeFs.openSync(`/proc/${this.pid}/maps`, 'r');
    return this.mapsFd;
  }

  /** The VMA covering `addr`, or the first one above it. */
  private vmaFrom(addr: bigint): Vma | undefined {
    if (this.dead) return undefined;
    if (this.query) {
      let rc: number;
      try {
        rc = this.native.vmaQuery(this.maps(), addr, this.q);
      } catch {
        return undefined;
      }
      if (rc === 0) {
        const f = Number(this.q[2]);
        return { start: this.q[0]!, end: this.q[1]!, prot: f & (PROT_READ | PROT_WRITE | PROT_EXEC), shared: (f & VMA_SHARED) !== 0 };
      }
      if (rc !== -25 /* ENOTTY */) return undefined;
      this.query = false;
    }
    return this.mappings.find((v) => v.end > addr);
  }

  isMapped(addr: bigint, length: bigint | number, prot = 0): boolean {
    const len = big(length);
    if (len === 0n) return true;
    if (addr < 0n || len < 0n || addr + len > TASK_SIZE) return false;
    const end = addr + len;
    for (let cur = addr; cur < end; ) {
      const v = this.vmaFrom(cur);
      if (!v || v.start > cur || (v.prot & prot) !== prot) return false;
      cur = v.end;
    }
    return true;
  }

  findVma(addr: bigint): Vma | undefined {
    const v = this.vmaFrom(addr);
    return v && v.start <= addr ? v : undefined;
  }

  /** From /proc/PID/maps: `start-end perms offset dev inode path`. */
  get mappings(): readonly Vma[] {
    if (this.dead) return [];
    let text: string;
    try {
      text = nodeFs.readFileSync(`/proc/${this.pid}/maps`, 'utf8');
    } catch {
      return [];
    }
    const out: Vma[] = [];
    for (const line of text.split('\n')) {
      const m = /^([0-9a-f]+)-([0-9a-f]+) ([r-])([w-])([x-])([ps])/.exec(line);
      if (!m) continue;
      out.push({
        start: BigInt(`0x${m[1]}`),
        end: BigInt(`0x${m[2]}`),
        prot: (m[3] === 'r' ? PROT_READ : 0) | (m[4] === 'w' ? PROT_WRITE : 0) | (m[5] === 'x' ? PROT_EXEC : 0),
        shared: m[6] === 's',
      });
    }
    return out;
  }

  /**
   * Only a device's pages are ever mapped through the emulator (`mmap` of an emulated fd): the
   * front end maps them into the process itself, which chooses the address.
   * @note emulation: the address returned is 0; the front end reports the real one.
   */
  mmap(length: bigint | number, opts: MmapOptions = {}): bigint {
    if (!opts.backing || !this.mapper) throw kerr('ENODEV', 'only device memory is mapped into a real process from here');
    this.mapper(opts.backing, big(length), opts);
    return 0n;
  }

  /** The process unmaps its memory itself. */
  munmap(): void {}

  /**
   * @note emulation: the pages are copies read now, not the process's pages: a later store by
   * the process is not seen through them.
   */
  pinPages(addr: bigint, npages: number, prot: number): Uint8Array[] {
    if (addr % PAGE_SIZE !== 0n || !this.isMapped(addr, BigInt(npages) * PAGE_SIZE, prot)) throw kerr('EFAULT');
    const out: Uint8Array[] = [];
    for (let i = 0; i < npages; i++) out.push(this.read(addr + BigInt(i) * PAGE_SIZE, Number(PAGE_SIZE)));
    return out;
  }

  /** fork: the front end gives the child task a ProcMm of the child's pid. */
  dup(): ProcMm {
    const child = new ProcMm(0, this.native, this.mapper);
    child.dead = true;
    return child;
  }

  /** Tests and tools allocate in their own memory; a real process allocates its own. */
  alloc(): bigint {
    throw new Error(`cannot allocate in process ${this.pid}: only the process maps its memory`);
  }

  release(): void {
    this.dead = true;
    if (this.mapsFd >= 0) nodeFs.closeSync(this.mapsFd);
    this.mapsFd = -1;
  }
}
