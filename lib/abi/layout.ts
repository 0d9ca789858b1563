// SPDX-License-Identifier: GPL-2.0-only
/**
 * Declarative C struct layouts: natural alignment, LP64, little-endian.
 *
 * A layout is declared once (`struct('vfio_group_status', { argsz: u32, flags: u32 })`) and
 * everything else — sizeof, offsetof, offsetofend, the codec, ioctl numbers, minimum sizes —
 * is derived from it. Offsets are computed the way gcc lays out an x86_64/arm64 struct:
 * each member at the next multiple of its alignment, the struct aligned to its widest member,
 * trailing padding up to that alignment. A flexible array member adds nothing to sizeof.
 * `packed` lays members out back to back with alignment 1 (`__attribute__((packed))`, `#pragma
 * pack(1)` as ACPICA declares firmware tables).
 */
import assert from 'node:assert';

export type PrimName = 'u8' | 'u16' | 'u32' | 's8' | 's16' | 's32' | 'u64' | 'aligned_u64' | 's64';

/** A scalar. `V` is its TypeScript value type: number up to 32 bits, bigint for 64 bits. */
export interface Prim<N extends PrimName = PrimName, V extends number | bigint = number | bigint> {
  readonly kind: 'prim';
  readonly name: N;
  readonly size: 1 | 2 | 4 | 8;
  readonly align: number;
  readonly signed: boolean;
  /** Phantom: never set, carries the value type. */
  readonly __value?: V;
}

export interface ArrayType<E extends Type = Type> {
  readonly kind: 'array';
  readonly elem: E;
  readonly length: number;
  readonly size: number;
  readonly align: number;
}

/** A C99 flexible array member (`T name[]`): contributes alignment but no size. */
export interface FlexType<E extends Type = Type> {
  readonly kind: 'flex';
  readonly elem: E;
  readonly size: 0;
  readonly align: number;
}

/** An anonymous union inside a struct: its members are reached directly, all at one offset. */
export interface AnonUnion<F extends Record<string, Type> = Record<string, Type>> {
  readonly kind: 'anon_union';
  readonly fields: F;
  readonly size: number;
  readonly align: number;
}

export interface Member {
  readonly name: string;
  readonly type: Type;
  readonly offset: number;
  /** Members of one anonymous union share a group number (and their offset). */
  readonly unionGroup?: number;
}

export type FieldSpec = Record<string, Type | AnonUnion>;

export interface StructLayout<F extends Record<string, Type> = Record<string, Type>> {
  readonly kind: 'struct';
  readonly name: string;
  readonly size: number;
  readonly align: number;
  /** Every named member, anonymous-union members flattened, in declaration order. */
  readonly members: readonly Member[];
  /** Phantom: never set, carries the flattened field map. */
  readonly __fields?: F;
}

export type Type = Prim | ArrayType | FlexType | StructLayout<any>;

const prim = <N extends PrimName, V extends number | bigint>(
  name: N,
  size: 1 | 2 | 4 | 8,
  signed: boolean,
): Prim<N, V> => Object.freeze({ kind: 'prim', name, size, align: size, signed }) as Prim<N, V>;

export const u8 = prim<'u8', number>('u8', 1, false);
export const u16 = prim<'u16', number>('u16', 2, false);
export const u32 = prim<'u32', number>('u32', 4, false);
export const s8 = prim<'s8', number>('s8', 1, true);
export const s16 = prim<'s16', number>('s16', 2, true);
export const s32 = prim<'s32', number>('s32', 4, true);
/**
 * `__u64`. On LP64 it is 8-aligned like `__aligned_u64`; the two stay distinct so that a
 * declaration reads like its header (on i386 only `__aligned_u64` would be 8-aligned).
 */
export const u64 = prim<'u64', bigint>('u64', 8, false);
export const aligned_u64 = prim<'aligned_u64', bigint>('aligned_u64', 8, false);
export const s64 = prim<'s64', bigint>('s64', 8, true);

const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;

/** `T name[n]` */
export function array<E extends Type>(elem: E, length: number): ArrayType<E> {
  assert(Number.isSafeInteger(length) && length > 0, `array length must be a positive integer, got ${length}`);
  assert(elem.kind !== 'flex', 'an array of flexible arrays is not C');
  return Object.freeze({ kind: 'array', elem, length, size: elem.size * length, align: elem.align });
}

/** `T name[]` — only legal as the last member of a struct. */
export function flex<E extends Type>(elem: E): FlexType<E> {
  assert(elem.kind !== 'flex', 'a flexible array of flexible arrays is not C');
  assert(elem.size > 0, 'flexible array element must have a size');
  return Object.freeze({ kind: 'flex', elem, size: 0, align: elem.align });
}

/** `union { T a; U b; };` without a name: the members become fields of the enclosing struct. */
export function anonUnion<F extends Record<string, Type>>(fields: F): AnonUnion<F> {
  const types = Object.values(fields);
  assert(types.length > 0, 'empty union');
  for (const t of types) assert(t.kind !== 'flex', 'flexible array inside a union is not supported');
  const align = Math.max(...types.map((t) => t.align));
  const size = alignUp(Math.max(...types.map((t) => t.size)), align);
  return Object.freeze({ kind: 'anon_union', fields, size, align });
}

type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;

/** The field map a struct exposes: anonymous unions flattened into their members. */
export type Flatten<S extends FieldSpec> = {
  [K in keyof S as S[K] extends AnonUnion ? never : K]: S[K] extends Type ? S[K] : never;
} & UnionToIntersection<{ [K in keyof S]: S[K] extends AnonUnion<infer U> ? U : never }[keyof S]>;

type Simplify<T> = { [K in keyof T]: T[K] } & {};

