// SPDX-License-Identifier: GPL-2.0-only
export * from './diff';
