/**
 * Benchmark of the hot path (`npm run bench:hot`; never part of `npm test`).
 *
 *   npx tsx test/bench/hot.ts
 *
 * Starts its own 1-node Kafka 4 on loopback (stopped at the end) and measures, in one run:
 *  - throughput: a telemetry topic preloaded with a simulated fleet's records (with envelope
 *    headers, as a gateway forwards them), read to the end by
 *      reference: a plain kafkajs consumer that only decodes (JSON and the envelope headers),
 *      in a fresh process of its own;
 *      hot: `roadlog hot start` (the built CLI, its own process, as users run it: the default
 *      rule pack, transactions with its alert events and offsets, snapshots every 30 s);
 *    records/s of each and the ratio (target ≥ 0.5×), with the CPU seconds each used; then two
 *    `roadlog hot start` in one group over the same records (how far instances scale here);
 *  - latency through the whole chain, at RATE and at LOW_RATE: `roadlog sim` (vehicles × rate msg/s, device time
 *    = the wall clock) → `roadlog edge start` → Kafka → `roadlog hot start`; a consumer here
 *    reads the alert events (read_committed) as they come: device time of the record that
 *    opened an alert → the event readable in Kafka, p50/p99 over the live (not late) ones.
 *
 * Environment: ROADLOG_BENCH_HOT_VEHICLES (300: the preloaded fleet, 1 h of 1 Hz records),
 * ROADLOG_BENCH_HOT_MINUTES (60), ROADLOG_BENCH_HOT_ROUNDS (3: reference and hot path in turn;
 * the median round's ratio counts), ROADLOG_BENCH_RATE (5000), ROADLOG_BENCH_LOW_RATE (1000; 0: none),
 * ROADLOG_BENCH_HOT_WARMUP (30: seconds whose alerts are reported apart), ROADLOG_BENCH_HOT_SECONDS (90:
 * the latency run), ROADLOG_BENCH_PHASES (throughput,latency: one of them runs alone and
 * writes no results file).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from '../../shared/kafka/kafkajs.js';
import type { AlertEvent } from '../../shared/alerts/index.js';
import { topicSpecs, TopicsOptionsSchema } from '../../shared/topics/index.js';
import { startKafkaCluster, stopKafkaCluster } from '../../infra/kafka/cluster.js';
import { fleetRecords, produce } from '../integration/hot/support.js';
import { startCli, httpBaseOf } from '../support/cli.js';
import { createTopicsReady } from '../support/kafka.js';
import { histogramBuckets } from './brokers.js';
import { inChild } from './plain-consumer.js';
import { procCpuSeconds } from './proc.js';
import { BenchResult, machineLine } from './results.js';

const VEHICLES = Number(process.env.ROADLOG_BENCH_HOT_VEHICLES ?? 300);
const MINUTES = Number(process.env.ROADLOG_BENCH_HOT_MINUTES ?? 60);
const RATE = Number(process.env.ROADLOG_BENCH_RATE ?? 5000);
/** Also measured, below the target's rate: what the chain gives on this machine when it is not saturated. */
const LOW_RATE = Number(process.env.ROADLOG_BENCH_LOW_RATE ?? 1000);
const LATENCY_SECONDS = Number(process.env.ROADLOG_BENCH_HOT_SECONDS ?? 90);
/** Alerts opened in the first seconds (1,000 MQTT connections, JIT, the backlog they leave) are reported apart, as the drain bench does. */
const WARMUP_SECONDS = Number(process.env.ROADLOG_BENCH_HOT_WARMUP ?? 30);
const ROUNDS = Number(process.env.ROADLOG_BENCH_HOT_ROUNDS ?? 3);
const PHASES = new Set((process.env.ROADLOG_BENCH_PHASES ?? 'throughput,latency').split(','));
const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const percentile = (v: number[], p: number) => [...v].sort((a, b) => a - b)[Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1))] ?? NaN;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function createTopics(kafka: Kafka, prefix: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await createTopicsReady(admin, topicSpecs(TopicsOptionsSchema.parse({ prefix })).map((s) => ({ topic: s.name, numPartitions: s.partitions, replicationFactor: 1, configEntries: Object.entries(s.configs).map(([name, value]) => ({ name, value })) })));
  await admin.disconnect();
}

