import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseDuration } from '../../shared/cli/context.js';
import { Kafka, logLevel } from '../../shared/kafka/kafkajs.js';
import { Demo } from '../../infra/demo/demo.js';
import { kafkaClusterStatus, killBroker, restartBroker } from '../../infra/kafka/cluster.js';
import { influxStatus } from '../../infra/influx/server.js';
import { CLI } from '../support/cli.js';
import { formatResources, judge, ResourceSampler } from './resources.js';

/**
 * `npm run test:soak`: `roadlog demo`'s whole pipeline for an hour of wall time under mixed
 * faults, every process's RSS and open files sampled (resources.ts), each of roadlog's own
 * processes flat within 10 % from its warm-up to its end. The faults take turns, one every
 * `--fault-every`: gw-1's uplink cut for a minute, kill -9 of the Kafka broker, of the hot path,
 * the archiver, the InfluxDB sink and gw-2's agent (each started again). Also checked: records
 * kept coming through to the end, and no part gave up (the demo restarts a part that fails, as
 * systemd would, at most 5 times in 5 minutes).
 *
 *   npm run test:soak -- [--minutes 60] [--vehicles 200] [--speedup 5] [--fault-every 6m]
 *                        [--warmup 10m] [--window 5m] [--tolerance 0.10] [--sample-every 15s] [--dir DIR]
 *
 * Prints the table, writes it with the machine and the command to test/e2e/results/soak.md, and
 * exits 1 when a check misses. The short version in `npm test` is test/integration/e2e/soak.test.ts.
 */
export interface SoakOptions {
  dir: string;
  minutes: number;
  vehicles: number;
  speedup: number;
  faultEveryMs: number;
  warmupMs: number;
  windowMs: number;
  tolerance: number;
  /** RSS's own tolerance (default `tolerance`): the short version's minutes are all warm-up for a heap. */
  rssTolerance?: number;
  sampleEveryMs: number;
  say(line: string): void;
}

export const FAULTS = ['outage gw-1', 'kill -9 kafka', 'kill -9 hot', 'kill -9 cold', 'kill -9 influx-sink', 'kill -9 gw-2'] as const;
/** Reported, not judged: not roadlog's (Kafka's JVM, InfluxDB) or the load (the simulators keep their truth in memory). */
export const JUDGED = (name: string): boolean => !['kafka', 'influxdb'].includes(name) && !name.startsWith('sim-');

export async function runSoak(o: SoakOptions): Promise<{ table: string; checks: { name: string; measured: string; ok: boolean }[]; timeline: string[] }> {
  const demo = new Demo({ dir: o.dir, nodes: 1, vehicles: o.vehicles, speedup: o.speedup, duration: '1h', port: 0, keep: false, cli: CLI, say: o.say });
  const timeline: string[] = [];
  const metrics = new Map<string, string>();
  const sampler = new ResourceSampler(async () => {
    const kafka = await kafkaClusterStatus(join(o.dir, 'kafka'));
    const influx = await influxStatus(join(o.dir, 'influx'));
    return [...demo.processes(), ...kafka.brokers.filter((b) => b.alive).map((b) => ({ name: 'kafka', pid: b.pid })), ...(influx.pid === undefined ? [] : [{ name: 'influxdb', pid: influx.pid }])];
  }, o.sampleEveryMs, (name) => metrics.get(name));
  try {
    const info = await demo.start();
    for (const [part, url] of Object.entries(info.metrics)) metrics.set(part === 'influx' ? 'influx-sink' : part, `${url}/metrics`);
    metrics.set('console', `${info.consoleUrl}/metrics`);
    const t0 = Date.now();
    const mark = (what: string) => {
      timeline.push(`${((Date.now() - t0) / 60_000).toFixed(1)} min: ${what}`);
      o.say(`soak ${timeline.at(-1)!}`);
    };
    sampler.start();
    const kafka = new Kafka({ clientId: 'soak', brokers: info.brokers.split(','), logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    const records = async (): Promise<bigint> => {
      await admin.connect();
      return (await admin.fetchTopicOffsets('roadlog.telemetry.v1')).reduce((n, p) => n + BigInt(p.high), 0n);
    };
    const end = t0 + o.minutes * 60_000;
    // Faults until the last window, which has none: what it measures is the pipeline settled.
    for (let i = 0; t0 + (i + 1) * o.faultEveryMs <= end - o.windowMs; i++) {
      await sleepUntil(t0 + (i + 1) * o.faultEveryMs);
      const gaveUp = demo.exited();
      if (gaveUp !== undefined) throw new Error(`${gaveUp.name} exited (${gaveUp.code}) and was not started again: see ${join(info.logs, `${gaveUp.name}.log`)}`);
      const fault = FAULTS[i % FAULTS.length]!;
      mark(fault);
      if (fault === 'outage gw-1') await demo.outage(info, 'gw-1', 60_000);
      else if (fault === 'kill -9 kafka') {
        await killBroker(join(o.dir, 'kafka'), 1, 'SIGKILL');
        await restartBroker(join(o.dir, 'kafka'), 1);
      } else await demo.restart(fault.slice('kill -9 '.length));
      mark(`${fault}: done`);
    }
    await sleepUntil(end - o.windowMs);
    const lastWindow = { at: Date.now(), records: await records() };
    await sleepUntil(end);
    const flowed = (await records()) - lastWindow.records;
    await admin.disconnect();
    sampler.stop();
    mark('the soak has run');
    // Every sample, to judge again with another warm-up or window without running an hour again.
    await writeFile(join(o.dir, 'samples.json'), JSON.stringify(sampler.samples));
    const verdicts = judge(sampler.samples, { warmupMs: o.warmupMs, windowMs: o.windowMs, tolerance: o.tolerance, ...(o.rssTolerance === undefined ? {} : { rssTolerance: o.rssTolerance }), judged: JUDGED });
    const rssTolerance = o.rssTolerance ?? o.tolerance;
    const judged = verdicts.filter((v) => v.verdict === 'flat' || v.verdict === 'GREW');
    const gaveUp = demo.exited();
    const parts = new Set(judged.map((v) => v.name));
    const missing = ['gw-1', 'gw-2', 'hot', 'cold', 'influx-sink', 'console'].filter((n) => !parts.has(n));
    const checks = [
      { name: `roadlog's processes flat: RSS within ${(rssTolerance * 100).toFixed(0)} %, open files within ${(o.tolerance * 100).toFixed(0)} % or ≤ 2 more`, measured: `${judged.filter((v) => v.ok).length} of ${judged.length} flat`, ok: judged.length > 0 && judged.every((v) => v.ok) },
      { name: 'every part judged at least once (an incarnation long enough)', measured: missing.length === 0 ? 'all 6' : `not: ${missing.join(', ')}`, ok: missing.length === 0 },
      { name: 'records kept coming through in the last window', measured: `${flowed} records in ${((end - lastWindow.at) / 60_000).toFixed(1)} min`, ok: flowed > 0n },
      { name: 'no part gave up', measured: gaveUp === undefined ? 'none' : `${gaveUp.name} (exit ${gaveUp.code})`, ok: gaveUp === undefined },
    ];
    return { table: formatResources(verdicts), checks, timeline };
  } finally {
    sampler.stop();
    await demo.stop();
  }
}

const sleepUntil = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, t - Date.now())));

