#!/usr/bin/env node
// Runs ava with the TAP reporter, echoes its output, and closes with the plain
// "N passed, N failed, N skipped" line CI reads. Exits non-zero on any failure, on a
// runner crash, or when no test ran at all.
//
// The tests get a private TMPDIR: whatever they leave there is a failure (tests must leave
// nothing behind in /tmp), and nothing another user's run puts in /tmp can race with them.
// It is 0711, so the tests' nobody runs can reach their own directory inside it.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Parser } = require('tap-parser');

const avaBin = path.join(__dirname, '..', 'node_modules', 'ava', 'entrypoints', 'cli.mjs');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iommu-emu-tests-'));
// Others may pass through it but not list or create in it: the tests that run the CLI as nobody
// make a world-writable directory of their own inside (tools/iommu-emu/testing/cli.ts).
fs.chmodSync(tmp, 0o711);
const child = spawn(process.execPath, [avaBin, '--tap', ...process.argv.slice(2)], {
  stdio: ['ignore', 'pipe', 'inherit'],
  cwd: path.join(__dirname, '..'),
  env: { ...process.env, TMPDIR: tmp },
});

let passed = 0, failed = 0, skipped = 0;
const parser = new Parser();
parser.on('assert', (a) => {
  if (a.skip || a.todo) skipped++;
  else if (a.ok) passed++;
  else failed++;
});
child.stdout.on('data', (d) => process.stdout.write(d));
child.stdout.pipe(parser);
child.on('close', (code) => {
  parser.end();
  const crashed = code !== 0 && failed === 0;
  if (crashed) failed++;
  // ts-node's compile cache (v8-compile-cache-lib) is the harness's, not a test's leftover.
  const left = fs.readdirSync(tmp).filter((n) => !/^v8-compile-cache-\d+$/.test(n));
  if (left.length) {
    failed++;
    process.stdout.write(`not ok - the tests left ${left.length} entries in their TMPDIR: ${left.slice(0, 10).join(', ')}${left.length > 10 ? ', …' : ''}\n`);
  }
  fs.rmSync(tmp, { recursive: true, force: true });
  process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  if (passed + failed === 0) {
    process.stderr.write('run-tests: no test ran\n');
    process.exit(1);
  }
  process.exit(failed > 0 || code !== 0 ? 1 : 0);
});
