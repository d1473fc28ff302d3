import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { readStates } from '../../../cloud/cold/layout.js';
import { HARSH_BRAKING_MPS2, IDLE_MAX_GAP_S, type FleetRow } from '../../../cloud/report/fleet.js';
import { alertIdOf, type AlertEvent } from '../../../shared/alerts/index.js';
import { encodeEnvelopeHeaders } from '../../../shared/envelope/index.js';
import { partitionForKey } from '../../../shared/partitioner/index.js';
import type { Telemetry } from '../../../shared/schema/index.js';
import { SimVehicle, type VehicleTruth } from '../../../simulators/model.js';
import { Rng } from '../../../simulators/rng.js';
import { runCli, startCli } from '../../support/cli.js';
import { randomName, testKafka, waitFor } from '../../support/kafka.js';
import { PARTITIONS, produce, type FleetRecord } from '../hot/support.js';

/**
 * `roadlog report fleet` over an archive the built archiver wrote from a simulated fleet, against
 * the simulator's truth: L/100 km within 2 % per vehicle and the same ranking; idle seconds and
 * harsh braking events equal to what the telemetry itself shows (computed here, record by record).
 * Then the other reports over the same archive and topics: fuel, idle and harsh agree with it;
 * health counts the alert events on the alerts topic; quality finds the dead letters and the
 * edge re-sends planted among the records; html is one file with a chart per figure.
 */
const brokers = inject('kafkaBrokers');
const env = { ROADLOG_HOME: inject('roadlogHome'), ROADLOG_KAFKA_BROKERS: brokers, ROADLOG_LOG_LEVEL: 'warn' };
const kafka = testKafka(brokers);
const dirs: string[] = [];
const VEHICLES = Number(process.env.ROADLOG_REPORT_VEHICLES ?? 24);
const MINUTES = Number(process.env.ROADLOG_REPORT_MINUTES ?? 60);
const START = Date.parse('2026-01-05T06:00:00Z');

afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function drive(seed: number): { records: FleetRecord[]; truth: VehicleTruth[] } {
  const root = new Rng(seed);
  const durationMs = MINUTES * 60_000;
  const sims = Array.from({ length: VEHICLES }, (_, i) => new SimVehicle({ index: i, vehicleId: `RV-${String(i).padStart(4, '0')}`, seed: root.fork(i).seed, startTs: START, durationMs, intervalMs: 1000 }));
  const edgeLog = randomBytes(8).toString('hex');
  let edgeOffset = 0n;
  const records: FleetRecord[] = [];
  for (let ts = START + 1000; ts <= START + durationMs; ts += 1000) {
    for (const v of sims) {
      const t = v.step();
      if (t === undefined) continue;
      const headers = encodeEnvelopeHeaders({ gatewayId: 'gw-report', edgeLog, edgeLane: 'normal', edgePartition: 0, edgeOffset: edgeOffset++, schemaVersion: 1, ingestTs: Date.now() });
      records.push({ partition: partitionForKey(t.vehicleId, PARTITIONS), key: t.vehicleId, value: JSON.stringify(t), headers, t });
    }
  }
  return { records, truth: sims.map((v) => v.truth()) };
}

/** Idle seconds and harsh braking events as the telemetry shows them, by the report's own definitions. */
function fromTelemetry(records: readonly FleetRecord[]): Map<string, { idle: number; harsh: number }> {
  const by = new Map<string, Telemetry[]>();
  for (const r of records) {
    const list = by.get(r.t.vehicleId);
    if (list === undefined) by.set(r.t.vehicleId, [r.t]);
    else list.push(r.t);
  }
  const out = new Map<string, { idle: number; harsh: number }>();
  for (const [id, ts] of by) {
    let idle = 0;
    let harsh = 0;
    ts.forEach((t, i) => {
      const prev = ts[i - 1];
      const dt = prev === undefined ? Infinity : (t.ts - prev.ts) / 1000;
      if (t.engineRpm > 0 && t.speedKph < 1 && dt <= IDLE_MAX_GAP_S) idle += dt;
      if (t.longAccelMps2 <= HARSH_BRAKING_MPS2 && !(prev !== undefined && prev.longAccelMps2 <= HARSH_BRAKING_MPS2)) harsh++;
    });
    out.set(id, { idle: Math.round(idle * 10) / 10, harsh });
  }
  return out;
}

