import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Admin, Consumer, EachMessagePayload, Kafka } from 'kafkajs';
import { createTopicsReady, randomName, testKafka, waitFor } from '../../support/kafka.js';

/**
 * Proves the client (kafkajs 2.2.4) against the broker we pin (Apache Kafka 4.x, KRaft,
 * 1 node): produce, consume in a group, commit offsets and resume from them, and a
 * transactional consume-transform-produce with sendOffsets.
 */
const brokers = inject('kafkaBrokers');
let kafka: Kafka;
let admin: Admin;
const consumers: Consumer[] = [];

beforeAll(async () => {
  kafka = testKafka(brokers);
  admin = kafka.admin();
  await admin.connect();
});

afterAll(async () => {
  await Promise.all(consumers.map((c) => c.disconnect().catch(() => undefined)));
  await admin.disconnect();
});

async function createTopic(partitions = 3): Promise<string> {
  const topic = randomName('client');
  await createTopicsReady(admin, [{ topic, numPartitions: partitions, replicationFactor: 1 }]);
  return topic;
}

/** Consume until `count` messages arrived; returns them in arrival order. */
async function consumeN(groupId: string, topic: string, count: number, opts: { readUncommitted?: boolean; autoCommit?: boolean } = {}): Promise<EachMessagePayload[]> {
  const consumer = kafka.consumer({ groupId, readUncommitted: opts.readUncommitted ?? false, sessionTimeout: 10_000, heartbeatInterval: 1_000 });
  consumers.push(consumer);
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const got: EachMessagePayload[] = [];
  await consumer.run({ autoCommit: opts.autoCommit ?? true, eachMessage: async (payload) => void got.push(payload) });
  await waitFor(() => (got.length >= count ? true : undefined), 60_000, `${count} messages on ${topic}`);
  await consumer.disconnect();
  return got;
}

describe('kafkajs against the pinned Kafka broker', () => {
  it('answers metadata: one broker, KRaft controller elected', async () => {
    const cluster = await admin.describeCluster();
    expect(cluster.brokers.length).toBe(1);
    expect(cluster.controller).not.toBeNull();
  });

  it('produces keyed records and consumes them in a group, in order per key', async () => {
    const topic = await createTopic(3);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const messages = Array.from({ length: 300 }, (_, i) => ({ key: `VH-${i % 10}`, value: JSON.stringify({ seq: Math.floor(i / 10) }) }));
    const acks = await producer.send({ topic, acks: -1, messages });
    await producer.disconnect();
    expect(acks.every((a) => a.errorCode === 0)).toBe(true);

    const got = await consumeN(randomName('g'), topic, 300);
    expect(got.length).toBe(300);
    const seqByKey = new Map<string, number[]>();
    for (const { message } of got) {
      const key = message.key!.toString();
      seqByKey.set(key, [...(seqByKey.get(key) ?? []), (JSON.parse(message.value!.toString()) as { seq: number }).seq]);
    }
    expect(seqByKey.size).toBe(10);
    for (const [key, seqs] of seqByKey) expect(seqs, key).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it('commits offsets; a consumer of the same group resumes after them', async () => {
    const topic = await createTopic(1);
    const group = randomName('g');
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: Array.from({ length: 50 }, (_, i) => ({ key: 'k', value: String(i) })) });

    // First consumer: read everything, commit explicitly.
    const first = kafka.consumer({ groupId: group, sessionTimeout: 10_000, heartbeatInterval: 1_000 });
    consumers.push(first);
    await first.connect();
    await first.subscribe({ topic, fromBeginning: true });
    const seen: string[] = [];
    await first.run({ autoCommit: false, eachMessage: async ({ message }) => void seen.push(message.value!.toString()) });
    await waitFor(() => (seen.length >= 50 ? true : undefined), 60_000, '50 messages');
    await first.commitOffsets([{ topic, partition: 0, offset: '50' }]);
    await first.disconnect();

    const committed = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    expect(committed[0]?.partitions[0]?.offset).toBe('50');

    // Then 10 more; a new member of the group starts at 50 and sees only those.
    await producer.send({ topic, acks: -1, messages: Array.from({ length: 10 }, (_, i) => ({ key: 'k', value: String(50 + i) })) });
    await producer.disconnect();
    const resumed = await consumeN(group, topic, 10);
    expect(resumed.map((p) => p.message.value!.toString())).toEqual(Array.from({ length: 10 }, (_, i) => String(50 + i)));
  });

  it('runs a transaction with sendOffsets: output and input offsets commit together, aborts stay invisible', async () => {
    const input = await createTopic(1);
    const output = await createTopic(1);
    const group = randomName('txg');
    const plain = kafka.producer();
    await plain.connect();
    await plain.send({ topic: input, acks: -1, messages: Array.from({ length: 20 }, (_, i) => ({ key: 'k', value: String(i) })) });
    await plain.disconnect();

    const txProducer = kafka.producer({ transactionalId: randomName('tx'), idempotent: true, maxInFlightRequests: 1 });
    await txProducer.connect();

    // An aborted transaction: its record must never reach a read_committed consumer.
    const aborted = await txProducer.transaction();
    await aborted.send({ topic: output, messages: [{ key: 'k', value: 'aborted' }] });
    await aborted.abort();

    // Committed: transform the 20 inputs and commit the group's input offset atomically.
    const tx = await txProducer.transaction();
    await tx.send({ topic: output, messages: Array.from({ length: 20 }, (_, i) => ({ key: 'k', value: `out-${i}` })) });
    await tx.sendOffsets({ consumerGroupId: group, topics: [{ topic: input, partitions: [{ partition: 0, offset: '20' }] }] });
    await tx.commit();
    await txProducer.disconnect();

    // The coordinator writes the commit markers after EndTxn returns; until then the
    // transactional offset is pending and reads as -1. It must become 20, never stay -1.
    const committedOffset = await waitFor(async () => {
      const offsets = await admin.fetchOffsets({ groupId: group, topics: [input] });
      const offset = offsets[0]?.partitions[0]?.offset;
      return offset === '-1' ? undefined : offset;
    }, 30_000, 'the transactional offset commit');
    expect(committedOffset).toBe('20');

    const committedView = await consumeN(randomName('rc'), output, 20);
    const values = committedView.map((p) => p.message.value!.toString());
    expect(values).toEqual(Array.from({ length: 20 }, (_, i) => `out-${i}`));
    expect(values).not.toContain('aborted');

    // read_uncommitted sees the aborted record too: proof that the filter above did something.
    const uncommittedView = await consumeN(randomName('ru'), output, 21, { readUncommitted: true });
    expect(uncommittedView.map((p) => p.message.value!.toString())).toContain('aborted');
  });
});
