// SPDX-License-Identifier: GPL-2.0-only
/** A real agent on 127.0.0.1 (ephemeral port): the API end to end, tokens, and a bounded load test. */
import test from 'ava';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { Agent, AgentClient, AgentClientError } from '.';
import { loadBuiltinHost } from '../hosts';

async function started(opts: ConstructorParameters<typeof Agent>[0] = {}) {
  const agent = new Agent({ defaultHost: loadBuiltinHost('intel-vtd-server'), ...opts });
  const url = await agent.listen(0, '127.0.0.1');
  return { agent, url };
}

test('hosts, machines, files, stores with errno, groups with usable ranges, VFIO map/unmap, destroy', async (t) => {
  const { agent, url } = await started();
  const c = new AgentClient(url);
  try {
    t.true((await c.hosts()).some((h) => h.name === 'amd-epyc'));
    t.deepEqual((await c.machines()).map((m) => m.id), ['default']);
    const rr = (await c.readFile('default', '/sys/kernel/iommu_groups/2/reserved_regions')).toString();
    t.is(rr, '0x000000007b800000 0x000000007fffffff direct-relaxable\n0x00000000fee00000 0x00000000feefffff msi\n');
    const dir = await c.stat('default', '/sys/kernel/iommu_groups/2');
    t.is(dir.kind, 'dir');
    const link = await c.stat('default', '/sys/bus/pci/devices/0000:00:02.0/iommu_group');
    t.deepEqual(link, { path: '/sys/bus/pci/devices/0000:00:02.0/iommu_group', kind: 'link', target: '../../../kernel/iommu_groups/2' });
    const e = await t.throwsAsync(c.writeFile('default', '/sys/kernel/iommu_groups/0/type', 'bogus'), { instanceOf: AgentClientError });
    t.deepEqual([e!.status, e!.code, e!.errno], [400, 'EINVAL', 22]);
    const ebusy = await t.throwsAsync(c.writeFile('default', '/sys/bus/pci/drivers/vfio-pci/bind', '0000:00:02.0'), { instanceOf: AgentClientError });
    t.is(ebusy!.code, 'ENODEV');
    t.deepEqual(await c.writeFile('default', '/sys/bus/pci/devices/0000:01:00.0/driver_override', 'vfio-pci\n'), { path: '/sys/bus/pci/devices/0000:01:00.0/driver_override', written: 9 });
    const groups = await c.groups('default');
    const g2 = groups.find((g) => g.id === 2)!;
    // direct-relaxable stays usable (vfio_iommu_resv_exclude skips it); msi is carved out.
    t.deepEqual(g2.usable, [
      { start: '0x0000000000000000', last: '0x00000000fedfffff' },
      { start: '0x00000000fef00000', last: '0x0000ffffffffffff' },
    ]);
    const nvme = groups.find((g) => g.devices.some((d) => d.driver === 'vfio-pci'))!;
    const { container } = await c.openContainer('default');
    await c.attachGroup('default', container, nvme.id);
    const info = await c.containerInfo('default', container);
    t.deepEqual(info.iommu!.iovaRanges, g2.usable);
    await c.map('default', container, { iova: 0x100000n, size: 0x200000n });
    const inMsi = await t.throwsAsync(c.map('default', container, { iova: 0xfee00000n, size: 0x1000n }), { instanceOf: AgentClientError });
    t.is(inMsi!.code, 'EINVAL');
    t.is((await c.unmap('default', container, 'all')).unmapped, '0x0000000000200000');
    const m = await c.createMachine({ topology: { name: 'x', kernel: '6.8', arch: 'x86_64', iommus: [], devices: [] } });
    t.is(m.groups, 0);
    t.deepEqual(await c.destroyMachine(m.id), { deleted: m.id });
    t.is((await t.throwsAsync(c.groups(m.id), { instanceOf: AgentClientError }))!.status, 404);
  } finally {
    await agent.close();
  }
});

