import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { openLog, type EdgeLog } from '../../../edge/log/log.js';
import { isRoadlogError } from '../../../shared/errors/index.js';
import { machine, readEverything, simulatedLog, SMALL } from './support/log.js';

const value = (i: number) => `{"seq":${i}}`.padEnd(200, ' ');

/** Appends `n` records, `concurrency` at a time; returns what resolved (sorted) and how many were refused. */
async function fill(log: EdgeLog, n: number, critical = (_i: number) => false, concurrency = 1) {
  const ok: number[] = [];
  let full = 0;
  for (let i = 0; i < n; i += concurrency) {
    const batch = Array.from({ length: Math.min(concurrency, n - i) }, (_, k) => i + k);
    const settled = await Promise.allSettled(batch.map((j) => log.append({ key: `veh-${j % 5}`, value: value(j), critical: critical(j) })));
    settled.forEach((s, k) => {
      if (s.status === 'fulfilled') ok.push(batch[k]!);
      else if (isRoadlogError(s.reason, 'ROADLOG_ERR_LOG_FULL')) full++;
      else throw s.reason;
    });
  }
  return { ok: ok.sort((a, b) => a - b), full };
}

const seqs = (records: { value: Uint8Array }[]) => records.map((r) => JSON.parse(Buffer.from(r.value).toString()).seq as number).sort((a, b) => a - b);

describe('full disk (injected ENOSPC on a small simulated disk)', () => {
  it('reject: appends fail with LOG_FULL, nothing half-written is visible, and it resumes when space frees', async () => {
    const fs = await machine();
    const { log } = await simulatedLog(SMALL, { fileLayer: fs });
    fs.capacityBytes = fs.usedBytes() + 20_000;
    const first = await fill(log, 200);
    expect(first.full).toBeGreaterThan(0);
    expect(first.ok.length).toBeGreaterThan(50);
    expect(seqs(await readEverything(log))).toEqual(first.ok);
    fs.capacityBytes = undefined; // space freed elsewhere
    await log.append({ key: 'veh-0', value: value(1000) });
    await log.close();
    const again = await simulatedLog(SMALL, { fileLayer: fs.crash() });
    expect(seqs(await readEverything(again.log))).toEqual([...first.ok, 1000]);
    await again.log.close();
  });

  it('drop-oldest: evicts the oldest normal segments, keeps critical ones, counts and logs the drops', async () => {
    const fs = await machine();
    const registry = new Registry();
    const warnings: string[] = [];
    const logger = { info() {}, error() {}, warn: (_o: object, msg?: string) => void warnings.push(msg ?? '') };
    const { log } = await simulatedLog({ ...SMALL, fullDisk: { policy: 'drop-oldest' } }, { fileLayer: fs, metrics: registry, logger });
    fs.capacityBytes = fs.usedBytes() + 30_000;
    const r = await fill(log, 600, (i) => i % 50 === 0);
    expect(r.full).toBe(0);
    const records = await readEverything(log);
    const kept = seqs(records);
    expect(kept.length).toBeLessThan(600);
    expect(kept).toContain(599);
    for (let i = 0; i < 600; i += 50) expect(kept).toContain(i); // every critical record survived
    const text = await registry.metrics();
    const dropped = Number(/roadlog_edge_log_dropped_records_total\{lane="normal",reason="full-disk"\} (\d+)/.exec(text)?.[1]);
    expect(dropped).toBe(600 - kept.length);
    expect(warnings.some((w) => /dropped \d+ unforwarded records/.test(w))).toBe(true);
    await log.close();
  });

  it('quotaBytes: reject refuses, drop-oldest makes room', async () => {
    for (const policy of ['reject', 'drop-oldest'] as const) {
      const { log } = await simulatedLog({ ...SMALL, quotaBytes: 20_000, fullDisk: { policy } });
      const r = await fill(log, 300);
      expect(log.sizeBytes).toBeLessThanOrEqual(20_000);
      if (policy === 'reject') expect(r.full).toBeGreaterThan(0);
      else expect(r.full).toBe(0);
      await log.close();
    }
  });

  it('quotaBytes reject: once a record is refused, a later smaller one of the same vehicle is refused too (no overtaking)', async () => {
    const { log } = await simulatedLog({ ...SMALL, partitions: 1, quotaBytes: 8_000 });
    const outcome: string[] = [];
    for (let i = 0; i < 60; i++) {
      const size = i % 2 === 0 ? 400 : 60; // big, small, big, small...
      try {
        await log.append({ key: 'veh-1', value: `${i}:${'z'.repeat(size)}` });
        outcome.push('ok');
      } catch (err) {
        expect(err).toMatchObject({ code: 'ROADLOG_ERR_LOG_FULL' });
        outcome.push('full');
      }
    }
    const first = outcome.indexOf('full');
    expect(first).toBeGreaterThan(0);
    expect(outcome.slice(first).every((o) => o === 'full')).toBe(true);
    await log.close();
  });

  it('an EIO on fdatasync fails that batch only, leaves nothing visible, and the log goes on', async () => {
    const { fs, log } = await simulatedLog();
    await log.append({ key: 'a', value: 'one' });
    fs.inject = (op) => (op === 'datasync' ? 'EIO' : undefined);
    await expect(log.append({ key: 'a', value: 'two' })).rejects.toMatchObject({ code: 'ROADLOG_ERR_LOG_IO' });
    fs.inject = undefined;
    await log.append({ key: 'a', value: 'three' });
    expect((await readEverything(log)).map((r) => Buffer.from(r.value).toString())).toEqual(['one', 'three']);
    await log.close();
  });
});

