import type { Producer, ProducerBatch, ProducerRecord, RecordMetadata } from 'kafkajs';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { Forwarder, ForwarderOptionsSchema } from '../../../edge/forwarder/index.js';
import { createLogger } from '../../../shared/logging/index.js';
import { partitionForKey } from '../../../shared/partitioner/index.js';
import { SMALL, simulatedLog } from '../log/support/log.js';

/** The forwarder against a stand-in producer (fault injection); the real broker is in test/integration/edge. */
const logger = createLogger({ level: 'silent' });

function fakeProducer(limitBytes = 1024 * 1024) {
  const sent: ProducerRecord[] = [];
  const producer = withBatches({
    connect: async () => undefined,
    send: async (r: ProducerRecord) => {
      const bytes = r.messages.reduce((n, m) => n + (m.value as Buffer).length, 0);
      if (bytes > limitBytes) throw Object.assign(new Error('The request included a message larger than the max message size the server will accept'), { type: 'MESSAGE_TOO_LARGE' });
      sent.push(r);
      return [{ topicName: r.topic, partition: r.messages[0]!.partition!, errorCode: 0, baseOffset: '0' }];
    },
  });
  return { producer, sent };
}

/**
 * A stand-in producer from a stand-in `send`: `sendBatch` (the forwarder's rounds) calls it
 * once per topic and partition, one after another; a throw fails the whole batch, as a failed
 * request would.
 */
function withBatches(p: { send: (r: ProducerRecord) => Promise<RecordMetadata[]>; connect: () => Promise<void>; disconnect?: () => Promise<void> }): Producer {
  const sendBatch = async (b: ProducerBatch): Promise<RecordMetadata[]> => {
    const out: RecordMetadata[] = [];
    for (const { topic, messages } of b.topicMessages ?? []) {
      const byPartition = new Map<number, typeof messages>();
      for (const m of messages) byPartition.set(m.partition!, [...(byPartition.get(m.partition!) ?? []), m]);
      for (const [, ms] of byPartition) out.push(...(await p.send({ topic, messages: ms, acks: b.acks, timeout: b.timeout })));
    }
    return out;
  };
  return { disconnect: async () => undefined, ...p, sendBatch } as unknown as Producer;
}

const topics = { telemetry: { name: 'tele', partitions: 3 }, deadLetters: { name: 'dlq', partitions: 1 } };
const options = ForwarderOptionsSchema.parse({ pollMs: 5, retry: { initialMs: 5, maxMs: 20 } });

