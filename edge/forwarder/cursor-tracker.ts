import type { CursorPositions } from '../log/index.js';

/** One batch read from the edge log: where the reader stood after it, and its records not yet acknowledged. */
export interface BatchTicket {
  readonly end: CursorPositions;
  pending: number;
}

/**
 * Batches in read order, each done when Kafka acknowledged all its records. Acks may come
 * back in any order (several batches in flight, each spread over Kafka partitions); the cursor
 * may only move over the contiguous done prefix: a batch acknowledged before an earlier one
 * waits for it, so a restart never skips a record the edge acknowledged to a vehicle.
 */
export class AckTracker {
  private readonly batches: BatchTicket[] = [];
  private head = 0;

  /** A batch just read; `end` is the reader's position after it. A batch of 0 records (only skipped ranges) is done at once. */
  add(end: CursorPositions, records: number): BatchTicket {
    const ticket: BatchTicket = { end, pending: records };
    this.batches.push(ticket);
    return ticket;
  }

  ack(ticket: BatchTicket, records: number): void {
    if (records > ticket.pending) throw new RangeError(`acknowledged ${records} records of a batch with ${ticket.pending} pending`);
    ticket.pending -= records;
  }

  /**
   * The positions to commit, the end of the last batch of the done prefix (removed from the
   * tracker), or undefined when the oldest batch still waits for an ack.
   */
  takeCommittable(): CursorPositions | undefined {
    let end: CursorPositions | undefined;
    while (this.head < this.batches.length && this.batches[this.head]!.pending === 0) end = this.batches[this.head++]!.end;
    if (this.head > 1024 && this.head * 2 > this.batches.length) {
      this.batches.splice(0, this.head);
      this.head = 0;
    }
    return end;
  }

  /** Batches read and not yet committable. */
  get inFlight(): number {
    return this.batches.length - this.head;
  }

  /** Forgets every batch (after a rewind to the durable cursor). */
  clear(): void {
    this.batches.length = 0;
    this.head = 0;
  }
}

/**
 * Saves cursor positions with at most one save in flight, and at most one save started per
 * `intervalMs`: a request made meanwhile waits, and only the newest waiting one is saved next
 * (positions only move forward, so the newest includes every older one). Each save is a file
 * write, two fsyncs and a rename: without the interval a light stream of small rounds would
 * cost hundreds a second. A failed save is reported and the next request tries again: the
 * records stay in the log and are re-sent after a restart, never lost. `flush()` saves what
 * waits at once.
 */
export class CoalescedCommit {
  private wanted: CursorPositions | undefined;
  private saving: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastStart = -Infinity;

  constructor(
    private readonly save: (positions: CursorPositions) => Promise<void>,
    private readonly onError: (err: unknown) => void,
    private readonly intervalMs = 0,
    private readonly now: () => number = () => performance.now(),
  ) {}

  request(positions: CursorPositions): void {
    this.wanted = positions;
    this.kick();
  }

  /** Saves what was requested so far, now, and waits for it (or its failure). */
  async flush(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.saving !== undefined || this.wanted !== undefined) await (this.saving ??= this.saveNewest());
  }

  private kick(): void {
    if (this.saving !== undefined || this.timer !== undefined || this.wanted === undefined) return;
    const wait = this.lastStart + this.intervalMs - this.now();
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.kick();
      }, wait);
      return;
    }
    this.saving = this.saveNewest();
  }

  private async saveNewest(): Promise<void> {
    const next = this.wanted!;
    this.wanted = undefined;
    this.lastStart = this.now();
    try {
      await this.save(next);
    } catch (err) {
      this.onError(err);
    } finally {
      this.saving = undefined;
      this.kick();
    }
  }
}
