/**
 * Benchmark of the cold path (`npm run bench:cold`; never part of `npm test`).
 *
 *   npx tsx test/bench/cold.ts
 *
 * Measures, in one run:
 *  - archiver throughput: a 1-node Kafka 4 on loopback (started here, stopped at the end), a
 *    telemetry topic preloaded with a simulated fleet's records (envelope headers as a gateway
 *    forwards them), read to the end in turn by
 *      reference: a plain kafkajs consumer that only decodes (plain-consumer.ts), its own process;
 *      archiver: `roadlog cold start` (the built CLI, its own process, a fresh archive and group),
 *        until every offset is committed in the archive's state files;
 *    records/s of each and the ratio (targets ≥ 0.5× and ≥ 100,000 records/s), median of ROUNDS;
 *    then two archivers in one group and one archive over the same records (how far they scale here);
 *  - the fleet report over REPORT_ROWS rows: `roadlog sim` as a dry run (`--messages`, no
 *    broker) makes the records, DuckDB turns them into an archive in the archiver's layout
 *    (hour folders, flush-file names, state files), and `roadlog report fleet --format json`
 *    (the built CLI, wall time including its start) runs over it three times; the median counts
 *    (target ≤ 5 s).
 *
 * Environment: ROADLOG_BENCH_COLD_VEHICLES (300) and ROADLOG_BENCH_COLD_MINUTES (60): the preloaded
 * fleet at 1 Hz; ROADLOG_BENCH_COLD_ROUNDS (3); ROADLOG_BENCH_REPORT_VEHICLES (700) and
 * ROADLOG_BENCH_REPORT_HOURS (4): the report's fleet at 1 Hz (700 × 4 h = 10.08M rows);
 * ROADLOG_BENCH_PHASES (archive,report: one of them alone writes no results file).
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from '../../shared/kafka/kafkajs.js';
import { readStates } from '../../cloud/cold/layout.js';
import { topicSpecs, TopicsOptionsSchema } from '../../shared/topics/index.js';
import { startKafkaCluster, stopKafkaCluster } from '../../infra/kafka/cluster.js';
import { fleetRecords, produce } from '../integration/hot/support.js';
import { archiveFromMessages } from '../support/archive.js';
import { CLI, runCli, startCli, httpBaseOf } from '../support/cli.js';
import { createTopicsReady } from '../support/kafka.js';
import { inChild } from './plain-consumer.js';
import { procCpuSeconds } from './proc.js';
import { BenchResult, machineLine } from './results.js';

const VEHICLES = Number(process.env.ROADLOG_BENCH_COLD_VEHICLES ?? 300);
const MINUTES = Number(process.env.ROADLOG_BENCH_COLD_MINUTES ?? 60);
const ROUNDS = Number(process.env.ROADLOG_BENCH_COLD_ROUNDS ?? 3);
const REPORT_VEHICLES = Number(process.env.ROADLOG_BENCH_REPORT_VEHICLES ?? 700);
const REPORT_HOURS = Number(process.env.ROADLOG_BENCH_REPORT_HOURS ?? 4);
const PHASES = new Set((process.env.ROADLOG_BENCH_PHASES ?? 'archive,report').split(','));
const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

/**
 * `roadlog cold start` (default flush settings) over the preloaded topic: from its first read
 * until every record is read, then SIGTERM, whose clean stop flushes and commits everything;
 * records/s over first read → exit, CPU over the same span.
 */
