import type { Producer } from 'kafkajs';
import type { Registry } from 'prom-client';
import { RoadlogError } from '../../shared/errors/index.js';
import { disconnectQuietly, kafkaErrorType, sendPerPartition, toRoadlogError } from '../../shared/kafka/index.js';
import type { Logger } from '../../shared/logging/index.js';
import { backoffDelay } from '../../shared/retry/backoff.js';
import { asLogError, type EdgeLog, type LogReader, type ReadBatch } from '../log/index.js';
import { createForwarderMetrics, summarizeLatency, type ForwarderMetrics } from './metrics.js';
import type { ForwarderOptions } from './options.js';
import type { QueuedRecord } from './partition-queue.js';
import { SendPipeline } from './pipeline.js';
import { KafkaRecordEncoder } from './records.js';
import { DrainRate, type ForwarderStatus, summarize } from './status.js';

/**
 * Reads the edge log from its durable cursor and produces to Kafka: `normal` and `critical`
 * lanes to the telemetry topic, the `dead` lane to the dead-letter topic. Critical records
 * first (the reader serves that lane first).
 *
 * A pipeline: the reader goes on reading while earlier batches are being sent (up to
 * `maxInFlightBatches` and `maxInFlightBytes`), and wakes when the log makes an append durable
 * rather than polling. Each record joins the queue of its Kafka partition (PartitionQueue); each
 * partition has one request in flight at a time, and the ready ones go together in rounds (one
 * request per broker, SendPipeline): per-vehicle order holds, and records that arrive while a
 * request is out go in the next one, so requests are small when traffic is light and full when
 * a backlog drains.
 *
 * Never losing: the cursor moves, durably, only over batches whose every record Kafka
 * acknowledged (acks=all, idempotent producer, each partition's ack checked: `sendRound`), and
 * only over the contiguous prefix of them (AckTracker); saves are coalesced, one in flight and
 * one started per cursorSaveIntervalMs (CoalescedCommit). A request that fails is sent again
 * after a backoff, before anything behind it in its partition. A record can still reach Kafka
 * twice (an ack lost on the way back, a crash before the cursor commit), always with the same
 * envelope headers: consumers drop such copies with `EnvelopeDedup` (shared/envelope).
 *
 * Kafka unreachable for any length of time: the log keeps appending, this keeps retrying with
 * capped exponential backoff and jitter, and nothing is dropped. When Kafka returns the backlog
 * drains, capped by `drain.maxRecordsPerSec` / `drain.maxBytesPerSec` when set.
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

/** What the read loop is sleeping for: an append to the log, room in the pipeline, or only time. */
type Wait = 'append' | 'room' | 'time';

export class Forwarder {
  private reader: LogReader | undefined;
  private topics: ForwarderTopics | undefined;
  private running: Promise<void> | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private waiting: { for: Wait; wake: () => void } | undefined;
  private appended = false;
  private unsubscribe: (() => void) | undefined;
  /** Failures in a row, any kind (the backoff of connects and reads, and the log level). */
  private attempt = 0;
  private lastWarnAt = -Infinity;
  private connected = false;
  private lastError: ForwarderStatus['lastError'];
  private lastAckAt: number | undefined;
  private forwarded = 0;
  private readonly rate: DrainRate;
  private statusCache: { at: number; value: Promise<ForwarderStatus> } | undefined;
  private readonly now: () => number;
  private readonly metrics: ForwarderMetrics;
  private producer: Producer;
  private replaceProducer = false;
  private renewing: Promise<void> | undefined;
  private readonly pipeline: SendPipeline;

  /** Records acknowledged by Kafka since start. */
  get forwardedRecords(): number {
    return this.forwarded;
  }

