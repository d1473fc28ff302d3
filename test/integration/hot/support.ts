import { randomBytes } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import type { AlertEvent } from '../../../shared/alerts/index.js';
import { decodeEnvelopeHeaders, encodeEnvelopeHeaders } from '../../../shared/envelope/index.js';
import { partitionForKey } from '../../../shared/partitioner/index.js';
import type { Telemetry } from '../../../shared/schema/index.js';
import { HotEngine } from '../../../cloud/hot/engine/engine.js';
import { toSample } from '../../../cloud/hot/engine/sample.js';
import { loadRulePack } from '../../../cloud/hot/rules/load.js';
import { SimVehicle } from '../../../simulators/model.js';
import { Rng } from '../../../simulators/rng.js';
import { randomName, waitFor } from '../../support/kafka.js';

export const PARTITIONS = 12;
const START = Date.parse('2026-01-05T06:00:00Z');

export interface FleetRecord {
  partition: number;
  key: string;
  value: string;
  headers: Record<string, string>;
  t: Telemetry;
}

/**
 * A seeded fleet's records as one gateway would forward them (envelope headers, edge offsets
 * per edge partition, Kafka partition by vehicle), in lock-step device time.
 */
export function fleetRecords(seed: number, vehicles: number, minutes: number, gatewayId = 'gw-hot'): FleetRecord[] {
  const root = new Rng(seed);
  const durationMs = minutes * 60_000;
  const sims = Array.from({ length: vehicles }, (_, i) => new SimVehicle({ index: i, vehicleId: `HV-${String(i).padStart(4, '0')}`, seed: root.fork(i).seed, startTs: START, durationMs, intervalMs: 1000 }));
  const edgeLog = randomBytes(8).toString('hex');
  const edgeOffsets = [0n, 0n];
  const out: FleetRecord[] = [];
  for (let ts = START + 1000; ts <= START + durationMs; ts += 1000) {
    for (const v of sims) {
      const t = v.step();
      if (t === undefined) continue;
      const edgePartition = partitionForKey(t.vehicleId, 2);
      const headers = encodeEnvelopeHeaders({ gatewayId, edgeLog, edgeLane: 'normal', edgePartition, edgeOffset: edgeOffsets[edgePartition]!++, schemaVersion: 1, ingestTs: Date.now() });
      out.push({ partition: partitionForKey(t.vehicleId, PARTITIONS), key: t.vehicleId, value: JSON.stringify(t), headers, t });
    }
  }
  return out;
}

/** What an undisturbed engine raises over these records (the reference the live path must match). */
export function referenceEvents(records: readonly FleetRecord[]): AlertEvent[] {
  const engine = new HotEngine(loadRulePack());
  const events: AlertEvent[] = [];
  for (const r of records) events.push(...engine.offer(toSample(r.t, decodeEnvelopeHeaders(r.headers), r.partition, Date.now())).events);
  return events;
}

/** An event without what depends on the wall clock: equal for the same alert change in any run. */
export function eventKey(e: AlertEvent): string {
  return JSON.stringify([e.alertId, e.change, e.state, e.openedAt, e.clearedAt, e.value, e.threshold, e.message]);
}

export function multiset(events: readonly AlertEvent[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const e of events) m.set(eventKey(e), (m.get(eventKey(e)) ?? 0) + 1);
  return m;
}

export async function produce(kafka: Kafka, topic: string, records: readonly FleetRecord[]): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (let i = 0; i < records.length; i += 2000) {
      await producer.send({ topic, acks: -1, messages: records.slice(i, i + 2000).map((r) => ({ partition: r.partition, key: r.key, value: r.value, headers: r.headers })) });
    }
  } finally {
    await producer.disconnect();
  }
}

/** Every committed alert event on the topic (read_committed), once `count` of them are there and no more come for `settleMs`. */
export async function readAlertEvents(kafka: Kafka, topic: string, count: number, timeoutMs = 120_000, settleMs = 3_000): Promise<AlertEvent[]> {
  const consumer = kafka.consumer({ groupId: randomName('alerts-read'), readUncommitted: false, maxWaitTimeInMs: 100 });
  const got: AlertEvent[] = [];
  let last = Date.now();
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      got.push(JSON.parse(message.value!.toString()) as AlertEvent);
      last = Date.now();
    },
  });
  try {
    await waitFor(() => (got.length >= count && Date.now() - last >= settleMs ? true : undefined), timeoutMs, `${count} alert events on ${topic} (have ${got.length})`, 200);
  } finally {
    await consumer.disconnect();
  }
  return got;
}
