// SPDX-License-Identifier: GPL-2.0-only
/**
 * The agent under hostile use, on loopback only and bounded in count and time: where it listens
 * (the address a name resolves to decides), which Host and Origin it answers (DNS rebinding,
 * web pages), how many connections it holds and for how long, oversized and malformed bodies,
 * wrong content types, and its machine limit.
 */
import test from 'ava';
import * as http from 'node:http';
import * as net from 'node:net';
import { Agent, isLoopbackAddress } from '.';
import { loadBuiltinHost } from '../hosts';

async function started(opts: ConstructorParameters<typeof Agent>[0] = {}) {
  const agent = new Agent({ defaultHost: loadBuiltinHost('arm64-smmuv3'), ...opts });
  const url = await agent.listen(0, '127.0.0.1');
  return { agent, url, port: Number(new URL(url).port) };
}

/** One raw request, headers exactly as given (fetch would not let us set Host). */
function raw(port: number, o: { method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer }): Promise<{ status: number; headers: http.IncomingHttpHeaders; json: { error?: { code: string; message: string } } & Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: o.method ?? 'GET', path: o.path ?? '/v1/hosts', headers: o.headers, setHost: !o.headers || !('Host' in o.headers), agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, json: JSON.parse(Buffer.concat(chunks).toString() || '{}') }));
    });
    req.on('error', reject);
    req.setTimeout(5_000, () => req.destroy(new Error('timeout')));
    req.end(o.body);
  });
}

