// SPDX-License-Identifier: GPL-2.0-only
/** A real agent on 127.0.0.1 (ephemeral port): the API end to end, its document, tokens, and a bounded load test. */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { Agent, AgentClient, AgentClientError, ROUTES, openapiDocument, schemaRefOf } from '.';
import { tempDir } from '../testing/tmp';
import { loadBuiltinHost } from '../hosts';
import { schemaAjv } from '../schemas';

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
    t.deepEqual(g2.usable_ranges, [
      { start: '0x0000000000000000', last: '0x00000000fedfffff' },
      { start: '0x00000000fef00000', last: '0x0000ffffffffffff' },
    ]);
    const nvme = groups.find((g) => g.devices.some((d) => d.driver === 'vfio-pci'))!;
    const opened = await c.openContainer('default');
    t.deepEqual(opened, { id: 'c1', machine: 'default', api_version: 0, groups: [], iommu: null });
    const attached = await c.attachGroup('default', opened.id, nvme.id);
    t.deepEqual(attached.groups, [nvme.id]);
    t.deepEqual(attached.iommu!.iova_ranges, g2.usable_ranges);
    t.deepEqual((await c.container('default', opened.id)).iommu, attached.iommu);
    await c.map('default', opened.id, { iova: 0x100000n, size: 0x200000n });
    const inMsi = await t.throwsAsync(c.map('default', opened.id, { iova: 0xfee00000n, size: 0x1000n }), { instanceOf: AgentClientError });
    t.is(inMsi!.code, 'EINVAL');
    t.is((await c.unmap('default', opened.id, 'all')).unmapped, '0x0000000000200000');
    t.deepEqual((await c.containers('default')).map((x) => x.id), ['c1']);
    t.deepEqual(await c.closeContainer('default', opened.id), { deleted: 'c1' });
    const m = await c.createMachine({ topology: { name: 'x', kernel: '6.8', arch: 'x86_64', iommus: [], devices: [] } });
    t.is(m.group_count, 0);
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
    t.deepEqual(info.iova_ranges, nvme.usable_ranges, 'the same usable IOVA as the IOMMU core (and type1)');
    t.true(info.matches_group_usable_iova);
    t.is(info.alignment, '0x0000000000001000');
    t.deepEqual(info.devices.map((d) => d.cdev), ['/dev/vfio/devices/vfio0']);
    const again = await c.iommufdGroupInfo(m.id, nvme.id);
    t.deepEqual(again.iova_ranges, info.iova_ranges, 'everything was closed: a second attach works');
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
  await t.throwsAsync(new Agent().listen(0, '0.0.0.0'), { message: /not a loopback address, requires a token/ });
});

test('GET /v1 indexes every endpoint; GET /v1/openapi.json documents each route with the schemas that validate it', async (t) => {
  const { agent, url } = await started({ version: '9.9.9' });
  const c = new AgentClient(url);
  try {
    const index = await c.index();
    t.is(index.version, '9.9.9');
    t.is(index.openapi, '/v1/openapi.json');
    t.is(Object.keys(index.resources).length, ROUTES.length - 1);
    const doc = (await c.openapi()) as { openapi: string; paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { $ref: string } }> } }>>; components: { schemas: Record<string, unknown> } };
    t.is(doc.openapi, '3.1.0');
    for (const r of ROUTES) {
      const op = doc.paths[r.path]?.[r.method.toLowerCase()];
      t.truthy(op, `${r.method} ${r.path} is documented`);
      if (r.body) t.is(op!.requestBody!.content['application/json']!.schema.$ref, `#/components/schemas/${r.body}`);
    }
    // One source: the document's request schemas are the validator's, only $refs re-pointed.
    const ajv = schemaAjv();
    const mapDma = (ajv.getSchema(schemaRefOf('map_dma'))!.schema as { properties: Record<string, unknown> }).properties;
    t.deepEqual(Object.keys((doc.components.schemas.map_dma as { properties: object }).properties), Object.keys(mapDma));
    // Every $ref of the document resolves inside it.
    const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? [];
    for (const r of new Set(refs)) t.true(r.slice(8, -1).replace('#/components/schemas/', '') in doc.components.schemas, r);
  } finally {
    await agent.close();
  }
});

