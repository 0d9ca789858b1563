// SPDX-License-Identifier: GPL-2.0-only
/**
 * B3, B3b: VFIO_IOMMU_MAP_DMA + VFIO_IOMMU_UNMAP_DMA pairs through `m.sys.ioctl` on a type1v2
 * container — with 1k and 65k other mappings live (the mapping set must stay O(log n)), against
 * a JS floor (decode the two structs with a DataView, insert into and remove from the project's
 * AVL tree holding as many mappings), and with ~10,000 memory mappings in the task against 4.
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
import { DmaTree } from '../lib/vfio/dma_tree';
import type { BenchContext } from './config';
import { Row, Subject, figure, interleave, ratios, stat, verdict } from './harness';

const PAGE = 0x1000n;
const BASE = 0x1_0000_0000n;
const iovaOf = (i: number): bigint => BASE + BigInt(i) * 2n * PAGE;

/**
 * A container with `live` 4 KiB mappings at every other page and a task with `taskMappings`
 * memory mappings in all; the probe pair maps and unmaps one page in the hole in the middle.
 */
export function mapUnmapSubject(name: string, live: number, taskMappings = 4): Subject {
  const m = createMachine('intel-vtd-server');
  m.params.dma_entry_limit = Math.max(65535, live + 1);
  const group = m.host.groups().find((g) => m.host.groupHasVfioDevice(g))!;
  const c = vfio.openContainer(m);
  const g = vfio.openGroup(m, group.id);
  g.setContainer(c);
  c.setIommu(VFIO_TYPE1v2_IOMMU);
  const ram = m.sys.mmap(BigInt(live + 1) * PAGE);
  const mid = live >> 1;
  for (let i = 0; i < live; i++) c.map({ iova: iovaOf(i < mid ? i : i + 1), size: PAGE, vaddr: ram + BigInt(i) * PAGE });
  const iova = iovaOf(mid);
  const mp = m.mem.alloc(
    abi.encode(vfio_iommu_type1_dma_map, { argsz: 32, flags: VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE, vaddr: ram + BigInt(live) * PAGE, iova, size: PAGE }),
  );
  const up = m.mem.alloc(abi.encode(vfio_iommu_type1_dma_unmap, { argsz: 24, flags: 0, iova, size: PAGE }));
  const cfd = c.fd;
  // Locals: a namespace import's constants are getters, which would be measured with the ioctls.
  const MAP = VFIO_IOMMU_MAP_DMA;
  const UNMAP = VFIO_IOMMU_UNMAP_DMA;
  const sys = m.sys;
  // The task's other mappings sit below the buffers the ioctls use, as a VMM's libraries would.
  for (let i = m.mem.mappings.length; i < taskMappings; i++) m.mem.mmap(PAGE, { addr: 0x10_0000n + BigInt(i) * 2n * PAGE });
  const mappings = m.mem.mappings.length;
  if (mappings > Math.max(taskMappings, 5)) throw new Error(`${name}: ${mappings} task mappings, wanted ${taskMappings}`);
  return {
    name,
    run(n: number) {
      for (let k = 0; k < n; k++) {
        if (sys.ioctl(cfd, MAP, mp) !== 0) throw new Error(`${name}: map failed`);
        if (sys.ioctl(cfd, UNMAP, up) !== 0) throw new Error(`${name}: unmap failed`);
      }
    },
  };
}

interface FloorDma {
  readonly iova: bigint;
  readonly size: bigint;
  readonly vaddr: bigint;
  readonly prot: number;
}

