// SPDX-License-Identifier: GPL-2.0-only
import test from 'ava';
import { s32 } from '../abi';
import {
  _IO,
  _IOC,
  _IOC_DIR,
  _IOC_NR,
  _IOC_READ,
  _IOC_SIZE,
  _IOC_TYPE,
  _IOC_WRITE,
  _IOR,
  _IOW,
  _IOWR,
  ioctlName,
} from './ioctl';
import { VFIO_IOCTL_NAMES, vfio_iommu_type1_dma_map, vfio_iommu_type1_dma_unmap, vfio_iommu_type1_info } from './vfio';

// Expected values printed by lib/uapi/c/uapi_layout.c (gcc, asm-generic/ioctl.h).
test('_IOR/_IOW/_IOWR derive the size from the layout', (t) => {
  t.is(_IOR(';', 0x70, vfio_iommu_type1_info), 0x80183b70);
  t.is(_IOW(';', 0x71, vfio_iommu_type1_dma_map), 0x40203b71);
  t.is(_IOWR(';', 0x72, vfio_iommu_type1_dma_unmap), 0xc0183b72);
  t.is(_IOW('T', 0x01, s32), 0x40045401);
  t.is(_IO(';', 100), 0x3b64);
  t.is(_IO(0x3b, 0x80), 0x3b80);
});

test('_IOC_* take a request number apart', (t) => {
  const cmd = 0xc0183b72;
  t.is(_IOC_DIR(cmd), _IOC_READ | _IOC_WRITE);
  t.is(_IOC_TYPE(cmd), 0x3b);
  t.is(_IOC_NR(cmd), 0x72);
  t.is(_IOC_SIZE(cmd), 24);
  t.is(_IOC(_IOC_DIR(cmd), _IOC_TYPE(cmd), _IOC_NR(cmd), _IOC_SIZE(cmd)), cmd);
});

test('_IOC rejects fields that do not fit', (t) => {
  t.throws(() => _IOC(0, ';', 256, 0));
  t.throws(() => _IOC(0, ';', 0, 1 << 14));
  t.throws(() => _IOC(4, ';', 0, 0));
  t.throws(() => _IOC(0, ';;', 0, 0));
});

test('ioctlName names shared numbers and decodes unknown ones', (t) => {
  t.is(
    ioctlName(0x3b70, VFIO_IOCTL_NAMES),
    'VFIO_DEVICE_GET_PCI_HOT_RESET_INFO|VFIO_IOMMU_GET_INFO|VFIO_IOMMU_SPAPR_TCE_GET_INFO (0x3b70)',
  );
  t.is(ioctlName(0x3b67, VFIO_IOCTL_NAMES), 'VFIO_GROUP_GET_STATUS (0x3b67)');
  t.is(ioctlName(0x3b7f), "_IO(';', 0x7f) (0x3b7f)");
  t.is(ioctlName(0xc0183b72), "_IOWR(';', 0x72, 24) (0xc0183b72)");
  t.is(ioctlName(_IOW(0x01, 2, s32)), '_IOW(0x1, 0x2, 4) (0x40040102)');
});
