import type { KeyedRecord } from '../../shared/kafka/index.js';

/** Values above this go to Kafka cut to their first TRUNCATED_BYTES (the whole value stays in the edge log). */
export const MAX_VALUE_BYTES = 512 * 1024;
const TRUNCATED_BYTES = 64 * 1024;

/**
 * Kafka refuses a record batch above the topic's max.message.bytes (1 MiB by default) for
 * ever; one oversize dead letter (a client sent a huge payload) would then hold up everything
 * behind it. Such a value is cut, and the header `roadlog.truncated` gives its full size.
 */
export function fitForKafka(record: KeyedRecord): KeyedRecord {
  const size = typeof record.value === 'string' ? Buffer.byteLength(record.value) : record.value.length;
  if (size <= MAX_VALUE_BYTES) return record;
  const value = (typeof record.value === 'string' ? Buffer.from(record.value) : record.value).subarray(0, TRUNCATED_BYTES);
  return { ...record, value, headers: { ...record.headers, 'roadlog.truncated': String(size) } };
}
