import type { CompressionTypes, Message, Producer, RecordMetadata } from 'kafkajs';
import { RoadlogError } from '../errors/index.js';
import { partitionForKey } from '../partitioner/index.js';

/**
 * Produce keyed records so that "acknowledged" means acknowledged, for every partition.
 *
 * Why not a plain `producer.send()` with records for several partitions: kafkajs 2.2.4 keeps
 * one response slot per broker across retries (src/producer/sendMessages.js). When a
 * partition's leader dies mid-send and its partition moves to a broker that already answered
 * for another partition of the same send, the retry skips it and `send()` resolves without
 * ever writing that partition's records. We measured it on a 3-node cluster: 5 of 9,108
 * acknowledged records missing after one SIGKILL of a leader (infra/kafka/README.md).
 *
 * So: each record's partition is chosen here (Kafka's murmur2, as the default partitioner
 * would) and every answer is checked to name each partition sent to with error code 0; a
 * partition left out is not acknowledged. `sendPerPartition` sends one request per partition
 * (anything less throws ROADLOG_ERR_KAFKA_UNACKNOWLEDGED, retriable); `sendRound` sends
 * several partitions in one `sendBatch` and reports each partition's outcome.
 */
export interface KeyedRecord {
  key: string;
  value: Buffer | string;
  headers?: Record<string, string | Buffer>;
  /** Set only to override the key's partition. */
  partition?: number;
}

export interface SendPerPartitionOptions {
  topic: string;
  /** The topic's partition count, from metadata. */
  partitions: number;
  records: readonly KeyedRecord[];
  acks?: -1 | 1 | 0;
  /** Broker-side wait for acks=all, ms. */
  timeoutMs?: number;
  compression?: CompressionTypes;
  /**
   * Upper bound on one request's records (estimated bytes): a partition's records go out in
   * several requests, one after another, when they are more. Kafka refuses a record batch
   * above the topic's max.message.bytes (1 MiB by default) with MESSAGE_TOO_LARGE, for ever.
   * Default 900,000.
   */
  maxRequestBytes?: number;
}

/** Bytes a record takes in a record batch, roughly (varint framing ignored, a fixed allowance instead). */
export function estimatedBytes(r: KeyedRecord): number {
  let n = 24 + Buffer.byteLength(r.key) + (typeof r.value === 'string' ? Buffer.byteLength(r.value) : r.value.length);
  if (r.headers !== undefined) for (const [k, v] of Object.entries(r.headers)) n += 4 + k.length + (typeof v === 'string' ? Buffer.byteLength(v) : v.length);
  return n;
}

