// SPDX-License-Identifier: GPL-2.0-only
/**
 * The live /sys against the static export, in one run and on the same files: one child process
 * reads and writes each tree in interleaved rounds, so machine load hits all of them alike, and
 * times the first `find /sys | wc -l` (every entry a LOOKUP with zero cache timeouts).
 *
 * Trees, each where this machine allows it:
 *   - static:  the export, a plain directory
 *   - direct:  the Node server holding /dev/fuse (root)
 *   - helper:  the Node server behind the native helper over the control socket (fusermount3)
 *   - libfuse3: a C passthrough of the static export with the same zero timeouts and direct I/O
 *               (bench/c/fuse3_passthrough.c; needs Debian libfuse3-dev) — the floor of a
 *               libfuse3 design, before any round trip to Node
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LiveMount, RunServer, createMachine, exportTree, helperPath, isMounted, mountLive } from '../lib';

const FILES = ['kernel/iommu_groups/2/reserved_regions', 'kernel/iommu_groups/2/type', 'bus/pci/devices/0000:01:00.0/vendor', 'bus/pci/devices/0000:01:00.0/driver_override'];
const WRITE = 'bus/pci/devices/0000:01:00.0/driver_override';
const ROUNDS = 5;
const MS = 250;

/** Runs in the child: find on each tree (cold, then again), then interleaved read and write rounds. */
const CHILD = `
const fs = require('fs'), { execSync } = require('child_process');
const roots = JSON.parse(process.argv[1]), rounds = ${ROUNDS}, ms = ${MS};
const files = ${JSON.stringify(FILES)};
const now = () => process.hrtime.bigint();
const rate = (fn) => { let n = 0; const t0 = now(), end = t0 + BigInt(ms) * 1000000n; while (now() < end) { fn(); n++; } return [n, Number(now() - t0) / 1e9]; };
const find = (root) => { const t0 = now(); const n = Number(execSync('find ' + root + ' | wc -l').toString().trim()); return [n, Number(now() - t0) / 1e9]; };
const out = {};
for (const r of roots) out[r.name] = { find1: find(r.root), find2: null, read: [0, 0], write: [0, 0] };
for (const r of roots) out[r.name].find2 = find(r.root);
let i = 0;
for (let k = 0; k < rounds; k++) for (const r of roots) {
  const a = rate(() => fs.readFileSync(r.root + '/' + files[i++ % files.length]));
  const b = rate(() => fs.writeFileSync(r.root + '/${WRITE}', (i++ & 1) ? 'vfio-pci\\n' : '\\n'));
  const o = out[r.name]; o.read = [o.read[0] + a[0], o.read[1] + a[1]]; o.write = [o.write[0] + b[0], o.write[1] + b[1]];
}
console.log(JSON.stringify(out));
`;

type Pair = [number, number];
type Figures = Record<string, { find1: Pair; find2: Pair; read: Pair; write: Pair }>;

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const wait = async (cond: () => boolean, ms = 10_000) => {
  for (const end = Date.now() + ms; !cond() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
  return cond();
};

function output(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (b: Buffer) => (out += b.toString()));
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited with ${code}`))));
  });
}

export async function run(): Promise<void> {
  const m = createMachine('intel-vtd-server');
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'iommu-emu-bench-'));
  const roots: { name: string; root: string }[] = [];
  const notes: string[] = [];
  const undo: (() => Promise<void>)[] = [];
  const servers: RunServer[] = [];
  try {
    exportTree(m, path.join(base, 'static'));
    roots.push({ name: 'static export', root: path.join(base, 'static', 'sys') });

    const live = async (name: string, mode: 'direct' | 'helper') => {
      const server = await RunServer.start(m, { dir: path.join(base, `${mode}.run`), ownerUid: process.getuid?.() ?? 0, ownerGid: process.getgid?.() ?? 0 });
      servers.push(server);
      const dir = path.join(base, mode);
      fs.mkdirSync(dir);
      const mnt: LiveMount = await mountLive(server, dir, mode);
      undo.push(() => mnt.unmount());
      roots.push({ name, root: path.join(dir, 'sys') });
    };
    if (process.getuid?.() === 0) await live('live, Node on /dev/fuse', 'direct');
    else notes.push('direct /dev/fuse: needs root');
    if (fs.existsSync(helperPath()) && has('fusermount3')) await live('live, Node via helper', 'helper');
    else notes.push('helper: not built or no fusermount3');

    if (has('pkg-config') && spawnSync('pkg-config', ['--exists', 'fuse3']).status === 0) {
      const bin = path.join(base, 'fuse3_passthrough');
      const flags = spawnSync('pkg-config', ['--cflags', '--libs', 'fuse3'], { encoding: 'utf8' }).stdout.trim().split(/\s+/);
      const cc = spawnSync('cc', ['-O2', '-Wall', '-o', bin, path.join(__dirname, 'c', 'fuse3_passthrough.c'), ...flags], { encoding: 'utf8' });
      if (cc.status === 0) {
        const dir = path.join(base, 'libfuse3');
        fs.mkdirSync(dir);
        const pt: ChildProcess = spawn(bin, [path.join(base, 'static'), dir], { stdio: 'ignore' });
        if (await wait(() => isMounted(dir))) {
          undo.push(async () => {
            spawnSync(process.getuid?.() === 0 ? 'umount' : 'fusermount3', process.getuid?.() === 0 ? [dir] : ['-u', dir]);
            await new Promise((r) => (pt.exitCode !== null ? r(null) : pt.on('close', r)));
          });
          roots.push({ name: 'libfuse3 passthrough (C)', root: path.join(dir, 'sys') });
        } else {
          pt.kill();
          notes.push('libfuse3: the passthrough did not mount');
        }
      } else notes.push(`libfuse3: cc failed: ${cc.stderr.trim().split('\n')[0]}`);
    } else notes.push('libfuse3: no pkg-config fuse3 (Debian libfuse3-dev)');

    const f = JSON.parse(await output(process.execPath, ['-e', CHILD, JSON.stringify(roots)])) as Figures;
    const per = (p: Pair) => p[0] / p[1];
    const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
    const st = f['static export']!;
    console.log(`live /sys vs static export: intel-vtd-server, one reader process, ${ROUNDS} interleaved rounds of ${MS} ms per tree`);
    console.log(`  ${'tree'.padEnd(28)} ${'reads/s'.padStart(9)} ${'writes/s'.padStart(9)}  find /sys | wc -l (first, again)`);
    for (const r of roots) {
      const x = f[r.name]!;
      console.log(
        `  ${r.name.padEnd(28)} ${fmt(per(x.read)).padStart(9)} ${fmt(per(x.write)).padStart(9)}  ${x.find1[0]} entries: ${(x.find1[1] * 1000).toFixed(0)} ms, ${(x.find2[1] * 1000).toFixed(0)} ms` +
          (r.name === 'static export' ? '' : `   (reads: static/this ${(per(st.read) / per(x.read)).toFixed(0)}x)`),
      );
    }
    console.log(`  reads: open+read+close of ${FILES.length} attributes in turn; writes: open+write+close of ${WRITE} (a store() when live)`);
    for (const n of notes) console.log(`  not measured: ${n}`);
  } finally {
    for (const u of undo.reverse()) await u();
    for (const s of servers) await s.close();
    fs.rmSync(base, { recursive: true, force: true });
  }
}

if (require.main === module) void run();
