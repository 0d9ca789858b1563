// SPDX-License-Identifier: GPL-2.0-only
/** `iommu-emu serve`: the token from a file or the environment (never argv), limits from options. */
import test from 'ava';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../../../lib/testing/tmp';
import { readToken, TOKEN_ENV } from '../command';
import { bufferIO } from '../io';
import { main } from '../main';

test('readToken: a file holding one line, else the environment; bad files are usage errors', (t) => {
  const dir = tempDir(t, 'iommu-emu-token-');
  const f = (name: string, text: string) => {
    fs.writeFileSync(path.join(dir, name), text, { mode: 0o600 });
    return path.join(dir, name);
  };
  t.is(readToken(f('ok', 's3cret\n'), bufferIO()), 's3cret');
  t.is(readToken(f('nonl', 's3cret'), bufferIO()), 's3cret');
  t.is(readToken(undefined, bufferIO({ [TOKEN_ENV]: 'fromenv' })), 'fromenv');
  t.is(readToken(undefined, bufferIO({})), undefined);
  const bad: [string, RegExp][] = [
    [f('empty', ''), /must hold the token on one line/],
    [f('two', 'a\nb\n'), /must hold the token on one line/],
    [path.join(dir, 'missing'), /missing: cannot read: ENOENT/],
    [dir, /is a directory, not a regular file; not read/],
    [f('big', 'x'.repeat(5000)), /larger than 4096 bytes; a token file holds one line/],
  ];
  for (const [file, msg] of bad) t.throws(() => readToken(file, bufferIO()), { name: 'UsageError', message: msg });
});

test('serve: bad limits and listen addresses are usage errors', async (t) => {
  const cases: [string[], RegExp][] = [
    [['--max-connections', '0'], /--max-connections must be a number from 1 to 65535/],
    [['--max-body', 'lots'], /--max-body must be a number/],
    [['--listen', 'localhost'], /--listen must be HOST:PORT/],
    [['--token', 'x'], /visible to every user/],
  ];
  for (const [argv, msg] of cases) {
    const io = bufferIO();
    t.is(await main(['serve', ...argv], io), 2, argv.join(' '));
    t.regex(io.err(), msg);
  }
});

test('serve --token-file: the URL on stdout, requests need the token, SIGTERM stops it', async (t) => {
  const dir = tempDir(t, 'iommu-emu-serve-');
  const tokenFile = path.join(dir, 'token');
  fs.writeFileSync(tokenFile, 'hunter2\n', { mode: 0o600 });
  const bin = path.join(__dirname, '..', 'bin.ts');
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', bin, 'serve', '--listen', '127.0.0.1:0', '--token-file', tokenFile, '--host', 'amd-epyc'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: path.join(__dirname, '..', '..', '..'),
    env: { ...process.env, [TOKEN_ENV]: '' },
  });
  const closed = new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d;
        if (out.includes('\n')) resolve(out.trim());
      });
      setTimeout(() => reject(new Error('serve printed no URL within 60 s')), 60_000).unref();
    });
    t.regex(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    t.is((await fetch(`${url}/v1/machines`)).status, 401);
    const ok = await fetch(`${url}/v1/machines`, { headers: { Authorization: 'Bearer hunter2' } });
    t.is(ok.status, 200);
    t.deepEqual(((await ok.json()) as { machines: { id: string; host: string }[] }).machines.map((m) => [m.id, m.host]), [['default', 'amd-epyc']]);
    t.false(fs.readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').includes('hunter2'), 'the token is not in the command line');
  } finally {
    child.kill('SIGTERM');
    t.is(await closed, 0);
  }
});
