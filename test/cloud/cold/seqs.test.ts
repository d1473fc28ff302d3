import { describe, expect, it } from 'vitest';
import { MAX_RUNS, SeqRuns } from '../../../cloud/cold/seqs.js';

describe('SeqRuns: a device retry is seen once, nothing new is taken for one', () => {
  it('drops a repeat of (vehicle, seq, ts) in order and out of order', () => {
    const s = new SeqRuns();
    for (let i = 0; i < 100; i++) expect(s.seen('a', i, 1000 + i)).toBe(false);
    expect(s.seen('a', 50, 1050)).toBe(true);
    expect(s.seen('b', 50, 1050)).toBe(false);
    // The critical lane ahead of the rest: 150 first, then the run up to it.
    expect(s.seen('a', 150, 1150)).toBe(false);
    for (let i = 100; i < 150; i++) expect(s.seen('a', i, 1000 + i)).toBe(false);
    expect(s.seen('a', 149, 1149)).toBe(true);
    expect(s.snapshot().a).toEqual([[0, 150, 1000, 1150]]);
  });

  it('takes a device that restarted its count (seq 0 again, later ts) as new', () => {
    const s = new SeqRuns();
    for (let i = 0; i < 10; i++) s.seen('a', i, 1000 + i);
    for (let i = 0; i < 10; i++) expect(s.seen('a', i, 5000 + i)).toBe(false);
    expect(s.seen('a', 3, 5003)).toBe(true);
    expect(s.seen('a', 3, 1003)).toBe(true);
  });

  it('keeps at most MAX_RUNS runs per vehicle, dropping the oldest device time first, and survives a snapshot', () => {
    const s = new SeqRuns();
    for (let r = 0; r < MAX_RUNS + 5; r++) s.seen('a', r * 10, r * 10_000);
    expect(s.snapshot().a).toHaveLength(MAX_RUNS);
    const t = SeqRuns.restore(JSON.parse(JSON.stringify(s.snapshot())) as ReturnType<SeqRuns['snapshot']>);
    expect(t.seen('a', 0, 0)).toBe(false); // forgotten: archived again rather than lost
    expect(t.seen('a', (MAX_RUNS + 4) * 10, (MAX_RUNS + 4) * 10_000)).toBe(true);
  });
});