/** Splits a partition's records, in order, into runs of at most `maxBytes` (at least one record each). */
export function chunkByBytes(records: readonly KeyedRecord[], maxBytes: number): KeyedRecord[][] {
  const out: KeyedRecord[][] = [];
  let current: KeyedRecord[] = [];
  let bytes = 0;
  for (const r of records) {
    const size = estimatedBytes(r);
    if (current.length > 0 && bytes + size > maxBytes) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(r);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** Offsets acknowledged per partition: the base offset of the batch and its record count. */
export type PartitionAcks = Map<number, { baseOffset: string; count: number }>;

export function groupByPartition(records: readonly KeyedRecord[], partitions: number): Map<number, KeyedRecord[]> {
  const groups = new Map<number, KeyedRecord[]>();
  for (const record of records) {
    const partition = record.partition ?? partitionForKey(record.key, partitions);
    if (partition < 0 || partition >= partitions) throw new RangeError(`partition ${partition} is outside 0..${partitions - 1}`);
    const group = groups.get(partition);
    if (group === undefined) groups.set(partition, [record]);
    else group.push(record);
  }
  return groups;
}

/** What a failed `sendPerPartition` left unacknowledged; everything else was acknowledged. */
export interface Unacknowledged {
  topic: string;
  /** Partitions whose records were all acknowledged, ascending: not to be sent again. */
  acked: readonly number[];
  /**
   * Partitions not wholly acknowledged, each with how many of its first records were anyway
   * (whole requests): send only the rest again, so the same requests go out again and an
   * idempotent producer's sequence numbers still match what the broker has.
   */
  failed: readonly { partition: number; ackedRecords: number }[];
}

/**
 * ROADLOG_ERR_KAFKA_UNACKNOWLEDGED from `sendPerPartition`, saying in `unacknowledged` what to
 * send again. `details` holds the same facts as plain JSON for logs (`acked`, `failed`: the
 * partitions; `progress`: failed partition → records acknowledged).
 */
export class UnacknowledgedSendError extends RoadlogError {
  constructor(
    message: string,
    readonly unacknowledged: Unacknowledged,
    cause: unknown,
  ) {
    const { topic, acked, failed } = unacknowledged;
    super('ROADLOG_ERR_KAFKA_UNACKNOWLEDGED', message, {
      cause,
      details: { topic, acked: [...acked], failed: failed.map((f) => f.partition), progress: Object.fromEntries(failed.map((f) => [f.partition, f.ackedRecords])) },
    });
  }
}

interface SendChunkOptions {
  topic: string;
  partition: number;
  /** At most one request's worth (see `chunkByBytes`). */
  records: readonly KeyedRecord[];
  acks?: -1 | 1 | 0;
  timeoutMs?: number;
  compression?: CompressionTypes;
}

/**
 * One request to one partition: resolves with the base offset only when the broker's answer
 * names that partition with error code 0 (see above why a plain `send()` is not trusted).
 */
async function sendChunk(producer: Producer, options: SendChunkOptions): Promise<string> {
  const { topic, partition } = options;
  const messages: Message[] = options.records.map((r) => ({ key: r.key, value: r.value, partition, ...(r.headers === undefined ? {} : { headers: r.headers }) }));
  const result = await producer.send({
    topic,
    acks: options.acks ?? -1,
    timeout: options.timeoutMs ?? 30_000,
    ...(options.compression === undefined ? {} : { compression: options.compression }),
    messages,
  });
  return verifiedBaseOffset(result, topic, partition, options.acks ?? -1);
}

/** One partition's share of a round: at most one request's worth of records. */
export interface RoundChunk {
  topic: string;
  partition: number;
  records: readonly KeyedRecord[];
}

/**
 * Several partitions' records in one `send` (one request per broker), each partition's ack
 * checked: resolves with, per chunk (same order), its base offset or the reason it is not
 * acknowledged. A partition missing from the answer or with an error code is not acknowledged
 * (the kafkajs failover bug above leaves one out: it is found here and sent again). When the
 * send fails as a whole, every chunk is reported failed, though some may have been written:
 * sent again they are copies with the same envelope, never a gap.
 */
export async function sendRound(
  producer: Producer,
  chunks: readonly RoundChunk[],
  options: { acks?: -1 | 1; timeoutMs?: number; compression?: CompressionTypes } = {},
): Promise<({ ok: true; baseOffset: string } | { ok: false; error: unknown })[]> {
  const byTopic = new Map<string, Message[]>();
  for (const c of chunks) {
    let messages = byTopic.get(c.topic);
    if (messages === undefined) byTopic.set(c.topic, (messages = []));
    for (const r of c.records) messages.push({ key: r.key, value: r.value, partition: c.partition, ...(r.headers === undefined ? {} : { headers: r.headers }) });
  }
  let result: RecordMetadata[];
  try {
    result = await producer.sendBatch({
      acks: options.acks ?? -1,
      timeout: options.timeoutMs ?? 30_000,
      ...(options.compression === undefined ? {} : { compression: options.compression }),
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
    });
  } catch (error) {
    return chunks.map(() => ({ ok: false as const, error }));
  }
  return chunks.map((c) => {
    try {
      return { ok: true as const, baseOffset: verifiedBaseOffset(result, c.topic, c.partition, options.acks ?? -1) };
    } catch (error) {
      return { ok: false as const, error };
    }
  });
}

/**
 * Send every partition's records in its own request, in parallel. Resolves with the acks of
 * all partitions, or throws an UnacknowledgedSendError naming the partitions that were
 * acknowledged anyway and how many leading records of each failed one were, so a caller can
 * re-send only the rest (re-sending acknowledged records would write them twice).
 */
export async function sendPerPartition(producer: Producer, options: SendPerPartitionOptions): Promise<PartitionAcks> {
  const groups = [...groupByPartition(options.records, options.partitions)];
  const acks: PartitionAcks = new Map();
  /** Records acknowledged so far per partition (whole chunks, from the start of its group). */
  const progress = new Map<number, number>();
  const settled = await Promise.allSettled(
    groups.map(async ([partition, records]) => {
      // In order, one request after another: a partition's records keep their order in Kafka.
      let baseOffset: string | undefined;
      for (const chunk of chunkByBytes(records, options.maxRequestBytes ?? 900_000)) {
        const offset = await sendChunk(producer, { ...options, partition, records: chunk });
        baseOffset ??= offset;
        progress.set(partition, (progress.get(partition) ?? 0) + chunk.length);
      }
      acks.set(partition, { baseOffset: baseOffset ?? '-1', count: records.length });
    }),
  );
  const failures = settled.flatMap((s, i) => (s.status === 'rejected' ? [{ partition: groups[i]![0], reason: s.reason as unknown }] : []));
  if (failures.length > 0) {
    const first = failures[0]!;
    const message = `send to ${options.topic} not acknowledged for partition(s) ${failures.map((f) => f.partition).join(', ')}: ${first.reason instanceof Error ? first.reason.message : String(first.reason)}`;
    const unacknowledged: Unacknowledged = {
      topic: options.topic,
      acked: [...acks.keys()].sort((a, b) => a - b),
      failed: failures.map((f) => ({ partition: f.partition, ackedRecords: progress.get(f.partition) ?? 0 })),
    };
    throw new UnacknowledgedSendError(message, unacknowledged, first.reason);
  }
  return acks;
}

function verifiedBaseOffset(result: RecordMetadata[], topic: string, partition: number, acks: number): string {
  if (acks === 0) return '-1';
  const entry = result.find((r) => r.topicName === topic && r.partition === partition);
  if (entry === undefined || entry.errorCode !== 0 || entry.baseOffset === undefined) {
    throw new RoadlogError('ROADLOG_ERR_KAFKA_UNACKNOWLEDGED', `send to ${topic}[${partition}] returned ${entry === undefined ? 'no acknowledgment for the partition' : `error code ${entry.errorCode}`}`, {
      details: { topic, partition, result },
    });
  }
  return entry.baseOffset;
}
