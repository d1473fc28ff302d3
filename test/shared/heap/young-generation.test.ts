import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { youngGenerationCeiling } from '../../../shared/cli/early.js';

const CHILD = fileURLToPath(new URL('./young-generation.child.ts', import.meta.url));
const MiB = 1024 * 1024;

/** The young generation's size before and after a burst of allocation in a fresh process. */
function burst(ceilingMiB: number, growth: 'allowed' | 'pinned'): Promise<{ before: number; after: number }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', CHILD, String(ceilingMiB), growth], (err, stdout, stderr) => (err === null ? resolve(JSON.parse(stdout) as { before: number; after: number }) : reject(new Error(`${err.message}\n${stderr}`))));
  });
}

describe('young generation ceiling', () => {
  it('a burst grows the young generation up to the ceiling and no further; without one it goes past it', async () => {
    const capped = await burst(8, 'allowed');
    const free = await burst(0, 'allowed');
    console.log(`young generation after a 1.5 s burst: ${capped.after / MiB} MiB with an 8 MiB ceiling, ${free.after / MiB} MiB without (from ${capped.before / MiB} MiB)`);
    expect(capped.after).toBeGreaterThan(capped.before);
    expect(capped.after).toBeLessThanOrEqual(8 * MiB);
    expect(free.after).toBeGreaterThanOrEqual(16 * MiB);
  });

  it("growth not allowed (the edge agent's low-rate mode) keeps the start size under the ceiling", async () => {
    const pinned = await burst(32, 'pinned');
    expect(pinned.after).toBe(pinned.before);
  });

  it('ROADLOG_V8_YOUNG_GENERATION_MIB: default 32 MiB, 0 for none, anything else but a whole number refused naming it', () => {
    expect(youngGenerationCeiling(undefined)).toEqual({ bytes: 32 * MiB });
    expect(youngGenerationCeiling('64')).toEqual({ bytes: 64 * MiB });
    expect(youngGenerationCeiling('0')).toEqual({ bytes: 0 });
    expect(youngGenerationCeiling('lots')).toEqual({ problem: expect.stringMatching(/ROADLOG_ERR_CONFIG_INVALID ROADLOG_V8_YOUNG_GENERATION_MIB: expected a whole number/) });
  });
});
