import { randomUUID } from 'node:crypto';
import type { Consumer, EachBatchPayload } from 'kafkajs';
import { z } from 'zod';
import { AlertEventSchema, type AlertEvent } from '../../shared/alerts/index.js';
import { disconnectQuietly } from '../../shared/kafka/index.js';
import type { Logger } from '../../shared/logging/index.js';
import { safeJson } from '../hot/alerts.js';
import type { ReportContext } from '../report/model.js';

/**
 * What the console keeps live: every alert (the newest event of each alertId, from the alert
 * events topic, read_committed so an aborted transaction's events never show) and every
 * gateway's latest heartbeat (the compacted gateway-status topic). One consumer in a throw-away
 * group that never commits reads both from the beginning and then follows them; listeners hear
 * each batch's changes (the page's server-sent events).
 */
export type ConsoleKafka = ReportContext['kafka'];

/** The part of an edge agent's heartbeat (edge/forwarder/status.ts) the console shows; the rest is kept as sent. */
const HeartbeatSchema = z.looseObject({
  gatewayId: z.string().min(1),
  at: z.number(),
  connected: z.boolean(),
  lastAckAt: z.number().nullish(),
  forwardedRecords: z.number().optional(),
  lastError: z.object({ code: z.string(), message: z.string(), at: z.number() }).nullish(),
  backlog: z.looseObject({
    records: z.number(),
    bytes: z.number(),
    oldestIngestTs: z.number().nullish(),
    oldestDeviceTs: z.number().nullish(),
    drainRate: z.number(),
    etaSeconds: z.number().nullish(),
  }),
});

export interface GatewayView {
  gatewayId: string;
  /** The heartbeat's own time (the gateway's clock), and how long ago that was here. */
  heartbeatAt: number;
  heartbeatAgeSeconds: number;
  /** No heartbeat for `offlineAfterMs`: the gateway or its uplink is down (its backlog is as of the last heartbeat). */
  offline: boolean;
  connected: boolean;
  lastError: { code: string; message: string; at: number } | null;
  backlogRecords: number;
  backlogBytes: number;
  /** Age now of the oldest record not yet in Kafka (gateway append time; device time). */
  oldestUnsentAgeSeconds: number | null;
  oldestUnsentDeviceAgeSeconds: number | null;
  drainRate: number;
  etaSeconds: number | null;
}

/** An alert as the page shows it: its newest event, and how long the hot path took to raise it (device time of the opening record to the `opened` event; null when that event is no longer in the topic). */
export type AlertView = AlertEvent & { detectionDelayMs: number | null };

export type FeedChange = { kind: 'alerts'; alerts: AlertView[] } | { kind: 'gateways' };

export interface LiveFeedsOptions {
  /** Cleared alerts stay on the page this long after their last event (wall time). */
  recentClearedMs: number;
  /** A gateway with no heartbeat for this long is offline (the hot path's gateway_offline default is 60 s). */
  offlineAfterMs: number;
  logger: Logger;
  now?: () => number;
}

export class LiveFeeds {
  private readonly byId = new Map<string, AlertEvent>();
  /** When each alert's `opened` event was produced (wall time). */
  private readonly openedDetectedAt = new Map<string, number>();
  private readonly heartbeats = new Map<string, z.infer<typeof HeartbeatSchema>>();
  private readonly listeners = new Set<(change: FeedChange) => void>();
  private consumer: Consumer | undefined;
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  /** Why the feeds are not live (no Kafka, no topic); undefined once reading. */
  problem: string | undefined = 'starting';

  constructor(
    private readonly kafka: ConsoleKafka,
    private readonly o: LiveFeedsOptions,
  ) {
    this.now = o.now ?? Date.now;
  }

  /** Starts reading in the background; a failure is logged and tried again every 5 s. */
  start(): void {
    void this.connect();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    try {
      const k = await this.kafka();
      if (k === undefined) throw new Error('no Kafka (see the log)');
      const consumer = k.kafka.consumer({ groupId: `roadlog-console-${randomUUID()}`, readUncommitted: false, maxWaitTimeInMs: 100, allowAutoTopicCreation: false, sessionTimeout: 10_000, heartbeatInterval: 3_000 });
      this.consumer = consumer;
      consumer.on(consumer.events.CRASH, (e: { payload: { error: Error; restart: boolean } }) => {
        if (e.payload.restart) return;
        this.problem = e.payload.error.message;
        this.o.logger.warn({ err: e.payload.error.message }, 'console: the alerts and gateways feed stopped; starting again in 5 s');
        void disconnectQuietly(consumer).then(() => this.later());
      });
      await consumer.connect();
      const topics = { alerts: k.topic('alerts'), gateways: k.topic('gatewayStatus') };
      await consumer.subscribe({ topics: [topics.alerts, topics.gateways], fromBeginning: true });
      await consumer.run({ autoCommit: false, eachBatch: async (p) => this.onBatch(p, topics.alerts) });
      this.problem = undefined;
    } catch (err) {
      this.problem = (err as Error).message;
      this.o.logger.warn({ err: (err as Error).message }, 'console: cannot read the alerts and gateways; trying again in 5 s');
      if (this.consumer !== undefined) await disconnectQuietly(this.consumer);
      this.later();
    }
  }

