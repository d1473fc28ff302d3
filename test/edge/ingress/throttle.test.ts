import { describe, expect, it } from 'vitest';
import { Throttle } from '../../../edge/ingress/throttle.js';

describe('per-vehicle throttle', () => {
  it('lets a burst through at once, then spaces messages at the rate, in order', async () => {
    const throttle = new Throttle(100, 5); // 100/s, burst 5
    const started = performance.now();
    const done: number[] = [];
    const waits = Array.from({ length: 25 }, (_, i) => {
      const w = throttle.reserve('VH-1');
      return (w ?? Promise.resolve()).then(() => done.push(i));
    });
    expect(waits.length).toBe(25);
    await Promise.all(waits);
    const elapsed = performance.now() - started;
    expect(done).toEqual(Array.from({ length: 25 }, (_, i) => i));
    // 20 messages beyond the burst at 100/s: at least ~200 ms (timers may be late, never early).
    expect(elapsed).toBeGreaterThanOrEqual(190);
  });

  it('does not delay one vehicle for another', () => {
    const throttle = new Throttle(1, 1);
    expect(throttle.reserve('VH-1')).toBeUndefined();
    expect(throttle.reserve('VH-1')).toBeInstanceOf(Promise);
    expect(throttle.reserve('VH-2')).toBeUndefined();
  });

  it('refills with time', () => {
    let now = 0;
    const throttle = new Throttle(10, 2, () => now);
    expect(throttle.reserve('v')).toBeUndefined();
    expect(throttle.reserve('v')).toBeUndefined();
    now = 200; // two tokens back
    expect(throttle.reserve('v')).toBeUndefined();
    expect(throttle.reserve('v')).toBeUndefined();
  });
});