async function archiver(brokers: string, total: number, dir: string, round: number, instances = 1): Promise<{ rps: number; cpu: number; files: number; stopSeconds: number }> {
  const archive = join(dir, `archive-${round}-${instances}`);
  const env = { ROADLOG_KAFKA_BROKERS: brokers, ROADLOG_TOPICS_PREFIX: 'cp', ROADLOG_LOG_LEVEL: process.env.ROADLOG_BENCH_COLD_LOG ?? 'error', ROADLOG_LOG_FORMAT: 'json', ROADLOG_HOME: join(dir, 'home'), ROADLOG_COLD_GROUP_ID: `bench-cold-${round}-${instances}`, ...(process.env.ROADLOG_BENCH_COLD_NODE_OPTIONS === undefined ? {} : { NODE_OPTIONS: process.env.ROADLOG_BENCH_COLD_NODE_OPTIONS }) };
  // Several: one group and one archive, as archivers are scaled out.
  const colds = Array.from({ length: instances }, () => startCli(['cold', 'start', '--archive', archive, '--http-port', '0'], { env }));
  try {
    const bases = await Promise.all(colds.map((c) => httpBaseOf(c, 'roadlog cold start')));
    const cpuNow = () => colds.reduce((n, c) => n + procCpuSeconds(c.child.pid!), 0);
    let t0 = 0;
    let cpu0 = 0;
    for (;;) {
      const read = new Map<number, number>(); // per partition, the furthest any member got (a partition moves once when a member joins)
      for (const base of bases) {
        const status = (await (await fetch(`${base}/status`)).json()) as { partitions: { partition: number; read: number | null }[] };
        for (const p of status.partitions) if (p.read !== null) read.set(p.partition, Math.max(read.get(p.partition) ?? 0, p.read));
      }
      if (t0 === 0 && read.size > 0) {
        t0 = performance.now();
        cpu0 = cpuNow();
      }
      if ([...read.values()].reduce((n, x) => n + x, 0) >= total) break;
      await sleep(20);
    }
    const t1 = performance.now();
    let cpu = cpuNow() - cpu0;
    for (const c of colds) c.child.kill('SIGTERM');
    while (colds.some((c) => c.child.exitCode === null)) {
      try {
        cpu = cpuNow() - cpu0;
      } catch {
        // one is gone: the last figure stands
      }
      await sleep(10);
    }
    for (const c of colds) {
      const exit = await c.exited;
      if (exit.code !== 0) throw new Error(`roadlog cold start exited ${exit.code}: ${c.output.stderr}`);
      if (process.env.ROADLOG_BENCH_COLD_LOG !== undefined) process.stderr.write(c.output.stderr + c.output.stdout);
    }
    const t2 = performance.now();
    const committed = (await readStates(archive)).reduce((n, s) => n + s.nextOffset, 0);
    if (committed !== total) throw new Error(`the archive committed ${committed} of ${total} offsets`);
    const files = (await readdir(join(archive, 'telemetry'), { recursive: true })).filter((f) => f.endsWith('.parquet')).length;
    return { rps: total / ((t2 - t0) / 1000), cpu, files, stopSeconds: (t2 - t1) / 1000 };
  } finally {
    for (const c of colds) if (c.child.exitCode === null) c.child.kill('SIGKILL');
  }
}

