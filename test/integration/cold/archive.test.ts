import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { encodeEnvelopeHeaders } from '../../../shared/envelope/index.js';
import { readStates, listFlushFiles, committedFiles } from '../../../cloud/cold/layout.js';
import { archiveRelation } from '../../../cloud/cold/scan.js';
import { httpBaseOf, runCli, startCli } from '../../support/cli.js';
import { randomName, testKafka, waitFor } from '../../support/kafka.js';
import { fleetRecords, PARTITIONS, produce, type FleetRecord } from '../hot/support.js';

/**
 * The archiver as it runs (the built CLI, `roadlog cold start`, a real Kafka): every record on
 * the telemetry topic in the Parquet archive exactly once, counted with DuckDB, when the topic
 * also holds edge re-sends, device retries and a record no schema accepts, and when the
 * archiver is killed with SIGKILL at random moments and restarted.
 */
const brokers = inject('kafkaBrokers');
const env = { ROADLOG_HOME: inject('roadlogHome'), ROADLOG_KAFKA_BROKERS: brokers, ROADLOG_LOG_LEVEL: 'warn' };
const kafka = testKafka(brokers);
const running: ReturnType<typeof startCli>[] = [];
const dirs: string[] = [];

afterAll(async () => {
  for (const r of running) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function startCold(prefix: string, archive: string, flushEnv: Record<string, string>): Promise<ReturnType<typeof startCli>> {
  const cold = startCli(['cold', 'start', '--archive', archive, '--http-port', '0'], { env: { ...env, ROADLOG_TOPICS_PREFIX: prefix, ...flushEnv } });
  running.push(cold);
  await httpBaseOf(cold, 'the archiver');
  return cold;
}

/** Originals, then copies: edge re-sends (same envelope) right behind them, and device retries (same payload, new edge offsets) at the end. */
function withDuplicates(records: FleetRecord[]): { all: FleetRecord[]; resent: number; retried: number } {
  const all: FleetRecord[] = [];
  let resent = 0;
  records.forEach((r, i) => {
    all.push(r);
    if (i % 97 === 0) {
      all.push(r);
      resent++;
    }
  });
  const retried = records.filter((_, i) => i % 89 === 0);
  let edgeOffset = 10_000_000n;
  for (const r of retried) all.push({ ...r, headers: encodeEnvelopeHeaders({ gatewayId: 'gw-hot', edgeLog: r.headers['roadlog.edge.log']!, edgeLane: 'normal', edgePartition: 0, edgeOffset: edgeOffset++, schemaVersion: 1, ingestTs: Date.now() }) });
  return { all, resent, retried: retried.length };
}

async function endOffsets(topic: string): Promise<Map<number, number>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)]));
  } finally {
    await admin.disconnect();
  }
}

async function caughtUp(archive: string, topic: string): Promise<void> {
  const ends = await endOffsets(topic);
  await waitFor(async () => {
    const states = new Map((await readStates(archive)).map((s) => [s.partition, s.nextOffset]));
    return [...ends].every(([p, end]) => end === 0 || states.get(p) === end) ? true : undefined;
  }, 90_000, 'the archive to hold every offset');
}

