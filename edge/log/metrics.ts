import { Counter, Gauge, Histogram, Registry, type Metric } from 'prom-client';

/** The edge log's metrics, registered on the registry the agent passes in (or a private one). */
export interface LogMetrics {
  appends: Counter<'lane'>;
  appendBytes: Counter<'lane'>;
  appendFailures: Counter<'code'>;
  fsyncSeconds: Histogram;
  batchRecords: Histogram;
  droppedRecords: Counter<'lane' | 'reason'>;
  corruptRecords: Counter<'lane'>;
  backlog: Gauge<'lane' | 'partition' | 'cursor'>;
  sizeBytes: Gauge<'lane'>;
  pendingBytes: Gauge;
}

function once<M extends Metric>(registry: Registry, name: string, make: () => M): M {
  return (registry.getSingleMetric(name) as M | undefined) ?? make();
}

export function createLogMetrics(registry: Registry = new Registry()): LogMetrics {
  const registers = [registry];
  return {
    appends: once(registry, 'roadlog_edge_log_appends_total', () => new Counter({ name: 'roadlog_edge_log_appends_total', help: 'Records appended and fsynced', labelNames: ['lane'], registers })),
    appendBytes: once(registry, 'roadlog_edge_log_append_bytes_total', () => new Counter({ name: 'roadlog_edge_log_append_bytes_total', help: 'Encoded bytes appended and fsynced', labelNames: ['lane'], registers })),
    appendFailures: once(registry, 'roadlog_edge_log_append_failures_total', () => new Counter({ name: 'roadlog_edge_log_append_failures_total', help: 'Appends that failed, by error code', labelNames: ['code'], registers })),
    fsyncSeconds: once(registry, 'roadlog_edge_log_flush_seconds', () => new Histogram({ name: 'roadlog_edge_log_flush_seconds', help: 'Time of one group-commit flush (write + fdatasync of every dirty segment)', buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1], registers })),
    batchRecords: once(registry, 'roadlog_edge_log_batch_records', () => new Histogram({ name: 'roadlog_edge_log_batch_records', help: 'Records per group-commit flush', buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000], registers })),
    droppedRecords: once(registry, 'roadlog_edge_log_dropped_records_total', () => new Counter({ name: 'roadlog_edge_log_dropped_records_total', help: 'Records deleted before every cursor read them (full-disk policy drop-oldest)', labelNames: ['lane', 'reason'], registers })),
    corruptRecords: once(registry, 'roadlog_edge_log_corrupt_records_total', () => new Counter({ name: 'roadlog_edge_log_corrupt_records_total', help: 'Damaged records found (CRC or layout) and skipped by readers', labelNames: ['lane'], registers })),
    backlog: once(registry, 'roadlog_edge_log_backlog_records', () => new Gauge({ name: 'roadlog_edge_log_backlog_records', help: 'Records not yet committed by a cursor', labelNames: ['lane', 'partition', 'cursor'], registers })),
    sizeBytes: once(registry, 'roadlog_edge_log_size_bytes', () => new Gauge({ name: 'roadlog_edge_log_size_bytes', help: 'Bytes in segments', labelNames: ['lane'], registers })),
    pendingBytes: once(registry, 'roadlog_edge_log_pending_bytes', () => new Gauge({ name: 'roadlog_edge_log_pending_bytes', help: 'Bytes queued for group commit or being written', registers })),
  };
}
