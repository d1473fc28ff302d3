import { describe, expect, it } from 'vitest';
import { Partition, type PartitionConfig } from '../../../edge/log/partition.js';
import { prepareRecord, type LogRecord, type RecordInput } from '../../../edge/log/record.js';
import { segmentFileName } from '../../../edge/log/segment.js';
import { SimulatedFileLayer } from './support/simulated-file-layer.js';
import { randInt, rng, sampleInput } from './support/random.js';

const DIR = '/log/normal/000';
const CONFIG: PartitionConfig = { segmentBytes: 2048, indexIntervalBytes: 256 };

async function fresh(): Promise<SimulatedFileLayer> {
  const fs = new SimulatedFileLayer();
  await fs.mkdir(DIR);
  for (const d of ['/', '/log', '/log/normal']) await fs.fsyncDir(d);
  return fs;
}

const pending = (inputs: RecordInput[], ingestTs: number) => inputs.map((input) => ({ record: prepareRecord(input), ingestTs }));

async function append(p: Partition, inputs: RecordInput[], ingestTs = 5000): Promise<number[]> {
  const plan = p.prepare(pending(inputs, ingestTs));
  await p.write(plan);
  p.commit(plan);
  return plan.offsets;
}

async function readAll(p: Partition, from = 0) {
  const records: LogRecord[] = [];
  const skipped: { fromOffset: number; toOffset: number; reason: string }[] = [];
  let next = from;
  for (;;) {
    const r = await p.read(next, { maxRecords: 7, maxBytes: 1 << 20 });
    records.push(...r.records);
    skipped.push(...r.skipped);
    if (r.nextOffset === next) break;
    next = r.nextOffset;
  }
  return { records, skipped, next };
}

function inputs(seed: number, n: number): RecordInput[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => sampleInput(r, `veh-${i % 3}`, i));
}

