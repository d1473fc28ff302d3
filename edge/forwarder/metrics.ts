import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ForwarderStatus } from './status.js';

/**
 * The forwarder's metrics, on the registry the agent passes in. The counters and `healthy` are
 * set by the forwarder as it goes; the backlog and drain gauges are read from its status when
 * scraped (`status()` is cached for 1 s, so one scrape costs one backlog walk).
 */
export interface ForwarderMetrics {
  records: Counter<'lane'>;
  bytes: Counter;
  failures: Counter<'code'>;
  heartbeats: Counter<'outcome'>;
  healthy: Gauge;
  backlogBytes: Gauge<'lane' | 'partition'>;
  oldestAge: Gauge<'clock'>;
  drainRate: Gauge;
  eta: Gauge;
  /** PUBACK → Kafka ack, per record: from its edge ingest time (gateway clock) to the ack of its request. */
  latency: Histogram;
  inFlightBatches: Gauge;
  inFlightRequests: Gauge;
}

/** Upper bounds of the latency histogram, seconds: tens of ms when all is well, up to hours of outage backlog. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 14400];

/** What `/status` shows of the latency histogram: counts per bucket and the bucket bounds of p50 and p99. */
export interface LatencySummary {
  /** Records acknowledged since the agent started. */
  count: number;
  /** Upper bound (ms) of the bucket holding the median, p99; undefined before the first ack; Infinity above the last bucket. */
  p50Ms: number | undefined;
  p99Ms: number | undefined;
  /** Records per bucket, keyed by its upper bound in ms (`+Inf` for the rest), not cumulative. */
  buckets: Record<string, number>;
}

export async function summarizeLatency(h: Histogram): Promise<LatencySummary> {
  const { values } = await h.get();
  const cumulative = values
    .filter((v) => v.metricName?.endsWith('_bucket') === true)
    .map((v) => ({ le: v.labels.le === '+Inf' ? Infinity : Number(v.labels.le), n: v.value }))
    .sort((a, b) => a.le - b.le);
  const count = cumulative.at(-1)?.n ?? 0;
  const bound = (q: number) => (count === 0 ? undefined : (cumulative.find((b) => b.n >= q * count)?.le ?? Infinity) * 1000);
  const buckets: Record<string, number> = {};
  let below = 0;
  for (const b of cumulative) {
    if (b.n - below > 0) buckets[b.le === Infinity ? '+Inf' : String(Math.round(b.le * 1000))] = b.n - below;
    below = b.n;
  }
  return { count, p50Ms: bound(0.5), p99Ms: bound(0.99), buckets };
}

/** What the scraped gauges read: the forwarder's status and its drain rate. */
export interface ForwarderGauges {
  status(): Promise<ForwarderStatus>;
  drainRate(): number;
  inFlight(): { batches: number; requests: number };
}

export function createForwarderMetrics(registry: Registry, source: ForwarderGauges): ForwarderMetrics {
  const registers = [registry];
  return {
    records: new Counter({ name: 'roadlog_edge_forwarded_records_total', help: 'Records acknowledged by Kafka, by edge lane', labelNames: ['lane'], registers }),
    bytes: new Counter({ name: 'roadlog_edge_forwarded_bytes_total', help: 'Value bytes acknowledged by Kafka', registers }),
    failures: new Counter({ name: 'roadlog_edge_forward_failures_total', help: 'Failed send attempts (each retried after a backoff)', labelNames: ['code'], registers }),
    heartbeats: new Counter({ name: 'roadlog_edge_heartbeats_total', help: 'Heartbeats to the gateway-status topic, by outcome', labelNames: ['outcome'], registers }),
    healthy: new Gauge({ name: 'roadlog_edge_forwarder_healthy', help: '1 while the last send succeeded, 0 while retrying', registers }),
    backlogBytes: new Gauge({
      name: 'roadlog_edge_forwarder_backlog_bytes',
      help: 'Bytes in the edge log not yet acknowledged by Kafka, per lane and partition',
      labelNames: ['lane', 'partition'],
      registers,
      async collect() {
        const s = await source.status();
        this.reset();
        for (const p of s.partitions) this.set({ lane: p.lane, partition: String(p.partition) }, p.bytes);
      },
    }),
    oldestAge: new Gauge({
      name: 'roadlog_edge_forwarder_oldest_unsent_age_seconds',
      help: 'Age of the oldest record not yet acknowledged by Kafka, by clock (ingest: gateway time of append; device: the vehicle\'s timestamp)',
      labelNames: ['clock'],
      registers,
      async collect() {
        const s = await source.status();
        this.set({ clock: 'ingest' }, s.backlog.oldestIngestAgeSeconds ?? 0);
        this.set({ clock: 'device' }, s.backlog.oldestDeviceAgeSeconds ?? 0);
      },
    }),
    drainRate: new Gauge({
      name: 'roadlog_edge_forwarder_drain_records_per_second',
      help: 'Records acknowledged by Kafka per second, over the last 30 s',
      registers,
      collect() {
        this.set(source.drainRate());
      },
    }),
    eta: new Gauge({
      name: 'roadlog_edge_forwarder_drain_eta_seconds',
      help: 'Backlog records / drain rate; -1 while nothing drains and records wait',
      registers,
      async collect() {
        const s = await source.status();
        this.set(s.backlog.etaSeconds ?? (s.backlog.records > 0 ? -1 : 0));
      },
    }),
    latency: new Histogram({
      name: 'roadlog_edge_forward_latency_seconds',
      help: 'From a record\'s append at the edge (its PUBACK follows) to Kafka\'s ack of it, gateway clock',
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    inFlightBatches: new Gauge({
      name: 'roadlog_edge_forwarder_inflight_batches',
      help: 'Batches read from the edge log and not yet wholly acknowledged by Kafka',
      registers,
      collect() {
        this.set(source.inFlight().batches);
      },
    }),
    inFlightRequests: new Gauge({
      name: 'roadlog_edge_forwarder_inflight_requests',
      help: 'Requests to Kafka partitions sent and not yet answered (one per partition at most; sent together, one round per broker)',
      registers,
      collect() {
        this.set(source.inFlight().requests);
      },
    }),
  };
}
