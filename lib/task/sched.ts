// SPDX-License-Identifier: GPL-2.0-only
/**
 * Tasks (`struct task_struct`): a pid, an address space, an fd table and credentials. A machine
 * starts with one (its init task, which `m.sys`, `m.mem` and `m.cred` stand for); `fork` copies
 * the fd table (sharing the open files) and the address space (private mappings copied, shared
 * ones shared); `exit` drops every reference the task held, so a container, group or mapping
 * whose last fd it was is released then.
 * @see include/linux/sched.h, kernel/fork.c:copy_process, kernel/exit.c:do_exit
 */
import type { Credentials } from '../cred';
import { kerr } from '../errno';
import type { MmStruct } from '../mm/mm';
import { FilesStruct } from './fdtable';

/** The resource limits the emulator enforces. @see include/uapi/asm-generic/resource.h */
export interface Rlimits {
  /** RLIMIT_NOFILE (default 1024, the usual soft limit). */
  nofile: number;
  /** RLIMIT_MEMLOCK in bytes (default 8 MiB, the default since v5.16). */
  memlock: bigint;
}

export const DEFAULT_RLIMITS: Readonly<Rlimits> = Object.freeze({ nofile: 1024, memlock: 8n << 20n });

export type TaskState = 'running' | 'dead';

/** `struct task_struct` */
export class Task {
  readonly children: Task[] = [];
  state: TaskState = 'running';
  exitCode: number | undefined;
  readonly rlim: Rlimits;
  readonly files: FilesStruct;
  /** `fail_nth` (lib/task/fault_inject.ts): 0 disarmed; a fork child starts disarmed. */
  failNth = 0;

  constructor(
    readonly tasks: TaskSet,
    readonly pid: number,
    public mm: MmStruct,
    public cred: Credentials,
    readonly parent: Task | undefined,
    rlim: Rlimits,
    files?: FilesStruct,
    /** `comm` */
    public comm = 'emulated',
  ) {
    this.rlim = { ...rlim };
    this.files = files ?? new FilesStruct(() => this.rlim.nofile);
  }

  get alive(): boolean {
    return this.state === 'running';
  }

  /** fork(2): a child with a copy of the fd table and of the address space. */
  fork(opts: { pid?: number } = {}): Task {
    if (!this.alive) throw kerr('ESRCH');
    return this.tasks.fork(this, opts.pid);
  }

  /** exit(2): close every fd, let go of the address space. Idempotent. */
  exit(code = 0): void {
    this.tasks.exit(this, code);
  }
}

/**
 * One machine's tasks (its pid namespace): pid allocation, lookup, fork and exit.
 * @note emulation: pids count up from the init task's without reuse; a front end that mirrors
 * real processes passes their pids.
 */
export class TaskSet {
  private readonly byPid = new Map<number, Task>();
  private nextPid: number;
  readonly init: Task;
  private readonly exitHooks: ((t: Task) => void)[] = [];

  constructor(mm: MmStruct, cred: Credentials, opts: { pid?: number; rlimits?: Rlimits } = {}) {
    const pid = opts.pid ?? 1;
    this.nextPid = pid + 1;
    this.init = new Task(this, pid, mm, cred, undefined, opts.rlimits ?? DEFAULT_RLIMITS);
    this.byPid.set(pid, this.init);
  }

  find(pid: number): Task | undefined {
    return this.byPid.get(pid);
  }

  get all(): Task[] {
    return [...this.byPid.values()];
  }

  private allocPid(want?: number): number {
    if (want !== undefined) {
      if (!Number.isInteger(want) || want <= 0) throw kerr('EINVAL', `pid ${want}`);
      if (this.byPid.has(want)) throw kerr('EEXIST', `pid ${want} exists`);
      if (want >= this.nextPid) this.nextPid = want + 1;
      return want;
    }
    while (this.byPid.has(this.nextPid)) this.nextPid++;
    return this.nextPid++;
  }

  /** A new process that inherits nothing but its parent's credentials (a fresh program). */
  spawn(parent: Task, mm: MmStruct, opts: { pid?: number; cred?: Credentials; comm?: string } = {}): Task {
    const t = new Task(this, this.allocPid(opts.pid), mm, opts.cred ?? parent.cred, parent, parent.rlim, undefined, opts.comm);
    parent.children.push(t);
    this.byPid.set(t.pid, t);
    return t;
  }

  /** @see kernel/fork.c:copy_process (copy_files, copy_mm, copy_creds) */
  fork(parent: Task, pid?: number): Task {
    const p = this.allocPid(pid);
    let child: Task | undefined;
    const files = parent.files.copy(() => child!.rlim.nofile);
    child = new Task(this, p, parent.mm.dup(), parent.cred, parent, parent.rlim, files, parent.comm);
    parent.children.push(child);
    this.byPid.set(p, child);
    return child;
  }

  /** Subsystems that keep per-task state clean up here (after the files, before the mm). */
  onExit(fn: (t: Task) => void): void {
    this.exitHooks.push(fn);
  }

  /** @see kernel/exit.c:do_exit (exit_files, exit_mm) */
  exit(t: Task, code: number): void {
    if (!t.alive) return;
    t.state = 'dead';
    t.exitCode = code;
    t.files.closeAll();
    for (const fn of this.exitHooks) fn(t);
    t.mm.release();
    this.byPid.delete(t.pid);
    if (t.parent) {
      const i = t.parent.children.indexOf(t);
      if (i >= 0) t.parent.children.splice(i, 1);
    }
    // Orphans are reparented to init. @see kernel/exit.c:forget_original_parent
    for (const c of t.children) if (c !== this.init) this.init.children.push(c);
    t.children.length = 0;
  }
}
