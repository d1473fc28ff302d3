import { CompressionTypes, type Producer } from 'kafkajs';
import type { Registry } from 'prom-client';
import { RoadlogError } from '../../shared/errors/index.js';
import { disconnectQuietly, kafkaErrorType, sendPerPartition, toRoadlogError, UnacknowledgedSendError, type KeyedRecord } from '../../shared/kafka/index.js';
import { partitionForKey } from '../../shared/partitioner/index.js';
import type { Logger } from '../../shared/logging/index.js';
import { backoffDelay } from '../../shared/retry/backoff.js';
import { asLogError, LANES, positionKey, type EdgeLog, type LogReader, type ReadBatch } from '../log/index.js';
import { createForwarderMetrics, type ForwarderMetrics } from './metrics.js';
import type { ForwarderOptions } from './options.js';
import { toKafkaRecord } from './records.js';
import { DrainRate, type ForwarderStatus, summarize } from './status.js';

/**
 * Reads the edge log from its durable cursor and produces to Kafka: `normal` and `critical`
 * lanes to the telemetry topic, the `dead` lane to the dead-letter topic. Critical records
 * first (the reader serves that lane first), each batch shared fairly among the partitions.
 *
 * Never losing: the cursor advances, durably, only after Kafka acknowledged every record of
 * the batch (`sendPerPartition`: acks=all, idempotent producer, every partition's ack checked).
 * Never reordering: one batch at a time; within a batch a vehicle's records stay in order in
 * one Kafka partition. When a send fails, the Kafka partitions that acknowledged are done and
 * only the others are sent again, after a backoff, before anything newer: so a vehicle's
 * records reach its Kafka partition in order. A record can still reach Kafka twice (an ack
 * lost on the way back, a crash before the cursor commit), always with the same envelope
 * headers: consumers drop such copies with `EnvelopeDedup` (shared/envelope).
 *
 * Kafka unreachable for any length of time: the log keeps appending, this keeps retrying
 * with capped exponential backoff and jitter, and nothing is dropped. When Kafka returns the
 * backlog drains, capped by `drain.maxRecordsPerSec` / `drain.maxBytesPerSec` when set.
 */
export interface ForwarderTopics {
  telemetry: { name: string; partitions: number };
  deadLetters: { name: string; partitions: number };
  /** Heartbeats; none: no heartbeat. */
  gatewayStatus?: { name: string; partitions: number };
}

export interface ForwarderDeps {
  log: EdgeLog;
  producer: Producer;
  /**
   * A fresh producer (a new producer id), used when the broker rejects the current one's state
   * (OUT_OF_ORDER_SEQUENCE_NUMBER, UNKNOWN_PRODUCER_ID, INVALID_PRODUCER_EPOCH): retrying with it
   * would fail for ever. Without it the forwarder keeps retrying the same producer.
   */
  newProducer?: () => Producer;
  /** The topics and their partition counts (metadata): retried with backoff until it answers. */
  topics: ForwarderTopics | (() => Promise<ForwarderTopics>);
  gatewayId: string;
  options: ForwarderOptions;
  logger: Logger;
  registry: Registry;
  now?: () => number;
}

export class Forwarder {
  private reader: LogReader | undefined;
  private topics: ForwarderTopics | undefined;
  private running: Promise<void> | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;
  private attempt = 0;
  private connected = false;
  private lastError: ForwarderStatus['lastError'];
  private lastAckAt: number | undefined;
  private forwarded = 0;

  /** Records acknowledged by Kafka since start. */
  get forwardedRecords(): number {
    return this.forwarded;
  }
  private readonly rate: DrainRate;
  private statusCache: { at: number; value: Promise<ForwarderStatus> } | undefined;
  private readonly now: () => number;
  private readonly metrics: ForwarderMetrics;
  private producer: Producer;
  private replaceProducer = false;

  constructor(private readonly deps: ForwarderDeps) {
    this.producer = deps.producer;
    this.now = deps.now ?? Date.now;
    this.rate = new DrainRate(this.now);
    this.metrics = createForwarderMetrics(deps.registry, { status: () => this.status(), drainRate: () => this.rate.perSecond() });
  }

