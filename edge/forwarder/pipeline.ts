import type { Producer } from 'kafkajs';
import { CompressionTypes } from '../../shared/kafka/kafkajs.js';
import { sendRound } from '../../shared/kafka/index.js';
import { partitionForKey } from '../../shared/partitioner/index.js';
import { backoffDelay } from '../../shared/retry/backoff.js';
import type { CursorPositions, ReadBatch } from '../log/index.js';
import { AckTracker, CoalescedCommit } from './cursor-tracker.js';
import type { ForwarderOptions } from './options.js';
import { PartitionQueue, type QueuedRecord } from './partition-queue.js';
import type { KafkaRecordEncoder } from './records.js';
import { fitForKafka } from './truncate.js';

/** What the pipeline needs from its forwarder. */
export interface PipelineHost {
  readonly options: ForwarderOptions;
  readonly encoder: KafkaRecordEncoder;
  now(): number;
  /** The producer to send with now. */
  producer(): Producer;
  /** False while the producer is being replaced: nothing is sent meanwhile. */
  canSend(): boolean;
  /** Kafka acknowledged these records (one request). */
  acked(items: readonly QueuedRecord[]): void;
  /** A request failed; it is sent again after a backoff. */
  failed(err: unknown): void;
  /** Saves the cursor (the log reader's commit). */
  commit(positions: CursorPositions): Promise<void>;
  commitFailed(err: unknown): void;
}

export interface KafkaTopic {
  name: string;
  partitions: number;
}

/** Rounds in flight at most: the next is built (and encoded) while the broker answers the last. */
const MAX_ROUNDS = 2;
/** Bytes of one round, at most (estimated; every ready partition gets a request's worth until then). */
const MAX_ROUND_BYTES = 8 * 1024 * 1024;

/**
 * The forwarder's send side. Records read from the edge log wait in the queue of their Kafka
 * partition (PartitionQueue: one request's worth in flight each). A round takes every ready
 * partition's next chunk and sends them together (`sendRound`: one request per broker, each
 * partition's ack checked), so a few records for twelve partitions cost one round trip, not
 * twelve; a partition in flight sits out the next round, which keeps its order. Acks, in any
 * order, move the cursor over the contiguous prefix of wholly acknowledged batches
 * (AckTracker), saved with one save in flight at most, one started per cursorSaveIntervalMs
 * (CoalescedCommit).
 */
export class SendPipeline {
  private readonly tracker = new AckTracker();
  private readonly commits: CoalescedCommit;
  /** By `topic/partition`. */
  private readonly queues = new Map<string, PartitionQueue>();
  private readonly partitionOfKey = new Map<string, number>();
  private records = 0;
  private valueBytes = 0;
  private requestsInFlight = 0;
  private rounds = 0;
  private idleWaiters: (() => void)[] = [];
  private retryTimer: { at: number; timer: NodeJS.Timeout } | undefined;
  private stopped = false;

  constructor(private readonly host: PipelineHost) {
    this.commits = new CoalescedCommit(
      (positions) => host.commit(positions),
      (err) => host.commitFailed(err),
      host.options.cursorSaveIntervalMs,
    );
  }

  /** Batches read and not yet committable, requests awaiting an answer, records and value bytes read and not acknowledged. */
  get inFlight(): { batches: number; requests: number; records: number; bytes: number } {
    return { batches: this.tracker.inFlight, requests: this.requestsInFlight, records: this.records, bytes: this.valueBytes };
  }

  /** A batch's records into their Kafka partitions' queues; `end` is where the reader stands after it. */
  enqueue(batch: ReadBatch, end: CursorPositions, topics: { telemetry: KafkaTopic; deadLetters: KafkaTopic }): void {
    const ticket = this.tracker.add(end, batch.records.length);
    for (const r of batch.records) {
      const topic = r.lane === 'dead' ? topics.deadLetters : topics.telemetry;
      const record = fitForKafka(this.host.encoder.encode(r));
      this.queue(topic.name, this.partitionOf(record.key, topic.partitions)).push({ record, ticket, ingestTs: r.ingestTs, lane: r.lane, valueBytes: r.value.length });
      this.valueBytes += r.value.length;
    }
    this.records += batch.records.length;
    if (batch.records.length === 0) this.commitDone();
    this.pump();
  }

