// SPDX-License-Identifier: GPL-2.0-only
/**
 * MAP_DMA + UNMAP_DMA pairs per second from a C program through the preload shim (a run server
 * in this process, the program with LD_PRELOAD), side by side with the same loop through
 * `m.sys.ioctl` in process, and the round-trip latency distribution the program measured per
 * ioctl. With 1 and 2 client processes (the second a fork child on the same container), and
 * with the server's native loop yielding at once (spin 0) or polling 50 µs for the next request,
 * and the client polling 20 µs for its reply before it sleeps (IOMMU_EMU_SPIN_US).
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RunServer, createMachine, loadNative, preloadLibraryPath } from '../lib';
import { mapUnmapSubject } from './b3_map_unmap';

interface ProcResult {
  pairs: number;
  seconds: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

async function throughShim(bin: string, procs: number, spinUs: number, clientSpinUs: number, seconds: number): Promise<ProcResult[]> {
  const m = createMachine('intel-vtd-server');
  const group = m.host.groups().find((g) => m.host.groupHasVfioDevice(g))!;
  const server = await RunServer.start(m, { spinUs });
  try {
    const env = { ...process.env, LD_PRELOAD: preloadLibraryPath(), IOMMU_EMU_PRELOAD_SOCKET: server.preload!.socketPath, IOMMU_EMU_SPIN_US: String(clientSpinUs) };
    const out = await new Promise<string>((resolve, reject) => {
      const c = spawn(bin, [String(group.id), String(seconds), String(procs)], { env, stdio: ['ignore', 'pipe', 'inherit'] });
      let s = '';
      c.stdout.on('data', (b: Buffer) => (s += b.toString()));
      c.on('close', (code) => (code === 0 ? resolve(s) : reject(new Error(`${bin} exited ${code}`))));
    });
    return out
      .trim()
      .split('\n')
      .map((l) => {
        const f = l.split(' ');
        const at = (k: string) => Number(f[f.indexOf(k) + 1]);
        return { pairs: at('pairs'), seconds: at('seconds'), p50: at('p50'), p90: at('p90'), p99: at('p99'), p999: at('p999'), max: at('max') };
      });
  } finally {
    await server.close();
  }
}

const us = (ns: number): string => (ns / 1000).toFixed(1);

export async function run(): Promise<void> {
  const n = loadNative();
  if (!n.ok) return console.log(`shim MAP+UNMAP: skipped (${n.reason})`);
  if (!fs.existsSync(preloadLibraryPath())) return console.log(`shim MAP+UNMAP: skipped (${preloadLibraryPath()} not built: make)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iommu-emu-bench-'));
  try {
    const bin = path.join(dir, 'shim_map_unmap');
    const cc = spawnSync('cc', ['-O2', '-Wall', '-o', bin, path.join(__dirname, 'c', 'shim_map_unmap.c')], { encoding: 'utf8' });
    if (cc.status !== 0) return console.log(`shim MAP+UNMAP: skipped (cc failed: ${cc.stderr.trim()})`);
    const seconds = 2;
    // B3's in-process loop (bench/b3_map_unmap.ts), run for the same time as the shim runs.
    const subject = mapUnmapSubject('in-process', 0);
    let pairs = 0;
    const t0 = process.hrtime.bigint();
    const deadline = t0 + BigInt(seconds * 1e9);
    while (process.hrtime.bigint() < deadline) {
      subject.run(200);
      pairs += 200;
    }
    const inproc = { ioctlsPerSec: (2 * pairs) / (Number(process.hrtime.bigint() - t0) / 1e9) };
    console.log(`in process (m.sys.ioctl), same loop:           ${Math.round(inproc.ioctlsPerSec).toLocaleString('en-US')} ioctls/s`);
    console.log(`through the shim (C program, LD_PRELOAD), ${os.cpus().length} CPUs, load ${os.loadavg()[0]!.toFixed(1)}:`);
    console.log('  procs  spin (server, client µs)   ioctls/s   vs in-process   per-ioctl µs: p50    p90    p99   p99.9     max');
    for (const procs of [1, 2])
      for (const [spin, cspin] of [[0, 0], [50, 0], [50, 20]] as const) {
        const r = await throughShim(bin, procs, spin, cspin, seconds);
        const rate = r.reduce((a, x) => a + (2 * x.pairs) / x.seconds, 0);
        const w = r[0]!;
        console.log(
          `  ${String(procs).padStart(5)}  ${`${spin}, ${cspin}`.padStart(24)}  ${Math.round(rate).toLocaleString('en-US').padStart(9)}   ${(rate / inproc.ioctlsPerSec).toFixed(3).padStart(13)}   ` +
            `${us(w.p50).padStart(17)}  ${us(w.p90).padStart(5)}  ${us(w.p99).padStart(5)}  ${us(w.p999).padStart(6)}  ${us(w.max).padStart(7)}`,
        );
      }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) void run();
