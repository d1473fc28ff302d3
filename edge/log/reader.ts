import { positionKey, type CursorPositions } from './cursor.js';
import { LANES, type Lane } from './options.js';
import type { Partition } from './partition.js';
import type { LogRecord } from './record.js';

export interface ReadRecord extends LogRecord {
  lane: Lane;
  partition: number;
}

/** Offsets a read passed over without returning them. */
export interface SkippedRange {
  lane: Lane;
  partition: number;
  fromOffset: number;
  toOffset: number;
  /** `deleted`: dropped by the full-disk policy before this reader got there; `gap`: offsets the log left unused on open; otherwise the damage found (`crc`, `length`, ...). */
  reason: string;
}

export interface ReadBatch {
  records: ReadRecord[];
  skipped: SkippedRange[];
}

/** What a reader needs from its log. */
export interface ReaderHost {
  readonly partitionCount: number;
  partition(lane: Lane, partition: number): Partition;
  saveCursor(name: string, positions: CursorPositions): Promise<void>;
  noteSkipped(ranges: readonly SkippedRange[]): void;
  assertOpen(): void;
}

/**
 * Reads the log from a named cursor, in batches, without blocking appends (reads use their
 * own fds and see only fsynced records). Lanes are served in order, `critical` first: a
 * batch holds normal records only when no critical record is waiting. Within a lane a batch
 * is shared fairly among the partitions that have records waiting. Order is kept per
 * (lane, partition), so per vehicle within a lane; across lanes it is not (records carry
 * the vehicle's `seq` for that). `commit()` stores the positions durably.
 */
export class LogReader {
  private readonly positions = new Map<string, number>();
  private committedPositions: CursorPositions;
  /** Positions of the latest commit() call (saved, or being saved). */
  private requested: CursorPositions;
  private rotate = 0;

  constructor(
    private readonly host: ReaderHost,
    readonly name: string,
    committed: CursorPositions,
  ) {
    this.committedPositions = { ...committed };
    this.requested = { ...committed };
    for (const [k, v] of Object.entries(committed)) this.positions.set(k, v);
  }

  /** Next offset this reader will read in a partition. */
  position(lane: Lane, partition: number): number {
    return this.positions.get(positionKey(lane, partition)) ?? 0;
  }

  seek(lane: Lane, partition: number, offset: number): void {
    this.positions.set(positionKey(lane, partition), offset);
  }

  /** Where the next read starts, in every partition read so far: after a read, the end of its batch. */
  readPositions(): CursorPositions {
    return Object.fromEntries(this.positions);
  }

  /** Back to positions taken with readPositions() (a read that failed half-way is undone). */
  restore(positions: CursorPositions): void {
    this.positions.clear();
    for (const [k, v] of Object.entries(positions)) this.positions.set(k, v);
  }

  committed(): CursorPositions {
    return { ...this.committedPositions };
  }

  async read(limits: { maxRecords?: number; maxBytes?: number } = {}): Promise<ReadBatch> {
    this.host.assertOpen();
    const maxRecords = limits.maxRecords ?? 500;
    const maxBytes = limits.maxBytes ?? 1024 * 1024;
    const records: ReadRecord[] = [];
    const skipped: SkippedRange[] = [];
    let bytes = 0;
    const n = this.host.partitionCount;
    const first = this.rotate++ % n;
    for (const lane of LANES) {
      // Fair across partitions: each one with a backlog gets an equal share of the batch; what
      // a partition leaves of its share goes round again.
      for (;;) {
        if (records.length >= maxRecords || bytes >= maxBytes) break;
        const waiting: number[] = [];
        for (let k = 0; k < n; k++) {
          const p = (first + k) % n;
          if (this.position(lane, p) < this.host.partition(lane, p).endOffset) waiting.push(p);
        }
        if (waiting.length === 0) break;
        const share = Math.max(1, Math.ceil((maxRecords - records.length) / waiting.length));
        const shareBytes = Math.max(1, Math.ceil((maxBytes - bytes) / waiting.length));
        let progress = false;
        for (const p of waiting) {
          if (records.length >= maxRecords || bytes >= maxBytes) break;
          const part = this.host.partition(lane, p);
          const from = this.position(lane, p);
          if (from < part.startOffset) skipped.push({ lane, partition: p, fromOffset: from, toOffset: part.startOffset, reason: 'deleted' });
          const r = await part.read(from, { maxRecords: Math.min(share, maxRecords - records.length), maxBytes: Math.min(shareBytes, maxBytes - bytes) });
          for (const rec of r.records) {
            records.push(Object.assign(rec, { lane, partition: p }));
            bytes += rec.value.length;
          }
          for (const s of r.skipped) skipped.push({ lane, partition: p, fromOffset: s.fromOffset, toOffset: s.toOffset, reason: s.reason });
          if (r.nextOffset !== from) progress = true;
          this.positions.set(positionKey(lane, p), r.nextOffset);
        }
        if (!progress) break;
      }
    }
    if (skipped.length > 0) this.host.noteSkipped(skipped);
    return { records, skipped };
  }

  /** Stores positions durably: by default everything read so far; or the ones given (merged). */
  async commit(positions?: CursorPositions): Promise<void> {
    this.host.assertOpen();
    // Merged into what earlier commits asked for, even those still being written: commits
    // may overlap (one per partition), and saves land in call order, so none undoes another.
    const next = { ...this.requested };
    if (positions === undefined) for (const [k, v] of this.positions) next[k] = v;
    else Object.assign(next, positions);
    this.requested = next;
    await this.host.saveCursor(this.name, next);
    this.committedPositions = next;
  }
}