/** p50 and p99 (the upper bound of the bucket each falls in, ms) of a Prometheus histogram on a /metrics page. */
async function histogramQuantiles(base: string | undefined, name: string): Promise<string> {
  if (base === undefined) return 'n/a';
  const buckets = [...(await histogramBuckets(base, name))].sort(([a], [b]) => a - b);
  const total = buckets.at(-1)?.[1] ?? 0;
  if (total === 0) return 'no samples';
  const q = (p: number) => buckets.find(([, n]) => n >= p * total)![0];
  const ms = (s: number) => (Number.isFinite(s) ? `≤ ${fmt(s * 1000)} ms` : '> the last bucket');
  return `p50 ${ms(q(0.5))}, p99 ${ms(q(0.99))} (${fmt(total)} samples)`;
}

/**
 * Reads `topic` (prefix `prefix`) to its ends with `instances` × `roadlog hot start` in one
 * group, the built CLI in processes of their own, as users run it; records/s from their
 * /status (per partition, the furthest any instance got: a partition moves once when the second
 * joins), CPU from /proc, summed.
 */
async function hotProcessor(brokers: string, prefix: string, total: number, dir: string, round: number, instances = 1): Promise<{ rps: number; cpu: number }> {
  const env = { ROADLOG_KAFKA_BROKERS: brokers, ROADLOG_TOPICS_PREFIX: prefix, ROADLOG_LOG_LEVEL: 'error', ROADLOG_HOME: join(dir, 'home-tp'), ROADLOG_HOT_GROUP_ID: `bench-${prefix}-${round}-${instances}` };
  const hots = Array.from({ length: instances }, (_, i) => startCli(['hot', 'start', '--instance', `bench-${i}`, '--http-port', '0'], { env }));
  try {
    const bases = await Promise.all(hots.map((h) => httpBaseOf(h, 'roadlog hot start')));
    const cpu = () => hots.reduce((n, h) => n + procCpuSeconds(h.child.pid!), 0);
    let firstAt = 0;
    let cpu0 = 0;
    for (;;) {
      const next = new Map<number, number>();
      for (const base of bases) {
        const status = (await (await fetch(`${base}/status`)).json()) as { partitions: { partition: number; next: string }[] };
        for (const x of status.partitions) next.set(x.partition, Math.max(next.get(x.partition) ?? 0, Number(x.next)));
      }
      const read = [...next.values()].reduce((n, x) => n + x, 0);
      if (read > 0 && firstAt === 0) {
        firstAt = performance.now();
        cpu0 = cpu();
      }
      if (read >= total) break;
      const dead = hots.find((h) => h.child.exitCode !== null);
      if (dead !== undefined) throw new Error(`roadlog hot start exited: ${dead.output.stderr}`);
      await sleep(20);
    }
    return { rps: total / ((performance.now() - firstAt) / 1000), cpu: cpu() - cpu0 };
  } finally {
    for (const h of hots) if (h.child.exitCode === null) h.child.kill('SIGTERM');
    await Promise.all(hots.map((h) => h.exited));
  }
}

interface LatencyRun {
  rate: number;
  /** Alerts opened in the warm-up: how many, and the worst latency among them. */
  warmup: { n: number; worst: number };
  p50: number;
  p99: number;
  n: number;
  late: number;
  /** device time → the alert event's producer timestamp (before its transaction commits). */
  produced: { p50: number; p99: number };
  byRule: Map<string, number[]>;
  /** Stages from the components' own /metrics histograms. */
  stages: Record<string, string>;
  /** CPU of each process over the run, % of one core. */
  cpu: Record<string, number>;
  ackedRate: string;
}

