// SPDX-License-Identifier: GPL-2.0-only
import test from 'ava';
import { decode, decodeArray, decodeFlex, encode, encodeArray, encodedLength } from './codec';
import { aligned_u64, anonUnion, array, flex, s32, s64, struct, u16, u32, u64, u8 } from './layout';

const range = struct('range', { start: aligned_u64, last: aligned_u64 });
const cmd = struct('cmd', {
  size: u32,
  flags: u16,
  tag: u8,
  fd: s32,
  addr: u64,
  delta: s64,
  name: array(u8, 4),
  r: range,
  ranges: flex(range),
});

test('round trip, little-endian, u64 ≥ 2^63 stays exact', (t) => {
  const value = {
    size: 0xdeadbeef,
    flags: 0xfffe,
    tag: 0x7f,
    fd: -2,
    addr: 0xffff_ffff_ffff_f000n,
    delta: -(1n << 63n),
    name: [1, 2, 3, 4],
    r: { start: 1n << 63n, last: 0xffff_ffff_ffff_ffffn },
  };
  const bytes = encode(cmd, value);
  t.is(bytes.length, 56);
  t.deepEqual([...bytes.subarray(0, 4)], [0xef, 0xbe, 0xad, 0xde], 'little-endian u32');
  t.is(bytes[7], 0, 'padding after u8 is zero');
  t.deepEqual([...bytes.subarray(16, 24)], [0x00, 0xf0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  t.deepEqual(decode(cmd, bytes), value);
});

test('C conversion: negative values store two’s complement, decode by the field’s signedness', (t) => {
  const bytes = encode(cmd, { size: -1, fd: 0xffffffff, addr: -1n });
  const v = decode(cmd, bytes);
  t.is(v.size, 0xffffffff);
  t.is(v.fd, -1);
  t.is(v.addr, 0xffff_ffff_ffff_ffffn);
});

test('out-of-range and mistyped values are caller bugs', (t) => {
  t.throws(() => encode(cmd, { size: 2 ** 32 }), { instanceOf: RangeError });
  t.throws(() => encode(cmd, { flags: -(2 ** 15) - 1 }), { instanceOf: RangeError });
  t.throws(() => encode(cmd, { size: 1.5 }), { instanceOf: RangeError });
  t.throws(() => encode(cmd, { addr: 1n << 64n }), { instanceOf: RangeError });
  // @ts-expect-error — u64 is always bigint
  t.throws(() => encode(cmd, { addr: 1 }), { instanceOf: TypeError });
  // @ts-expect-error — u32 is a number
  t.throws(() => encode(cmd, { size: 1n }), { instanceOf: TypeError });
  t.throws(() => encode(cmd, { name: [1, 2, 3, 4, 5] }), { instanceOf: RangeError });
  t.throws(() => encode(cmd, { nope: 1 } as never), { instanceOf: TypeError });
});

test('partial decode: only the first N bytes are read, the rest is zero', (t) => {
  const full = encode(cmd, { size: 56, flags: 3, addr: 0x1234n, r: { start: 9n, last: 10n } });
  const v = decode(cmd, full.subarray(0, 16), 0, 16);
  t.is(v.size, 56);
  t.is(v.flags, 3);
  t.is(v.addr, 0n, 'addr lies past the 16 bytes read');
  t.deepEqual(v.r, { start: 0n, last: 0n });
  t.throws(() => decode(cmd, full.subarray(0, 8), 0, 16), { instanceOf: RangeError }, 'buffer shorter than length');
  t.throws(() => decode(cmd, full.subarray(0, 55)), { instanceOf: RangeError }, 'default length is sizeof');
});

test('decode at an offset and from a DataView', (t) => {
  const buf = new Uint8Array(8 + 16);
  encode(range, { start: 5n, last: 6n }, buf, 8);
  t.deepEqual(decode(range, new DataView(buf.buffer), 8), { start: 5n, last: 6n });
});

test('encode into a buffer zeroes the struct first and leaves neighbours alone', (t) => {
  const buf = new Uint8Array(24).fill(0xaa);
  const out = encode(range, { last: 1n }, buf, 4);
  t.is(out.length, 16);
  t.deepEqual([...buf.subarray(0, 4)], [0xaa, 0xaa, 0xaa, 0xaa]);
  t.deepEqual([...buf.subarray(4, 12)], [0, 0, 0, 0, 0, 0, 0, 0]);
  t.deepEqual([...buf.subarray(20, 24)], [0xaa, 0xaa, 0xaa, 0xaa]);
  t.throws(() => encode(range, {}, new Uint8Array(15)), { instanceOf: RangeError });
});

test('flexible array members: encode appends, decodeFlex reads back', (t) => {
  const ranges = [
    { start: 0n, last: 0xfedf_ffffn },
    { start: 0xfef0_0000n, last: (1n << 64n) - 1n },
  ];
  t.is(encodedLength(cmd, { ranges }), 56 + 32);
  const bytes = encode(cmd, { size: 88, ranges });
  t.is(bytes.length, 88);
  t.deepEqual(decodeFlex(cmd, 'ranges', bytes, 2), ranges);
  t.false('ranges' in decode(cmd, bytes), 'decode leaves the flexible array to decodeFlex');
  t.deepEqual(decodeArray(range, bytes, 2, 56), ranges);
  t.deepEqual(encodeArray(range, ranges), bytes.subarray(56));
});

test('a flexible array starting inside tail padding is written at its offset', (t) => {
  const mid = struct('mid', { a: u64, b: u32, f: flex(u8) });
  t.is(encodedLength(mid, { f: [1, 2] }), 16, 'still sizeof while the elements fit the padding');
  const bytes = encode(mid, { b: 1, f: [7, 8, 9, 10, 11] });
  t.is(bytes.length, 17);
  t.deepEqual([...bytes.subarray(12)], [7, 8, 9, 10, 11]);
});

test('anonymous unions: every member decodes, only one may be encoded', (t) => {
  const dep = struct('dep', { union: anonUnion({ group_id: u32, devid: u32 }), segment: u16, bus: u8, devfn: u8 });
  const v = decode(dep, encode(dep, { devid: -1, bus: 3 }));
  t.is(v.group_id, 0xffffffff);
  t.is(v.devid, 0xffffffff);
  t.is(v.bus, 3);
  t.throws(() => encode(dep, { group_id: 1, devid: 2 }), { instanceOf: TypeError });
});

test('compiled codecs: errors name the member path, a failed encode writes nothing, decodes never share state', (t) => {
  t.throws(() => encode(cmd, { r: { start: 1 as unknown as bigint } }), { instanceOf: TypeError, message: 'cmd.r.start: aligned_u64 takes a bigint, got number' });
  t.throws(() => encode(cmd, { name: [1, 2, 256] }), { instanceOf: RangeError, message: 'cmd.name[2]: 256 does not fit u8' });
  t.throws(() => encode(cmd, { r: { start: 1n, nope: 2n } as never }), { instanceOf: TypeError, message: "cmd.r: struct range has no member 'nope'" });
  t.throws(() => encodeArray(range, [{ start: 1n }, { start: -1 as unknown as bigint }]), { instanceOf: TypeError, message: '[1].start: aligned_u64 takes a bigint, got number' });
  const buf = new Uint8Array(16).fill(0xaa);
  t.throws(() => encode(range, { start: 1n, last: 1n << 64n }, buf));
  t.deepEqual([...buf], new Array(16).fill(0xaa), 'the target is untouched when a member does not fit');
  const a = decode(range, encode(range, { start: 1n, last: 2n }));
  const b = decode(range, encode(range, { start: 3n, last: 4n }));
  t.deepEqual([a, b], [{ start: 1n, last: 2n }, { start: 3n, last: 4n }]);
  // A struct larger than the scratch buffer takes the direct path and round-trips the same.
  const big = struct('big', { head: u32, body: array(u64, 100), tail: u8 });
  const body = Array.from({ length: 100 }, (_, i) => BigInt(i) << 40n);
  const bytes = encode(big, { head: 7, body, tail: 9 });
  t.is(bytes.length, 816);
  t.deepEqual(decode(big, bytes), { head: 7, body, tail: 9 });
  t.deepEqual(decode(big, bytes, 0, 12), { head: 7, body: [0n, ...new Array(99).fill(0n)], tail: 0 }, 'partial decode of a large struct');
});
