// SPDX-License-Identifier: GPL-2.0-only
/**
 * Real programs that write to /sys, driven through `iommu-emu run` and judged by what the tree
 * says afterwards: dpdk-devbind (Debian dpdk) and driverctl (Debian driverctl). Each skips with
 * the reason when its package or a part of the tree it needs is missing.
 */
import test, { ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createMachine } from '../../../lib/index';
import { TEST_TMP, cli, leftovers, plainUserLive } from '../testing/cli';
import { namespacesAvailable } from './run';

const isRoot = process.getuid?.() === 0;
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const ns = namespacesAvailable();
const m = createMachine('intel-vtd-server');
const NIC = '0000:01:00.0';
const group = path.basename(String(m.fs.readlinkSync(`/sys/bus/pci/devices/${NIC}/iommu_group`)));
const liveForMe = isRoot || plainUserLive().ok;

function skipReason(needs: { cmds: string[]; paths: string[] }): string | undefined {
  if (!ns.ok) return `namespaces not allowed here: ${ns.reason}`;
  if (!liveForMe) return `no live mount for this user: ${(plainUserLive() as { reason: string }).reason}`;
  for (const c of needs.cmds) if (!has(c)) return `${c} is not installed`;
  for (const p of needs.paths) if (!m.fs.existsSync(p)) return `the emulated tree has no ${p} yet (the tree's half of issue 10 adds it)`;
  return undefined;
}

const maybe = (title: string, reason: string | undefined, fn: (t: ExecutionContext) => Promise<void>) =>
  reason ? test.serial.skip(`${title} (skipped: ${reason})`, () => undefined) : test.serial(title, fn);

maybe(
  `dpdk-devbind.py -b vfio-pci ${NIC}: the NIC really moves to vfio-pci and /dev/vfio/${group} appears`,
  skipReason({ cmds: ['dpdk-devbind.py', 'lspci'], paths: ['/sys/module/vfio_pci'] }),
  async (t) => {
    const before = leftovers();
    const r = await cli([
      'run',
      '--host',
      'intel-vtd-server',
      '--',
      'sh',
      '-c',
      `dpdk-devbind.py -b vfio-pci ${NIC} && readlink /sys/bus/pci/devices/${NIC}/driver && ls /dev/vfio && dpdk-devbind.py --status-dev net`,
    ]);
    t.is(r.code, 0, r.stderr);
    t.regex(r.stdout, /drivers\/vfio-pci\n/);
    if (isRoot) t.regex(r.stdout, new RegExp(`^${group}$`, 'm'));
    t.regex(r.stdout, new RegExp(`${NIC} .*drv=vfio-pci`));
    t.deepEqual(leftovers(), before);
  },
);

/**
 * driverctl runs /sbin/modprobe by absolute path for every driver whose /sys/module/<name> it
 * does not find (with the dash of "vfio-pci" that is always). A copy that looks modprobe up on
 * PATH, and a stand-in there that "loads" what the emulated kernel already has, keep the real
 * modprobe — and the host's kernel — out of it. --nosave keeps /etc/driverctl.d untouched.
 */
function driverctlShim(): string {
  const dir = fs.mkdtempSync(path.join(TEST_TMP, 'driverctl-'));
  fs.chmodSync(dir, 0o755);
  fs.writeFileSync(path.join(dir, 'driverctl'), fs.readFileSync('/usr/sbin/driverctl', 'utf8').replaceAll('/sbin/modprobe', 'modprobe'), { mode: 0o755 });
  fs.writeFileSync(
    path.join(dir, 'modprobe'),
    '#!/bin/sh\n# Stand-in: a module "loads" when the emulated kernel has its driver.\nfor a; do case $a in -*) ;; *) m=$a;; esac; done\n' +
      'test -d "/sys/bus/pci/drivers/$m" || test -d "/sys/module/$(echo "$m" | tr - _)"\n',
    { mode: 0o755 },
  );
  return dir;
}

maybe(
  `driverctl --nosave --noprobe set-override ${NIC} vfio-pci, then unset-override: the override and the binding change in the model`,
  skipReason({ cmds: ['driverctl'], paths: [] }),
  async (t) => {
    const shim = driverctlShim();
    t.teardown(() => fs.rmSync(shim, { recursive: true, force: true }));
    const dev = `/sys/bus/pci/devices/${NIC}`;
    const r = await cli(
      [
        'run',
        '--',
        'sh',
        '-c',
        `driverctl --nosave --noprobe set-override ${NIC} vfio-pci && cat ${dev}/driver_override && (test -e ${dev}/driver && echo bound || echo unbound) && ` +
          `echo ${NIC} > /sys/bus/pci/drivers/vfio-pci/bind && readlink ${dev}/driver && driverctl list-overrides && ` +
          `driverctl --nosave --noprobe unset-override ${NIC} && cat ${dev}/driver_override && (test -e ${dev}/driver && echo bound || echo unbound)`,
      ],
      { env: { PATH: `${shim}:${process.env.PATH}` } },
    );
    t.is(r.code, 0, r.stderr);
    t.deepEqual(r.stdout.trim().split('\n'), ['vfio-pci', 'unbound', '../../../../bus/pci/drivers/vfio-pci', `${NIC} vfio-pci`, '(null)', 'unbound']);
    t.false(fs.existsSync(`/etc/driverctl.d/pci-${NIC}`), 'nothing saved on the host');
  },
);

maybe(
  `driverctl --nosave set-override ${NIC} vfio-pci reprobes through drivers_probe and the NIC is bound to vfio-pci`,
  skipReason({ cmds: ['driverctl'], paths: ['/sys/bus/pci/drivers_probe'] }),
  async (t) => {
    const shim = driverctlShim();
    t.teardown(() => fs.rmSync(shim, { recursive: true, force: true }));
    const r = await cli(
      ['run', '--', 'sh', '-c', `driverctl --nosave set-override ${NIC} vfio-pci && readlink /sys/bus/pci/devices/${NIC}/driver && driverctl --nosave unset-override ${NIC} && readlink /sys/bus/pci/devices/${NIC}/driver`],
      { env: { PATH: `${shim}:${process.env.PATH}` } },
    );
    t.is(r.code, 0, r.stderr);
    t.deepEqual(r.stdout.trim().split('\n'), ['../../../../bus/pci/drivers/vfio-pci', '../../../../bus/pci/drivers/i40e']);
  },
);

// As nobody these programs go through the same mount (helper + fusermount3) that run.test.ts
// already drives as nobody with the same writes; they are not repeated here to keep CI short.
