// SPDX-License-Identifier: GPL-2.0-only
export * from './channel';
export * from './server';
export * from './sysfs_fuse';
export * from './fuse_dev';
export * from './mount';
export * from './native';
export * from './preload';
export * from './proc_mm';
export * from './control';
