// SPDX-License-Identifier: GPL-2.0-only
// `node -r ./scripts/ts-register.js file.ts`: runs TypeScript sources the way
// `ts-node/register/transpile-only` does (TypeScript's own transpileModule with tsconfig.json's
// options, no type check — `make test` type-checks separately), but keeps each file's output in
// node_modules/.cache/iommu-emu-ts/ ($IOMMU_EMU_TS_CACHE), one entry per source file, checked against a hash of the
// source, tsconfig.json and the TypeScript version. A process whose files are all cached never
// loads the compiler: each ava worker, `make run` and the CLI tests used to spend most of their
// start-up transpiling the same hundred modules again.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const Module = require('node:module');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const TSCONFIG = path.join(ROOT, 'tsconfig.json');
const CACHE = process.env.IOMMU_EMU_TS_CACHE || path.join(ROOT, 'node_modules', '.cache', 'iommu-emu-ts');
/** Bump when this file changes what it emits. */
const HOOK_VERSION = '1';

let salt;
function cacheSalt() {
  if (salt === undefined) {
    const tsVersion = JSON.parse(fs.readFileSync(require.resolve('typescript/package.json'), 'utf8')).version;
    salt = `${HOOK_VERSION}\0${process.version}\0${tsVersion}\0${fs.readFileSync(TSCONFIG, 'utf8')}`;
  }
  return salt;
}

let ts;
let options;
function transpile(source, filename) {
  if (!ts) {
    ts = require('typescript');
    const cfg = ts.readConfigFile(TSCONFIG, ts.sys.readFile);
    if (cfg.error) throw new Error(ts.flattenDiagnosticMessageText(cfg.error.messageText, '\n'));
    options = {
      ...ts.parseJsonConfigFileContent(cfg.config, ts.sys, ROOT).options,
      noEmit: false,
      declaration: false,
      sourceMap: false,
      inlineSourceMap: true,
      inlineSources: false,
    };
  }
  const out = ts.transpileModule(source, { fileName: filename, compilerOptions: options, reportDiagnostics: true });
  const errors = (out.diagnostics ?? []).filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (errors.length) {
    const host = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => ROOT, getNewLine: () => '\n' };
    throw new SyntaxError(ts.formatDiagnostics(errors, host));
  }
  return out.outputText;
}

function compiled(source, filename) {
  const key = crypto.createHash('sha256').update(cacheSalt()).update('\0').update(source).digest('hex');
  const entry = path.join(CACHE, `${crypto.createHash('sha256').update(filename).digest('hex').slice(0, 32)}.js`);
  const head = `// ${key}\n`;
  try {
    const hit = fs.readFileSync(entry, 'utf8');
    if (hit.startsWith(head)) return hit.slice(head.length);
  } catch {
    // not cached yet
  }
  const js = transpile(source, filename);
  try {
    // Parallel workers may race: write aside, then rename over (atomic on one filesystem).
    fs.mkdirSync(CACHE, { recursive: true });
    const tmp = `${entry}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, head + js);
    fs.renameSync(tmp, entry);
  } catch {
    // A read-only checkout still runs, uncached.
  }
  return js;
}

Module._extensions['.ts'] = function loadTs(module, filename) {
  module._compile(compiled(fs.readFileSync(filename, 'utf8'), filename), filename);
};
// Stack traces name .ts lines (the output carries an inline source map).
process.setSourceMapsEnabled(true);
