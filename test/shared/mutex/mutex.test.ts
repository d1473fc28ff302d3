import { describe, expect, it } from 'vitest';
import { Mutex } from '../../../shared/mutex/index.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('Mutex', () => {
  it('runs holders one at a time, in arrival order, and goes on after a holder throws', async () => {
    const m = new Mutex();
    const log: string[] = [];
    let releaseA!: () => void;
    const a = m.run(async () => {
      log.push('a+');
      await new Promise<void>((r) => (releaseA = r));
      log.push('a-');
    });
    const b = m.run(async () => {
      log.push('b');
      throw new Error('b failed');
    });
    const c = m.run(async () => {
      log.push('c');
      return 42;
    });
    await tick();
    expect(log).toEqual(['a+']);
    expect(m.pending).toBe(3);
    releaseA();
    await a;
    await expect(b).rejects.toThrow('b failed');
    expect(await c).toBe(42);
    expect(log).toEqual(['a+', 'a-', 'b', 'c']);
    expect(m.pending).toBe(0);
  });

  it('idle() waits for every holder, those that arrive while it waits too, and never rejects', async () => {
    const m = new Mutex();
    await m.idle();
    const log: string[] = [];
    void m.run(async () => {
      await tick();
      log.push('a');
      void m.run(async () => {
        await tick();
        log.push('late');
      });
      throw new Error('a failed');
    }).catch(() => undefined);
    await m.idle();
    expect(log).toEqual(['a', 'late']);
    expect(m.pending).toBe(0);
  });
});
