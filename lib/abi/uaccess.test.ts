// SPDX-License-Identifier: GPL-2.0-only
import test from 'ava';
import { isKernelError } from '../errno';
import { decode, encode } from './codec';
import { aligned_u64, s32, struct, u32, u64 } from './layout';
import { MMAP_BASE, PROT_READ, UserMemory } from '../mm/mm';
import {
  PAGE_SIZE,
  copyFromUser,
  copyStructFromUser,
  copyStructToUser,
  copyToUser,
  getUser,
  iommufdCmdFromUser,
  iommufdUserSize,
  putUser,
  strndupUser,
  vfioArgszFromUser,
} from './uaccess';

const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    if (isKernelError(e)) return e.code;
    throw e;
  }
  return 'OK';
};

test('mmap hands out page-aligned addresses high in the address space', (t) => {
  const mem = new UserMemory();
  const a = mem.mmap(1n);
  const b = mem.mmap(3n * PAGE_SIZE);
  t.is(a, MMAP_BASE);
  t.is(a % PAGE_SIZE, 0n);
  t.is(b % PAGE_SIZE, 0n);
  t.true(b > a);
  t.true(mem.isMapped(a, PAGE_SIZE), 'length rounded up to a page');
  t.false(mem.isMapped(a + PAGE_SIZE, 1), 'guard page after each mapping');
  t.is(code(() => mem.mmap(0n)), 'EINVAL');
});

test('unmapped space is reused: map/unmap cycles keep the address space and the mapping list bounded', (t) => {
  const mem = new UserMemory();
  const keep = mem.mmap(PAGE_SIZE);
  const first = mem.mmap(2n * PAGE_SIZE);
  for (let i = 0; i < 1000; i++) {
    const a = mem.mmap(2n * PAGE_SIZE);
    mem.munmap(a, 2n * PAGE_SIZE);
    t.is(a, first + 3n * PAGE_SIZE, 'the same hole every time');
  }
  mem.munmap(first, 2n * PAGE_SIZE);
  t.is(mem.mmap(PAGE_SIZE), first, 'a freed range is handed out again');
  t.is(mem.mmap(PAGE_SIZE), first + 2n * PAGE_SIZE, 'with the guard page after the previous mapping');
  t.is(mem.mappings.length, 3);
  t.is(keep, MMAP_BASE);
});

test('memory is per instance', (t) => {
  const m1 = new UserMemory();
  const m2 = new UserMemory();
  const a = m1.alloc(Uint8Array.of(1, 2, 3));
  t.is(code(() => m2.read(a, 3)), 'EFAULT');
});

test('64 GiB of guest RAM is sparse until touched', (t) => {
  const mem = new UserMemory();
  const ram = mem.mmap(64n << 30n);
  t.is(mem.residentBytes, 0n);
  t.true(mem.isMapped(ram, 64n << 30n));
  t.deepEqual([...mem.read(ram + (63n << 30n), 4)], [0, 0, 0, 0], 'untouched memory reads as zero');
  mem.write(ram + (32n << 30n) + PAGE_SIZE - 2n, Uint8Array.of(1, 2, 3, 4));
  t.is(mem.residentBytes, 2n * PAGE_SIZE, 'a write straddling a page boundary touches two pages');
  t.deepEqual([...mem.read(ram + (32n << 30n) + PAGE_SIZE - 3n, 6)], [0, 1, 2, 3, 4, 0]);
});

const faults: { name: string; run: (mem: UserMemory, buf: bigint) => unknown }[] = [
  { name: 'NULL read', run: (mem) => mem.read(0n, 1) },
  { name: 'NULL write', run: (mem) => mem.write(0n, Uint8Array.of(0)) },
  { name: 'unmapped', run: (mem) => mem.read(0x1000n, 4) },
  { name: 'one byte past an alloc', run: (mem, buf) => mem.read(buf, 17) },
  { name: 'straddling into the guard page', run: (mem, buf) => mem.read(buf + 8n, 16) },
  { name: 'straddling from below', run: (mem, buf) => mem.read(mem.findVma(buf)!.start - 4n, 8) },
  { name: 'kernel address', run: (mem) => mem.read(0xffff_8000_0000_0000n, 1) },
  { name: 'negative address', run: (mem) => mem.read(-8n, 8) },
  { name: 'after munmap', run: (mem, buf) => (mem.munmap(buf & ~(PAGE_SIZE - 1n), PAGE_SIZE), mem.read(buf, 1)) },
  { name: 'write to read-only', run: (mem) => mem.write(mem.mmap(PAGE_SIZE, { prot: PROT_READ }), Uint8Array.of(1)) },
  { name: 'get_user on NULL', run: (mem) => getUser(mem, u32, 0n) },
  { name: 'copy_from_user unmapped', run: (mem) => copyFromUser(mem, 0x7000_0000_0000n, 1) },
];

