import { HEADER } from '../../shared/envelope/index.js';
import type { KeyedRecord } from '../../shared/kafka/index.js';
import type { ReadRecord } from '../log/index.js';

/**
 * Edge log records as Kafka records: key = vehicleId, value = the bytes the vehicle sent, the
 * record's own headers (schema version; for dead letters the reason, code and MQTT topic),
 * and the envelope headers (where it came from: every consumer's dedup key; the same names
 * and values as `encodeEnvelopeHeaders` in shared/envelope).
 *
 * Of the envelope, gateway, edge log, lane and edge partition are the same for every record
 * of an edge partition: they are encoded once, as bytes, and shared; only the offset, the
 * schema version and the ingest time are made per record.
 */
export class KafkaRecordEncoder {
  private readonly constant = new Map<string, Readonly<Record<string, Buffer>>>();

  constructor(
    private readonly gatewayId: string,
    private readonly edgeLog: string,
  ) {}

  encode(record: ReadRecord): KeyedRecord {
    const headers: Record<string, string | Buffer> = {};
    let schema = 0;
    for (const h of record.headers) {
      const value = Buffer.from(h.value.buffer, h.value.byteOffset, h.value.byteLength);
      if (h.name === HEADER.schema) {
        const text = value.toString();
        schema = /^\d+$/.test(text) ? Number(text) : 0;
      } else headers[h.name] = value;
    }
    Object.assign(headers, this.constantHeaders(record.lane, record.partition));
    headers[HEADER.edgeOffset] = String(record.offset);
    headers[HEADER.schema] = String(schema);
    headers[HEADER.ingestTs] = String(record.ingestTs);
    return { key: record.key, value: Buffer.from(record.value.buffer, record.value.byteOffset, record.value.byteLength), headers };
  }

  private constantHeaders(lane: string, partition: number): Readonly<Record<string, Buffer>> {
    const id = `${lane}/${partition}`;
    let headers = this.constant.get(id);
    if (headers === undefined) {
      headers = Object.freeze({
        [HEADER.gateway]: Buffer.from(this.gatewayId),
        [HEADER.edgeLog]: Buffer.from(this.edgeLog),
        [HEADER.edgeLane]: Buffer.from(lane),
        [HEADER.edgePartition]: Buffer.from(String(partition)),
      });
      this.constant.set(id, headers);
    }
    return headers;
  }
}
