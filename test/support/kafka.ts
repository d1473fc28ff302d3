import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from '../../shared/kafka/kafkajs.js';

export function randomName(prefix = 't'): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

/** A kafkajs client for tests: quiet logs, quick retries. */
export function testKafka(brokers: string, clientId = randomName('it')): Kafka {
  return new Kafka({ clientId, brokers: brokers.split(','), logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2_000 } });
}

/** Poll `check` until it returns a value other than undefined, or fail after `timeoutMs`. */
export async function waitFor<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs: number, what: string, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Create topics and wait until every partition has a leader. kafkajs's own `waitForLeaders`
 * gives up after its client's few retries, which a 3-node KRaft cluster under load can
 * outlast ("This server does not host this topic-partition"); this polls for up to 60 s.
 */
export async function createTopicsReady(admin: import('kafkajs').Admin, topics: import('kafkajs').ITopicConfig[]): Promise<void> {
  await admin.createTopics({ topics, waitForLeaders: false });
  const { waitForLeaders } = await import('../../cloud/admin/topics.js');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    waitForLeaders(admin, topics.map((t) => t.topic)),
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no leaders for ${topics.map((t) => t.topic).join(', ')} after 60 s`)), 60_000))),
  ]).finally(() => clearTimeout(timer));
}