for (const f of faults) {
  test(`EFAULT: ${f.name}`, (t) => {
    const mem = new UserMemory();
    const buf = mem.alloc(16);
    t.is(code(() => f.run(mem, buf)), 'EFAULT');
  });
}

test('zero-length accesses never fault, even at NULL', (t) => {
  const mem = new UserMemory();
  t.is(mem.read(0n, 0).length, 0);
  t.true(mem.isMapped(0n, 0));
});

test('alloc places the buffer flush against the end of its mapping', (t) => {
  const mem = new UserMemory();
  const buf = mem.alloc(Uint8Array.of(9, 8, 7));
  t.deepEqual([...mem.read(buf, 3)], [9, 8, 7]);
  t.false(mem.isMapped(buf, 4));
  t.is(mem.findVma(buf)?.end, buf + 3n);
});

test('munmap splits a mapping and MAP_FIXED replaces one', (t) => {
  const mem = new UserMemory();
  const a = mem.mmap(4n * PAGE_SIZE);
  mem.write(a + PAGE_SIZE, Uint8Array.of(5));
  mem.munmap(a + PAGE_SIZE, PAGE_SIZE);
  t.true(mem.isMapped(a, PAGE_SIZE));
  t.false(mem.isMapped(a + PAGE_SIZE, 1));
  t.true(mem.isMapped(a + 2n * PAGE_SIZE, 2n * PAGE_SIZE));
  t.is(code(() => mem.munmap(a + 1n, PAGE_SIZE)), 'EINVAL');
  t.is(mem.mmap(PAGE_SIZE, { addr: a + PAGE_SIZE }), a + PAGE_SIZE);
  t.deepEqual([...mem.read(a + PAGE_SIZE, 1)], [0], 'old contents are gone');
  t.true(mem.isMapped(a, 4n * PAGE_SIZE));
  t.is(mem.mappings.length, 3);
});

test('get_user / put_user', (t) => {
  const mem = new UserMemory();
  const p = mem.alloc(16);
  putUser(mem, u32, p, 0xfffffffe);
  putUser(mem, u64, p + 8n, 0x8000_0000_0000_0001n);
  t.is(getUser(mem, u32, p), 0xfffffffe);
  t.is(getUser(mem, s32, p), -2);
  t.is(getUser(mem, u64, p + 8n), 0x8000_0000_0000_0001n);
  copyToUser(mem, p, Uint8Array.of(1, 0, 0, 0));
  t.is(getUser(mem, u32, p), 1);
});

test('strndup_user', (t) => {
  const mem = new UserMemory();
  const s = mem.alloc(new TextEncoder().encode('0000:00:1f.3\0'));
  t.is(strndupUser(mem, s, 4096), '0000:00:1f.3');
  t.is(code(() => strndupUser(mem, s, 5)), 'EINVAL', 'no NUL within n');
  const unterminated = mem.alloc(new TextEncoder().encode('abc'));
  t.is(code(() => strndupUser(mem, unterminated, 4096)), 'EFAULT');
});

// A kernel struct of 16 bytes; userspace may be older (shorter) or newer (longer).
const kstruct = struct('kstruct', { size: u32, id: u32, val: aligned_u64 });

