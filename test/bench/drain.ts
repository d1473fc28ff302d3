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
 *  - latency: `roadlog edge start` from dist/ with its forwarder; the ingest benchmark's load
 *    generator as its own process, 50 MQTT clients offering each rate of RATES QoS 1 (each
 *    message's `ts` is its send time); the topic stamps records with the broker's append time
 *    (LogAppendTime), read back afterwards: send → readable in Kafka, p50/p99 over
 *    LATENCY_SECONDS after a 3 s warm-up (a fresh agent's JIT).
 *  - the same drain by the same forwarder on @platformatic/kafka (bench only, to choose a client
 *    on figures): an adapter gives it the kafkajs calls the forwarder makes.
 *  - the reference again on a 3-node Kafka started on this same machine (replication 3, min ISR
 *    2): what replication costs on this hardware, for the README's sizing of brokers.
 * Reports records/s, MB/s, the ratio to the reference, the time to drain one hour of 1k msg/s
 * (3.6M records), and CPU seconds: of each producing side (records per CPU-second: what a
 * gateway whose CPU is the limit pays) and of the broker during each phase. The reference's CPU
 * includes its JVM's start (sampled from /proc every 100 ms until it exits).
 *
 * Environment: ROADLOG_BENCH_DRAIN_RECORDS (1000000), ROADLOG_BENCH_RATES (latency phases,
 * msg/s: 1000,5000), ROADLOG_BENCH_LATENCY_SECONDS (10), ROADLOG_BENCH_LINGER (the agent's
 * lingerMs in the latency phases; default its default), ROADLOG_BENCH_PHASES (ref,drain,plt,
 * latency,ref3: a subset runs only those and writes no results file).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Producer, ProducerBatch, ProducerRecord, RecordMetadata } from 'kafkajs';
import { Kafka, logLevel } from '../../shared/kafka/kafkajs.js';
import { Registry } from 'prom-client';
import { Producer as PltProducer } from '@platformatic/kafka';
import { Forwarder, ForwarderOptionsSchema } from '../../edge/forwarder/index.js';
import { createKafka, KafkaClientOptionsSchema } from '../../shared/kafka/index.js';
import { openLog, type EdgeLog } from '../../edge/log/index.js';
import { startKafkaCluster, stopKafkaCluster } from '../../infra/kafka/cluster.js';
import { PRODUCER_PERFORMANCE_MAIN, runKafkaTool } from '../../infra/kafka/jvm.js';
import { createLogger } from '../../shared/logging/index.js';
import { startCli } from '../support/cli.js';
import { runLoadgen } from './mqtt-loadgen.js';
import { ioFullStallUs, procCpuSeconds } from './proc.js';
import { BenchResult } from './results.js';

const N = Number(process.env.ROADLOG_BENCH_DRAIN_RECORDS ?? 1_000_000);
const RATES = (process.env.ROADLOG_BENCH_RATES ?? '1000,5000').split(',').map(Number);
const LATENCY_SECONDS = Number(process.env.ROADLOG_BENCH_LATENCY_SECONDS ?? 10);
/**
 * Left out of the latency figures: a fresh agent offered 5,000 msg/s at once falls behind in its
 * first second (JIT, 50 connects, the producer's first metadata) and, near its CPU limit, needs
 * about 4 s to catch up (measured: records of the first second waited up to 2.5 s). The worst
 * latency inside the warm-up is reported beside the figures.
 */
const LATENCY_WARMUP_SECONDS = 6;
/** The agent's edge.forwarder.lingerMs in the latency phase (default: the agent's default). */
const LINGER = process.env.ROADLOG_BENCH_LINGER === undefined ? undefined : Number(process.env.ROADLOG_BENCH_LINGER);
const ALL_PHASES = 'ref,drain,plt,latency,ref3';
const PHASES = new Set((process.env.ROADLOG_BENCH_PHASES ?? ALL_PHASES).split(','));
const PARTITIONS = 12;
const RECORD_BYTES = 300;
const logger = createLogger({ level: 'error' });

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}

const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

interface Phase {
  rps: number;
  mbps: number;
  /** CPU seconds of the producing side, and of the broker meanwhile. */
  cpu: number;
  brokerCpu: number;
}

