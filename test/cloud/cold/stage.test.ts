import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, describe, expect, it } from 'vitest';
import { Stage } from '../../../cloud/cold/stage.js';
import type { Envelope } from '../../../shared/envelope/index.js';
import { exampleTelemetry } from '../../../shared/schema/index.js';

/** The stage's Parquet files: rows in Kafka offset order, the envelope's source decoded from the stage's dictionary, one file per device-time hour. */
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('Stage.writeFiles', () => {
  it('keeps Kafka offset order and restores each record\'s envelope', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'roadlog-stage-'));
    dirs.push(dir);
    const db = await DuckDBInstance.create(':memory:', { threads: '2' });
    const stage = await Stage.create(db, 't.telemetry.v1', 3);
    const H = Date.parse('2026-01-05T06:00:00Z');
    const N = 50_000;
    const env = (i: number): Envelope | undefined => (i % 7 === 0 ? undefined : { gatewayId: `gw-${i % 3}`, edgeLog: `log-${i % 2}`, edgeLane: i % 5 === 0 ? 'dead' : 'normal', edgePartition: i % 4, edgeOffset: BigInt(i) + 2n ** 40n, schemaVersion: 1, ingestTs: H + i });
    for (let i = 0; i < N; i++) stage.add(exampleTelemetry({ vehicleId: `V-${i % 50}`, seq: i, ts: H + (i % 2) * 3_600_000 + i }), env(i), 1000 + i, H + i, 300, 0);
    const files = await stage.writeFiles((h) => join(dir, `${h}.parquet`));
    expect(files.map((f) => f.rows)).toEqual([N / 2, N / 2]);
    const conn = await db.connect();
    for (const f of files) {
      const rows = (await conn.runAndReadAll(`SELECT seq, kafkaOffset, kafkaPartition, gatewayId, edgeLog, edgeLane, edgePartition, edgeOffset FROM read_parquet('${f.path}')`)).getRowObjectsJS();
      const offsets = rows.map((r) => Number(r.kafkaOffset));
      expect(offsets.every((o, i) => i === 0 || o > offsets[i - 1]!)).toBe(true);
      for (const r of rows) {
        const i = Number(r.seq);
        const e = env(i);
        expect(Number(r.kafkaOffset)).toBe(1000 + i);
        expect(r.kafkaPartition).toBe(3);
        expect([r.gatewayId, r.edgeLog, r.edgeLane, r.edgePartition, r.edgeOffset]).toEqual(e === undefined ? [null, null, null, null, null] : [e.gatewayId, e.edgeLog, e.edgeLane, e.edgePartition, e.edgeOffset]);
      }
    }
    conn.closeSync();
    await stage.drop();
    db.closeSync();
  });
});
