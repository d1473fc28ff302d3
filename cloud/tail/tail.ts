import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { disconnectQuietly, withDeadline } from '../../shared/kafka/index.js';
import type { Logger } from '../../shared/logging/index.js';
import { requireTopic } from '../admin/topics.js';
import { formatJson, formatPretty, toTailRecord } from './format.js';

export interface TailOptions {
  topic: string;
  fromBeginning: boolean;
  key?: string;
  partition?: number;
  limit?: number;
  format: 'json' | 'pretty';
  operationTimeoutMs: number;
  write: (line: string) => void;
  /** Resolves when the caller wants to stop (Ctrl-C). */
  stopSignal: Promise<unknown>;
  logger: Logger;
  /** Called once the consumer has joined and reads: records appended from then on are printed. */
  onReady?: () => void;
}

/**
 * Print records of a topic as they arrive. Reads with a throw-away consumer group
 * (`roadlog-tail-<uuid>`) that never commits, so tailing leaves no offsets behind and does
 * not take partitions from real consumer groups. Returns the number of records printed.
 */
export async function tail(kafka: Kafka, options: TailOptions): Promise<number> {
  const admin = kafka.admin();
  await withDeadline(() => admin.connect(), options.operationTimeoutMs, 'tail');
  try {
    await withDeadline(() => requireTopic(admin, options.topic, 'tail'), options.operationTimeoutMs, 'tail');
    if (options.partition !== undefined) {
      const offsets = await withDeadline(() => admin.fetchTopicOffsets(options.topic), options.operationTimeoutMs, 'tail');
      if (!offsets.some((o) => o.partition === options.partition)) {
        const { RoadlogError } = await import('../../shared/errors/index.js');
        throw new RoadlogError('ROADLOG_ERR_USAGE', `--partition: topic ${options.topic} has partitions 0..${offsets.length - 1}, got ${options.partition}`);
      }
    }
  } finally {
    await disconnectQuietly(admin);
  }

  const consumer = kafka.consumer({ groupId: `roadlog-tail-${randomUUID()}`, allowAutoTopicCreation: false, sessionTimeout: 10_000, heartbeatInterval: 3_000 });
  let printed = 0;
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const wanted = (partition: number, key: Buffer | null): boolean =>
    (options.partition === undefined || partition === options.partition) && (options.key === undefined || key?.toString() === options.key);

  await withDeadline(() => consumer.connect(), options.operationTimeoutMs, 'tail');
  try {
    await withDeadline(() => consumer.subscribe({ topics: [options.topic], fromBeginning: options.fromBeginning }), options.operationTimeoutMs, 'tail');
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, isRunning, isStale }) => {
        for (const message of batch.messages) {
          if (!isRunning() || isStale()) break;
          if (options.limit !== undefined && printed >= options.limit) break;
          if (wanted(batch.partition, message.key)) {
            const record = toTailRecord(batch.topic, batch.partition, message);
            options.write(options.format === 'json' ? formatJson(record) : formatPretty(record));
            printed += 1;
          }
          resolveOffset(message.offset);
        }
        // Stop outside the handler: disconnecting from inside eachBatch would wait on itself.
        if (options.limit !== undefined && printed >= options.limit) setImmediate(finish);
      },
    });
    options.onReady?.();
    await Promise.race([done, options.stopSignal]);
  } finally {
    await disconnectQuietly(consumer, 5_000);
  }
  return printed;
}
