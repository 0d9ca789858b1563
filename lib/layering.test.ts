// SPDX-License-Identifier: GPL-2.0-only
/**
 * The import rules of docs/ARCHITECTURE.md, read from its `layers` block and checked on the
 * source: an area imports only areas ranked below it (named file exceptions aside), the observed
 * area graph has no cycle, memfs stays behind the fs boundary, and kselftest/ and tools/ reach
 * the emulator only through lib/index.ts. The checker is tested on injected sources too.
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..');
const DOC = path.join(ROOT, 'docs/ARCHITECTURE.md');
const MEMFS_OK = new Set(['fs', 'machine', 'testing', 'export']);

interface Rules {
  /** Areas, lowest first. */
  readonly ranks: readonly string[];
  /** Areas whose place is reserved before their code exists. */
  readonly planned: ReadonlySet<string>;
  /** `file → area` edges allowed against the order. */
  readonly exceptions: readonly { file: string; area: string }[];
}

function fenced(doc: string, lang: string): string[] {
  const m = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(doc);
  if (!m) throw new Error(`docs/ARCHITECTURE.md has no \`\`\`${lang} block`);
  return m[1]!.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
}

function parseRules(doc: string): Rules {
  const lines = fenced(doc, 'layers').map((l) => l.trim().split(/\s+/));
  const ranks = lines.map((w) => w[0]!);
  const planned = new Set(lines.filter((w) => w[1] === '(planned)').map((w) => w[0]!));
  const exceptions = fenced(doc, 'layer-exceptions').map((l) => {
    const m = /^(\S+)\s+→\s+(\S+):/.exec(l.trim());
    if (!m) throw new Error(`bad layer exception line: ${l}`);
    return { file: m[1]!, area: m[2]! };
  });
  return { ranks, planned, exceptions };
}

/** `lib/vfio/group.ts` → `vfio`; `lib/host.ts` → `host`. */
const areaOf = (rel: string): string => {
  const parts = rel.split('/');
  return parts.length > 2 ? parts[1]! : parts[1]!.replace(/\.ts$/, '');
};

const importsOf = (text: string): string[] =>
  [...text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!);

/** `lib/…` relative path → source text, for every non-test .ts file. */
type Sources = ReadonlyMap<string, string>;

function readSources(dir: string, out = new Map<string, string>()): Map<string, string> {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory() && e.name !== 'node_modules' && e.name !== 'fixtures') readSources(p, out);
    else if (e.isFile() && p.endsWith('.ts') && !p.endsWith('.test.ts')) out.set(path.relative(ROOT, p), fs.readFileSync(p, 'utf8'));
  }
  return out;
}

interface Verdict {
  readonly bad: string[];
  /** area → areas it imports (observed). */
  readonly graph: Map<string, Set<string>>;
  readonly usedExceptions: Set<string>;
}

function check(sources: Sources, rules: Rules): Verdict {
  const rank = new Map(rules.ranks.map((a, i) => [a, i] as const));
  const bad: string[] = [];
  const graph = new Map<string, Set<string>>();
  const usedExceptions = new Set<string>();
  for (const [rel, text] of sources) {
    const area = areaOf(rel);
    const from = rank.get(area);
    if (from === undefined) {
      bad.push(`${rel}: area "${area}" is not in the layers block of docs/ARCHITECTURE.md`);
      continue;
    }
    for (const spec of importsOf(text)) {
      if (spec === 'memfs' && !MEMFS_OK.has(area)) bad.push(`${rel}: imports memfs outside the fs boundary`);
      if (!spec.startsWith('.')) continue;
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(rel), spec));
      if (!target.startsWith('lib/')) {
        bad.push(`${rel}: imports ${spec} outside lib/`);
        continue;
      }
      const to = areaOf(target.endsWith('.ts') ? target : `${target}.ts`);
      if (to === area) continue;
      if (!graph.has(area)) graph.set(area, new Set());
      graph.get(area)!.add(to);
      const toRank = rank.get(to);
      if (toRank === undefined) continue; // reported for the target's own files
      if (toRank < from) continue;
      const ex = rules.exceptions.find((e) => e.file === rel && e.area === to);
      if (ex) usedExceptions.add(`${ex.file} → ${ex.area}`);
      else bad.push(`${rel}: ${area} → ${to} (${spec}) imports upward`);
    }
  }
  for (const e of rules.exceptions) if (!usedExceptions.has(`${e.file} → ${e.area}`)) bad.push(`exception ${e.file} → ${e.area} matches no import`);
  return { bad, graph, usedExceptions };
}

