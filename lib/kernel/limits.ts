// SPDX-License-Identifier: GPL-2.0-only
/** include/linux/limits.h, as bigint where the value does not fit a double exactly. */
export const U64_MAX = (1n << 64n) - 1n;
export const U32_MAX = 0xffffffff;
