// SPDX-License-Identifier: GPL-2.0-only
import test from 'ava';
import {
  StructLayout,
  aligned_u64,
  anonUnion,
  array,
  flex,
  flexMember,
  offsetof,
  offsetofend,
  packedStruct,
  s16,
  s32,
  s64,
  s8,
  sizeof,
  struct,
  structSize,
  u16,
  u32,
  u64,
  u8,
} from './layout';

// Torture structs mirrored from lib/uapi/c/uapi_layout.c; expected numbers are gcc 12.2 x86_64 output.
const t_u8_u64 = struct('t_u8_u64', { a: u8, b: u64 });
const t_tail = struct('t_tail', { a: u64, b: u8 });
const t_inner = struct('t_inner', { c: u8, d: u32 });
const t_nested = struct('t_nested', { a: u8, in: t_inner, e: u16 });
const t_nested64 = struct('t_nested64', { a: u16, in: t_u8_u64, z: u8 });
const t_flex_u64 = struct('t_flex_u64', { a: u32, f: flex(u64) });
const t_flex_mid = struct('t_flex_mid', { a: u64, b: u32, f: flex(u8) });
const t_flex_s32 = struct('t_flex_s32', { a: u16, f: flex(s32) });
const t_arrays = struct('t_arrays', { a: array(u8, 3), b: array(u16, 3), c: u64, d: array(u8, 5) });
const t_union = struct('t_union', { a: u32, union: anonUnion({ b: u8, c: u64 }), d: u16 });
const t_mixed = struct('t_mixed', { a: s8, b: s16, c: s32, d: s64, e: u16 });
const t_packed = packedStruct('t_packed', { a: u8, b: u16, c: u64, d: u32 });

interface Case {
  layout: StructLayout<any>;
  size: number;
  align: number;
  /** field → [offsetof, offsetofend]; flexible arrays → [offsetof, null] */
  fields: Record<string, [number, number | null]>;
}

const cases: Case[] = [
  { layout: t_u8_u64, size: 16, align: 8, fields: { a: [0, 1], b: [8, 16] } },
  { layout: t_tail, size: 16, align: 8, fields: { a: [0, 8], b: [8, 9] } },
  { layout: t_inner, size: 8, align: 4, fields: { c: [0, 1], d: [4, 8] } },
  { layout: t_nested, size: 16, align: 4, fields: { a: [0, 1], in: [4, 12], e: [12, 14] } },
  { layout: t_nested64, size: 32, align: 8, fields: { a: [0, 2], in: [8, 24], z: [24, 25] } },
  { layout: t_flex_u64, size: 8, align: 8, fields: { a: [0, 4], f: [8, null] } },
  { layout: t_flex_mid, size: 16, align: 8, fields: { a: [0, 8], b: [8, 12], f: [12, null] } },
  { layout: t_flex_s32, size: 4, align: 4, fields: { a: [0, 2], f: [4, null] } },
  { layout: t_arrays, size: 32, align: 8, fields: { a: [0, 3], b: [4, 10], c: [16, 24], d: [24, 29] } },
  { layout: t_union, size: 24, align: 8, fields: { a: [0, 4], b: [8, 9], c: [8, 16], d: [16, 18] } },
  { layout: t_mixed, size: 24, align: 8, fields: { a: [0, 1], b: [2, 4], c: [4, 8], d: [8, 16], e: [16, 18] } },
  { layout: t_packed, size: 15, align: 1, fields: { a: [0, 1], b: [1, 3], c: [3, 11], d: [11, 15] } },
];

for (const c of cases) {
  test(`${c.layout.name} matches gcc`, (t) => {
    t.is(sizeof(c.layout), c.size, 'sizeof');
    t.is(c.layout.align, c.align, '_Alignof');
    t.deepEqual(
      c.layout.members.map((m) => m.name),
      Object.keys(c.fields),
      'members in declaration order',
    );
    for (const [name, [off, end]] of Object.entries(c.fields)) {
      t.is(offsetof(c.layout, name), off, `offsetof ${name}`);
      if (end !== null) t.is(offsetofend(c.layout, name), end, `offsetofend ${name}`);
    }
  });
}

test('a flexible array adds nothing to sizeof but can start inside the tail padding', (t) => {
  t.is(flexMember(t_flex_mid)?.offset, 12);
  t.is(sizeof(t_flex_mid), 16);
  t.is(offsetofend(t_flex_mid, 'f'), 12, 'flex occupies zero bytes');
  t.is(structSize(t_flex_mid, 3), 16 + 3, 'struct_size() counts from sizeof');
  t.is(structSize(t_flex_u64, 2), 8 + 16);
  t.is(flexMember(t_tail), undefined);
});

test('aligned_u64 and u64 are distinct declarations with the same LP64 layout', (t) => {
  t.not(aligned_u64, u64);
  t.is(aligned_u64.name, 'aligned_u64');
  t.deepEqual([aligned_u64.size, aligned_u64.align], [u64.size, u64.align]);
  const a = struct('a', { x: u32, y: aligned_u64 });
  const b = struct('b', { x: u32, y: u64 });
  t.is(offsetof(a, 'y'), offsetof(b, 'y'));
});

test('field names are type-checked and checked at run time', (t) => {
  // @ts-expect-error — 'argz' is not a member; tsc must reject it.
  t.throws(() => offsetof(t_tail, 'argz'));
  // @ts-expect-error — anonymous-union placeholder keys are not members.
  t.throws(() => offsetof(t_union, 'union'));
  t.is(offsetof(t_union, 'c'), 8);
});

test('malformed declarations are rejected', (t) => {
  t.throws(() => struct('bad', { f: flex(u8), a: u32 }), undefined, 'flex not last');
  t.throws(() => struct('bad', {}), undefined, 'empty struct');
  t.throws(() => array(u8, 0));
  t.throws(() => struct('bad', { a: u32, union: anonUnion({ a: u8 }) }), undefined, 'duplicate member');
  const withFlex = struct('wf', { a: u32, f: flex(u8) });
  t.throws(() => struct('bad', { inner: withFlex, b: u32 }), undefined, 'struct ending in flex must be last');
});