  /** Sends a round of what is ready: the next chunk of every Kafka partition with records waiting and none in flight. */
  pump(): void {
    if (this.stopped || this.rounds >= MAX_ROUNDS || !this.host.canSend()) return;
    const now = this.host.now();
    let retryAt = Infinity;
    const ready: PartitionQueue[] = [];
    for (const q of this.queues.values()) {
      if (q.ready(now)) ready.push(q);
      else if (!q.inFlight && q.size > 0) retryAt = Math.min(retryAt, q.notBefore);
    }
    if (ready.length > 0) this.send(ready);
    if (retryAt < Infinity && (this.retryTimer === undefined || retryAt < this.retryTimer.at)) {
      if (this.retryTimer !== undefined) clearTimeout(this.retryTimer.timer);
      const timer = setTimeout(() => ((this.retryTimer = undefined), this.pump()), Math.max(0, retryAt - now));
      this.retryTimer = { at: retryAt, timer };
    }
  }

  /** Resolves when no request is in flight. */
  idle(): Promise<void> {
    if (this.requestsInFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Forgets everything queued (the reader goes back to the durable cursor and reads it again). */
  async clear(): Promise<void> {
    await this.idle();
    for (const q of this.queues.values()) q.clear();
    this.tracker.clear();
    this.records = 0;
    this.valueBytes = 0;
    await this.commits.flush();
  }

  /** Sends nothing more; waits for the requests in flight and the cursor save over what they acknowledged. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer.timer);
    await this.idle();
    await this.commits.flush();
  }

  private queue(topic: string, partition: number): PartitionQueue {
    const id = `${topic}/${partition}`;
    let q = this.queues.get(id);
    if (q === undefined) this.queues.set(id, (q = new PartitionQueue(topic, partition)));
    return q;
  }

  /** Kafka's murmur2 partition of a key, remembered (a gateway has a few thousand vehicles at most). */
  private partitionOf(key: string, partitions: number): number {
    const id = `${partitions}:${key}`;
    let p = this.partitionOfKey.get(id);
    if (p === undefined) {
      if (this.partitionOfKey.size >= 100_000) this.partitionOfKey.clear();
      this.partitionOfKey.set(id, (p = partitionForKey(key, partitions)));
    }
    return p;
  }

  private send(ready: PartitionQueue[]): void {
    const o = this.host.options;
    const round: { q: PartitionQueue; items: QueuedRecord[] }[] = [];
    let bytes = 0;
    for (const q of ready) {
      if (bytes >= MAX_ROUND_BYTES) break;
      const items = q.take(o.maxRequestBytes, 50_000);
      round.push({ q, items });
      for (const i of items) bytes += i.valueBytes;
    }
    this.rounds++;
    this.requestsInFlight += round.length;
    const chunks = round.map(({ q, items }) => ({ topic: q.topic, partition: q.partition, records: items.map((i) => i.record) }));
    void sendRound(this.host.producer(), chunks, { acks: -1, timeoutMs: o.ackTimeoutMs, ...(o.compression === 'gzip' ? { compression: CompressionTypes.GZIP } : {}) })
      .then((results) => {
        let failure: unknown;
        results.forEach((r, i) => {
          const { q, items } = round[i]!;
          if (r.ok) this.acked(q, items);
          else {
            q.failed(this.host.now() + backoffDelay(q.attempt, o.retry));
            failure ??= r.error;
          }
        });
        if (failure !== undefined) this.host.failed(failure);
      })
      .catch((err: unknown) => this.host.failed(err)) // a bug of ours: reported, and the loop goes on
      .finally(() => {
        this.rounds--;
        this.requestsInFlight -= round.length;
        if (this.requestsInFlight === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
        this.pump();
      });
  }

  private acked(q: PartitionQueue, items: QueuedRecord[]): void {
    q.acked();
    let bytes = 0;
    for (const item of items) {
      this.tracker.ack(item.ticket, 1);
      bytes += item.valueBytes;
    }
    this.records -= items.length;
    this.valueBytes -= bytes;
    this.host.acked(items);
    this.commitDone();
  }

  /** Moves the cursor over the batches done so far, in read order. */
  private commitDone(): void {
    const end = this.tracker.takeCommittable();
    if (end !== undefined) this.commits.request(end);
  }
}
