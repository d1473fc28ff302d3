import type { Kafka } from 'kafkajs';
import type { AlertEvent } from '../../shared/alerts/index.js';
import { decodeEnvelopeHeaders } from '../../shared/envelope/index.js';
import { parseTelemetry } from '../../shared/schema/index.js';
import { readToEnd } from '../admin/read-to-end.js';
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
 * live path reads it), so over the same records it raises the same alert ids. Reads with
 * readToEnd (a throw-away group that never commits); publishes nothing.
 */
export async function backtest(kafka: Kafka, pack: RulePack, o: BacktestOptions): Promise<BacktestResult> {
  const engine = new HotEngine(pack);
  const events: AlertEvent[] = [];
  let total = 0;
  let read = 0;
  let skipped = 0;
  await readToEnd(kafka, o.topic, (partition, m) => {
    if (++read % 1000 === 0) o.progress?.(read, total);
    const parsed = m.value === null ? undefined : parseTelemetry(m.value);
    if (parsed === undefined || !parsed.ok || parsed.value.ts < o.from || parsed.value.ts > o.to || (o.vehicle !== undefined && parsed.value.vehicleId !== o.vehicle)) {
      skipped++;
      return;
    }
    events.push(...engine.offer(toSample(parsed.value, decodeEnvelopeHeaders(m.headers), partition, Number(m.timestamp))).events);
  }, { timeoutMs: o.timeoutMs, readTimeoutMs: Math.max(o.timeoutMs, 3_600_000), transactional: false, what: 'backtest', onStart: (n) => (total = n) });
  o.progress?.(read, total);
  events.push(...engine.flush());
  return { events, read, evaluated: engine.counters.evaluated, skipped };
}
