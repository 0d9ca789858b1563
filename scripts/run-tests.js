#!/usr/bin/env node
// Runs ava with the TAP reporter, echoes its output, and closes with the plain
// "N passed, N failed, N skipped" line CI reads. Exits non-zero on any failure, on a
// runner crash, or when no test ran at all.
'use strict';
const { spawn } = require('node:child_process');
const path = require('node:path');
const { Parser } = require('tap-parser');

const avaBin = path.join(__dirname, '..', 'node_modules', 'ava', 'entrypoints', 'cli.mjs');
const child = spawn(process.execPath, [avaBin, '--tap', ...process.argv.slice(2)], {
  stdio: ['ignore', 'pipe', 'inherit'],
  cwd: path.join(__dirname, '..'),
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
  process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  if (passed + failed === 0) {
    process.stderr.write('run-tests: no test ran\n');
    process.exit(1);
  }
  process.exit(failed > 0 || code !== 0 ? 1 : 0);
});
