import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Admin, Kafka } from 'kafkajs';
import { runCli, startCli } from '../../support/cli.js';
import { createTopicsReady, randomName, testKafka, waitFor } from '../../support/kafka.js';
import { decodeEnvelopeHeaders, encodeEnvelopeHeaders } from '../../../shared/envelope/index.js';
import { exampleTelemetry } from '../../../shared/schema/index.js';

/** `roadlog topics ...` and `roadlog tail` run as a user runs them, against the real broker. */
const brokers = inject('kafkaBrokers');
const env = { ROADLOG_HOME: inject('roadlogHome'), ROADLOG_KAFKA_BROKERS: brokers, ROADLOG_LOG_LEVEL: 'error' };
let kafka: Kafka;
let admin: Admin;

beforeAll(async () => {
  kafka = testKafka(brokers);
  admin = kafka.admin();
  await admin.connect();
});
afterAll(async () => {
  await admin.disconnect();
});

describe('roadlog topics', () => {
  it('apply creates the seven topics, and a second apply changes nothing', async () => {
    const prefix = randomName('apply');
    const first = await runCli(['topics', 'apply', '--prefix', prefix], { env });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout.match(/: created \(/g)?.length).toBe(7);
    expect(first.stdout).toContain(`${prefix}.telemetry.v1: created (12 partitions, RF 1)`);

    const second = await runCli(['topics', 'apply', '--prefix', prefix, '--format', 'json'], { env });
    expect(second.stderr).toBe('');
    expect(second.code).toBe(0);
    const actions = JSON.parse(second.stdout) as { action: string }[];
    expect(actions.map((a) => a.action)).toEqual(Array(7).fill('unchanged'));

    const topics = await admin.listTopics();
    for (const name of ['telemetry', 'alerts', 'dead-letters', 'gateway-status', 'vehicles']) expect(topics).toContain(`${prefix}.${name}.v1`);
  });

  it('apply repairs drift: a changed config and too few partitions', async () => {
    const prefix = randomName('drift');
    expect((await runCli(['topics', 'apply', '--prefix', prefix], { env })).code).toBe(0);
    const alerts = `${prefix}.alerts.v1`;
    await admin.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: alerts, configEntries: [{ name: 'retention.ms', value: '1000' }, { name: 'cleanup.policy', value: 'delete' }] }] });
    const telemetryEnv = { ...env, ROADLOG_TOPICS_TELEMETRY_PARTITIONS: '16' };
    const fix = await runCli(['topics', 'apply', '--prefix', prefix], { env: telemetryEnv });
    expect(fix.code).toBe(0);
    expect(fix.stdout).toContain(`${prefix}.telemetry.v1: updated: partitions 12 → 16`);
    expect(fix.stdout).toMatch(new RegExp(`${prefix}\\.alerts\\.v1: updated: retention\\.ms 1000 → 2592000000`));
    const again = await runCli(['topics', 'apply', '--prefix', prefix, '--format', 'json'], { env: telemetryEnv });
    expect((JSON.parse(again.stdout) as { action: string }[]).every((a) => a.action === 'unchanged')).toBe(true);
  });

  it('create, list and describe show partitions, leaders, ISR, offsets and configs', async () => {
    const topic = randomName('described');
    const created = await runCli(['topics', 'create', topic, '--partitions', '4', '--replication', '1', '--config-entry', 'cleanup.policy=compact'], { env });
    expect(created.code).toBe(0);
    expect(created.stdout).toContain(`created ${topic} (4 partitions, RF 1)`);

    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ key: 'a', value: '1', partition: 2 }, { key: 'b', value: '2', partition: 2 }] });
    await producer.disconnect();

    const list = await runCli(['topics', 'list', '--format', 'json'], { env });
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toContainEqual({ topic, partitions: 4, replicationFactor: 1 });

    const json = await runCli(['topics', 'describe', topic, '--format', 'json'], { env });
    expect(json.code).toBe(0);
    const d = JSON.parse(json.stdout) as { partitions: { partition: number; leader: number; isr: number[]; latest: string }[]; configs: Record<string, { value: string }> };
    expect(d.partitions.map((p) => p.partition)).toEqual([0, 1, 2, 3]);
    expect(d.partitions[2]!.latest).toBe('2');
    expect(d.partitions.every((p) => p.leader >= 0 && p.isr.length === 1)).toBe(true);
    expect(d.configs['cleanup.policy']?.value).toBe('compact');

    const table = await runCli(['topics', 'describe', topic], { env });
    expect(table.stdout).toMatch(/PARTITION\s+LEADER\s+REPLICAS\s+ISR\s+EARLIEST\s+LATEST/);
    expect(table.stdout).toMatch(/cleanup\.policy\s+compact\s+topic/);
  });

  it('refuses a replication factor larger than the cluster, with a usage error', async () => {
    const r = await runCli(['topics', 'create', randomName('rf'), '--replication', '3'], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^roadlog: ROADLOG_ERR_USAGE --replication: 3 is more than the 1 broker/);
  });

  it('describe of a missing topic is one line with its code, exit 1', async () => {
    const r = await runCli(['topics', 'describe', 'no-such-topic-here'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^roadlog: ROADLOG_ERR_KAFKA_TOPIC_NOT_FOUND .*no-such-topic-here/)]);
  });
});

