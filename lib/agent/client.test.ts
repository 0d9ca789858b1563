// SPDX-License-Identifier: GPL-2.0-only
/** The fetch client against canned replies (nock): requests it makes, how it surfaces errors. */
import test from 'ava';
import nock from 'nock';
import { AgentClient, AgentClientError } from '.';

const BASE = 'http://agent.test:7070';

test.before(() => nock.disableNetConnect());
test.after.always(() => {
  nock.cleanAll();
  nock.enableNetConnect();
});

test.serial('readFile decodes text and base64 replies; the path is query-encoded', async (t) => {
  const s = nock(BASE)
    .get('/v1/machines/default/file')
    .query({ path: '/sys/kernel/iommu_groups/0/reserved_regions' })
    .reply(200, { path: '/sys/kernel/iommu_groups/0/reserved_regions', kind: 'file', mode: 0o444, size: 42, text: '0x00000000fee00000 0x00000000feefffff msi\n' })
    .get('/v1/machines/m1/file')
    .query({ path: '/sys/bus/pci/devices/0000:00:02.0/config' })
    .reply(200, { path: 'x', kind: 'file', mode: 0o644, size: 2, base64: Buffer.from([0x86, 0x80]).toString('base64') });
  const c = new AgentClient(BASE);
  t.is((await c.readFile('default', '/sys/kernel/iommu_groups/0/reserved_regions')).toString(), '0x00000000fee00000 0x00000000feefffff msi\n');
  t.deepEqual([...(await c.readFile('m1', '/sys/bus/pci/devices/0000:00:02.0/config'))], [0x86, 0x80]);
  t.true(s.isDone());
});

test.serial('writeFile PUTs JSON with the bearer token; an errno reply becomes AgentClientError', async (t) => {
  const s = nock(BASE, { reqheaders: { authorization: 'Bearer s3cret', 'content-type': 'application/json' } })
    .put('/v1/machines/default/file', { path: '/sys/kernel/iommu_groups/0/type', data: 'bogus' })
    .reply(400, { error: { code: 'EINVAL', errno: 22, message: 'EINVAL: Invalid argument' } });
  const c = new AgentClient(BASE, { token: 's3cret' });
  const e = await t.throwsAsync(c.writeFile('default', '/sys/kernel/iommu_groups/0/type', 'bogus'), { instanceOf: AgentClientError });
  t.is(e!.code, 'EINVAL');
  t.is(e!.errno, 22);
  t.is(e!.status, 400);
  t.true(s.isDone());
});

test.serial('createMachine, groups, VFIO calls send the documented bodies (u64 as hex strings)', async (t) => {
  const s = nock(BASE)
    .post('/v1/machines', { host: 'amd-epyc', kernel: '6.8' })
    .reply(201, { id: 'm1', host: 'amd-epyc', kernel: '6.8', arch: 'x86_64', created: 'now', iommus: [], group_count: 7 })
    .get('/v1/machines/m1/groups')
    .reply(200, { groups: [{ id: 0, type: 'DMA', name: null, devices: [], reserved_regions: [], usable_ranges: [], vfio: null }] })
    .post('/v1/machines/m1/vfio/containers', {})
    .reply(201, { id: 'c1', machine: 'm1', api_version: 0, groups: [], iommu: null })
    .post('/v1/machines/m1/vfio/containers/c1/groups', { group: 7 })
    .reply(200, { id: 'c1', machine: 'm1', api_version: 0, groups: [7], iommu: null })
    .post('/v1/machines/m1/vfio/containers/c1/map', { iova: '0x100000', size: '0x200000' })
    .reply(200, { iova: '0x100000', size: '0x200000', vaddr: '0x7f0000000000' })
    .post('/v1/machines/m1/vfio/containers/c1/unmap', { all: true })
    .reply(200, { unmapped: '0x200000' })
    .delete('/v1/machines/m1')
    .reply(200, { deleted: 'm1' });
  const c = new AgentClient(`${BASE}/`);
  t.is((await c.createMachine({ host: 'amd-epyc', kernel: '6.8' })).id, 'm1');
  t.is((await c.groups('m1'))[0]!.type, 'DMA');
  t.is((await c.openContainer('m1')).id, 'c1');
  t.deepEqual((await c.attachGroup('m1', 'c1', 7)).groups, [7]);
  t.is((await c.map('m1', 'c1', { iova: 0x100000n, size: 0x200000 })).vaddr, '0x7f0000000000');
  t.is((await c.unmap('m1', 'c1', 'all')).unmapped, '0x200000');
  t.is((await c.destroyMachine('m1')).deleted, 'm1');
  t.true(s.isDone());
});

test.serial('transport failures and non-JSON replies are AgentClientErrors, not crashes', async (t) => {
  nock(BASE).get('/v1/hosts').replyWithError({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' });
  nock(BASE).get('/v1/machines').reply(502, '<html>bad gateway</html>');
  const c = new AgentClient(BASE);
  const e1 = await t.throwsAsync(c.hosts(), { instanceOf: AgentClientError });
  t.is(e1!.status, 0);
  const e2 = await t.throwsAsync(c.machines(), { instanceOf: AgentClientError });
  t.is(e2!.code, 'EPROTO');
  t.throws(() => new AgentClient('not a url'), { instanceOf: AgentClientError, message: /not a URL/ });
  t.throws(() => new AgentClient('ftp://x'), { instanceOf: AgentClientError, message: /must be http/ });
});
