// SPDX-License-Identifier: GPL-2.0-only
/** Temporary directories for AVA tests that are removed when the test ends, pass or fail. */
import type { ExecutionContext } from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** A fresh directory under the system temp dir, removed (recursively) in the test's teardown. */
export function tempDir(t: ExecutionContext, prefix = 'iommu-emu-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Like tempDir, for fixtures shared by a whole test file: removed in `test.after.always`. */
export function fileTempDirs(after: (fn: () => void) => void, prefix = 'iommu-emu-test-'): () => string {
  const made: string[] = [];
  after(() => {
    for (const d of made) fs.rmSync(d, { recursive: true, force: true });
  });
  return () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    made.push(d);
    return d;
  };
}