/** The floor: what any JS implementation must do per pair — decode two structs, one tree insert and remove. */
export function floorSubject(live: number): Subject {
  const tree = new DmaTree<FloorDma>();
  const mid = live >> 1;
  for (let i = 0; i < live; i++) tree.insert({ iova: iovaOf(i < mid ? i : i + 1), size: PAGE, vaddr: 0n, prot: 3 });
  const iova = iovaOf(mid);
  const map = abi.encode(vfio_iommu_type1_dma_map, { argsz: 32, flags: 3, vaddr: 0x7f00_0000_0000n, iova, size: PAGE });
  const unmap = abi.encode(vfio_iommu_type1_dma_unmap, { argsz: 24, flags: 0, iova, size: PAGE });
  const mo = (f: 'argsz' | 'flags' | 'vaddr' | 'iova' | 'size') => abi.offsetof(vfio_iommu_type1_dma_map, f);
  const uo = (f: 'argsz' | 'flags' | 'iova' | 'size') => abi.offsetof(vfio_iommu_type1_dma_unmap, f);
  return {
    name: 'floor',
    run(n: number) {
      for (let k = 0; k < n; k++) {
        const v = new DataView(map.buffer, map.byteOffset, map.byteLength);
        if (v.getUint32(mo('argsz'), true) < 32) throw new Error('floor: argsz');
        const d: FloorDma = {
          iova: v.getBigUint64(mo('iova'), true),
          size: v.getBigUint64(mo('size'), true),
          vaddr: v.getBigUint64(mo('vaddr'), true),
          prot: v.getUint32(mo('flags'), true) & 3,
        };
        if (tree.findOverlap(d.iova, d.iova + d.size - 1n)) throw new Error('floor: overlap');
        tree.insert(d);
        const u = new DataView(unmap.buffer, unmap.byteOffset, unmap.byteLength);
        const ui = u.getBigUint64(uo('iova'), true);
        const us = u.getBigUint64(uo('size'), true);
        if (u.getUint32(uo('argsz'), true) < 24 || u.getUint32(uo('flags'), true)) throw new Error('floor: unmap args');
        const hit = tree.findOverlap(ui, ui + us - 1n);
        if (!hit) throw new Error('floor: lost mapping');
        tree.remove(hit);
      }
    },
  };
}

const k = (n: number): string => n.toLocaleString('en-US');

export function rows(ctx: BenchContext): Row[] {
  const { rounds, batchMs, liveMappings: [small, large], taskMappings: [few, many] } = ctx.cfg;
  ctx.log(`B3: MAP+UNMAP with ${small} and ${large} live mappings, and the floor`);
  const [tSmall, tLarge, tFloor] = interleave([mapUnmapSubject('small', small), mapUnmapSubject('large', large), floorSubject(large)], {
    rounds,
    batchMs,
  });
  ctx.log(`B3b: MAP+UNMAP with ${few} and ${many} task memory mappings`);
  const [tFew, tMany] = interleave([mapUnmapSubject('few', small, few), mapUnmapSubject('many', small, many)], { rounds, batchMs });
  const ioctlsPerSec = (msPerPair: number[]) => figure(msPerPair.map((t) => 2000 / t), 'ioctls/s');
  const vsFloor = stat(ratios(tLarge!, tFloor!));
  const scale = stat(ratios(tLarge!, tSmall!));
  const b3b = stat(ratios(tMany!, tFew!));
  const b3 = ioctlsPerSec(tLarge!);
  return [
    {
      id: 'B3',
      what: `MAP_DMA+UNMAP_DMA via m.sys.ioctl, ${k(large)} live mappings`,
      figure: b3,
      anchor: `JS floor: DataView decode + AVL tree (${k(large)}), ${(tFloor!.slice().sort((a, b) => a - b)[tFloor!.length >> 1]! * 1e3).toFixed(2)} µs/pair`,
      ratio: vsFloor,
      target: '≥ 1M ioctls/s, ≤ 2× floor',
      status: verdict(b3.median >= 1e6, vsFloor.median <= 2),
    },
    {
      id: 'B3 scale',
      what: `the same pair, ${k(large)} vs ${k(small)} live mappings`,
      figure: b3,
      anchor: `${k(small)} live mappings, ${Math.round(2000 / stat(tSmall!).median).toLocaleString('en-US')} ioctls/s`,
      ratio: scale,
      target: '≤ 1.5×',
      status: verdict(scale.median <= 1.5),
    },
    {
      id: 'B3b',
      what: `the same pair, ${k(many)} memory mappings in the task`,
      figure: ioctlsPerSec(tMany!),
      anchor: `${few} memory mappings, ${Math.round(2000 / stat(tFew!).median).toLocaleString('en-US')} ioctls/s`,
      ratio: b3b,
      target: '≤ 1.5×',
      status: verdict(b3b.median <= 1.5),
    },
  ];
}
