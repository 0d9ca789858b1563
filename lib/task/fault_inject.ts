// SPDX-License-Identifier: GPL-2.0-only
/**
 * Fault injection's per-task `fail-nth` counter (`/proc/<pid>/task/<tid>/fail-nth`): a task sets
 * it to n, and the n-th fault-injection site that task passes from then on fails; the counter
 * reads 0 once it fired, and what is left otherwise. Every site counts, whatever its kind (slab
 * allocations, user copies, a subsystem's own `should_fail()` points).
 * @see lib/fault-inject.c:should_fail_ex (the fail_nth branch)
 * @see fs/proc/base.c:proc_fail_nth_write, proc_fail_nth_read
 * @see kernel/fork.c:dup_task_struct (a child starts with fail_nth 0)
 * @note emulation: only the sites the emulator models count (iommufd's allocations, user copies
 * and `iommufd_should_fail()` points); the kernel also counts every other kmalloc on the path.
 */
import { kerr } from '../errno';
import type { Task } from './sched';

/** INT_MAX: proc_fail_nth_write refuses larger values. */
const FAIL_NTH_MAX = 0x7fff_ffff;

/** `should_fail()` on behalf of `t`: true at the site where its counter reaches zero. */
export function shouldFail(t: Task | undefined): boolean {
  if (!t || t.failNth === 0) return false;
  t.failNth--;
  return t.failNth === 0;
}

/** Writing fail-nth: a decimal count, 0 disarms. EINVAL for anything else. */
export function setFailNth(t: Task, n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > FAIL_NTH_MAX) throw kerr('EINVAL', `fail-nth ${n}`);
  t.failNth = n;
}
