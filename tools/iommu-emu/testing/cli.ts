// SPDX-License-Identifier: GPL-2.0-only
/**
 * Test helpers for the CLI end to end: run `iommu-emu` as a separate process, as this user or
 * as `nobody` (setpriv, when this process is root), and say why a variant cannot run here.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { helperPath, isMounted } from '../../../lib/index';
import { bufferIO } from '../io';
import { main } from '../main';

export const BIN = path.join(__dirname, '..', 'bin.ts');
export const NOBODY = 65534;

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const isRoot = process.getuid?.() === 0;

/** The argv that runs the CLI as `who`. */
export function cliArgv(args: string[], who: 'me' | 'nobody' = 'me'): [string, string[]] {
  const node = [process.execPath, '-r', path.join(__dirname, '..', '..', '..', 'scripts', 'ts-register.js'), BIN, ...args];
  if (who === 'me') return [node[0]!, node.slice(1)];
  return ['setpriv', ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', '--', ...node]];
}

/**
 * Run the CLI to completion (bounded): in this process as this user (the server lives here, the
 * program in a child, so nothing here touches the mount), in a new process as nobody.
 */
export async function cli(args: string[], opts: { who?: 'me' | 'nobody'; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  if ((opts.who ?? 'me') === 'me') {
    const io = bufferIO({ ...process.env, TMPDIR: TEST_TMP, ...opts.env });
    const code = await main(args, io);
    return { code, stdout: io.out(), stderr: io.err() };
  }
  const [cmd, argv] = cliArgv(args, opts.who);
  return new Promise((resolve) => {
    const c = spawn(cmd, argv, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TMPDIR: TEST_TMP, HOME: opts.who === 'nobody' ? TEST_TMP : process.env.HOME, ...opts.env },
      cwd: path.join(__dirname, '..', '..', '..'),
    });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    c.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => c.kill('SIGKILL'), opts.timeoutMs ?? 90_000);
    c.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Whether `nobody` variants can run here; the reason when not. */
export function nobodyAvailable(): { ok: true } | { ok: false; reason: string } {
  if (!isRoot) return { ok: false, reason: 'not root, so cannot switch to nobody (the tests run as this plain user instead)' };
  const r = spawnSync('setpriv', ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', '--', process.execPath, '-e', 'require(process.argv[1])', path.join(__dirname, '..', '..', '..', 'package.json')], { encoding: 'utf8', timeout: 20_000 });
  if (r.error) return { ok: false, reason: `setpriv: ${r.error.message}` };
  if (r.status !== 0) return { ok: false, reason: `nobody cannot run node on this checkout: ${(r.stderr || '').trim().split('\n')[0]}` };
  return { ok: true };
}

/** Whether a plain user gets a live mount here (fusermount3 and the built helper); the reason when not. */
export function plainUserLive(): { ok: true } | { ok: false; reason: string } {
  if (!fs.existsSync('/dev/fuse')) return { ok: false, reason: 'no /dev/fuse' };
  if (!fs.existsSync(helperPath())) return { ok: false, reason: `the FUSE helper is not built (${helperPath()}; make builds it)` };
  if (spawnSync('sh', ['-c', 'command -v fusermount3']).status !== 0) return { ok: false, reason: 'fusermount3 is not installed (Debian fuse3)' };
  return { ok: true };
}

/**
 * A temp dir of the tests' own (TMPDIR for the CLI runs), so other runs on the machine cannot
 * make leftovers appear; writable by nobody, removed at exit.
 */
export const TEST_TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'iommu-emu-test-'));
fs.chmodSync(TEST_TMP, 0o1777);
process.on('exit', () => fs.rmSync(TEST_TMP, { recursive: true, force: true }));

/** What runs left in the tests' temp dir (nothing, when they clean up). */
export const leftovers = (): string[] => fs.readdirSync(TEST_TMP).filter((n) => n.startsWith('iommu-emu-run-'));

/** Mount points of run directories in this namespace (nothing may stay behind). */
export const runMounts = (): string[] =>
  fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p.startsWith(TEST_TMP));

export { isMounted };