async function latency(brokers: string, brokerPid: number, dir: string, rate: number): Promise<LatencyRun> {
  const prefix = `lat${rate}`;
  const env = { ROADLOG_KAFKA_BROKERS: brokers, ROADLOG_TOPICS_PREFIX: prefix, ROADLOG_LOG_LEVEL: 'error', ROADLOG_HOME: join(dir, `home-${prefix}`) };
  const config = join(dir, `edge-${prefix}.yaml`);
  // One msg/s per vehicle, `rate` vehicles would need thousands of connections: rate / 5 vehicles at 5 Hz.
  const vehicles = Math.max(1, Math.round(rate / 5));
  await writeFile(config, JSON.stringify({ edge: { gatewayId: 'bench-gw', dataDir: join(dir, `edge-${prefix}`), mqtt: { host: '127.0.0.1', port: 0, allowAnonymous: true, rateLimit: { messagesPerSecond: 100, burst: 500 } }, http: { port: 0 } } }));
  const agent = startCli(['edge', 'start', '--config', config], { env });
  const hot = startCli(['hot', 'start', '--instance', 'bench', '--http-port', '0'], { env });
  const kafka = new Kafka({ clientId: 'bench-lat', brokers: [brokers], logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `bench-${prefix}-alerts`, readUncommitted: false, maxWaitTimeInMs: 20 });
  try {
    let port: number | undefined;
    for (let i = 0; i < 400 && port === undefined; i++) {
      port = Number(/^mqtt mqtt:\/\/[^:]+:(\d+)$/m.exec(agent.output.stdout)?.[1]) || undefined;
      if (port === undefined) await sleep(50);
    }
    if (port === undefined) throw new Error(`agent did not start: ${agent.output.stderr}`);
    for (let i = 0; i < 400 && !/^http /m.test(hot.output.stdout); i++) await sleep(50);
    let simStartedAt = Date.now();
    const samples: number[] = [];
    const produced: number[] = [];
    const byRule = new Map<string, number[]>();
    let late = 0;
    const warmup = { n: 0, worst: 0 };
    await consumer.connect();
    await consumer.subscribe({ topics: [`${prefix}.alerts.v1`], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const e = JSON.parse(message.value!.toString()) as AlertEvent;
        if (e.change !== 'opened') return;
        if (e.late) {
          late++;
          return;
        }
        const ms = Date.now() - e.openedAt;
        if (e.openedAt - simStartedAt < WARMUP_SECONDS * 1000) {
          warmup.n++;
          warmup.worst = Math.max(warmup.worst, ms);
          return;
        }
        samples.push(ms);
        produced.push(Number(message.timestamp) - e.openedAt);
        byRule.set(e.rule, [...(byRule.get(e.rule) ?? []), ms]);
      },
    });
    simStartedAt = Date.now();
    const sim = startCli(['sim', '--vehicles', String(vehicles), '--rate', '5', '--start', 'now', '--duration', `${LATENCY_SECONDS}s`, '--speedup', '1', '--seed', '5', '--broker', `mqtt://127.0.0.1:${port}`, '--progress', 'none'], { env });
    const pids = { 'edge agent': agent.child.pid!, 'hot path': hot.child.pid!, simulator: sim.child.pid!, 'Kafka broker': brokerPid };
    const cpuOf = (pid: number) => {
      try {
        return procCpuSeconds(pid);
      } catch {
        return NaN; // exited
      }
    };
    const cpu0 = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuOf(pid)]));
    const self0 = process.cpuUsage();
    const t0 = performance.now();
    const cpu: Record<string, number> = {};
    const timer = setInterval(() => {
      // Sampled while the simulator runs (its /proc entry goes when it exits).
      const secs = (performance.now() - t0) / 1000;
      for (const [k, pid] of Object.entries(pids)) {
        const used = cpuOf(pid) - cpu0[k]!;
        if (Number.isFinite(used)) cpu[k] = (used / secs) * 100;
      }
      const u = process.cpuUsage(self0);
      cpu['this process (alert reader)'] = ((u.user + u.system) / 1e6 / secs) * 100;
    }, 1_000);
    const res = await sim.exited;
    clearInterval(timer);
    if (res.code !== 0) throw new Error(`sim failed: ${sim.output.stderr}`);
    await sleep(5_000);
    const summary = /sim: .*/.exec(sim.output.stdout)?.[0] ?? '';
    const base = (c: typeof agent) => /^http (http:\/\/\S+)$/m.exec(c.output.stdout)?.[1];
    const stages = {
      'PUBACK → Kafka ack (edge agent)': await histogramQuantiles(base(agent), 'roadlog_edge_forward_latency_seconds'),
      'Kafka append → alert produced (hot path)': await histogramQuantiles(base(hot), 'roadlog_hot_append_to_alert_seconds'),
      'device → alert produced (hot path)': await histogramQuantiles(base(hot), 'roadlog_hot_device_to_alert_seconds'),
    };
    return {
      rate,
      warmup,
      stages, p50: percentile(samples, 50), p99: percentile(samples, 99), n: samples.length, late, produced: { p50: percentile(produced, 50), p99: percentile(produced, 99) }, byRule, cpu, ackedRate: summary };
  } finally {
    await consumer.disconnect().catch(() => undefined);
    for (const c of [hot, agent]) if (c.child.exitCode === null) c.child.kill('SIGTERM');
    await Promise.all([hot.exited, agent.exited]);
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'roadlog-bench-hot-'));
  const result = new BenchResult('hot', 'Hot path: throughput against a plain consumer, device → alert latency', 'npm run bench:hot');
  const all = PHASES.has('throughput') && PHASES.has('latency');
  console.log(`roadlog hot path benchmark\nmachine: ${machineLine()}; Node ${process.version}`);
  const cluster = await startKafkaCluster({ nodes: 1, dir: join(dir, 'kafka'), heapMb: 1024 });
  try {
    const brokers = cluster.bootstrapServers;
    const brokerPid = cluster.brokers[0]!.pid;
    const kafka = new Kafka({ clientId: 'bench', brokers: [brokers], logLevel: logLevel.NOTHING });
    const conditions: string[] = [];
    if (PHASES.has('throughput')) {
      await createTopics(kafka, 'tp');
      const records = fleetRecords(11, VEHICLES, MINUTES);
      await produce(kafka, 'tp.telemetry.v1', records);
      console.log(`preloaded ${fmt(records.length)} records (${VEHICLES} vehicles × ${MINUTES} min at 1 Hz)`);
      // Rounds in turn (reference, hot, reference, hot, ...): this machine's speed drifts by tens of % over minutes; the ratio is the median round's.
      const rounds: { plain: { rps: number; cpu: number; broker: number }; hot: { rps: number; cpu: number; broker: number }; ratio: number; two: { rps: number; cpu: number } }[] = [];
      for (let round = 1; round <= ROUNDS; round++) {
        const b0 = procCpuSeconds(brokerPid);
        const plain = await inChild(brokers, 'tp.telemetry.v1', records.length);
        const b1 = procCpuSeconds(brokerPid);
        const hot = await hotProcessor(brokers, 'tp', records.length, dir, round);
        const b2 = procCpuSeconds(brokerPid);
        const two = await hotProcessor(brokers, 'tp', records.length, dir, round, 2);
        rounds.push({ plain: { ...plain, broker: b1 - b0 }, hot: { ...hot, broker: b2 - b1 }, ratio: hot.rps / plain.rps, two });
        console.log(`round ${round}: reference ${fmt(plain.rps)} records/s (${plain.cpu.toFixed(1)} CPU-s), hot path ${fmt(hot.rps)} records/s (${hot.cpu.toFixed(1)} CPU-s): ${(hot.rps / plain.rps).toFixed(2)}×; two instances ${fmt(two.rps)} records/s (${two.cpu.toFixed(1)} CPU-s): ${(two.rps / hot.rps).toFixed(2)}× one`);
      }
      const median = [...rounds].sort((a, b) => a.ratio - b.ratio)[Math.floor(rounds.length / 2)]!;
      console.log(`ratio, median round: ${median.ratio.toFixed(2)}×`);
      result.figure('hot path vs a plain consumer that decodes', `${median.ratio.toFixed(2)}× (${fmt(median.hot.rps)} / ${fmt(median.plain.rps)} records/s; median of ${rounds.length} rounds)`, '≥ 0.5×', median.ratio >= 0.5);
      const scale = [...rounds].sort((a, b) => a.two.rps / a.hot.rps - b.two.rps / b.hot.rps)[Math.floor(rounds.length / 2)]!;
      result.figure('two hot path instances vs one, same machine', `${(scale.two.rps / scale.hot.rps).toFixed(2)}× (${fmt(scale.two.rps)} / ${fmt(scale.hot.rps)} records/s; median of ${rounds.length} rounds)`);
      result.section('Throughput', [
        '| round | reference records/s | CPU-s | broker CPU-s | hot path records/s | CPU-s | broker CPU-s | ratio | 2 instances records/s | CPU-s | vs 1 |',
        '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
        ...rounds.map((r, i) => `| ${i + 1} | ${fmt(r.plain.rps)} | ${r.plain.cpu.toFixed(1)} | ${r.plain.broker.toFixed(1)} | ${fmt(r.hot.rps)} | ${r.hot.cpu.toFixed(1)} | ${r.hot.broker.toFixed(1)} | ${r.ratio.toFixed(2)}× | ${fmt(r.two.rps)} | ${r.two.cpu.toFixed(1)} | ${(r.two.rps / r.hot.rps).toFixed(2)}× |`),
        '',
        `Records per CPU-second, median round: reference ${fmt(records.length / median.plain.cpu)}, hot path ${fmt(records.length / median.hot.cpu)}. The reference is a plain kafkajs consumer that decodes (JSON and the envelope headers); the hot path is \`roadlog hot start\` with the default pack, a transaction per commit with its alert events, snapshots and offsets.`,
      ].join('\n'));
      conditions.push(`Throughput: ${fmt(records.length)} records (${VEHICLES} simulated vehicles × ${MINUTES} min at 1 Hz, seed 11, envelope headers as a gateway forwards them) in a 12-partition topic of a 1-node Kafka on loopback, read from the start by each side in turn, each in a fresh process: the reference (a kafkajs consumer in this file), the hot path as \`roadlog hot start\` (the built CLI) in its own. CPU-s count from the first record read.`);
    }
    if (PHASES.has('latency')) {
      const runs: LatencyRun[] = [];
      for (const rate of LOW_RATE > 0 && LOW_RATE !== RATE ? [RATE, LOW_RATE] : [RATE]) {
        await createTopics(kafka, `lat${rate}`);
        const lat = await latency(brokers, brokerPid, dir, rate);
        runs.push(lat);
        console.log(`device → alert through the whole chain at ${fmt(rate)} msg/s, after a ${WARMUP_SECONDS} s warm-up: p50 ${fmt(lat.p50)} ms, p99 ${fmt(lat.p99)} ms over ${lat.n} live alerts (${lat.late} late; ${lat.warmup.n} in the warm-up, worst ${fmt(lat.warmup.worst)} ms); device → alert produced p50 ${fmt(lat.produced.p50)} ms, p99 ${fmt(lat.produced.p99)} ms; ${lat.ackedRate}`);
        for (const [rule, v] of lat.byRule) console.log(`  ${rule}: ${v.length} alerts, p50 ${fmt(percentile(v, 50))} ms, p99 ${fmt(percentile(v, 99))} ms`);
        for (const [k, v] of Object.entries(lat.stages)) console.log(`  ${k}: ${v}`);
        console.log(`  CPU, % of one core: ${Object.entries(lat.cpu).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}`);
      }
      const main = runs[0]!;
      result.figure(`device → alert p99 at ${fmt(RATE)} msg/s, whole chain`, `${fmt(main.p99)} ms (p50 ${fmt(main.p50)} ms, ${main.n} alerts after a ${WARMUP_SECONDS} s warm-up)`, '≤ 250 ms', main.p99 <= 250);
      const lines = [
        `Alerts opened in the first ${WARMUP_SECONDS} s of each run (the simulator's connections, JIT, and the backlog they leave) are counted apart; the p50/p99 are over the rest.`,
        '',
        '| msg/s | device → alert readable p50 / p99 ms | device → alert produced p50 / p99 ms | alerts | warm-up: alerts, worst ms | late alerts (not counted) |',
        '|---:|---:|---:|---:|---:|---:|',
        ...runs.map((r) => `| ${fmt(r.rate)} | ${fmt(r.p50)} / ${fmt(r.p99)} | ${fmt(r.produced.p50)} / ${fmt(r.produced.p99)} | ${r.n} | ${r.warmup.n}, ${fmt(r.warmup.worst)} | ${r.late} |`),
      ];
      for (const r of runs) {
        lines.push(
          '',
          `At ${fmt(r.rate)} msg/s (stages over the whole run, warm-up included):`,
          '',
          "| stage, from the component's /metrics histogram | quantiles (bucket bounds) |",
          '|---|---|',
          ...Object.entries(r.stages).map(([k, v]) => `| ${k} | ${v} |`),
          '',
          '| rule | alerts | p50 ms | p99 ms |',
          '|---|---:|---:|---:|',
          ...[...r.byRule].map(([rule, v]) => `| ${rule} | ${v.length} | ${fmt(percentile(v, 50))} | ${fmt(percentile(v, 99))} |`),
          '',
          '| process | CPU, % of one core |',
          '|---|---:|',
          ...Object.entries(r.cpu).map(([k, v]) => `| ${k} | ${v.toFixed(0)} |`),
          `| total (of 200) | ${Object.values(r.cpu).reduce((x, y) => x + y, 0).toFixed(0)} |`,
        );
      }
      result.section('Latency', lines.join('\n'));
      conditions.push(`Latency: \`roadlog sim\` (rate / 5 vehicles at 5 Hz, \`--start now\` so device time is the wall clock, ${LATENCY_SECONDS} s) → \`roadlog edge start\` → Kafka → \`roadlog hot start\` (default pack), all on this machine, fresh topics and processes for each rate; a consumer here reads the alert events (read_committed) as they come: now − openedAt for each opened, not late alert. ${runs.map((r) => `${fmt(r.rate)} msg/s: ${r.ackedRate}`).join('; ')}`);
    }
    if (!all) {
      console.log('(a subset of the phases: no results file written)');
      return;
    }
    result.section('Conditions', conditions.join('\n\n'));
    console.log(`results: ${await result.write()}`);
  } finally {
    await stopKafkaCluster(join(dir, 'kafka')).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
