import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KafkaMessage } from 'kafkajs';
import { Kafka, logLevel } from '../../shared/kafka/kafkajs.js';
import type { AlertEvent } from '../../shared/alerts/index.js';
import { EnvelopeDedup } from '../../shared/envelope/index.js';
import type { Telemetry } from '../../shared/schema/index.js';
import type { FaultInterval, LinkLoss, VehicleTruth } from '../../simulators/model.js';
import { Demo, type DemoInfo } from '../../infra/demo/demo.js';
import { killBroker, restartBroker } from '../../infra/kafka/cluster.js';
import { withArchive } from '../../cloud/cold/scan.js';
import { withDuckDB } from '../../cloud/cold/duckdb.js';
import { scoreAlerts, type VehicleTruthInput } from '../support/alert-truth.js';
import { runCli } from '../support/cli.js';
import { waitFor } from '../support/kafka.js';

/**
 * The end-to-end truth campaign: `roadlog demo`'s whole pipeline (each part its own process)
 * driving a fleet from a fixed device time, one gateway's uplink cut for a while, and kill -9 of
 * each component at a random moment, each started again. Then, against the simulator's truth:
 * every acknowledged record in Kafka, in the archive exactly once and in InfluxDB; alerts with
 * precision = recall = 1.0 and the outage's backfilled ones flagged late; the fleet report's
 * L/100 km within 2 % per vehicle and the same ranking; `roadlog hot backtest` giving exactly
 * the live alert ids. `npm run test:e2e` runs it at full size (test/e2e/run.ts); a short
 * version runs in `npm test` (test/integration/e2e/campaign.test.ts).
 */
export type Victim = 'gw-2' | 'kafka' | 'hot' | 'cold' | 'influx-sink';
export const VICTIMS: readonly Victim[] = ['gw-2', 'kafka', 'hot', 'cold', 'influx-sink'];

export interface CampaignOptions {
  dir: string;
  cli: string;
  vehicles: number;
  deviceMinutes: number;
  speedup: number;
  /** gw-1's uplink is cut this many minutes of device time, starting at 30 % of the run. */
  outageDeviceMinutes: number;
  /** Each is killed (SIGKILL) once at a random moment between 15 % and 85 % of the run, then started again. */
  kills: readonly Victim[];
  say(line: string): void;
}

export interface Check {
  name: string;
  expected: string;
  measured: string;
  ok: boolean;
}

export interface CampaignResult {
  checks: Check[];
  /** What happened when (wall ms from the fleet's start). */
  timeline: string[];
}

const START = '2026-01-05T06:00:00Z';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runCampaign(o: CampaignOptions): Promise<CampaignResult> {
  const demo = new Demo({ dir: o.dir, nodes: 1, vehicles: o.vehicles, speedup: o.speedup, duration: `${o.deviceMinutes}m`, port: 0, keep: false, cli: o.cli, say: o.say, start: START, rounds: 1, messages: true });
  const timeline: string[] = [];
  try {
    const info = await demo.start();
    const t0 = Date.now();
    const mark = (what: string) => {
      timeline.push(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`);
      o.say(`campaign ${timeline.at(-1)!}`);
    };
    const runWallMs = (o.deviceMinutes * 60_000) / o.speedup;
    const outageMs = (o.outageDeviceMinutes * 60_000) / o.speedup;
    let outage: { from: number; to: number } | undefined;
    const outageDone = (async () => {
      if (outageMs <= 0) return;
      await sleep(runWallMs * 0.3);
      await demo.outage(info, 'gw-1', outageMs);
      outage = { from: Date.now(), to: Date.now() + outageMs };
      mark(`gw-1's uplink cut for ${(outageMs / 1000).toFixed(1)} s`);
    })();
    // Each victim at its own random moment. Restarts may overlap (an archiver's takes a session
    // timeout), except Kafka's: it waits for those under way, and they wait for it, so no part
    // has to start while Kafka is down.
    let kafkaTurn: Promise<unknown> = Promise.resolve();
    const underWay = new Set<Promise<unknown>>();
    const restart = async (v: Victim) => {
      mark(`kill -9 ${v}`);
      await kill(demo, o.dir, v);
      mark(`${v} started again`);
    };
    await Promise.all(
      o.kills.map(async (v) => {
        await sleep(runWallMs * (0.15 + 0.7 * Math.random()));
        const run = v === 'kafka' ? Promise.all([...underWay]).then(() => restart(v)) : kafkaTurn.then(() => restart(v));
        const settled = run.catch(() => undefined);
        if (v === 'kafka') kafkaTurn = settled;
        else underWay.add(settled);
        await run;
        underWay.delete(settled);
      }),
    );
    await outageDone;
    await demo.fleetDone;
    mark('the fleet has driven');
    const checks = await verify(demo, info, o, outage);
    mark('verified');
    return { checks, timeline };
  } finally {
    await demo.stop();
  }
}

