import { getHeapStatistics } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { HeapTrimmer, type HeapShrunk } from '../../../shared/heap/trim.js';
import { shrinkHeap } from '../../../shared/heap/young-generation.js';

const MiB = 1024 * 1024;
const OPTIONS = { marginBytes: 32 * MiB, quietMs: 60_000, minIntervalMs: 300_000, intervalMs: 10_000 };

/** A trimmer over a fake heap and clock: `heap` is what V8 would report, a shrink sets it to `shrinksTo`. */
function fake(shrinksTo: number) {
  const state = { heap: 0, now: 0, shrinks: [] as HeapShrunk[] };
  const trimmer = new HeapTrimmer(OPTIONS, (s) => state.shrinks.push(s), {
    committed: () => state.heap,
    shrink: () => {
      state.heap = shrinksTo;
      return 5;
    },
    now: () => state.now,
  });
  trimmer.start();
  trimmer.stop(); // the test drives sample() itself
  /** `seconds` of looks every 10 s at a heap of `mib`. */
  const run = (seconds: number, mib: number) => {
    for (let t = 0; t < seconds; t += 10) {
      state.now += 10_000;
      state.heap = mib * MiB;
      trimmer.sample();
    }
  };
  return { state, run };
}

describe('HeapTrimmer', () => {
  it('shrinks once after a burst, when the heap has stopped growing, and not again while it stays at the level the shrink left', () => {
    const { state, run } = fake(40 * MiB);
    run(300, 60); // start, steady at 60 MiB for 5 min: the first shrink sets the level
    expect(state.shrinks.map((s) => s.afterBytes / MiB)).toEqual([40]);
    run(600, 60); // steady, 20 MiB above what the shrink left: below the margin
    expect(state.shrinks).toHaveLength(1);
    run(50, 90); // a burst: 90 MiB...
    run(50, 115);
    run(50, 140); // ...140 MiB, growing all along: no shrink while it grows
    expect(state.shrinks).toHaveLength(1);
    run(10, 140); // not grown for 50 s: not yet
    expect(state.shrinks).toHaveLength(1);
    run(10, 140); // 60 s without growth: given back
    expect(state.shrinks).toHaveLength(2);
    expect(state.shrinks[1]).toMatchObject({ beforeBytes: 140 * MiB, afterBytes: 40 * MiB });
    run(3600, 60); // an hour steady again: nothing
    expect(state.shrinks).toHaveLength(2);
  });

  it('a steady heap further above the shrunk level than the margin costs one shrink per minimum interval, no more', () => {
    const { state, run } = fake(20 * MiB);
    run(3600, 80); // regrows to 80 MiB after every shrink to 20
    expect(state.shrinks).toHaveLength(12); // 3600 s / 300 s
  });

  it("a real burst's heap comes back down with the shrink it runs", () => {
    const before = getHeapStatistics().total_heap_size;
    let keep: unknown[] = [];
    for (let i = 0; i < 40; i++) keep.push(new Array(100_000).fill({ i })); // ~32 MB live
    keep = [];
    const grown = getHeapStatistics().total_heap_size;
    shrinkHeap();
    const after = getHeapStatistics().total_heap_size;
    console.log(`committed JS heap: ${(before / MiB).toFixed(0)} MiB → burst ${(grown / MiB).toFixed(0)} MiB → shrunk ${(after / MiB).toFixed(0)} MiB`);
    expect(keep).toHaveLength(0);
    expect(grown - before).toBeGreaterThan(16 * MiB);
    expect(after).toBeLessThan(grown - 16 * MiB);
  });
});