async function reference(bootstrap: string, topic: string): Promise<Phase & { line: string }> {
  let cpu = 0;
  let sampler: NodeJS.Timeout | undefined;
  const res = await runKafkaTool(
    PRODUCER_PERFORMANCE_MAIN,
    ['--topic', topic, '--num-records', String(N), '--record-size', String(RECORD_BYTES), '--throughput', '-1', '--producer-props', `bootstrap.servers=${bootstrap}`, 'acks=all', 'enable.idempotence=true', 'compression.type=none'],
    {
      timeoutMs: 600_000,
      heapMb: 512,
      onSpawn: (pid) => {
        sampler = setInterval(() => {
          try {
            cpu = procCpuSeconds(pid);
          } catch {
            // exited: the last sample stands
          }
        }, 100);
      },
    },
  );
  clearInterval(sampler);
  const line = res.stdout.trim().split('\n').filter((l) => /records sent/.test(l)).at(-1) ?? '';
  const m = /([\d.]+) records\/sec \(([\d.]+) MB\/sec\)/.exec(line);
  if (res.code !== 0 || m === null) throw new Error(`ProducerPerformance failed (${res.code}): ${res.stdout}\n${res.stderr}`);
  return { rps: Number(m[1]), mbps: Number(m[2]), cpu, brokerCpu: 0, line };
}

/**
 * The reference on a 3-node Kafka of its own on this machine: a topic of PARTITIONS partitions,
 * replication 3, min.insync.replicas 2 (what the README asks of a fleet that must not lose data);
 * the broker CPU is the three nodes' sum.
 */