async function kill(demo: Demo, dir: string, v: Victim): Promise<void> {
  if (v !== 'kafka') return demo.restart(v);
  await killBroker(join(dir, 'kafka'), 1, 'SIGKILL');
  await restartBroker(join(dir, 'kafka'), 1);
}

interface Truth {
  vehicles: (VehicleTruth & { gateway: string })[];
  acked: Map<string, Set<number>>;
  inputs: VehicleTruthInput[];
}

async function readTruth(demo: Demo): Promise<Truth> {
  const vehicles: Truth['vehicles'] = [];
  const acked = new Map<string, Set<number>>();
  const faults = new Map<string, FaultInterval[]>();
  const losses = new Map<string, LinkLoss[]>();
  for (const file of demo.files('truth')) {
    const gateway = /truth-(gw-\d+)-/.exec(file)![1]!;
    for (const line of (await readFile(file, 'utf8')).split('\n')) {
      if (line === '') continue;
      const l = JSON.parse(line) as { type: string; vehicleId: string; seqs?: [number, number][] } & Record<string, unknown>;
      if (l.type === 'vehicle') vehicles.push({ ...(l as unknown as VehicleTruth), faults: [], linkLosses: [], gateway });
      if (l.type === 'fault') (faults.get(l.vehicleId) ?? faults.set(l.vehicleId, []).get(l.vehicleId)!).push(l as unknown as FaultInterval);
      // A spell without its gateway (a gateway killed and restarted) silences a vehicle as its own link loss does.
      if (l.type === 'link_loss' || l.type === 'disconnected') (losses.get(l.vehicleId) ?? losses.set(l.vehicleId, []).get(l.vehicleId)!).push(l as unknown as LinkLoss);
      if (l.type === 'acked') {
        const s = acked.get(l.vehicleId) ?? acked.set(l.vehicleId, new Set()).get(l.vehicleId)!;
        for (const [from, to] of l.seqs!) for (let q = from; q <= to; q++) s.add(q);
      }
    }
  }
  const messages = new Map<string, Telemetry[]>();
  for (const file of demo.files('messages')) {
    for (const line of (await readFile(file, 'utf8')).split('\n')) {
      if (line === '') continue;
      const t = JSON.parse(line) as Telemetry;
      (messages.get(t.vehicleId) ?? messages.set(t.vehicleId, []).get(t.vehicleId)!).push(t);
    }
  }
  const inputs = vehicles.map((v) => ({ vehicleId: v.vehicleId, faults: faults.get(v.vehicleId) ?? [], linkLosses: losses.get(v.vehicleId) ?? [], messages: messages.get(v.vehicleId) ?? [] }));
  return { vehicles, acked, inputs };
}

