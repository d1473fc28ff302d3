import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { AlertEvent } from '../../shared/alerts/index.js';
import type { EngineCounters } from './engine/engine.js';

/** Upper bounds, seconds: from tens of ms (live) to hours (a gateway's backlog). */
const LATENCY_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400];

/** The hot path's /metrics (`roadlog_hot_*`). */
export class HotMetrics {
  readonly invalid: Counter;
  readonly replayed: Counter;
  readonly commands: Counter<'result'>;
  readonly snapshots: Counter;
  readonly aborted: Counter;
  readonly alerts: Counter<'change' | 'category'>;
  private readonly deviceToAlert: Histogram;
  private readonly appendToAlert: Histogram;
  private readonly deviceToKafka: Histogram;
  private readonly sources = new WeakMap<AlertEvent, { kafkaTs: number }>();
  private newestDeviceTs = 0;
  private lagSeconds = 0;

  constructor(registry: Registry, status: () => { partitions: { partition: number; lag: string | null }[] }, counters: () => EngineCounters) {
    const r = [registry];
    // Counted by the engine (a labelled inc per record costs more than the rest of the bookkeeping), read when scraped.
    new Counter({ name: 'roadlog_hot_records_total', help: 'Telemetry records read, by what the per-vehicle ordering did with them (released or held: evaluated; duplicate, too-late: not).', labelNames: ['verdict'], registers: r, collect() {
      const c = counters();
      this.reset();
      for (const [verdict, n] of [['released', c.released], ['held', c.held], ['duplicate', c.duplicates], ['too-late', c.tooLate]] as const) this.inc({ verdict }, n);
    } });
    this.invalid = new Counter({ name: 'roadlog_hot_records_invalid_total', help: 'Telemetry records that are not valid telemetry (skipped, logged).', registers: r });
    this.replayed = new Counter({ name: 'roadlog_hot_records_replayed_total', help: 'Records evaluated again after a restore, their alerts discarded (published before).', registers: r });
    this.commands = new Counter({ name: 'roadlog_hot_commands_total', help: "Operators' alert commands, by result.", labelNames: ['result'], registers: r });
    this.snapshots = new Counter({ name: 'roadlog_hot_snapshots_total', help: 'State snapshots written to the changelog.', registers: r });
    this.aborted = new Counter({ name: 'roadlog_hot_transactions_aborted_total', help: 'Transactions that failed (fenced by a new owner, or a broken connection); the partition starts over.', registers: r });
    this.alerts = new Counter({ name: 'roadlog_hot_alert_events_total', help: 'Alert events published.', labelNames: ['change', 'category'], registers: r });
    this.deviceToAlert = new Histogram({ name: 'roadlog_hot_device_to_alert_seconds', help: 'Device time of the record that opened an alert to its publication (live alerts only).', buckets: LATENCY_BUCKETS, registers: r });
    this.deviceToKafka = new Histogram({ name: 'roadlog_hot_device_to_kafka_seconds', help: "Device time of each evaluated record to its Kafka timestamp (the forwarder's send time): how long a record takes from the vehicle into Kafka, offline buffers and gateway backlogs included.", buckets: LATENCY_BUCKETS, registers: r });
    this.appendToAlert = new Histogram({ name: 'roadlog_hot_append_to_alert_seconds', help: 'Kafka append time of the record that opened an alert to its publication (live alerts only).', buckets: LATENCY_BUCKETS, registers: r });
    const metrics = this;
    new Gauge({ name: 'roadlog_hot_lag_device_seconds', help: 'When the newest record (by device time) was evaluated, how far its device time was behind the wall clock: how far behind the live stream this instance is, for vehicles with set clocks.', registers: r, collect() {
      this.set(metrics.lagSeconds);
    } });
    new Gauge({ name: 'roadlog_hot_lag_records', help: 'Telemetry records in Kafka not yet evaluated, per owned partition (end offset at the last fetch minus the next offset).', labelNames: ['partition'], registers: r, collect() {
      this.reset();
      for (const p of status().partitions) if (p.lag !== null) this.set({ partition: String(p.partition) }, Number(p.lag));
    } });
    new Gauge({ name: 'roadlog_hot_partitions', help: 'Telemetry partitions this instance owns.', registers: r, collect() {
      this.set(status().partitions.length);
    } });
  }

  /** Called per evaluated record with the events it caused. */
  observe(deviceTs: number, _ingestTs: number | undefined, kafkaTs: number, arrivedAt: number, events: AlertEvent[]): void {
    if (deviceTs > this.newestDeviceTs) {
      this.newestDeviceTs = deviceTs;
      this.lagSeconds = Math.max(0, (arrivedAt - deviceTs) / 1000);
    }
    if (Number.isFinite(kafkaTs)) this.deviceToKafka.observe(Math.max(0, (kafkaTs - deviceTs) / 1000));
    for (const e of events) this.sources.set(e, { kafkaTs });
  }

  /** Called once a transaction with these events committed. */
  published(events: AlertEvent[], now: number): void {
    for (const e of events) {
      this.alerts.inc({ change: e.change, category: e.category });
      if (e.change !== 'opened' || e.late) continue;
      this.deviceToAlert.observe(Math.max(0, (now - e.openedAt) / 1000));
      const src = this.sources.get(e);
      if (src !== undefined && Number.isFinite(src.kafkaTs)) this.appendToAlert.observe(Math.max(0, (now - src.kafkaTs) / 1000));
    }
  }
}
