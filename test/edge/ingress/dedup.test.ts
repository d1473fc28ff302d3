import { describe, expect, it } from 'vitest';
import { DedupWindow } from '../../../edge/ingress/dedup.js';

describe('dedup window', () => {
  it('remembers the last N seqs per vehicle', () => {
    const d = new DedupWindow(3);
    for (const seq of [1, 2, 3]) d.record('VH-1', seq);
    expect(d.isDuplicate('VH-1', 2)).toBe(true);
    expect(d.isDuplicate('VH-2', 2)).toBe(false);
    d.record('VH-1', 4); // 1 falls out of the window
    expect(d.isDuplicate('VH-1', 1)).toBe(false);
    expect(d.isDuplicate('VH-1', 4)).toBe(true);
  });

  it('forgets the least recently seen vehicle beyond maxVehicles', () => {
    const d = new DedupWindow(10, 2);
    d.record('a', 1);
    d.record('b', 1);
    d.record('a', 2); // a is now the most recent
    d.record('c', 1); // evicts b
    expect(d.isDuplicate('a', 1)).toBe(true);
    expect(d.isDuplicate('b', 1)).toBe(false);
    expect(d.isDuplicate('c', 1)).toBe(true);
  });

  it('window 0 disables dedup', () => {
    const d = new DedupWindow(0);
    d.record('a', 1);
    expect(d.isDuplicate('a', 1)).toBe(false);
  });
});
