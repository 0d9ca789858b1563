// SPDX-License-Identifier: GPL-2.0-only
/**
 * Bytes ⇄ values for layouts from layout.ts. Little-endian; 64-bit scalars are always bigint.
 *
 * Encoding follows C's implicit integer conversion: a field accepts any integer that fits its
 * width either signed or unsigned (so `-1` may be stored into a `__u32`, as `VFIO_PCI_DEVID_NOT_OWNED`
 * is), and decoding yields the field's own signedness. Anything outside that range is a bug in
 * the caller and throws a RangeError, never a KernelError.
 */
import assert from 'node:assert';
import {
  ArrayType,
  FieldsOf,
  FlexFieldName,
  FlexType,
  Prim,
  StructLayout,
  Type,
  flexMember,
  member,
} from './layout';

export type ValueOf<T> = T extends Prim<any, infer V>
  ? V
  : T extends ArrayType<infer E>
    ? ValueOf<E>[]
    : T extends FlexType<infer E>
      ? ValueOf<E>[]
      : T extends StructLayout<infer F>
        ? StructValue<F>
        : never;

/** A decoded struct: every member except a flexible array (read those with decodeFlex). */
export type StructValue<F> = { [K in keyof F as F[K] extends FlexType ? never : K]: ValueOf<F[K]> };

export type InputOf<T> = T extends Prim<any, infer V>
  ? V
  : T extends ArrayType<infer E>
    ? ArrayLike<InputOf<E>>
    : T extends FlexType<infer E>
      ? ArrayLike<InputOf<E>>
      : T extends StructLayout<infer F>
        ? StructInput<F>
        : never;

/** What encode accepts: any subset of the members; absent ones are zero, as in `struct x = {}`. */
export type StructInput<F> = { [K in keyof F]?: InputOf<F[K]> };

export type Decoded<L extends StructLayout<any>> = StructValue<FieldsOf<L>>;
export type Input<L extends StructLayout<any>> = StructInput<FieldsOf<L>>;

export type Bytes = Uint8Array | DataView;

function viewOf(src: Bytes): DataView {
  return src instanceof DataView ? src : new DataView(src.buffer, src.byteOffset, src.byteLength);
}

function bytesOf(src: Bytes): Uint8Array {
  return src instanceof Uint8Array ? src : new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
}

function checkRange(src: Bytes, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new RangeError(`bad offset/length ${offset}/${length}`);
  }
  if (offset + length > src.byteLength) {
    throw new RangeError(`need ${length} bytes at offset ${offset}, buffer has ${src.byteLength}`);
  }
}

// ---- compiled readers and writers ---------------------------------------------------------
//
// Every type gets its reader and writer compiled once (cached per layout object): a struct's
// become one generated function per struct with a call per member, so a decode builds its object
// in one literal and no call site sees more than one member type. Structs small enough go through
// one scratch buffer, so an ioctl's decode or encode allocates no DataView.

type Reader = (v: DataView, off: number) => unknown;
/** `where` + `name` names the value in error messages (`vfio_dma_map` + `.iova`). */
type Writer = (v: DataView, off: number, value: unknown, where: string, name: string) => void;

const PRIM_READERS: Readonly<Record<Prim['name'], Reader>> = {
  u8: (v, o) => v.getUint8(o),
  s8: (v, o) => v.getInt8(o),
  u16: (v, o) => v.getUint16(o, true),
  s16: (v, o) => v.getInt16(o, true),
  u32: (v, o) => v.getUint32(o, true),
  s32: (v, o) => v.getInt32(o, true),
  u64: (v, o) => v.getBigUint64(o, true),
  aligned_u64: (v, o) => v.getBigUint64(o, true),
  s64: (v, o) => v.getBigInt64(o, true),
};

