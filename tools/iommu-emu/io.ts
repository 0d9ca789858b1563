// SPDX-License-Identifier: GPL-2.0-only
/** What a command may touch of the process: its output streams and environment. */
export interface CommandIO {
  stdout(s: string | Uint8Array): void;
  stderr(s: string): void;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** stderr is a terminal: long work may show progress there. */
  readonly stderrTTY?: boolean;
}

export const processIO = (): CommandIO => ({
  stdout: (s) => void process.stdout.write(s),
  stderr: (s) => void process.stderr.write(s),
  env: process.env,
  cwd: process.cwd(),
  stderrTTY: process.stderr.isTTY === true,
});

/** Collects output in memory (tests, the HTTP agent). */
export function bufferIO(env: NodeJS.ProcessEnv = {}, cwd = process.cwd()): CommandIO & { out: () => string; err: () => string; outBytes: () => Buffer } {
  const out: Buffer[] = [];
  const err: string[] = [];
  return {
    stdout: (s) => void out.push(Buffer.from(s)),
    stderr: (s) => void err.push(s),
    env,
    cwd,
    out: () => Buffer.concat(out).toString('utf8'),
    outBytes: () => Buffer.concat(out),
    err: () => err.join(''),
  };
}