async function threeNodeReference(): Promise<Phase & { line: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'roadlog-bench-kafka3-'));
  try {
    const cluster = await startKafkaCluster({ nodes: 3, dir, heapMb: 512 });
    const admin = new Kafka({ clientId: 'bench-3', brokers: cluster.bootstrapServers.split(','), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: 'ref3', numPartitions: PARTITIONS, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }] });
    await admin.disconnect();
    const brokersCpu = () => cluster.brokers.reduce((n, b) => n + procCpuSeconds(b.pid), 0);
    const before = brokersCpu();
    const r = await reference(cluster.bootstrapServers, 'ref3');
    return { ...r, brokerCpu: brokersCpu() - before };
  } finally {
    await stopKafkaCluster(dir).catch((err: unknown) => console.error('stopping the 3-node Kafka:', err));
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs a phase, adding the broker's CPU seconds meanwhile. */
async function withBrokerCpu<T extends Phase>(brokerPid: number, phase: () => Promise<T>): Promise<T> {
  const before = procCpuSeconds(brokerPid);
  const result = await phase();
  return { ...result, brokerCpu: procCpuSeconds(brokerPid) - before };
}

function cpuSince(start: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(start);
  return (u.user + u.system) / 1e6;
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

/** The forwarder drains a filled log with `producer` (kafkajs's, or the adapter below). */
async function drain(producer: Producer, topic: string, dead: string): Promise<Phase & { seconds: number; fillSeconds: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'roadlog-drain-'));
  try {
    const { log, fillSeconds } = await filledLog(dir);
    const forwarder = new Forwarder({
      log,
      producer,
      topics: { telemetry: { name: topic, partitions: PARTITIONS }, deadLetters: { name: dead, partitions: 1 } },
      gatewayId: 'bench',
      options: ForwarderOptionsSchema.parse({ heartbeatIntervalMs: 3_600_000 }),
      logger,
      registry: new Registry(),
    });
    const cpu0 = process.cpuUsage();
    const t1 = performance.now();
    await forwarder.start();
    for (;;) {
      const backlog = await log.backlog('forwarder');
      if (backlog.length === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const seconds = (performance.now() - t1) / 1000;
    const cpu = cpuSince(cpu0);
    await forwarder.stop();
    await producer.disconnect();
    await log.close();
    return { rps: N / seconds, mbps: (N * RECORD_BYTES) / seconds / 1e6, seconds, fillSeconds, cpu, brokerCpu: 0 };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A kafkajs-shaped producer on @platformatic/kafka (bench only): what the forwarder calls
 * (`sendBatch`, `send`, connect, disconnect) mapped onto one idempotent acks=all producer, so the
 * very same forwarder (pipeline, encoder, cursor) runs on either client. A send resolves with
 * one entry per partition that the broker acknowledged, as kafkajs's does.
 */
function platformaticProducer(bootstrap: string): Producer {
  const producer = new PltProducer({ clientId: 'bench-plt', bootstrapBrokers: [bootstrap], idempotent: true, acks: -1 });
  const names = new Map<string, Buffer>();
  const name = (n: string) => names.get(n) ?? names.set(n, Buffer.from(n)).get(n)!;
  const sendBatch = async (batch: ProducerBatch): Promise<RecordMetadata[]> => {
    const messages = (batch.topicMessages ?? []).flatMap(({ topic, messages: ms }) =>
      ms.map((m) => {
        const headers = new Map<Buffer, Buffer>();
        for (const [k, v] of Object.entries(m.headers ?? {})) headers.set(name(k), Buffer.isBuffer(v) ? v : Buffer.from(String(v)));
        return { topic, key: Buffer.from(m.key as string), value: m.value as Buffer, headers, partition: m.partition! };
      }),
    );
    const res = await producer.send({ messages });
    return (res.offsets ?? []).map((o) => ({ topicName: o.topic, partition: o.partition, errorCode: 0, baseOffset: String(o.offset) }));
  };
  return {
    connect: async () => undefined,
    disconnect: () => producer.close(),
    sendBatch,
    send: (r: ProducerRecord) => sendBatch({ topicMessages: [{ topic: r.topic, messages: r.messages }] }),
  } as unknown as Producer;
}

/** The latency phase's topics at `rate`: `{prefix}.telemetry.v1` and the others, made with the drain's. */
const latencyPrefix = (rate: number) => `lat${rate}`;
const latencyTopics = (rate: number) => ['telemetry', 'dead-letters', 'gateway-status'].map((t) => `${latencyPrefix(rate)}.${t}.v1`);

async function latency(bootstrap: string, kafka: Kafka, rate: number): Promise<{ p50: number; p99: number; n: number; warmupMax: number; acked: number; agentCpu: number; agentLatency: { p50Ms: number; p99Ms: number } | undefined; ioStallMs: number | undefined }> {
  const dir = await mkdtemp(join(tmpdir(), 'roadlog-drain-lat-'));
  const prefix = latencyPrefix(rate);
  const file = join(dir, 'roadlog.yaml');
  await writeFile(file, JSON.stringify({ log: { level: 'error' }, kafka: { brokers: [bootstrap] }, topics: { prefix }, edge: { gatewayId: 'bench', dataDir: join(dir, 'data'), ...(LINGER === undefined ? {} : { forwarder: { lingerMs: LINGER } }), mqtt: { host: '127.0.0.1', port: 0, allowAnonymous: true, rateLimit: { messagesPerSecond: 100_000, burst: 100_000 } }, http: { port: 0 } } }));
  const agent = startCli(['edge', 'start', '--config', file]);
  try {
    let port: number | undefined;
    for (let i = 0; i < 400 && port === undefined; i++) {
      const m = /^mqtt mqtt:\/\/[^:]+:(\d+)$/m.exec(agent.output.stdout);
      if (m !== null) port = Number(m[1]);
      else await new Promise((r) => setTimeout(r, 50));
    }
    if (port === undefined) throw new Error(`agent did not start: ${agent.output.stderr}`);
    const agentCpu0 = procCpuSeconds(agent.child.pid!);
    const io0 = ioFullStallUs();
    const load = await runLoadgen({ url: `mqtt://127.0.0.1:${port}`, mode: 'open', clients: 50, rate, seconds: LATENCY_SECONDS, warmupSeconds: LATENCY_WARMUP_SECONDS, seqBase: 0, stampSendTime: true });
    const acked = load.acked;
    // The topic stamps each record with the broker's append time (LogAppendTime): the moment it
    // became readable. So the consumer reads afterwards, not competing for the CPU meanwhile, and
    // its own fetch delay is not counted. Latency: the publisher's send time (`ts`) to that stamp;
    // records sent in the warm-up (a fresh agent's JIT, the clients' connects) are left out.
    const sent: number[] = [];
    const consumer = kafka.consumer({ groupId: `${prefix}-lat`, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic: `${prefix}.telemetry.v1`, fromBeginning: true });
    await consumer.run({
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) sent.push((JSON.parse(m.value!.toString()) as { ts: number }).ts, Number(m.timestamp));
      },
    });
    // Until every acknowledged message was read (or 60 s).
    const deadline = Date.now() + 60_000;
    while (sent.length / 2 < acked && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    let first = Infinity;
    for (let i = 0; i < sent.length; i += 2) first = Math.min(first, sent[i]!);
    const samples: number[] = [];
    let warmupMax = 0;
    for (let i = 0; i < sent.length; i += 2) {
      if (sent[i]! >= first + LATENCY_WARMUP_SECONDS * 1000) samples.push(sent[i + 1]! - sent[i]!);
      else warmupMax = Math.max(warmupMax, sent[i + 1]! - sent[i]!);
    }
    const agentCpu = procCpuSeconds(agent.child.pid!) - agentCpu0;
    const io1 = ioFullStallUs();
    const ioStallMs = io0 === undefined || io1 === undefined ? undefined : (io1 - io0) / 1000;
    // The agent's own view: from each record's append (its PUBACK follows) to Kafka's ack.
    const http = /^http (http:\/\/\S+)$/m.exec(agent.output.stdout)?.[1];
    const agentLatency = http === undefined ? undefined : ((await (await fetch(`${http}/status`)).json()) as { latency: { p50Ms: number; p99Ms: number } }).latency;
    await consumer.disconnect();
    return { p50: percentile(samples, 50), p99: percentile(samples, 99), n: samples.length, warmupMax, acked, agentCpu, agentLatency, ioStallMs };
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
    const brokerPid = cluster.brokers[0]!.pid;
    const kafka = new Kafka({ clientId: 'bench', brokers: [bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    const names = ['ref', 'drain', 'drain-plt', 'drain-dead', ...RATES.flatMap(latencyTopics)];
    const partitions = (topic: string) => (topic === 'drain-dead' || topic.endsWith('dead-letters.v1') || topic.endsWith('gateway-status.v1') ? 1 : PARTITIONS);
    // The latency phases' telemetry topics stamp records with the broker's append time (see latency()).
    const appendTime = new Set(RATES.map((rate) => `${latencyPrefix(rate)}.telemetry.v1`));
    await admin.createTopics({
      waitForLeaders: true,
      topics: names.map((topic) => ({ topic, numPartitions: partitions(topic), replicationFactor: 1, ...(appendTime.has(topic) ? { configEntries: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }] } : {}) })),
    });
    await admin.disconnect();
    const hour = 3_600_000;
    const rows: { name: string; p: Phase }[] = [];
    let ref: Phase | undefined;
    let d: Phase | undefined;
    if (PHASES.has('ref')) {
      const r = await withBrokerCpu(brokerPid, () => reference(bootstrap, 'ref'));
      console.log(`reference (ProducerPerformance): ${r.line}`);
      rows.push({ name: "reference: Kafka's ProducerPerformance", p: (ref = r) });
    }
    if (PHASES.has('drain')) {
      const producer = createKafka(KafkaClientOptionsSchema.parse({ brokers: [bootstrap] })).producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
      const r = await withBrokerCpu(brokerPid, () => drain(producer, 'drain', 'drain-dead'));
      console.log(`forwarder drain: ${fmt(N)} records in ${r.seconds.toFixed(1)} s = ${fmt(r.rps)} records/s (log filled in ${r.fillSeconds.toFixed(1)} s beforehand)`);
      rows.push({ name: 'forwarder (kafkajs)', p: (d = r) });
    }
    if (PHASES.has('plt')) {
      const r = await withBrokerCpu(brokerPid, () => drain(platformaticProducer(bootstrap), 'drain-plt', 'drain-dead'));
      console.log(`the forwarder on @platformatic/kafka: ${fmt(N)} records in ${r.seconds.toFixed(1)} s = ${fmt(r.rps)} records/s`);
      rows.push({ name: 'the same forwarder on @platformatic/kafka (bench only)', p: r });
    }
    const lat: { rate: number; l: Awaited<ReturnType<typeof latency>> }[] = [];
    if (PHASES.has('latency')) {
      for (const rate of RATES) {
        const l = await latency(bootstrap, kafka, rate);
        console.log(`PUBACK → readable in Kafka at ${fmt(rate)} msg/s offered (${LATENCY_SECONDS} s after a ${LATENCY_WARMUP_SECONDS} s warm-up): p50 ${l.p50} ms, p99 ${l.p99} ms over ${fmt(l.n)} records (${fmt(l.acked)} acknowledged; worst in the warm-up ${fmt(l.warmupMax)} ms); the agent's append → Kafka ack: p50 ≤ ${l.agentLatency?.p50Ms} ms, p99 ≤ ${l.agentLatency?.p99Ms} ms; agent CPU ${l.agentCpu.toFixed(1)} s; machine I/O stall (PSI full) ${l.ioStallMs?.toFixed(0)} ms`);
        lat.push({ rate, l });
      }
    }
    let ref3: Phase | undefined;
    if (PHASES.has('ref3')) {
      const r = await threeNodeReference();
      console.log(`reference on a 3-node Kafka (replication 3, min ISR 2), same machine: ${r.line}`);
      rows.push({ name: "reference on a 3-node Kafka on this machine (replication 3, min ISR 2)", p: (ref3 = r) });
    }
    console.table(rows.map(({ name, p }) => ({ name, 'records/s': fmt(p.rps), 'MB/s': p.mbps.toFixed(2), 'records per CPU-s': fmt(N / p.cpu), 'broker CPU-s': p.brokerCpu.toFixed(1), '1 h of 1k msg/s': `${(hour / p.rps / 60).toFixed(1)} min` })));
    console.log(`load average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    if (PHASES.size < ALL_PHASES.split(',').length) {
      console.log('(a subset of the phases: no results file written)');
      return;
    }
    const ratio = d!.rps / ref!.rps;
    result.figure("backlog drain vs Kafka's ProducerPerformance", `${ratio.toFixed(2)}× (${fmt(d!.rps)} / ${fmt(ref!.rps)} records/s)`, '≥ 0.5×', ratio >= 0.5);
    result.figure('3-node Kafka vs 1 node, same machine (ProducerPerformance, replication 3)', `${(ref3!.rps / ref!.rps).toFixed(2)}× (${fmt(ref3!.rps)} / ${fmt(ref!.rps)} records/s)`);
    result.figure('one hour of 1k msg/s drained in', `${(hour / d!.rps / 60).toFixed(1)} min`, '< 1 min', hour / d!.rps / 60 < 1);
    for (const { rate, l } of lat) {
      result.figure(`MQTT PUBACK → readable in Kafka at ${fmt(rate)} msg/s, p50`, `${l.p50} ms`, '≤ 20 ms', l.p50 <= 20);
      result.figure(`the same at ${fmt(rate)} msg/s, p99`, `${l.p99} ms (${fmt(l.n)} records)`, '≤ 100 ms', l.p99 <= 100);
    }
    result.section('Drain', [
      '| | records/s | MB/s | records per CPU-second | broker CPU-s | 1 h of 1k msg/s drains in |',
      '|---|---:|---:|---:|---:|---:|',
      ...rows.map(({ name, p }) => `| ${name} | ${fmt(p.rps)} | ${p.mbps.toFixed(2)} | ${fmt(N / p.cpu)} | ${p.brokerCpu.toFixed(1)} | ${(hour / p.rps / 60).toFixed(1)} min |`),
    ].join('\n'));
    result.section('Latency', [
      '| offered | publish → readable in Kafka, p50 | p99 | records | worst in the warm-up | the agent\'s histogram, append → Kafka ack: p50 | p99 | agent CPU per 1,000 messages | machine I/O stall meanwhile |',
      '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...lat.map(({ rate, l }) => `| ${fmt(rate)} msg/s | ${l.p50} ms | ${l.p99} ms | ${fmt(l.n)} | ${fmt(l.warmupMax)} ms | ≤ ${l.agentLatency?.p50Ms} ms | ≤ ${l.agentLatency?.p99Ms} ms | ${((l.agentCpu / l.acked) * 1000 * 1000).toFixed(1)} ms | ${l.ioStallMs === undefined ? '-' : `${l.ioStallMs.toFixed(0)} ms`} |`),
    ].join('\n'));
    result.section('Conditions', `${fmt(N)} records of ${RECORD_BYTES} bytes over 1,000 keys, ${PARTITIONS} Kafka partitions, acks=all, idempotent, no compression; a 1-node Kafka on loopback, except the last row's reference: a 3-node Kafka (512 MB heap each) started on the same machine, its topic replicated 3 times with min.insync.replicas 2, broker CPU summed over the three. Records per CPU-second: the producing process's user+system CPU over the phase (the reference's includes its JVM's start). Latency: \`roadlog edge start\` from dist/ with its forwarder (default settings), QoS 1 from 50 clients for ${LATENCY_SECONDS} s per rate after a ${LATENCY_WARMUP_SECONDS} s warm-up, measured from the publisher's send time (the load generator, its own process) to the broker's append time (the topic's \`message.timestamp.type=LogAppendTime\`; the records are read back after the phase, so no consumer competes for the CPU meanwhile and its fetch delay is not counted); agent CPU from /proc over the publishing and until every record was read back.`);
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