  async start(): Promise<void> {
    this.reader = await this.deps.log.openReader(this.deps.options.cursor);
    // Whatever goes wrong, the forwarder goes on after a backoff: it never stops while the agent runs.
    this.running = (async () => {
      while (!this.stopped) {
        try {
          await this.loop();
        } catch (err) {
          if (this.stopped) return;
          this.deps.logger.error({ err }, 'forwarder loop failed; restarting it');
          this.rewind();
          await this.failed(err, 'forwarder loop failed', false);
        }
      }
    })();
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.deps.options.heartbeatIntervalMs);
    this.heartbeatTimer.unref();
  }

  /** The producer in use (a new one after the broker rejected the first one's state). */
  get currentProducer(): Producer {
    return this.producer;
  }

  /** Backlog, drain rate and connection state (cached for 1 s: /metrics, /status and heartbeats share it). */
  status(): Promise<ForwarderStatus> {
    const now = this.now();
    if (this.statusCache !== undefined && now - this.statusCache.at < 1_000) return this.statusCache.value;
    const value = (async () => {
      const partitions = await this.deps.log.backlog(this.deps.options.cursor).catch(() => []);
      return summarize({
        gatewayId: this.deps.gatewayId,
        now,
        connected: this.connected,
        lastError: this.lastError,
        lastAckAt: this.lastAckAt,
        forwardedRecords: this.forwarded,
        drainRate: this.rate.perSecond(),
        partitions,
      });
    })();
    this.statusCache = { at: now, value };
    return value;
  }

  private async loop(): Promise<void> {
    const o = this.deps.options;
    while (!this.stopped) {
      if (this.topics === undefined) {
        try {
          await this.producer.connect();
          this.topics = typeof this.deps.topics === 'function' ? await this.deps.topics() : this.deps.topics;
          this.connected = true;
          this.metrics.healthy.set(1);
          this.deps.logger.info({ topics: this.topics }, 'forwarder connected to Kafka');
          void this.heartbeat();
        } catch (err) {
          await this.failed(err, 'connecting to Kafka failed; will try again');
          continue;
        }
      }
      const started = this.now();
      let batch: ReadBatch;
      try {
        batch = await this.reader!.read({ maxRecords: this.batchRecords(), maxBytes: this.batchBytes() });
      } catch (err) {
        if (this.stopped) return;
        this.rewind();
        await this.failed(err, 'reading the edge log failed; will try again', false);
        continue;
      }
      if (batch.records.length === 0) {
        await this.pause(o.pollMs);
        continue;
      }
      if (!(await this.sendUntilAcked(batch))) return; // stopped: the cursor stays, the batch is sent again on the next start
      try {
        await this.reader!.commit();
      } catch (err) {
        if (this.stopped) return;
        // Kafka has the batch but the cursor did not move: it is sent again (copies with the same envelope).
        this.rewind();
        await this.failed(err, 'committing the forwarder cursor failed; the batch will be sent again', false);
        continue;
      }
      this.statusCache = undefined;
      await this.pace(batch, started);
    }
  }

  private batchRecords(): number {
    const cap = this.deps.options.drain.maxRecordsPerSec;
    return Math.min(this.deps.options.maxBatchRecords, cap ?? Infinity);
  }

  private batchBytes(): number {
    const cap = this.deps.options.drain.maxBytesPerSec;
    return Math.min(this.deps.options.maxBatchBytes, cap ?? Infinity);
  }

  /** Keeps the drain caps: a batch of n records and b bytes takes at least max(n / rps, b / Bps). */
  private async pace(batch: ReadBatch, started: number): Promise<void> {
    const { maxRecordsPerSec, maxBytesPerSec } = this.deps.options.drain;
    if (maxRecordsPerSec === undefined && maxBytesPerSec === undefined) return;
    const bytes = batch.records.reduce((n, r) => n + r.value.length, 0);
    const minMs = 1000 * Math.max(maxRecordsPerSec === undefined ? 0 : batch.records.length / maxRecordsPerSec, maxBytesPerSec === undefined ? 0 : bytes / maxBytesPerSec);
    const wait = minMs - (this.now() - started);
    if (wait > 0) await this.pause(wait);
  }

  /**
   * Sends a batch until every record is acknowledged; after a failure only the Kafka
   * partitions that did not acknowledge are sent again. False when stopped first.
   */
  private async sendUntilAcked(batch: ReadBatch): Promise<boolean> {
    const { gatewayId } = this.deps;
    const topics = this.topics!;
    const pending = [
      { topic: topics.telemetry, records: batch.records.filter((r) => r.lane !== 'dead').map((r) => fitForKafka(toKafkaRecord(r, gatewayId, this.deps.log.logId))) },
      { topic: topics.deadLetters, records: batch.records.filter((r) => r.lane === 'dead').map((r) => fitForKafka(toKafkaRecord(r, gatewayId, this.deps.log.logId))) },
    ].filter((p) => p.records.length > 0);
    while (!this.stopped) {
      const results = await Promise.allSettled(pending.map((p) => this.send(p.topic, p.records)));
      let failure: unknown;
      results.forEach((r, i) => {
        if (r.status === 'fulfilled') pending[i]!.records = [];
        else {
          failure ??= r.reason;
          const unacked = r.reason instanceof UnacknowledgedSendError ? r.reason.unacknowledged : undefined;
          const done = new Set(unacked?.acked ?? []);
          const skip = new Map((unacked?.failed ?? []).map((f) => [f.partition, f.ackedRecords]));
          if (done.size > 0 || skip.size > 0) {
            const { partitions } = pending[i]!.topic;
            pending[i]!.records = pending[i]!.records.filter((rec) => {
              const p = partitionOf(rec, partitions);
              if (done.has(p)) return false;
              const left = skip.get(p) ?? 0;
              if (left > 0) {
                skip.set(p, left - 1); // acknowledged as part of an earlier request of this partition
                return false;
              }
              return true;
            });
          }
        }
      });
      for (let i = pending.length - 1; i >= 0; i--) if (pending[i]!.records.length === 0) pending.splice(i, 1);
      if (failure === undefined) {
        this.acked(batch);
        return true;
      }
      await this.failed(failure, 'forward failed; will send the unacknowledged part of the batch again');
      if (this.replaceProducer) await this.renewProducer();
    }
    return false;
  }

  /** A new producer (a new producer id) in place of one whose state the broker rejects. */
  private async renewProducer(): Promise<void> {
    this.replaceProducer = false;
    if (this.deps.newProducer === undefined || this.stopped) return;
    const old = this.producer;
    this.producer = this.deps.newProducer();
    await disconnectQuietly(old);
    this.deps.logger.warn({}, "the broker rejected the producer's state; going on with a new producer (a new producer id)");
    try {
      await this.producer.connect();
    } catch (err) {
      await this.failed(err, 'connecting the new producer failed; will try again');
      this.replaceProducer = true; // after the next failed send: another new one, connected
    }
  }

  private send(topic: { name: string; partitions: number }, records: KeyedRecord[]) {
    const o = this.deps.options;
    return sendPerPartition(this.producer, {
      topic: topic.name,
      partitions: topic.partitions,
      records,
      acks: -1,
      timeoutMs: o.ackTimeoutMs,
      ...(o.compression === 'gzip' ? { compression: CompressionTypes.GZIP } : {}),
    });
  }

  private acked(batch: ReadBatch): void {
    const n = batch.records.length;
    this.attempt = 0;
    this.connected = true;
    this.lastAckAt = this.now();
    this.forwarded += n;
    this.rate.add(n);
    this.metrics.healthy.set(1);
    this.metrics.bytes.inc(batch.records.reduce((b, r) => b + r.value.length, 0));
    for (const lane of LANES) {
      const k = batch.records.filter((r) => r.lane === lane).length;
      if (k > 0) this.metrics.records.inc({ lane }, k);
    }
  }

  /** Counts, logs and backs off. `kafka`: the failure was Kafka's (then the forwarder reports itself disconnected). */
  private async failed(err: unknown, what: string, kafka = true): Promise<void> {
    // Users see roadlog codes (in /status and `roadlog edge status`), never a raw errno such as ENOSPC.
    const known = kafka ? toRoadlogError(err, 'kafka') : asLogError(err, 'edge log');
    const code = known instanceof RoadlogError ? known.code : 'ROADLOG_ERR_INTERNAL';
    const message = known instanceof Error ? known.message : String(known);
    this.metrics.failures.inc({ code });
    this.metrics.healthy.set(0);
    if (kafka) this.connected = false;
    if (kafka && PRODUCER_STATE_ERRORS.has(kafkaErrorType(err) ?? '')) this.replaceProducer = true;
    this.lastError = { code, message, at: this.now() };
    const delay = backoffDelay(this.attempt++, this.deps.options.retry);
    // Once per failure streak at warn (then every 10th), so an outage of hours does not flood the log.
    const level = this.attempt === 1 || this.attempt % 10 === 0 ? 'warn' : 'debug';
    this.deps.logger[level]({ err: message, code, attempt: this.attempt, retryInMs: delay }, what);
    await this.pause(delay);
  }

  /** One heartbeat: this gateway's status, to the compacted gateway-status topic. */
  async heartbeat(): Promise<void> {
    const topic = this.topics?.gatewayStatus;
    if (topic === undefined || this.stopped) return;
    try {
      const status = await this.status();
      await sendPerPartition(this.producer, { topic: topic.name, partitions: topic.partitions, records: [{ key: this.deps.gatewayId, value: JSON.stringify(status) }], acks: -1, timeoutMs: 5_000 });
      this.metrics.heartbeats.inc({ outcome: 'sent' });
    } catch (err) {
      this.metrics.heartbeats.inc({ outcome: 'failed' });
      this.deps.logger.debug({ err: (err as Error).message }, 'heartbeat not sent');
    }
  }

  /** Back to the durable cursor: the next read starts with what was not committed. */
  private rewind(): void {
    const reader = this.reader;
    if (reader === undefined) return;
    const committed = reader.committed();
    for (const lane of LANES) {
      for (let p = 0; p < this.deps.log.partitionCount; p++) reader.seek(lane, p, committed[positionKey(lane, p)] ?? 0);
    }
  }

  private pause(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /**
   * Stops after the send in flight; its cursor is committed if Kafka acknowledged it. Waits
   * at most `graceMs` for that send: a batch left unacknowledged is sent again on the next
   * start (the cursor did not move). Idempotent.
   */
  async stop(graceMs = 5_000): Promise<void> {
    this.stopped = true;
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    this.wake?.();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.running, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
  }
}