  private later(): void {
    if (this.stopped) return;
    this.retry = setTimeout(() => void this.connect(), 5_000);
    this.retry.unref();
  }

  private onBatch({ batch }: EachBatchPayload, alertsTopic: string): void {
    if (batch.topic === alertsTopic) {
      const changed = new Set<string>();
      for (const m of batch.messages) {
        const parsed = AlertEventSchema.safeParse(safeJson(m.value));
        if (!parsed.success) continue;
        this.byId.set(parsed.data.alertId, parsed.data);
        if (parsed.data.change === 'opened') this.openedDetectedAt.set(parsed.data.alertId, parsed.data.detectedAt);
        changed.add(parsed.data.alertId);
      }
      this.prune();
      const alerts = [...changed].map((id) => this.alert(id)).filter((a): a is AlertView => a !== undefined);
      if (alerts.length > 0) this.emit({ kind: 'alerts', alerts });
      return;
    }
    for (const m of batch.messages) {
      const key = m.key?.toString('utf8');
      if (m.value === null) {
        if (key !== undefined) this.heartbeats.delete(key);
        continue;
      }
      const parsed = HeartbeatSchema.safeParse(safeJson(m.value));
      if (parsed.success) this.heartbeats.set(parsed.data.gatewayId, parsed.data);
    }
    if (batch.messages.length > 0) this.emit({ kind: 'gateways' });
  }

  /** Cleared alerts leave once their last event is older than recentClearedMs. */
  private prune(): void {
    const oldest = this.now() - this.o.recentClearedMs;
    for (const [id, a] of this.byId) {
      if (a.state === 'cleared' && a.detectedAt < oldest) {
        this.byId.delete(id);
        this.openedDetectedAt.delete(id);
      }
    }
  }

  private emit(change: FeedChange): void {
    for (const l of this.listeners) {
      try {
        l(change);
      } catch (err) {
        this.o.logger.warn({ err: (err as Error).message }, 'console: a feed listener failed');
      }
    }
  }

  /** Hears every change until the returned function is called. */
  listen(listener: (change: FeedChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Open, acknowledged and recently cleared alerts, newest (by device time) first. */
  alerts(): AlertView[] {
    this.prune();
    return [...this.byId.keys()].map((id) => this.alert(id)!).sort((a, b) => b.openedAt - a.openedAt || a.alertId.localeCompare(b.alertId));
  }

  alert(id: string): AlertView | undefined {
    const a = this.byId.get(id);
    if (a === undefined) return undefined;
    const opened = this.openedDetectedAt.get(id);
    return { ...a, detectionDelayMs: opened === undefined ? null : Math.max(0, opened - a.openedAt) };
  }

  gateways(): GatewayView[] {
    const now = this.now();
    return [...this.heartbeats.values()]
      .map((h) => {
        const age = (ts: number | null | undefined) => (ts === null || ts === undefined ? null : Math.max(0, (now - ts) / 1000));
        const heartbeatAgeSeconds = Math.max(0, (now - h.at) / 1000);
        return {
          gatewayId: h.gatewayId,
          heartbeatAt: h.at,
          heartbeatAgeSeconds,
          offline: heartbeatAgeSeconds * 1000 > this.o.offlineAfterMs,
          connected: h.connected,
          lastError: h.lastError ?? null,
          backlogRecords: h.backlog.records,
          backlogBytes: h.backlog.bytes,
          oldestUnsentAgeSeconds: h.backlog.records === 0 ? null : age(h.backlog.oldestIngestTs),
          oldestUnsentDeviceAgeSeconds: h.backlog.records === 0 ? null : age(h.backlog.oldestDeviceTs),
          drainRate: h.backlog.drainRate,
          etaSeconds: h.backlog.etaSeconds ?? null,
        };
      })
      .sort((a, b) => a.gatewayId.localeCompare(b.gatewayId));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry !== undefined) clearTimeout(this.retry);
    this.listeners.clear();
    if (this.consumer !== undefined) await disconnectQuietly(this.consumer, 5_000);
  }
}