describe('Partition', () => {
  it('appends with consecutive offsets, rolls segments at segmentBytes, and reads back in order', async () => {
    const fs = await fresh();
    const p = await Partition.open(fs, DIR, CONFIG);
    const all = inputs(1, 60);
    expect(await append(p, all.slice(0, 25))).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(await append(p, all.slice(25))).toEqual(Array.from({ length: 35 }, (_, i) => 25 + i));
    expect(p.segments.length).toBeGreaterThan(3);
    for (const s of p.segments.slice(0, -1)) expect(s.size).toBeLessThanOrEqual(2048);
    const { records, skipped } = await readAll(p);
    expect(skipped).toEqual([]);
    expect(records.map((r) => r.offset)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(records.map((r) => Buffer.from(r.value).toString())).toEqual(all.map((i) => Buffer.from(i.value).toString()));
    const mid = await p.read(41, { maxRecords: 3, maxBytes: 1 << 20 });
    expect(mid.records.map((r) => r.offset)).toEqual([41, 42, 43]);
    await p.close();
  });

  it('holds no file open for a sealed segment once it is read to its end: a log that keeps its data does not gather file descriptors', async () => {
    const fs = await fresh();
    const p = await Partition.open(fs, DIR, CONFIG);
    await append(p, inputs(2, 120));
    expect(p.segments.length).toBeGreaterThan(6);
    const active = `${DIR}/${segmentFileName(p.active.base)}`;
    expect([...fs.openFiles.keys()]).toEqual([active]); // the writer
    expect((await readAll(p)).records).toHaveLength(120);
    expect(fs.openFiles).toEqual(new Map([[active, 2]])); // the writer and the reader of the active segment, no other
    // A read from the middle of a sealed segment that stops inside it keeps that one reader, until it reads on past its end.
    const second = p.segments[1]!;
    await p.read(second.base + 1, { maxRecords: 1, maxBytes: 1 << 20 });
    expect(fs.openFiles.get(`${DIR}/${segmentFileName(second.base)}`)).toBe(1);
    await p.read(second.base + 2, { maxRecords: 1000, maxBytes: 1 << 20 });
    expect(fs.openFiles).toEqual(new Map([[active, 2]]));
  });

  it('a failed open of a segment for reading is tried again on the next read, not kept as the answer', async () => {
    const fs = await fresh();
    const p = await Partition.open(fs, DIR, CONFIG);
    await append(p, inputs(3, 60));
    const first = `${DIR}/${segmentFileName(0)}`;
    let failures = 1;
    fs.inject = (op, path) => (op === 'open' && path === first && failures-- > 0 ? 'EIO' : undefined);
    await expect(p.read(0, { maxRecords: 5, maxBytes: 1 << 20 })).rejects.toMatchObject({ code: 'EIO' });
    expect((await p.read(0, { maxRecords: 5, maxBytes: 1 << 20 })).records.map((r) => r.offset)).toEqual([0, 1, 2, 3, 4]);
  });

  it('reopens from sealed index files, and rebuilds a stale or missing one', async () => {
    const fs = await fresh();
    const p = await Partition.open(fs, DIR, CONFIG);
    await append(p, inputs(2, 60));
    await p.close();
    const q = await Partition.open(fs, DIR, CONFIG);
    expect(q.report.rebuiltIndexes).toBe(0);
    expect(q.endOffset).toBe(60);
    const sealed = q.segments[1]!;
    const before = { offsets: [...sealed.index.offsets], positions: [...sealed.index.positions] };
    await q.close();
    await fs.unlink(`${DIR}/${segmentFileName(sealed.base, 'index')}`);
    const r = await Partition.open(fs, DIR, CONFIG);
    expect(r.report.rebuiltIndexes).toBe(1);
    expect({ offsets: r.segments[1]!.index.offsets, positions: r.segments[1]!.index.positions }).toEqual(before);
    expect((await readAll(r)).records.length).toBe(60);
    await r.close();
  });

  it('cuts a torn tail back to the last whole record on open, and continues the offsets', async () => {
    const fs = await fresh();
    const p = await Partition.open(fs, DIR, { ...CONFIG, segmentBytes: 1 << 20 });
    await append(p, inputs(3, 10));
    await p.active.writer!.append(Buffer.from('half a record'));
    await p.close();
    const q = await Partition.open(fs, DIR, { ...CONFIG, segmentBytes: 1 << 20 });
    expect(q.report.truncatedBytes).toBe(13);
    // The cut bytes could have held one record (offset 10): that offset is never handed out again.
    expect(q.report.skippedOffsets).toEqual({ fromOffset: 10, toOffset: 11 });
    expect(q.endOffset).toBe(11);
    expect(await append(q, inputs(4, 1))).toEqual([11]);
    const after = await readAll(q);
    expect(after.records.map((r) => r.offset)).toEqual([...Array.from({ length: 10 }, (_, i) => i), 11]);
    expect(after.skipped).toMatchObject([{ fromOffset: 10, toOffset: 11, reason: 'gap' }]);
    await q.close();
  });

  it('skips and reports a damaged record in a sealed segment; never returns it', async () => {
    const fs = await fresh();
    const p = await Partition.open(fs, DIR, CONFIG);
    await append(p, inputs(5, 60));
    const seg = p.segments[1]!;
    await p.close();
    fs.flipBit(seg.logPath, 8 * 100 + 3);
    const q = await Partition.open(fs, DIR, CONFIG);
    const { records, skipped } = await readAll(q);
    expect(skipped.length).toBe(1);
    const lost = skipped[0]!;
    expect(lost.toOffset - lost.fromOffset).toBe(1);
    expect(records.length).toBe(59);
    expect(records.map((r) => r.offset)).not.toContain(lost.fromOffset);
    await q.close();
  });

  it('rolls back a failed write (ENOSPC mid-append): nothing of it becomes visible, the next write lands cleanly', async () => {
    const fs = await fresh();
    const p = await Partition.open(fs, DIR, { ...CONFIG, segmentBytes: 1 << 20 });
    await append(p, inputs(6, 5));
    fs.capacityBytes = fs.usedBytes() + 100;
    const plan = p.prepare(pending(inputs(7, 5), 1));
    await expect(p.write(plan)).rejects.toMatchObject({ code: 'ENOSPC' });
    await p.rollback(plan);
    fs.capacityBytes = undefined;
    expect(p.endOffset).toBe(5);
    expect(await append(p, inputs(8, 2))).toEqual([5, 6]);
    await p.close();
    const after = await Partition.open(fs.crash(), DIR, { ...CONFIG, segmentBytes: 1 << 20 });
    expect((await readAll(after)).records.map((r) => r.offset)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('a segment created by a roll survives a crash right after the append resolved (before its predecessor is sealed)', async () => {
    const fs = await fresh();
    const p = await Partition.open(fs, DIR, CONFIG);
    const all = inputs(11, 40);
    await append(p, all); // rolls several times; seals of old segments are still in flight
    const after = await Partition.open(fs.crash(), DIR, CONFIG);
    expect((await readAll(after)).records.map((r) => r.offset)).toEqual(Array.from({ length: 40 }, (_, i) => i));
  });

  it('deletes the oldest segment, keeping the offsets when only the active one is left', async () => {
    const fs = await fresh();
    const p = await Partition.open(fs, DIR, CONFIG);
    await append(p, inputs(9, 20));
    const n = p.segments.length;
    const first = await p.deleteOldest();
    expect(first?.base).toBe(0);
    expect(p.segments.length).toBe(n - 1);
    while ((await p.deleteOldest()) !== undefined);
    expect(p.startOffset).toBe(20);
    expect(p.endOffset).toBe(20);
    const r = await p.read(3, { maxRecords: 10, maxBytes: 1 << 20 });
    expect(r).toEqual({ records: [], nextOffset: 20, skipped: [] });
    await p.close();
    const q = await Partition.open(fs.crash(), DIR, CONFIG);
    expect(q.endOffset).toBe(20);
    expect(await append(q, inputs(10, 1))).toEqual([20]);
  });

  it('a roll whose write and rollback both failed leaves a file the next roll does not append to', async () => {
    const fs = await fresh();
    const p = await Partition.open(fs, DIR, CONFIG);
    const all = inputs(21, 40);
    await append(p, all.slice(0, 8));
    // The next batch rolls: its new segment gets the bytes, then fdatasync fails, then so does deleting it.
    const plan = p.prepare(pending(all.slice(8, 30), 5000));
    const newSeg = plan.chunks.find((c) => c.isNew)!.segment;
    fs.inject = (op, path) => ((op === 'datasync' || op === 'unlink') && path === newSeg.logPath ? 'EIO' : undefined);
    await expect(p.write(plan)).rejects.toMatchObject({ code: 'EIO' });
    await p.rollback(plan);
    fs.inject = undefined;
    expect(fs.contents(newSeg.logPath).length).toBeGreaterThan(0); // the refused records are still on disk
    // The same offsets go to different records now; each must read back as itself.
    const retry = all.slice(30, 40).concat(all.slice(8, 20));
    const offsets = await append(p, retry);
    expect(offsets[0]).toBe(8);
    const { records, skipped } = await readAll(p);
    expect(skipped).toEqual([]);
    const want = all.slice(0, 8).concat(retry);
    expect(records.map((r) => Buffer.from(r.value).toString('hex'))).toEqual(want.map((i) => Buffer.from(i.value).toString('hex')));
    await p.close();
    const q = await Partition.open(fs, DIR, CONFIG);
    expect((await readAll(q)).records.map((r) => Buffer.from(r.value).toString('hex'))).toEqual(want.map((i) => Buffer.from(i.value).toString('hex')));
    await q.close();
  });

  it('never hands out an offset below minNextOffset (a committed cursor), leaving a gap readers pass over', async () => {
    const fs = await fresh();
    const p = await Partition.open(fs, DIR, { ...CONFIG, segmentBytes: 1 << 20 });
    await append(p, inputs(31, 10));
    await p.close();
    const q = await Partition.open(fs, DIR, { ...CONFIG, segmentBytes: 1 << 20, minNextOffset: 14 });
    expect(q.report.skippedOffsets).toEqual({ fromOffset: 10, toOffset: 14 });
    expect(await append(q, inputs(32, 2))).toEqual([14, 15]);
    const { records, skipped } = await readAll(q, 12);
    expect(records.map((r) => r.offset)).toEqual([14, 15]);
    expect(skipped).toMatchObject([{ fromOffset: 12, toOffset: 14, reason: 'gap' }]);
    await q.close();
    const r = await Partition.open(fs, DIR, { ...CONFIG, segmentBytes: 1 << 20 });
    expect(r.report).toMatchObject({ rebuiltIndexes: 0, skippedOffsets: undefined, truncatedBytes: 0 });
    expect((await readAll(r)).records.map((x) => x.offset)).toEqual([...Array.from({ length: 10 }, (_, i) => i), 14, 15]);
    await r.close();
  });

  it('damage at the end of a sealed segment whose index is lost is reported as damage, not as a gap', async () => {
    const fs = await fresh();
    const p = await Partition.open(fs, DIR, CONFIG);
    await append(p, inputs(41, 30));
    await p.close();
    const first = p.segments[0]!;
    expect(p.segments.length).toBeGreaterThan(1);
    await fs.unlink(first.indexPath);
    fs.flipBit(first.logPath, (fs.contents(first.logPath).length - 3) * 8); // inside its last record
    const q = await Partition.open(fs, DIR, CONFIG);
    const last = first.nextOffset - 1;
    expect(q.report.corrupt).toMatchObject([{ fromOffset: last, toOffset: last + 1 }]);
    const { records, skipped } = await readAll(q);
    expect(records.length).toBe(29);
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toMatchObject({ fromOffset: last, toOffset: last + 1 });
    expect(skipped[0]!.reason).not.toBe('gap');
    await q.close();
  });

  const crashes = 500 * Number(process.env.ROADLOG_FAULT_SCALE ?? 1);
  it(`${crashes} random crashes with torn writes and bit flips: open never throws, never a wrong record, every fsynced record but the damaged ones`, async () => {
    const r = rng(77);
    const failures: unknown[] = [];
    for (let k = 0; k < crashes; k++) {
      let fs = await fresh();
      const p = await Partition.open(fs, DIR, CONFIG);
      const all = inputs(1000 + k, 30 + randInt(r, 30));
      const durable = randInt(r, all.length);
      await append(p, all.slice(0, durable));
      // The rest is written but not fsynced: a crash keeps a random prefix of it.
      const plan = p.prepare(pending(all.slice(durable), 1));
      for (const c of plan.chunks) if (!c.isNew) await c.segment.writer!.append(c.buffer);
      fs = fs.crash({ torn: r });
      const flip = r() < 0.5;
      if (flip) {
        const names = (await fs.readdir(DIR)).filter((n) => n.endsWith('.log'));
        const name = names[randInt(r, names.length)]!;
        const len = fs.contents(`${DIR}/${name}`).length;
        if (len > 0) fs.flipBit(`${DIR}/${name}`, randInt(r, len * 8));
      }
      try {
        const q = await Partition.open(fs, DIR, CONFIG);
        const { records, skipped } = await readAll(q);
        const wrong = records.filter((rec) => rec.offset >= all.length || !Buffer.from(rec.value).equals(all[rec.offset]!.value));
        const lost = skipped.filter((s) => s.reason !== 'gap').reduce((n, s) => n + s.toOffset - s.fromOffset, 0);
        const missingDurable = Array.from({ length: durable }, (_, i) => i).filter((o) => !records.some((rec) => rec.offset === o));
        // Without a flip every fsynced record is there; with one, at most the damaged record (and, in the last segment, what follows a damaged tail) is gone.
        const ok = wrong.length === 0 && (flip ? missingDurable.length <= 1 || missingDurable.every((o) => o >= durable - missingDurable.length) : missingDurable.length === 0 && lost === 0);
        // A new append never reuses the offset of a record that was fsynced (a reader may have had it).
        const [next] = await append(q, inputs(5000 + k, 1));
        const reused = next! < durable;
        if (!ok || reused) failures.push({ k, durable, flip, wrong: wrong.length, missingDurable, skipped, next });
        await q.close();
      } catch (err) {
        failures.push({ k, threw: String(err) });
      }
    }
    expect(failures).toEqual([]);
  }, 60_000 * Number(process.env.ROADLOG_FAULT_SCALE ?? 1));
});
