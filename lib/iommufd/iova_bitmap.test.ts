// SPDX-License-Identifier: GPL-2.0-only
import test from 'ava';
import { PROT_READ, UserMemory } from '../mm/mm';
import { IovaBitmap } from './iova_bitmap';

const PAGE = 4096n;
const MiB = 1n << 20n;

/** The indexes of the set bits in `len` bytes at `addr`. */
function setBits(mem: UserMemory, addr: bigint, len: number): number[] {
  const out: number[] = [];
  mem.read(addr, len).forEach((byte, i) => {
    for (let b = 0; b < 8; b++) if (byte & (1 << b)) out.push(i * 8 + b);
  });
  return out;
}

const offsets: [string, bigint][] = [
  ['page-aligned', 0n],
  ['one mock page in (+2 KiB)', 2048n],
  ['unaligned (+0xff1, straddles a page)', 0xff1n],
];

for (const [name, off] of offsets) {
  test(`iova_bitmap_set at a ${name} bitmap: bit n is byte n/8, bit n%8`, (t) => {
    const mem = new UserMemory();
    const base = mem.mmap(3n * PAGE);
    const data = base + off;
    const bm = IovaBitmap.alloc(mem, 0x10_0000n, 64n * MiB, PAGE, data);
    bm.set(0x10_0000n, PAGE); // bit 0
    bm.set(0x10_0000n + 9n * PAGE, 3n * PAGE); // bits 9..11
    bm.set(0x10_0000n + 127n * PAGE, 2n * PAGE); // 127, 128: crosses the byte at 0xff1+15 = 0x1000
    bm.set(0x10_0000n + 64n * MiB - PAGE, PAGE); // the last bit
    const n = Number(bm.nbits);
    t.is(n, 16384);
    t.deepEqual(setBits(mem, data, n / 8), [0, 9, 10, 11, 127, 128, n - 1]);
    t.deepEqual(setBits(mem, base, Number(off)), [], 'nothing written before the bitmap');
  });
}

test('iova_bitmap_set only sets: bits already there stay; partial pages mark their page', (t) => {
  const mem = new UserMemory();
  const data = mem.mmap(PAGE);
  mem.write(data, Uint8Array.of(0b1000_0000));
  const bm = IovaBitmap.alloc(mem, 0n, 64n * PAGE, PAGE, data);
  bm.set(0x10n, 0x20n); // inside page 0
  bm.set(PAGE * 2n - 1n, 2n); // last byte of page 1 and first of page 2
  t.deepEqual(setBits(mem, data, 8), [0, 1, 2, 7]);
});

test('iova_bitmap_set outside the bitmap is ignored; a huge page size (2 MiB bits)', (t) => {
  const mem = new UserMemory();
  const data = mem.mmap(PAGE);
  const bm = IovaBitmap.alloc(mem, 1n << 30n, 128n * MiB, 2n * MiB, data);
  bm.set(0n, PAGE);
  bm.set((1n << 30n) + 128n * MiB, PAGE);
  bm.set((1n << 30n) + 2n * MiB + 5n, 1n);
  t.deepEqual(setBits(mem, data, 8), [1]);
  t.is(bm.nbits, 64n);
});

test('a bitmap page that cannot be pinned for writing drops the rest of that record, silently', (t) => {
  const mem = new UserMemory();
  const base = mem.mmap(3n * PAGE);
  mem.munmap(base + PAGE, PAGE);
  const bm = IovaBitmap.alloc(mem, 0n, 3n * PAGE * 8n * PAGE, PAGE, base);
  const bitsPerPage = 8n * PAGE;
  bm.set(bitsPerPage * PAGE - PAGE, 2n * bitsPerPage * PAGE); // last bit of page 0 .. into page 2
  t.deepEqual(setBits(mem, base + PAGE - 1n, 1), [7], 'page 0 got its bit');
  t.deepEqual(setBits(mem, base + 2n * PAGE, Number(PAGE)), [], 'page 2 lost the record past the hole');
  bm.set(2n * bitsPerPage * PAGE, PAGE);
  t.deepEqual(setBits(mem, base + 2n * PAGE, 1), [0], 'a later record re-pins past the hole');
  const ro = mem.mmap(PAGE, { prot: PROT_READ });
  IovaBitmap.alloc(mem, 0n, PAGE * 8n, PAGE, ro).set(0n, PAGE);
  t.deepEqual(setBits(mem, ro, 1), [], 'read-only: FOLL_WRITE pin fails');
});

test('iova_bitmap_alloc: the fault-injection site is ENOMEM; forEach hands over the whole range once', (t) => {
  const mem = new UserMemory();
  const err = t.throws(() => IovaBitmap.alloc(mem, 0n, PAGE, PAGE, 0n, () => true));
  t.is((err as { code?: string }).code, 'ENOMEM');
  const bm = IovaBitmap.alloc(mem, 0x1000n, 0x4000n, PAGE, 0n);
  const calls: [bigint, bigint][] = [];
  bm.forEach((_b, iova, length) => void calls.push([iova, length]));
  t.deepEqual(calls, [[0x1000n, 0x4000n]]);
});
