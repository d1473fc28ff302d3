/**
 * Files read in one sitting (STYLE.md): no source file over MAX_LINES lines. When one grows
 * past it, split it along a seam it already has (a policy, a codec, a state machine apart
 * from its I/O), as edge/log/log.ts was into meta.ts, full-disk.ts and types.ts.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const MAX_LINES = 400;
const SOURCE_FOLDERS = ['shared', 'edge', 'cloud', 'simulators', 'infra'];

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

describe('source file size', () => {
  it(`no source file has more than ${MAX_LINES} lines`, () => {
    const files = SOURCE_FOLDERS.flatMap((f) => sources(join(REPO, f)));
    expect(files.length).toBeGreaterThan(50);
    const long = files
      .map((path) => ({ file: relative(REPO, path), lines: readFileSync(path, 'utf8').split('\n').length }))
      .filter((f) => f.lines > MAX_LINES);
    expect(long).toEqual([]);
  });
});
