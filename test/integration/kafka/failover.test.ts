import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kafka } from 'kafkajs';
import { killBroker, restartBroker, startKafkaCluster, stopKafkaCluster, type KafkaClusterInfo } from '../../../infra/kafka/cluster.js';
import { createTopicsReady, randomName, testKafka, waitFor } from '../../support/kafka.js';
import { runCli } from '../../support/cli.js';
import { sendPerPartition } from '../../../shared/kafka/index.js';
import { removeTempDirs, startAgentProcess, tempDir } from '../../edge/ingress/support/agent.js';
import { readBack, startLoad, waitForEmptyBacklog } from '../edge/support/load.js';

/** Leader kills under load: 2 in `npm test`, 5 in `npm run test:faults` (ROADLOG_FAILOVER_KILLS). */
const LEADER_KILLS = Number(process.env.ROADLOG_FAILOVER_KILLS ?? 2);

/**
 * On a 3-node cluster (RF 3, min.insync.replicas 2): kill -9 the partition leader under
 * load, and show that an idempotent acks=all producer lost nothing it had been acknowledged,
 * and kept per-key order.
 *
 * The producer sends through `sendPerPartition`: a plain multi-partition kafkajs `send()`
 * can resolve without having written one partition's records when that partition's leader
 * dies (see shared/kafka/send.ts and infra/kafka/README.md). This test is what caught it.
 */
let dir: string;
let cluster: KafkaClusterInfo;
let kafka: Kafka;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'roadlog-failover-'));
  cluster = await startKafkaCluster({ nodes: 3, dir });
  kafka = testKafka(cluster.bootstrapServers);
});

