import { describe, expect, it } from 'vitest';
import { Throttle } from '../../../edge/ingress/throttle.js';
import { ManualClock } from './support/clock.js';

describe('per-vehicle throttle', () => {
  it('lets a burst through at once, then spaces messages at the rate, in order', async () => {
    const clock = new ManualClock();
    const throttle = new Throttle(100, 5, clock); // 100/s, burst 5
    const done: { i: number; at: number }[] = [];
    const waits = Array.from({ length: 25 }, (_, i) => (throttle.reserve('VH-1') ?? Promise.resolve()).then(() => done.push({ i, at: clock.now() })));
    await clock.advance(0);
    expect(done.map((d) => d.i)).toEqual([0, 1, 2, 3, 4]); // the burst, while the clock stands still
    await clock.advance(1_000);
    await Promise.all(waits);
    expect(done.map((d) => d.i)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    // Then one every 10 ms: the 20 messages beyond the burst at 10, 20, ... 200 ms.
    expect(done.map((d) => Math.round(d.at))).toEqual([0, 0, 0, 0, 0, ...Array.from({ length: 20 }, (_, i) => 10 * (i + 1))]);
  });

  it('does not delay one vehicle for another', () => {
    const throttle = new Throttle(1, 1, new ManualClock());
    expect(throttle.reserve('VH-1')).toBeUndefined();
    expect(throttle.reserve('VH-1')).toBeInstanceOf(Promise);
    expect(throttle.reserve('VH-2')).toBeUndefined();
  });

  it('refills with time', async () => {
    const clock = new ManualClock();
    const throttle = new Throttle(10, 2, clock);
    expect(throttle.reserve('v')).toBeUndefined();
    expect(throttle.reserve('v')).toBeUndefined();
    await clock.advance(200); // two tokens back
    expect(throttle.reserve('v')).toBeUndefined();
    expect(throttle.reserve('v')).toBeUndefined();
    expect(throttle.reserve('v')).toBeInstanceOf(Promise); // and no more
  });
});
