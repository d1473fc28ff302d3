import { cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compactArchive } from '../../../cloud/cold/compact.js';
import { forgetVehicle } from '../../../cloud/cold/forget.js';
import { committedFiles, flushFileName, hourDir, listHours, mkdirDurable, writeState } from '../../../cloud/cold/layout.js';
import { nodeFileOps, type FileOps } from '../../../cloud/cold/maintenance.js';
import { archiveRelation } from '../../../cloud/cold/scan.js';
import { SeqRuns } from '../../../cloud/cold/seqs.js';
import { fleetReport } from '../../../cloud/report/fleet.js';
import { runReport } from '../../../cloud/report/run.js';
import { Stage } from '../../../cloud/cold/stage.js';
import { exampleTelemetry } from '../../../shared/schema/index.js';

/**
 * Compaction and forget stopped after each of their file steps (as kill -9 would stop them),
 * on an archive of flushes written the archiver's way: what a reader counts is every record
 * once at every point (forget: and the vehicle's rows gone once it is run again to the end).
 */
const TOPIC = 't.telemetry.v1';
const H6 = Date.parse('2026-01-05T06:00:00Z');
const dirs: string[] = [];
let db: DuckDBInstance;
let conn: DuckDBConnection;
let pristine: string;
let total = 0;

class Crash extends Error {}

/** nodeFileOps that throws Crash instead of doing step number `at` (0-based); counts the steps. */
function crashing(at: number): FileOps & { steps: number } {
  const ops = { steps: 0 } as FileOps & { steps: number };
  for (const k of Object.keys(nodeFileOps) as (keyof FileOps)[]) {
    (ops as unknown as Record<string, unknown>)[k] = async (...args: unknown[]) => {
      if (ops.steps++ === at) throw new Crash(`crash before ${k} ${String(args[0])}`);
      return (nodeFileOps[k] as (...a: unknown[]) => Promise<void>)(...args);
    };
  }
  return ops;
}

async function counts(archive: string): Promise<Map<string, number>> {
  const rel = archiveRelation(archive, await committedFiles(archive));
  const rows = (await conn.runAndReadAll(`SELECT vehicleId || '/' || seq AS k, count(*) AS n FROM ${rel} GROUP BY ALL`)).getRowObjectsJson();
  return new Map(rows.map((r) => [String(r.k), Number(r.n)]));
}

async function copyOf(src: string): Promise<string> {
  const parent = await mkdtemp(join(tmpdir(), 'roadlog-maint-'));
  const d = join(parent, 'archive');
  dirs.push(parent);
  await cp(src, d, { recursive: true });
  return d;
}

beforeAll(async () => {
  db = await DuckDBInstance.create(':memory:');
  conn = await db.connect();
  const parent = await mkdtemp(join(tmpdir(), 'roadlog-maint-'));
  pristine = join(parent, 'archive');
  await mkdir(pristine);
  dirs.push(parent);
  // 2 partitions × 3 flushes; each flush holds records of 2 device-time hours (late ones in 06).
  for (let p = 0; p < 2; p++) {
    let offset = 0;
    const seqs = new SeqRuns();
    for (let flush = 0; flush < 3; flush++) {
      const stage = await Stage.create(db, TOPIC, p);
      const start = offset;
      for (let i = 0; i < 50; i++) {
        const vehicle = `V${p}-${i % 5}`;
        const seq = flush * 10 + Math.floor(i / 5);
        const ts = (i % 7 === 0 ? H6 : H6 + 3_600_000) + seq * 1000;
        seqs.seen(vehicle, seq, ts);
        stage.add({ ...exampleTelemetry(), vehicleId: vehicle, seq, ts }, undefined, offset++, ts, 200, 0);
      }
      for (const h of stage.hours) await mkdirDurable(pristine, join('telemetry', hourDir(h * 3_600_000)));
      await stage.writeFiles((h) => join(pristine, 'telemetry', hourDir(h), flushFileName(TOPIC, p, start)));
      await stage.drop();
      await writeState(pristine, { v: 1, topic: TOPIC, partition: p, nextOffset: offset, rows: offset, envelope: {}, seqs: seqs.snapshot(), updatedAt: 0 });
      total += 50;
    }
  }
});

