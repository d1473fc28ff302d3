import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KafkaMessage, Producer } from 'kafkajs';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Forwarder, ForwarderOptionsSchema, type ForwarderOptionsInput } from '../../../edge/forwarder/index.js';
import { openLog, type EdgeLog } from '../../../edge/log/index.js';
import { decodeEnvelopeHeaders, dedupKey } from '../../../shared/envelope/index.js';
import { createLogger } from '../../../shared/logging/index.js';
import { exampleTelemetry } from '../../../shared/schema/index.js';
import { createTopicsReady, randomName, testKafka, waitFor } from '../../support/kafka.js';

/** The forwarder against the real broker: nothing lost, per-vehicle order kept, duplicates only as re-sent copies. */
const brokers = inject('kafkaBrokers');
const kafka = testKafka(brokers);
const admin = kafka.admin();
const logger = createLogger({ level: 'silent' });

beforeAll(() => admin.connect());
afterAll(() => admin.disconnect());

async function topics() {
  const telemetry = randomName('fw-telemetry');
  const dead = randomName('fw-dead');
  await createTopicsReady(admin, [{ topic: telemetry, numPartitions: 6, replicationFactor: 1 }, { topic: dead, numPartitions: 3, replicationFactor: 1 }]);
  return { telemetry: { name: telemetry, partitions: 6 }, deadLetters: { name: dead, partitions: 3 } };
}

/** A connected idempotent producer and a Forwarder from `log` to `t` (options over the defaults). */
async function forwarderFor(log: EdgeLog, t: Awaited<ReturnType<typeof topics>>, options: ForwarderOptionsInput = {}) {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const forwarder = new Forwarder({ log, producer, topics: t, gatewayId: 'gw-test', options: ForwarderOptionsSchema.parse(options), logger, registry: new Registry() });
  return { producer, forwarder };
}

async function fill(log: EdgeLog, vehicles: number, perVehicle: number): Promise<void> {
  const appends: Promise<unknown>[] = [];
  for (let seq = 0; seq < perVehicle; seq++) {
    for (let v = 0; v < vehicles; v++) {
      const record = exampleTelemetry({ vehicleId: `VH-${v}`, seq, dtcs: seq % 50 === 7 ? ['P0217'] : [] });
      appends.push(log.append({ key: record.vehicleId, value: JSON.stringify(record), critical: record.dtcs.length > 0, deviceTs: record.ts, headers: [{ name: 'roadlog.schema', value: Buffer.from('1') }] }));
    }
  }
  appends.push(log.append({ key: 'VH-0', value: 'not json', lane: 'dead', headers: [{ name: 'roadlog.dlq.reason', value: Buffer.from('not_json') }] }));
  await Promise.all(appends);
}

