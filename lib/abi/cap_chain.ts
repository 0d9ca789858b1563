// SPDX-License-Identifier: GPL-2.0-only
/**
 * VFIO INFO capability chains: a builder with vfio_info_cap_add / vfio_info_add_capability /
 * vfio_info_cap_shift semantics, and a cycle-safe walker for reading a chain out of a buffer.
 *
 * Each capability starts with an 8-byte header `{ u16 id; u16 version; u32 next; }` where `next`
 * is the offset of the following capability (0 ends the chain). While building, offsets are
 * relative to the chain buffer; vfioInfoCapShift rebases them onto the INFO struct they follow.
 *
 * Kernel history: "vfio: align capability structures" (v6.6) rounds every capability up to
 * 8 bytes; older kernels, and iommufd's vfio_compat GET_INFO to this day, do not pad.
 */
import assert from 'node:assert';
import { decode, encode } from './codec';
import { struct, u16, u32 } from './layout';

/** The generic capability header; uapi spells it `struct vfio_info_cap_header`. */
export const info_cap_header = struct('vfio_info_cap_header', { id: u16, version: u16, next: u32 });

export interface VfioInfoCap {
  /** Round each capability up to 8 bytes (v6.6+ vfio_info_cap_add). */
  readonly align: boolean;
  buf: Uint8Array;
  size: number;
}

export function vfioInfoCapInit(opts: { align: boolean }): VfioInfoCap {
  return { align: opts.align, buf: new Uint8Array(0), size: 0 };
}

/**
 * Append a zero-filled capability of `size` bytes (header included), link it from the current
 * last one, and return its offset in `caps.buf`.
 * @see drivers/vfio/vfio_main.c:vfio_info_cap_add
 */
export function vfioInfoCapAdd(caps: VfioInfoCap, size: number, id: number, version: number): number {
  assert(size >= info_cap_header.size, `capability of ${size} bytes cannot hold its header`);
  const slot = caps.align ? Math.ceil(size / 8) * 8 : size;
  const at = caps.size;
  const buf = new Uint8Array(at + slot);
  buf.set(caps.buf.subarray(0, at));
  encode(info_cap_header, { id, version, next: 0 }, buf, at);
  if (at > 0) {
    let tail = 0;
    for (let next = headerAt(buf, tail).next; next !== 0; next = headerAt(buf, tail).next) tail = next;
    const h = headerAt(buf, tail);
    encode(info_cap_header, { ...h, next: at }, buf, tail);
  }
  caps.buf = buf;
  caps.size = at + slot;
  return at;
}

/**
 * Append a complete capability (its own header's id and version, body copied after the header).
 * @see drivers/vfio/vfio_main.c:vfio_info_add_capability
 */
export function vfioInfoAddCapability(caps: VfioInfoCap, cap: Uint8Array): number {
  const h = decode(info_cap_header, cap);
  const at = vfioInfoCapAdd(caps, cap.length, h.id, h.version);
  caps.buf.set(cap.subarray(info_cap_header.size), at + info_cap_header.size);
  return at;
}

/**
 * Rebase every non-zero `next` by `offset`, for a chain copied to `offset` bytes after the
 * start of the INFO buffer.
 * @see drivers/vfio/vfio_main.c:vfio_info_cap_shift
 */
export function vfioInfoCapShift(caps: VfioInfoCap, offset: number): void {
  assert(offset % 8 === 0, 'capability chains start 8-byte aligned');
  if (caps.size === 0) return;
  let at = 0;
  for (let h = headerAt(caps.buf, at); h.next !== 0; h = headerAt(caps.buf, at)) {
    encode(info_cap_header, { ...h, next: h.next + offset }, caps.buf, at);
    at = h.next;
  }
}

function headerAt(buf: Uint8Array, at: number): { id: number; version: number; next: number } {
  return decode(info_cap_header, buf, at);
}

export interface CapEntry {
  /** Offset of the capability's header in the walked buffer. */
  readonly offset: number;
  readonly id: number;
  readonly version: number;
  readonly next: number;
}

export type CapWalkError =
  /** `next` leads back to a capability already visited. */
  | { readonly kind: 'cycle'; readonly offset: number }
  /** A header at `offset` does not fit inside the buffer. */
  | { readonly kind: 'truncated'; readonly offset: number };

export interface CapWalk {
  /** Capabilities read before the walk ended or failed, in chain order. */
  readonly caps: readonly CapEntry[];
  readonly error?: CapWalkError;
}

/**
 * Follow a chain whose first capability is at `first` (the INFO struct's `cap_offset`; the
 * caller decides whether a zero cap_offset means "no chain"). Never loops and never throws:
 * a revisited offset or a header past the end of `buf` stops the walk with an error.
 */
export function walkCapChain(buf: Uint8Array, first: number): CapWalk {
  const caps: CapEntry[] = [];
  const seen = new Set<number>();
  for (let at = first; ; ) {
    if (seen.has(at)) return { caps, error: { kind: 'cycle', offset: at } };
    if (at < 0 || at + info_cap_header.size > buf.length) return { caps, error: { kind: 'truncated', offset: at } };
    seen.add(at);
    const h = headerAt(buf, at);
    caps.push({ offset: at, ...h });
    if (h.next === 0) return { caps };
    at = h.next;
  }
}

/** The first capability with `id`, as QEMU's vfio_get_cap finds it; undefined if absent or unreadable. */
export function findCap(buf: Uint8Array, first: number, id: number): CapEntry | undefined {
  return walkCapChain(buf, first).caps.find((c) => c.id === id);
}
