// SPDX-License-Identifier: GPL-2.0-only
export * from './plugin';
export * from './load';
