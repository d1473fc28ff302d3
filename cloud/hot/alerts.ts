import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { AlertEventSchema, commandKeyOf, type AlertCommand, type AlertEvent } from '../../shared/alerts/index.js';
import { RoadlogError } from '../../shared/errors/index.js';
import { disconnectQuietly, withDeadline } from '../../shared/kafka/index.js';
import { partitionForKey } from '../../shared/partitioner/index.js';

/**
 * `roadlog alerts`: the alert events topic read as a table (the newest event of each alertId
 * is the alert), and operators' commands. Reads committed events only (read_committed), with a
 * throw-away consumer group, up to the end offsets taken when it starts.
 */
export async function readAlerts(kafka: Kafka, topic: string, timeoutMs: number): Promise<Map<string, AlertEvent>> {
  const admin = kafka.admin();
  await withDeadline(() => admin.connect(), timeoutMs, 'alerts');
  let ends: { partition: number; offset: string; high: string; low: string }[];
  try {
    ends = await withDeadline(() => admin.fetchTopicOffsets(topic), timeoutMs, 'alerts');
  } finally {
    await disconnectQuietly(admin);
  }
  const latest = new Map<string, AlertEvent>();
  const left = new Map(ends.filter((e) => BigInt(e.high) > BigInt(e.low)).map((e) => [e.partition, BigInt(e.high)]));
  if (left.size === 0) return latest;
  const consumer = kafka.consumer({ groupId: `roadlog-alerts-${randomUUID()}`, readUncommitted: false, maxWaitTimeInMs: 200 });
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  // Done when every partition is read up to its end (a transactional topic ends with a commit
  // marker, not a record: one offset of slack), or nothing has come for a while (aborted records at the end).
  const seen = new Map<number, bigint>();
  let idle: NodeJS.Timeout | undefined;
  const check = () => {
    if (idle !== undefined) clearTimeout(idle);
    if ([...left].every(([p, high]) => (seen.get(p) ?? -1n) + 2n >= high)) finish();
    else idle = setTimeout(finish, 2_000);
  };
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          const parsed = AlertEventSchema.safeParse(safeJson(m.value));
          if (parsed.success) latest.set(parsed.data.alertId, parsed.data);
          seen.set(batch.partition, BigInt(m.offset));
        }
        check();
      },
    });
    await withDeadline(() => done, timeoutMs, 'alerts: reading the alert events');
  } finally {
    if (idle !== undefined) clearTimeout(idle);
    await disconnectQuietly(consumer);
  }
  return latest;
}

function safeJson(value: Buffer | null): unknown {
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
