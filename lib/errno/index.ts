// SPDX-License-Identifier: GPL-2.0-only
export * from './errno';
export * from './kernel_error';