/**
 * Declare a struct. Keys of an anonymous union are placeholders (by convention `'union'` or
 * `'union2'`…) and do not become fields.
 */
export function struct<S extends FieldSpec>(name: string, spec: S, opts: { readonly packed?: boolean } = {}): StructLayout<Simplify<Flatten<S>>> {
  const packed = opts.packed ?? false;
  const members: Member[] = [];
  let offset = 0;
  let align = 1;
  const entries = Object.entries(spec);
  assert(entries.length > 0, `struct ${name}: empty structs are a GNU extension, not uapi`);
  const seen = new Set<string>();
  const addMember = (member: string, type: Type, at: number, unionGroup?: number): void => {
    assert(!/^\d+$/.test(member), `struct ${name}: field '${member}' would be reordered by JS`);
    assert(!seen.has(member), `struct ${name}: duplicate member '${member}'`);
    seen.add(member);
    members.push(Object.freeze(unionGroup === undefined ? { name: member, type, offset: at } : { name: member, type, offset: at, unionGroup }));
  };
  entries.forEach(([key, t], i) => {
    if (t.kind === 'flex') assert(i === entries.length - 1, `struct ${name}: flexible array '${key}' must be last`);
    if (t.kind === 'struct' && hasFlex(t)) {
      assert(i === entries.length - 1, `struct ${name}: a struct ending in a flexible array must be last`);
    }
    if (!packed) {
      offset = alignUp(offset, t.align);
      align = Math.max(align, t.align);
    }
    if (t.kind === 'anon_union') {
      for (const [m, mt] of Object.entries(t.fields)) addMember(m, mt, offset, i);
    } else {
      addMember(key, t, offset);
    }
    offset += t.size;
  });
  const size = alignUp(offset, align);
  return Object.freeze({ kind: 'struct', name, size, align, members: Object.freeze(members) }) as StructLayout<
    Simplify<Flatten<S>>
  >;
}

function hasFlex(l: StructLayout): boolean {
  const last = l.members[l.members.length - 1];
  return last !== undefined && (last.type.kind === 'flex' || (last.type.kind === 'struct' && hasFlex(last.type)));
}

export type FieldsOf<L> = L extends StructLayout<infer F> ? F : never;
export type FieldName<L extends StructLayout<any>> = keyof FieldsOf<L> & string;

/** The fields of `L` whose type is a flexible array member. */
export type FlexFieldName<L extends StructLayout<any>> = {
  [K in FieldName<L>]: FieldsOf<L>[K] extends FlexType ? K : never;
}[FieldName<L>];

/** Members by name, built on first lookup (offsetofend runs inside ioctls). */
const memberIndex = new WeakMap<StructLayout<any>, ReadonlyMap<string, Member>>();

export function member<L extends StructLayout<any>>(layout: L, field: FieldName<L>): Member {
  let index = memberIndex.get(layout);
  if (!index) {
    index = new Map(layout.members.map((x) => [x.name, x]));
    memberIndex.set(layout, index);
  }
  const m = index.get(field);
  assert(m, `struct ${layout.name} has no member '${field}'`);
  return m;
}

/** `sizeof(T)` */
export function sizeof(t: Type): number {
  return t.size;
}

/** `offsetof(struct, field)` */
export function offsetof<L extends StructLayout<any>>(layout: L, field: FieldName<L>): number {
  return member(layout, field).offset;
}

/** `offsetofend(struct, field)` from include/linux/stddef.h: the first byte after `field`. */
export function offsetofend<L extends StructLayout<any>>(layout: L, field: FieldName<L>): number {
  const m = member(layout, field);
  return m.offset + m.type.size;
}

/** The flexible array member of a struct, if its last member is one. */
export function flexMember(layout: StructLayout<any>): (Member & { type: FlexType }) | undefined {
  const last = layout.members[layout.members.length - 1];
  return last?.type.kind === 'flex' ? (last as Member & { type: FlexType }) : undefined;
}

/**
 * `sizeof(struct) + count * sizeof(elem)`, the size userspace allocates and puts in argsz.
 * @see include/linux/overflow.h:struct_size
 */
export function structSize(layout: StructLayout<any>, count: number): number {
  const f = flexMember(layout);
  assert(f, `struct ${layout.name} has no flexible array member`);
  assert(Number.isSafeInteger(count) && count >= 0, `bad element count ${count}`);
  return layout.size + f.type.elem.size * count;
}

export function isStruct(t: Type): t is StructLayout<any> {
  return t.kind === 'struct';
}

/** `struct name { … } __packed`: no padding anywhere, alignment 1. */
export const packedStruct = <S extends FieldSpec>(name: string, spec: S): StructLayout<Simplify<Flatten<S>>> => struct(name, spec, { packed: true });

/**
 * The struct as an older header declared it, when a uapi struct grew by appending members: the
 * members up to and including `last` (an anonymous union counts whole), sized like the C struct
 * that ended there (tail padding to the alignment of the members kept). Extensible ioctls read
 * the kernel's struct of the running version, so a newer program's tail is E2BIG there.
 */
export function structPrefix<L extends StructLayout<any>>(layout: L, last: FieldName<L>): L {
  const end = member(layout, last);
  const kept = layout.members.filter(
    (m) => m.offset < end.offset + end.type.size || (end.unionGroup !== undefined && m.unionGroup === end.unionGroup),
  );
  const endOf = Math.max(...kept.map((m) => m.offset + m.type.size));
  // a packed struct (alignment 1) stays unpadded when cut short
  const align = layout.align === 1 ? 1 : Math.max(...kept.map((m) => m.type.align));
  const size = alignUp(endOf, align);
  if (size === layout.size) return layout;
  return Object.freeze({ kind: 'struct', name: layout.name, size, align, members: Object.freeze(kept) }) as unknown as L;
}