/** A cycle in the observed area graph, as a path, or undefined. */
function findCycle(graph: Map<string, Set<string>>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (a: string): string[] | undefined => {
    if (state.get(a) === 'done') return undefined;
    if (state.get(a) === 'open') return [...stack.slice(stack.indexOf(a)), a];
    state.set(a, 'open');
    stack.push(a);
    for (const b of graph.get(a) ?? []) {
      const c = visit(b);
      if (c) return c;
    }
    stack.pop();
    state.set(a, 'done');
    return undefined;
  };
  for (const a of graph.keys()) {
    const c = visit(a);
    if (c) return c;
  }
  return undefined;
}

const RULES = parseRules(fs.readFileSync(DOC, 'utf8'));
const SOURCES = readSources(path.join(ROOT, 'lib'));

test('lib/ areas import only areas ranked below them in docs/ARCHITECTURE.md', (t) => {
  t.deepEqual(check(SOURCES, RULES).bad, []);
});

test('the observed lib/ area graph is acyclic', (t) => {
  t.is(findCycle(check(SOURCES, RULES).graph), undefined);
});

test('every area in the layers block exists in lib/, unless it is marked (planned)', (t) => {
  const present = new Set([...SOURCES.keys()].map(areaOf));
  t.deepEqual(RULES.ranks.filter((a) => !present.has(a) && !RULES.planned.has(a)), []);
  t.deepEqual([...RULES.planned].filter((a) => present.has(a)), [], 'a planned area that exists: drop its (planned) mark');
});

test('the checker flags a back-import, an unknown area, memfs outside fs and a stale exception', (t) => {
  const injected = new Map(SOURCES);
  injected.set('lib/errno/evil.ts', "import { vfioFops } from '../vfio/container';\n");
  injected.set('lib/model/leak.ts', "import { Volume } from 'memfs';\n");
  injected.set('lib/nowhere/x.ts', "export const x = 1;\n");
  const v = check(injected, { ...RULES, exceptions: [...RULES.exceptions, { file: 'lib/host.ts', area: 'vfio' }] });
  t.true(v.bad.some((b) => b.startsWith('lib/errno/evil.ts: errno → vfio')), 'back-import');
  t.true(v.bad.some((b) => b.startsWith('lib/model/leak.ts: imports memfs')), 'memfs');
  t.true(v.bad.some((b) => b.includes('area "nowhere" is not in the layers block')), 'unknown area');
  t.true(v.bad.some((b) => b === 'exception lib/host.ts → vfio matches no import'), 'stale exception');
  t.truthy(findCycle(v.graph), 'errno → vfio → … → errno is a cycle');
});

test('an exception line allows exactly its edge', (t) => {
  const injected = new Map(SOURCES);
  injected.set('lib/errno/evil.ts', "import type { VfioState } from '../vfio/vfio_main';\n");
  const v = check(injected, { ...RULES, exceptions: [...RULES.exceptions, { file: 'lib/errno/evil.ts', area: 'vfio' }] });
  t.deepEqual(v.bad, []);
});

test('kselftest/, tools/, fuzz/ and plugins/ reach the emulator only through lib/index.ts', (t) => {
  const bad: string[] = [];
  for (const top of ['kselftest', 'tools', 'fuzz', 'plugins']) {
    const dir = path.join(ROOT, top);
    if (!fs.existsSync(dir)) continue;
    for (const [rel, text] of readSources(dir)) {
      for (const spec of importsOf(text)) {
        if (!spec.startsWith('.')) continue;
        const target = path.posix.normalize(path.posix.join(path.posix.dirname(rel), spec));
        if (target.startsWith('lib/') && target !== 'lib/index' && target !== 'lib') bad.push(`${rel}: ${spec}`);
      }
    }
  }
  t.deepEqual(bad, []);
});