async function until(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('Forwarder (stand-in producer)', () => {
  it('reports itself connected as soon as it reached Kafka, even with nothing to send', async () => {
    const { log } = await simulatedLog();
    const { producer } = fakeProducer();
    const f = new Forwarder({ log, producer, topics, gatewayId: 'gw', options, logger, registry: new Registry() });
    await f.start();
    await until(async () => (await f.status()).connected);
    await f.stop();
    await log.close();
  });

  it('goes on after the cursor could not be written (disk full once): every record sent, the error reported', async () => {
    const { fs, log } = await simulatedLog();
    for (let i = 0; i < 60; i++) await log.append({ key: `veh-${i % 6}`, value: `v${i}` });
    const { producer, sent } = fakeProducer();
    let failures = 1;
    fs.inject = (op, path) => (op === 'append' && path.includes('/cursors/') && failures-- > 0 ? 'ENOSPC' : undefined);
    const f = new Forwarder({ log, producer, topics, gatewayId: 'gw', options: ForwarderOptionsSchema.parse({ ...options, maxBatchRecords: 10 }), logger, registry: new Registry() });
    await f.start();
    await until(async () => (await log.backlog('forwarder')).length === 0);
    const status = await f.status();
    await f.stop();
    expect(failures).toBeLessThan(0);
    expect(status.lastError?.code).toBe('ROADLOG_ERR_LOG_FULL'); // a roadlog code in /status, not the raw errno
    expect(status.connected).toBe(true); // a disk problem, not Kafka's
    const values = new Set(sent.flatMap((r) => r.messages.map((m) => (m.value as Buffer).toString())));
    expect(values.size).toBe(60);
    await log.close();
  });

  it('reports a Kafka failure with its roadlog code, not the socket errno', async () => {
    const { log } = await simulatedLog();
    const refused = Object.assign(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:9092'), { name: 'KafkaJSConnectionError', code: 'ECONNREFUSED' });
    const producer = withBatches({ connect: async () => Promise.reject(refused), send: async () => [] });
    const f = new Forwarder({ log, producer, topics, gatewayId: 'gw', options, logger, registry: new Registry() });
    await f.start();
    await until(async () => (await f.status()).lastError !== undefined);
    const status = await f.status();
    await f.stop();
    expect(status.lastError?.code).toBe('ROADLOG_ERR_KAFKA_UNAVAILABLE');
    expect(status.lastError?.message).toContain('ECONNREFUSED 127.0.0.1:9092');
    await log.close();
  });

  it('an oversize dead letter goes to Kafka cut, with its full size in a header, and does not hold up what follows', async () => {
    const { log } = await simulatedLog({ partitions: 2, segmentBytes: 8 * 1024 * 1024, maxBatchDelayMs: 0 });
    await log.append({ key: 'veh-1', value: Buffer.alloc(2 * 1024 * 1024, 1), lane: 'dead', headers: [{ name: 'roadlog.dlq.reason', value: Buffer.from('oversize') }] });
    for (let i = 0; i < 5; i++) await log.append({ key: 'veh-1', value: `after-${i}` });
    const { producer, sent } = fakeProducer();
    const f = new Forwarder({ log, producer, topics, gatewayId: 'gw', options, logger, registry: new Registry() });
    await f.start();
    await until(async () => (await log.backlog('forwarder')).length === 0);
    await f.stop();
    const dead = sent.find((r) => r.topic === 'dlq')!.messages[0]!;
    expect((dead.value as Buffer).length).toBe(64 * 1024);
    expect(dead.headers!['roadlog.truncated']).toBe(String(2 * 1024 * 1024));
    expect(sent.filter((r) => r.topic === 'tele').flatMap((r) => r.messages).length).toBe(5);
    await log.close();
  });

  it('after a failed request in the middle of a partition, sends only what was not acknowledged (no copies, same order)', async () => {
    const { log } = await simulatedLog({ partitions: 1, segmentBytes: 8 * 1024 * 1024, allowSmallSegments: true, maxBatchDelayMs: 0 });
    for (let i = 0; i < 40; i++) await log.append({ key: 'veh-1', value: `${i}:${'x'.repeat(60_000)}` }); // about 2.4 MB: three requests
    const sent: ProducerRecord[] = [];
    let calls = 0;
    const producer = withBatches({
      connect: async () => undefined,
      send: async (r: ProducerRecord) => {
        if (++calls === 2) throw new Error('request timed out');
        sent.push(r);
        return [{ topicName: r.topic, partition: r.messages[0]!.partition!, errorCode: 0, baseOffset: '0' }];
      },
    });
    const f = new Forwarder({ log, producer, topics, gatewayId: 'gw', options, logger, registry: new Registry() });
    await f.start();
    await until(async () => (await log.backlog('forwarder')).length === 0);
    await f.stop();
    const order = sent.flatMap((r) => r.messages.map((m) => Number((m.value as Buffer).toString().split(':')[0])));
    expect(order).toEqual(Array.from({ length: 40 }, (_, i) => i));
    await log.close();
  });

  it('replaces a producer whose state the broker rejects (OUT_OF_ORDER_SEQUENCE_NUMBER) instead of retrying it for ever', async () => {
    const { log } = await simulatedLog();
    for (let i = 0; i < 20; i++) await log.append({ key: `veh-${i % 4}`, value: `v${i}` });
    const wedged = withBatches({
      connect: async () => undefined,
      disconnect: async () => undefined,
      send: async () => {
        throw Object.assign(new Error('The broker received an out of order sequence number'), { type: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
      },
    });
    const fresh = fakeProducer();
    let made = 0;
    const f = new Forwarder({ log, producer: wedged, newProducer: () => (made++, fresh.producer), topics, gatewayId: 'gw', options, logger, registry: new Registry() });
    await f.start();
    await until(async () => (await log.backlog('forwarder')).length === 0);
    await f.stop();
    expect(made).toBe(1);
    expect(f.currentProducer).toBe(fresh.producer);
    expect(fresh.sent.flatMap((r) => r.messages).length).toBe(20);
    await log.close();
  });

  it('moves the cursor only over the contiguous acknowledged prefix when acks come back out of order', async () => {
    const { log } = await simulatedLog({ ...SMALL, partitions: 1 });
    // Three vehicles in three Kafka partitions: one record per batch, three batches.
    const keys = keysInDistinctPartitions(3, topics.telemetry.partitions);
    for (const key of keys) await log.append({ key, value: `from ${key}` });
    const held = new Map<string, () => void>();
    const producer = withBatches({
      connect: async () => undefined,
      send: (r: ProducerRecord) =>
        new Promise((resolve) => {
          const key = String(r.messages[0]!.key);
          held.set(key, () => resolve([{ topicName: r.topic, partition: r.messages[0]!.partition!, errorCode: 0, baseOffset: '0' }]));
        }),
    });
    const f = new Forwarder({ log, producer, topics, gatewayId: 'gw', options: ForwarderOptionsSchema.parse({ ...options, maxBatchRecords: 1 }), logger, registry: new Registry() });
    await f.start();
    // Two rounds in flight at most: the first two batches go out, the third waits for a round to end.
    await until(() => held.size === 2);
    expect((await f.status()).inFlight).toMatchObject({ batches: 3, requests: 2, records: 3 });
    const waiting = async () => (await log.backlog('forwarder')).reduce((n, p) => n + p.records, 0);
    // The second batch, then the third, acknowledged before the first: the cursor must wait for the first.
    held.get(keys[1]!)!();
    await until(() => held.size === 3);
    held.get(keys[2]!)!();
    await until(() => f.forwardedRecords === 2);
    await new Promise((r) => setTimeout(r, 50));
    expect(await waiting()).toBe(3);
    held.get(keys[0]!)!();
    await until(async () => (await waiting()) === 0);
    const status = await f.status();
    expect(status.inFlight).toMatchObject({ batches: 0, requests: 0, records: 0 });
    expect(status.latency.count).toBe(3);
    await f.stop();
    await log.close();
  });

  it('sends a partition\'s records one request at a time, in log order, and a failed request again before what follows it', async () => {
    const { log } = await simulatedLog({ ...SMALL, partitions: 1 });
    const [key] = keysInDistinctPartitions(1, topics.telemetry.partitions);
    for (let i = 0; i < 30; i++) await log.append({ key: key!, value: `v${i}` });
    const requests: string[][] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    let failNext = 2;
    const producer = withBatches({
      connect: async () => undefined,
      send: async (r: ProducerRecord) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((res) => setTimeout(res, 5));
        inFlight--;
        requests.push(r.messages.map((m) => String(m.value)));
        if (requests.length === 2 && failNext-- > 0) throw Object.assign(new Error('connection reset'), { name: 'KafkaJSConnectionError' });
        return [{ topicName: r.topic, partition: r.messages[0]!.partition!, errorCode: 0, baseOffset: '0' }];
      },
    });
    const f = new Forwarder({ log, producer, topics, gatewayId: 'gw', options: ForwarderOptionsSchema.parse({ ...options, maxBatchRecords: 4 }), logger, registry: new Registry() });
    await f.start();
    await until(() => f.forwardedRecords === 30);
    await f.stop();
    await log.close();
    expect(maxInFlight).toBe(1);
    // The failed request went again with the same records; the acknowledged ones, in order, are every record once.
    const failed = requests[1]!;
    expect(requests[2]).toEqual(failed);
    const acknowledged = requests.filter((_, i) => i !== 1).flat();
    expect(acknowledged).toEqual(Array.from({ length: 30 }, (_, i) => `v${i}`));
  });
  it('sends again the partition a send left out of its answer (the kafkajs failover bug: resolved without writing it)', async () => {
    const { log } = await simulatedLog({ ...SMALL, partitions: 1 });
    const keys = keysInDistinctPartitions(3, topics.telemetry.partitions);
    for (let i = 0; i < 30; i++) await log.append({ key: keys[i % 3]!, value: `${keys[i % 3]}:${i}` });
    const written: string[] = [];
    let first = true;
    const producer = {
      connect: async () => undefined,
      disconnect: async () => undefined,
      send: async () => [],
      sendBatch: async (b: ProducerBatch): Promise<RecordMetadata[]> => {
        const out: RecordMetadata[] = [];
        for (const { topic, messages } of b.topicMessages ?? []) {
          const partitions = [...new Set(messages.map((m) => m.partition!))];
          // The first answer leaves one partition out, and its records were never written.
          const skipped = first && partitions.length > 1 ? partitions[0] : undefined;
          first = false;
          for (const m of messages) if (m.partition !== skipped) written.push(String(m.value));
          for (const partition of partitions) if (partition !== skipped) out.push({ topicName: topic, partition, errorCode: 0, baseOffset: '0' });
        }
        return out;
      },
    } as unknown as Producer;
    const f = new Forwarder({ log, producer, topics, gatewayId: 'gw', options, logger, registry: new Registry() });
    await f.start();
    await until(async () => (await log.backlog('forwarder')).length === 0);
    await f.stop();
    await log.close();
    // Every record written once, each vehicle's in order: the left-out partition was sent again before what followed it.
    expect([...written].sort()).toEqual(Array.from({ length: 30 }, (_, i) => `${keys[i % 3]}:${i}`).sort());
    for (const key of keys) expect(written.filter((w) => w.startsWith(`${key}:`))).toEqual(Array.from({ length: 30 }, (_, i) => i).filter((i) => i % 3 === keys.indexOf(key)).map((i) => `${key}:${i}`));
  });
});

/** n keys whose Kafka partitions (murmur2, as the forwarder computes them) all differ. */
function keysInDistinctPartitions(n: number, partitions: number): string[] {
  const byPartition = new Map<number, string>();
  for (let i = 0; byPartition.size < n; i++) {
    const key = `veh-${i}`;
    const p = partitionForKey(key, partitions);
    if (!byPartition.has(p)) byPartition.set(p, key);
  }
  return [...byPartition.values()];
}