async function consumeAll(topic: string, count: number): Promise<KafkaMessage[]> {
  const consumer = kafka.consumer({ groupId: randomName('verify') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const got: KafkaMessage[] = [];
  await consumer.run({ eachMessage: async ({ message }) => void got.push(message) });
  await waitFor(() => (got.length >= count ? true : undefined), 60_000, `${count} records on ${topic}`);
  await consumer.disconnect();
  return got;
}

function checkOrderAndCompleteness(messages: KafkaMessage[], vehicles: number, perVehicle: number): number {
  const firstSeen = new Map<string, number[]>();
  const keys = new Set<string>();
  let duplicates = 0;
  for (const m of messages) {
    const env = decodeEnvelopeHeaders(m.headers);
    expect(env?.gatewayId).toBe('gw-test');
    const key = dedupKey(env!);
    if (keys.has(key)) {
      duplicates += 1;
      continue;
    }
    keys.add(key);
    const r = JSON.parse(m.value!.toString()) as { vehicleId: string; seq: number; dtcs: string[] };
    expect(m.key!.toString()).toBe(r.vehicleId);
    // Order is kept per vehicle within a lane; critical records travel ahead of the normal lane.
    const lane = `${r.vehicleId}/${env!.edgeLane}`;
    firstSeen.set(lane, [...(firstSeen.get(lane) ?? []), r.seq]);
  }
  for (const [lane, seqs] of firstSeen) expect(seqs, lane).toEqual([...seqs].sort((a, b) => a - b));
  const total = [...firstSeen.values()].reduce((n, s) => n + s.length, 0);
  expect(total).toBe(vehicles * perVehicle);
  return duplicates;
}

describe('forwarder', () => {
  it('forwards every record in order per vehicle, dead letters to their topic, and commits its cursor', async () => {
    const log = await openLog(mkdtempSync(join(tmpdir(), 'fw-')), { partitions: 4 });
    await fill(log, 20, 250);
    const t = await topics();
    const { producer, forwarder } = await forwarderFor(log, t);
    await forwarder.start();
    const telemetry = await consumeAll(t.telemetry.name, 5_000);
    const dead = await consumeAll(t.deadLetters.name, 1);
    await forwarder.stop();
    await producer.disconnect();
    expect(checkOrderAndCompleteness(telemetry, 20, 250)).toBe(0);
    expect(dead[0]!.value!.toString()).toBe('not json');
    expect(dead[0]!.headers!['roadlog.dlq.reason']!.toString()).toBe('not_json');
    const reader = await log.openReader('forwarder');
    expect((await reader.read()).records.length).toBe(0); // the cursor is at the end
    await log.close();
  });

  it('retries failed sends with backoff: nothing lost, duplicates only as identical re-sent copies', async () => {
    const log = await openLog(mkdtempSync(join(tmpdir(), 'fw-')), { partitions: 4 });
    await fill(log, 10, 200);
    const t = await topics();
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    // Fault injection (seeded): 15 % of sends fail before reaching Kafka, 5 % after Kafka wrote them (the ack is lost).
    let calls = 0;
    let failures = 0;
    let seed = 42;
    const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const reset = () => Object.assign(new Error('injected: connection reset'), { code: 'ECONNRESET' });
    const flaky = {
      connect: () => producer.connect(),
      send: (record: Parameters<Producer['send']>[0]) => producer.send(record),
      sendBatch: async (batch: Parameters<Producer['sendBatch']>[0]) => {
        calls += 1;
        const dice = random();
        if (dice < 0.15) {
          failures += 1;
          throw reset();
        }
        const result = await producer.sendBatch(batch);
        if (dice < 0.2) {
          failures += 1;
          throw reset();
        }
        return result;
      },
    } as unknown as Producer;
    const forwarder = new Forwarder({
      log,
      producer: flaky,
      topics: t,
      gatewayId: 'gw-test',
      // Small requests, so there are many to fail: a partition's records wait together while its request is out.
      options: ForwarderOptionsSchema.parse({ maxBatchRecords: 300, maxRequestBytes: 4096, retry: { initialMs: 5, maxMs: 50 } }),
      logger,
      registry: new Registry(),
    });
    await forwarder.start();
    const offsets = async () => (await admin.fetchTopicOffsets(t.telemetry.name)).reduce((n, o) => n + Number(o.high), 0);
    await waitFor(async () => {
      const r = await log.openReader('forwarder');
      return (await r.read()).records.length === 0 ? true : undefined;
    }, 60_000, 'the cursor at the end');
    await forwarder.stop();
    await producer.disconnect();
    const messages = await consumeAll(t.telemetry.name, await offsets());
    const duplicates = checkOrderAndCompleteness(messages, 10, 200);
    console.log(`forwarder with injected failures: ${calls} sends, ${failures} failed, ${messages.length} records in Kafka for 2,000 appended, ${duplicates} duplicates (same headers)`);
    expect(failures).toBeGreaterThan(0);
    await log.close();
  });

  it('100,000 records from 500 vehicles: all in Kafka, in order per vehicle', async () => {
    const log = await openLog(mkdtempSync(join(tmpdir(), 'fw-')), { partitions: 8 });
    await fill(log, 500, 200);
    const t = await topics();
    const { producer, forwarder } = await forwarderFor(log, t);
    const started = Date.now();
    await forwarder.start();
    const telemetry = await consumeAll(t.telemetry.name, 100_000);
    const ms = Date.now() - started;
    await forwarder.stop();
    await producer.disconnect();
    const duplicates = checkOrderAndCompleteness(telemetry, 500, 200);
    console.log(`forwarder: 100,000 records of 500 vehicles forwarded and read back in ${(ms / 1000).toFixed(1)} s, ${duplicates} duplicates`);
    await log.close();
  }, 180_000);

  it('drains no faster than drain.maxRecordsPerSec', async () => {
    const log = await openLog(mkdtempSync(join(tmpdir(), 'fw-')), { partitions: 4 });
    await fill(log, 10, 300); // 3,000 records and a dead letter
    const t = await topics();
    const { producer, forwarder } = await forwarderFor(log, t, { drain: { maxRecordsPerSec: 1_000 } });
    const started = Date.now();
    await forwarder.start();
    await waitFor(async () => ((await log.backlog('forwarder')).length === 0 ? true : undefined), 60_000, 'the cursor at the end');
    const seconds = (Date.now() - started) / 1000;
    await forwarder.stop();
    await producer.disconnect();
    // 3,001 records at ≤ 1,000/s: batches of 1,000, each followed by the rest of its second.
    expect(seconds).toBeGreaterThanOrEqual(2.9);
    expect((await forwarder.status()).backlog.drainRate).toBeLessThanOrEqual(1_000);
    await log.close();
  }, 60_000);
});
