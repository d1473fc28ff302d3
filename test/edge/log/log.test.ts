import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { partitionForKey } from '../../../shared/partitioner/index.js';
import { openLog } from '../../../edge/log/log.js';
import { DEFAULT_PARTITIONS } from '../../../edge/log/options.js';
import { writeFileAtomic } from '../../../shared/atomic-file/index.js';
import { machine, readEverything, simulatedLog, SMALL } from './support/log.js';

const temp: string[] = [];
afterAll(async () => {
  for (const d of temp) await rm(d, { recursive: true, force: true });
});

describe('EdgeLog', () => {
  it('puts a vehicle in partition hash(key) mod P and keeps its records in order', async () => {
    const { log } = await simulatedLog();
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => log.append({ key: `veh-${i % 4}`, value: `{"seq":${i}}` })));
    for (const [i, r] of results.entries()) {
      expect(r.lane).toBe('normal');
      expect(r.partition).toBe(partitionForKey(`veh-${i % 4}`, 2));
    }
    const records = await readEverything(log);
    expect(records.length).toBe(40);
    for (let v = 0; v < 4; v++) {
      const seqs = records.filter((r) => r.key === `veh-${v}`).map((r) => JSON.parse(Buffer.from(r.value).toString()).seq as number);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(seqs.length).toBe(10);
    }
    await log.close();
  });

  it('serves the critical lane first, and keeps the dead-letter lane apart', async () => {
    const { log } = await simulatedLog();
    await log.append({ key: 'a', value: 'n1' });
    await log.append({ key: 'a', value: 'c1', critical: true });
    await log.append({ key: 'a', value: 'd1', lane: 'dead', headers: [{ name: 'reason', value: Buffer.from('not JSON') }] });
    await log.append({ key: 'a', value: 'n2' });
    const reader = await log.openReader('fwd');
    const batch = await reader.read({ maxRecords: 1 });
    expect(batch.records.map((r) => [r.lane, Buffer.from(r.value).toString(), r.critical])).toEqual([['critical', 'c1', true]]);
    const rest = await reader.read();
    expect(rest.records.map((r) => `${r.lane}:${Buffer.from(r.value).toString()}`)).toEqual(['normal:n1', 'normal:n2', 'dead:d1']);
    expect(Buffer.from(rest.records[2]!.headers[0]!.value).toString()).toBe('not JSON');
    await log.close();
  });

  it('resolves an append only after its bytes are fdatasynced, one fdatasync per dirty segment per batch', async () => {
    const { fs, log } = await simulatedLog({ ...SMALL, maxBatchDelayMs: 20 });
    const syncsBefore = fs.calls.datasync;
    const all = await Promise.all(Array.from({ length: 50 }, (_, i) => log.append({ key: 'same-vehicle', value: `v${i}` })));
    expect(all.map((r) => r.offset)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(fs.calls.datasync - syncsBefore).toBeLessThanOrEqual(2);
    // A crash right now keeps every resolved append.
    const after = await simulatedLog(SMALL, { fileLayer: fs.crash() });
    expect((await readEverything(after.log)).map((r) => Buffer.from(r.value).toString())).toEqual(all.map((_, i) => `v${i}`));
    await after.log.close();
  });

  it('commits cursor positions durably and resumes a reader there after reopen', async () => {
    const { fs, log } = await simulatedLog();
    for (let i = 0; i < 10; i++) await log.append({ key: `k${i}`, value: `v${i}` });
    const r = await log.openReader('fwd');
    const first = await r.read({ maxRecords: 4 });
    await r.commit();
    const after = await simulatedLog(SMALL, { fileLayer: fs.crash() });
    expect(after.log.cursors().get('fwd')).toEqual(r.committed());
    const again = await after.log.openReader('fwd');
    const rest = (await again.read({ maxRecords: 100 })).records;
    expect(rest.length).toBe(6);
    expect(new Set([...first.records, ...rest].map((x) => Buffer.from(x.value).toString())).size).toBe(10);
    await after.log.close();
  });

  it('is locked against a second open while alive, refuses a different partition count, and closes idempotently', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'roadlog-log-'));
    temp.push(dir);
    const log = await openLog(dir, SMALL);
    await log.append({ key: 'x', value: 'y' });
    await expect(openLog(dir, SMALL)).rejects.toMatchObject({ code: 'ROADLOG_ERR_LOG_LOCKED' });
    await Promise.all([log.close(), log.close()]);
    await expect(log.append({ key: 'x', value: 'z' })).rejects.toMatchObject({ code: 'ROADLOG_ERR_LOG_CLOSED' });
    await expect(openLog(dir, { ...SMALL, partitions: 3 })).rejects.toMatchObject({ code: 'ROADLOG_ERR_LOG_FORMAT' });
    expect((await readdir(dir)).sort()).toEqual(['critical', 'cursors', 'dead', 'meta.json', 'normal']);
    expect(await readdir(join(dir, 'normal', '001'))).toContain('00000000000000000000.log');
    const reopened = await openLog(dir, SMALL);
    expect((await readEverything(reopened)).length).toBe(1);
    await reopened.close();
  });

  it('gives a new log DEFAULT_PARTITIONS when the count is unset, and keeps an existing log at its own count', async () => {
    const { partitions: _unset, ...unset } = SMALL;
    const fresh = await simulatedLog(unset);
    expect(fresh.log.partitionCount).toBe(DEFAULT_PARTITIONS);
    await fresh.log.close();

    // A log made with 8 partitions (the default before) opens with the count unset, and its records stay where they are.
    const { fs, log } = await simulatedLog({ ...SMALL, partitions: 8 });
    for (let i = 0; i < 40; i++) await log.append({ key: `v${i}`, value: `r${i}` });
    await log.close();
    const adopted = await simulatedLog(unset, { fileLayer: fs });
    expect(adopted.log.partitionCount).toBe(8);
    const r = await adopted.log.append({ key: 'v7', value: 'again' });
    expect(r.partition).toBe(partitionForKey('v7', 8));
    expect((await readEverything(adopted.log)).length).toBe(41);
    await adopted.log.close();
    // Set explicitly to another count: refused, naming both counts.
    await expect(simulatedLog({ ...SMALL, partitions: DEFAULT_PARTITIONS }, { fileLayer: fs })).rejects.toThrow(new RegExp(`has 8 partitions but edge\\.log\\.partitions is ${DEFAULT_PARTITIONS}`));
  });

  it('refuses a meta.json whose partition count is not a whole number from 1 to 1024', async () => {
    const { fs, log } = await simulatedLog();
    await log.close();
    for (const bad of [0, 1.5, '4', 2000]) {
      await writeFileAtomic('/data/log/meta.json', JSON.stringify({ format: 1, partitions: bad, lanes: ['critical', 'normal', 'dead'] }), { fs });
      const { partitions: _unset, ...unset } = SMALL;
      await expect(simulatedLog(unset, { fileLayer: fs })).rejects.toMatchObject({ code: 'ROADLOG_ERR_LOG_FORMAT' });
    }
  });

  it('rejects a bad option naming the field', async () => {
    await expect(openLog('/nowhere', { segmentBytes: 1000 })).rejects.toThrow(/edge\.log\.segmentBytes: expected a number ≥ 1024/);
    await expect(openLog('/nowhere', { segmentBytes: 8192 })).rejects.toThrow(/edge\.log\.segmentBytes: expected a number ≥ 1 MiB/);
    await expect(openLog('/nowhere', { partitons: 3 } as never)).rejects.toMatchObject({ code: 'ROADLOG_ERR_CONFIG_INVALID' });
  });

  it('applies backpressure: pendingBytes grows with queued appends and waitForRoom resolves when they are written', async () => {
    const { log } = await simulatedLog({ ...SMALL, maxBatchDelayMs: 5, maxPendingBytes: 2000 });
    const appends = Array.from({ length: 30 }, (_, i) => log.append({ key: 'k', value: 'x'.repeat(100 + i) }));
    expect(log.pendingBytes).toBeGreaterThan(0);
    expect(log.pendingBytes).toBeLessThanOrEqual(2000);
    await log.waitForRoom(100);
    await Promise.all(appends);
    expect(log.pendingBytes).toBe(0);
    await log.close();
  });

  it('close() writes what is queued and settles appends that were waiting for room (never leaves one hanging)', async () => {
    const { log } = await simulatedLog({ ...SMALL, maxBatchDelayMs: 5, maxPendingBytes: 500 });
    const appends = Array.from({ length: 20 }, (_, i) => log.append({ key: 'k', value: 'x'.repeat(100 + i) }));
    await log.close();
    const settled = await Promise.allSettled(appends);
    const ok = settled.filter((s) => s.status === 'fulfilled').length;
    expect(ok).toBeGreaterThan(0);
    for (const s of settled) if (s.status === 'rejected') expect(s.reason).toMatchObject({ code: 'ROADLOG_ERR_LOG_CLOSED' });
  });

  it('a stalled fsync in one partition does not hold appends to another', async () => {
    const { fs, log } = await simulatedLog();
    const [k0, k1] = ['veh-a', 'veh-b', 'veh-c', 'veh-d'].reduce<[string, string]>((acc, k) => (partitionForKey(k, 2) === 0 ? [acc[0] || k, acc[1]] : [acc[0], acc[1] || k]), ['', '']);
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    fs.stall = (op, path) => (op === 'datasync' && path.includes('/normal/000/') ? gate : undefined);
    let slowDone = false;
    const slow = log.append({ key: k0, value: 'slow' }).then((r) => ((slowDone = true), r));
    const fast = await Promise.race([log.append({ key: k1, value: 'fast' }), new Promise<never>((_, reject) => setTimeout(() => reject(new Error('held behind the stalled partition')), 2000))]);
    expect(fast.partition).toBe(1);
    expect(slowDone).toBe(false);
    release();
    expect((await slow).partition).toBe(0);
    fs.stall = undefined;
    await log.close();
  });

  it('after its last record was damaged, a reopened log never gives the cut offset to a new record a cursor would skip', async () => {
    const { fs, log } = await simulatedLog({ ...SMALL, partitions: 1 });
    for (let i = 0; i < 10; i++) await log.append({ key: 'veh-1', value: `v${i}` });
    const fwd = await log.openReader('fwd');
    expect((await fwd.read({ maxRecords: 100 })).records.length).toBe(10);
    await fwd.commit(); // forwarded through offset 9
    await log.close();
    const seg = '/data/log/normal/000/00000000000000000000.log';
    fs.flipBit(seg, (fs.contents(seg).length - 3) * 8); // inside the last record: it looks like a torn tail
    const after = await simulatedLog({ ...SMALL, partitions: 1 }, { fileLayer: fs });
    const { offset } = await after.log.append({ key: 'veh-1', value: 'new' });
    expect(offset).toBeGreaterThanOrEqual(10);
    const again = await after.log.openReader('fwd');
    const got = (await again.read({ maxRecords: 100 })).records.map((r) => Buffer.from(r.value).toString());
    expect(got).toEqual(['new']);
    await after.log.close();
  });

  it('retention deleting one partition\'s segments does not wait for another partition\'s stalled fsync', async () => {
    const { fs, log } = await simulatedLog({ ...SMALL, retention: { maxBytes: 1 } });
    const [k0, k1] = ['veh-a', 'veh-b', 'veh-c', 'veh-d'].reduce<[string, string]>((acc, k) => (partitionForKey(k, 2) === 0 ? [acc[0] || k, acc[1]] : [acc[0], acc[1] || k]), ['', '']);
    for (let i = 0; i < 40; i++) await log.append({ key: k1, value: 'x'.repeat(300) });
    const fwd = await log.openReader('fwd');
    while ((await fwd.read({ maxRecords: 1000 })).records.length > 0);
    await fwd.commit();
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    fs.stall = (op, path) => (op === 'datasync' && path.includes('/normal/000/') ? gate : undefined);
    const slow = log.append({ key: k0, value: 'slow' });
    await new Promise((r) => setTimeout(r, 10));
    const ran = await Promise.race([log.runRetention(), new Promise<'held'>((r) => setTimeout(() => r('held'), 2000))]);
    expect(ran).not.toBe('held');
    expect(ran).toMatchObject({ deletedSegments: expect.any(Number) });
    expect((ran as { deletedSegments: number }).deletedSegments).toBeGreaterThan(0);
    release();
    await slow;
    fs.stall = undefined;
    await log.close();
  });

  it('counts a damaged record once in the metric, however often readers pass it', async () => {
    const registry = new Registry();
    const { fs, log } = await simulatedLog({ ...SMALL, partitions: 1 }, { metrics: registry });
    for (let i = 0; i < 60; i++) await log.append({ key: 'veh-1', value: `value-${i}-${'y'.repeat(100)}` });
    await log.close();
    const seg = '/data/log/normal/000/00000000000000000000.log';
    fs.flipBit(seg, 200 * 8);
    const registry2 = new Registry();
    const after = await simulatedLog({ ...SMALL, partitions: 1 }, { fileLayer: fs, metrics: registry2 });
    for (const name of ['a', 'b', 'c']) await readEverything(after.log, name);
    const text = await registry2.metrics();
    expect(Number(/roadlog_edge_log_corrupt_records_total\{lane="normal"\} (\d+)/.exec(text)?.[1])).toBe(1);
    await after.log.close();
  });

  it('retention planned before a flush appended to the segment does not delete the new, unread records', async () => {
    const { fs, log } = await simulatedLog({ ...SMALL, partitions: 1, retention: { maxBytes: 1 } });
    for (let i = 0; i < 5; i++) await log.append({ key: 'veh-1', value: `old-${i}` });
    const fwd = await log.openReader('fwd');
    expect((await fwd.read()).records.length).toBe(5);
    await fwd.commit();
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    let stalled = false;
    fs.stall = (op, path) => (op === 'datasync' && path.endsWith('.log') && !stalled ? ((stalled = true), gate) : undefined);
    const append = log.append({ key: 'veh-1', value: 'new' });
    while (!stalled) await new Promise((r) => setImmediate(r));
    const retention = log.runRetention(); // plans now: the segment holds 5 records, all read
    await new Promise((r) => setTimeout(r, 5));
    release();
    expect((await append).offset).toBe(5);
    await retention;
    fs.stall = undefined;
    const after = await log.openReader('fwd');
    const batch = await after.read();
    expect(batch.skipped).toEqual([]);
    expect(batch.records.map((r) => Buffer.from(r.value).toString())).toEqual(['new']);
    await log.close();
  });

  it('close() waits for a retention run, and no file is touched after it resolved', async () => {
    const { fs, log } = await simulatedLog({ ...SMALL, partitions: 1, retention: { maxBytes: 1 } });
    for (let i = 0; i < 60; i++) await log.append({ key: 'veh-1', value: `v-${i}-${'x'.repeat(200)}` });
    const fwd = await log.openReader('fwd');
    while ((await fwd.read({ maxRecords: 1000 })).records.length > 0);
    await fwd.commit();
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    let stalled = false;
    fs.stall = (op, path) => (op === 'fsyncDir' && path.endsWith('/normal/000') && !stalled ? ((stalled = true), gate) : undefined);
    let retentionDone = false;
    const retention = log.runRetention().finally(() => (retentionDone = true));
    while (!stalled) await new Promise((r) => setImmediate(r));
    const closed = log.close().then(() => retentionDone);
    await new Promise((r) => setTimeout(r, 5));
    release();
    expect(await closed).toBe(true);
    await retention;
    fs.stall = undefined;
    const unlinks = fs.calls.unlink;
    await new Promise((r) => setTimeout(r, 20));
    expect(fs.calls.unlink).toBe(unlinks);
    const again = await simulatedLog({ ...SMALL, partitions: 1 }, { fileLayer: fs });
    const { offset } = await again.log.append({ key: 'veh-1', value: 'after' });
    expect(offset).toBe(60);
    await again.log.close();
  });

  it('an empty segment left at the head by a cut tail does not block retention or drop-oldest', async () => {
    const fs = await machine();
    const first = await openLog('/data/log', { ...SMALL, partitions: 1 }, { fileLayer: fs, isProcessAlive: () => false });
    await first.close();
    const seg0 = '/data/log/normal/000/00000000000000000000.log';
    const f = await fs.open(seg0, 'append');
    await f.append(Buffer.from('nineteen torn bytes'));
    await f.datasync();
    await f.close();
    const { log } = await simulatedLog({ ...SMALL, partitions: 1, retention: { maxBytes: 1 } }, { fileLayer: fs.crash() });
    for (let i = 0; i < 100; i++) await log.append({ key: 'veh-1', value: `v-${i}-${'x'.repeat(100)}` });
    const fwd = await log.openReader('fwd');
    while ((await fwd.read({ maxRecords: 1000 })).records.length > 0);
    await fwd.commit();
    expect((await log.runRetention()).deletedSegments).toBeGreaterThan(0);
    await log.close();
  });

  it('shares a read batch fairly among the partitions with records waiting', async () => {
    const { log } = await simulatedLog({ ...SMALL, partitions: 4 });
    const keyOf = new Map<number, string>();
    for (let i = 0; keyOf.size < 4; i++) if (!keyOf.has(partitionForKey(`veh-${i}`, 4))) keyOf.set(partitionForKey(`veh-${i}`, 4), `veh-${i}`);
    for (let i = 0; i < 400; i++) await log.append({ key: keyOf.get(0)!, value: `big-${i}` }); // one partition with a large backlog
    for (const p of [1, 2, 3]) for (let i = 0; i < 10; i++) await log.append({ key: keyOf.get(p)!, value: `small-${i}` });
    const reader = await log.openReader('fair');
    for (let round = 0; round < 4; round++) {
      const batch = await reader.read({ maxRecords: 40 });
      const per = [0, 1, 2, 3].map((p) => batch.records.filter((r) => r.partition === p).length);
      expect(per, `round ${round}`).toEqual(round === 0 ? [10, 10, 10, 10] : [40, 0, 0, 0]);
    }
    await log.close();
  });

  it('counts appends in its metrics', async () => {
    const registry = new Registry();
    const { log } = await simulatedLog(SMALL, { metrics: registry });
    await log.append({ key: 'k', value: 'v', critical: true });
    const text = await registry.metrics();
    expect(text).toMatch(/roadlog_edge_log_appends_total\{lane="critical"\} 1/);
    expect(text).toMatch(/roadlog_edge_log_flush_seconds_count 1/);
    await log.close();
  });
});
