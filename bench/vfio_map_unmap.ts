// SPDX-License-Identifier: GPL-2.0-only
/**
 * VFIO_IOMMU_MAP_DMA + VFIO_IOMMU_UNMAP_DMA throughput through the syscall boundary, with 1k and
 * 65k other mappings live in the container: the type1 mapping set must stay O(log n) per ioctl.
 */
import {
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_TYPE1v2_IOMMU,
  abi,
  createMachine,
  vfio,
  vfio_iommu_type1_dma_map,
  vfio_iommu_type1_dma_unmap,
} from '../lib';

const PAGE = 0x1000n;

export interface MapUnmapResult {
  readonly live: number;
  readonly pairs: number;
  readonly ioctlsPerSec: number;
}

/** MAP+UNMAP pairs per second (counted as 2 ioctls each) with `live` other 4 KiB mappings. */
export function benchMapUnmap(live: number, seconds = 1.5): MapUnmapResult {
  const m = createMachine('intel-vtd-server');
  m.params.dma_entry_limit = 65535;
  const group = m.host.groups().find((g) => m.host.groupHasVfioDevice(g))!;
  const c = vfio.openContainer(m);
  const g = vfio.openGroup(m, group.id);
  g.setContainer(c);
  c.setIommu(VFIO_TYPE1v2_IOMMU);
  const ram = m.sys.mmap(BigInt(live + 1) * PAGE);
  const base = 0x1_0000_0000n;
  for (let i = 0; i < live; i++) c.map({ iova: base + BigInt(i) * 2n * PAGE, size: PAGE, vaddr: ram + BigInt(i) * PAGE });
  // The probe lands in the middle of the live set, in a hole between two mappings.
  const iova = base + BigInt(live) * PAGE + PAGE;
  const mp = m.mem.alloc(
    abi.encode(vfio_iommu_type1_dma_map, { argsz: 32, flags: VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE, vaddr: ram + BigInt(live) * PAGE, iova, size: PAGE }),
  );
  const up = m.mem.alloc(abi.encode(vfio_iommu_type1_dma_unmap, { argsz: 24, flags: 0, iova, size: PAGE }));
  const cfd = c.fd;
  let pairs = 0;
  const deadline = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  const t0 = process.hrtime.bigint();
  while (process.hrtime.bigint() < deadline) {
    for (let k = 0; k < 200; k++) {
      if (m.sys.ioctl(cfd, VFIO_IOMMU_MAP_DMA, mp) !== 0) throw new Error('map failed');
      if (m.sys.ioctl(cfd, VFIO_IOMMU_UNMAP_DMA, up) !== 0) throw new Error('unmap failed');
      pairs++;
    }
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  return { live, pairs, ioctlsPerSec: (2 * pairs) / secs };
}

export function run(): void {
  const small = benchMapUnmap(1000);
  const large = benchMapUnmap(65534);
  const fmt = (r: MapUnmapResult) => `${Math.round(r.ioctlsPerSec).toLocaleString('en-US')} ioctls/s (${r.pairs} MAP+UNMAP pairs)`;
  console.log(`vfio type1 MAP+UNMAP, 1k live mappings:  ${fmt(small)}`);
  console.log(`vfio type1 MAP+UNMAP, 65k live mappings: ${fmt(large)}`);
  console.log(`ratio 1k/65k: ${(small.ioctlsPerSec / large.ioctlsPerSec).toFixed(2)}`);
}