test('every response of a session validates against the schema its route names', async (t) => {
  const { agent, url } = await started();
  const ajv = schemaAjv();
  const seen = new Set<string>();
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url}${path}`, { method, headers: body === undefined ? {} : { 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const json = (await res.json()) as unknown;
    const template = path.split('?')[0]!.replace(/\/machines\/[^/]+/, '/machines/{id}').replace(/\/containers\/c\d+/, '/containers/{cid}').replace(/\/iommufd\/groups\/\d+/, '/iommufd/groups/{group}');
    const route = ROUTES.find((r) => r.method === method && r.path === template)!;
    t.truthy(route, `${method} ${template}`);
    const name = res.ok ? route.response : 'error';
    if (name) {
      const v = ajv.getSchema(schemaRefOf(name))!;
      t.true(v(json), `${method} ${path} → ${res.status}: ${ajv.errorsText(v.errors)}`);
    }
    seen.add(`${method} ${template}`);
    return json as Record<string, unknown>;
  };
  try {
    await call('GET', '/v1');
    await call('GET', '/v1/openapi.json');
    await call('GET', '/v1/hosts');
    const m = (await call('POST', '/v1/machines', { host: 'intel-vtd-server', kernel: '5.9' })).id as string;
    await call('GET', '/v1/machines');
    await call('GET', `/v1/machines/${m}`);
    await call('GET', `/v1/machines/${m}/report`);
    await call('GET', `/v1/machines/${m}/groups`);
    await call('GET', `/v1/machines/${m}/file?path=/sys/kernel/iommu_groups/2/reserved_regions`);
    await call('GET', `/v1/machines/${m}/file?path=/sys/bus/pci/devices/0000:00:02.0/config`);
    await call('PUT', `/v1/machines/${m}/file`, { path: '/sys/kernel/iommu_groups/2/type', data: 'nope' });
    await call('PUT', `/v1/machines/${m}/file`, { path: '/sys/bus/pci/devices/0000:01:00.0/driver_override', data: 'vfio-pci' });
    const cid = (await call('POST', `/v1/machines/${m}/vfio/containers`)).id as string;
    await call('POST', `/v1/machines/${m}/vfio/containers/${cid}/groups`, { group: 7 });
    await call('GET', `/v1/machines/${m}/vfio/containers`);
    await call('GET', `/v1/machines/${m}/vfio/containers/${cid}`);
    await call('POST', `/v1/machines/${m}/vfio/containers/${cid}/map`, { iova: 0x100000, size: '4096' });
    await call('POST', `/v1/machines/${m}/vfio/containers/${cid}/unmap`, { iova: '0x100000', size: 4096 });
    await call('DELETE', `/v1/machines/${m}/vfio/containers/${cid}`);
    await call('GET', `/v1/machines/${m}/iommufd/groups/7`);
    await call('DELETE', `/v1/machines/${m}`);
    const fd = (await call('POST', '/v1/machines', { host: 'intel-vtd-server', kconfig: { CONFIG_IOMMUFD: true } })).id as string;
    await call('GET', `/v1/machines/${fd}/iommufd/groups/7`);
    await call('DELETE', `/v1/machines/${fd}`);
    t.deepEqual(ROUTES.map((r) => `${r.method} ${r.path}`).filter((r) => !seen.has(r)), [], 'every route was exercised');
  } finally {
    await agent.close();
  }
});

test('u64 fields take hex or decimal strings and JSON numbers up to 2^53-1; beyond that, a clear 400', async (t) => {
  const { agent, url } = await started();
  const post = (path: string, body: unknown) => fetch(`${url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  try {
    const cid = ((await (await post('/v1/machines/default/vfio/containers', {})).json()) as { id: string }).id;
    t.is((await post(`/v1/machines/default/vfio/containers/${cid}/groups`, { group: 7 })).status, 200);
    const base = `/v1/machines/default/vfio/containers/${cid}`;
    const ok: [unknown, unknown][] = [
      [0x100000, 4096],
      ['1048576', '0x1000'],
      ['0x100000', 0x1000],
    ];
    for (const [iova, size] of ok) {
      const r = await post(`${base}/map`, { iova, size });
      t.is(r.status, 200, JSON.stringify([iova, size]));
      t.deepEqual(((await r.json()) as { iova: string }).iova, '0x0000000000100000');
      t.is((await post(`${base}/unmap`, { iova, size })).status, 200);
    }
    const bad: [string, RegExp][] = [
      ['{"iova": 9007199254740992, "size": 4096}', /^body\.iova: must be a u64: .*JSON number up to 2\^53-1/],
      ['{"iova": 1.5, "size": 4096}', /^body\.iova: must be a u64/],
      ['{"iova": -1, "size": 4096}', /^body\.iova: must be a u64/],
      ['{"iova": "18446744073709551616", "size": 4096}', /^body\.iova: 18446744073709551616 exceeds 2\^64-1$/],
      ['{"iova": "0x1", "size": "zero"}', /^body\.size: must be a u64/],
    ];
    for (const [body, msg] of bad) {
      const r = await post(`${base}/map`, body);
      t.is(r.status, 400, body);
      t.regex(((await r.json()) as { error: { message: string } }).error.message, msg);
    }
  } finally {
    await agent.close();
  }
});