describe('roadlog tail', () => {
  let topic: string;
  const records = Array.from({ length: 30 }, (_, i) => exampleTelemetry({ vehicleId: `VH-${i % 3}`, seq: Math.floor(i / 3) }));

  beforeAll(async () => {
    topic = randomName('tail');
    await createTopicsReady(admin, [{ topic, numPartitions: 3, replicationFactor: 1 }]);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic,
      messages: records.map((r, i) => ({
        key: r.vehicleId,
        value: JSON.stringify(r),
        headers: encodeEnvelopeHeaders({ gatewayId: 'gw-1', edgeLog: '00000000000000aa', edgeLane: 'normal', edgePartition: 0, edgeOffset: BigInt(i), schemaVersion: 1, ingestTs: 1_767_225_600_000 + i }),
      })),
    });
    await producer.disconnect();
  });

  it('--from-beginning --limit N --format json prints N records and exits', async () => {
    const r = await runCli(['tail', topic, '--from-beginning', '--limit', '30', '--format', 'json'], { env });
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { topic: string; partition: number; offset: string; key: string; headers: Record<string, string>; value: string });
    expect(lines.length).toBe(30);
    for (const line of lines) {
      expect(line.topic).toBe(topic);
      expect(typeof line.partition).toBe('number');
      expect(line.offset).toMatch(/^\d+$/);
      expect(decodeEnvelopeHeaders(line.headers)?.gatewayId).toBe('gw-1');
      expect((JSON.parse(line.value) as { vehicleId: string }).vehicleId).toBe(line.key);
    }
    // Per key, in the order produced.
    for (const vehicle of ['VH-0', 'VH-1', 'VH-2']) {
      const seqs = lines.filter((l) => l.key === vehicle).map((l) => (JSON.parse(l.value) as { seq: number }).seq);
      expect(seqs).toEqual(Array.from({ length: 10 }, (_, i) => i));
    }
  });

  it('--key filters to one vehicle; --limit stops early', async () => {
    const r = await runCli(['tail', topic, '--from-beginning', '--key', 'VH-1', '--limit', '4', '--format', 'json'], { env });
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { key: string; value: string });
    expect(lines.map((l) => l.key)).toEqual(['VH-1', 'VH-1', 'VH-1', 'VH-1']);
    expect(lines.map((l) => (JSON.parse(l.value) as { seq: number }).seq)).toEqual([0, 1, 2, 3]);
  });

  it('--partition reads one partition only', async () => {
    const offsets = await admin.fetchTopicOffsets(topic);
    const p = offsets.find((o) => Number(o.high) > 0)!;
    const r = await runCli(['tail', topic, '--from-beginning', '--partition', String(p.partition), '--limit', p.high, '--format', 'json'], { env });
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { partition: number });
    expect(lines.length).toBe(Number(p.high));
    expect(new Set(lines.map((l) => l.partition))).toEqual(new Set([p.partition]));
  });

  it('--format pretty shows the headers and the indented value', async () => {
    const r = await runCli(['tail', topic, '--from-beginning', '--limit', '1'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`── ${topic} \\[\\d\\] @0 .* key=VH-\\d`));
    expect(r.stdout).toContain('roadlog.gateway: gw-1');
    expect(r.stdout).toContain('  "vehicleId": "VH-');
  });

  it('follows new records until Ctrl-C, then exits 0 with a count', async () => {
    const tailing = startCli(['tail', topic, '--format', 'json'], { env });
    try {
      // Produce until the tail (which starts at the end of the log) has printed something:
      // it may join its group after the first sends.
      const producer = kafka.producer();
      await producer.connect();
      await waitFor(async () => {
        await producer.send({ topic, messages: [{ key: 'VH-live', value: JSON.stringify(exampleTelemetry({ vehicleId: 'VH-live' })) }] });
        return tailing.output.stdout.includes('"key":"VH-live"') ? true : undefined;
      }, 60_000, 'tail to print a live record', 500);
      await producer.disconnect();
      tailing.child.kill('SIGINT');
      const { code } = await tailing.exited;
      expect(code).toBe(0);
      expect(tailing.output.stderr).toMatch(/^roadlog: \d+ record\(s\)$/m);
      for (const line of tailing.output.stdout.trim().split('\n')) expect((JSON.parse(line) as { key: string }).key).toBe('VH-live');
    } finally {
      tailing.child.kill('SIGKILL');
    }
  });

  it('a missing topic is one clear line with its code, exit 1, no stack trace', async () => {
    const r = await runCli(['tail', 'missing-topic-xyz', '--limit', '1'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('roadlog: ROADLOG_ERR_KAFKA_TOPIC_NOT_FOUND tail: topic "missing-topic-xyz" does not exist (see `roadlog topics list`)\n');
    const verbose = await runCli(['tail', 'missing-topic-xyz', '--limit', '1', '--verbose'], { env });
    expect(verbose.code).toBe(1);
    expect(verbose.stderr).toMatch(/\n\s+at /);
  });

  it('a partition the topic does not have is a usage error', async () => {
    const r = await runCli(['tail', topic, '--partition', '7', '--limit', '1'], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ROADLOG_ERR_USAGE --partition: topic .* has partitions 0\.\.2, got 7/);
  });
});

