// SPDX-License-Identifier: GPL-2.0-only
/** `iommu-emu run`: an unmodified program reads the emulated /sys in a private mount namespace. */
import test, { ExecutionContext } from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createMachine } from '../../../lib/index';
import { main } from '../main';
import { bufferIO } from '../io';
import { namespacesAvailable } from './run';

const ns = namespacesAvailable();
/** Tests that need a private mount namespace: skipped, with the reason in the title, where there is none. */
const nsTest = (title: string, fn: (t: ExecutionContext) => Promise<void>) =>
  ns.ok ? test.serial(title, fn) : test.serial.skip(`${title} (skipped: namespaces not allowed here: ${ns.reason})`, fn);
const leftovers = () => fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('iommu-emu-run-'));

nsTest('run --host intel-vtd-server -- sh -c cat …/reserved_regions prints the emulated regions', async (t) => {
  const before = leftovers();
  const io = bufferIO(process.env);
  const code = await main(['run', '--host', 'intel-vtd-server', '--', 'sh', '-c', 'cat /sys/kernel/iommu_groups/*/reserved_regions'], io);
  t.is(code, 0, io.err());
  const m = createMachine('intel-vtd-server');
  const ids = (m.fs.readdirSync('/sys/kernel/iommu_groups') as string[]).sort();
  t.is(io.out(), ids.map((i) => String(m.fs.readFileSync(`/sys/kernel/iommu_groups/${i}/reserved_regions`, 'utf8'))).join(''));
  t.deepEqual(leftovers(), before, 'the temporary tree is removed');
});

nsTest('run propagates the exit code and a signal death as 128+N, cleaning up each time', async (t) => {
  const before = leftovers();
  t.is(await main(['run', '--host', 'amd-epyc', '--', 'sh', '-c', 'test -e /sys/class/iommu/ivhd0 && exit 7'], bufferIO(process.env)), 7);
  t.is(await main(['run', '--', 'sh', '-c', 'kill -TERM $$'], bufferIO(process.env)), 128 + os.constants.signals.SIGTERM);
  t.deepEqual(leftovers(), before);
});

nsTest('SIGTERM to iommu-emu run reaches the program and the tree is still removed', async (t) => {
  const before = leftovers();
  const bin = path.join(__dirname, '..', 'bin.ts');
  // The shell cannot exec its last command here, so the sleep is a grandchild that must die too.
  const marker = `sleep 29.${process.pid}`;
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', bin, 'run', '--', 'sh', '-c', `echo ready; ${marker}; echo after`], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  child.kill('SIGTERM');
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  t.is(code, 128 + os.constants.signals.SIGTERM);
  t.deepEqual(leftovers(), before);
  t.is(spawnSync('pgrep', ['-f', marker], { encoding: 'utf8' }).stdout, '', 'no process of the program outlives it');
});

test('run without a COMMAND is a usage error', async (t) => {
  const io = bufferIO();
  t.is(await main(['run', '--host', 'amd-epyc'], io), 2);
  t.regex(io.err(), /run needs a COMMAND after --/);
});
