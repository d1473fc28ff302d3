import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

interface StatusView {
  partitions: { partition: number; committed: number | null; highWatermark: number; staged: number }[];
}

/** The archiver's metrics (`roadlog_cold_*`), served on /metrics. */
export class ColdMetrics {
  readonly records: { archived: Counter.Internal; edgeDuplicate: Counter.Internal; deviceRetry: Counter.Internal; invalid: Counter.Internal };
  readonly deadLetters: Counter;
  readonly skipped: Counter;
  private readonly flushes: Counter<'reason'>;
  private readonly files: Counter;
  private readonly flushSeconds: Histogram;

  constructor(registry: Registry, status: () => StatusView) {
    const r = [registry];
    const records = new Counter({ name: 'roadlog_cold_records_total', help: 'Telemetry records read, by what became of them: archived, edge_duplicate (a forwarder re-send), device_retry (same vehicleId, seq and ts), invalid (to the dead-letter topic).', labelNames: ['verdict'], registers: r });
    this.records = { archived: records.labels('archived'), edgeDuplicate: records.labels('edge_duplicate'), deviceRetry: records.labels('device_retry'), invalid: records.labels('invalid') };
    this.deadLetters = new Counter({ name: 'roadlog_cold_dead_letters_total', help: 'Unreadable telemetry records the archiver sent to the dead-letter topic.', registers: r });
    this.skipped = new Counter({ name: 'roadlog_cold_offsets_lost_total', help: 'Offsets that left Kafka (retention) before the archiver read them.', registers: r });
    this.flushes = new Counter({ name: 'roadlog_cold_flushes_total', help: 'Flushes (committed), by what started them: records, bytes, age, memory, stop.', labelNames: ['reason'], registers: r });
    this.files = new Counter({ name: 'roadlog_cold_files_total', help: 'Parquet files written by committed flushes.', registers: r });
    this.flushSeconds = new Histogram({ name: 'roadlog_cold_flush_seconds', help: 'Time of a flush: Parquet files, fsyncs, renames, the state file.', buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: r });
    new Gauge({ name: 'roadlog_cold_staged_records', help: 'Records read but not yet flushed, per partition.', labelNames: ['partition'], registers: r, collect() {
      this.reset();
      for (const p of status().partitions) this.set({ partition: String(p.partition) }, p.staged);
    } });
    new Gauge({ name: 'roadlog_cold_lag_records', help: 'Records in Kafka past the archive\'s committed offset, per partition.', labelNames: ['partition'], registers: r, collect() {
      this.reset();
      for (const p of status().partitions) if (p.committed !== null) this.set({ partition: String(p.partition) }, Math.max(0, p.highWatermark - p.committed));
    } });
  }

  flushed(reason: string, rows: number, files: number, ms: number): void {
    this.flushes.inc({ reason });
    this.files.inc(files);
    this.records.archived.inc(rows);
    this.flushSeconds.observe(ms / 1000);
  }
}
