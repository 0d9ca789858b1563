// SPDX-License-Identifier: GPL-2.0-only
/** The run server's control channel: the generated C header, framing, and the front doors. */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { decode, encode } from '../abi';
import { createMachine } from '../machine';
import * as F from '../uapi/fuse';
import {
  FrameReader,
  IOMMU_EMU_MAGIC,
  IOMMU_EMU_OP_FUSE,
  IOMMU_EMU_OP_HELLO,
  IOMMU_EMU_PROTOCOL_VERSION,
  IOMMU_EMU_ROLE_FUSE,
  ProtocolError,
  CONSTANTS,
  LAYOUTS,
  cHeader,
  encodeRequest,
  iommu_emu_req,
  iommu_emu_rsp,
} from './channel';
import { RunServer } from './server';

const gcc = spawnSync('gcc', ['--version']).status === 0;

(gcc ? test : test.skip)(`the generated C header compiles and gcc lays out every member where the TypeScript layout says${gcc ? '' : ' (skipped: no gcc)'}`, (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iommu-emu-hdr-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'iommu_emu_server.h'), cHeader());
  const prints = LAYOUTS.flatMap((l) => [
    `printf("${l.name} %zu\\n", sizeof(struct ${l.name}));`,
    ...l.members.map((m) => `printf("${l.name}.${m.name} %zu %zu\\n", offsetof(struct ${l.name}, ${m.name}), sizeof(((struct ${l.name} *)0)->${m.name}));`),
  ]);
  fs.writeFileSync(path.join(dir, 'p.c'), `#include <stdio.h>\n#include "iommu_emu_server.h"\nint main(void) { ${prints.join(' ')} ${Object.keys(CONSTANTS).map((k) => `printf("${k} %llu\\n", (unsigned long long)${k});`).join(' ')} return 0; }\n`);
  const cc = spawnSync('gcc', ['-Wall', '-Werror', '-o', path.join(dir, 'p'), path.join(dir, 'p.c')], { encoding: 'utf8' });
  t.is(cc.status, 0, cc.stderr);
  const out = spawnSync(path.join(dir, 'p'), { encoding: 'utf8' }).stdout;
  const want = LAYOUTS.flatMap((l) => [`${l.name} ${l.size}`, ...l.members.map((m) => `${l.name}.${m.name} ${m.offset} ${m.type.size}`)]);
  t.deepEqual(out.trim().split('\n'), [...want, ...Object.entries(CONSTANTS).map(([k, v]) => `${k} ${v}`)]);
});

test('the header build/native uses is the one generated now (make regenerates it)', (t) => {
  const built = path.join(__dirname, '..', '..', 'build', 'native', 'iommu_emu_server.h');
  if (!fs.existsSync(built)) return t.pass('not built yet: make builds it from this source');
  t.is(fs.readFileSync(built, 'utf8'), cHeader());
});

test('FrameReader reassembles frames split anywhere and refuses a bad magic, version or size', (t) => {
  const a = encodeRequest({ opcode: IOMMU_EMU_OP_HELLO, id: 7n, arg: 1n });
  const b = encodeRequest({ opcode: IOMMU_EMU_OP_FUSE, id: 8n }, Buffer.from('payload'));
  const both = Buffer.concat([a, b]);
  for (let cut = 1; cut < both.length; cut += 5) {
    const r = new FrameReader(iommu_emu_req, 'in_len');
    const frames = [...r.push(both.subarray(0, cut)), ...r.push(both.subarray(cut))];
    t.deepEqual(frames.map((f) => [f.header.id, f.payload.toString()]), [[7n, ''], [8n, 'payload']], `cut at ${cut}`);
  }
  const bad = Buffer.from(a);
  bad.writeUInt32LE(0x12345678, 0);
  t.throws(() => new FrameReader(iommu_emu_req, 'in_len').push(bad), { instanceOf: ProtocolError, message: /bad magic/ });
  const v2 = Buffer.from(a);
  v2.writeUInt16LE(IOMMU_EMU_PROTOCOL_VERSION + 1, 6);
  t.throws(() => new FrameReader(iommu_emu_req, 'in_len').push(v2), { message: new RegExp(`this server speaks ${IOMMU_EMU_PROTOCOL_VERSION}`) });
  const big = Buffer.from(a);
  big.writeUInt32LE(1 << 24, iommu_emu_req.members.find((m) => m.name === 'in_len')!.offset);
  t.throws(() => new FrameReader(iommu_emu_req, 'in_len').push(big), { message: /exceeds/ });
});

