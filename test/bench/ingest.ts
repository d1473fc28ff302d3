/**
 * Benchmark of the edge agent's MQTT ingest (`npm run bench`; never part of `npm test`).
 *
 *   npm run build && node --import tsx test/bench/ingest.ts          (~2.5 min)
 *
 * Three brokers, each a separate process on 127.0.0.1, loaded by the same load generator, also
 * a separate process (mqtt-loadgen.ts, MQTT.js 5, TCP_NODELAY):
 *  - agent:     `roadlog edge start` from dist/ (aedes + validation + the edge log: PUBACK only
 *               after fdatasync), anonymous mode so logins cost no scrypt, quota lifted;
 *  - aedes:     raw aedes (plain JavaScript, `node -e`): no hooks, no storage, TCP_NODELAY;
 *  - mosquitto: Debian's /usr/sbin/mosquitto, persistence off, set_tcp_nodelay, a free port;
 *  - agent-kafka (when listed; fleet phase only): the agent with its forwarder sending
 *               everything on to a 1-node Kafka this run starts on loopback (12 partitions):
 *               a gateway's whole job at a fleet's steady rate.
 * Phases:
 *  - closed: CLIENTS vehicles, each keeping 64 QoS 1 publishes in flight (a PUBACK frees a slot);
 *  - open:   RATE msg/s offered on a fixed schedule across the same CLIENTS, whatever the
 *            latency; latency counts from the scheduled send time (no coordinated omission);
 *    both in ROUNDS interleaved rounds (order rotated) against brokers started once, so a burst
 *    of other work on the machine hits every broker alike; medians over the rounds reported;
 *  - fleet:  VEHICLES connected, each publishing once a second (open loop), on a freshly
 *            started broker so its RSS is a gateway's, not what the bursts left in the heap;
 *  - quota (agent only, quota 50/s): 100 vehicles at 10 msg/s, in rounds alternating without and
 *            with one more vehicle flooding (64 QoS 1 in flight): the 100's PUBACK p99 both ways;
 *  - login storm (agent only, with a credentials file): CLIENTS vehicles publish 1,000 msg/s
 *            for 10 s; after 4 s, STORM more vehicles connect at once (a gateway restart):
 *            the PUBACK latency of the CLIENTS, and how long the logins took.
 * Payloads are valid telemetry v1 JSON of about 300 bytes (exact sizes printed), one vehicle id
 * per client, seq increasing. The load generator measures PUBACK latency; this process samples
 * the broker's CPU (/proc/PID/stat utime+stime) and RSS (/proc/PID/status VmRSS, every 200 ms).
 *
 * Environment: ROADLOG_BENCH_SECONDS (per round, default 4), ROADLOG_BENCH_ROUNDS (3),
 * ROADLOG_BENCH_FLEET_SECONDS (12), ROADLOG_BENCH_CLIENTS (16), ROADLOG_BENCH_RATE (5000),
 * ROADLOG_BENCH_VEHICLES (1000), ROADLOG_BENCH_STORM (200; 0 skips the login storm),
 * ROADLOG_BENCH_QUOTA_ROUNDS (as ROUNDS; 0 skips the quota phase),
 * ROADLOG_BENCH_TARGETS (aedes,agent,agent-kafka,mosquitto),
 * ROADLOG_BENCH_CLI (the roadlog CLI to run as the agent; default dist/shared/cli/main.js),
 * ROADLOG_BENCH_CLI_B (a second build, benchmarked as the target `agent-b` in the same run).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { BenchResult, machineLine } from './results.js';
import { ioFullStallUs, procRssMb, sampled } from './proc.js';
import { flushBuckets, flushStats, killAll, MOSQUITTO, REPO, startTarget, track, type FlushStats, type Target } from './brokers.js';
import { startKafkaCluster, stopKafkaCluster } from '../../infra/kafka/cluster.js';
import { createKafka, KafkaClientOptionsSchema } from '../../shared/kafka/index.js';
import { IN_FLIGHT, runLoadgen as runLoadgenProcess, vehicleIdOf, type PhaseResult, type PhaseSpec } from './mqtt-loadgen.js';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

/** The run's temp dir (broker data, the agent's log), removed on exit and on Ctrl-C. */
let benchDir: string | undefined;

