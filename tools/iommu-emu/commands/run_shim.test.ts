// SPDX-License-Identifier: GPL-2.0-only
/**
 * `iommu-emu run` with the preload shim, judged by real programs: udevadm (libudev accepts the
 * live /sys as sysfs), coreutils stat (the emulated /dev/vfio nodes are the character devices
 * sysfs names), and an interrupt raised from outside the program (`iommu-emu irq`) arriving on
 * the eventfd the program wired with VFIO_DEVICE_SET_IRQS. As root and as nobody where it
 * applies; each skips with the reason where its program or the shim is missing.
 */
import test, { ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createMachine, preloadUnavailable } from '../../../lib/index';
import { BIN, TEST_TMP, cli, leftovers, nobodyAvailable } from '../testing/cli';
import { namespacesAvailable } from './run';

const have = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

function shimMissing(): string | undefined {
  const shim = preloadUnavailable();
  if (shim) return shim;
  const ns = namespacesAvailable();
  if (!ns.ok) return `namespaces not allowed here: ${ns.reason}`;
  return undefined;
}
const shim = shimMissing();
const nobody = nobodyAvailable();
const isRoot = process.getuid?.() === 0;

type Who = 'me' | 'nobody';
const WHO: readonly Who[] = ['me', 'nobody'];
const whoName = (w: Who): string => (w === 'nobody' ? 'nobody' : isRoot ? 'root' : 'this user');

function variant(title: string, need: string | undefined, who: Who, fn: (t: ExecutionContext, who: Who) => Promise<void>): void {
  const skip = need ?? shim ?? (who === 'nobody' && !nobody.ok ? nobody.reason : undefined);
  const full = `${title} (as ${whoName(who)})`;
  if (skip) test.serial.skip(`${full} (skipped: ${skip})`, () => {});
  else
    test.serial(full, async (t) => {
      const before = leftovers();
      await fn(t, who);
      t.deepEqual(leftovers(), before, 'the run directory is removed');
    });
}

const NVME = '0000:02:00.0';

for (const who of WHO) {
  variant('udevadm info reads an assigned device from the live /sys (libudev sees sysfs)', have('udevadm') ? undefined : 'udevadm is not installed (Debian udev)', who, async (t) => {
    const r = await cli(['run', '--host', 'intel-vtd-server', '--', 'udevadm', 'info', `/sys/bus/pci/devices/${NVME}`], { who });
    t.is(r.code, 0, r.stderr);
    t.regex(r.stdout, /^P: \/devices\/pci0000:00\/0000:00:1c\.0\/0000:02:00\.0$/m);
    for (const line of ['E: SUBSYSTEM=pci', 'E: DRIVER=vfio-pci', 'E: PCI_ID=144D:A808', 'E: PCI_SLOT_NAME=0000:02:00.0']) t.true(r.stdout.split('\n').includes(line), line);
  });
}

variant('without the shim udevadm refuses the tree (its statfs is FUSE\'s, not sysfs\')', have('udevadm') ? undefined : 'udevadm is not installed (Debian udev)', 'me', async (t) => {
  const r = await cli(['run', '--no-preload', '--host', 'intel-vtd-server', '--', 'udevadm', 'info', `/sys/bus/pci/devices/${NVME}`]);
  t.not(r.code, 0);
  t.regex(r.stderr, /Unknown device|No such device/);
});

for (const who of WHO) {
  variant('stat: /sys is sysfs, the /dev/vfio nodes are the emulated kernel\'s character devices', have('stat') ? undefined : 'coreutils stat is missing', who, async (t) => {
    // The built-in hosts are built as Debian's kernels are, without CONFIG_IOMMUFD: no device cdev.
    const nodes = ['/dev/vfio/vfio', '/dev/vfio/7'];
    const script = `stat -f -c "%t %T" /sys; stat -c "%n %F %t:%T %a" ${nodes.join(' ')}`;
    const r = await cli(['run', '--host', 'intel-vtd-server', '--', 'sh', '-c', script], { who });
    t.is(r.code, 0, r.stderr);
    const [fsType, ...lines] = r.stdout.trim().split('\n');
    t.is(fsType, '62656572 sysfs', 'SYSFS_MAGIC');
    const reg = createMachine('intel-vtd-server').kernelContext.chrdevs.nodes();
    t.deepEqual(
      lines,
      nodes.map((p) => {
        const n = reg.find((x) => x.path === p)!;
        return `${p} character special file ${n.major.toString(16)}:${n.minor.toString(16)} ${(n.mode & 0o777).toString(8)}`;
      }),
    );
    t.is(lines[0], '/dev/vfio/vfio character special file a:c4 666', 'the misc device 10:196');
  });
}

const gcc = have('gcc');
let helper: string | undefined;
function irqHelper(): string {
  if (helper) return helper;
  const dir = fs.mkdtempSync(path.join(TEST_TMP, 'irq-'));
  fs.chmodSync(dir, 0o755);
  helper = path.join(dir, 'irq_wait');
  const r = spawnSync('gcc', ['-O2', '-Wall', '-Werror', '-o', helper, path.join(__dirname, '..', 'testing', 'irq_wait.c')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return helper;
}

/** The CLI as the program's shell runs it (the same node and checkout). */
const CLI = `${process.execPath} -r ts-node/register/transpile-only ${BIN}`;

for (const who of WHO) {
  variant('iommu-emu irq raises MSI-X vector 3 of the NVMe: the program\'s eventfd for it fires, once', gcc ? undefined : 'no gcc to build the helper', who, async (t) => {
    const bin = irqHelper();
    const ready = path.join(TEST_TMP, `irq-ready-${who}`);
    fs.rmSync(ready, { force: true });
    const script =
      `${bin} 7 ${NVME} 8 ${ready} & p=$!; n=0; while [ ! -e ${ready} ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n+1)); done; ` +
      `${CLI} irq ${NVME} 3; echo "irq $?"; ${CLI} irq 0000:00:14.0 0; echo "irq $?"; wait $p; echo "helper $?"`;
    const r = await cli(['run', '--host', 'intel-vtd-server', '--', 'sh', '-c', script], { who, timeoutMs: 180_000 });
    fs.rmSync(ready, { force: true });
    t.is(r.code, 0, r.stderr);
    // The helper wakes as soon as the interrupt is raised, before the CLI has exited: order aside.
    t.deepEqual(r.stdout.trim().split('\n').sort(), ['helper 0', 'irq 0', 'irq 1', 'vector 3 count 1'], r.stderr);
    t.regex(r.stderr, /irq: 0000:00:14\.0 msix vector 0: No such device \(not an open VFIO device\)/);
  });
}

test('iommu-emu irq outside run says what it needs', async (t) => {
  const r = await cli(['irq', NVME, '1'], { env: { IOMMU_EMU_RUN_DIR: '' } });
  t.is(r.code, 2);
  t.regex(r.stderr, /no run directory/);
  const bad = await cli(['irq', '--index', 'nmi', NVME]);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--index must be msix, msi or intx/);
  const gone = await cli(['irq', '--run', path.join(TEST_TMP, 'no-such-run'), NVME]);
  t.is(gone.code, 2);
  t.regex(gone.stderr, /no run server in .*no-such-run: ENOENT/);
});
