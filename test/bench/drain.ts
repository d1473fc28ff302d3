/**
 * Benchmark of the forwarder (`npm run bench:drain`; never part of `npm test`).
 *
 *   npx tsx test/bench/drain.ts          (~2 min with the default 1M records)
 *
 * Starts its own 1-node Kafka 4 on loopback (stopped at the end) and measures, in one run:
 *  - reference: Kafka's ProducerPerformance (from infra/kafka) writing N records of 300 bytes,
 *    acks=all, idempotent, no compression, to a topic of 12 partitions;
 *  - drain: an edge log holding N records of 300-byte values over 1,000 vehicles (filled first,
 *    not timed), drained by the forwarder (kafkajs, idempotent, acks=all, no compression) to a
 *    topic of 12 partitions, from start until its cursor is at the end of the log;
 *  - latency: `roadlog edge start` from dist/ with its forwarder, MQTT clients publishing
 *    RATE msg/s QoS 1 (each message's `ts` is its send time), and a Kafka consumer here:
 *    PUBACK → record readable in Kafka, p50/p99 over LATENCY_SECONDS (first second skipped).
 * Reports records/s, MB/s, the ratio to the reference and the time to drain one hour of
 * 1k msg/s (3.6M records).
 *
 * Environment: ROADLOG_BENCH_DRAIN_RECORDS (1000000), ROADLOG_BENCH_RATE (5000),
 * ROADLOG_BENCH_LATENCY_SECONDS (10), ROADLOG_BENCH_DRAIN_BATCH (records per batch, 10000).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import mqtt, { type MqttClient } from 'mqtt';
import { Registry } from 'prom-client';
import { Producer as PltProducer } from '@platformatic/kafka';
import { Forwarder, ForwarderOptionsSchema, toKafkaRecord } from '../../edge/forwarder/index.js';
import { openLog, type EdgeLog } from '../../edge/log/index.js';
import { partitionForKey } from '../../shared/partitioner/index.js';
import { startKafkaCluster, stopKafkaCluster } from '../../infra/kafka/cluster.js';
import { PRODUCER_PERFORMANCE_MAIN, runKafkaTool } from '../../infra/kafka/jvm.js';
import { createLogger } from '../../shared/logging/index.js';
import { exampleTelemetry } from '../../shared/schema/index.js';
import { startCli } from '../support/cli.js';
import { BenchResult } from './results.js';

const N = Number(process.env.ROADLOG_BENCH_DRAIN_RECORDS ?? 1_000_000);
const RATE = Number(process.env.ROADLOG_BENCH_RATE ?? 5_000);
const LATENCY_SECONDS = Number(process.env.ROADLOG_BENCH_LATENCY_SECONDS ?? 10);
const BATCH = Number(process.env.ROADLOG_BENCH_DRAIN_BATCH ?? 10_000);
const PARTITIONS = 12;
const RECORD_BYTES = 300;
const logger = createLogger({ level: 'error' });

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}

const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

async function reference(bootstrap: string, topic: string): Promise<{ rps: number; mbps: number; line: string }> {
  const res = await runKafkaTool(
    PRODUCER_PERFORMANCE_MAIN,
    ['--topic', topic, '--num-records', String(N), '--record-size', String(RECORD_BYTES), '--throughput', '-1', '--producer-props', `bootstrap.servers=${bootstrap}`, 'acks=all', 'enable.idempotence=true', 'compression.type=none'],
    { timeoutMs: 600_000, heapMb: 512 },
  );
  const line = res.stdout.trim().split('\n').filter((l) => /records sent/.test(l)).at(-1) ?? '';
  const m = /([\d.]+) records\/sec \(([\d.]+) MB\/sec\)/.exec(line);
  if (res.code !== 0 || m === null) throw new Error(`ProducerPerformance failed (${res.code}): ${res.stdout}\n${res.stderr}`);
  return { rps: Number(m[1]), mbps: Number(m[2]), line };
}

/** An edge log with N records of 300-byte values over 1,000 vehicles (filled before a drain, not timed). */
async function filledLog(dir: string): Promise<{ log: EdgeLog; fillSeconds: number }> {
  const log = await openLog(join(dir, 'log'), {});
  const value = Buffer.alloc(RECORD_BYTES, 'x');
  const header = [{ name: 'roadlog.schema', value: Buffer.from('1') }];
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < N) {
      const i = next++;
      await log.append({ key: `veh-${String(i % 1000).padStart(5, '0')}`, value, headers: header });
    }
  };
  await Promise.all(Array.from({ length: 256 }, worker));
  return { log, fillSeconds: (performance.now() - t0) / 1000 };
}

