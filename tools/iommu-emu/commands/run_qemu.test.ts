// SPDX-License-Identifier: GPL-2.0-only
/**
 * Real QEMU (Debian qemu-system-x86, TCG, stopped with -S, driven over QMP) as the judge of the
 * emulated VFIO under `iommu-emu run`, through the preload shim:
 * - on intel-vtd-server `-device vfio-pci,host=0000:02:00.0` realizes (query-pci shows the
 *   NVMe's ids) and QMP device_add hot-plugs a second assigned device (the X710, moved to
 *   vfio-pci through the live /sys first);
 * - the seed's scenario (LPC 2016, guest MSI on arm64): on arm64-smmuv3 every group reserves the
 *   software MSI window at 0x8000000, inside a 256 MiB guest's RAM, so QEMU's DMA map of RAM
 *   fails with -22 — at start-up QEMU exits with its own error, and as a hot-plug the device_add
 *   fails with it while the VM keeps running.
 * Skips with the reason where QEMU, the shim or namespaces are missing.
 */
import test, { ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { preloadUnavailable } from '../../../lib/index';
import { TEST_TMP, cli, leftovers, nobodyAvailable } from '../testing/cli';
import { namespacesAvailable } from './run';

const QEMU = 'qemu-system-x86_64';

function unavailable(): string | undefined {
  if (spawnSync(QEMU, ['--version'], { timeout: 20_000 }).status !== 0) return `${QEMU} is not installed (Debian qemu-system-x86)`;
  const shim = preloadUnavailable();
  if (shim) return shim;
  const ns = namespacesAvailable();
  if (!ns.ok) return `namespaces not allowed here: ${ns.reason}`;
  return undefined;
}
const why = unavailable();
const nobody = nobodyAvailable();
const qtest = (title: string, fn: (t: ExecutionContext) => Promise<void>) => (why ? test.serial.skip(`${title} (skipped: ${why})`, fn) : test.serial(title, fn));

/** QEMU with no firmware work to do: stopped (-S), no default devices, TCG, 256 MiB of RAM. */
const qemuArgs = (qmp: string | undefined, devices: string[], pidfile?: string): string[] => [
  QEMU,
  '-S',
  '-nodefaults',
  '-display',
  'none',
  '-machine',
  'pc',
  '-accel',
  'tcg',
  '-m',
  '256',
  ...(qmp ? ['-qmp', `unix:${qmp},server=on,wait=off`] : []),
  ...(pidfile ? ['-pidfile', pidfile] : []),
  ...devices.flatMap((d) => ['-device', d]),
];

interface Qmp {
  cmd(execute: string, args?: Record<string, unknown>): Promise<{ return?: unknown; error?: { desc: string } }>;
  close(): void;
}

/** Connect to QEMU's QMP socket once it is there (bounded), and negotiate capabilities. */
async function qmpConnect(sock: string, deadline = Date.now() + 60_000): Promise<Qmp> {
  for (;;) {
    if (fs.existsSync(sock)) {
      const s = await new Promise<net.Socket | undefined>((resolve) => {
        const c = net.connect(sock);
        c.once('connect', () => resolve(c));
        c.once('error', () => resolve(undefined));
      });
      if (s) {
        let buf = '';
        const waiting: ((m: Record<string, unknown>) => void)[] = [];
        s.on('data', (b: Buffer) => {
          buf += b.toString();
          for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
            const m = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>;
            buf = buf.slice(nl + 1);
            if (!('event' in m)) waiting.shift()?.(m);
          }
        });
        const next = () => new Promise<Record<string, unknown>>((resolve) => waiting.push(resolve));
        await next(); // the greeting
        const q: Qmp = {
          cmd: (execute, args) => {
            const p = next();
            s.write(`${JSON.stringify(args ? { execute, arguments: args } : { execute })}\n`);
            let timer: NodeJS.Timeout | undefined;
            const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`QMP ${execute}: no answer in 60 s`)), 60_000)));
            return Promise.race([p, late]).finally(() => clearTimeout(timer)) as Promise<{ return?: unknown; error?: { desc: string } }>;
          },
          close: () => s.destroy(),
        };
        await q.cmd('qmp_capabilities');
        return q;
      }
    }
    if (Date.now() > deadline) throw new Error(`no QMP socket at ${sock}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface PciDev {
  slot: number;
  id: { vendor: number; device: number };
  qdev_id?: string;
}

async function pciDevices(q: Qmp): Promise<PciDev[]> {
  const r = (await q.cmd('query-pci')).return as { devices: PciDev[] }[];
  return r.flatMap((b) => b.devices);
}

/** `run --host HOST -- sh -c SCRIPT` with QEMU under it, QMP at a socket of its own; `drive` talks to it. */
async function withQemu(t: ExecutionContext, host: string, script: string, devices: string[], drive: (q: Qmp) => Promise<void>, who: 'me' | 'nobody' = 'me') {
  const dir = fs.mkdtempSync(path.join(TEST_TMP, 'qemu-'));
  fs.chmodSync(dir, 0o777);
  const sock = path.join(dir, 'qmp.sock');
  const pidfile = path.join(dir, 'qemu.pid');
  const before = leftovers();
  const run = cli(['run', '--host', host, '--', 'sh', '-c', `${script}exec "$@"`, 'sh', ...qemuArgs(sock, devices, pidfile)], { who, timeoutMs: 180_000 });
  let q: Qmp | undefined;
  try {
    q = await Promise.race([qmpConnect(sock), run.then((r) => Promise.reject(new Error(`QEMU exited early (${r.code}): ${r.stderr}`)))]);
    await drive(q);
    await q.cmd('quit');
  } catch (e) {
    // QEMU has a process group of its own: make sure it does not outlive a failed test.
    const pid = Number(fs.existsSync(pidfile) ? fs.readFileSync(pidfile, 'utf8').trim() : NaN);
    if (pid > 0) process.kill(pid, 'SIGKILL');
    throw e;
  } finally {
    q?.close();
    const r = await run;
    fs.rmSync(dir, { recursive: true, force: true });
    t.notRegex(r.stderr, /no preload shim/);
    t.deepEqual(leftovers(), before, 'the run directory is removed');
  }
}

const NVME = '0000:02:00.0';
const X710 = ['0000:01:00.0', '0000:01:00.1'];
/** Both X710 functions (one group) from i40e to vfio-pci, through the live /sys. */
const bindX710 = X710.map(
  (d) => `echo ${d} > /sys/bus/pci/devices/${d}/driver/unbind; echo vfio-pci > /sys/bus/pci/devices/${d}/driver_override; echo ${d} > /sys/bus/pci/drivers/vfio-pci/bind; `,
).join('');

qtest('QEMU realizes -device vfio-pci,host=0000:02:00.0 on intel-vtd-server and hot-plugs a second assigned device', async (t) => {
  await withQemu(t, 'intel-vtd-server', bindX710, [`vfio-pci,host=${NVME},id=hostdev0`], async (q) => {
    const at = (await pciDevices(q)).find((d) => d.qdev_id === 'hostdev0');
    t.like(at?.id, { vendor: 0x144d, device: 0xa808 }, 'query-pci shows the NVMe behind hostdev0');
    const added = await q.cmd('device_add', { driver: 'vfio-pci', host: X710[0], id: 'hostdev1' });
    t.deepEqual(added, { return: {} }, JSON.stringify(added));
    const hot = (await pciDevices(q)).find((d) => d.qdev_id === 'hostdev1');
    t.like(hot?.id, { vendor: 0x8086, device: 0x1572 }, 'the hot-plugged X710 is on the bus');
  });
});

{
  const title = 'QEMU realizes the assigned NVMe when run by nobody (user namespace)';
  const skip = why ?? (nobody.ok ? undefined : nobody.reason);
  (skip ? test.serial.skip : test.serial)(skip ? `${title} (skipped: ${skip})` : title, async (t) => {
    await withQemu(
      t,
      'intel-vtd-server',
      '',
      [`vfio-pci,host=${NVME},id=hostdev0`],
      async (q) => {
        t.like((await pciDevices(q)).find((d) => d.qdev_id === "hostdev0")?.id, { vendor: 0x144d, device: 0xa808 });
      },
      'nobody',
    );
  });
}

/** QEMU's DMA map of guest RAM into a container whose group reserves [0x8000000, 0x80fffff]. */
const SEED_ERROR = /failed to setup container for group 4: memory listener initialization failed: Region pc\.ram: vfio_dma_map\([^)]*\) = -22 \(Invalid argument\)/;

qtest('seed: QEMU refuses at start-up a device whose group reserves IOVA inside guest RAM (arm64-smmuv3 MSI window), with its -22', async (t) => {
  const before = leftovers();
  const r = await cli(['run', '--host', 'arm64-smmuv3', '--', ...qemuArgs(undefined, [`vfio-pci,host=${NVME},id=hostdev0`])], { timeoutMs: 180_000 });
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, SEED_ERROR);
  t.deepEqual(leftovers(), before);
});

qtest('seed: the same device as a hot-plug — device_add fails with the -22 and the VM keeps running', async (t) => {
  await withQemu(t, 'arm64-smmuv3', '', [], async (q) => {
    const r = await q.cmd('device_add', { driver: 'vfio-pci', host: NVME, id: 'hostdev1' });
    t.regex(r.error?.desc ?? '', SEED_ERROR, JSON.stringify(r));
    t.false((await pciDevices(q)).some((d) => d.qdev_id === 'hostdev1'), 'not on the bus');
    t.deepEqual(await q.cmd('cont'), { return: {} });
    t.like((await q.cmd('query-status')).return, { running: true, status: 'running' });
  });
});
