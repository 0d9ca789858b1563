// SPDX-License-Identifier: GPL-2.0-only
/**
 * The run server's control channel: one unix stream socket in the run directory, one binary
 * framing for every front end (the FUSE helper now; the LD_PRELOAD shim next). A frame is a
 * fixed header declared here, followed by `in_len` (request) or `out_len` (reply) payload bytes.
 * The C side never declares these structs itself: `cHeader()` generates its header from these
 * layouts, and a test compiles it and compares every offset.
 *
 * Requests carry the caller's pid and the server-side handle they are about (an open file, for
 * the shim), so a front end forwards what it saw and the server keeps all state.
 */
import { Decoded, Input, StructLayout, decode, encode, s32, s64, struct, u16, u32, u64 } from '../abi';

/** 'IOEM' little-endian: the first bytes of every frame, both ways. */
export const IOMMU_EMU_MAGIC = 0x4d454f49;
export const IOMMU_EMU_PROTOCOL_VERSION = 1;

/** Front end → server. */
export const iommu_emu_req = struct('iommu_emu_req', {
  magic: u32,
  /** IOMMU_EMU_OP_* */
  opcode: u16,
  version: u16,
  /** Chosen by the front end, echoed in the reply (FUSE: the kernel's unique). */
  id: u64,
  /** The calling process (0: the kernel, for FUSE requests). */
  pid: s32,
  flags: u32,
  /** Server-side object the request is about (an emulated open file); 0 for none. */
  handle: u64,
  /** A raw argument (an ioctl's request number or value); 0 when unused. */
  arg: u64,
  /** Payload bytes following this header. */
  in_len: u32,
  /** Bytes the caller is ready to take back. */
  out_len: u32,
});

/** Server → front end: a reply (id of its request) or, with id 0, an unsolicited message. */
export const iommu_emu_rsp = struct('iommu_emu_rsp', {
  magic: u32,
  opcode: u16,
  version: u16,
  id: u64,
  /** >= 0, or -errno. */
  result: s64,
  /** A new server-side object (e.g. the file an open created); 0 for none. */
  handle: u64,
  flags: u32,
  /** Payload bytes following this header. */
  out_len: u32,
});

/** Introduce the front end: `arg` = IOMMU_EMU_ROLE_*; the reply's result is the protocol version. */
export const IOMMU_EMU_OP_HELLO = 1;
/**
 * One FUSE request from /dev/fuse as payload; the reply's payload is written back to /dev/fuse
 * as is. The server sends FUSE notifications the same way, with id 0.
 */
export const IOMMU_EMU_OP_FUSE = 2;

export const IOMMU_EMU_ROLE_FUSE = 1;
export const IOMMU_EMU_ROLE_PRELOAD = 2;

/** Largest payload either side accepts (a FUSE write of max_write plus its headers). */
export const IOMMU_EMU_MAX_PAYLOAD = 1 << 20;

export type Request = Decoded<typeof iommu_emu_req>;
export type Response = Decoded<typeof iommu_emu_rsp>;

export function encodeResponse(r: Omit<Input<typeof iommu_emu_rsp>, 'magic' | 'version' | 'out_len'>, payload?: Uint8Array): Buffer {
  const out = Buffer.alloc(iommu_emu_rsp.size + (payload?.length ?? 0));
  encode(iommu_emu_rsp, { ...r, magic: IOMMU_EMU_MAGIC, version: IOMMU_EMU_PROTOCOL_VERSION, out_len: payload?.length ?? 0 }, out);
  if (payload) out.set(payload, iommu_emu_rsp.size);
  return out;
}

export function encodeRequest(r: Omit<Input<typeof iommu_emu_req>, 'magic' | 'version' | 'in_len'>, payload?: Uint8Array): Buffer {
  const out = Buffer.alloc(iommu_emu_req.size + (payload?.length ?? 0));
  encode(iommu_emu_req, { ...r, magic: IOMMU_EMU_MAGIC, version: IOMMU_EMU_PROTOCOL_VERSION, in_len: payload?.length ?? 0 }, out);
  if (payload) out.set(payload, iommu_emu_req.size);
  return out;
}

