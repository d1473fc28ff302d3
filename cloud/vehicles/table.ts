import type { Kafka } from 'kafkajs';
import { disconnectQuietly, withDeadline } from '../../shared/kafka/index.js';
import { partitionForKey } from '../../shared/partitioner/index.js';
import { VehicleRefSchema, type VehicleRef } from '../../shared/vehicles/index.js';
import { readToEnd } from '../admin/read-to-end.js';

/**
 * The vehicles reference table on its compacted topic: `roadlog vehicles import` writes it, the
 * hot path reads all of it before it starts (a global table, the same on every instance) and
 * follows its changes.
 */
export async function importVehicles(kafka: Kafka, topic: string, vehicles: readonly VehicleRef[], timeoutMs: number): Promise<void> {
  const admin = kafka.admin();
  await withDeadline(() => admin.connect(), timeoutMs, 'vehicles import');
  let partitions: number;
  try {
    partitions = (await withDeadline(() => admin.fetchTopicOffsets(topic), timeoutMs, 'vehicles import')).length;
  } finally {
    await disconnectQuietly(admin);
  }
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await withDeadline(() => producer.connect(), timeoutMs, 'vehicles import');
  try {
    for (let i = 0; i < vehicles.length; i += 1000) {
      const chunk = vehicles.slice(i, i + 1000);
      await withDeadline(() => producer.send({ topic, acks: -1, messages: chunk.map((v) => ({ key: v.vehicleId, value: JSON.stringify(v), partition: partitionForKey(v.vehicleId, partitions) })) }), timeoutMs, 'vehicles import: sending');
    }
  } finally {
    await disconnectQuietly(producer);
  }
}

/** The table as the topic holds it now (newest value per vehicle; invalid values are skipped and counted). */
export async function readVehicles(kafka: Kafka, topic: string, timeoutMs: number): Promise<{ vehicles: Map<string, VehicleRef>; invalid: number }> {
  const vehicles = new Map<string, VehicleRef>();
  let invalid = 0;
  await readToEnd(kafka, topic, (_p, m) => {
    invalid += applyVehicleRecord(vehicles, m.key, m.value) ? 0 : 1;
  }, { timeoutMs, transactional: false, what: 'vehicles' });
  return { vehicles, invalid };
}

/** One record of the topic applied to the table: a value sets, null deletes. False when it is not a valid vehicle. */
export function applyVehicleRecord(table: Map<string, VehicleRef>, key: Buffer | null, value: Buffer | null): boolean {
  if (key === null) return false;
  if (value === null) {
    table.delete(key.toString('utf8'));
    return true;
  }
  try {
    const r = VehicleRefSchema.safeParse(JSON.parse(value.toString('utf8')));
    if (!r.success || r.data.vehicleId !== key.toString('utf8')) return false;
    table.set(r.data.vehicleId, r.data);
    return true;
  } catch {
    return false;
  }
}