function primWriter(p: Prim): Writer {
  const bits = p.size * 8;
  if (p.size === 8) {
    const set = p.signed
      ? (v: DataView, o: number, x: bigint) => v.setBigInt64(o, BigInt.asIntN(64, x), true)
      : (v: DataView, o: number, x: bigint) => v.setBigUint64(o, BigInt.asUintN(64, x), true);
    return (v, o, x, where, name) => {
      if (typeof x !== 'bigint') throw new TypeError(`${where}${name}: ${p.name} takes a bigint, got ${typeof x}`);
      if (x < -(1n << 63n) || x >= 1n << 64n) throw new RangeError(`${where}${name}: ${x} does not fit ${p.name}`);
      set(v, o, x);
    };
  }
  const lo = -(2 ** (bits - 1));
  const hi = 2 ** bits;
  // setUintN wraps modulo 2^N, which is exactly C's conversion for in-range values.
  const set =
    p.size === 1
      ? (v: DataView, o: number, x: number) => v.setUint8(o, x & 0xff)
      : p.size === 2
        ? (v: DataView, o: number, x: number) => v.setUint16(o, x & 0xffff, true)
        : (v: DataView, o: number, x: number) => v.setUint32(o, x >>> 0, true);
  return (v, o, x, where, name) => {
    if (typeof x !== 'number') throw new TypeError(`${where}${name}: ${p.name} takes a number, got ${typeof x}`);
    if (!Number.isInteger(x) || x < lo || x >= hi) throw new RangeError(`${where}${name}: ${x} does not fit ${p.name}`);
    set(v, o, x);
  };
}

const readers = new WeakMap<Type, Reader>();
const writers = new WeakMap<Type, Writer>();

function cached<F>(cache: WeakMap<Type, F>, t: Type, compile: (t: Type) => F): F {
  let f = cache.get(t);
  if (!f) {
    f = compile(t);
    cache.set(t, f);
  }
  return f;
}

const readerOf = (t: Type): Reader => cached(readers, t, compileReader);
const writerOf = (t: Type): Writer => cached(writers, t, compileWriter);

function compileReader(t: Type): Reader {
  switch (t.kind) {
    case 'prim':
      return PRIM_READERS[t.name];
    case 'array': {
      const elem = readerOf(t.elem);
      const { length } = t;
      const size = t.elem.size;
      return (v, o) => {
        const out = new Array<unknown>(length);
        for (let i = 0; i < length; i++) out[i] = elem(v, o + i * size);
        return out;
      };
    }
    case 'struct': {
      const fields = t.members.filter((m) => m.type.kind !== 'flex');
      const body = fields.map((m, i) => `${JSON.stringify(m.name)}: R[${i}](v, o + ${m.offset})`).join(', ');
      return new Function('R', `return function decode_${t.name.replace(/\W/g, '_')}(v, o) { return { ${body} }; };`)(
        fields.map((m) => readerOf(m.type)),
      ) as Reader;
    }
    case 'flex':
      return () => assert.fail('flexible arrays are decoded with decodeFlex');
  }
}

function compileWriter(t: Type): Writer {
  switch (t.kind) {
    case 'prim':
      return primWriter(t);
    case 'array':
    case 'flex': {
      const elem = writerOf(t.elem);
      const size = t.elem.size;
      const max = t.kind === 'array' ? t.length : Infinity;
      return (v, o, x, where, name) => {
        const items = x as ArrayLike<unknown>;
        if (items.length > max) throw new RangeError(`${where}${name}: ${items.length} elements for an array of ${max}`);
        for (let i = 0; i < items.length; i++) elem(v, o + i * size, items[i], where + name, `[${i}]`);
      };
    }
    case 'struct': {
      const known = new Set(t.members.map((m) => m.name));
      const unions = t.members.some((m) => m.unionGroup !== undefined);
      const lines = t.members.map(
        (m, i) =>
          `x = obj[${JSON.stringify(m.name)}]; if (x !== undefined) { ${unions && m.unionGroup !== undefined ? `U(seen, ${m.unionGroup}, ${JSON.stringify(m.name)}, where + name); ` : ''}W[${i}](v, o + ${m.offset}, x, where + name, ${JSON.stringify(`.${m.name}`)}); }`,
      );
      const fn = new Function(
        'W',
        'check',
        'U',
        `return function encode_${t.name.replace(/\W/g, '_')}(v, o, obj, where, name) {
  check(obj, where + name);
  let x;${unions ? '\n  const seen = new Map();' : ''}
  ${lines.join('\n  ')}
};`,
      );
      const check = (obj: Record<string, unknown>, where: string) => {
        for (const key in obj) if (!known.has(key)) throw new TypeError(`${where}: struct ${t.name} has no member '${key}'`);
      };
      const union = (seen: Map<number, string>, group: number, member: string, where: string) => {
        const other = seen.get(group);
        if (other !== undefined) throw new TypeError(`${where}: '${other}' and '${member}' share a union`);
        seen.set(group, member);
      };
      return fn(t.members.map((m) => writerOf(m.type)), check, union) as Writer;
    }
  }
}

