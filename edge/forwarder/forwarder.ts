import type { Producer } from 'kafkajs';
import { Counter, Gauge, type Registry } from 'prom-client';
import { sendPerPartition } from '../../shared/kafka/index.js';
import type { Logger } from '../../shared/logging/index.js';
import { backoffDelay } from '../../shared/retry/backoff.js';
import { LANES, positionKey, type EdgeLog, type LogReader, type ReadBatch } from '../log/index.js';
import type { ForwarderOptions } from './options.js';
import { toKafkaRecord } from './records.js';

/**
 * Reads the edge log from its durable cursor and produces to Kafka: `normal` and `critical`
 * lanes to the telemetry topic, the `dead` lane to the dead-letter topic. Critical records
 * first (the reader serves that lane first).
 *
 * Never losing: the cursor advances, durably, only after Kafka acknowledged every record of
 * the batch (`sendPerPartition`: acks=all, idempotent producer, every partition's ack checked).
 * Never reordering: one batch at a time; within a batch a vehicle's records stay in order in
 * one Kafka partition. On any failure the reader goes back to the committed cursor and the
 * batch is sent again after a backoff: records may then reach Kafka twice, always with the same
 * envelope headers, which is what consumers' dedup key is for. The same holds after a crash.
 */
export interface ForwarderTopics {
  telemetry: { name: string; partitions: number };
  deadLetters: { name: string; partitions: number };
}

export interface ForwarderDeps {
  log: EdgeLog;
  producer: Producer;
  topics: ForwarderTopics;
  gatewayId: string;
  options: ForwarderOptions;
  logger: Logger;
  registry: Registry;
}

export class Forwarder {
  private reader: LogReader | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;
  private attempt = 0;
  private readonly metrics;

  constructor(private readonly deps: ForwarderDeps) {
    this.metrics = {
      records: new Counter({ name: 'roadlog_edge_forwarded_records_total', help: 'Records acknowledged by Kafka, by edge lane', labelNames: ['lane'], registers: [deps.registry] }),
      failures: new Counter({ name: 'roadlog_edge_forward_failures_total', help: 'Failed send attempts (each retried after a backoff)', labelNames: ['code'], registers: [deps.registry] }),
      connected: new Gauge({ name: 'roadlog_edge_forwarder_healthy', help: '1 while the last send succeeded, 0 while retrying', registers: [deps.registry] }),
    };
  }

  async start(): Promise<void> {
    this.reader = await this.deps.log.openReader(this.deps.options.cursor);
    this.running = this.loop().catch((err: unknown) => {
      if (!this.stopped) this.deps.logger.error({ err }, 'forwarder stopped by an error');
    });
  }

  private async loop(): Promise<void> {
    const o = this.deps.options;
    while (!this.stopped) {
      const batch = await this.reader!.read({ maxRecords: o.maxBatchRecords, maxBytes: o.maxBatchBytes });
      if (batch.records.length === 0) {
        await this.pause(o.pollMs);
        continue;
      }
      try {
        await this.send(batch);
        await this.reader!.commit();
        this.attempt = 0;
        this.metrics.connected.set(1);
        for (const lane of LANES) {
          const n = batch.records.filter((r) => r.lane === lane).length;
          if (n > 0) this.metrics.records.inc({ lane }, n);
        }
      } catch (err) {
        const code = (err as { code?: string }).code ?? 'UNKNOWN';
        this.metrics.failures.inc({ code });
        this.metrics.connected.set(0);
        this.rewind();
        const delay = backoffDelay(this.attempt++, o.retry);
        this.deps.logger.warn({ err: (err as Error).message, code, attempt: this.attempt, retryInMs: delay }, 'forward failed; will send the batch again');
        await this.pause(delay);
      }
    }
  }

  private async send(batch: ReadBatch): Promise<void> {
    const { topics, producer, gatewayId, options } = this.deps;
    const telemetry = batch.records.filter((r) => r.lane !== 'dead').map((r) => toKafkaRecord(r, gatewayId));
    const dead = batch.records.filter((r) => r.lane === 'dead').map((r) => toKafkaRecord(r, gatewayId));
    await Promise.all([
      telemetry.length === 0 ? undefined : sendPerPartition(producer, { topic: topics.telemetry.name, partitions: topics.telemetry.partitions, records: telemetry, acks: -1, timeoutMs: options.ackTimeoutMs }),
      dead.length === 0 ? undefined : sendPerPartition(producer, { topic: topics.deadLetters.name, partitions: topics.deadLetters.partitions, records: dead, acks: -1, timeoutMs: options.ackTimeoutMs }),
    ]);
  }

  /** Back to the durable cursor: the next read starts with the batch that failed. */
  private rewind(): void {
    const committed = this.reader!.committed();
    for (const lane of LANES) {
      for (let p = 0; p < this.deps.log.partitionCount; p++) this.reader!.seek(lane, p, committed[positionKey(lane, p)] ?? 0);
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Stop after the batch in flight (its cursor is committed if Kafka acknowledged it). Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.running;
  }
}
