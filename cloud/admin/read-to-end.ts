import { randomUUID } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { disconnectQuietly, withDeadline } from '../../shared/kafka/index.js';

/**
 * Reads a topic from its earliest offsets up to the ends taken when it starts, with a
 * throw-away consumer group that never commits (read_committed), handing each record to
 * `onMessage` (`onStart` is told how many offsets that spans). A topic written in transactions ends a partition with a commit marker, not a
 * record: `transactional` allows that one offset, and gives up on a partition whose last
 * records were aborted once nothing has come for 2 s.
 */
export async function readToEnd(kafka: Kafka, topic: string, onMessage: (partition: number, message: KafkaMessage) => void, o: { timeoutMs: number; readTimeoutMs?: number; transactional: boolean; what: string; onStart?: (records: number) => void }): Promise<void> {
  const admin = kafka.admin();
  await withDeadline(() => admin.connect(), o.timeoutMs, o.what);
  let ends: { partition: number; high: string; low: string }[];
  try {
    ends = await withDeadline(() => admin.fetchTopicOffsets(topic), o.timeoutMs, o.what);
  } finally {
    await disconnectQuietly(admin);
  }
  const left = new Map(ends.filter((e) => BigInt(e.high) > BigInt(e.low)).map((e) => [e.partition, BigInt(e.high)]));
  o.onStart?.(ends.reduce((n, e) => n + Number(BigInt(e.high) - BigInt(e.low)), 0));
  if (left.size === 0) return;
  const slack = o.transactional ? 2n : 1n;
  const seen = new Map<number, bigint>();
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  let idle: NodeJS.Timeout | undefined;
  const check = () => {
    if (idle !== undefined) clearTimeout(idle);
    if ([...left].every(([p, high]) => (seen.get(p) ?? -1n) + slack >= high)) finish();
    else if (o.transactional) idle = setTimeout(finish, 2_000);
  };
  const consumer = kafka.consumer({ groupId: `roadlog-read-${randomUUID()}`, readUncommitted: false, maxWaitTimeInMs: 200 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const high = left.get(batch.partition);
        for (const m of batch.messages) {
          if (high !== undefined && BigInt(m.offset) >= high) break;
          onMessage(batch.partition, m);
          seen.set(batch.partition, BigInt(m.offset));
        }
        check();
      },
    });
    await withDeadline(() => done, o.readTimeoutMs ?? o.timeoutMs, `${o.what}: reading ${topic}`);
  } finally {
    if (idle !== undefined) clearTimeout(idle);
    await disconnectQuietly(consumer);
  }
}