/** Connect, send frames, collect `n` replies. */
async function converse(sock: string, frames: Buffer[], n: number): Promise<{ header: ReturnType<typeof decode<typeof iommu_emu_rsp>>; payload: Buffer }[]> {
  const c = net.connect(sock);
  const reader = new FrameReader(iommu_emu_rsp, 'out_len');
  const got: { header: ReturnType<typeof decode<typeof iommu_emu_rsp>>; payload: Buffer }[] = [];
  return new Promise((resolve, reject) => {
    c.on('data', (b: Buffer) => {
      got.push(...reader.push(b));
      if (got.length >= n) {
        c.destroy();
        resolve(got);
      }
    });
    c.on('error', reject);
    c.on('close', () => resolve(got));
    for (const f of frames) c.write(f);
  });
}

test('the control socket: HELLO as the FUSE front end, then FUSE requests answered frame by frame', async (t) => {
  const server = await RunServer.start(createMachine('intel-vtd-server'));
  t.teardown(() => server.close());
  t.is(fs.statSync(server.dir).mode & 0o777, 0o700, 'the run directory is private');
  const init = Buffer.alloc(F.fuse_in_header.size + F.fuse_init_in.size);
  encode(F.fuse_in_header, { len: init.length, opcode: F.FUSE_INIT, unique: 99n }, init);
  encode(F.fuse_init_in, { major: 7, minor: 38 }, init, F.fuse_in_header.size);
  const replies = await converse(
    server.socketPath,
    [encodeRequest({ opcode: IOMMU_EMU_OP_HELLO, id: 1n, arg: BigInt(IOMMU_EMU_ROLE_FUSE) }), encodeRequest({ opcode: IOMMU_EMU_OP_FUSE, id: 2n }, init)],
    2,
  );
  t.is(replies[0]!.header.result, BigInt(IOMMU_EMU_PROTOCOL_VERSION));
  t.is(replies[1]!.header.id, 2n);
  const out = decode(F.fuse_out_header, replies[1]!.payload);
  t.is(out.unique, 99n, 'the FUSE reply goes back as is');
  t.is(out.error, 0);
  t.is(decode(F.fuse_init_out, replies[1]!.payload, F.fuse_out_header.size).minor, 38);
});

test('the control socket: FUSE frames before HELLO are EPERM, unknown opcodes ENOSYS, garbage closes the connection', async (t) => {
  const errors: Error[] = [];
  const server = await RunServer.start(createMachine('amd-epyc'), { onError: (e) => errors.push(e) });
  t.teardown(() => server.close());
  const r = await converse(server.socketPath, [encodeRequest({ opcode: IOMMU_EMU_OP_FUSE, id: 5n }, Buffer.alloc(40)), encodeRequest({ opcode: 77, id: 6n })], 2);
  t.deepEqual(r.map((x) => [x.header.id, x.header.result]), [[5n, -1n], [6n, -38n]]);
  const closed = await converse(server.socketPath, [Buffer.from('GET / HTTP/1.0\r\n\r\n'.padEnd(iommu_emu_req.size))], 1);
  t.deepEqual(closed, []);
  t.regex(errors.map((e) => e.message).join(), /bad magic/);
});

test('close removes the socket and the run directory it made', async (t) => {
  const server = await RunServer.start(createMachine('amd-epyc'));
  const { dir, socketPath } = server;
  t.true(fs.existsSync(socketPath));
  await server.close();
  t.false(fs.existsSync(dir));
});