async function verify(demo: Demo, info: DemoInfo, o: CampaignOptions, outage: { from: number; to: number } | undefined): Promise<Check[]> {
  const truth = await readTruth(demo);
  const ackedTotal = [...truth.acked.values()].reduce((n, s) => n + s.size, 0);
  const env = { ...process.env, ROADLOG_HOME: join(o.dir, 'home'), ROADLOG_KAFKA_BROKERS: info.brokers, ROADLOG_LOG_LEVEL: 'error' };
  const kafka = new Kafka({ clientId: 'e2e-verify', brokers: info.brokers.split(','), logLevel: logLevel.NOTHING });
  const checks: Check[] = [];
  const check = (name: string, expected: string, measured: string, ok: boolean) => checks.push({ name, expected, measured, ok });

  // Drained: every gateway's log forwarded.
  for (const g of info.gateways) {
    await waitFor(async () => {
      const s = (await (await fetch(`${g.http}/status`)).json()) as { connected: boolean; backlog: { records: number } };
      return s.connected && s.backlog.records === 0 ? true : undefined;
    }, 300_000, `${g.id} to drain`, 1_000);
  }

  // Kafka: every acknowledged (vehicle, seq), re-sent copies dropped by their envelope.
  const inKafka = new Map<string, Set<number>>();
  const dedup = new EnvelopeDedup();
  const telemetry = 'roadlog.telemetry.v1';
  await readToEnd(kafka, telemetry, (partition, m) => {
    if (dedup.isDuplicate(telemetry, partition, m.headers)) return;
    const { vehicleId, seq } = JSON.parse(m.value!.toString()) as { vehicleId: string; seq: number };
    (inKafka.get(vehicleId) ?? inKafka.set(vehicleId, new Set()).get(vehicleId)!).add(seq);
  });
  const missingIn = (have: Map<string, { has(seq: number): boolean }>) => [...truth.acked].reduce((n, [id, seqs]) => n + [...seqs].filter((q) => !(have.get(id)?.has(q) ?? false)).length, 0);
  const kafkaMissing = missingIn(inKafka);
  const kafkaRecords = [...inKafka.values()].reduce((n, s) => n + s.size, 0);
  check('acknowledged records in Kafka', `${ackedTotal} of ${ackedTotal}`, `${ackedTotal - kafkaMissing} (${dedup.duplicates} re-sent copies dropped)`, kafkaMissing === 0 && ackedTotal > 0);

  // The archive: each record once, once the archiver has caught up.
  const archived = await waitFor(async () => {
    const rows = await withArchive(info.archive, (rel) => withDuckDB(async (c) => (await c.runAndReadAll(`SELECT vehicleId, seq, count(*)::INTEGER AS n FROM ${rel} GROUP BY ALL`)).getRowObjects())).catch(() => []);
    return rows.length >= kafkaRecords ? rows : undefined;
  }, 300_000, 'the archive to hold every record', 2_000).catch(() => undefined);
  const inArchive = new Map<string, Map<number, number>>();
  for (const r of archived ?? []) (inArchive.get(String(r.vehicleId)) ?? inArchive.set(String(r.vehicleId), new Map()).get(String(r.vehicleId))!).set(Number(r.seq), Number(r.n));
  const twice = (archived ?? []).filter((r) => Number(r.n) > 1).length;
  const archiveMissing = missingIn(inArchive);
  check('acknowledged records in the archive, each once', `${ackedTotal}, 0 twice`, archived === undefined ? 'not caught up in 5 min' : `${ackedTotal - archiveMissing}, ${twice} twice`, archived !== undefined && archiveMissing === 0 && twice === 0);

  // InfluxDB: a point per record (a point is keyed by vehicle and device time, so a copy is the same point).
  const influxCount = async () => {
    const q = new URLSearchParams({ db: 'roadlog', q: 'SELECT count("seq") FROM "telemetry" GROUP BY "vehicleId"', epoch: 'ms' });
    const body = (await (await fetch(`${info.influxUrl}/query?${q}`)).json()) as { results: { series?: { tags: { vehicleId: string }; values: [number, number][] }[] }[] };
    return new Map((body.results[0]?.series ?? []).map((s) => [s.tags.vehicleId, s.values[0]![1]]));
  };
  const perVehicle = await waitFor(async () => {
    const m = await influxCount().catch(() => new Map<string, number>());
    return [...inKafka].every(([id, seqs]) => (m.get(id) ?? 0) >= seqs.size) ? m : undefined;
  }, 300_000, 'InfluxDB to hold every record', 2_000).catch(() => undefined);
  const short = [...truth.acked].filter(([id, seqs]) => (perVehicle?.get(id) ?? 0) < seqs.size).length;
  check('acknowledged records in InfluxDB', `every vehicle's ${ackedTotal} points`, perVehicle === undefined ? 'not caught up in 5 min' : `${[...(perVehicle?.values() ?? [])].reduce((n, c) => n + c, 0)} points, ${short} vehicles short`, perVehicle !== undefined && short === 0);

  // Alerts against the truth, once the hot path has read everything.
  const ends = await endOffsets(kafka, telemetry);
  await waitFor(async () => {
    const s = (await (await fetch(`${info.metrics.hot}/status`)).json()) as { partitions: { partition: number; committed: string }[] };
    return ends.every((e) => BigInt(s.partitions.find((p) => p.partition === e.partition)?.committed ?? '0') >= BigInt(e.high)) ? true : undefined;
  }, 300_000, 'the hot path to read every record', 1_000);
  const events: AlertEvent[] = [];
  await readToEnd(kafka, 'roadlog.alerts.v1', (_p, m) => void events.push(JSON.parse(m.value!.toString()) as AlertEvent), true);
  const score = scoreAlerts(truth.inputs, events);
  const precision = score.alerts === 0 ? 1 : score.correct / score.alerts;
  const recall = score.observable === 0 ? 1 : score.found / score.observable;
  check('alert precision', '1.000', `${precision.toFixed(3)} (${score.correct} of ${score.alerts} alerts in a fault)`, precision === 1 && score.falseAlerts.length === 0);
  check('alert recall', '1.000', `${recall.toFixed(3)} (${score.found} of ${score.observable} observable faults)`, recall === 1 && score.misses.length === 0 && score.observable > 0);
  for (const f of score.falseAlerts.slice(0, 5)) o.say(`  false alert: ${JSON.stringify(f)}`);
  for (const m of score.misses.slice(0, 5)) o.say(`  missed: ${JSON.stringify(m)}`);

  // The outage's backfilled alerts: opened by a gw-1 record that waited out the cut at the edge (at least 5 s).
  const gw1 = new Set(truth.vehicles.filter((v) => v.gateway === 'gw-1').map((v) => v.vehicleId));
  const opened = events.filter((e) => e.change === 'opened' && e.vehicleId !== '');
  let backfilled: AlertEvent[] = [];
  if (outage !== undefined) {
    const waited = await withArchive(info.archive, (rel) => withDuckDB(async (c) => (await c.runAndReadAll(`SELECT vehicleId, ts FROM ${rel} WHERE ingestTs BETWEEN ${outage.from} AND ${outage.to - 5_000}`)).getRowObjects()));
    const keys = new Set(waited.map((r) => `${String(r.vehicleId)}/${Number(r.ts)}`));
    // (An absence alert opens from the gateway's other vehicles' front, not from a record of its own: live, not backfilled.)
    backfilled = opened.filter((e) => gw1.has(e.vehicleId) && e.category !== 'silent' && keys.has(`${e.vehicleId}/${e.openedAt}`));
  }
  const notLate = backfilled.filter((e) => !e.late);
  check('backfilled alerts flagged late', 'all', `${backfilled.length - notLate.length} of ${backfilled.length}${outage === undefined ? ' (no outage)' : ''}`, notLate.length === 0);

  // The fleet report against the truth: L/100 km within 2 %, the same ranking.
  const report = await runCli(['report', 'fleet', '--archive', info.archive, '--format', 'json', '--vehicles-csv', join(o.dir, 'vehicles.csv')], { env, timeoutMs: 300_000 });
  const rows = report.code === 0 ? new Map((JSON.parse(report.stdout) as { vehicleId: string; lPer100km: number | null }[]).map((r) => [r.vehicleId, r])) : new Map<string, { lPer100km: number | null }>();
  const driven = truth.vehicles.filter((t) => t.lPer100km !== null && t.distanceKm >= 5);
  const errors = driven.map((t) => Math.abs(Number(rows.get(t.vehicleId)?.lPer100km ?? NaN) - t.lPer100km!) / t.lPer100km!);
  const worst = errors.reduce((a, b) => (Number.isNaN(b) ? Infinity : Math.max(a, b)), 0);
  check('fleet report L/100 km vs truth', '≤ 2.00 % per vehicle', `worst ${(worst * 100).toFixed(2)} % over ${driven.length} vehicles${report.code === 0 ? '' : ` (report failed: ${report.stderr.trim().slice(0, 200)})`}`, report.code === 0 && driven.length > 0 && worst <= 0.02);
  let misordered = 0;
  for (const a of driven) for (const b of driven) if (a.lPer100km! + 0.01 < b.lPer100km! && Number(rows.get(a.vehicleId)?.lPer100km) > Number(rows.get(b.vehicleId)?.lPer100km)) misordered++;
  check('fleet report ranking vs truth', '0 pairs out of order', `${misordered} pairs out of order`, report.code === 0 && misordered === 0);

  // The backtest over what Kafka holds: exactly the live alert ids (vehicles' alerts: a gateway's comes from heartbeats, which it does not replay).
  const bt = await runCli(['hot', 'backtest', '--format', 'json'], { env, timeoutMs: 600_000 });
  const replayed = bt.code === 0 ? bt.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as AlertEvent) : [];
  const live = new Set(opened.map((e) => e.alertId));
  const back = new Set(replayed.filter((e) => e.change === 'opened' && e.vehicleId !== '').map((e) => e.alertId));
  const onlyLive = [...live].filter((id) => !back.has(id)).length;
  const onlyBack = [...back].filter((id) => !live.has(id)).length;
  check('backtest alert ids = live alert ids', `${live.size} = ${live.size}`, `${back.size} (${onlyLive} only live, ${onlyBack} only in the backtest)${bt.code === 0 ? '' : ` (backtest failed: ${bt.stderr.trim().slice(0, 200)})`}`, bt.code === 0 && onlyLive === 0 && onlyBack === 0 && live.size > 0);
  return checks;
}