afterAll(async () => {
  conn.closeSync();
  db.closeSync();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('cold compact and cold forget, interrupted at every step', () => {
  it('compaction: every record once at each of its steps; the next run finishes; one file per hour folder', async () => {
    const clean = await copyOf(pristine);
    const full = crashing(-1);
    const r = await compactArchive(conn, clean, { ops: full });
    expect(r).toMatchObject({ hours: 2, compacted: 2, filesIn: 12, filesOut: 2, rows: total });
    expect((await committedFiles(clean)).map((f) => f.kind)).toEqual(['compact', 'compact']);
    expect([...(await counts(clean)).values()].every((n) => n === 1)).toBe(true);
    expect((await counts(clean)).size).toBe(total);
    for (let at = 0; at < full.steps; at++) {
      const a = await copyOf(pristine);
      await expect(compactArchive(conn, a, { ops: crashing(at) })).rejects.toBeInstanceOf(Crash);
      const c = await counts(a);
      expect([c.size, [...c.values()].filter((n) => n !== 1)], `stopped at step ${at}`).toEqual([total, []]);
      await compactArchive(conn, a);
      const after = await counts(a);
      expect([after.size, [...after.values()].filter((n) => n !== 1)], `finished after step ${at}`).toEqual([total, []]);
      for (const h of await listHours(a)) expect((await readdir(join(a, h.dir))).filter((n) => !n.endsWith('.parquet')), h.dir).toEqual([]);
      expect((await committedFiles(a)).length).toBe(2);
    }
  });

  it('forget: at each step every other record once, the vehicle partly gone; run again, none of it', async () => {
    const full = crashing(-1);
    const clean = await copyOf(pristine);
    const r = await forgetVehicle(conn, clean, 'V1-3', full);
    expect(r.rows).toBe(30);
    const others = total - 30;
    for (let at = 0; at < full.steps; at++) {
      const a = await copyOf(pristine);
      await expect(forgetVehicle(conn, a, 'V1-3', crashing(at))).rejects.toBeInstanceOf(Crash);
      const c = await counts(a);
      const rest = [...c].filter(([k]) => !k.startsWith('V1-3/'));
      expect([rest.length, rest.filter(([, n]) => n !== 1)], `stopped at step ${at}`).toEqual([others, []]);
      await forgetVehicle(conn, a, 'V1-3');
      const after = await counts(a);
      expect([...after.keys()].filter((k) => k.startsWith('V1-3/'))).toEqual([]);
      expect(after.size).toBe(others);
    }
  });

  it('a report running beside a compaction counts every record once, whenever it reads', async () => {
    const a = await copyOf(pristine);
    const slow = {} as FileOps;
    for (const k of Object.keys(nodeFileOps) as (keyof FileOps)[]) {
      (slow as unknown as Record<string, unknown>)[k] = async (...args: unknown[]) => {
        await new Promise((r) => setTimeout(r, 25));
        return (nodeFileOps[k] as (...x: unknown[]) => Promise<void>)(...args);
      };
    }
    let done = false;
    const compaction = compactArchive(conn, a, { ops: slow }).finally(() => (done = true));
    const seen: { total: number; perVehicle: number[] }[] = [];
    while (!done) {
      const r = await runReport(fleetReport, { archive: a, query: { from: 0, to: Number.MAX_SAFE_INTEGER }, groupBy: 'vehicle', vehicles: new Map(), kafka: async () => undefined });
      seen.push({ total: r.rows.reduce((n, x) => n + Number(x.samples), 0), perVehicle: [...new Set(r.rows.map((x) => Number(x.samples)))] });
    }
    await expect(compaction).resolves.toMatchObject({ compacted: 2 });
    console.log(`report beside compaction: ${seen.length} reports while it ran`);
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(seen.filter((x) => x.total !== total || x.perVehicle.length !== 1 || x.perVehicle[0] !== 30)).toEqual([]);
  });

  it('one maintenance at a time: a live holder\'s lock refuses, a dead one\'s is taken over', async () => {
    const a = await copyOf(pristine);
    await writeFile(join(a, 'telemetry/_state/maintenance.lock'), String(process.ppid));
    await expect(compactArchive(conn, a)).rejects.toMatchObject({ code: 'ROADLOG_ERR_ARCHIVE_BUSY' });
    await writeFile(join(a, 'telemetry/_state/maintenance.lock'), '2147483646');
    await expect(compactArchive(conn, a)).resolves.toMatchObject({ compacted: 2 });
  });
});