const structCases: { name: string; user: number[]; usize: number; expect: string | object }[] = [
  { name: 'same size', user: [16, 0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0], usize: 16, expect: { size: 16, id: 7, val: 1n } },
  { name: 'older user struct is zero-extended', user: [8, 0, 0, 0, 7, 0, 0, 0], usize: 8, expect: { size: 8, id: 7, val: 0n } },
  {
    name: 'newer user struct with a zero tail is accepted',
    user: [24, 0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    usize: 24,
    expect: { size: 24, id: 7, val: 1n },
  },
  {
    name: 'newer user struct with a non-zero tail is E2BIG',
    user: [24, 0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    usize: 24,
    expect: 'E2BIG',
  },
  { name: 'tail running into unmapped memory is EFAULT', user: [32, 0, 0, 0], usize: 32, expect: 'EFAULT' },
  { name: 'usize 0 yields an all-zero struct', user: [], usize: 0, expect: { size: 0, id: 0, val: 0n } },
];

for (const c of structCases) {
  test(`copy_struct_from_user: ${c.name}`, (t) => {
    const mem = new UserMemory();
    const p = mem.alloc(Uint8Array.from(c.user));
    if (typeof c.expect === 'string') t.is(code(() => copyStructFromUser(mem, kstruct, p, c.usize)), c.expect);
    else t.deepEqual(copyStructFromUser(mem, kstruct, p, c.usize), c.expect);
  });
}

const iommufdCases: { name: string; usize: number; tail?: number[]; expect: string }[] = [
  { name: 'size below min_size', usize: 7, expect: 'EINVAL' },
  { name: 'size == min_size (older struct)', usize: 8, expect: 'OK' },
  { name: 'size == sizeof', usize: 16, expect: 'OK' },
  { name: 'larger, zero tail', usize: 24, tail: [0, 0, 0, 0, 0, 0, 0, 0], expect: 'OK' },
  { name: 'larger, non-zero tail', usize: 24, tail: [0, 0, 0, 0, 0, 0, 0, 0xff], expect: 'E2BIG' },
  { name: 'larger than the mapping', usize: 4096, expect: 'EFAULT' },
];

for (const c of iommufdCases) {
  test(`iommufd size protocol: ${c.name}`, (t) => {
    const mem = new UserMemory();
    const body = encode(kstruct, { size: c.usize, id: 3, val: 0x1_0000_0000n });
    const p = mem.alloc(Uint8Array.from([...body, ...(c.tail ?? [])]));
    const usize = iommufdUserSize(mem, p);
    t.is(usize, c.usize);
    t.is(code(() => iommufdCmdFromUser(mem, kstruct, p, usize, 'id')), c.expect);
    if (c.expect === 'OK') {
      const v = iommufdCmdFromUser(mem, kstruct, p, usize, 'id');
      t.is(v.id, 3);
      t.is(v.val, c.usize >= 16 ? 0x1_0000_0000n : 0n, 'bytes past usize are not read');
    }
  });
}

test('iommufd size protocol: NULL is EFAULT before anything else', (t) => {
  t.is(code(() => iommufdUserSize(new UserMemory(), 0n)), 'EFAULT');
});

const info = struct('info', { argsz: u32, flags: u32, pgsizes: aligned_u64, cap_offset: u32, pad: u32 });

const argszCases: { name: string; argsz: number; mapped: number; expect: string }[] = [
  { name: 'argsz == minsz', argsz: 16, mapped: 16, expect: 'OK' },
  { name: 'argsz > sizeof', argsz: 4096, mapped: 16, expect: 'OK' },
  { name: 'argsz < minsz', argsz: 15, mapped: 16, expect: 'EINVAL' },
  { name: 'argsz 0', argsz: 0, mapped: 16, expect: 'EINVAL' },
  { name: 'minsz not mapped (EFAULT wins over EINVAL)', argsz: 4, mapped: 12, expect: 'EFAULT' },
];

for (const c of argszCases) {
  test(`vfio argsz protocol: ${c.name}`, (t) => {
    const mem = new UserMemory();
    const bytes = encode(info, { argsz: c.argsz, flags: 1, pgsizes: 0x1000n, cap_offset: 99 }).subarray(0, c.mapped);
    const p = mem.alloc(bytes);
    t.is(code(() => vfioArgszFromUser(mem, info, p, 'pgsizes')), c.expect);
    if (c.expect === 'OK') {
      const { value, minsz } = vfioArgszFromUser(mem, info, p, 'pgsizes');
      t.is(minsz, 16);
      t.is(value.pgsizes, 0x1000n);
      t.is(value.cap_offset, 0, 'nothing past minsz is read');
    }
  });
}

test('copyStructToUser writes only the first len bytes', (t) => {
  const mem = new UserMemory();
  const p = mem.alloc(new Uint8Array(24).fill(0xee));
  copyStructToUser(mem, info, p, { argsz: 24, flags: 3, pgsizes: 1n, cap_offset: 24 }, 16);
  const back = decode(info, copyFromUser(mem, p, 24));
  t.is(back.flags, 3);
  t.is(back.pgsizes, 1n);
  t.is(back.cap_offset, 0xeeeeeeee, 'beyond len untouched');
  t.is(code(() => copyStructToUser(mem, info, p + 8n, {})), 'EFAULT', 'sizeof does not fit');
});
