#!/usr/bin/env node
// Generates lib/topology/input.ts (TopologyInput: a topology document as written) from
// lib/topology/schema.json, so an inline topology is type-checked against the schema that
// validates it. `node scripts/gen-topology-types.js` rewrites the file; with --check it only
// compares (lib/topology/topology.test.ts runs that).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const out = path.join(root, 'lib', 'topology', 'input.ts');

async function generate() {
  const { compile } = require('json-schema-to-typescript');
  const schema = JSON.parse(fs.readFileSync(path.join(root, 'lib', 'topology', 'schema.json'), 'utf8'));
  const body = await compile(schema, 'TopologyInput', {
    bannerComment: '',
    additionalProperties: false,
    strictIndexSignatures: true,
    format: true,
    style: { singleQuote: true, printWidth: 140 },
  });
  return (
    '// SPDX-License-Identifier: GPL-2.0-only\n' +
    '/* Generated from lib/topology/schema.json by scripts/gen-topology-types.js: do not edit. */\n' +
    body.replace(/export interface IommuEmuHostTopology\b/, 'export interface TopologyInput')
  );
}

module.exports = { generate, out };

if (require.main === module) {
  generate().then((text) => {
    if (process.argv.includes('--check')) {
      const same = fs.existsSync(out) && fs.readFileSync(out, 'utf8') === text;
      if (!same) {
        process.stderr.write(`${path.relative(root, out)} is out of date: run node scripts/gen-topology-types.js\n`);
        process.exit(1);
      }
      return;
    }
    fs.writeFileSync(out, text);
  });
}
