import { describe, expect, it } from 'vitest';
import { decodeOffsetIndex, decodeTimeIndex, encodeOffsetIndex, encodeTimeIndex, OffsetIndex, shouldIndex, TimeIndex } from '../../../edge/log/offset-index.js';

const summary = { indexIntervalBytes: 4096, segmentBytes: 9000, nextOffset: 130, firstTs: 1000, maxTs: 5000 };

describe('offset index', () => {
  it('finds the nearest indexed position at or before an offset', () => {
    const ix = new OffsetIndex();
    ix.add(110, 4100);
    ix.add(120, 8200);
    expect(ix.lookup(100)).toBe(0);
    expect(ix.lookup(109)).toBe(0);
    expect(ix.lookup(110)).toBe(4100);
    expect(ix.lookup(119)).toBe(4100);
    expect(ix.lookup(500)).toBe(8200);
  });

  it('round-trips through its file format and refuses a damaged or foreign file', () => {
    const ix = new OffsetIndex();
    ix.add(110, 4100);
    ix.add(120, 8200);
    const bytes = encodeOffsetIndex(ix, 100, summary);
    const back = decodeOffsetIndex(bytes, 100);
    expect(back?.summary).toEqual(summary);
    expect(back?.index.offsets).toEqual([110, 120]);
    expect(back?.index.positions).toEqual([4100, 8200]);
    for (let bit = 0; bit < bytes.length * 8; bit += 3) {
      const copy = Buffer.from(bytes);
      copy[bit >> 3]! ^= 1 << (bit & 7);
      expect(decodeOffsetIndex(copy, 100)).toBeUndefined();
    }
    expect(decodeOffsetIndex(bytes.subarray(0, bytes.length - 1), 100)).toBeUndefined();
    expect(decodeTimeIndex(bytes, 100)).toBeUndefined();
  });

  it('indexes a record when indexIntervalBytes passed since the last entry', () => {
    expect(shouldIndex(0, -1, 4096)).toBe(false);
    expect(shouldIndex(4095, -1, 4096)).toBe(false);
    expect(shouldIndex(4096, -1, 4096)).toBe(true);
    expect(shouldIndex(8000, 4096, 4096)).toBe(false);
    expect(shouldIndex(8192, 4096, 4096)).toBe(true);
  });
});

describe('time index', () => {
  it('never starts after a record at or after the asked time', () => {
    const ti = new TimeIndex();
    ti.add(1000, 10); // records before 10 have ts ≤ 1000
    ti.add(1000, 20); // not increasing: ignored
    ti.add(3000, 30);
    expect(ti.offsets).toEqual([10, 30]);
    expect(ti.lookup(1000)).toBeUndefined();
    expect(ti.lookup(1001)).toBe(10);
    expect(ti.lookup(3001)).toBe(30);
    const back = decodeTimeIndex(encodeTimeIndex(ti, 0, summary), 0);
    expect(back?.index.timestamps).toEqual([1000, 3000]);
    expect(back?.index.offsets).toEqual([10, 30]);
  });
});