async function main(): Promise<void> {
  const { values: f } = parseArgs({
    options: {
      minutes: { type: 'string', default: '60' },
      vehicles: { type: 'string', default: '200' },
      speedup: { type: 'string', default: '5' },
      'fault-every': { type: 'string', default: '6m' },
      warmup: { type: 'string', default: '10m' },
      window: { type: 'string', default: '5m' },
      tolerance: { type: 'string', default: '0.10' },
      'sample-every': { type: 'string', default: '15s' },
      dir: { type: 'string' },
      results: { type: 'string', default: join(import.meta.dirname, 'results', 'soak.md') },
      help: { type: 'boolean', default: false },
    },
  });
  if (f.help) {
    process.stdout.write('npm run test:soak -- [--minutes 60] [--vehicles 200] [--speedup 5] [--fault-every 6m] [--warmup 10m] [--window 5m] [--tolerance 0.10] [--sample-every 15s] [--dir DIR] [--results FILE]\n');
    return;
  }
  const num = (name: 'minutes' | 'vehicles' | 'speedup' | 'tolerance'): number => {
    const n = Number(f[name]);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`test:soak: --${name}: expected a positive number, got ${f[name]}`);
    return n;
  };
  const o: SoakOptions = {
    dir: f.dir ?? (await mkdtemp(join(tmpdir(), 'roadlog-soak-'))),
    minutes: num('minutes'),
    vehicles: num('vehicles'),
    speedup: num('speedup'),
    faultEveryMs: parseDuration(f['fault-every']!, '--fault-every'),
    warmupMs: parseDuration(f.warmup!, '--warmup'),
    windowMs: parseDuration(f.window!, '--window'),
    tolerance: num('tolerance'),
    sampleEveryMs: parseDuration(f['sample-every']!, '--sample-every'),
    say: (line) => process.stdout.write(`${line}\n`),
  };
  const command = `npm run test:soak -- --minutes ${o.minutes} --vehicles ${o.vehicles} --speedup ${o.speedup} --fault-every ${f['fault-every']} --warmup ${f.warmup} --window ${f.window} --tolerance ${o.tolerance}`;
  process.stdout.write(`soak: ${o.minutes} min, ${o.vehicles} vehicles at ${o.speedup}×, a fault every ${f['fault-every']} (${FAULTS.join(', ')} in turn); run folder ${o.dir}\n`);
  const { table, checks, timeline } = await runSoak(o);
  const ok = checks.every((c) => c.ok);
  const summary = ['| check | measured | |', '| --- | --- | --- |', ...checks.map((c) => `| ${c.name} | ${c.measured} | ${c.ok ? 'pass' : 'FAIL'} |`)].join('\n');
  process.stdout.write(`\n${summary}\n\n${table}\n${ok ? 'soak: every check passed' : 'soak: FAILED'}\n`);
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  await mkdir(join(f.results!, '..'), { recursive: true });
  await writeFile(f.results!, `# Soak\n\n${new Date().toISOString().slice(0, 10)} · \`${command}\` · ${machine}\n\n${summary}\n\nEvery process, each incarnation its own row (baseline: the ${f.window} after a ${f.warmup} warm-up; end: the last ${f.window}; medians of samples every ${f['sample-every']}):\n\n${table}\nTimeline (wall minutes from the fleet's start):\n\n${timeline.map((t) => `- ${t}`).join('\n')}\n`);
  if (ok && f.dir === undefined) await rm(o.dir, { recursive: true, force: true });
  process.exitCode = ok ? 0 : 1;
}

if (process.argv[1] === import.meta.filename) {
  main().catch((err: unknown) => {
    process.stderr.write(`test:soak: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
