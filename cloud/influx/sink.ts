import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { Counter, Histogram, type Registry } from 'prom-client';
import { AlertEventSchema } from '../../shared/alerts/index.js';
import { decodeEnvelopeHeaders } from '../../shared/envelope/index.js';
import type { Logger } from '../../shared/logging/index.js';
import { parseTelemetry } from '../../shared/schema/index.js';
import type { VehicleRef } from '../../shared/vehicles/index.js';
import { readVehicles } from '../vehicles/table.js';
import { alertLine, telemetryLine } from './line.js';
import type { InfluxSinkOptions } from './options.js';
import { InfluxWriter, type InfluxTarget } from './writer.js';

export interface InfluxSinkInput {
  kafka: Kafka;
  topics: { telemetry: string; alerts: string; vehicles: string };
  options: InfluxSinkOptions;
  target: InfluxTarget;
  logger: Logger;
  registry: Registry;
}

/**
 * `roadlog influx-sink start`: telemetry and alert events into InfluxDB, at least once, which
 * is exactly once in InfluxDB (a point is keyed by its series and device time: a replay
 * overwrites). Its own consumer group; a batch's offsets are resolved only once all of its
 * points are written, so while InfluxDB is down it holds its batch, reads nothing more, and
 * loses nothing.
 */
export class InfluxSink {
  private consumer: Consumer | undefined;
  private vehicles = new Map<string, VehicleRef>();
  private refresh: NodeJS.Timeout | undefined;
  private stopping = false;
  private readonly points: Counter<'measurement'>;
  private readonly skipped: Counter<'reason'>;
  private readonly rejected: Counter;
  private readonly retries: Counter<'status'>;
  private readonly writeSeconds: Histogram;
  readonly writer: InfluxWriter;

  constructor(private readonly input: InfluxSinkInput) {
    const r = [input.registry];
    this.points = new Counter({ name: 'roadlog_influx_points_total', help: 'Points written to InfluxDB, by measurement (telemetry, alerts).', labelNames: ['measurement'], registers: r });
    this.skipped = new Counter({ name: 'roadlog_influx_records_skipped_total', help: 'Kafka records not written, by reason: invalid (no schema accepts it; the archiver sends it to the dead letters).', labelNames: ['reason'], registers: r });
    this.rejected = new Counter({ name: 'roadlog_influx_points_rejected_total', help: 'Points InfluxDB refused with a 4xx (logged, not sent again).', registers: r });
    this.retries = new Counter({ name: 'roadlog_influx_write_retries_total', help: 'Writes that failed and were tried again, by HTTP status (network: no answer).', labelNames: ['status'], registers: r });
    this.writeSeconds = new Histogram({ name: 'roadlog_influx_write_seconds', help: 'Time of a successful /write request.', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: r });
    this.writer = this.writerFor('telemetry', () => this.stopping);
  }

  async start(): Promise<void> {
    const { kafka, topics, options, logger } = this.input;
    await this.writer.createDatabase().catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'influx: CREATE DATABASE failed; writes will try again'));
    await this.loadVehicles();
    this.refresh = setInterval(() => void this.loadVehicles(), options.vehiclesRefreshMs);
    const consumer = (this.consumer = kafka.consumer({ groupId: options.groupId, sessionTimeout: options.sessionTimeoutMs, heartbeatInterval: Math.floor(options.sessionTimeoutMs / 10), maxWaitTimeInMs: 500 }));
    await consumer.connect();
    await consumer.subscribe({ topics: [topics.telemetry, topics.alerts], fromBeginning: true });
    await consumer.run({ autoCommit: true, autoCommitInterval: 2_000, eachBatchAutoResolve: true, eachBatch: (b) => this.onBatch(b) });
    logger.info({ url: this.input.target.url, database: this.input.target.database, group: options.groupId }, 'influx: sink started');
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.refresh !== undefined) clearInterval(this.refresh);
    await this.consumer?.disconnect();
  }

  /** A writer whose written, refused and retried points go to this sink's metrics under `measurement`. */
  private writerFor(measurement: 'telemetry' | 'alerts', stopped: () => boolean, heartbeat?: () => Promise<void>): InfluxWriter {
    const events = {
      written: (n: number, ms: number) => {
        this.writeSeconds.observe(ms / 1000);
        this.points.inc({ measurement }, n);
      },
      rejected: () => this.rejected.inc(),
      retry: (status: number | string) => this.retries.inc({ status: String(status) }),
    };
    return new InfluxWriter(this.input.target, events, this.input.logger, stopped, heartbeat);
  }

  private async loadVehicles(): Promise<void> {
    try {
      this.vehicles = (await readVehicles(this.input.kafka, this.input.topics.vehicles, 15_000)).vehicles;
    } catch (err) {
      this.input.logger.warn({ err: (err as Error).message }, 'influx: the vehicles table could not be read; the class tag waits for it');
    }
  }

  private async onBatch({ batch, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const { topics, options } = this.input;
    const telemetry = batch.topic === topics.telemetry;
    const lines: string[] = [];
    for (const m of batch.messages) {
      if (m.value === null) continue;
      if (telemetry) {
        const parsed = parseTelemetry(m.value);
        if (!parsed.ok) {
          this.skipped.inc({ reason: 'invalid' });
          continue;
        }
        lines.push(telemetryLine(parsed.value, { class: this.vehicles.get(parsed.value.vehicleId)?.class, gatewayId: decodeEnvelopeHeaders(m.headers)?.gatewayId }));
      } else {
        const parsed = (() => {
          try {
            return AlertEventSchema.safeParse(JSON.parse(m.value.toString('utf8')));
          } catch {
            return undefined;
          }
        })();
        if (parsed === undefined || !parsed.success) {
          this.skipped.inc({ reason: 'invalid' });
          continue;
        }
        lines.push(alertLine(parsed.data));
      }
    }
    const writer = this.writerFor(telemetry ? 'telemetry' : 'alerts', () => this.stopping || !isRunning() || isStale(), heartbeat);
    for (let i = 0; i < lines.length; i += options.batchPoints) {
      const chunk = lines.slice(i, i + options.batchPoints);
      await writer.write(chunk);
      await heartbeat();
    }
  }
}
