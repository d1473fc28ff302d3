import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from '../../../shared/kafka/kafkajs.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoadlogError } from '../../../shared/errors/index.js';
import { kafkaClusterStatus, startKafkaCluster, stopKafkaCluster, type KafkaClusterInfo } from '../../../infra/kafka/cluster.js';
import { isAlive } from '../../../infra/service/index.js';

let root: string;
let info: KafkaClusterInfo;
let kafka: Kafka;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'roadlog-kafka-'));
  info = await startKafkaCluster({ nodes: 1, dir: join(root, 'kafka') });
  kafka = new Kafka({ clientId: 'infra-test', brokers: info.bootstrapServers.split(','), logLevel: logLevel.NOTHING });
}, 120_000);

afterAll(async () => {
  await stopKafkaCluster(join(root, 'kafka')).catch(() => undefined);
  await rm(root, { recursive: true, force: true });
}, 60_000);

describe('a 1-node KRaft cluster', () => {
  it('answers describeCluster with its one broker', async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const cluster = await admin.describeCluster();
      expect(cluster.clusterId).toBe(info.clusterId);
      expect(cluster.brokers).toEqual([{ nodeId: 1, host: '127.0.0.1', port: info.brokers[0]?.port }]);
    } finally {
      await admin.disconnect();
    }
    const status = await kafkaClusterStatus(info.dir);
    expect(status.brokers).toEqual([{ nodeId: 1, pid: info.brokers[0]?.pid, alive: true }]);
  });

  it('speaks to kafkajs 2.2.4: createTopics, idempotent produce with acks=all, consumer group, committed offsets', async () => {
    const topic = `compat-${Date.now()}`;
    const admin = kafka.admin();
    await admin.connect();
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    const consumer = kafka.consumer({ groupId: `${topic}-g` });
    try {
      expect(await admin.createTopics({ topics: [{ topic }], waitForLeaders: true })).toBe(true);
      const meta = await admin.fetchTopicMetadata({ topics: [topic] });
      expect(meta.topics[0]?.partitions).toHaveLength(3); // num.partitions=3

      await producer.connect();
      const sent = Array.from({ length: 30 }, (_, i) => ({ key: `v${i % 5}`, value: `m${i}` }));
      await producer.send({ topic, acks: -1, messages: sent });

      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const got: string[] = [];
      await new Promise<void>((resolve) => {
        void consumer.run({
          eachMessage: async ({ message }) => {
            got.push(message.value?.toString() ?? '');
            if (got.length === sent.length) resolve();
          },
        });
      });
      expect(got.sort()).toEqual(sent.map((m) => m.value).sort());
      await consumer.stop();
      const offsets = await admin.fetchOffsets({ groupId: `${topic}-g`, topics: [topic] });
      const committed = offsets[0]?.partitions.reduce((sum, p) => sum + Number(p.offset), 0);
      expect(committed).toBe(sent.length);
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await admin.disconnect();
    }
  });

  it('refuses a second start from the same directory', async () => {
    const err = await startKafkaCluster({ nodes: 1, dir: info.dir }).catch((e: unknown) => e);
    expect(isRoadlogError(err, 'ROADLOG_ERR_SERVICE_ALREADY_RUNNING')).toBe(true);
  });

  it('stops: the broker process is gone and status says so', async () => {
    const pid = info.brokers[0]?.pid as number;
    await stopKafkaCluster(info.dir);
    expect(isAlive(pid)).toBe(false);
    const status = await kafkaClusterStatus(info.dir);
    expect(status.brokers.every((b) => !b.alive)).toBe(true);
    await stopKafkaCluster(info.dir); // idempotent
  });
});