test('map without vaddr frees the memory it mapped on unmap: cycles leave the address space as it was', async (t) => {
  const { agent, url } = await started();
  const c = new AgentClient(url);
  try {
    const mem = agent.entries()[0]!.m.mem;
    const initial = mem.mappings.length;
    const { id } = await c.openContainer('default');
    await c.attachGroup('default', id, 7);
    const before = mem.mappings.length;
    const vaddrs = new Set<string>();
    for (let i = 0; i < 200; i++) {
      vaddrs.add((await c.map('default', id, { iova: 0x100000, size: 0x1000 })).vaddr);
      await c.unmap('default', id, { iova: 0x100000, size: 0x1000 });
    }
    t.is(mem.mappings.length, before, 'no mapping left behind');
    t.is(vaddrs.size, 1, 'the same memory is handed out each cycle');
    await t.throwsAsync(c.map('default', id, { iova: 0xfee00000, size: 0x1000 }), { instanceOf: AgentClientError });
    t.is(mem.mappings.length, before, 'a refused map frees its memory too');
    await c.map('default', id, { iova: 0x100000, size: 0x2000 });
    await c.closeContainer('default', id);
    t.is(mem.mappings.length, initial, 'closing the container frees its mappings and the handles\' buffers');
  } finally {
    await agent.close();
  }
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

const specValidator = spawnSync('python3', ['-c', 'import openapi_spec_validator'], { encoding: 'utf8' }).status === 0;
(specValidator ? test : test.skip)(`the OpenAPI document passes openapi-spec-validator (3.1)${specValidator ? '' : ' (skipped: python3 -m openapi_spec_validator is not installed; pip install openapi-spec-validator)'}`, async (t) => {
  const dir = tempDir(t, 'iommu-emu-openapi-');
  for (const token of [false, true]) {
    const file = path.join(dir, `openapi-${token}.json`);
    fs.writeFileSync(file, JSON.stringify(openapiDocument('1.0.0', token)));
    const r = spawnSync('python3', ['-m', 'openapi_spec_validator', '--schema', '3.1', '--errors', 'all', file], { encoding: 'utf8', timeout: 60_000 });
    t.is(r.status, 0, `${r.stdout}${r.stderr}`);
    t.regex(r.stdout, /OK/);
  }
});