/** An archive of the sim's dry-run messages, in the archiver's layout: one flush per hour folder, a state file. */
async function reportArchive(dir: string): Promise<{ archive: string; rows: number; csv: string; makeSeconds: number }> {
  const t0 = performance.now();
  const messages = join(dir, 'messages.jsonl');
  const csv = join(dir, 'vehicles.csv');
  execFileSync(process.execPath, [CLI, 'sim', '--vehicles', String(REPORT_VEHICLES), '--duration', `${REPORT_HOURS}h`, '--speedup', '100000', '--messages', messages, '--vehicles-csv', csv, '--progress', 'none', '--workers', '2'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const archive = join(dir, 'report-archive');
  const { rows } = await archiveFromMessages(messages, archive);
  await rm(messages);
  return { archive, rows, csv, makeSeconds: (performance.now() - t0) / 1000 };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'roadlog-bench-cold-'));
  const result = new BenchResult('cold', 'Cold path: archiver throughput against a plain consumer, the fleet report over 10M rows', 'npm run bench:cold');
  const all = PHASES.has('archive') && PHASES.has('report');
  console.log(`roadlog cold path benchmark\nmachine: ${machineLine()}; Node ${process.version}`);
  const conditions: string[] = [];
  try {
    if (PHASES.has('archive')) {
      const cluster = await startKafkaCluster({ nodes: 1, dir: join(dir, 'kafka'), heapMb: 1024 });
      try {
        const brokers = cluster.bootstrapServers;
        const kafka = new Kafka({ clientId: 'bench', brokers: [brokers], logLevel: logLevel.NOTHING });
        const admin = kafka.admin();
        await admin.connect();
        await createTopicsReady(admin, topicSpecs(TopicsOptionsSchema.parse({ prefix: 'cp' })).map((s) => ({ topic: s.name, numPartitions: s.partitions, replicationFactor: 1, configEntries: Object.entries(s.configs).map(([name, value]) => ({ name, value })) })));
        await admin.disconnect();
        const records = fleetRecords(11, VEHICLES, MINUTES);
        await produce(kafka, 'cp.telemetry.v1', records);
        console.log(`preloaded ${fmt(records.length)} records (${VEHICLES} vehicles × ${MINUTES} min at 1 Hz)`);
        const rounds: { plain: { rps: number; cpu: number }; cold: { rps: number; cpu: number; files: number; stopSeconds: number }; ratio: number; two: { rps: number; cpu: number } }[] = [];
        for (let round = 1; round <= ROUNDS; round++) {
          const plain = await inChild(brokers, 'cp.telemetry.v1', records.length);
          const cold = await archiver(brokers, records.length, dir, round);
          const two = await archiver(brokers, records.length, dir, round, 2);
          rounds.push({ plain, cold, ratio: cold.rps / plain.rps, two });
          console.log(`round ${round}: reference ${fmt(plain.rps)} records/s (${plain.cpu.toFixed(1)} CPU-s), archiver ${fmt(cold.rps)} records/s (${cold.cpu.toFixed(1)} CPU-s, ${cold.files} files, the final flush ${cold.stopSeconds.toFixed(1)} s): ${(cold.rps / plain.rps).toFixed(2)}×; two archivers ${fmt(two.rps)} records/s (${two.cpu.toFixed(1)} CPU-s): ${(two.rps / cold.rps).toFixed(2)}× one`);
        }
        const m = [...rounds].sort((a, b) => a.ratio - b.ratio)[Math.floor(rounds.length / 2)]!;
        result.figure('archiver vs a plain consumer that decodes', `${m.ratio.toFixed(2)}× (${fmt(m.cold.rps)} / ${fmt(m.plain.rps)} records/s; median of ${rounds.length} rounds)`, '≥ 0.5×', m.ratio >= 0.5);
        result.figure('archiver records/s, one process', fmt(m.cold.rps), '≥ 100,000', m.cold.rps >= 100_000);
        const scale = [...rounds].sort((a, b) => a.two.rps / a.cold.rps - b.two.rps / b.cold.rps)[Math.floor(rounds.length / 2)]!;
        result.figure('two archivers vs one, same machine', `${(scale.two.rps / scale.cold.rps).toFixed(2)}× (${fmt(scale.two.rps)} / ${fmt(scale.cold.rps)} records/s; median of ${rounds.length} rounds)`);
        result.section('Archiver', [
          '| round | reference records/s | CPU-s | archiver records/s | CPU-s | Parquet files | final flush s | ratio | 2 archivers records/s | CPU-s | vs 1 |',
          '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
          ...rounds.map((r, i) => `| ${i + 1} | ${fmt(r.plain.rps)} | ${r.plain.cpu.toFixed(1)} | ${fmt(r.cold.rps)} | ${r.cold.cpu.toFixed(1)} | ${r.cold.files} | ${r.cold.stopSeconds.toFixed(1)} | ${r.ratio.toFixed(2)}× | ${fmt(r.two.rps)} | ${r.two.cpu.toFixed(1)} | ${(r.two.rps / r.cold.rps).toFixed(2)}× |`),
          '',
          `Records per CPU-second, median round: reference ${fmt(records.length / m.plain.cpu)}, archiver ${fmt(records.length / m.cold.cpu)}.`,
        ].join('\n'));
        conditions.push(`Archiver: ${fmt(records.length)} records (${VEHICLES} simulated vehicles × ${MINUTES} min at 1 Hz, seed 11, envelope headers as a gateway forwards them) in a 12-partition topic of a 1-node Kafka on loopback, read from the start by each side in turn, each in a fresh process. The archiver is \`roadlog cold start\` (the built CLI) with the default settings (flush at 2M records, 1 GiB or 5 min per partition: here the records fit in one flush per partition and hour); its time runs from its first read until it has read every record, then SIGTERM, and its clean stop flushes and commits everything: the figure is records over first read → exit (parse, duplicate filters, the DuckDB stage, Parquet with zstd, fsyncs, renames and state files included; the final flush's share is in the table).`);
      } finally {
        await stopKafkaCluster(join(dir, 'kafka')).catch(() => undefined);
      }
    }
    if (PHASES.has('report')) {
      const made = await reportArchive(dir);
      console.log(`report archive: ${fmt(made.rows)} rows (${REPORT_VEHICLES} vehicles × ${REPORT_HOURS} h at 1 Hz) made in ${made.makeSeconds.toFixed(0)} s`);
      const times: number[] = [];
      let vehicles = 0;
      for (let i = 0; i < 3; i++) {
        const run = await runCli(['report', 'fleet', '--archive', made.archive, '--format', 'json', '--vehicles-csv', made.csv], { timeoutMs: 300_000, env: { ROADLOG_HOME: join(dir, 'home') } });
        if (run.code !== 0) throw new Error(`roadlog report fleet failed: ${run.stderr}`);
        vehicles = (JSON.parse(run.stdout) as unknown[]).length;
        times.push(run.ms / 1000);
        console.log(`report fleet over ${fmt(made.rows)} rows: ${(run.ms / 1000).toFixed(2)} s (${vehicles} vehicles)`);
      }
      const t = median(times);
      result.figure(`fleet report over ${fmt(made.rows)} rows`, `${t.toFixed(2)} s (median of 3: ${times.map((x) => x.toFixed(2)).join(', ')} s)`, '≤ 5 s', t <= 5);
      conditions.push(`Report: \`roadlog sim --vehicles ${REPORT_VEHICLES} --duration ${REPORT_HOURS}h --speedup 100000 --messages FILE\` (a dry run, no broker; seed 1) made ${fmt(made.rows)} records, which DuckDB wrote as an archive in the archiver's layout (one Parquet file per hour folder, zstd, a state file); \`roadlog report fleet --format json --vehicles-csv\` (the built CLI, wall time from start to exit, ${vehicles} rows out) ran over it 3 times.`);
    }
    if (!all) {
      console.log('(a subset of the phases: no results file written)');
      return;
    }
    result.section('Conditions', conditions.join('\n\n'));
    console.log(`results: ${await result.write()}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
