// SPDX-License-Identifier: GPL-2.0-only
import test from 'ava';
import {
  findCap,
  info_cap_header,
  vfioInfoAddCapability,
  vfioInfoCapAdd,
  vfioInfoCapInit,
  vfioInfoCapShift,
  walkCapChain,
} from './cap_chain';
import { decode, encode } from './codec';
import { offsetof, sizeof, struct, u32 } from './layout';

const small = struct('small_cap', { header: info_cap_header, value: u32 }); // 12 bytes

test('the header is { u16 id; u16 version; u32 next; }', (t) => {
  t.is(sizeof(info_cap_header), 8);
  t.deepEqual(
    info_cap_header.members.map((m) => [m.name, m.offset]),
    [
      ['id', 0],
      ['version', 2],
      ['next', 4],
    ],
  );
});

for (const align of [true, false]) {
  test(`caps are zero-filled, appended and linked (${align ? 'padded' : 'unpadded'})`, (t) => {
    const caps = vfioInfoCapInit({ align });
    const a = vfioInfoCapAdd(caps, 12, 3, 1);
    const b = vfioInfoCapAdd(caps, 20, 1, 2);
    const c = vfioInfoCapAdd(caps, 8, 7, 1);
    const step = align ? [0, 16, 40, 48] : [0, 12, 32, 40];
    t.deepEqual([a, b, c, caps.size], step);
    t.is(caps.buf.length, caps.size);
    t.deepEqual(decode(info_cap_header, caps.buf, a), { id: 3, version: 1, next: b });
    t.deepEqual(decode(info_cap_header, caps.buf, b), { id: 1, version: 2, next: c });
    t.deepEqual(decode(info_cap_header, caps.buf, c), { id: 7, version: 1, next: 0 });
    t.true(caps.buf.subarray(a + 8, b).every((x) => x === 0), 'body and padding are zero');
  });
}

test('vfio_info_add_capability copies the body after a fresh header', (t) => {
  const caps = vfioInfoCapInit({ align: true });
  vfioInfoAddCapability(caps, encode(small, { header: { id: 3, version: 1, next: 0xdead }, value: 65535 }));
  vfioInfoAddCapability(caps, encode(small, { header: { id: 4, version: 1 }, value: 7 }));
  t.is(caps.size, 32);
  t.deepEqual(decode(small, caps.buf, 0), { header: { id: 3, version: 1, next: 16 }, value: 65535 });
  t.deepEqual(decode(small, caps.buf, 16), { header: { id: 4, version: 1, next: 0 }, value: 7 });
  t.deepEqual([...caps.buf.subarray(12, 16)], [0, 0, 0, 0], 'pad zeroed');
});

test('shift rebases every non-zero next and leaves the terminator', (t) => {
  const caps = vfioInfoCapInit({ align: true });
  vfioInfoCapAdd(caps, 32, 2, 1);
  vfioInfoCapAdd(caps, 12, 3, 1);
  vfioInfoCapAdd(caps, 32, 1, 1);
  vfioInfoCapShift(caps, 24);
  t.deepEqual(
    [0, 32, 48].map((o) => decode(info_cap_header, caps.buf, o).next),
    [56, 72, 0],
  );
  t.throws(() => vfioInfoCapShift(caps, 4), undefined, 'chains must start 8-aligned');
});

test('walk an INFO buffer: chain offsets are relative to the buffer start', (t) => {
  const caps = vfioInfoCapInit({ align: false });
  vfioInfoCapAdd(caps, 12, 3, 1);
  vfioInfoCapAdd(caps, 16, 1, 1);
  vfioInfoCapShift(caps, 24);
  const buf = new Uint8Array(24 + caps.size);
  buf.set(caps.buf, 24);
  const walk = walkCapChain(buf, 24);
  t.is(walk.error, undefined);
  t.deepEqual(
    walk.caps.map((c) => [c.offset, c.id, c.next]),
    [
      [24, 3, 36],
      [36, 1, 0],
    ],
  );
  t.is(findCap(buf, 24, 1)?.offset, 36);
  t.is(findCap(buf, 24, 9), undefined);
});

const hdr = (id: number, next: number): Uint8Array => encode(info_cap_header, { id, version: 1, next });

test('walker survives cycles', (t) => {
  const buf = new Uint8Array(40);
  buf.set(hdr(1, 16), 8);
  buf.set(hdr(2, 24), 16);
  buf.set(hdr(3, 8), 24);
  const walk = walkCapChain(buf, 8);
  t.deepEqual(
    walk.caps.map((c) => c.id),
    [1, 2, 3],
  );
  t.deepEqual(walk.error, { kind: 'cycle', offset: 8 });
  t.is(findCap(buf, 8, 4), undefined, 'findCap terminates too');
});

test('walker survives a self-loop and a header past the end', (t) => {
  const buf = new Uint8Array(24);
  buf.set(hdr(1, 8), 8);
  t.deepEqual(walkCapChain(buf, 8).error, { kind: 'cycle', offset: 8 });
  buf.set(hdr(1, 20), 8);
  const walk = walkCapChain(buf, 8);
  t.is(walk.caps.length, 1);
  t.deepEqual(walk.error, { kind: 'truncated', offset: 20 });
  t.deepEqual(walkCapChain(buf, 100).error, { kind: 'truncated', offset: 100 });
  t.is(offsetof(info_cap_header, 'next'), 4);
});
