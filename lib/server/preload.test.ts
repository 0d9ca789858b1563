// SPDX-License-Identifier: GPL-2.0-only
/**
 * The preload front end with real processes (a C program under LD_PRELOAD, no namespaces: it
 * only touches /dev/vfio): fd numbers are the kernel's, O_CLOEXEC and F_GETFL are the emulated
 * file's, an fd passed over SCM_RIGHTS or kept across execve is the same open file, dup2 onto an
 * emulated fd and a killed process release what they held — before the next call is served.
 */
import test, { type ExecutionContext } from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createMachine } from '../machine';
import { loadNative, preloadLibraryPath } from './native';
import { RunServer } from './server';

const n = loadNative();
const gcc = spawnSync('gcc', ['--version']).status === 0;
const why = !n.ok ? n.reason : !fs.existsSync(preloadLibraryPath()) ? `${preloadLibraryPath()} is not built (make)` : !gcc ? 'no gcc' : undefined;
const shimTest = (title: string, fn: (t: ExecutionContext) => Promise<void>) => (why ? test.serial.skip(`${title} (skipped: ${why})`, fn) : test.serial(title, fn));

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iommu-emu-preload-'));
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));
let bin: string | undefined;
function program(): string {
  if (bin) return bin;
  bin = path.join(tmp, 'shim_lifetime');
  const r = spawnSync('gcc', ['-O2', '-Wall', '-Werror', '-o', bin, path.join(__dirname, '..', 'testing', 'shim_lifetime.c')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return bin;
}

const GROUP = '7';
const NVME = '0000:02:00.0';

async function withServer(fn: (s: RunServer, run: (args: string[]) => Promise<string>) => Promise<void>): Promise<void> {
  const server = await RunServer.start(createMachine('intel-vtd-server'), { tmpdir: tmp });
  const env = { PATH: process.env.PATH, LD_PRELOAD: preloadLibraryPath(), IOMMU_EMU_PRELOAD_SOCKET: server.preload!.socketPath };
  const run = (args: string[]) =>
    new Promise<string>((resolve, reject) => {
      const c = spawn(program(), args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      c.stdout.on('data', (b: Buffer) => (out += b.toString()));
      c.stderr.on('data', (b: Buffer) => (err += b.toString()));
      c.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${err}`))));
    });
  try {
    await fn(server, run);
  } finally {
    await server.close();
  }
}

/** Until the front end saw every process go (the exit notice is asynchronous). */
async function settled(s: RunServer): Promise<void> {
  for (let i = 0; i < 100 && (s.preload!.processes.length || s.preload!.openFiles); i++) await new Promise((r) => setTimeout(r, 50));
}

shimTest('fd numbers, O_CLOEXEC and F_GETFL are the kernel\'s; an fd-returning ioctl takes the lowest free number', async (t) => {
  await withServer(async (s, run) => {
    const out = await run(['numbers', GROUP, NVME]);
    t.deepEqual(out.trim().split('\n'), ['container 3 group 4', 'cloexec container 0 group 1', 'getfl 2', 'device 3 cloexec 1', 'dupfd 10 info 0 regions 9']);
    await settled(s);
    t.is(s.preload!.openFiles, 0, 'every emulated file released after exit');
    t.deepEqual(s.preload!.processes, []);
  });
});

shimTest('an emulated fd passed over SCM_RIGHTS is the same open file; the receiver\'s exit releases it', async (t) => {
  await withServer(async (_s, run) => {
    const out = await run(['scm', GROUP]);
    t.deepEqual(out.trim().split('\n').sort(), ['child status 1', 'parent reopen after the child exited 1', 'parent reopen while the child holds it -16'].sort());
  });
});

shimTest('across execve an fd without O_CLOEXEC stays the same open file, one with it is closed', async (t) => {
  await withServer(async (_s, run) => {
    const out = await run(['exec', GROUP]);
    t.deepEqual(out.trim().split('\n'), ['after exec: kept status 1, cloexec fd closed', 'reopen while kept -16', 'reopen after close 1']);
  });
});

shimTest('dup2 onto an emulated fd releases it before dup2 returns', async (t) => {
  await withServer(async (_s, run) => {
    t.deepEqual((await run(['dup2', GROUP])).trim().split('\n'), ['dup2 1', 'reopen 1']);
  });
});

shimTest('a process killed while holding the group releases it (its placeholder hangs up)', async (t) => {
  await withServer(async (s) => {
    const c = spawn(program(), ['hold', GROUP], { env: { LD_PRELOAD: preloadLibraryPath(), IOMMU_EMU_PRELOAD_SOCKET: s.preload!.socketPath }, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => c.stdout.once('data', () => resolve()));
    t.is(s.preload!.openFiles, 1);
    const m = s.machine;
    t.true(m.sys.open(`/dev/vfio/${GROUP}`, 2) < 0, 'the group is busy in the emulated machine too');
    c.kill('SIGKILL');
    await new Promise((r) => c.on('close', r));
    await settled(s);
    t.is(s.preload!.openFiles, 0);
    const fd = m.sys.open(`/dev/vfio/${GROUP}`, 2);
    t.true(fd >= 0, 'released');
  });
});