async function countArchive(archive: string): Promise<{ rows: number; distinct: number; perKey: Map<string, number>; types: Record<string, string>; partitionsOk: boolean; enveloped: number }> {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  try {
    const rel = archiveRelation(archive, await committedFiles(archive));
    const rows = (await c.runAndReadAll(`SELECT vehicleId, seq, count(*) AS n FROM ${rel} GROUP BY ALL`)).getRowObjectsJson();
    const perKey = new Map(rows.map((r) => [`${String(r.vehicleId)}/${String(r.seq)}`, Number(r.n)]));
    const types = (await c.runAndReadAll(`SELECT typeof(time) AS time, typeof(dtcs) AS dtcs, typeof(speedKph) AS speed, typeof(edgeOffset) AS edgeOffset, typeof(kafkaOffset) AS kafkaOffset FROM ${rel} LIMIT 1`)).getRowObjectsJson()[0] as Record<string, string>;
    const enveloped = Number((await c.runAndReadAll(`SELECT count(*) AS n FROM ${rel} WHERE gatewayId = 'gw-hot' AND edgeLane = 'normal' AND edgePartition IN (0, 1) AND edgeOffset IS NOT NULL AND kafkaTopic LIKE '%.telemetry.v1'`)).getRowObjectsJson()[0]!.n);
    const misplaced = (await c.runAndReadAll(`SELECT count(*) AS n FROM ${rel} WHERE strftime(time, '%Y-%m-%d') <> date::VARCHAR OR hour(time) <> hour::INTEGER`)).getRowObjectsJson()[0]!;
    return { rows: [...perKey.values()].reduce((a, b) => a + b, 0), distinct: perKey.size, perKey, types, partitionsOk: Number(misplaced.n) === 0, enveloped };
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

describe('archiver (built CLI, real Kafka, DuckDB)', () => {
  it('archives each record once with typed columns in its device-time hour; re-sends and retries dropped, an invalid record to the dead letters', async () => {
    const prefix = randomName('cold');
    const archive = join(await mkdtemp(join(tmpdir(), 'roadlog-cold-')), 'archive');
    dirs.push(archive);
    expect((await runCli(['topics', 'apply', '--prefix', prefix], { env })).code).toBe(0);
    const records = fleetRecords(11, 20, 90);
    const { all, resent, retried } = withDuplicates(records);
    await produce(kafka, `${prefix}.telemetry.v1`, all);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: `${prefix}.telemetry.v1`, messages: [{ partition: 0, key: 'junk', value: '{"v":1,"vehicleId":"junk"' }] });
    await producer.disconnect();
    const cold = await startCold(prefix, archive, { ROADLOG_COLD_FLUSH_MAX_AGE_MS: '1000' });
    await caughtUp(archive, `${prefix}.telemetry.v1`);
    const metrics = await fetch(`${/^http (\S+)/m.exec(cold.output.stdout)![1]}/metrics`).then((r) => r.text());
    cold.child.kill('SIGTERM');
    expect((await cold.exited).code).toBe(0);
    const got = await countArchive(archive);
    expect(got.distinct).toBe(records.length);
    expect(got.rows).toBe(records.length);
    expect(got.types).toEqual({ time: 'TIMESTAMP', dtcs: 'VARCHAR[]', speed: 'DOUBLE', edgeOffset: 'UBIGINT', kafkaOffset: 'BIGINT' });
    expect(got.partitionsOk).toBe(true);
    expect(got.enveloped).toBe(records.length);
    // 90 minutes from 06:00: two hour folders, each partition's flushes in both.
    const hours = new Set((await listFlushFiles(archive)).map((f) => `${f.date}/${f.hour}`));
    expect([...hours].sort()).toEqual(['2026-01-05/6', '2026-01-05/7']);
    expect(metrics).toMatch(new RegExp(`roadlog_cold_records_total\\{verdict="edge_duplicate"[^}]*\\} ${resent}\\b`));
    expect(metrics).toMatch(new RegExp(`roadlog_cold_records_total\\{verdict="device_retry"[^}]*\\} ${retried}\\b`));
    expect(metrics).toMatch(/roadlog_cold_records_total\{verdict="invalid"[^}]*\} 1\b/);
    const status = await runCli(['cold', 'status', '--archive', archive, '--format', 'json'], { env: { ...env, ROADLOG_TOPICS_PREFIX: prefix } });
    const summary = JSON.parse(status.stdout) as { partitions: { rows: number }[]; uncommittedFiles: number };
    expect(summary.partitions.reduce((n, p) => n + p.rows, 0)).toBe(records.length);
    expect(summary.uncommittedFiles).toBe(0);
    const dead = await runCli(['tail', `${prefix}.dead-letters.v1`, '--from-beginning', '--limit', '1', '--format', 'json'], { env, timeoutMs: 30_000 });
    expect(dead.stdout).toContain('archive_invalid');

    // Compaction: one file per hour folder, every record still once.
    const compact = await runCli(['cold', 'compact', '--archive', archive], { env });
    expect(compact.code, compact.stderr).toBe(0);
    expect(compact.stdout).toMatch(/^compact: 2 hour folders, 2 compacted: \d+ files/m);
    expect((await committedFiles(archive)).map((f) => f.kind)).toEqual(['compact', 'compact']);
    const compacted = await countArchive(archive);
    expect([compacted.rows, compacted.distinct]).toEqual([records.length, records.length]);
    // Forget: the vehicle's rows gone, everyone else's kept.
    const gone = records[0]!.t.vehicleId;
    const forget = await runCli(['cold', 'forget', gone, '--archive', archive, '--no-influx'], { env });
    expect(forget.code, forget.stderr).toBe(0);
    const theirs = records.filter((r) => r.t.vehicleId === gone).length;
    expect(forget.stdout).toContain(`forget ${gone}: ${theirs.toLocaleString('en-US')} rows removed from 2 of 2 files`);
    expect(forget.stdout).toMatch(/Kafka keeps its raw records until the telemetry topic's retention/);
    const after = await countArchive(archive);
    expect(after.rows).toBe(records.length - theirs);
    expect([...after.perKey.keys()].some((k) => k.startsWith(`${gone}/`))).toBe(false);
  });

  it('kill -9 of the archiver at random moments under load, each time restarted: every record exactly once', async () => {
    const prefix = randomName('cold');
    const archive = join(await mkdtemp(join(tmpdir(), 'roadlog-cold-')), 'archive');
    dirs.push(archive);
    expect((await runCli(['topics', 'apply', '--prefix', prefix], { env })).code).toBe(0);
    const records = fleetRecords(12, 30, 60);
    // A short session: a killed member's partitions go to the restarted one after 6 s, not 30.
    const flushEnv = { ROADLOG_COLD_FLUSH_MAX_AGE_MS: '300', ROADLOG_COLD_FLUSH_MAX_RECORDS: '1500', ROADLOG_COLD_SESSION_TIMEOUT_MS: '6000' };
    const cycles = 5 * Number(process.env.ROADLOG_FAULT_SCALE ?? 1);
    const size = Math.ceil(records.length / cycles);
    let cold = await startCold(prefix, archive, flushEnv);
    for (let i = 0; i < cycles; i++) {
      const producing = produce(kafka, `${prefix}.telemetry.v1`, records.slice(i * size, (i + 1) * size));
      await new Promise((r) => setTimeout(r, 200 + Math.random() * 1_500));
      cold.child.kill('SIGKILL');
      await cold.exited;
      await producing;
      cold = await startCold(prefix, archive, flushEnv);
    }
    await caughtUp(archive, `${prefix}.telemetry.v1`);
    cold.child.kill('SIGTERM');
    await cold.exited;
    const got = await countArchive(archive);
    const cleanups = running.reduce((n, r) => n + (r.output.stderr.match(/flush that never committed/g)?.length ?? 0), 0);
    console.log(`archiver kill -9: ${cycles} kills, ${records.length} records, ${got.rows} rows archived; uncommitted flushes cleaned up on takeover: ${cleanups}`);
    const twice = [...got.perKey].filter(([, n]) => n > 1);
    expect(twice.slice(0, 5)).toEqual([]);
    expect(got.distinct).toBe(records.length);
    expect(got.rows).toBe(records.length);
    expect(PARTITIONS).toBe(12);
  }, 180_000 * Number(process.env.ROADLOG_FAULT_SCALE ?? 1));

  it('scale out and back while records arrive: a second member joins, then the first stops; every record exactly once', async () => {
    const prefix = randomName('cold-scale');
    const archive = join(await mkdtemp(join(tmpdir(), 'roadlog-cold-')), 'archive');
    dirs.push(archive);
    expect((await runCli(['topics', 'apply', '--prefix', prefix], { env })).code).toBe(0);
    const records = fleetRecords(13, 20, 30);
    const flushEnv = { ROADLOG_COLD_FLUSH_MAX_AGE_MS: '300', ROADLOG_COLD_FLUSH_MAX_RECORDS: '1000', ROADLOG_COLD_SESSION_TIMEOUT_MS: '6000' };
    const third = Math.ceil(records.length / 3);
    const a = await startCold(prefix, archive, flushEnv);
    await produce(kafka, `${prefix}.telemetry.v1`, records.slice(0, third));
    // B joins while records arrive: both rebalance, A's flushes in progress commit nothing (generation).
    const producing = produce(kafka, `${prefix}.telemetry.v1`, records.slice(third, 2 * third));
    const b = await startCold(prefix, archive, flushEnv);
    await producing;
    await waitFor(async () => {
      const [sa, sb] = await Promise.all([a, b].map(async (x) => (await (await fetch(`${await httpBaseOf(x, 'archiver')}/status`)).json()) as { partitions: unknown[] }));
      return sa!.partitions.length > 0 && sb!.partitions.length > 0 && sa!.partitions.length + sb!.partitions.length === PARTITIONS ? true : undefined;
    }, 60_000, 'both members to own partitions');
    // A leaves cleanly while the last third arrives: its stop flushes what it holds, B takes the rest over.
    const last = produce(kafka, `${prefix}.telemetry.v1`, records.slice(2 * third));
    a.child.kill('SIGTERM');
    expect((await a.exited).code).toBe(0);
    await last;
    await caughtUp(archive, `${prefix}.telemetry.v1`).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; member A exited ${String(a.child.exitCode)}, B ${String(b.child.exitCode)}: ${b.output.stderr.slice(-2000)}`);
    });
    b.child.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
    const got = await countArchive(archive);
    console.log(`archiver scale out and back: ${records.length} records, ${got.rows} rows archived`);
    expect([...got.perKey].filter(([, n]) => n > 1).slice(0, 5)).toEqual([]);
    expect([got.distinct, got.rows]).toEqual([records.length, records.length]);
  }, 180_000);
});
