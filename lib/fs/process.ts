// SPDX-License-Identifier: GPL-2.0-only
/**
 * A task as userspace holds it: its raw syscalls, its memory and credentials, and fork / exit.
 * `machine.task()` hands these out; `machine.sys` / `mem` / `cred` are the init task's.
 */
import type { Credentials } from '../cred';
import type { MmStruct } from '../mm/mm';
import { setFailNth } from '../task/fault_inject';
import type { Task } from '../task/sched';
import { SyscallHost, Syscalls } from './syscalls';

export class Process {
  readonly sys: Syscalls;

  constructor(
    readonly task: Task,
    host: SyscallHost,
    private readonly wrap: (t: Task) => Process,
  ) {
    this.sys = new Syscalls(host, task);
  }

  get pid(): number {
    return this.task.pid;
  }

  get mem(): MmStruct {
    return this.task.mm;
  }

  get cred(): Credentials {
    return this.task.cred;
  }

  /** Act as another user from now on (e.g. `user(1000)` from lib/cred). */
  setCredentials(cred: Credentials): void {
    this.task.cred = cred;
  }

  /**
   * `/proc/<pid>/task/<tid>/fail-nth`: arm the task's n-th fault-injection site (0 disarms);
   * reads back 0 once that site failed, what remains otherwise.
   */
  get failNth(): number {
    return this.task.failNth;
  }

  set failNth(n: number) {
    setFailNth(this.task, n);
  }

  get alive(): boolean {
    return this.task.alive;
  }

  /** fork(2): the child shares every open file and has a copy of the memory. */
  fork(opts: { pid?: number } = {}): Process {
    return this.wrap(this.task.fork(opts));
  }

  /** exit(2): every fd closes; a file whose last reference that was is released. */
  exit(code = 0): void {
    this.task.exit(code);
  }
}
