// SPDX-License-Identifier: GPL-2.0-only
/** The VMM-side tools as a library: usable ranges, guest maps, admission checks, fleet plans, MSI placement, pictures. */
export * from './size';
export * from './guest_map';
export * from './presets';
export * from './host_view';
export * from './check';
export * from './plan';
export * from './msi_place';
export * from './fleet';
export * from './json';
export * from './map_svg';
export * from './schemas';
