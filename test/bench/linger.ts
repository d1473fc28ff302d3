/**
 * What the forwarder's `lingerMs` costs and buys at a gateway's steady rate (`npm run
 * bench:linger`; never part of `npm test`).
 *
 *   npx tsx test/bench/linger.ts        (~1 min)
 *
 * Starts its own 1-node Kafka on loopback. In this process: an edge log takes RATE appends a
 * second of 300-byte records over 1,000 vehicles for SECONDS, first with no forwarder (the
 * baseline: what the appends cost), then once per lingerMs with a forwarder sending to Kafka.
 * Reports, per lingerMs: the forwarder's CPU (this process's user+system CPU, threads included,
 * minus the baseline's) as a share of one core, per 1,000 records, the round trips it made,
 * and its own histogram of append → Kafka ack.
 *
 * Environment: ROADLOG_BENCH_RATE (1000), ROADLOG_BENCH_SECONDS (8), ROADLOG_BENCH_LINGERS
 * (0,5,10,20).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { Forwarder, ForwarderOptionsSchema } from '../../edge/forwarder/index.js';
import { openLog } from '../../edge/log/index.js';
import { startKafkaCluster, stopKafkaCluster } from '../../infra/kafka/cluster.js';
import { createKafka, KafkaClientOptionsSchema } from '../../shared/kafka/index.js';
import { createLogger } from '../../shared/logging/index.js';
import { BenchResult } from './results.js';

const RATE = Number(process.env.ROADLOG_BENCH_RATE ?? 1_000);
const SECONDS = Number(process.env.ROADLOG_BENCH_SECONDS ?? 8);
const LINGERS = (process.env.ROADLOG_BENCH_LINGERS ?? '0,5,10,20').split(',').map(Number);
const PARTITIONS = 12;
const logger = createLogger({ level: 'error' });

interface Run {
  cpuSeconds: number;
  records: number;
  roundTrips: number;
  latency: { p50Ms: number | undefined; p99Ms: number | undefined } | undefined;
}

/** RATE appends a second for SECONDS, with a forwarder at `lingerMs` (none: undefined). */
async function run(bootstrap: string, lingerMs: number | undefined): Promise<Run> {
  const dir = await mkdtemp(join(tmpdir(), 'roadlog-linger-'));
  const kafka = createKafka(KafkaClientOptionsSchema.parse({ brokers: [bootstrap] }), logger);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  let roundTrips = 0;
  const sendBatch = producer.sendBatch.bind(producer);
  producer.sendBatch = (batch) => (roundTrips++, sendBatch(batch));
  const log = await openLog(join(dir, 'log'), {});
  const forwarder =
    lingerMs === undefined
      ? undefined
      : new Forwarder({
          log,
          producer,
          topics: { telemetry: { name: 'linger', partitions: PARTITIONS }, deadLetters: { name: 'linger-dead', partitions: 1 } },
          gatewayId: 'bench',
          options: ForwarderOptionsSchema.parse({ heartbeatIntervalMs: 3_600_000, lingerMs }),
          logger,
          registry: new Registry(),
        });
  try {
    if (forwarder !== undefined) {
      await forwarder.start();
      await log.append({ key: 'warm-up', value: 'x' });
      while (forwarder.forwardedRecords === 0) await new Promise((r) => setTimeout(r, 10));
    }
    const value = Buffer.alloc(300, 'x');
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const total = RATE * SECONDS;
    let sent = 0;
    const appends: Promise<unknown>[] = [];
    while (sent < total) {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * RATE));
      for (; sent < due; sent++) appends.push(log.append({ key: `veh-${sent % 1000}`, value }));
      await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(appends);
    if (forwarder !== undefined) while (forwarder.forwardedRecords < total + 1) await new Promise((r) => setTimeout(r, 5));
    const cpu = process.cpuUsage(cpu0);
    const status = await forwarder?.status();
    return { cpuSeconds: (cpu.user + cpu.system) / 1e6, records: total, roundTrips, latency: status?.latency };
  } finally {
    await forwarder?.stop();
    await producer.disconnect();
    await log.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'roadlog-bench-kafka-'));
  const result = new BenchResult('linger', "The forwarder's lingerMs at a steady rate: CPU and latency", 'npm run bench:linger');
  const cluster = await startKafkaCluster({ nodes: 1, dir, heapMb: 512 });
  try {
    const admin = createKafka(KafkaClientOptionsSchema.parse({ brokers: [cluster.bootstrapServers] }), logger).admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: 'linger', numPartitions: PARTITIONS }, { topic: 'linger-dead', numPartitions: 1 }] });
    await admin.disconnect();
    const base = await run(cluster.bootstrapServers, undefined);
    console.log(`appends alone: ${base.cpuSeconds.toFixed(2)} CPU-s for ${base.records} records`);
    const rows: string[] = [];
    for (const linger of LINGERS) {
      const r = await run(cluster.bootstrapServers, linger);
      const cpu = Math.max(0, r.cpuSeconds - base.cpuSeconds);
      const line = `| ${linger} ms | ${((cpu / SECONDS) * 100).toFixed(0)} % | ${((cpu / r.records) * 1e6).toFixed(0)} ms | ${r.roundTrips} | ≤ ${r.latency?.p50Ms} ms | ≤ ${r.latency?.p99Ms} ms |`;
      console.log(line);
      rows.push(line);
    }
    result.section(
      `Forwarder at ${RATE.toLocaleString('en-US')} records/s`,
      [
        '| lingerMs | forwarder CPU, share of a core | CPU per 1,000 records | round trips | append → Kafka ack, p50 | p99 |',
        '|---:|---:|---:|---:|---:|---:|',
        ...rows,
        '',
        `The forwarder's CPU: this process's user+system CPU (threads included) over ${SECONDS} s of ${RATE.toLocaleString('en-US')} appends a second, minus the same appends with no forwarder (${base.cpuSeconds.toFixed(2)} CPU-s). Latency: the forwarder's own histogram (bucket bounds). 1-node Kafka on loopback, ${PARTITIONS} partitions, 300-byte values over 1,000 vehicles.`,
      ].join('\n'),
    );
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