afterAll(async () => {
  await stopKafkaCluster(dir).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe('3-node failover', () => {
  it('topics apply creates every topic with RF 3 and min.insync.replicas 2', async () => {
    const prefix = randomName('rf3');
    const env = { ROADLOG_HOME: join(dir, 'home'), ROADLOG_LOG_LEVEL: 'error' };
    const applied = await runCli(['topics', 'apply', '--prefix', prefix, '--brokers', cluster.bootstrapServers], { env });
    expect(applied.stderr).toBe('');
    expect(applied.stdout.match(/created \(\d+ partitions, RF 3\)/g)?.length).toBe(7);
    const described = await runCli(['topics', 'describe', `${prefix}.telemetry.v1`, '--format', 'json', '--brokers', cluster.bootstrapServers], { env });
    const d = JSON.parse(described.stdout) as { replicationFactor: number; partitions: { isr: number[] }[]; configs: Record<string, { value: string }> };
    expect(d.replicationFactor).toBe(3);
    expect(d.partitions.every((p) => p.isr.length === 3)).toBe(true);
    expect(d.configs['min.insync.replicas']?.value).toBe('2');
  });

  it('loses no acknowledged record when the partition leader is killed with SIGKILL', async () => {
    const topic = randomName('failover');
    const admin = kafka.admin();
    await admin.connect();
    await createTopicsReady(admin, [{ topic, numPartitions: 3, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }]);

    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry: { retries: 50, initialRetryTime: 100, maxRetryTime: 3_000 } });
    await producer.connect();

    const keys = Array.from({ length: 12 }, (_, i) => `VH-${i}`);
    const nextSeq = new Map(keys.map((k) => [k, 0]));
    const acked: string[] = [];
    let failedSends = 0;
    let stop = false;

    const load = (async () => {
      while (!stop) {
        const records = keys.map((key) => {
          const seq = nextSeq.get(key)!;
          nextSeq.set(key, seq + 1);
          return { key, value: `${key}:${seq}` };
        });
        try {
          await sendPerPartition(producer, { topic, partitions: 3, acks: -1, timeoutMs: 10_000, records });
          acked.push(...records.map((m) => m.value));
        } catch {
          failedSends += 1; // not acknowledged: may or may not be in Kafka; never counted as lost
        }
      }
    })();

    await waitFor(() => (acked.length >= 3_000 ? true : undefined), 120_000, '3,000 acknowledged records before the kill');
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    const leader = meta.topics[0]!.partitions.find((p) => p.partitionId === 0)!.leader;
    const ackedBeforeKill = acked.length;
    await killBroker(dir, leader, 'SIGKILL');

    // Keep producing through the election, then bring the node back and produce some more.
    await waitFor(() => (acked.length >= ackedBeforeKill + 3_000 ? true : undefined), 120_000, '3,000 more acknowledged records after the kill');
    await restartBroker(dir, leader);
    const ackedAtRestart = acked.length;
    await waitFor(() => (acked.length >= ackedAtRestart + 1_000 ? true : undefined), 120_000, '1,000 more after the restart');
    stop = true;
    await load;
    await producer.disconnect();

    const newLeader = (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions.find((p) => p.partitionId === 0)!.leader;
    const offsets = await admin.fetchTopicOffsets(topic);
    const total = offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
    await admin.disconnect();

    // Read everything back with a fresh group.
    const consumer = kafka.consumer({ groupId: randomName('verify'), sessionTimeout: 10_000, heartbeatInterval: 1_000 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const consumed: string[] = [];
    await consumer.run({ eachMessage: async ({ message }) => void consumed.push(message.value!.toString()) });
    await waitFor(() => (consumed.length >= total ? true : undefined), 120_000, `${total} records read back`);
    await consumer.disconnect();

    const present = new Set(consumed);
    const lost = acked.filter((v) => !present.has(v));
    const duplicates = consumed.length - present.size;
    console.log(
      `failover: leader ${leader} killed after ${ackedBeforeKill} acks, partition 0 leader now ${newLeader}; acked ${acked.length}, consumed ${consumed.length}, lost ${lost.length}, duplicates ${duplicates}, failed sends ${failedSends}`,
    );
    if (lost.length > 0) {
      const index = new Map(acked.map((v, i) => [v, i]));
      console.log(`lost (value, ack index; kill after ${ackedBeforeKill}, restart at ${ackedAtRestart}):`, lost.slice(0, 50).map((v) => `${v}@${index.get(v)}`).join(' '));
    }
    expect(newLeader).not.toBe(-1);
    expect(lost).toEqual([]);

    // Per-key order: the first appearance of each acknowledged seq is increasing.
    const firstSeen = new Map<string, number[]>();
    const once = new Set<string>();
    for (const v of consumed) {
      if (once.has(v)) continue;
      once.add(v);
      const [key, seq] = v.split(':') as [string, string];
      firstSeen.set(key, [...(firstSeen.get(key) ?? []), Number(seq)]);
    }
    for (const [key, seqs] of firstSeen) {
      const sorted = [...seqs].sort((a, b) => a - b);
      expect(seqs, `order of ${key}`).toEqual(sorted);
    }
  });

  it(`the edge agent's forwarder loses nothing when the telemetry leader is killed with SIGKILL ${LEADER_KILLS} times under load`, async () => {
    const prefix = randomName('fwfail');
    const env = { ROADLOG_HOME: join(dir, 'home'), ROADLOG_LOG_LEVEL: 'error' };
    const applied = await runCli(['topics', 'apply', '--prefix', prefix, '--brokers', cluster.bootstrapServers], { env });
    expect(applied.code, applied.stderr).toBe(0);
    const topic = `${prefix}.telemetry.v1`;
    const data = await tempDir();
    const agent = await startAgentProcess(
      data,
      { gatewayId: 'gw-failover', dataDir: data, mqtt: { host: '127.0.0.1', port: 0, allowAnonymous: true }, http: { port: 0 }, forwarder: { retry: { initialMs: 100, maxMs: 2_000 } } },
      20_000,
      { kafka: { brokers: cluster.bootstrapServers.split(','), requestTimeoutMs: 10_000 }, topics: { prefix } },
    );
    const admin = kafka.admin();
    await admin.connect();
    const load = await startLoad(agent.port, 30, 20);
    try {
      for (let kill = 0; kill < LEADER_KILLS; kill++) {
        const before = load.total();
        await waitFor(() => (load.total() >= before + 1_000 ? true : undefined), 60_000, '1,000 more acknowledged messages');
        const meta = await admin.fetchTopicMetadata({ topics: [topic] });
        const leader = meta.topics[0]!.partitions.find((p) => p.partitionId === kill % meta.topics[0]!.partitions.length)!.leader;
        await killBroker(dir, leader, 'SIGKILL');
        await new Promise((r) => setTimeout(r, 3_000));
        await restartBroker(dir, leader);
      }
      const after = load.total();
      await waitFor(() => (load.total() >= after + 1_000 ? true : undefined), 60_000, '1,000 more after the last restart');
      await load.stop();
      await waitForEmptyBacklog(agent);
      const { seqs, copies } = await readBack(cluster.bootstrapServers, topic, load.acked);
      for (const [id, acked] of load.acked) expect(seqs.get(id)!.slice(0, acked.length), id).toEqual(acked);
      console.log(`forwarder failover: ${LEADER_KILLS} leader kills, ${load.total()} acknowledged messages all consumed from Kafka, order kept; ${copies} re-sent copies dropped by the envelope key`);
    } finally {
      await load.stop().catch(() => undefined);
      await admin.disconnect();
      expect((await agent.stop()).code).toBe(0);
      await removeTempDirs();
    }
  }, 300_000);
});