// A real small filesystem: tmpfs of 4 MiB, when this machine lets us mount one (root); the
// injected-ENOSPC tests above cover the same paths where it does not.
const mountPoint = await (async () => {
  if (process.getuid?.() !== 0) return undefined;
  const dir = await mkdtemp(join(tmpdir(), 'roadlog-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir], { stdio: 'ignore' });
    return dir;
  } catch {
    await rm(dir, { recursive: true, force: true });
    return undefined;
  }
})();

afterAll(async () => {
  if (mountPoint === undefined) return;
  execFileSync('umount', ['-l', mountPoint], { stdio: 'ignore' }); // lazy: never leave a mount behind, even if a failed test left files open
  await rm(mountPoint, { recursive: true, force: true });
});

describe.skipIf(mountPoint === undefined)('full disk on a real 4 MiB tmpfs', () => {
  const options = { partitions: 2, segmentBytes: 256 * 1024, allowSmallSegments: true, maxBatchDelayMs: 1 };

  it('reject: refuses when full, keeps every acknowledged record, resumes when a file is deleted', async () => {
    const dir = join(mountPoint!, 'reject');
    const filler = join(mountPoint!, 'filler');
    await writeFile(filler, Buffer.alloc(1024 * 1024));
    const log = await openLog(dir, options);
    const r = await fill(log, 20_000, undefined, 200);
    expect(r.full).toBeGreaterThan(0);
    expect(seqs(await readEverything(log))).toEqual(r.ok);
    await unlink(filler);
    await log.append({ key: 'veh-1', value: value(99_999) });
    await log.close();
    const again = await openLog(dir, options);
    expect(seqs(await readEverything(again))).toEqual([...r.ok, 99_999]);
    await again.close();
    await rm(dir, { recursive: true });
  });

  it('drop-oldest: keeps appending on a full disk by dropping the oldest records', async () => {
    const dir = join(mountPoint!, 'drop');
    const log = await openLog(dir, { ...options, fullDisk: { policy: 'drop-oldest' } });
    const r = await fill(log, 25_000, (i) => i % 1000 === 0, 200);
    expect(r.full).toBe(0);
    const kept = seqs(await readEverything(log));
    expect(kept.length).toBeLessThan(25_000);
    expect(kept.at(-1)).toBe(24_999);
    for (let i = 0; i < 25_000; i += 1000) expect(kept).toContain(i);
    await log.close();
    await rm(dir, { recursive: true });
  });
});
