import { randomUUID } from 'node:crypto';
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { disconnectQuietly, withDeadline } from '../../shared/kafka/index.js';
import type { Logger } from '../../shared/logging/index.js';

/**
 * Reads records at chosen offsets of one topic, on demand: the console's record browser, "find
 * a vehicle", the dead letters and the groups' lag in device time all ask "what is at offset N
 * of partition P". kafkajs has no assign(), so a consumer must join a group before it reads;
 * doing that per question costs a group join (seconds on a broker with the default
 * group.initial.rebalance.delay.ms). So each topic has one consumer, in a throw-away group that
 * never commits, joined once and kept with every partition paused; a read seeks the partitions
 * it wants, resumes them, takes what it asked for, and pauses the topic again. Reads on one topic
 * take turns. read_committed: what the topic's consumers see (no aborted transaction's record).
 */
export interface ReadPoint {
  partition: number;
  /** First offset wanted. */
  from: bigint;
  /** Records wanted from there on. */
  count: number;
}

interface Want extends ReadPoint {
  got: KafkaMessage[];
  /** The next offset wanted: a batch is taken only if it was fetched from here or before. */
  next: bigint;
  done: boolean;
}

/**
 * A read ends when each partition has what it asked for or reached its end, or when nothing new
 * has come for IDLE_MS (a compacted or transactional stretch up to the end), or FIRST_MS before
 * anything came (the first fetch after a seek).
 */
const IDLE_MS = 700;
const FIRST_MS = 3_000;

export class TopicReader {
  private consumer: Consumer | undefined;
  private started: Promise<Consumer> | undefined;
  private turn: Promise<unknown> = Promise.resolve();
  private wants = new Map<number, Want>();
  private onProgress: (() => void) | undefined;

  constructor(
    private readonly kafka: Kafka,
    readonly topic: string,
    private readonly logger: Logger,
    private readonly timeoutMs = 10_000,
  ) {}

  /** The records from each point (fewer where the partition ends first), by partition. */
  read(points: readonly ReadPoint[]): Promise<Map<number, KafkaMessage[]>> {
    const run = this.turn.then(() => this.readNow(points));
    this.turn = run.catch(() => undefined);
    return run;
  }

  private async start(): Promise<Consumer> {
    const consumer = this.kafka.consumer({ groupId: `roadlog-console-read-${randomUUID()}`, readUncommitted: false, maxWaitTimeInMs: 100, allowAutoTopicCreation: false, sessionTimeout: 30_000, heartbeatInterval: 3_000 });
    this.consumer = consumer;
    consumer.on(consumer.events.CRASH, (e: { payload: { error: Error; restart: boolean } }) => {
      if (e.payload.restart) return;
      this.logger.warn({ err: e.payload.error.message, topic: this.topic }, 'console: a topic reader stopped; the next read starts another');
      this.started = undefined;
      void disconnectQuietly(consumer);
    });
    // After a rebalance or a restart kafkajs starts the group again from the log's end with
    // nothing paused: pause again, and send a read under way back to where it was.
    consumer.on(consumer.events.GROUP_JOIN, () => {
      try {
        consumer.pause([{ topic: this.topic }]);
        const active = [...this.wants.values()].filter((w) => !w.done);
        for (const w of active) consumer.seek({ topic: this.topic, partition: w.partition, offset: w.next.toString() });
        if (active.length > 0) consumer.resume([{ topic: this.topic, partitions: active.map((w) => w.partition) }]);
      } catch {
        /* not running yet: start() pauses it */
      }
    });
    try {
      await withDeadline(() => consumer.connect(), this.timeoutMs, 'console: reading records');
      await withDeadline(() => consumer.subscribe({ topics: [this.topic], fromBeginning: false }), this.timeoutMs, 'console: reading records');
      await consumer.run({ autoCommit: false, eachBatch: async (p) => this.onBatch(p) });
      consumer.pause([{ topic: this.topic }]);
    } catch (err) {
      await disconnectQuietly(consumer);
      throw err;
    }
    return consumer;
  }

  private async readNow(points: readonly ReadPoint[]): Promise<Map<number, KafkaMessage[]>> {
    this.started ??= this.start().catch((err: unknown) => {
      this.started = undefined;
      throw err;
    });
    const consumer = await this.started;
    this.wants = new Map(points.filter((p) => p.count > 0).map((p) => [p.partition, { ...p, got: [], next: p.from, done: false }]));
    try {
      if (this.wants.size > 0) {
        for (const w of this.wants.values()) consumer.seek({ topic: this.topic, partition: w.partition, offset: w.from.toString() });
        consumer.resume([{ topic: this.topic, partitions: [...this.wants.keys()] }]);
        await new Promise<void>((resolve) => {
          let idle: NodeJS.Timeout | undefined;
          const deadline = setTimeout(finish, this.timeoutMs);
          function finish(): void {
            clearTimeout(deadline);
            if (idle !== undefined) clearTimeout(idle);
            resolve();
          }
          this.onProgress = () => {
            if ([...this.wants.values()].every((w) => w.done)) return finish();
            if (idle !== undefined) clearTimeout(idle);
            idle = setTimeout(finish, IDLE_MS);
          };
          idle = setTimeout(finish, FIRST_MS);
        });
      }
    } finally {
      this.onProgress = undefined;
      consumer.pause([{ topic: this.topic }]);
    }
    const out = new Map<number, KafkaMessage[]>();
    for (const p of points) out.set(p.partition, this.wants.get(p.partition)?.got ?? []);
    this.wants = new Map();
    return out;
  }

  private onBatch({ batch, isStale }: EachBatchPayload): void {
    const w = this.wants.get(batch.partition);
    // A batch fetched past the next offset wanted is not this read's (fetched before its seek,
    // or after a rebalance sent the group to the end): its records would not follow on.
    if (w === undefined || w.done || isStale() || BigInt((batch as typeof batch & { fetchedOffset: string }).fetchedOffset) > w.next) return;
    for (const m of batch.messages) {
      if (BigInt(m.offset) < w.next) continue;
      w.got.push(m);
      w.next = BigInt(m.offset) + 1n;
      if (w.got.length >= w.count) break;
    }
    const last = batch.messages.at(-1);
    if (w.got.length >= w.count || (last !== undefined && BigInt(last.offset) + 1n >= BigInt(batch.highWatermark))) w.done = true;
    this.onProgress?.();
  }

  async close(): Promise<void> {
    if (this.consumer !== undefined) await disconnectQuietly(this.consumer, 5_000);
  }
}

/** One reader per topic, made when first asked for (at most `max`: the oldest is closed beyond). */
export class TopicReaders {
  private readonly readers = new Map<string, TopicReader>();

  constructor(
    private readonly kafka: Kafka,
    private readonly logger: Logger,
    private readonly max = 8,
  ) {}

  of(topic: string): TopicReader {
    let r = this.readers.get(topic);
    if (r === undefined) {
      r = new TopicReader(this.kafka, topic, this.logger);
      this.readers.set(topic, r);
      if (this.readers.size > this.max) {
        const [oldest, reader] = this.readers.entries().next().value!;
        this.readers.delete(oldest);
        void reader.close();
      }
    } else {
      // Most recently used last.
      this.readers.delete(topic);
      this.readers.set(topic, r);
    }
    return r;
  }

  async close(): Promise<void> {
    await Promise.all([...this.readers.values()].map((r) => r.close()));
    this.readers.clear();
  }
}
