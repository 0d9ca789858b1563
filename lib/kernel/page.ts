// SPDX-License-Identifier: GPL-2.0-only
/**
 * The x86_64 (4-level paging, 4 KiB pages) facts every layer uses: the page size and the top of
 * the user address space. Declared once here.
 * @see arch/x86/include/asm/page_types.h, arch/x86/include/asm/page_64_types.h
 * @note emulation: every emulated host runs 4 KiB kernel pages and a 47-bit user address space,
 * whatever its topology's arch (the arm64 defconfig has 4 KiB pages too).
 */
export const PAGE_SHIFT = 12n;
export const PAGE_SIZE = 1n << PAGE_SHIFT;
/** `PAGE_MASK` as an unsigned 64-bit value. */
export const PAGE_MASK = ((1n << 64n) - 1n) & ~(PAGE_SIZE - 1n);
/** PAGE_SIZE as a number, for byte buffers (a sysfs show/store buffer is one page). */
export const PAGE_BYTES = Number(PAGE_SIZE);
/** Top of the x86_64 4-level user address space (47 bits), `TASK_SIZE_MAX`. */
export const TASK_SIZE = 0x8000_0000_0000n;

export const pageAlignUp = (n: bigint): bigint => (n + PAGE_SIZE - 1n) & ~(PAGE_SIZE - 1n);
export const isPageAligned = (n: bigint): boolean => (n & (PAGE_SIZE - 1n)) === 0n;
