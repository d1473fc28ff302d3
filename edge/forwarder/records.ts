import { encodeEnvelopeHeaders } from '../../shared/envelope/index.js';
import type { KeyedRecord } from '../../shared/kafka/index.js';
import type { ReadRecord } from '../log/index.js';

/**
 * An edge log record as a Kafka record: key = vehicleId, value = the bytes the vehicle sent,
 * the envelope headers (where it came from: the dedup key of every consumer), and the
 * record's own headers (schema version; for dead letters the reason, code and MQTT topic).
 */
export function toKafkaRecord(record: ReadRecord, gatewayId: string, edgeLog: string): KeyedRecord {
  const schema = record.headers.find((h) => h.name === 'roadlog.schema')?.value.toString();
  const headers: Record<string, string | Buffer> = {};
  for (const h of record.headers) headers[h.name] = Buffer.from(h.value);
  Object.assign(
    headers,
    encodeEnvelopeHeaders({
      gatewayId,
      edgeLog,
      edgeLane: record.lane,
      edgePartition: record.partition,
      edgeOffset: BigInt(record.offset),
      schemaVersion: schema !== undefined && /^\d+$/.test(schema) ? Number(schema) : 0,
      ingestTs: record.ingestTs,
    }),
  );
  return { key: record.key, value: Buffer.from(record.value.buffer, record.value.byteOffset, record.value.byteLength), headers };
}
