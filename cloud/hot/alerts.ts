import type { Kafka } from 'kafkajs';
import { AlertEventSchema, commandKeyOf, type AlertCommand, type AlertEvent } from '../../shared/alerts/index.js';
import { RoadlogError } from '../../shared/errors/index.js';
import { disconnectQuietly, withDeadline } from '../../shared/kafka/index.js';
import { partitionForKey } from '../../shared/partitioner/index.js';
import { readToEnd } from '../admin/read-to-end.js';

/**
 * `roadlog alerts`: the alert events topic read as a table (the newest event of each alertId
 * is the alert), and operators' commands. Reads committed events only (read_committed), with a
 * throw-away consumer group, up to the end offsets taken when it starts.
 */
export async function readAlerts(kafka: Kafka, topic: string, timeoutMs: number): Promise<Map<string, AlertEvent>> {
  const latest = new Map<string, AlertEvent>();
  await readToEnd(kafka, topic, (_p, m) => {
    const parsed = AlertEventSchema.safeParse(safeJson(m.value));
    if (parsed.success) latest.set(parsed.data.alertId, parsed.data);
  }, { timeoutMs, transactional: true, what: 'alerts' });
  return latest;
}

/** A Kafka record's value as JSON, or null when it is not JSON (callers validate what they get). */
export function safeJson(value: Buffer | null): unknown {
  try {
    return value === null ? null : JSON.parse(value.toString('utf8'));
  } catch {
    return null;
  }
}

/** Finds an alert by id or unique prefix (at least 6 hex digits). */
export function findAlert(alerts: Map<string, AlertEvent>, id: string): AlertEvent {
  if (!/^[0-9a-f]{6,32}$/.test(id)) throw new RoadlogError('ROADLOG_ERR_USAGE', `alert id: expected 6 to 32 hex digits (an alertId or its start), got ${JSON.stringify(id)}`);
  const hits = [...alerts.values()].filter((a) => a.alertId.startsWith(id));
  if (hits.length === 0) throw new RoadlogError('ROADLOG_ERR_ALERT_NOT_FOUND', `no alert ${id} in the alert events`);
  if (hits.length > 1) throw new RoadlogError('ROADLOG_ERR_USAGE', `alert id ${id} matches ${hits.length} alerts; give more digits`);
  return hits[0]!;
}

/** Sends an operator's command to the partition of the instance that owns the alert. */
export async function sendCommand(kafka: Kafka, commandsTopic: string, alert: AlertEvent, cmd: AlertCommand, timeoutMs: number): Promise<void> {
  const admin = kafka.admin();
  await withDeadline(() => admin.connect(), timeoutMs, 'alerts');
  let partitions: number;
  try {
    partitions = (await withDeadline(() => admin.fetchTopicOffsets(commandsTopic), timeoutMs, 'alerts')).length;
  } finally {
    await disconnectQuietly(admin);
  }
  const key = commandKeyOf(alert);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await withDeadline(() => producer.connect(), timeoutMs, 'alerts');
  try {
    await withDeadline(() => producer.send({ topic: commandsTopic, acks: -1, messages: [{ key, value: JSON.stringify(cmd), partition: partitionForKey(key, partitions) }] }), timeoutMs, 'alerts: sending the command');
  } finally {
    await disconnectQuietly(producer);
  }
}

const time = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString().replace('.000Z', 'Z'));

export function alertTable(alerts: AlertEvent[]): string {
  const rows = alerts.map((a) => [a.alertId.slice(0, 12), a.state, a.severity, a.category, a.vehicleId || `gateway ${a.gatewayId}`, a.rule + (a.subject === '' ? '' : `:${a.subject}`), time(a.openedAt), a.late ? `late ${Math.round(a.lateByMs / 1000)} s` : '', a.message]);
  const head = ['ALERT', 'STATE', 'SEVERITY', 'CATEGORY', 'VEHICLE', 'RULE', 'OPENED (device time)', 'LATE', 'MESSAGE'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}
