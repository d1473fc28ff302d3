import { decodeEnvelopeHeaders, type Envelope, type RecordHeaders } from './envelope.js';

/**
 * Drops the copies the forwarder may re-send (after a lost ack, a partial failure or a
 * gateway crash), for a consumer reading telemetry or dead-letter topics.
 *
 * Why a high-water mark is enough: the forwarder keeps at most one request in flight per Kafka
 * partition, sends a partition's records in edge order, and re-sends a failed request before
 * anything behind it. So in any one Kafka partition, the offsets of one edge (gateway, log,
 * lane, partition) only grow, except that a re-send (or, after a restart, a send from the saved
 * cursor) repeats offsets already delivered. A record at or below the highest
 * offset seen for its edge partition in its Kafka partition is a copy; gaps are normal.
 *
 * State: one bigint per (Kafka partition, gateway, edge log, lane, edge partition). The log id
 * keeps a new log's offsets (which start at 0 again) from being taken for copies. If the
 * telemetry topic's partition count changes, a re-sent copy may land in another Kafka
 * partition and pass as new: add partitions only with the forwarders drained. It is only as good
 * as its memory: a consumer that restarts from a committed Kafka offset can meet a copy whose
 * original it processed before the restart. Consumers that must be exact across restarts
 * (the cold path's archive) persist `snapshot()` with their output and `restore()` it; call
 * `forget()` for partitions a rebalance takes away.
 */
export class EnvelopeDedup {
  private readonly marks = new Map<string, bigint>();
  duplicates = 0;

  /**
   * True when the record is a copy of one already seen in this Kafka partition (and records
   * it otherwise). A record without a valid envelope is never called a duplicate.
   */
  isDuplicate(topic: string, partition: number, headers: RecordHeaders | undefined): boolean {
    const env = decodeEnvelopeHeaders(headers);
    return env !== undefined && this.isDuplicateEnvelope(topic, partition, env);
  }

  /** isDuplicate for an envelope the caller has decoded already. */
  isDuplicateEnvelope(topic: string, partition: number, env: Envelope): boolean {
    const key = `${topic}\u0000${partition}\u0000${env.gatewayId}\u0000${env.edgeLog}\u0000${env.edgeLane}\u0000${env.edgePartition}`;
    const mark = this.marks.get(key);
    if (mark !== undefined && env.edgeOffset <= mark) {
      this.duplicates++;
      return true;
    }
    this.marks.set(key, env.edgeOffset);
    return false;
  }

  /** Forgets the marks of Kafka partitions this consumer no longer owns. */
  forget(topic: string, partition: number): void {
    const prefix = `${topic}\u0000${partition}\u0000`;
    for (const k of this.marks.keys()) if (k.startsWith(prefix)) this.marks.delete(k);
  }

  snapshot(): Record<string, string> {
    return Object.fromEntries([...this.marks].map(([k, v]) => [k, v.toString()]));
  }

  restore(snapshot: Record<string, string>): void {
    for (const [k, v] of Object.entries(snapshot)) this.marks.set(k, BigInt(v));
  }
}
