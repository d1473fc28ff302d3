import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { crc32c } from '../../../edge/log/crc32c.js';
import { decodeRecord, encodeRecord, MIN_RECORD_LENGTH } from '../../../edge/log/record.js';
import { GOLDEN } from './fixtures/records.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`./fixtures/${name}.bin`, import.meta.url));

describe('record codec', () => {
  it.each(GOLDEN)('encodes $name to its golden bytes, and decodes them back', (g) => {
    const bytes = fixture(g.name);
    expect(encodeRecord(g.input, g.offset, g.ingestTs).equals(bytes)).toBe(true);
    const decoded = decodeRecord(bytes);
    expect(decoded.kind).toBe('record');
    if (decoded.kind !== 'record') return;
    expect(decoded.size).toBe(bytes.length);
    expect(decoded.record).toEqual({
      offset: g.offset,
      critical: g.input.critical === true,
      deviceTs: g.input.deviceTs,
      ingestTs: g.ingestTs,
      key: g.input.key,
      value: Buffer.from(g.input.value),
      headers: (g.input.headers ?? []).map((h) => ({ name: h.name, value: Buffer.from(h.value) })),
    });
  });

  it('lays out the minimal record exactly as the layout comment says', () => {
    const expected = Buffer.alloc(42);
    expected.writeUInt32BE(MIN_RECORD_LENGTH, 0); // length of what follows
    expected.writeUInt8(1, 8); // version; attributes, offset, timestamps, lengths all 0
    expected.writeUInt32BE(crc32c(expected, 8, 42), 4);
    expect(fixture('minimal').equals(expected)).toBe(true);
    const t = fixture('telemetry');
    expect(t.readUInt32BE(0)).toBe(t.length - 4);
    expect(Number(t.readBigUInt64BE(10))).toBe(123_456);
    expect(t.subarray(36, 44).toString()).toBe('veh-0042');
    expect(fixture('critical-with-headers').readUInt8(9)).toBe(1);
  });

  it('says incomplete for every cut of a record, and never decodes a wrong one', () => {
    const bytes = fixture('critical-with-headers');
    for (let cut = 0; cut < bytes.length; cut++) expect(decodeRecord(bytes.subarray(0, cut)).kind).toBe('incomplete');
  });

  it('reports every single bit flip as corrupt or incomplete', () => {
    const bytes = fixture('telemetry');
    for (let bit = 0; bit < bytes.length * 8; bit++) {
      const copy = Buffer.from(bytes);
      copy[bit >> 3]! ^= 1 << (bit & 7);
      expect(['corrupt', 'incomplete']).toContain(decodeRecord(copy).kind);
    }
  });

  it('rejects reserved attribute bits and unknown versions even with a good CRC', () => {
    for (const [at, value, reason] of [[9, 0x02, 'attributes'], [8, 2, 'version']] as const) {
      const copy = Buffer.from(fixture('telemetry'));
      copy[at] = value;
      copy.writeUInt32BE(crc32c(copy, 8, copy.length), 4);
      expect(decodeRecord(copy)).toEqual({ kind: 'corrupt', reason });
    }
  });

  it('decodes at a position inside a larger buffer', () => {
    const a = encodeRecord({ key: 'a', value: Buffer.from('1'), deviceTs: 1 }, 0, 5);
    const b = encodeRecord({ key: 'b', value: Buffer.from('22'), deviceTs: 2 }, 1, 6);
    const both = Buffer.concat([a, b]);
    const r = decodeRecord(both, a.length);
    expect(r.kind === 'record' && r.record.key).toBe('b');
  });
});