describe('roadlog report fleet (built CLI, archive from a real Kafka)', () => {
  it(`${VEHICLES} vehicles × ${MINUTES} min: L/100 km within 2 % of the truth and the same ranking; idle and harsh braking as the telemetry shows`, async () => {
    const prefix = randomName('report');
    const archive = join(await mkdtemp(join(tmpdir(), 'roadlog-report-')), 'archive');
    dirs.push(archive);
    expect((await runCli(['topics', 'apply', '--prefix', prefix], { env })).code).toBe(0);
    const { records, truth } = drive(21);
    // Planted: 3 records no schema accepts (to the dead letters), 4 edge re-sends (dropped).
    const planted: FleetRecord[] = [
      ...[0, 1, 2].map(() => ({ ...records[1]!, value: 'not json', headers: {} })),
      ...records.slice(0, 4).map((r) => ({ ...r })),
    ];
    await produce(kafka, `${prefix}.telemetry.v1`, [...records, ...planted]);
    const alerts = [alertEvent(records[1]!.t.vehicleId, 'coolant-high', 'overheating', 'critical', START + 600_000), alertEvent(records[1]!.t.vehicleId, 'battery-low', 'low_battery', 'warning', START + 900_000), alertEvent(records[2]!.t.vehicleId, 'dtc', 'dtc', 'warning', START + 60_000)];
    await produceAlerts(`${prefix}.alerts.v1`, alerts);
    const cold = startCli(['cold', 'start', '--archive', archive, '--http-port', '0'], { env: { ...env, ROADLOG_TOPICS_PREFIX: prefix, ROADLOG_COLD_FLUSH_MAX_AGE_MS: '1000' } });
    const admin = kafka.admin();
    await admin.connect();
    const ends = new Map((await admin.fetchTopicOffsets(`${prefix}.telemetry.v1`)).map((o) => [o.partition, Number(o.high)]));
    await admin.disconnect();
    await waitFor(async () => {
      if (cold.child.exitCode !== null) throw new Error(cold.output.stderr);
      const states = new Map((await readStates(archive)).map((s) => [s.partition, s.nextOffset]));
      return [...ends].every(([p, end]) => end === 0 || states.get(p) === end) ? true : undefined;
    }, 120_000, 'the archive to hold every record');
    cold.child.kill('SIGTERM');
    await cold.exited;

    const csv = join(archive, '..', 'vehicles.csv');
    await writeFile(csv, ['vehicleId,class,depot', ...truth.map((t, i) => `${t.vehicleId},${t.class},depot-${i % 3}`)].join('\n'));
    const run = await runCli(['report', 'fleet', '--archive', archive, '--format', 'json', '--vehicles-csv', csv], { env: { ...env, ROADLOG_TOPICS_PREFIX: prefix }, timeoutMs: 120_000 });
    expect(run.code, run.stderr).toBe(0);
    const rows = JSON.parse(run.stdout) as FleetRow[];
    expect(rows.map((r) => r.vehicleId)).toEqual(truth.map((t) => t.vehicleId));
    for (const r of rows) expect(Object.keys(r)).toEqual(expect.arrayContaining(['vehicleId', 'class', 'distanceKm', 'fuelL', 'lPer100km', 'idleSeconds', 'harshBrakingEvents', 'harshPer100km']));

    const shown = fromTelemetry(records);
    const driven = truth.filter((t) => t.lPer100km !== null && t.distanceKm >= 5);
    expect(driven.length).toBeGreaterThan(VEHICLES / 2);
    const worst = { err: 0, id: '' };
    for (const t of driven) {
      const r = rows.find((x) => x.vehicleId === t.vehicleId)!;
      const err = Math.abs(r.lPer100km! - t.lPer100km!) / t.lPer100km!;
      if (err > worst.err) Object.assign(worst, { err, id: t.vehicleId });
      expect(err, `${t.vehicleId}: report ${r.lPer100km} L/100 km, truth ${t.lPer100km}`).toBeLessThanOrEqual(0.02);
      expect(r.class).toBe(t.class);
    }
    const rank = (xs: { vehicleId: string; lPer100km: number | null }[]) => xs.filter((x) => driven.some((d) => d.vehicleId === x.vehicleId)).sort((a, b) => a.lPer100km! - b.lPer100km! || a.vehicleId.localeCompare(b.vehicleId)).map((x) => x.vehicleId);
    expect(rank(rows)).toEqual(rank(driven));
    for (const r of rows) {
      expect(r.idleSeconds, r.vehicleId).toBeCloseTo(shown.get(r.vehicleId)!.idle, 1);
      expect(r.harshBrakingEvents, r.vehicleId).toBe(shown.get(r.vehicleId)!.harsh);
    }
    expect(rows.reduce((n, r) => n + r.harshBrakingEvents, 0)).toBeGreaterThan(0);
    expect(rows.reduce((n, r) => n + r.idleSeconds, 0)).toBeGreaterThan(0);
    console.log(`report fleet: ${rows.length} vehicles, ${records.length} samples; worst L/100 km error ${(worst.err * 100).toFixed(2)} % (${worst.id}); ${driven.length} vehicles ranked`);

    const byClass = await runCli(['report', 'fleet', '--archive', archive, '--group-by', 'class', '--format', 'csv', '--vehicles-csv', csv], { env });
    expect(byClass.code, byClass.stderr).toBe(0);
    expect(byClass.stdout.split('\n')[0]).toBe('class,vehicles,distanceKm,fuelL,lPer100km,idleSeconds,harshBrakingEvents,harshPer100km,samples,counterResets,outliers');
    const table = await runCli(['report', 'fleet', '--archive', archive, '--vehicle', truth[0]!.vehicleId, '--vehicles-csv', csv], { env });
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(new RegExp(`^${truth[0]!.vehicleId}\\s`, 'm'));

    const report = async (name: string, ...args: string[]) => {
      const r = await runCli(['report', name, '--archive', archive, '--format', 'json', '--vehicles-csv', csv, ...args], { env: { ...env, ROADLOG_TOPICS_PREFIX: prefix }, timeoutMs: 120_000 });
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as Record<string, unknown>[];
    };
    const row = (rs: Record<string, unknown>[], id: string) => rs.find((r) => r.vehicleId === id)!;
    const fuel = await report('fuel');
    for (const t of driven) expect(Math.abs(Number(row(fuel, t.vehicleId).lPer100km) - t.lPer100km!) / t.lPer100km!, `fuel ${t.vehicleId}`).toBeLessThanOrEqual(0.02);
    const [idle, harsh] = [await report('idle'), await report('harsh')];
    for (const r of rows) {
      expect(row(idle, r.vehicleId).idleSeconds, r.vehicleId).toBe(r.idleSeconds);
      expect(row(harsh, r.vehicleId).harshBrakingEvents, r.vehicleId).toBe(r.harshBrakingEvents);
      expect(row(fuel, r.vehicleId).counterResets, r.vehicleId).toBe(0);
    }
    const health = await report('health');
    expect(row(health, records[1]!.t.vehicleId)).toMatchObject({ alerts: 2, criticalAlerts: 1, alertCategories: 'low_battery overheating' });
    expect(row(health, records[2]!.t.vehicleId)).toMatchObject({ alerts: 1, alertCategories: 'dtc' });
    expect(health.reduce((n, r) => n + Number(r.alerts), 0)).toBe(3);
    expect(await report('health', '--details', 'alerts')).toEqual(expect.arrayContaining([expect.objectContaining({ category: 'overheating', severity: 'critical', alerts: 1, vehicles: 1 })]));
    const quality = await report('quality');
    expect(quality.reduce((n, r) => n + Number(r.samples), 0)).toBe(records.length);
    expect(row(quality, records[1]!.t.vehicleId).deadLetters).toBe(3);
    expect(quality.reduce((n, r) => n + Number(r.deadLetters), 0)).toBe(3);
    expect(await report('quality', '--details', 'deadLetters')).toEqual([expect.objectContaining({ reason: 'archive_invalid', code: 'ROADLOG_ERR_PAYLOAD_NOT_JSON', records: 3, vehicles: 1 })]);
    const dups = await report('quality', '--details', 'duplicates');
    expect(dups.reduce((n, r) => n + Number(r.edgeResends), 0)).toBe(4);
    const html = join(archive, '..', 'fleet.html');
    const h = await runCli(['report', 'fleet', '--archive', archive, '--format', 'html', '--out', html, '--vehicles-csv', csv, '--group-by', 'class'], { env });
    expect(h.code, h.stderr).toBe(0);
    const page = await readFile(html, 'utf8');
    expect((page.match(/<svg /g) ?? []).length).toBe(4);
    expect(page).not.toMatch(/<script|\ssrc=|\shref=/i);
  });
});

function alertEvent(vehicleId: string, rule: string, category: string, severity: AlertEvent['severity'], openedAt: number): AlertEvent {
  return { alertId: alertIdOf(vehicleId, rule, '', openedAt), vehicleId, gatewayId: 'gw-report', rule, subject: '', category, severity, state: 'open', change: 'opened', openedAt, clearedAt: null, detectedAt: Date.now(), value: 1, threshold: 0, message: `${rule} (planted by the test)`, late: false, lateByMs: 0, ack: null, operatorClear: null };
}

/** Alert events as the hot path writes them: in a transaction, keyed by alertId. */
async function produceAlerts(topic: string, events: readonly AlertEvent[]): Promise<void> {
  const producer = kafka.producer({ transactionalId: randomName('report-alerts'), idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    const tx = await producer.transaction();
    await tx.send({ topic, acks: -1, messages: events.map((e) => ({ key: e.alertId, value: JSON.stringify(e) })) });
    await tx.commit();
  } finally {
    await producer.disconnect();
  }
}
