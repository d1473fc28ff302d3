import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { youngGenerationCeiling } from '../../../shared/cli/early.js';

const CHILD = fileURLToPath(new URL('./young-generation.child.ts', import.meta.url));
const MiB = 1024 * 1024;

/** The young generation's size before and after a burst of allocation in a fresh process. */
function burst(ceilingMiB: number, growth: 'allowed' | 'pinned', then = 'stay'): Promise<{ before: number; after: number; shrunk: number; shrinkMs?: number }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', CHILD, String(ceilingMiB), growth, then], (err, stdout, stderr) => (err === null ? resolve(JSON.parse(stdout) as { before: number; after: number; shrunk: number; shrinkMs?: number }) : reject(new Error(`${err.message}\n${stderr}`))));
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

  it('ROADLOG_V8_YOUNG_GENERATION_MIB: default 32 MiB, 0 for none, anything else but a whole number refused naming it', () => {
    expect(youngGenerationCeiling(undefined)).toEqual({ bytes: 32 * MiB });
    expect(youngGenerationCeiling('64')).toEqual({ bytes: 64 * MiB });
    expect(youngGenerationCeiling('0')).toEqual({ bytes: 0 });
    expect(youngGenerationCeiling('lots')).toEqual({ problem: expect.stringMatching(/ROADLOG_ERR_CONFIG_INVALID ROADLOG_V8_YOUNG_GENERATION_MIB: expected a whole number/) });
  });
});
