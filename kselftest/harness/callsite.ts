// SPDX-License-Identifier: GPL-2.0-only
/**
 * `__FILE__`, `__LINE__` and the `#expected` / `#seen` argument text for the
 * harness's diagnostics, recovered from the (source-mapped) stack and the test's
 * own source file.
 *
 * @note emulation: C gets these from the preprocessor; here they come from the
 *       call site at run time, and fall back to the printed value when the
 *       source cannot be read or the call cannot be found.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface CallSite {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

const LOCATION = /^(.*):(\d+):(\d+)$/;

/** The first stack frame not in `internal` (absolute paths) nor in node internals. */
export function callSite(internal: ReadonlySet<string>): CallSite | undefined {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 50;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = limit;
  for (const raw of stack.split('\n').slice(1)) {
    let frame = raw.trim();
    if (!frame.startsWith('at ')) continue;
    frame = frame.slice(3);
    const open = frame.lastIndexOf('(');
    if (frame.endsWith(')') && open >= 0) frame = frame.slice(open + 1, -1);
    const m = LOCATION.exec(frame);
    if (!m) continue;
    const file = m[1] as string;
    if (file.startsWith('node:') || !path.isAbsolute(file) || internal.has(file)) continue;
    return { file, line: Number(m[2]), column: Number(m[3]) };
  }
  return undefined;
}

/** Per-run cache of source files, keyed by absolute path. */
export type SourceCache = Map<string, string[] | null>;

function sourceLines(cache: SourceCache, file: string): string[] | null {
  let lines = cache.get(file);
  if (lines === undefined) {
    try {
      lines = fs.readFileSync(file, 'utf8').split('\n');
    } catch {
      lines = null;
    }
    cache.set(file, lines);
  }
  return lines;
}

/**
 * The argument texts of the call to `method` at `site`, whitespace-collapsed;
 * undefined when it cannot be found.
 */
export function callArguments(cache: SourceCache, site: CallSite, method: string): string[] | undefined {
  const lines = sourceLines(cache, site.file);
  const first = lines?.[site.line - 1];
  if (!lines || first === undefined) return undefined;
  const callee = new RegExp(`\\b${method}\\s*\\(`, 'g');
  let start = -1;
  for (let m = callee.exec(first); m; m = callee.exec(first)) {
    start = m.index + m[0].length;
    if (m.index >= site.column - 1) break;
  }
  if (start < 0) return undefined;
  const text = [first.slice(start), ...lines.slice(site.line, site.line + 40)].join('\n');
  return splitArguments(text);
}

/** Splits `a, f(b, c), "x,y")…` at top-level commas up to the closing paren. */
export function splitArguments(text: string): string[] | undefined {
  const args: string[] = [];
  let depth = 0;
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      while (j < text.length && text[j] !== c) j += text[j] === '\\' ? 2 : 1;
      cur += text.slice(i, j + 1);
      i = j;
      continue;
    }
    if (c === '/' && text[i + 1] === '/') {
      const nl = text.indexOf('\n', i);
      if (nl < 0) return undefined;
      i = nl - 1;
      continue;
    }
    if (c === '(' || c === '[' || c === '{') depth++;
    if (c === ')' || c === ']' || c === '}') {
      if (depth === 0) {
        if (c !== ')') return undefined;
        args.push(cur);
        const out = args.map(a => a.replace(/\s+/g, ' ').trim());
        if (out.length > 0 && out[out.length - 1] === '') out.pop();
        return out;
      }
      depth--;
    }
    if (c === ',' && depth === 0) {
      args.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  return undefined;
}
