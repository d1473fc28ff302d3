import { estimatedBytes, type KeyedRecord } from '../../shared/kafka/index.js';
import type { BatchTicket } from './cursor-tracker.js';

/** A record waiting for Kafka, with the batch it was read in. */
export interface QueuedRecord {
  record: KeyedRecord;
  ticket: BatchTicket;
  /** Gateway time of its append (PUBACK follows it): the latency histogram's start. */
  ingestTs: number;
  lane: string;
  valueBytes: number;
}

/**
 * The records bound for one Kafka partition, in edge read order, with at most one request in
 * flight. Order per vehicle holds because a request is only sent after the one before it was
 * acknowledged; a request that failed is sent again, the same records in the same request (so
 * an idempotent producer's sequence numbers match what the broker may already have), before
 * anything behind it. Records read while a request is in flight wait and go together in the
 * next one: small requests when traffic is light, full ones when there is a backlog.
 */
export class PartitionQueue {
  private items: QueuedRecord[] = [];
  private head = 0;
  /** The request being sent, or the failed one to send again. */
  private current: QueuedRecord[] | undefined;
  inFlight = false;
  /** Failed attempts in a row (the backoff's exponent); 0 after an ack. */
  attempt = 0;
  /** No send before this time (ms, the forwarder's clock): backing off after a failure. */
  notBefore = 0;

  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {}

  push(item: QueuedRecord): void {
    this.items.push(item);
  }

  /** Records waiting (the failed request's included). */
  get size(): number {
    return this.items.length - this.head + (this.current?.length ?? 0);
  }

  /** Records the queue still references: those waiting and taken ones not yet let go of. */
  get retained(): number {
    return this.items.length;
  }

  /** Ready to send at `now`: something waits, nothing is in flight, no backoff running. */
  ready(now: number): boolean {
    return !this.inFlight && now >= this.notBefore && this.size > 0;
  }

  /**
   * The next request: the failed one again, or up to `maxBytes` (estimated; at least one
   * record) and `maxRecords` from the head. Marks the queue in flight.
   */
  take(maxBytes: number, maxRecords: number): QueuedRecord[] {
    if (this.current === undefined) {
      const out: QueuedRecord[] = [];
      let bytes = 0;
      while (this.head < this.items.length && out.length < maxRecords) {
        const next = this.items[this.head]!;
        const size = estimatedBytes(next.record);
        if (out.length > 0 && bytes + size > maxBytes) break;
        out.push(next);
        bytes += size;
        this.head++;
      }
      // Taken records must not stay referenced: their values are views of the log's read chunks
      // (up to 256 KiB each), which they would keep alive. An emptied queue lets go of all of them
      // at once (a slow lane, such as dead letters, is empty after almost every take); a busy one
      // compacts when more than half of it is taken.
      if (this.head === this.items.length) {
        this.items = [];
        this.head = 0;
      } else if (this.head > 4096 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      this.current = out;
    }
    this.inFlight = true;
    return this.current;
  }

  /** The request in flight was acknowledged. */
  acked(): void {
    this.current = undefined;
    this.inFlight = false;
    this.attempt = 0;
    this.notBefore = 0;
  }

  /** The request in flight failed: it stays, to be sent again at `notBefore`. */
  failed(notBefore: number): void {
    this.inFlight = false;
    this.attempt++;
    this.notBefore = notBefore;
  }

  /** Drops everything (a rewind to the durable cursor re-reads it). Only while nothing is in flight. */
  clear(): void {
    this.items = [];
    this.head = 0;
    this.current = undefined;
    this.attempt = 0;
    this.notBefore = 0;
  }
}