async function drain(kafka: Kafka, topic: string, dead: string): Promise<{ rps: number; mbps: number; seconds: number; fillSeconds: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'roadlog-drain-'));
  try {
    const { log, fillSeconds } = await filledLog(dir);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    const forwarder = new Forwarder({
      log,
      producer,
      topics: { telemetry: { name: topic, partitions: PARTITIONS }, deadLetters: { name: dead, partitions: 1 } },
      gatewayId: 'bench',
      options: ForwarderOptionsSchema.parse({ maxBatchRecords: BATCH, maxBatchBytes: 8 * 1024 * 1024, heartbeatIntervalMs: 3_600_000 }),
      logger,
      registry: new Registry(),
    });
    const t1 = performance.now();
    await forwarder.start();
    for (;;) {
      const backlog = await log.backlog('forwarder');
      if (backlog.length === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const seconds = (performance.now() - t1) / 1000;
    await forwarder.stop();
    await producer.disconnect();
    await log.close();
    return { rps: N / seconds, mbps: (N * RECORD_BYTES) / seconds / 1e6, seconds, fillSeconds };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The same drain with @platformatic/kafka (bench only, to choose a client on figures): a
 * forwarder's loop (read a batch from the cursor, the same records and envelope headers,
 * partitioned with murmur2 here, one idempotent acks=all send, every partition's ack
 * checked, commit the cursor).
 */
async function drainPlatformatic(bootstrap: string, topic: string): Promise<{ rps: number; mbps: number; seconds: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'roadlog-drain-plt-'));
  try {
    const { log } = await filledLog(dir);
    const producer = new PltProducer({ clientId: 'bench-plt', bootstrapBrokers: [bootstrap], idempotent: true, acks: -1 });
    const reader = await log.openReader('forwarder');
    const t = performance.now();
    for (;;) {
      const batch = await reader.read({ maxRecords: BATCH, maxBytes: 8 * 1024 * 1024 });
      if (batch.records.length === 0) break;
      const messages = batch.records.map((r) => {
        const k = toKafkaRecord(r, 'bench', log.logId);
        const headers = new Map<Buffer, Buffer>();
        for (const [name, v] of Object.entries(k.headers!)) headers.set(Buffer.from(name), Buffer.isBuffer(v) ? v : Buffer.from(v));
        return { topic, key: Buffer.from(k.key), value: k.value as Buffer, headers, partition: partitionForKey(k.key, PARTITIONS) };
      });
      const res = await producer.send({ messages });
      const partitions = new Set(messages.map((m) => m.partition));
      if (res.offsets?.length !== partitions.size) throw new Error(`acknowledged ${String(res.offsets?.length)} of ${partitions.size} partitions`);
      await reader.commit();
    }
    const seconds = (performance.now() - t) / 1000;
    await producer.close();
    await log.close();
    return { rps: N / seconds, mbps: (N * RECORD_BYTES) / seconds / 1e6, seconds };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function latency(bootstrap: string, kafka: Kafka): Promise<{ p50: number; p99: number; n: number; acked: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'roadlog-drain-lat-'));
  const prefix = `lat${Date.now()}`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [`${prefix}.telemetry.v1`, `${prefix}.dead-letters.v1`, `${prefix}.gateway-status.v1`].map((topic) => ({ topic, numPartitions: topic.includes('telemetry') ? PARTITIONS : 1, replicationFactor: 1 })) });
  await admin.disconnect();
  const file = join(dir, 'roadlog.yaml');
  await writeFile(file, JSON.stringify({ log: { level: 'error' }, kafka: { brokers: [bootstrap] }, topics: { prefix }, edge: { gatewayId: 'bench', dataDir: join(dir, 'data'), mqtt: { host: '127.0.0.1', port: 0, allowAnonymous: true, rateLimit: { messagesPerSecond: 100_000, burst: 100_000 } }, http: { port: 0 } } }));
  const agent = startCli(['edge', 'start', '--config', file]);
  try {
    let port: number | undefined;
    for (let i = 0; i < 400 && port === undefined; i++) {
      const m = /^mqtt mqtt:\/\/[^:]+:(\d+)$/m.exec(agent.output.stdout);
      if (m !== null) port = Number(m[1]);
      else await new Promise((r) => setTimeout(r, 50));
    }
    if (port === undefined) throw new Error(`agent did not start: ${agent.output.stderr}`);
    const consumer = kafka.consumer({ groupId: `${prefix}-lat`, maxWaitTimeInMs: 20 });
    await consumer.connect();
    await consumer.subscribe({ topic: `${prefix}.telemetry.v1`, fromBeginning: true });
    const samples: number[] = [];
    const start = Date.now();
    await consumer.run({
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => {
        const now = Date.now();
        for (const m of batch.messages) {
          const ts = (JSON.parse(m.value!.toString()) as { ts: number }).ts;
          if (ts - start > 1_000) samples.push(now - ts);
        }
      },
    });
    await new Promise((r) => setTimeout(r, 3_000)); // the group's first join
    const CLIENTS = 50;
    const clients: MqttClient[] = await Promise.all(
      Array.from({ length: CLIENTS }, (_, i) => new Promise<MqttClient>((resolve, reject) => {
        const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId: `lat-${i}`, protocolVersion: 4, reconnectPeriod: 0 });
        c.once('connect', () => resolve(c));
        c.once('error', reject);
      })),
    );
    let acked = 0;
    let seq = 0;
    const begin = Date.now();
    const total = RATE * LATENCY_SECONDS;
    while (seq < total) {
      const due = begin + (seq / RATE) * 1000;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const burstEnd = Math.min(total, Math.floor(((Date.now() - begin) / 1000) * RATE) + 1);
      for (; seq < burstEnd; seq++) {
        const c = clients[seq % CLIENTS]!;
        const id = `lat-${seq % CLIENTS}`;
        const body = JSON.stringify(exampleTelemetry({ vehicleId: id, seq, ts: Date.now() }));
        c.publish(`fleet/${id}/telemetry`, body, { qos: 1 }, (err) => void (err === undefined || err === null ? acked++ : undefined));
      }
    }
    const deadline = Date.now() + 60_000;
    while (samples.length < total - RATE - 100 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await Promise.all(clients.map((c) => c.endAsync()));
    await consumer.disconnect();
    return { p50: percentile(samples, 50), p99: percentile(samples, 99), n: samples.length, acked };
  } finally {
    if (agent.child.exitCode === null) agent.child.kill('SIGTERM');
    await agent.exited;
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'roadlog-bench-kafka-'));
  const result = new BenchResult('drain', 'Forwarder drain and PUBACK → Kafka latency', 'npm run bench:drain');
  console.log('roadlog forwarder drain benchmark');
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model.trim()}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM; Node ${process.version}; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log(`workload: ${fmt(N)} records of ${RECORD_BYTES} bytes over 1,000 keys, ${PARTITIONS} partitions, acks=all, idempotent, no compression; 1-node Kafka on loopback`);
  const cluster = await startKafkaCluster({ nodes: 1, dir, heapMb: 1024 });
  try {
    const bootstrap = cluster.bootstrapServers;
    const kafka = new Kafka({ clientId: 'bench', brokers: [bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: ['ref', 'drain', 'drain-plt', 'drain-dead'].map((topic) => ({ topic, numPartitions: topic === 'drain-dead' ? 1 : PARTITIONS, replicationFactor: 1 })) });
    await admin.disconnect();
    const ref = await reference(bootstrap, 'ref');
    console.log(`reference (ProducerPerformance): ${ref.line}`);
    const d = await drain(kafka, 'drain', 'drain-dead');
    console.log(`forwarder drain: ${fmt(N)} records in ${d.seconds.toFixed(1)} s (log filled in ${d.fillSeconds.toFixed(1)} s beforehand)`);
    const p = await drainPlatformatic(bootstrap, 'drain-plt');
    console.log(`@platformatic/kafka drain loop: ${fmt(N)} records in ${p.seconds.toFixed(1)} s`);
    const lat = await latency(bootstrap, kafka);
    const hour = 3_600_000;
    console.table([
      { name: 'reference: kafka ProducerPerformance', 'records/s': fmt(ref.rps), 'MB/s': ref.mbps.toFixed(2), '1 h of 1k msg/s': `${(hour / ref.rps / 60).toFixed(1)} min` },
      { name: 'forwarder (kafkajs)', 'records/s': fmt(d.rps), 'MB/s': d.mbps.toFixed(2), '1 h of 1k msg/s': `${(hour / d.rps / 60).toFixed(1)} min` },
      { name: 'drain loop on @platformatic/kafka', 'records/s': fmt(p.rps), 'MB/s': p.mbps.toFixed(2), '1 h of 1k msg/s': `${(hour / p.rps / 60).toFixed(1)} min` },
    ]);
    const ratio = d.rps / ref.rps;
    console.log(`forwarder (kafkajs) vs reference: ${ratio.toFixed(2)}× (target ≥ 0.5) ${ratio >= 0.5 ? 'ok' : 'MISSED'}`);
    console.log(`@platformatic/kafka loop vs reference: ${(p.rps / ref.rps).toFixed(2)}×`);
    console.log(`PUBACK → readable in Kafka at ${fmt(RATE)} msg/s offered (${LATENCY_SECONDS} s, first second skipped): p50 ${lat.p50} ms, p99 ${lat.p99} ms over ${fmt(lat.n)} records (${fmt(lat.acked)} acknowledged)`);
    console.log(`load average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);

    result.figure('backlog drain vs Kafka\'s ProducerPerformance', `${ratio.toFixed(2)}× (${fmt(d.rps)} / ${fmt(ref.rps)} records/s)`, '≥ 0.5×', ratio >= 0.5);
    result.figure('one hour of 1k msg/s drained in', `${(hour / d.rps / 60).toFixed(1)} min`, '< 1 min', hour / d.rps / 60 < 1);
    result.figure(`MQTT PUBACK → readable in Kafka at ${fmt(RATE)} msg/s, p50`, `${lat.p50} ms`, '≤ 20 ms', lat.p50 <= 20);
    result.figure('the same, p99', `${lat.p99} ms (${fmt(lat.n)} records)`, '≤ 100 ms', lat.p99 <= 100);
    result.section('Drain', [
      '| | records/s | MB/s | 1 h of 1k msg/s drains in |',
      '|---|---:|---:|---:|',
      `| reference: Kafka's ProducerPerformance | ${fmt(ref.rps)} | ${ref.mbps.toFixed(2)} | ${(hour / ref.rps / 60).toFixed(1)} min |`,
      `| forwarder (kafkajs) | ${fmt(d.rps)} | ${d.mbps.toFixed(2)} | ${(hour / d.rps / 60).toFixed(1)} min |`,
      `| the same loop on @platformatic/kafka (bench only) | ${fmt(p.rps)} | ${p.mbps.toFixed(2)} | ${(hour / p.rps / 60).toFixed(1)} min |`,
    ].join('\n'));
    result.section('Conditions', `${fmt(N)} records of ${RECORD_BYTES} bytes over 1,000 keys, ${PARTITIONS} Kafka partitions, acks=all, idempotent, no compression; a 1-node Kafka on loopback. Latency: \`roadlog edge start\` from dist/ with its forwarder, ${fmt(RATE)} msg/s QoS 1 for ${LATENCY_SECONDS} s (first second skipped), ${fmt(lat.acked)} acknowledged.`);
    await result.write();
  } finally {
    await stopKafkaCluster(dir).catch((err: unknown) => console.error('stopping Kafka:', err));
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