describe('when Kafka is down', () => {
  let blackHole: Server;
  const sockets: Socket[] = [];
  let closedPort: number;

  beforeAll(async () => {
    // A port nothing listens on (connection refused) and a server that accepts and never answers.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    closedPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    blackHole = createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => blackHole.listen(0, '127.0.0.1', r));
  });
  afterAll(async () => {
    sockets.forEach((s) => s.destroy());
    await new Promise<void>((r) => blackHole.close(() => r()));
  });

  for (const [what, args] of [
    ['topics list', ['topics', 'list']],
    ['topics describe', ['topics', 'describe', 'x']],
    ['topics apply', ['topics', 'apply']],
    ['tail', ['tail', 'x', '--limit', '1']],
  ] as const) {
    it(`${what} fails with ROADLOG_ERR_KAFKA_UNAVAILABLE on a refused port, and on a black hole within the operation timeout`, async () => {
      const refused = await runCli([...args, '--brokers', `127.0.0.1:${closedPort}`], { env, timeoutMs: 60_000 });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/^roadlog: ROADLOG_ERR_KAFKA_UNAVAILABLE /);

      const port = (blackHole.address() as AddressInfo).port;
      const silent = await runCli([...args, '--brokers', `127.0.0.1:${port}`], { env: { ...env, ROADLOG_KAFKA_OPERATION_TIMEOUT_MS: '3000' }, timeoutMs: 60_000 });
      expect(silent.signal).toBeNull(); // it ended by itself, not killed by the test's timeout
      // A liveness bound, not a speed claim: 3 s operation timeout + 2 s to give up on disconnect + start-up.
      expect(silent.ms).toBeLessThan(20_000);
      expect(silent.code).toBe(1);
      expect(silent.stderr).toMatch(/^roadlog: ROADLOG_ERR_KAFKA_UNAVAILABLE /);
    });
  }
});
