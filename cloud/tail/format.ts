import type { KafkaMessage } from 'kafkajs';

/**
 * `roadlog tail --format json` prints one object per line:
 *   {"topic","partition","offset","timestamp","key","headers","value"}
 * key, header values and value are UTF-8 strings; bytes that are not valid UTF-8 come as
 * base64 in `keyBase64` / `valueBase64` instead (and the string field is null).
 */
export interface TailRecord {
  topic: string;
  partition: number;
  offset: string;
  timestamp: string;
  key: string | null;
  keyBase64?: string;
  headers: Record<string, string | string[]>;
  value: string | null;
  valueBase64?: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function text(buf: Buffer | null | undefined): { text: string | null; base64?: string } {
  if (buf === null || buf === undefined) return { text: null };
  try {
    return { text: utf8.decode(buf) };
  } catch {
    return { text: null, base64: buf.toString('base64') };
  }
}

export function toTailRecord(topic: string, partition: number, message: KafkaMessage): TailRecord {
  const key = text(message.key);
  const value = text(message.value);
  const headers: Record<string, string | string[]> = {};
  for (const [name, raw] of Object.entries(message.headers ?? {})) {
    if (raw === undefined) continue;
    headers[name] = Array.isArray(raw) ? raw.map((v) => v.toString()) : raw.toString();
  }
  return {
    topic,
    partition,
    offset: message.offset,
    timestamp: message.timestamp,
    key: key.text,
    ...(key.base64 === undefined ? {} : { keyBase64: key.base64 }),
    headers,
    value: value.text,
    ...(value.base64 === undefined ? {} : { valueBase64: value.base64 }),
  };
}

export function formatJson(record: TailRecord): string {
  return JSON.stringify(record);
}

/** For people: a header line, the headers, and the value (indented if it is JSON). */
export function formatPretty(record: TailRecord): string {
  const when = new Date(Number(record.timestamp)).toISOString();
  const lines = [`── ${record.topic} [${record.partition}] @${record.offset}  ${when}  key=${record.key ?? (record.keyBase64 !== undefined ? `base64:${record.keyBase64}` : '(none)')}`];
  for (const [name, value] of Object.entries(record.headers)) lines.push(`   ${name}: ${Array.isArray(value) ? value.join(', ') : value}`);
  if (record.value === null) lines.push(record.valueBase64 !== undefined ? `   (binary, base64) ${record.valueBase64}` : '   (null value)');
  else {
    let body = record.value;
    try {
      body = JSON.stringify(JSON.parse(record.value), null, 2);
    } catch {
      /* not JSON: print as is */
    }
    lines.push(...body.split('\n').map((l) => `   ${l}`));
  }
  return lines.join('\n');
}