test('iommufd: a machine built with CONFIG_IOMMUFD binds a group\'s cdevs to an IOAS and reports its ranges; bad kconfig and no /dev/iommu are errors', async (t) => {
  const { agent, url } = await started();
  const c = new AgentClient(url);
  try {
    const m = await c.createMachine({ host: 'intel-vtd-server', kconfig: { CONFIG_IOMMUFD: true } });
    const nvme = (await c.groups(m.id)).find((g) => g.devices.some((d) => d.driver === 'vfio-pci'))!;
    const info = await c.iommufdGroupInfo(m.id, nvme.id);
    t.deepEqual(info.iovaRanges, nvme.usable, 'the same usable IOVA as the IOMMU core (and type1)');
    t.true(info.matchesGroupUsableIova);
    t.is(info.alignment, '0x0000000000001000');
    t.deepEqual(info.devices.map((d) => d.cdev), ['/dev/vfio/devices/vfio0']);
    const again = await c.iommufdGroupInfo(m.id, nvme.id);
    t.deepEqual(again.iovaRanges, info.iovaRanges, 'everything was closed: a second attach works');
    const none = await t.throwsAsync(c.iommufdGroupInfo('default', nvme.id), { instanceOf: AgentClientError });
    t.deepEqual([none!.status, none!.code], [404, 'ENODEV']);
    t.regex(none!.message, /CONFIG_IOMMUFD/);
    const noGroup = await t.throwsAsync(c.iommufdGroupInfo(m.id, 99), { instanceOf: AgentClientError });
    t.is(noGroup!.code, 'ENOENT');
    const bad = await t.throwsAsync(c.createMachine({ host: 'intel-vtd-server', kconfig: { CONFIG_IOMMUFD_VFIO_CONTAINER: true } }), { instanceOf: AgentClientError });
    t.deepEqual([bad!.status, bad!.code], [400, 'EINVAL']);
    t.regex(bad!.message, /CONFIG_IOMMUFD_VFIO_CONTAINER/);
    const notBool = await t.throwsAsync(c.createMachine({ host: 'intel-vtd-server', kconfig: { CONFIG_IOMMUFD: 'y' } as never }), { instanceOf: AgentClientError });
    t.regex(notBool!.message, /body\.kconfig/);
  } finally {
    await agent.close();
  }
});

test('a token is checked on every request; a non-loopback listener without one is refused', async (t) => {
  const { agent, url } = await started({ token: 'tok' });
  try {
    t.is((await t.throwsAsync(new AgentClient(url).hosts(), { instanceOf: AgentClientError }))!.status, 401);
    t.is((await t.throwsAsync(new AgentClient(url, { token: 'tok!' }).hosts(), { instanceOf: AgentClientError }))!.status, 401);
    t.true((await new AgentClient(url, { token: 'tok' }).hosts()).length > 0);
  } finally {
    await agent.close();
  }
  await t.throwsAsync(new Agent().listen(0, '0.0.0.0'), { message: /requires a token/ });
});

test('bounded load: thousands of requests from concurrent clients, no errors, heap back near where it started', async (t) => {
  const { agent, url } = await started({ maxMachines: 128 });
  // A forced GC without --expose-gc on the command line: the flag, then a fresh context's gc().
  v8.setFlagsFromString('--expose-gc');
  const gc = ((globalThis as { gc?: () => void }).gc ?? vm.runInNewContext('gc')) as (() => void) | undefined;
  const heap = () => {
    gc?.();
    return process.memoryUsage().heapUsed;
  };
  const CLIENTS = 16;
  const ROUNDS = 2;
  const PER_CLIENT = 150;
  let ok = 0;
  let errors = 0;
  const statuses = new Map<string, number>();
  const one = async (c: AgentClient, i: number, own: string) => {
    switch (i % 5) {
      case 0:
        return c.readFile('default', '/sys/kernel/iommu_groups/2/reserved_regions');
      case 1:
        return c.groups(own);
      case 2:
        return c.writeFile(own, '/sys/bus/pci/devices/0000:41:00.0/driver_override', i % 2 ? 'vfio-pci' : '\n');
      case 3:
        return c.writeFile(own, '/sys/kernel/iommu_groups/0/type', 'nope').catch((e: AgentClientError) => {
          if (e.code !== 'EINVAL') throw e;
        });
      default:
        return c.machines();
    }
  };
  const round = async () => {
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        const c = new AgentClient(url);
        const own = (await c.createMachine({ host: 'amd-epyc' })).id;
        for (let i = 0; i < PER_CLIENT; i++) {
          try {
            await one(c, i, own);
            ok++;
          } catch (e) {
            errors++;
            const k = e instanceof AgentClientError ? e.code : String(e);
            statuses.set(k, (statuses.get(k) ?? 0) + 1);
          }
        }
        await c.destroyMachine(own);
      }),
    );
  };
  try {
    await round(); // warm-up: JIT, ajv, module caches
    const before = heap();
    const t0 = Date.now();
    for (let r = 0; r < ROUNDS; r++) await round();
    const ms = Date.now() - t0;
    const after = heap();
    const total = CLIENTS * PER_CLIENT * ROUNDS;
    t.log(`${total} requests (+${CLIENTS * PER_CLIENT} warm-up) from ${CLIENTS} concurrent clients in ${ms} ms; heap ${(before / 2 ** 20).toFixed(1)} → ${(after / 2 ** 20).toFixed(1)} MiB${gc ? ' (forced GC)' : ' (no --expose-gc: loose bound)'}; machines left ${agent.machineCount}`);
    t.is(errors, 0, JSON.stringify([...statuses]));
    t.is(ok, total + CLIENTS * PER_CLIENT);
    t.is(agent.machineCount, 1);
    // Loose: no per-request retention (that would be tens of MiB for this many requests).
    t.true(after - before < (gc ? 16 : 64) * 2 ** 20, `heap grew by ${((after - before) / 2 ** 20).toFixed(1)} MiB`);
  } finally {
    await agent.close();
  }
});