/** The checks as a Markdown table. */
export function formatTable(checks: readonly Check[]): string {
  const rows = [['check', 'expected', 'measured', ''], ['---', '---', '---', '---'], ...checks.map((c) => [c.name, c.expected, c.measured, c.ok ? 'ok' : 'MISS'])];
  return `${rows.map((r) => `| ${r.join(' | ')} |`).join('\n')}\n`;
}

async function endOffsets(kafka: Kafka, topic: string): Promise<{ partition: number; high: string }[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await admin.fetchTopicOffsets(topic);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Every record of `topic` up to its end as of now. `transactional`: read_committed, and its end
 * is a marker (or an aborted transaction's records), so it ends 5 s after the last record came.
 */
async function readToEnd(kafka: Kafka, topic: string, each: (partition: number, m: KafkaMessage) => void, transactional = false): Promise<void> {
  const ends = new Map((await endOffsets(kafka, topic)).map((e) => [e.partition, BigInt(e.high)]));
  const at = new Map<number, bigint>();
  let last = Date.now();
  const consumer = kafka.consumer({ groupId: `e2e-verify-${Date.now()}-${Math.random().toString(36).slice(2)}`, readUncommitted: !transactional, maxBytes: 50 * 1024 * 1024 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) each(batch.partition, m);
      if (batch.messages.length > 0) at.set(batch.partition, BigInt(batch.lastOffset()) + 1n);
      last = Date.now();
    },
  });
  try {
    await waitFor(() => (transactional ? Date.now() - last > 5_000 : [...ends].every(([p, high]) => (at.get(p) ?? 0n) >= high)) ? true : undefined, 600_000, `${topic} read to its end`, 200);
  } finally {
    await consumer.disconnect();
  }
}