const runLoadgen = (spec: PhaseSpec): Promise<PhaseResult> => runLoadgenProcess(spec, track);

interface Run {
  r: PhaseResult;
  cpuPct: number;
  rssMaxMb: number;
  rssEndMb: number;
  flush?: FlushStats;
  /** Milliseconds of the round in which all tasks of the machine were stalled on I/O (PSI "full"). */
  ioFullStallMs?: number;
}

interface Row {
  target: string;
  phase: string;
  runs: Run[];
}

function machine(): string[] {
  const model = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const pkg = (name: string): string => JSON.parse(readFileSync(join(REPO, 'node_modules', name, 'package.json'), 'utf8')).version as string;
  let mosq = 'absent';
  try {
    mosq = /version ([\d.]+)/.exec(execFileSync(MOSQUITTO, ['-h'], { encoding: 'utf8' }))?.[1] ?? '?';
  } catch (err) {
    mosq = /version ([\d.]+)/.exec(String((err as { stdout?: string }).stdout ?? ''))?.[1] ?? 'unknown';
  }
  let fs = '?';
  try {
    fs = execFileSync('df', ['-T', tmpdir()], { encoding: 'utf8' }).trim().split('\n').pop()!.split(/\s+/)[1]!;
  } catch {
    /* df missing */
  }
  void model;
  return [
    `machine: ${machineLine()}`,
    `node ${process.version}; aedes ${pkg('aedes')}; mqtt.js ${pkg('mqtt')}; mosquitto ${mosq}; edge log in ${tmpdir()} (${fs})`,
  ];
}

/** A 1-node Kafka for `agent-kafka`, with the topics its forwarder sends to (prefix `bench`). */
async function benchKafka(dir: string): Promise<{ brokers: string; prefix: string }> {
  const cluster = await startKafkaCluster({ nodes: 1, dir, heapMb: 512 });
  const admin = createKafka(KafkaClientOptionsSchema.parse({ brokers: [cluster.bootstrapServers] })).admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: 'bench.telemetry.v1', numPartitions: 12 }, { topic: 'bench.dead-letters.v1', numPartitions: 1 }, { topic: 'bench.gateway-status.v1', numPartitions: 1 }] });
  await admin.disconnect();
  return { brokers: cluster.bootstrapServers, prefix: 'bench' };
}

const f = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const loadavgText = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');

