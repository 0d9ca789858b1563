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

function decodePrim(p: Prim, v: DataView, off: number): number | bigint {
  switch (p.name) {
    case 'u8':
      return v.getUint8(off);
    case 's8':
      return v.getInt8(off);
    case 'u16':
      return v.getUint16(off, true);
    case 's16':
      return v.getInt16(off, true);
    case 'u32':
      return v.getUint32(off, true);
    case 's32':
      return v.getInt32(off, true);
    case 'u64':
    case 'aligned_u64':
      return v.getBigUint64(off, true);
    case 's64':
      return v.getBigInt64(off, true);
  }
}

function decodeType(t: Type, v: DataView, off: number): unknown {
  switch (t.kind) {
    case 'prim':
      return decodePrim(t, v, off);
    case 'array':
      return Array.from({ length: t.length }, (_, i) => decodeType(t.elem, v, off + i * t.elem.size));
    case 'struct': {
      const out: Record<string, unknown> = {};
      for (const m of t.members) {
        if (m.type.kind !== 'flex') out[m.name] = decodeType(m.type, v, off + m.offset);
      }
      return out;
    }
    case 'flex':
      assert.fail('flexible arrays are decoded with decodeFlex');
  }
}

function encodePrim(p: Prim, v: DataView, off: number, value: unknown, where: string): void {
  const bits = p.size * 8;
  if (p.size === 8) {
    if (typeof value !== 'bigint') throw new TypeError(`${where}: ${p.name} takes a bigint, got ${typeof value}`);
    if (value < -(1n << 63n) || value >= 1n << 64n) throw new RangeError(`${where}: ${value} does not fit ${p.name}`);
    if (p.signed) v.setBigInt64(off, BigInt.asIntN(64, value), true);
    else v.setBigUint64(off, BigInt.asUintN(64, value), true);
    return;
  }
  if (typeof value !== 'number') throw new TypeError(`${where}: ${p.name} takes a number, got ${typeof value}`);
  if (!Number.isInteger(value) || value < -(2 ** (bits - 1)) || value >= 2 ** bits) {
    throw new RangeError(`${where}: ${value} does not fit ${p.name}`);
  }
  // setUintN/setIntN wrap modulo 2^N, which is exactly C's conversion for in-range values.
  if (p.size === 1) v.setUint8(off, value & 0xff);
  else if (p.size === 2) v.setUint16(off, value & 0xffff, true);
  else v.setUint32(off, value >>> 0, true);
}

function encodeType(t: Type, v: DataView, off: number, value: unknown, where: string): void {
  switch (t.kind) {
    case 'prim':
      return encodePrim(t, v, off, value, where);
    case 'array':
    case 'flex': {
      const items = value as ArrayLike<unknown>;
      if (t.kind === 'array' && items.length > t.length) {
        throw new RangeError(`${where}: ${items.length} elements for an array of ${t.length}`);
      }
      for (let i = 0; i < items.length; i++) {
        encodeType(t.elem, v, off + i * t.elem.size, items[i], `${where}[${i}]`);
      }
      return;
    }
    case 'struct': {
      const obj = value as Record<string, unknown>;
      const unionSeen = new Map<number, string>();
      for (const key of Object.keys(obj)) {
        if (!t.members.some((m) => m.name === key)) throw new TypeError(`${where}: struct ${t.name} has no member '${key}'`);
      }
      for (const m of t.members) {
        const mv = obj[m.name];
        if (mv === undefined) continue;
        if (m.unionGroup !== undefined) {
          const other = unionSeen.get(m.unionGroup);
          if (other !== undefined) throw new TypeError(`${where}: '${other}' and '${m.name}' share a union`);
          unionSeen.set(m.unionGroup, m.name);
        }
        encodeType(m.type, v, off + m.offset, mv, `${where}.${m.name}`);
      }
    }
  }
}

/** Bytes `value` occupies: sizeof, or up to the end of the flexible-array elements it carries. */
export function encodedLength<L extends StructLayout<any>>(layout: L, value: Input<L>): number {
  const f = flexMember(layout);
  const items = f ? ((value as Record<string, ArrayLike<unknown> | undefined>)[f.name] ?? []) : [];
  return f ? Math.max(layout.size, f.offset + f.type.elem.size * items.length) : layout.size;
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
  let v = viewOf(src);
  let at = offset;
  if (length < layout.size) {
    const tmp = new Uint8Array(layout.size);
    tmp.set(bytesOf(src).subarray(offset, offset + length));
    v = viewOf(tmp);
    at = 0;
  }
  return decodeType(layout, v, at) as Decoded<L>;
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
  const out = bytesOf(target).subarray(offset, offset + len);
  out.fill(0);
  encodeType(layout, viewOf(out), 0, value, layout.name);
  return out;
}

/** Decode `count` consecutive values of `elem` (an array at a user pointer, say). */
export function decodeArray<E extends Type>(elem: E, src: Bytes, count: number, offset = 0): ValueOf<E>[] {
  assert(elem.kind !== 'flex');
  checkRange(src, offset, elem.size * count);
  const v = viewOf(src);
  return Array.from({ length: count }, (_, i) => decodeType(elem, v, offset + i * elem.size) as ValueOf<E>);
}

export function encodeArray<E extends Type>(elem: E, values: ArrayLike<InputOf<E>>): Uint8Array {
  assert(elem.kind !== 'flex');
  const out = new Uint8Array(elem.size * values.length);
  const v = viewOf(out);
  for (let i = 0; i < values.length; i++) encodeType(elem, v, i * elem.size, values[i], `[${i}]`);
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