  constructor(private readonly deps: ForwarderDeps) {
    this.producer = deps.producer;
    this.now = deps.now ?? Date.now;
    this.rate = new DrainRate(this.now);
    this.metrics = createForwarderMetrics(deps.registry, {
      status: () => this.status(),
      drainRate: () => this.rate.perSecond(),
      inFlight: () => this.pipeline.inFlight,
    });
    this.pipeline = new SendPipeline({
      options: deps.options,
      encoder: new KafkaRecordEncoder(deps.gatewayId, deps.log.logId),
      now: this.now,
      producer: () => this.producer,
      canSend: () => this.canSend(),
      acked: (items) => this.acked(items),
      failed: (err) => this.noteFailure(err, 'forward failed; will send the request again'),
      commit: (positions) => this.reader!.commit(positions),
      commitFailed: (err) => this.noteFailure(err, 'committing the forwarder cursor failed; acknowledged records stay in the log and may be sent again', false),
    });
  }

  async start(): Promise<void> {
    this.reader = await this.deps.log.openReader(this.deps.options.cursor);
    this.unsubscribe = this.deps.log.onDurableAppend(() => {
      this.appended = true;
      this.wakeFor('append');
    });
    // Whatever goes wrong, the forwarder goes on after a backoff: it never stops while the agent runs.
    this.running = (async () => {
      while (!this.stopped) {
        try {
          await this.loop();
        } catch (err) {
          if (this.stopped) return;
          this.deps.logger.error({ err }, 'forwarder loop failed; restarting it from the durable cursor');
          this.noteFailure(err, 'forwarder loop failed', false);
          await this.sleep(backoffDelay(this.attempt, this.deps.options.retry), 'time');
          await this.rewind();
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

  /** Backlog, drain rate, pipeline and connection state (cached for 1 s: /metrics, /status and heartbeats share it). */
  status(): Promise<ForwarderStatus> {
    const now = this.now();
    if (this.statusCache !== undefined && now - this.statusCache.at < 1_000) return this.statusCache.value;
    const inFlight = this.pipeline.inFlight;
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
        inFlight,
        latency: await summarizeLatency(this.metrics.latency),
        partitions,
      });
    })();
    this.statusCache = { at: now, value };
    return value;
  }

  /** Connects, then reads the log into the partition queues for as long as it runs. */
  private async loop(): Promise<void> {
    const o = this.deps.options;
    let caughtUp = false;
    let lastRead = -Infinity;
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
          this.noteFailure(err, 'connecting to Kafka failed; will try again');
          await this.sleep(backoffDelay(this.attempt, o.retry), 'time');
          continue;
        }
      }
      const inFlight = this.pipeline.inFlight;
      if (inFlight.batches >= o.maxInFlightBatches || inFlight.bytes >= o.maxInFlightBytes) {
        await this.sleep(o.pollMs, 'room');
        continue;
      }
      if (caughtUp) {
        // Nothing left to read: sleep until the log makes an append durable. Reads start at
        // most one per lingerMs: a record after a quiet spell is read at once, a steady stream
        // in batches of lingerMs (a round trip and a cursor save per batch, not per record).
        if (!this.appended) await this.sleep(o.pollMs, 'append');
        if (this.stopped) return;
        const linger = lastRead + o.lingerMs - this.now();
        if (this.appended && linger > 0) await this.sleep(linger, 'time');
      }
      this.appended = false;
      const started = this.now();
      lastRead = started;
      const before = this.reader!.readPositions();
      let batch: ReadBatch;
      try {
        batch = await this.reader!.read({ maxRecords: this.batchRecords(), maxBytes: Math.min(this.batchBytes(), o.maxInFlightBytes - inFlight.bytes) });
      } catch (err) {
        if (this.stopped) return;
        this.reader!.restore(before);
        this.noteFailure(err, 'reading the edge log failed; will try again', false);
        await this.sleep(backoffDelay(this.attempt, o.retry), 'time');
        continue;
      }
      caughtUp = batch.records.length === 0;
      if (caughtUp && batch.skipped.length === 0) continue;
      this.pipeline.enqueue(batch, this.reader!.readPositions(), this.topics);
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
    if (wait > 0) await this.sleep(wait, 'time');
  }

  /** Nothing is sent while the producer is replaced; a new one is made once nothing is in flight on the old. */
  private canSend(): boolean {
    if (this.renewing !== undefined) return false;
    if (!this.replaceProducer) return true;
    if (this.pipeline.inFlight.requests === 0) this.renewing = this.renewProducer().finally(() => ((this.renewing = undefined), this.pipeline.pump()));
    return false;
  }

  /** One request acknowledged: counters, latency, and room for the reader. */
  private acked(items: readonly QueuedRecord[]): void {
    const now = this.now();
    let bytes = 0;
    let critical = 0;
    let dead = 0;
    for (const item of items) {
      bytes += item.valueBytes;
      if (item.lane === 'critical') critical++;
      else if (item.lane === 'dead') dead++;
      this.metrics.latency.observe(Math.max(0, now - item.ingestTs) / 1000);
    }
    const n = items.length;
    this.attempt = 0;
    this.connected = true;
    this.lastAckAt = now;
    this.forwarded += n;
    this.rate.add(n);
    this.metrics.healthy.set(1);
    this.metrics.bytes.inc(bytes);
    if (n - critical - dead > 0) this.metrics.records.inc({ lane: 'normal' }, n - critical - dead);
    if (critical > 0) this.metrics.records.inc({ lane: 'critical' }, critical);
    if (dead > 0) this.metrics.records.inc({ lane: 'dead' }, dead);
    this.statusCache = undefined;
    this.wakeFor('room');
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
      this.noteFailure(err, 'connecting the new producer failed; will try again');
      await this.sleep(backoffDelay(this.attempt, this.deps.options.retry), 'time');
      this.replaceProducer = true; // another new one, connected, before the next send
    }
  }

  /** Counts and logs a failure. `kafka`: it was Kafka's (then the forwarder reports itself disconnected). */
  private noteFailure(err: unknown, what: string, kafka = true): void {
    // Users see roadlog codes (in /status and `roadlog edge status`), never a raw errno such as ENOSPC.
    const known = kafka ? toRoadlogError(err, 'kafka') : asLogError(err, 'edge log');
    const code = known instanceof RoadlogError ? known.code : 'ROADLOG_ERR_INTERNAL';
    const message = known instanceof Error ? known.message : String(known);
    this.metrics.failures.inc({ code });
    this.metrics.healthy.set(0);
    if (kafka) this.connected = false;
    if (kafka && PRODUCER_STATE_ERRORS.has(kafkaErrorType(err) ?? '')) this.replaceProducer = true;
    this.lastError = { code, message, at: this.now() };
    this.statusCache = undefined;
    this.attempt++;
    // At warn once per failure streak, then at most once a minute, so an outage of hours does not flood the log.
    const now = this.now();
    const warn = this.attempt === 1 || now - this.lastWarnAt >= 60_000;
    if (warn) this.lastWarnAt = now;
    this.deps.logger[warn ? 'warn' : 'debug']({ err: message, code, attempt: this.attempt }, what);
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

  /** Back to the durable cursor with nothing queued: the next read starts with what was not committed. */
  private async rewind(): Promise<void> {
    await this.pipeline.clear();
    this.reader?.restore(this.reader.committed());
  }

  private sleep(ms: number, what: Wait): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiting = undefined;
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.waiting = { for: what, wake };
    });
  }

  private wakeFor(what: Wait): void {
    if (this.waiting?.for === what) this.waiting.wake();
  }

  /**
   * Stops reading and sending; the requests in flight are waited for (at most `graceMs`) and
   * the cursor committed over what Kafka acknowledged. Whatever is not acknowledged by then is
   * sent again on the next start (the cursor did not move over it). Idempotent.
   */
  async stop(graceMs = 5_000): Promise<void> {
    this.stopped = true;
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    this.unsubscribe?.();
    this.waiting?.wake();
    let timer: NodeJS.Timeout | undefined;
    const settled = (async () => {
      await this.running;
      await this.pipeline.stop();
    })();
    await Promise.race([settled, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
  }
}

/** Broker answers that no retry with the same producer can get past. */
const PRODUCER_STATE_ERRORS = new Set(['OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID', 'INVALID_PRODUCER_EPOCH', 'INVALID_PRODUCER_ID_MAPPING']);
