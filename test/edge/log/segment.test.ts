import { describe, expect, it } from 'vitest';
import { parseSegmentFileName, Segment, segmentFileName } from '../../../edge/log/segment.js';
import { SimulatedFileLayer } from './support/simulated-file-layer.js';

describe('Segment', () => {
  it('is named by its zero-padded base offset', () => {
    expect(segmentFileName(1234)).toBe('00000000000000001234.log');
    expect(segmentFileName(7, 'timeindex')).toBe('00000000000000000007.timeindex');
    expect(parseSegmentFileName('00000000000000001234.log')).toBe(1234);
    for (const bad of ['1234.log', '00000000000000001234.index', '0000000000000000123x.log', '00000000000000001234.log.tmp']) expect(parseSegmentFileName(bad)).toBeUndefined();
  });

  it('keeps its index as records become durable, and round-trips it through the index files', async () => {
    const fs = new SimulatedFileLayer();
    const seg = new Segment(fs, '/', 100, 64);
    for (let i = 0; i < 10; i++) seg.noteDurable(100 + i, i * 40, 40, 1000 + i);
    expect(seg.size).toBe(400);
    expect(seg.nextOffset).toBe(110);
    expect(seg.index.offsets).toEqual([102, 104, 106, 108]);
    expect([seg.firstTs, seg.maxTs]).toEqual([1000, 1009]);
    await seg.writeIndexes();
    const again = new Segment(fs, '/', 100, 64);
    expect(await again.loadIndexes(400)).toBe(true);
    expect(again.index.offsets).toEqual(seg.index.offsets);
    expect(again.nextOffset).toBe(110);
    expect(await again.loadIndexes(401)).toBe(false);
  });

  it('serves reads through its own fd and removes its files on delete', async () => {
    const fs = new SimulatedFileLayer();
    const seg = new Segment(fs, '/', 0, 4096);
    await seg.openWriter();
    await seg.writer!.append(Buffer.from('abcdef'));
    expect((await seg.readBytes(2, 3)).toString()).toBe('cde');
    await seg.writeIndexes();
    await seg.delete();
    expect(await fs.readdir('/')).toEqual([]);
  });
});
