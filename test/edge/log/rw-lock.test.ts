import { describe, expect, it } from 'vitest';
import { RwLock } from '../../../edge/log/rw-lock.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('RwLock', () => {
  it('lets shared holders run together and an exclusive one alone, without starving it', async () => {
    const lock = new RwLock();
    const log: string[] = [];
    let releaseA: () => void = () => {};
    const a = lock.withShared(async () => {
      log.push('a+');
      await new Promise<void>((r) => (releaseA = r));
      log.push('a-');
    });
    const b = lock.withShared(async () => {
      log.push('b');
    });
    await tick();
    const x = lock.withExclusive(async () => {
      log.push('x');
    });
    const c = lock.withShared(async () => {
      log.push('c');
    });
    await tick();
    expect(log).toEqual(['a+', 'b']); // x waits for a; c waits behind x
    releaseA();
    await Promise.all([a, b, x, c]);
    expect(log).toEqual(['a+', 'b', 'a-', 'x', 'c']);
  });
});
