import { describe, expect, it } from 'vitest';
import { consumed, pickDropVictim, planRetention, type SegmentInfo } from '../../../edge/log/retention.js';
import { readEverything, simulatedLog, SMALL } from './support/log.js';

const seg = (lane: SegmentInfo['lane'], partition: number, base: number, nextOffset: number, maxTs: number, bytes = 100): SegmentInfo => ({ lane, partition, base, nextOffset, bytes, maxTs });

describe('retention planning', () => {
  const p0 = [seg('normal', 0, 0, 10, 1000), seg('normal', 0, 10, 20, 2000), seg('normal', 0, 20, 25, 3000)];
  const p1 = [seg('normal', 1, 0, 5, 1500), seg('normal', 1, 5, 9, 2500)];

  it('deletes nothing without cursors, and only what every cursor has passed', () => {
    expect(planRetention([p0, p1], [], { maxBytes: 0 }, 0)).toEqual([]);
    expect(consumed(p0[0]!, [{ 'normal/0': 10 }, { 'normal/0': 9 }])).toBe(false);
    const plan = planRetention([p0, p1], [{ 'normal/0': 20, 'normal/1': 5 }, { 'normal/0': 25, 'normal/1': 9 }], { maxBytes: 0 }, 0);
    expect(plan.map((s) => `${s.partition}@${s.base}`)).toEqual(['0@0', '1@0', '0@10']);
  });

  it('deletes the oldest first until the log fits maxBytes', () => {
    const all = [{ 'normal/0': 25, 'normal/1': 9 }];
    expect(planRetention([p0, p1], all, { maxBytes: 300 }, 0).map((s) => `${s.partition}@${s.base}`)).toEqual(['0@0', '1@0']);
    expect(planRetention([p0, p1], all, { maxBytes: 500 }, 0)).toEqual([]);
  });

  it('deletes by age, oldest segments of each partition only', () => {
    const plan = planRetention([p0, p1], [{ 'normal/0': 25, 'normal/1': 9 }], { maxAgeMs: 1000 }, 3100);
    expect(plan.map((s) => `${s.partition}@${s.base}`)).toEqual(['0@0', '0@10', '1@0']);
  });

  it('drop-oldest evicts dead letters, then normal, then critical, oldest first', () => {
    const crit = [seg('critical', 0, 0, 3, 10)];
    const norm = [seg('normal', 1, 0, 3, 50)];
    const norm2 = [seg('normal', 0, 7, 9, 40)];
    const dead = [seg('dead', 0, 0, 1, 99)];
    expect(pickDropVictim([crit, norm, dead, norm2])?.lane).toBe('dead');
    expect(pickDropVictim([crit, norm, norm2])).toMatchObject({ lane: 'normal', partition: 0 });
    expect(pickDropVictim([crit, [seg('normal', 0, 5, 5, 0)]])?.lane).toBe('critical');
    expect(pickDropVictim([[seg('normal', 0, 5, 5, 0)]])).toBeUndefined();
  });
});

describe('EdgeLog retention', () => {
  it('frees segments every cursor has read, keeps unread ones, and readers skip nothing', async () => {
    const { log } = await simulatedLog({ ...SMALL, partitions: 1, retention: { maxBytes: 5000 } });
    for (let i = 0; i < 100; i++) await log.append({ key: 'k', value: `${i}`.padEnd(100, '.') });
    const before = log.sizeBytes;
    expect(before).toBeGreaterThan(10_000);
    expect((await log.runRetention()).deletedSegments).toBe(0); // no cursor: nothing forwarded yet
    const r = await log.openReader('fwd');
    await r.read({ maxRecords: 50 });
    await r.commit();
    const res = await log.runRetention();
    expect(res.deletedSegments).toBeGreaterThan(0);
    const st = log.stats().find((s) => s.lane === 'normal')!;
    expect(st.startOffset).toBeLessThanOrEqual(50);
    const rest = await r.read({ maxRecords: 1000 });
    expect(rest.records.map((x) => x.offset)).toEqual(Array.from({ length: 50 }, (_, i) => 50 + i));
    expect(rest.skipped).toEqual([]);
    await r.commit();
    await log.runRetention();
    expect(log.sizeBytes).toBeLessThanOrEqual(5000);
    expect(await readEverything(log, 'late')).toEqual(expect.any(Array));
    await log.close();
  });

  it('deletes by age once read', async () => {
    let now = 1_000_000;
    const { log } = await simulatedLog({ ...SMALL, partitions: 1, retention: { maxAgeHours: 1 } }, { now: () => now });
    for (let i = 0; i < 60; i++) await log.append({ key: 'k', value: 'x'.repeat(100) });
    const r = await log.openReader('fwd');
    await r.read({ maxRecords: 1000 });
    await r.commit();
    expect((await log.runRetention()).deletedSegments).toBe(0);
    now += 2 * 3_600_000;
    expect((await log.runRetention()).deletedSegments).toBeGreaterThan(1);
    expect(log.stats().find((s) => s.lane === 'normal')!.startOffset).toBe(60);
    expect((await log.append({ key: 'k', value: 'next' })).offset).toBe(60);
    await log.close();
  });
});