export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

/**
 * Splits a byte stream into frames of `layout` whose payload length is `lenField`. Throws a
 * ProtocolError on a bad magic, version or an oversized payload (the connection is then closed).
 */
export class FrameReader<L extends StructLayout<any>> { // eslint-disable-line @typescript-eslint/no-explicit-any
  private buf: Buffer = Buffer.alloc(0);

  constructor(
    private readonly layout: L,
    private readonly lenField: 'in_len' | 'out_len',
  ) {}

  push(chunk: Buffer): { header: Decoded<L>; payload: Buffer }[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: { header: Decoded<L>; payload: Buffer }[] = [];
    let at = 0;
    while (this.buf.length - at >= this.layout.size) {
      const header = decode(this.layout, this.buf, at) as Decoded<L> & { magic: number; version: number } & Record<string, number>;
      if (header.magic !== IOMMU_EMU_MAGIC) throw new ProtocolError(`bad magic 0x${header.magic.toString(16)}`);
      if (header.version !== IOMMU_EMU_PROTOCOL_VERSION) throw new ProtocolError(`protocol version ${header.version}, this server speaks ${IOMMU_EMU_PROTOCOL_VERSION}`);
      const len = header[this.lenField]!;
      if (len > IOMMU_EMU_MAX_PAYLOAD) throw new ProtocolError(`payload of ${len} bytes exceeds ${IOMMU_EMU_MAX_PAYLOAD}`);
      if (this.buf.length - at < this.layout.size + len) break;
      out.push({ header, payload: this.buf.subarray(at + this.layout.size, at + this.layout.size + len) });
      at += this.layout.size + len;
    }
    this.buf = at === this.buf.length ? Buffer.alloc(0) : this.buf.subarray(at);
    return out;
  }
}

const C_TYPES: Record<string, string> = { u8: '__u8', u16: '__u16', u32: '__u32', u64: '__u64', aligned_u64: '__aligned_u64', s8: '__s8', s16: '__s16', s32: '__s32', s64: '__s64' };

/**
 * The C header the native front ends include: every layout as a struct with static asserts on
 * sizeof and each offset, and every IOMMU_EMU_* constant of this module. Generated, never edited.
 */
export function cHeader(): string {
  const lines = [
    '/* SPDX-License-Identifier: GPL-2.0-only */',
    '/* Generated from lib/server/channel.ts by scripts/gen-server-header.ts: do not edit. */',
    '#ifndef IOMMU_EMU_SERVER_H',
    '#define IOMMU_EMU_SERVER_H',
    '#include <stddef.h>',
    '#include <linux/types.h>',
    '',
  ];
  const consts = { IOMMU_EMU_MAGIC, IOMMU_EMU_PROTOCOL_VERSION, IOMMU_EMU_OP_HELLO, IOMMU_EMU_OP_FUSE, IOMMU_EMU_ROLE_FUSE, IOMMU_EMU_ROLE_PRELOAD, IOMMU_EMU_MAX_PAYLOAD };
  for (const [k, v] of Object.entries(consts)) lines.push(`#define ${k} 0x${v.toString(16)}u`);
  lines.push('');
  for (const l of [iommu_emu_req, iommu_emu_rsp]) {
    lines.push(`struct ${l.name} {`);
    for (const m of l.members) {
      if (m.type.kind !== 'prim') throw new Error(`${l.name}.${m.name}: only scalars cross the control channel`);
      lines.push(`\t${C_TYPES[m.type.name]} ${m.name};`);
    }
    lines.push('};');
    lines.push(`_Static_assert(sizeof(struct ${l.name}) == ${l.size}, "sizeof(struct ${l.name})");`);
    for (const m of l.members) lines.push(`_Static_assert(offsetof(struct ${l.name}, ${m.name}) == ${m.offset}, "${l.name}.${m.name}");`);
    lines.push('');
  }
  lines.push('#endif');
  return `${lines.join('\n')}\n`;
}

