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
/** 2: the preload shim's opcodes and the len/pos/fd/cmd request fields. */
export const IOMMU_EMU_PROTOCOL_VERSION = 2;

/**
 * Front end → server. The meaning of `arg`, `len`, `pos`, `fd` and `cmd` is the opcode's (the
 * table at the IOMMU_EMU_OP_* constants); each is a raw value the program passed, never a struct
 * the front end looked into.
 */
export const iommu_emu_req = struct('iommu_emu_req', {
  magic: u32,
  /** IOMMU_EMU_OP_* */
  opcode: u16,
  version: u16,
  /** Chosen by the front end, echoed in the reply (FUSE: the kernel's unique). */
  id: u64,
  /** The calling process (0: the kernel, for FUSE requests). */
  pid: s32,
  /** IOMMU_EMU_F_* */
  flags: u32,
  /** Server-side object the request is about (an emulated open file); 0 for none. */
  handle: u64,
  /** A raw argument: an ioctl's argument, a user buffer or mapping address, an open mode. */
  arg: u64,
  /** A byte count (read, write, mmap length). */
  len: u64,
  /** A file position or mmap offset; -1 for "the file's own position". */
  pos: s64,
  /** The program's fd number the call was made on; -1 for none. */
  fd: s32,
  /** An ioctl request number, open(2) flags, mmap prot, an access(2) mode. */
  cmd: u32,
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

/**
 * Introduce the front end: `arg` = IOMMU_EMU_ROLE_*; the reply's result is the protocol version.
 * The preload shim says it once per process, `pos` = the pid it was forked from (-1: a new
 * program image, after execve or at start).
 */
export const IOMMU_EMU_OP_HELLO = 1;
/**
 * One FUSE request from /dev/fuse as payload; the reply's payload is written back to /dev/fuse
 * as is. The server sends FUSE notifications the same way, with id 0.
 */
export const IOMMU_EMU_OP_FUSE = 2;

/*
 * The preload shim's requests (role PRELOAD, on the preload socket). A reply's `result` is what
 * the libc call returns (>= 0) or -errno; IOMMU_EMU_RSP_PASSTHROUGH says "not an emulated node:
 * let libc do it". New emulated fds arrive as SCM_RIGHTS with the reply, one
 * `iommu_emu_newfd` each in the payload, in the same order.
 *
 *   op       handle  fd  cmd           arg            len     pos               payload
 *   OPEN     -       -   open flags    mode           -       -                 path, NUL-terminated
 *   CLOSE    file    fd  -             -              -       -                 -
 *   IOCTL    file    fd  request       raw argument   -       -                 -
 *   READ     file    fd  -             user buffer    count   offset | -1       -
 *   WRITE    file    fd  -             user buffer    count   offset | -1       -
 *   MMAP     file    fd  prot          address hint   length  offset            -   (flags: mmap flags)
 *   STAT     file|0  fd  AT_* flags    -              -       -                 path unless by file
 *   ACCESS   -       -   mode          -              -       -                 path
 *   FORK     -       -   -             child pid      -       -                 -
 *   IDENTIFY -       -   -             -              -       -                 u64 inode numbers
 */
export const IOMMU_EMU_OP_OPEN = 3;
export const IOMMU_EMU_OP_CLOSE = 4;
export const IOMMU_EMU_OP_IOCTL = 5;
export const IOMMU_EMU_OP_READ = 6;
export const IOMMU_EMU_OP_WRITE = 7;
/** Reply: result 0, an `iommu_emu_mmap` payload and the memfd to map (SCM_RIGHTS). */
export const IOMMU_EMU_OP_MMAP = 8;
/** Reply: an `iommu_emu_stat` payload. */
export const IOMMU_EMU_OP_STAT = 9;
export const IOMMU_EMU_OP_ACCESS = 10;
/** The parent, right after fork(2) returned the child's pid. */
export const IOMMU_EMU_OP_FORK = 11;
/**
 * Which of these sockets (by inode) are emulated files: the reply payload has one
 * `iommu_emu_newfd` per inode asked (handle 0: not one), fd -1.
 */
export const IOMMU_EMU_OP_IDENTIFY = 12;
/**
 * Control (role CONTROL, on the control socket): raise interrupt `arg` of IRQ index `cmd`
 * (VFIO_PCI_*_IRQ_INDEX) of the open device named by the payload (a PCI address); result 0 or
 * -errno (ENODEV: no such device open, EINVAL: no such vector or no eventfd on it).
 */
export const IOMMU_EMU_OP_IRQ = 13;

export const IOMMU_EMU_ROLE_FUSE = 1;
export const IOMMU_EMU_ROLE_PRELOAD = 2;
export const IOMMU_EMU_ROLE_CONTROL = 3;

/** READ/WRITE at `pos` (pread/pwrite) rather than at the file's position. */
export const IOMMU_EMU_F_POSITIONED = 1;
/** STAT of the link itself (lstat, AT_SYMLINK_NOFOLLOW). */
export const IOMMU_EMU_F_NOFOLLOW = 2;

/** Not an emulated node: the front end lets libc handle the call. */
export const IOMMU_EMU_RSP_PASSTHROUGH = 1;
/** The payload starts with `iommu_emu_newfd` entries, one per fd sent with the reply. */
export const IOMMU_EMU_RSP_NEWFDS = 2;

/** A new emulated fd in the caller (an open, an fd-returning ioctl): where it goes and what it is. */
export const iommu_emu_newfd = struct('iommu_emu_newfd', {
  /** The number the kernel gave it (and wrote wherever the ioctl reports it). */
  fd: s32,
  /** FD_CLOEXEC or 0. */
  fd_flags: u32,
  /** The open file's `f_flags` (what F_GETFL reports). */
  file_flags: u32,
  reserved: u32,
  handle: u64,
});

/** The MMAP reply: map the memfd sent with it at this offset. */
export const iommu_emu_mmap = struct('iommu_emu_mmap', {
  offset: u64,
});

/** What stat(2) reports for an emulated node, as the kernel's inode says it. */
export const iommu_emu_stat = struct('iommu_emu_stat', {
  dev: u64,
  ino: u64,
  mode: u32,
  nlink: u32,
  uid: u32,
  gid: u32,
  rdev_major: u32,
  rdev_minor: u32,
  size: s64,
  blksize: s64,
  blocks: s64,
  atime_sec: s64,
  atime_nsec: s64,
  mtime_sec: s64,
  mtime_nsec: s64,
  ctime_sec: s64,
  ctime_nsec: s64,
});

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

/** Every layout that crosses the channel, in the generated header's order. */
export const LAYOUTS = [iommu_emu_req, iommu_emu_rsp, iommu_emu_newfd, iommu_emu_mmap, iommu_emu_stat] as const;

/** Every IOMMU_EMU_* number of this module: the generated header defines each. */
export const CONSTANTS: Readonly<Record<string, number>> = {
  IOMMU_EMU_MAGIC,
  IOMMU_EMU_PROTOCOL_VERSION,
  IOMMU_EMU_OP_HELLO,
  IOMMU_EMU_OP_FUSE,
  IOMMU_EMU_OP_OPEN,
  IOMMU_EMU_OP_CLOSE,
  IOMMU_EMU_OP_IOCTL,
  IOMMU_EMU_OP_READ,
  IOMMU_EMU_OP_WRITE,
  IOMMU_EMU_OP_MMAP,
  IOMMU_EMU_OP_STAT,
  IOMMU_EMU_OP_ACCESS,
  IOMMU_EMU_OP_FORK,
  IOMMU_EMU_OP_IDENTIFY,
  IOMMU_EMU_OP_IRQ,
  IOMMU_EMU_ROLE_FUSE,
  IOMMU_EMU_ROLE_PRELOAD,
  IOMMU_EMU_ROLE_CONTROL,
  IOMMU_EMU_F_POSITIONED,
  IOMMU_EMU_F_NOFOLLOW,
  IOMMU_EMU_RSP_PASSTHROUGH,
  IOMMU_EMU_RSP_NEWFDS,
  IOMMU_EMU_MAX_PAYLOAD,
};

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
  for (const [k, v] of Object.entries(CONSTANTS)) lines.push(`#define ${k} 0x${v.toString(16)}u`);
  lines.push('');
  for (const l of LAYOUTS) {
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

