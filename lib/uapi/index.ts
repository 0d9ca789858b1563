// SPDX-License-Identifier: GPL-2.0-only
export * from './ioctl';
export * from './vfio';
export * from './iommufd';
export * from './pci_regs';
export * from './fcntl';
export * from './iommufd_test';
