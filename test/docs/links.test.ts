/**
 * Every relative link in the repository's markdown points at a file or folder the repository
 * holds (a reader of a clone, or of the npm package, has nothing else), and every benchmark
 * result a README links to exists.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SKIP = new Set(['node_modules', 'dist', '.git', '.cache']);

function markdownFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (SKIP.has(name) || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...markdownFiles(path));
    else if (name.endsWith('.md')) out.push(path);
  }
  return out;
}

/** Relative link targets of `[text](target)`, outside fenced code blocks. */
export function relativeLinks(markdown: string): string[] {
  const prose = markdown.replace(/^```[\s\S]*?^```/gm, '');
  const links: string[] = [];
  for (const m of prose.matchAll(/\]\(([^)\s]+)\)/g)) {
    const target = m[1]!;
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#')) continue;
    links.push(target.split('#')[0]!);
  }
  return links;
}

describe('markdown links', () => {
  it('finds links outside code blocks only, and skips URLs and anchors', () => {
    expect(relativeLinks('[a](x.md) [b](https://e.org) [c](#top) [d](y/z.md#s)\n```\n[e](no.md)\n```\n')).toEqual(['x.md', 'y/z.md']);
  });

  const files = markdownFiles(REPO);
  it('there are READMEs to check', () => {
    expect(files.length).toBeGreaterThan(5);
  });

  for (const file of files) {
    it(`${relative(REPO, file)}: every relative link resolves inside the repository`, () => {
      const broken: string[] = [];
      for (const link of relativeLinks(readFileSync(file, 'utf8'))) {
        const target = resolve(dirname(file), link);
        if (relative(REPO, target).startsWith('..') || !existsSync(target)) broken.push(link);
      }
      expect(broken, `broken links in ${relative(REPO, file)}`).toEqual([]);
    });
  }
});