/** Broker answers that no retry with the same producer can get past. */
const PRODUCER_STATE_ERRORS = new Set(['OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID', 'INVALID_PRODUCER_EPOCH', 'INVALID_PRODUCER_ID_MAPPING']);

/** Values above this go to Kafka cut to their first TRUNCATED_BYTES (the whole value stays in the edge log). */
export const MAX_VALUE_BYTES = 512 * 1024;
const TRUNCATED_BYTES = 64 * 1024;

/**
 * Kafka refuses a record batch above the topic's max.message.bytes (1 MiB by default) for
 * ever; one oversize dead letter (a client sent a huge payload) would then hold up everything
 * behind it. Such a value is cut, and the header `roadlog.truncated` gives its full size.
 */
export function fitForKafka(record: KeyedRecord): KeyedRecord {
  const size = typeof record.value === 'string' ? Buffer.byteLength(record.value) : record.value.length;
  if (size <= MAX_VALUE_BYTES) return record;
  const value = (typeof record.value === 'string' ? Buffer.from(record.value) : record.value).subarray(0, TRUNCATED_BYTES);
  return { ...record, value, headers: { ...record.headers, 'roadlog.truncated': String(size) } };
}

function partitionOf(record: KeyedRecord, partitions: number): number {
  return record.partition ?? partitionForKey(record.key, partitions);
}