async function main(): Promise<void> {
  const seconds = Number(process.env.ROADLOG_BENCH_SECONDS ?? 4);
  const rounds = Number(process.env.ROADLOG_BENCH_ROUNDS ?? 3);
  const fleetSeconds = Number(process.env.ROADLOG_BENCH_FLEET_SECONDS ?? 12);
  const clients = Number(process.env.ROADLOG_BENCH_CLIENTS ?? 16);
  const rate = Number(process.env.ROADLOG_BENCH_RATE ?? 5000);
  const vehicles = Number(process.env.ROADLOG_BENCH_VEHICLES ?? 1000);
  const storm = Number(process.env.ROADLOG_BENCH_STORM ?? 200);
  const quotaRounds = Number(process.env.ROADLOG_BENCH_QUOTA_ROUNDS ?? rounds);
  const targets = (process.env.ROADLOG_BENCH_TARGETS ?? 'aedes,agent,agent-kafka,mosquitto').split(',');
  const started = Date.now();
  const result = new BenchResult('ingest', 'Edge agent MQTT ingest', 'npm run bench:ingest');
  for (const line of machine()) console.log(line);
  console.log(`load average at start: ${loadavgText()} (other work on this machine shows up as noise; rounds are interleaved so each broker sees the same)`);
  console.log(
    `phases: closed (${clients} clients x ${IN_FLIGHT} in flight, QoS 1) and open (${rate} msg/s offered), ${rounds} interleaved rounds of ${seconds} s per broker (+1 s warm-up); ` +
      `fleet (${vehicles} vehicles at 1 Hz, ${fleetSeconds} s + 2 s warm-up) on a freshly started broker`,
  );
  const dir = await mkdtemp(join(tmpdir(), 'roadlog-bench-ingest-'));
  benchDir = dir;
  const rows: Row[] = [];
  const seqBase = new Map<string, number>();
  const nextSeqBase = (name: string): number => {
    const b = (seqBase.get(name) ?? 0) + 1_000_000;
    seqBase.set(name, b);
    return b;
  };
  const record = (target: string, phase: string, run: Run): void => {
    let row = rows.find((r) => r.target === target && r.phase === phase);
    if (row === undefined) rows.push((row = { target, phase, runs: [] }));
    row.runs.push(run);
    const r = run.r;
    console.log(
      `${target.padEnd(9)} ${phase.padEnd(12)} ${f(r.msgPerSec, 0).padStart(7)} msg/s  p50 ${f(r.p50, 2)} ms  p99 ${f(r.p99, 2)} ms  max ${f(r.max, 1)} ms  errors ${r.errors} unacked ${r.unacked}  ` +
        `broker CPU ${f(run.cpuPct, 0)}%  RSS ${f(run.rssEndMb)} MB (max ${f(run.rssMaxMb)})  loadgen CPU ${f(r.loadgenCpuPct, 0)}%` +
        (run.flush === undefined ? '' : `  log flushes ${run.flush.n}, p99 <= ${f(run.flush.p99Ms, 0)} ms, ${run.flush.over10ms} over 10 ms`) +
        (run.ioFullStallMs === undefined ? '' : `  machine I/O stall (PSI full) ${f(run.ioFullStallMs, 0)} ms`),
    );
  };
  const runPhase = async (target: Target, phase: string, spec: Omit<PhaseSpec, 'url' | 'seqBase'>): Promise<void> => {
    const before = target.httpUrl === undefined ? undefined : await flushBuckets(target.httpUrl);
    const io0 = ioFullStallUs();
    const s = await sampled(target.pid, () => runLoadgen({ ...spec, url: target.url, seqBase: nextSeqBase(target.name) }));
    const io1 = ioFullStallUs();
    const flush = before === undefined ? undefined : flushStats(before, await flushBuckets(target.httpUrl!));
    const ioFullStallMs = io0 === undefined || io1 === undefined ? undefined : (io1 - io0) / 1000;
    record(target.name, phase, { r: s.result, cpuPct: s.cpuPct, rssMaxMb: s.rssMaxMb, rssEndMb: s.rssEndMb, ...(flush === undefined ? {} : { flush }), ...(ioFullStallMs === undefined ? {} : { ioFullStallMs }) });
  };
  let kafka: { brokers: string; prefix: string } | undefined;
  try {
    if (targets.includes('agent-kafka')) kafka = await benchKafka(join(dir, 'kafka'));
    // Closed and open loop: all brokers up at once (idle ones cost nothing), rounds interleaved
    // and the order rotated, so a burst of other work on the machine hits every broker alike.
    // agent-kafka is measured in the fleet phase only: between its rounds its forwarder would
    // still be draining the flood into Kafka, on the CPU the other brokers' rounds use.
    const up: Target[] = [];
    for (const name of targets.filter((t) => t !== 'agent-kafka')) up.push(await startTarget(name, join(dir, name)));
    const phases: [string, Omit<PhaseSpec, 'url' | 'seqBase'>][] = [
      ['closed', { mode: 'closed', clients, seconds, warmupSeconds: 1 }],
      [`open ${rate}/s`, { mode: 'open', clients, rate, seconds, warmupSeconds: 1 }],
    ];
    for (const [phase, spec] of phases) {
      for (let round = 0; round < rounds; round++) {
        for (let k = 0; k < up.length; k++) await runPhase(up[(k + round) % up.length]!, phase, spec);
      }
    }
    for (const t of up) console.log(`${t.name.padEnd(9)} clean stop took ${f(await t.stop(), 0)} ms`);
    // Fleet: a fresh process each, so the RSS is that of a gateway with its vehicles, not what
    // the bursts above left in the heap.
    for (const name of targets) {
      const target = await startTarget(name, join(dir, `${name}-fleet`), undefined, undefined, kafka);
      console.log(`${name.padEnd(9)} idle RSS ${f(procRssMb(target.pid).rss)} MB`);
      await runPhase(target, `fleet ${vehicles}`, { mode: 'open', clients: vehicles, rate: vehicles, seconds: fleetSeconds, warmupSeconds: 2 });
      await target.stop();
    }
    // Login storm (agent only; the references do not authenticate): vehicles with passwords,
    // CLIENTS of them publishing 1,000 msg/s while STORM others connect at once, as after a
    // gateway restart. Each login is one scrypt (N=2^14) on libuv's thread pool.
    if (storm > 0 && targets.includes('agent')) {
      const { hashSecret } = await import('../../shared/credentials/index.js');
      const password = 'bench-secret-1';
      const hash = await hashSecret(password); // one hash for all: each login still runs scrypt
      const credentials = join(dir, 'vehicles.passwd');
      await writeFile(credentials, Array.from({ length: clients + storm }, (_, i) => `${vehicleIdOf(i)}: ${hash}\n`).join(''));
      const target = await startTarget('agent', join(dir, 'agent-storm'), credentials);
      const steady = sampled(target.pid, () => runLoadgen({ url: target.url, mode: 'open', clients, rate: 1000, seconds: 10, warmupSeconds: 1, seqBase: 0, password }));
      await new Promise((r) => setTimeout(r, 4000));
      const logins = await runLoadgen({ url: target.url, mode: 'open', clients: storm, firstVehicle: clients, rate: storm, seconds: 1, warmupSeconds: 0, seqBase: 0, password });
      const s = await steady;
      record('agent', `${storm} log in`, { r: s.result, cpuPct: s.cpuPct, rssMaxMb: s.rssMaxMb, rssEndMb: s.rssEndMb });
      console.log(`agent     ${storm} vehicles logged in within ${f(logins.connectMs / 1000)} s while ${clients} others published 1,000 msg/s (row "${storm} log in": those ${clients})`);
      await target.stop();
    }
    // Quota (agent only): 100 calm vehicles at 10 msg/s each (under a quota of 50/s), with and
    // without one vehicle flooding (64 QoS 1 publishes in flight, far over its quota), in
    // alternating rounds against one agent. The calm vehicles' p99 should not notice the flood.
    if (quotaRounds > 0 && targets.includes('agent')) {
      const target = await startTarget('agent', join(dir, 'agent-quota'), undefined, { messagesPerSecond: 50, burst: 100 });
      const calm = { mode: 'open' as const, clients: 100, firstVehicle: 5000, rate: 1000, seconds, warmupSeconds: 1 };
      for (let round = 0; round < quotaRounds; round++) {
        await runPhase(target, 'quota: calm', calm);
        const flood = runLoadgen({ url: target.url, mode: 'closed', clients: 1, firstVehicle: 9000, seconds: seconds + 1, warmupSeconds: 0, seqBase: nextSeqBase('flood') });
        await runPhase(target, 'quota: calm+flood', calm);
        const fl = await flood;
        console.log(`agent     flooding vehicle: ${f(fl.msgPerSec, 0)} msg/s acknowledged (quota 50/s, burst 100)`);
      }
      await target.stop();
    }
  } finally {
    killAll();
    if (kafka !== undefined) await stopKafkaCluster(join(dir, 'kafka')).catch((err: unknown) => console.error('stopping Kafka:', err));
    await rm(dir, { recursive: true, force: true });
  }
  const sizes = rows[0]?.runs[0]?.r.payloadBytes;
  console.log(`\npayload: telemetry v1 JSON, ${sizes?.min}-${sizes?.max} bytes (mean ${f(sizes?.mean ?? NaN)}); load average at end: ${loadavgText()}`);
  console.log('figures: median over the rounds (p99: median of the rounds\' p99, worst round in brackets); CPU in % of one core\n');
  const table = [
    '| broker | phase | msg/s | PUBACK p50 ms | p99 ms (worst) | broker CPU % | broker RSS MB (max) | loadgen CPU % | log flushes > 10 ms (of) | I/O stall ms |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const summary = (row: Row) => ({
    msgPerSec: median(row.runs.map((x) => x.r.msgPerSec)),
    p50: median(row.runs.map((x) => x.r.p50)),
    p99: median(row.runs.map((x) => x.r.p99)),
    p99Worst: Math.max(...row.runs.map((x) => x.r.p99)),
    cpu: median(row.runs.map((x) => x.cpuPct)),
    rssEnd: median(row.runs.map((x) => x.rssEndMb)),
    rssMax: Math.max(...row.runs.map((x) => x.rssMaxMb)),
    loadgen: median(row.runs.map((x) => x.r.loadgenCpuPct)),
    failed: row.runs.reduce((n, x) => n + x.r.errors + x.r.unacked, 0),
    ioStall: row.runs.some((x) => x.ioFullStallMs !== undefined) ? f(row.runs.reduce((n, x) => n + (x.ioFullStallMs ?? 0), 0), 0) : '',
    slowFlushes: row.runs.some((x) => x.flush !== undefined) ? `${row.runs.reduce((n, x) => n + (x.flush?.over10ms ?? 0), 0)} (${row.runs.reduce((n, x) => n + (x.flush?.n ?? 0), 0)})` : '',
  });
  for (const row of rows) {
    const m = summary(row);
    table.push(`| ${row.target} | ${row.phase} | ${f(m.msgPerSec, 0)} | ${f(m.p50, 2)} | ${f(m.p99, 2)} (${f(m.p99Worst, 1)}) | ${f(m.cpu, 0)} | ${f(m.rssEnd)} (${f(m.rssMax)}) | ${f(m.loadgen, 0)} | ${m.slowFlushes} | ${m.ioStall} |`);
  }
  for (const line of table) console.log(line);
  const get = (t: string, p: string) => {
    const row = rows.find((r) => r.target === t && r.phase.startsWith(p));
    return row === undefined ? undefined : summary(row);
  };
  const agentClosed = get('agent', 'closed');
  const aedesClosed = get('aedes', 'closed');
  const agentOpen = get('agent', 'open');
  const agentFleet = get('agent', 'fleet');
  console.log('\ntargets:');
  if (agentClosed && aedesClosed) {
    const ratio = agentClosed.msgPerSec / aedesClosed.msgPerSec;
    console.log(`  durable ingest >= 0.8x raw aedes:     ${f(ratio, 2)}x (${f(agentClosed.msgPerSec, 0)} / ${f(aedesClosed.msgPerSec, 0)} msg/s)  ${ratio >= 0.8 ? 'MET' : 'MISSED'}`);
    result.figure('durable ingest vs raw aedes, closed loop', `${f(ratio, 2)}× (${f(agentClosed.msgPerSec, 0)} / ${f(aedesClosed.msgPerSec, 0)} msg/s)`, '≥ 0.8×', ratio >= 0.8);
  }
  if (agentOpen) {
    const ok = agentOpen.p99 <= 10 && agentOpen.failed === 0;
    console.log(`  PUBACK p99 <= 10 ms at ${rate} msg/s:    ${f(agentOpen.p99, 2)} ms (worst round ${f(agentOpen.p99Worst, 1)} ms)  ${ok ? 'MET' : 'MISSED'}`);
    result.figure(`PUBACK p99 at ${rate} msg/s offered (median of rounds)`, `${f(agentOpen.p99, 2)} ms (worst round ${f(agentOpen.p99Worst, 1)} ms)`, '≤ 10 ms, none lost', ok);
    result.figure(`agent CPU at ${rate} msg/s (% of one core)`, `${f(agentOpen.cpu, 0)} %`);
  }
  const aedesFleet = get('aedes', 'fleet');
  const kafkaFleet = get('agent-kafka', 'fleet');
  const mosquittoFleet = get('mosquitto', 'fleet');
  if (kafkaFleet && aedesFleet) {
    // CPU ms per 1,000 messages: (cpu % / 100 × 1,000 ms a second) / (msg/s / 1,000).
    const perK = (row: typeof aedesFleet) => `${f((row.cpu * 10_000) / row.msgPerSec, 0)} ms`;
    const ratio = kafkaFleet.cpu / aedesFleet.cpu;
    console.log(`  gateway CPU <= 1.5x raw aedes (${vehicles} vehicles, forwarding): ${f(ratio, 2)}x (${f(kafkaFleet.cpu, 0)} % / ${f(aedesFleet.cpu, 0)} %)  ${ratio <= 1.5 ? 'MET' : 'MISSED'}`);
    result.figure(`agent forwarding to Kafka vs raw aedes, CPU with ${vehicles} vehicles at 1 Hz`, `${f(ratio, 2)}× (${f(kafkaFleet.cpu, 0)} % / ${f(aedesFleet.cpu, 0)} % of a core)`, '≤ 1.5×', ratio <= 1.5);
    result.figure(`the same, PUBACK p99`, `${f(kafkaFleet.p99, 2)} ms`, '≤ 10 ms', kafkaFleet.p99 <= 10);
    result.figure(
      'CPU per 1,000 messages at that load',
      [['agent forwarding', kafkaFleet], ['agent, log only', agentFleet], ['raw aedes', aedesFleet], ['mosquitto', mosquittoFleet]].flatMap(([name, row]) => (row === undefined ? [] : [`${name as string} ${perK(row as typeof aedesFleet)}`])).join('; '),
    );
  }
  if (agentFleet) {
    const ok = agentFleet.rssMax <= 100;
    console.log(`  RSS <= 100 MB with ${vehicles} vehicles:  ${f(agentFleet.rssMax)} MB max  ${ok ? 'MET' : 'MISSED'}`);
    result.figure(`agent RSS with ${vehicles} vehicles at 1 Hz`, `${f(agentFleet.rssMax)} MB max`, '≤ 100 MB', ok);
  }
  const calmAlone = get('agent', 'quota: calm');
  const calmFlooded = rows.find((r) => r.target === 'agent' && r.phase === 'quota: calm+flood');
  if (calmAlone && calmFlooded) {
    const p99 = summary(calmFlooded).p99;
    const ratio = p99 / calmAlone.p99;
    console.log(`  others' p99 within 10% under a flood:  ${f(ratio, 2)}x (${f(p99, 2)} ms with the flood / ${f(calmAlone.p99, 2)} ms without)  ${ratio <= 1.1 ? 'MET' : 'MISSED'}`);
    result.figure('100 vehicles\' PUBACK p99 with one vehicle flooding, vs without', `${f(ratio, 2)}× (${f(p99, 2)} / ${f(calmAlone.p99, 2)} ms)`, '≤ 1.1×', ratio <= 1.1);
  }
  result.section('Phases', `Medians over the rounds (p99: median of the rounds' p99, worst round in brackets); CPU in % of one core.\n\n${table.join('\n')}`);
  result.section('Conditions', [
    ...machine().slice(1).map((line) => `- ${line}`),
    `- payload: telemetry v1 JSON, ${sizes?.min}-${sizes?.max} bytes (mean ${f(sizes?.mean ?? NaN)})`,
    `- closed: ${clients} clients × ${IN_FLIGHT} in flight, QoS 1; open: ${rate} msg/s offered; ${rounds} interleaved rounds of ${seconds} s per broker; fleet: ${vehicles} vehicles at 1 Hz for ${fleetSeconds} s on a fresh broker`,
    `- total ${f((Date.now() - started) / 1000, 0)} s`,
  ].join('\n'));
  await result.write();
  console.log(`\ntotal ${f((Date.now() - started) / 1000, 0)} s`);
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    killAll();
    if (benchDir !== undefined) rmSync(benchDir, { recursive: true, force: true });
    process.exit(130);
  });
}
process.once('exit', killAll);
main().catch((err: unknown) => {
  console.error(err);
  killAll();
  process.exitCode = 1;
});
