import type { FastifyInstance } from 'fastify';
import type { Admin } from 'kafkajs';
import { withDeadline } from '../../shared/kafka/index.js';
import { histogramQuantiles, parsePrometheus, type Sample } from '../../shared/metrics/prometheus.js';
import type { ConsoleKafka } from './feeds.js';

/**
 * The health page's figures, from the components' own /metrics (the URLs in console.metrics, each
 * read when the page asks) and from Kafka:
 * - latency: device → Kafka (`roadlog_hot_device_to_kafka_seconds`), MQTT receive → PUBACK
 *   (`roadlog_edge_ack_latency_seconds`), PUBACK → Kafka ack (`roadlog_edge_forward_latency_seconds`),
 *   device → alert and Kafka append → alert (`roadlog_hot_device_to_alert_seconds`,
 *   `roadlog_hot_append_to_alert_seconds`), summed over every instance that serves them, as p50
 *   and p99 (the upper bound of the bucket each falls in);
 * - rejects by reason (`roadlog_edge_rejects_total`, every gateway);
 * - dead letters per minute over the last 10 minutes: the dead-letter topic's offsets at each
 *   minute's start (Kafka's ListOffsets by timestamp), so the history is there the moment the
 *   console starts.
 */
export const LATENCIES = [
  { label: 'device → Kafka', metric: 'roadlog_hot_device_to_kafka_seconds' },
  { label: 'MQTT receive → PUBACK (edge)', metric: 'roadlog_edge_ack_latency_seconds' },
  { label: 'PUBACK → Kafka ack (edge)', metric: 'roadlog_edge_forward_latency_seconds' },
  { label: 'Kafka append → alert', metric: 'roadlog_hot_append_to_alert_seconds' },
  { label: 'device → alert', metric: 'roadlog_hot_device_to_alert_seconds' },
] as const;

export interface HealthOptions {
  /** The components' /metrics URLs. */
  metrics: readonly string[];
  kafka: ConsoleKafka;
  admin(): Promise<Admin>;
  timeoutMs: number;
  now?: () => number;
}

export function registerHealthApi(app: FastifyInstance, o: HealthOptions): void {
  const now = o.now ?? Date.now;
  app.get('/api/health', async () => {
    const scraped = await Promise.all(
      o.metrics.map(async (url) => {
        try {
          const r = await fetch(url, { signal: AbortSignal.timeout(Math.min(o.timeoutMs, 3_000)) });
          if (!r.ok) throw new Error(`HTTP ${r.status}`);
          const samples = parsePrometheus(await r.text());
          return { url, up: true, error: null, component: samples.find((s) => s.labels.component !== undefined)?.labels.component ?? null, samples };
        } catch (err) {
          return { url, up: false, error: (err as Error).message, component: null, samples: [] as Sample[] };
        }
      }),
    );
    const all = scraped.flatMap((s) => s.samples);
    const rejects = new Map<string, number>();
    for (const s of all) if (s.name === 'roadlog_edge_rejects_total') rejects.set(s.labels.reason ?? '?', (rejects.get(s.labels.reason ?? '?') ?? 0) + s.value);
    return {
      targets: scraped.map(({ url, up, error, component }) => ({ url, up, error, component })),
      latency: LATENCIES.map((l) => ({ ...l, ...histogramQuantiles(all, l.metric) })),
      rejects: [...rejects].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count),
      deadLetters: await deadLettersPerMinute(o, now()).catch((err: unknown) => ({ error: (err as Error).message, minutes: [] })),
    };
  });
}

/** Records that entered the dead-letter topic in each of the last 10 whole minutes (wall time, by Kafka timestamp). */
async function deadLettersPerMinute(o: HealthOptions, now: number): Promise<{ error: null; minutes: { minute: string; count: number }[] }> {
  const k = await o.kafka();
  if (k === undefined) throw new Error('no Kafka');
  const admin = await o.admin();
  const topic = k.topic('deadLetters');
  const start = Math.floor(now / 60_000) * 60_000 - 9 * 60_000;
  const marks = Array.from({ length: 11 }, (_, i) => start + i * 60_000);
  // The offset of the first record at or after each mark (the end offset when there is none), summed over partitions.
  const at = await Promise.all(marks.map(async (ts) => (await withDeadline(() => admin.fetchTopicOffsetsByTimestamp(topic, ts), o.timeoutMs, 'console: dead letters')).reduce((n, p) => n + Number(p.offset), 0)));
  return { error: null, minutes: marks.slice(0, -1).map((ts, i) => ({ minute: new Date(ts).toISOString().slice(0, 16).replace('T', ' '), count: at[i + 1]! - at[i]! })) };
}
