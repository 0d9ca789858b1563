// SPDX-License-Identifier: GPL-2.0-only
export * from './layout';
export * from './codec';
export * from './uaccess';
export * from './cap_chain';
