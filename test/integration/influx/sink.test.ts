import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startInflux, stopInflux, type InfluxInfo } from '../../../infra/influx/server.js';
import type { AlertEvent } from '../../../shared/alerts/index.js';
import { httpBaseOf, runCli, startCli } from '../../support/cli.js';
import { randomName, testKafka, waitFor } from '../../support/kafka.js';
import { fleetRecords, produce } from '../hot/support.js';

/**
 * `roadlog influx-sink start` (the built CLI) between a real Kafka and a real InfluxDB (the
 * Debian 1.x server): every record a point at device time, alert events too; a replay by a
 * second group leaves the count unchanged; InfluxDB down for a while loses nothing.
 */
const brokers = inject('kafkaBrokers');
const env = { ROADLOG_HOME: inject('roadlogHome'), ROADLOG_KAFKA_BROKERS: brokers, ROADLOG_LOG_LEVEL: 'warn' };
const kafka = testKafka(brokers);
const OUTAGE_MS = Number(process.env.ROADLOG_INFLUX_OUTAGE_MS ?? 8_000);
let root: string;
let influx: InfluxInfo;
const running: ReturnType<typeof startCli>[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'roadlog-influx-'));
  influx = await startInflux({ dir: join(root, 'influx') });
});

afterAll(async () => {
  for (const r of running) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
  await stopInflux(join(root, 'influx')).catch(() => undefined);
  await rm(root, { recursive: true, force: true });
});

async function count(measurement: string, field: string): Promise<number> {
  const res = (await (await fetch(`${influx.url}/query?db=roadlog&q=${encodeURIComponent(`SELECT count(${field}) FROM ${measurement}`)}`)).json()) as { results: { series?: { values: [string, number][] }[] }[] };
  return res.results[0]?.series?.[0]?.values[0]?.[1] ?? 0;
}

async function startSink(prefix: string, group: string): Promise<ReturnType<typeof startCli>> {
  const sink = startCli(['influx-sink', 'start', '--url', influx.url, '--group', group, '--http-port', '0'], { env: { ...env, ROADLOG_TOPICS_PREFIX: prefix, ROADLOG_INFLUX_SESSION_TIMEOUT_MS: '6000' } });
  running.push(sink);
  await httpBaseOf(sink, 'the sink');
  return sink;
}

function alertEvent(i: number): AlertEvent {
  const at = Date.parse('2026-01-05T06:10:00Z') + i * 60_000;
  return { alertId: i.toString(16).padStart(32, '0'), vehicleId: 'HV-0001', gatewayId: 'gw-hot', rule: 'coolant-high', subject: 'HV-0001', category: 'overheating', severity: 'critical', state: 'open', change: 'opened', openedAt: at, clearedAt: null, detectedAt: at + 500, value: 121, threshold: 115, message: 'coolant 121 °C', late: false, lateByMs: 0, ack: null, operatorClear: null };
}

describe('InfluxDB sink (built CLI, real Kafka, real InfluxDB 1.x)', () => {
  it('every record a point; a replay changes no count; an InfluxDB outage loses nothing', async () => {
    const prefix = randomName('influx');
    expect((await runCli(['topics', 'apply', '--prefix', prefix], { env })).code).toBe(0);
    const records = fleetRecords(31, 10, 20);
    const first = records.slice(0, records.length / 2);
    await produce(kafka, `${prefix}.telemetry.v1`, first);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: `${prefix}.telemetry.v1`, messages: [{ key: 'junk', value: 'not json' }] });
    await producer.send({ topic: `${prefix}.alerts.v1`, messages: [0, 1, 2].map((i) => ({ key: alertEvent(i).alertId, value: JSON.stringify(alertEvent(i)) })) });
    await producer.disconnect();

    const sink = await startSink(prefix, 'influx');
    await waitFor(async () => ((await count('telemetry', 'speedKph')) === first.length && (await count('alerts', 'value')) === 3 ? true : undefined), 90_000, 'the first half and the alerts in InfluxDB');

    // A replay (a new group reads everything again): the same points, overwritten.
    const replay = await startSink(prefix, 'influx-replay');
    const metrics = /^http (\S+)/m.exec(replay.output.stdout)![1]!;
    await waitFor(async () => {
      const text = await (await fetch(`${metrics}/metrics`)).text();
      return Number(/roadlog_influx_points_total\{measurement="telemetry"[^}]*\} (\d+)/.exec(text)?.[1] ?? 0) >= first.length ? true : undefined;
    }, 90_000, 'the replay to write the first half again');
    expect(await count('telemetry', 'speedKph')).toBe(first.length);
    replay.child.kill('SIGTERM');
    expect((await replay.exited).code).toBe(0);

    // InfluxDB down while the second half arrives: the sink holds its batch, then catches up.
    await stopInflux(join(root, 'influx'));
    await produce(kafka, `${prefix}.telemetry.v1`, records.slice(records.length / 2));
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    influx = await startInflux({ dir: join(root, 'influx'), port: influx.port });
    const t0 = Date.now();
    await waitFor(async () => ((await count('telemetry', 'speedKph')) === records.length ? true : undefined), 120_000, 'the sink to catch up after the outage');
    const text = await (await fetch(`${/^http (\S+)/m.exec(sink.output.stdout)![1]!}/metrics`)).text();
    expect(Number(/roadlog_influx_write_retries_total\{status="network"[^}]*\} (\d+)/.exec(text)?.[1] ?? 0)).toBeGreaterThan(0);
    expect(text).toMatch(/roadlog_influx_records_skipped_total\{reason="invalid"[^}]*\} 1\b/);
    console.log(`influx sink: ${records.length} records, ${OUTAGE_MS / 1000} s outage, caught up ${((Date.now() - t0) / 1000).toFixed(1)} s after InfluxDB was back; replay left the count at ${first.length}`);
    sink.child.kill('SIGTERM');
    expect((await sink.exited).code).toBe(0);

    // `cold forget` drops the vehicle's series (here with an empty archive).
    const gone = records[0]!.t.vehicleId;
    await mkdir(join(root, 'archive'));
    const forget = await runCli(['cold', 'forget', gone, '--archive', join(root, 'archive'), '--influx-url', influx.url], { env });
    expect(forget.code, forget.stderr).toBe(0);
    expect(forget.stdout).toMatch(/its telemetry and alerts series dropped/);
    const theirs = records.filter((r) => r.t.vehicleId === gone).length;
    expect(await count('telemetry', 'speedKph')).toBe(records.length - theirs);
  });
});
