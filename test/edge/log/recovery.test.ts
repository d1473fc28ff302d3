import { describe, expect, it } from 'vitest';
import { encodeRecord, type LogRecord } from '../../../edge/log/record.js';
import { scanSegment } from '../../../edge/log/recovery.js';
import { randInt, rng, sampleInput } from './support/random.js';

const BASE = 1000;
/** `npm run test:faults` raises this (ROADLOG_FAULT_SCALE=10: 50,000 cuts and 50,000 flips). */
const N = 5000 * Number(process.env.ROADLOG_FAULT_SCALE ?? 1);

function buildSegment(seed: number, n: number): { buf: Buffer; ends: number[]; values: Buffer[] } {
  const r = rng(seed);
  const parts: Buffer[] = [];
  const ends: number[] = [];
  const values: Buffer[] = [];
  let at = 0;
  for (let i = 0; i < n; i++) {
    const input = sampleInput(r, `veh-${randInt(r, 5)}`, i, r() < 0.1);
    const b = encodeRecord(input, BASE + i, 2_000_000 + i);
    parts.push(b);
    values.push(input.value);
    at += b.length;
    ends.push(at);
  }
  return { buf: Buffer.concat(parts), ends, values };
}

function scanAll(buf: Buffer) {
  const seen: LogRecord[] = [];
  const scan = scanSegment(buf, { base: BASE, indexIntervalBytes: 512, onRecord: (rec) => seen.push(rec) });
  return { scan, seen };
}

describe('scanSegment', () => {
  it('reads a clean segment whole, with an index every indexIntervalBytes', () => {
    const { buf, ends } = buildSegment(1, 50);
    const { scan, seen } = scanAll(buf);
    expect(scan.records).toBe(50);
    expect(scan.nextOffset).toBe(BASE + 50);
    expect(scan.validEnd).toBe(buf.length);
    expect(scan.tail).toBeUndefined();
    expect(scan.corrupt).toEqual([]);
    expect(seen.map((r) => r.offset)).toEqual(Array.from({ length: 50 }, (_, i) => BASE + i));
    expect(scan.index.offsets.length).toBeGreaterThan(3);
    for (const [i, o] of scan.index.offsets.entries()) expect(scan.index.positions[i]).toBe(ends[o - BASE - 1]);
    expect(scan.firstTs).toBe(2_000_000);
    expect(scan.maxTs).toBe(2_000_049);
  });

  it(`${N} random cuts (torn tails): recovers exactly the whole records before the cut`, () => {
    const { buf, ends, values } = buildSegment(2, 40);
    const r = rng(22);
    const failures: unknown[] = [];
    for (let k = 0; k < N; k++) {
      const cut = randInt(r, buf.length + 1);
      const { scan, seen } = scanAll(buf.subarray(0, cut));
      const whole = ends.filter((e) => e <= cut).length;
      const ok =
        scan.records === whole &&
        seen.length === whole &&
        scan.validEnd === (whole === 0 ? 0 : ends[whole - 1]) &&
        (scan.tail === undefined) === (cut === scan.validEnd) &&
        scan.corrupt.length === 0 &&
        seen.every((rec, i) => rec.offset === BASE + i && Buffer.from(rec.value).equals(values[i]!));
      if (!ok) failures.push({ cut, records: scan.records, whole });
    }
    expect(failures).toEqual([]);
  });

  it(`${N} random bit flips: never a wrong record, at most the damaged one lost, the rest in order`, () => {
    const { buf, values } = buildSegment(3, 40);
    const r = rng(33);
    const failures: unknown[] = [];
    for (let k = 0; k < N; k++) {
      const copy = Buffer.from(buf);
      const bit = randInt(r, copy.length * 8);
      copy[bit >> 3]! ^= 1 << (bit & 7);
      const { scan, seen } = scanAll(copy);
      const inOrder = seen.every((rec, i) => i === 0 || rec.offset > seen[i - 1]!.offset);
      const right = seen.every((rec) => Buffer.from(rec.value).equals(values[rec.offset - BASE]!));
      const lost = scan.corrupt.reduce((n, c) => n + c.toOffset - c.fromOffset, 0) + (scan.tail === undefined ? 0 : BASE + 40 - scan.nextOffset);
      if (!inOrder || !right || seen.length < 39 || seen.length + lost !== 40) failures.push({ bit, seen: seen.length, lost });
    }
    expect(failures).toEqual([]);
  });

  it('resyncs past a damaged length and past a run of garbage', () => {
    const { buf } = buildSegment(4, 10);
    const copy = Buffer.from(buf);
    copy.writeUInt32BE(0xffffff, 0); // first record's length: absurd
    const garbage = Buffer.concat([copy, Buffer.alloc(0)]);
    const { scan, seen } = scanAll(garbage);
    expect(seen.map((x) => x.offset)).toEqual(Array.from({ length: 9 }, (_, i) => BASE + 1 + i));
    expect(scan.corrupt).toMatchObject([{ position: 0, fromOffset: BASE, toOffset: BASE + 1 }]);
    const withZeros = Buffer.concat([buf, Buffer.alloc(5000)]);
    const z = scanAll(withZeros);
    expect(z.scan.records).toBe(10);
    expect(z.scan.tail?.position).toBe(buf.length);
  });
});
