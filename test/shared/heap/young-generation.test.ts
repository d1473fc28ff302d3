import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { NODE_FLAGS, startedWithSemiSpaceLimit } from '../../../shared/heap/young-generation.js';

const CHILD = fileURLToPath(new URL('./young-generation.child.ts', import.meta.url));
const MiB = 1024 * 1024;

/** The young generation's size before and after a burst of allocation in a fresh process. */
function burst(ceilingMiB: number, growth: 'allowed' | 'pinned', then = 'stay', nodeFlags: readonly string[] = []): Promise<{ before: number; after: number; shrunk: number; shrinkMs?: number }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [...nodeFlags, '--import', 'tsx', CHILD, String(ceilingMiB), growth, then], (err, stdout, stderr) => (err === null ? resolve(JSON.parse(stdout) as { before: number; after: number; shrunk: number; shrinkMs?: number }) : reject(new Error(`${err.message}\n${stderr}`))));
  });
}

describe('young generation ceiling', () => {
  it('a burst grows the young generation up to the ceiling and no further; without one it goes past it', async () => {
    const capped = await burst(16, 'allowed');
    const free = await burst(0, 'allowed');
    console.log(`young generation after a 1.5 s burst: ${capped.after / MiB} MiB with a 16 MiB ceiling, ${free.after / MiB} MiB without (from ${capped.before / MiB} MiB)`);
    expect(capped.after).toBeGreaterThan(capped.before);
    expect(capped.after).toBeLessThanOrEqual(16 * MiB);
    expect(free.after).toBeGreaterThan(16 * MiB);
  });

  it("growth not allowed (the edge agent's low-rate mode) keeps the start size under the ceiling", async () => {
    const pinned = await burst(32, 'pinned');
    expect(pinned.after).toBeLessThanOrEqual(pinned.before); // never grew (V8 may shrink it)
  });

  it('shrinkHeap gives a grown young generation back (what the edge agent does when a burst is over)', async () => {
    const r = await burst(32, 'allowed', 'shrink');
    console.log(`shrinkHeap: young generation ${r.after / MiB} → ${r.shrunk / MiB} MiB in ${r.shrinkMs!.toFixed(0)} ms`);
    expect(r.after).toBeGreaterThan(r.before);
    expect(r.shrunk).toBeLessThan(r.after);
    expect(r.shrunk).toBeLessThanOrEqual(r.before);
  });

  it('NODE_FLAGS, which every roadlog process starts with, hold the young generation at 32 MiB in the same burst', async () => {
    const r = await burst(0, 'allowed', 'stay', NODE_FLAGS);
    console.log(`young generation after a 1.5 s burst with ${NODE_FLAGS.join(' ')}: ${r.after / MiB} MiB`);
    expect(r.after).toBeGreaterThan(r.before);
    expect(r.after).toBeLessThanOrEqual(32 * MiB);
  });

  it("the roadlog program's first line starts node with NODE_FLAGS (systemd units and shells run it so)", () => {
    const first = readFileSync(fileURLToPath(new URL('../../../shared/cli/main.ts', import.meta.url)), 'utf8').split('\n')[0]!;
    expect(first).toBe(`#!/usr/bin/env -S node ${NODE_FLAGS.join(' ')}`);
  });

  it('startedWithSemiSpaceLimit: on the command line or in NODE_OPTIONS, either spelling', () => {
    expect(startedWithSemiSpaceLimit(NODE_FLAGS, undefined)).toBe(true);
    expect(startedWithSemiSpaceLimit([], '--max_semi_space_size=8 --trace-gc')).toBe(true);
    expect(startedWithSemiSpaceLimit(['--max-old-space-size=512'], '--max-old-space-size=1')).toBe(false);
  });
});