/** Structs up to this size are decoded and encoded through one scratch buffer. */
const SCRATCH_SIZE = 512;
const scratch = new Uint8Array(SCRATCH_SIZE);
const scratchView = new DataView(scratch.buffer);

const flexMembers = new WeakMap<StructLayout<any>, ReturnType<typeof flexMember> | null>();
function flexOf(layout: StructLayout<any>): ReturnType<typeof flexMember> {
  let f = flexMembers.get(layout);
  if (f === undefined) {
    f = flexMember(layout) ?? null;
    flexMembers.set(layout, f);
  }
  return f ?? undefined;
}

/** Bytes `value` occupies: sizeof, or up to the end of the flexible-array elements it carries. */
export function encodedLength<L extends StructLayout<any>>(layout: L, value: Input<L>): number {
  const f = flexOf(layout);
  if (!f) return layout.size;
  const items = (value as Record<string, ArrayLike<unknown> | undefined>)[f.name] ?? [];
  return Math.max(layout.size, f.offset + f.type.elem.size * items.length);
}

/**
 * Decode a struct at `offset`. Only the first `length` bytes are read (default: sizeof); the
 * rest reads as zero — what the kernel sees after `struct x = {}; copy_from_user(&x, p, minsz)`.
 */
export function decode<L extends StructLayout<any>>(
  layout: L,
  src: Bytes,
  offset = 0,
  length: number = layout.size,
): Decoded<L> {
  checkRange(src, offset, length);
  const read = readerOf(layout);
  const size = layout.size;
  if (size <= SCRATCH_SIZE && src instanceof Uint8Array) {
    const n = length < size ? length : size;
    for (let i = 0; i < n; i++) scratch[i] = src[offset + i]!;
    if (n < size) scratch.fill(0, n, size);
    return read(scratchView, 0) as Decoded<L>;
  }
  if (length < size) {
    const tmp = new Uint8Array(size);
    tmp.set(bytesOf(src).subarray(offset, offset + length));
    return read(viewOf(tmp), 0) as Decoded<L>;
  }
  return read(viewOf(src), offset) as Decoded<L>;
}

/**
 * Encode into a fresh zeroed buffer, or into `into` at `offset` (the struct's bytes there are
 * zeroed first, so absent members and padding are 0). Returns the bytes written.
 */
export function encode<L extends StructLayout<any>>(
  layout: L,
  value: Input<L>,
  into?: Bytes,
  offset = 0,
): Uint8Array {
  const len = encodedLength(layout, value);
  const target = into ?? new Uint8Array(len);
  checkRange(target, offset, len);
  const write = writerOf(layout);
  const bytes = bytesOf(target);
  const out = into === undefined ? bytes : bytes.subarray(offset, offset + len);
  if (len <= SCRATCH_SIZE) {
    scratch.fill(0, 0, len);
    write(scratchView, 0, value, '', layout.name);
    for (let i = 0; i < len; i++) out[i] = scratch[i]!;
    return out;
  }
  out.fill(0);
  write(viewOf(out), 0, value, '', layout.name);
  return out;
}

/** Decode `count` consecutive values of `elem` (an array at a user pointer, say). */
export function decodeArray<E extends Type>(elem: E, src: Bytes, count: number, offset = 0): ValueOf<E>[] {
  assert(elem.kind !== 'flex');
  checkRange(src, offset, elem.size * count);
  const v = viewOf(src);
  const read = readerOf(elem);
  return Array.from({ length: count }, (_, i) => read(v, offset + i * elem.size) as ValueOf<E>);
}

export function encodeArray<E extends Type>(elem: E, values: ArrayLike<InputOf<E>>): Uint8Array {
  assert(elem.kind !== 'flex');
  const out = new Uint8Array(elem.size * values.length);
  const v = viewOf(out);
  const write = writerOf(elem);
  for (let i = 0; i < values.length; i++) write(v, i * elem.size, values[i], '', `[${i}]`);
  return out;
}

/** Read `count` elements of the flexible array member `field` of the struct at `offset`. */
export function decodeFlex<L extends StructLayout<any>, K extends FlexFieldName<L>>(
  layout: L,
  field: K,
  src: Bytes,
  count: number,
  offset = 0,
): ValueOf<FieldsOf<L>[K]> {
  const m = member(layout, field);
  assert(m.type.kind === 'flex', `${layout.name}.${field} is not a flexible array`);
  return decodeArray(m.type.elem, src, count, offset + m.offset) as ValueOf<FieldsOf<L>[K]>;
}
