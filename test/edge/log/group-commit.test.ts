import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../../edge/log/group-commit.js';

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('GroupCommit', () => {
  it('carries appends that arrive together in one flush, and each gets its own result', async () => {
    const batches: number[][] = [];
    const gc = new GroupCommit<number, string>({ maxBatchDelayMs: 5, maxBatchBytes: 1 << 20, maxPendingBytes: 1 << 20 }, async (items) => {
      batches.push(items);
      return items.map((i) => (i === 3 ? new Error('three') : `ok${i}`));
    });
    const all = [1, 2, 3, 4].map((i) => gc.submit(i, 10));
    const settled = await Promise.allSettled(all);
    expect(batches).toEqual([[1, 2, 3, 4]]);
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message))).toEqual(['ok1', 'ok2', 'three', 'ok4']);
    expect(gc.pendingBytes).toBe(0);
  });

  it('flushes at once when maxBatchBytes is queued, and runs one flush at a time', async () => {
    let running = 0;
    let maxRunning = 0;
    const batches: number[][] = [];
    const gc = new GroupCommit<number, number>({ maxBatchDelayMs: 10_000, maxBatchBytes: 30, maxPendingBytes: 1 << 20 }, async (items) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      batches.push(items);
      await tick();
      running--;
      return items;
    });
    const started = Date.now();
    await Promise.all([1, 2, 3, 4, 5, 6].map((i) => gc.submit(i, 10)));
    expect(Date.now() - started).toBeLessThan(5000);
    expect(maxRunning).toBe(1);
    expect(batches.flat()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(batches[0]).toEqual([1, 2, 3]);
  });

  it('fails every append of a batch whose flush throws', async () => {
    const gc = new GroupCommit<number, number>({ maxBatchDelayMs: 0, maxBatchBytes: 1, maxPendingBytes: 100 }, async () => {
      throw new Error('disk on fire');
    });
    await expect(gc.submit(1, 1)).rejects.toThrow('disk on fire');
  });

  it('holds appends back while maxPendingBytes is in use, and lets them in as room frees', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const gc = new GroupCommit<number, number>({ maxBatchDelayMs: 0, maxBatchBytes: 1, maxPendingBytes: 25 }, async (items) => {
      await gate;
      return items;
    });
    const a = gc.submit(1, 20);
    await tick();
    expect(gc.hasRoom(10)).toBe(false);
    let bIn = false;
    const b = gc.submit(2, 10).then((r) => ((bIn = true), r));
    let roomSeen = false;
    const room = gc.waitForRoom(10).then(() => (roomSeen = true));
    await tick();
    expect(gc.pendingBytes).toBe(20);
    expect(bIn).toBe(false);
    expect(roomSeen).toBe(false);
    release();
    expect(await a).toBe(1);
    expect(await b).toBe(2);
    await room;
    await gc.drain();
    expect(gc.pendingBytes).toBe(0);
  });

  it('waits busyBatchDelayMs at a steady, moderate rate (fewer, fuller writes); maxBatchDelayMs when flushes fill anyway and for a record after a quiet spell', async () => {
    let t = 0;
    const gc = new GroupCommit<number, number>({ maxBatchDelayMs: 2, busyBatchDelayMs: 5, maxBatchBytes: 1e9, maxPendingBytes: 1e9 }, async (items) => items, undefined, undefined, () => t);
    /** Submits and lets it reach the queue; `done` is the append's result. */
    const queued = async (item: number) => {
      const done = gc.submit(item, 1);
      await new Promise((r) => setImmediate(r));
      return { done };
    };
    expect(gc.delayMs()).toBe(2);
    for (let i = 0; i < 20; i++) {
      const { done } = await queued(i); // one record a millisecond, each flushed alone
      await gc.drain();
      await done;
      t += 1;
    }
    const steady = await queued(20);
    expect(gc.delayMs()).toBe(5);
    await gc.drain();
    await steady.done;
    // Five records a millisecond fill a flush at the base delay already: no reason to wait longer.
    for (let i = 0; i < 20; i++) {
      const burst = await Promise.all([1, 2, 3, 4, 5].map(() => queued(i)));
      await gc.drain();
      await Promise.all(burst.map((b) => b.done));
      t += 1;
    }
    const fast = await queued(0);
    expect(gc.delayMs()).toBe(2);
    await gc.drain();
    await fast.done;
    t += 10_000;
    const lone = await queued(21);
    expect(gc.delayMs()).toBe(2);
    await gc.drain();
    await lone.done;
    // Without busyBatchDelayMs above maxBatchDelayMs, the delay never moves.
    const fixed = new GroupCommit<number, number>({ maxBatchDelayMs: 2, maxBatchBytes: 1e9, maxPendingBytes: 1e9 }, async (items) => items, undefined, undefined, () => t);
    expect(fixed.delayMs()).toBe(2);
  });
});
