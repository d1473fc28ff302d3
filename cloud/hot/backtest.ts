import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import type { AlertEvent } from '../../shared/alerts/index.js';
import { decodeEnvelopeHeaders } from '../../shared/envelope/index.js';
import { disconnectQuietly, withDeadline } from '../../shared/kafka/index.js';
import { parseTelemetry } from '../../shared/schema/index.js';
import { HotEngine } from './engine/engine.js';
import { toSample } from './engine/sample.js';
import type { RulePack } from './rules/schema.js';

export interface BacktestOptions {
  topic: string;
  /** Device time range (ms), inclusive; records outside are skipped. */
  from: number;
  to: number;
  vehicle?: string;
  timeoutMs: number;
  /** Called now and then with records read and the total to read. */
  progress?: (read: number, total: number) => void;
}

export interface BacktestResult {
  events: AlertEvent[];
  read: number;
  evaluated: number;
  skipped: number;
}

/**
 * `roadlog hot backtest`: the live path's engine over what the telemetry topic holds now, from
 * its earliest offsets to the ends taken at the start, each partition in offset order (as the
 * live path reads it), so over the same records it raises the same alert ids. Reads with a
 * throw-away consumer group that never commits; publishes nothing.
 */
export async function backtest(kafka: Kafka, pack: RulePack, o: BacktestOptions): Promise<BacktestResult> {
  const admin = kafka.admin();
  await withDeadline(() => admin.connect(), o.timeoutMs, 'backtest');
  let ends: { partition: number; high: string; low: string }[];
  try {
    ends = await withDeadline(() => admin.fetchTopicOffsets(o.topic), o.timeoutMs, 'backtest');
  } finally {
    await disconnectQuietly(admin);
  }
  const engine = new HotEngine(pack);
  const events: AlertEvent[] = [];
  const left = new Map(ends.filter((e) => BigInt(e.high) > BigInt(e.low)).map((e) => [e.partition, BigInt(e.high)]));
  const total = ends.reduce((n, e) => n + Number(BigInt(e.high) - BigInt(e.low)), 0);
  let read = 0;
  let skipped = 0;
  if (left.size > 0) {
    const consumer = kafka.consumer({ groupId: `roadlog-backtest-${randomUUID()}`, readUncommitted: false, maxBytesPerPartition: 4 * 1024 * 1024 });
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [o.topic], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          const end = left.get(batch.partition);
          for (const m of batch.messages) {
            if (end === undefined || BigInt(m.offset) >= end) break;
            read++;
            const parsed = m.value === null ? undefined : parseTelemetry(m.value);
            if (parsed === undefined || !parsed.ok || parsed.value.ts < o.from || parsed.value.ts > o.to || (o.vehicle !== undefined && parsed.value.vehicleId !== o.vehicle)) {
              skipped++;
              continue;
            }
            events.push(...engine.offer(toSample(parsed.value, decodeEnvelopeHeaders(m.headers), batch.partition, Number(m.timestamp))).events);
          }
          if (end !== undefined && BigInt(batch.lastOffset()) + 1n >= end) left.delete(batch.partition);
          o.progress?.(read, total);
          if (left.size === 0) finish();
        },
      });
      await withDeadline(() => done, Math.max(o.timeoutMs, 3_600_000), 'backtest: reading the telemetry');
    } finally {
      await disconnectQuietly(consumer);
    }
  }
  events.push(...engine.flush(Date.now()));
  return { events, read, evaluated: engine.counters.evaluated, skipped };
}
