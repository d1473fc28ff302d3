import { afterAll, describe, expect, inject, it } from 'vitest';
import { runCli, startCli } from '../../support/cli.js';
import { randomName, testKafka, waitFor } from '../../support/kafka.js';
import { fleetRecords, multiset, produce, readAlertEvents, referenceEvents } from './support.js';

/**
 * The hot path as it runs (the built CLI, `roadlog hot start`, a real Kafka): the alert events it
 * publishes are exactly those the engine raises over the same records undisturbed, no more and
 * no fewer, when instances are killed with SIGKILL or added and removed meanwhile.
 */
const brokers = inject('kafkaBrokers');
const env = { ROADLOG_HOME: inject('roadlogHome'), ROADLOG_KAFKA_BROKERS: brokers, ROADLOG_LOG_LEVEL: 'warn' };
const kafka = testKafka(brokers);
const running: ReturnType<typeof startCli>[] = [];

afterAll(async () => {
  for (const r of running) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
});

async function startHot(prefix: string, instance: string, extra: string[] = []): Promise<ReturnType<typeof startCli>> {
  const hot = startCli(['hot', 'start', '--instance', instance, '--http-port', '0', ...extra], { env: { ...env, ROADLOG_TOPICS_PREFIX: prefix, ROADLOG_HOT_SNAPSHOT_INTERVAL_MS: '2000' } });
  running.push(hot);
  await waitFor(() => (/^http http:\/\//m.test(hot.output.stdout) ? true : hot.child.exitCode !== null ? Promise.reject(new Error(hot.output.stderr)) : undefined), 60_000, `hot ${instance} to start`);
  return hot;
}

async function setup(seed: number): Promise<{ prefix: string; records: ReturnType<typeof fleetRecords>; expected: ReturnType<typeof referenceEvents> }> {
  const prefix = randomName('hot');
  const apply = await runCli(['topics', 'apply', '--prefix', prefix], { env });
  expect(apply.code, apply.stderr).toBe(0);
  const records = fleetRecords(seed, 60, 40);
  const expected = referenceEvents(records);
  expect(expected.length).toBeGreaterThan(5);
  return { prefix, records, expected };
}

/** Produce the records in `chunks` slices, calling `between(i)` after each. */
async function produceInChunks(prefix: string, records: ReturnType<typeof fleetRecords>, chunks: number, between: (i: number) => Promise<void>): Promise<void> {
  const size = Math.ceil(records.length / chunks);
  for (let i = 0; i < chunks; i++) {
    await produce(kafka, `${prefix}.telemetry.v1`, records.slice(i * size, (i + 1) * size));
    await between(i);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('hot path (built CLI, real Kafka)', () => {
  it('publishes exactly the alert events of an undisturbed engine over the same records', async () => {
    const prefix = randomName('hot');
    const apply = await runCli(['topics', 'apply', '--prefix', prefix], { env });
    expect(apply.code, apply.stderr).toBe(0);
    const records = fleetRecords(3, 60, 40);
    const expected = referenceEvents(records);
    expect(expected.length).toBeGreaterThan(5);
    await produce(kafka, `${prefix}.telemetry.v1`, records);
    const hot = await startHot(prefix, 'h1');
    const got = await readAlertEvents(kafka, `${prefix}.alerts.v1`, expected.length);
    hot.child.kill('SIGTERM');
    await hot.exited;
    expect(multiset(got)).toEqual(multiset(expected));
  });

  it('kill -9 of the instance at random moments, each time restarted: the same events, none twice', async () => {
    const { prefix, records, expected } = await setup(5);
    let hot = await startHot(prefix, 'k0');
    let kills = 0;
    await produceInChunks(prefix, records, 5, async (i) => {
      await sleep(500 + Math.floor(Math.random() * 2_500));
      hot.child.kill('SIGKILL');
      await hot.exited;
      kills++;
      hot = await startHot(prefix, `k${i + 1}`);
    });
    const got = await readAlertEvents(kafka, `${prefix}.alerts.v1`, expected.length);
    hot.child.kill('SIGTERM');
    await hot.exited;
    expect(kills).toBe(5);
    expect(multiset(got)).toEqual(multiset(expected));
  });

  it('rebalances 1 → 3 → 1 instances under load: the same events, none twice', async () => {
    const { prefix, records, expected } = await setup(6);
    const a = await startHot(prefix, 'r-a');
    let b: ReturnType<typeof startCli> | undefined;
    let c: ReturnType<typeof startCli> | undefined;
    await produceInChunks(prefix, records, 4, async (i) => {
      if (i === 0) [b, c] = await Promise.all([startHot(prefix, 'r-b'), startHot(prefix, 'r-c')]);
      if (i === 2) {
        b!.child.kill('SIGTERM'); // leaves the group cleanly
        c!.child.kill('SIGKILL'); // its partitions come back after its session times out
        await Promise.all([b!.exited, c!.exited]);
      }
      await sleep(1_000);
    });
    const got = await readAlertEvents(kafka, `${prefix}.alerts.v1`, expected.length, 180_000);
    a.child.kill('SIGTERM');
    await a.exited;
    expect(multiset(got)).toEqual(multiset(expected));
  });

  it('a stale member (paused past its session while another takes its partitions over) is fenced: its late commits never land', async () => {
    const { prefix, records, expected } = await setup(8);
    const a = await startHot(prefix, 's-a');
    const half = Math.floor(records.length / 2);
    await produce(kafka, `${prefix}.telemetry.v1`, records.slice(0, half));
    await sleep(1_500);
    a.child.kill('SIGSTOP'); // mid-stream: its open transactions stay open
    const b = await startHot(prefix, 's-b');
    await produce(kafka, `${prefix}.telemetry.v1`, records.slice(half));
    // b gets every partition once a's session (10 s) expires, fencing a's producers as it takes each over.
    await sleep(15_000);
    a.child.kill('SIGCONT'); // a wakes up believing it owns its partitions, and tries to commit
    const got = await readAlertEvents(kafka, `${prefix}.alerts.v1`, expected.length, 180_000);
    await sleep(3_000);
    const after = await readAlertEvents(kafka, `${prefix}.alerts.v1`, expected.length, 60_000, 1_000);
    for (const p of [a, b]) p.child.kill('SIGTERM');
    await Promise.all([a.exited, b.exited]);
    expect(multiset(got)).toEqual(multiset(expected));
    expect(multiset(after)).toEqual(multiset(expected));
    // It did try: a transaction of the stale member was refused (fenced) once it woke.
    expect(a.output.stderr, a.output.stderr.slice(-2000)).toMatch(/a transaction failed/);
  });
});