test('loopback is decided on the resolved address, not on how the name looks', async (t) => {
  const cases: [string, string, boolean][] = [
    ['127.0.0.1', '127.0.0.1', true],
    ['127.0.0.1.attacker.example', '0.0.0.0', false],
    ['localhost', '::1', true],
    ['mybox', '192.0.2.7', false],
    ['loop', '127.0.0.2', true],
  ];
  for (const [name, address, loop] of cases) {
    const agent = new Agent({ lookup: async () => [{ address, family: net.isIPv6(address) ? 6 : 4 }] });
    try {
      if (loop) {
        const url = await agent.listen(0, name);
        t.true(url.includes(address.includes(':') ? `[${address}]` : address), `${name} → ${address}: bound to what it resolved to (${url})`);
      } else {
        await t.throwsAsync(agent.listen(0, name), { message: new RegExp(`listening on ${name.replace(/\./g, '\\.')} \\(${address.replace(/\./g, '\\.')}\\), not a loopback address, requires a token`) });
        t.false(agent.server.listening, `${name}: nothing was bound`);
      }
    } finally {
      await agent.close();
    }
  }
  await t.throwsAsync(new Agent({ lookup: async () => [] }).listen(0, 'nowhere.invalid'), { message: /cannot resolve listen host "nowhere\.invalid"/ });
  const table: [string, boolean][] = [
    ['127.0.0.1', true],
    ['127.255.0.9', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['0:0:0:0:0:0:0:1', true],
    ['localhost', false],
    ['0.0.0.0', false],
    ['::', false],
    ['128.0.0.1', false],
    ['::2', false],
    ['10.0.0.1', false],
  ];
  for (const [ip, want] of table) t.is(isLoopbackAddress(ip), want, ip);
});

test('Host must name this agent (DNS rebinding); web page Origins are refused unless allowed', async (t) => {
  const { agent, port } = await started({ allowedOrigins: ['http://localhost:3000'], allowedHosts: ['emu.test'] });
  try {
    const cases: [Record<string, string>, number, RegExp?][] = [
      [{ Host: `127.0.0.1:${port}` }, 200],
      [{ Host: `localhost:${port}` }, 200],
      [{ Host: `LOCALHOST:${port}` }, 200],
      [{ Host: `emu.test:${port}` }, 200],
      [{ Host: `attacker.example:${port}` }, 403, /Host "attacker\.example:\d+" is not this agent .*DNS rebinding/],
      [{ Host: 'attacker.example' }, 403, /is not this agent/],
      [{ Host: `127.0.0.1:${port + 1}` }, 403, /is not this agent/],
      [{ Host: '' }, 403, /is not this agent/],
      [{ Host: `127.0.0.1:${port}`, Origin: 'http://attacker.example' }, 403, /requests from web pages are refused \(Origin: http:\/\/attacker\.example\); serve --allow-origin/],
      [{ Host: `127.0.0.1:${port}`, Origin: 'null' }, 403, /Origin: null/],
      [{ Host: `127.0.0.1:${port}`, Origin: 'http://localhost:3000' }, 200],
    ];
    for (const [headers, status, msg] of cases) {
      const r = await raw(port, { headers });
      t.is(r.status, status, JSON.stringify(headers));
      if (msg) {
        t.is(r.json.error!.code, 'EACCES');
        t.regex(r.json.error!.message, msg);
      }
    }
  } finally {
    await agent.close();
  }
});

test('bodies: too large (declared or streamed), malformed JSON, wrong or missing content type, wrong shape', async (t) => {
  const { agent, port } = await started({ maxBody: 1024 });
  const json = { 'Content-Type': 'application/json' };
  try {
    const big = await raw(port, { method: 'POST', path: '/v1/machines', headers: { ...json, 'Content-Length': '5000000' }, body: '' });
    t.is(big.status, 413);
    t.is(big.headers.connection, 'close');
    t.regex(big.json.error!.message, /body of 5000000 bytes exceeds the 1024-byte limit/);
    const streamed = await raw(port, { method: 'POST', path: '/v1/machines', headers: { ...json, 'Transfer-Encoding': 'chunked' }, body: `{"host": "${'x'.repeat(4000)}"}` });
    t.is(streamed.status, 413);
    t.regex(streamed.json.error!.message, /body exceeds the 1024-byte limit/);
    const cases: [Record<string, string>, string, number, RegExp][] = [
      [json, '{"host": ', 400, /^body is not JSON: /],
      [json, '[1, 2', 400, /^body is not JSON: /],
      [json, '"amd-epyc"', 400, /^body: must be object/],
      [json, '{"host": "amd-epyc", "colour": "red"}', 400, /^body: must NOT have additional properties \(colour\)/],
      [json, '{"kernel": "6.8"}', 400, /^body: needs exactly one of host or topology$/],
      [json, '{"host": "../../etc/passwd"}', 400, /^body\.host: must match pattern/],
      [{ 'Content-Type': 'application/x-www-form-urlencoded' }, 'host=amd-epyc', 415, /^Content-Type must be application\/json \(got "application\/x-www-form-urlencoded"\); curl -d sends a form: add -H 'Content-Type: application\/json'$/],
      [{ 'Content-Type': 'text/plain' }, '{"host": "amd-epyc"}', 415, /^Content-Type must be application\/json \(got "text\/plain"\)$/],
      [{}, '{"host": "amd-epyc"}', 415, /got "none"/],
    ];
    for (const [headers, body, status, msg] of cases) {
      const r = await raw(port, { method: 'POST', path: '/v1/machines', headers, body });
      t.is(r.status, status, body);
      t.regex(r.json.error!.message, msg, body);
    }
    const empty = await raw(port, { method: 'POST', path: '/v1/machines' });
    t.is(empty.status, 400);
    t.regex(empty.json.error!.message, /^body: required/);
    const noBody = await raw(port, { method: 'POST', path: '/v1/machines/default/vfio/containers' });
    t.is(noBody.status, 201, 'POST containers needs no body');
    const wrong = await raw(port, { method: 'PATCH', path: '/v1/machines' });
    t.is(wrong.status, 405);
    t.is(wrong.headers.allow, 'GET, POST');
    t.is((await raw(port, { path: '/v2/anything' })).status, 404);
    t.is((await raw(port, { path: '/v1/machines/%zz' })).status, 400);
    t.is(agent.machineCount, 1, 'no refused request made a machine');
  } finally {
    await agent.close();
  }
});

test('machine limit: ENOSPC (507) at the limit, room again once one is destroyed', async (t) => {
  const { agent, port } = await started({ maxMachines: 3 });
  const create = () => raw(port, { method: 'POST', path: '/v1/machines', headers: { 'Content-Type': 'application/json' }, body: '{"host": "arm64-smmuv3"}' });
  try {
    t.is((await create()).status, 201);
    const second = await create();
    t.is(second.status, 201);
    const full = await create();
    t.is(full.status, 507);
    t.is(full.json.error!.code, 'ENOSPC');
    t.regex(full.json.error!.message, /3 machines exist \(limit\); destroy one first/);
    t.is((await raw(port, { method: 'DELETE', path: `/v1/machines/${String(second.json.id)}` })).status, 200);
    t.is((await create()).status, 201);
  } finally {
    await agent.close();
  }
});

test.serial('many slow connections: at most maxConnections are held, each for at most the header timeout, then service resumes', async (t) => {
  const MAX = 8;
  const SLOW = 40;
  const HEADERS_MS = 400;
  const { agent, port } = await started({ maxConnections: MAX, timeouts: { headers: HEADERS_MS, request: 1_000 } });
  const sockets: net.Socket[] = [];
  const t0 = Date.now();
  try {
    const closedAt: number[] = [];
    await Promise.all(
      Array.from(
        { length: SLOW },
        (_, i) =>
          new Promise<void>((resolve) => {
            const s = net.connect(port, '127.0.0.1', () => {
              // A request that never finishes its headers (slowloris), or says nothing at all.
              if (i % 2) s.write(`GET /v1/hosts HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Slow: `);
              resolve();
            });
            s.on('error', () => undefined);
            s.resume(); // read whatever comes (a 408), so the end of the stream is seen
            s.on('close', () => closedAt.push(Date.now() - t0));
            sockets.push(s);
          }),
      ),
    );
    // Every slow connection is gone within the timeouts (plus the checking interval).
    const deadline = Date.now() + 4_000;
    while (closedAt.length < SLOW && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const early = closedAt.filter((ms) => ms < HEADERS_MS).length;
    t.true(early >= SLOW - MAX, `connections beyond the cap are closed at once (${early} of ${SLOW} before the ${HEADERS_MS} ms header timeout)`);
    t.is(closedAt.length, SLOW, 'no slow connection outlives the timeouts');
    t.true(Math.max(...closedAt) < 3_000, `the last one closed after ${Math.max(...closedAt)} ms`);
    const r = await raw(port, {});
    t.is(r.status, 200, 'the agent serves again');
    t.log(`${SLOW} slow connections, cap ${MAX}: ${early} refused at once, all closed by ${Math.max(...closedAt)} ms`);
  } finally {
    for (const s of sockets) s.destroy();
    await agent.close();
  }
});
