import { Counter, Gauge, type Registry } from 'prom-client';
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
}

/** What the scraped gauges read: the forwarder's status and its drain rate. */
export interface ForwarderGauges {
  status(): Promise<ForwarderStatus>;
  drainRate(): number;
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
  };
}
