import type { FileLayer } from './file-layer.js';
import { decodeRecord, encodeRecordInto, type LogRecord, type PreparedRecord } from './record.js';
import { recoverPartition, resync, type CorruptRange, type OpenReport } from './recovery.js';
import { Segment } from './segment.js';

export interface PartitionConfig {
  segmentBytes: number;
  indexIntervalBytes: number;
  /** Inspect without changing anything: no truncation, no file created, no index written. */
  readOnly?: boolean;
  /** Ignore index files and rebuild them from the segments (repair). */
  rebuildIndexes?: boolean;
  /** Called when a background index write fails (the index is rebuilt on the next open). */
  onError?: (err: unknown) => void;
  /**
   * The next append gets at least this offset: the highest position a cursor committed. A
   * record a reader has passed can be cut on open (a bit flip in the last record looks like a
   * torn tail); its offset must not go to a new record, or that reader would skip it.
   */
  minNextOffset?: number;
}

/** An append waiting for the next flush cycle. */
export interface PendingRecord {
  record: PreparedRecord;
  ingestTs: number;
}

interface Chunk {
  segment: Segment;
  isNew: boolean;
  /** The chunk's encoded records, written with one call. */
  buffer: Buffer;
  bytes: number;
  preSize: number;
  records: { offset: number; position: number; size: number; ingestTs: number }[];
}

/** What one flush cycle writes to one partition: offsets assigned, bytes encoded. */
export interface WritePlan {
  chunks: Chunk[];
  offsets: number[];
  bytes: number;
}

/** A segment deleted from the head of a partition: its base offset, records and bytes. */
export interface DeletedSegment {
  records: number;
  bytes: number;
  base: number;
}

export interface ReadLimits {
  maxRecords: number;
  maxBytes: number;
}

export interface ReadResult {
  records: LogRecord[];
  /** Where the next read continues. */
  nextOffset: number;
  /** Offsets that were damaged and skipped (never returned as records). */
  skipped: CorruptRange[];
}

const READ_CHUNK = 256 * 1024;

/**
 * One (lane, partition): a directory of segments forming one offset space that starts at 0.
 * Writes are planned (`prepare`), written and fsynced (`write`), then made visible (`commit`)
 * or undone (`rollback`); the owner runs one cycle at a time and never deletes segments
 * during a cycle. Reads may run at any time and see only committed (fsynced) records.
 */
export class Partition {
  /** Bytes past the active segment's durable size may be on disk (a failed write); cut them before the next write. */
  private tailDirty = false;

  private constructor(
    private readonly fs: FileLayer,
    readonly dir: string,
    private readonly config: PartitionConfig,
    readonly segments: Segment[],
    readonly report: OpenReport,
  ) {}

  /**
   * Opens a partition directory and recovers it (`recoverPartition` in recovery.ts): index
   * files are loaded or rebuilt; the last segment is scanned and cut back to its longest valid
   * prefix (a torn write); damage with valid records after it is kept and reported (those
   * records are skipped by readers).
   */
  static async open(fs: FileLayer, dir: string, config: PartitionConfig): Promise<Partition> {
    const { segments, report, toSeal } = await recoverPartition(fs, dir, config);
    const p = new Partition(fs, dir, config, segments, report);
    if (toSeal !== undefined) p.seal(toSeal);
    return p;
  }

  get active(): Segment {
    return this.segments.at(-1)!;
  }

  get startOffset(): number {
    return this.segments[0]!.base;
  }

  /** Offset the next append gets; every offset below it is durable. */
  get endOffset(): number {
    return this.active.nextOffset;
  }

  get sizeBytes(): number {
    let n = 0;
    for (const s of this.segments) n += s.size;
    return n;
  }

  /** Bytes of the segments from `offset` on (within one index interval: the segment holding `offset` counts from its nearest index entry). */
  bytesFrom(offset: number): number {
    let n = 0;
    for (const seg of this.segments) {
      if (seg.nextOffset <= offset) continue;
      n += seg.base >= offset ? seg.size : seg.size - seg.index.lookup(offset);
    }
    return n;
  }

  /** Assigns offsets and encodes; rolls to a new segment when the active one would pass segmentBytes. */
  prepare(pending: readonly PendingRecord[]): WritePlan {
    const chunks: Chunk[] = [];
    const offsets: number[] = [];
    let offset = this.active.nextOffset;
    const empty = Buffer.alloc(0);
    let chunk: Chunk = { segment: this.active, isNew: false, buffer: empty, bytes: 0, preSize: this.active.size, records: [] };
    const members: PendingRecord[][] = [[]];
    for (const p of pending) {
      const used = chunk.preSize + chunk.bytes;
      if (used > 0 && used + p.record.size > this.config.segmentBytes) {
        chunks.push(chunk);
        members.push([]);
        chunk = { segment: new Segment(this.fs, this.dir, offset, this.config.indexIntervalBytes), isNew: true, buffer: empty, bytes: 0, preSize: 0, records: [] };
      }
      chunk.records.push({ offset, position: chunk.preSize + chunk.bytes, size: p.record.size, ingestTs: p.ingestTs });
      members.at(-1)!.push(p);
      chunk.bytes += p.record.size;
      offsets.push(offset++);
    }
    chunks.push(chunk);
    let total = 0;
    chunks.forEach((c, k) => {
      c.buffer = Buffer.allocUnsafe(c.bytes);
      let at = 0;
      members[k]!.forEach((p, j) => (at = encodeRecordInto(c.buffer, at, p.record, c.records[j]!.offset, p.ingestTs)));
      total += c.bytes;
    });
    return { chunks: chunks.filter((c) => c.bytes > 0 || c.isNew), offsets, bytes: total };
  }

  /**
   * Writes and fsyncs a plan. One write and one fdatasync per segment (one O_DSYNC write where
   * the platform has it); a new segment is
   * created only after the previous one is fsynced, and its directory entry is fsynced
   * before the cycle completes, so a crash never leaves a torn segment before a newer one.
   */
  async write(plan: WritePlan): Promise<void> {
    if (this.tailDirty) {
      await this.active.writer!.truncate(this.active.size);
      await this.active.writer!.datasync();
      this.tailDirty = false;
    }
    for (const c of plan.chunks) {
      if (c.isNew) await c.segment.createWriter();
      const w = c.segment.writer!;
      if (c.bytes > 0) await w.append(c.buffer);
      // A dsync writer's append is already durable; a new segment with no bytes still syncs.
      if (c.bytes === 0 || !w.dsync) await w.datasync();
      if (c.isNew) await this.fs.fsyncDir(this.dir);
    }
  }

  /** Undoes a plan whose write failed: nothing of it becomes visible, now or after a crash. */
  async rollback(plan: WritePlan): Promise<void> {
    for (const c of plan.chunks) {
      if (c.isNew) {
        try {
          await c.segment.delete();
          await this.fs.fsyncDir(this.dir);
        } catch {
          // A leftover empty or torn newer segment is cut away by recovery on the next open.
        }
      } else {
        this.tailDirty = true;
        try {
          await c.segment.writer!.truncate(c.preSize);
          await c.segment.writer!.datasync();
          this.tailDirty = false;
        } catch {
          // Retried before the next write; readers never look past `size`.
        }
      }
    }
  }

  /** Makes a written plan visible to readers. */
  commit(plan: WritePlan): void {
    for (const c of plan.chunks) {
      for (const r of c.records) c.segment.noteDurable(r.offset, r.position, r.size, r.ingestTs);
      if (c.isNew) {
        const sealed = this.active;
        this.segments.push(c.segment);
        this.seal(sealed);
      }
    }
  }

  private seal(seg: Segment): void {
    seg.sealing = (async () => {
      await seg.closeWriter();
      await seg.writeIndexes();
    })().catch((err) => this.config.onError?.(err));
  }

  /** The oldest segment holding records (what retention plans with), or undefined. */
  get oldestWithRecords(): Segment | undefined {
    return this.segments.find((s) => s.nextOffset > s.base);
  }

  /**
   * Deletes the oldest segment holding records, and any empty segments before it (the caller
   * fsyncs nothing: this does). When only the active
   * segment is left, it first rolls to an empty one so the next offset is kept.
   * Returns what was deleted, or undefined when there is nothing to delete.
   */
  async deleteOldest(): Promise<DeletedSegment | undefined> {
    let emptied = false;
    while (this.segments.length > 1 && this.segments[0]!.recordCount === 0) {
      await this.segments.shift()!.delete();
      emptied = true;
    }
    if (emptied) await this.fs.fsyncDir(this.dir);
    if (this.segments.length === 1) {
      const old = this.active;
      if (old.recordCount === 0) return undefined;
      const fresh = new Segment(this.fs, this.dir, old.nextOffset, this.config.indexIntervalBytes);
      await fresh.createWriter();
      await this.fs.fsyncDir(this.dir);
      this.segments.push(fresh);
      this.seal(old);
    }
    const seg = this.segments.shift()!;
    await seg.delete();
    await this.fs.fsyncDir(this.dir);
    return { records: seg.recordCount, bytes: seg.size, base: seg.base };
  }

  /**
   * Reads committed records from `from` on. Damaged records are skipped and reported in
   * `skipped`; an offset below the start (deleted by retention) continues at the start.
   */
  async read(from: number, limits: ReadLimits): Promise<ReadResult> {
    const records: LogRecord[] = [];
    const skipped: CorruptRange[] = [];
    let next = Math.max(from, this.startOffset);
    let bytes = 0;
    while (records.length < limits.maxRecords && bytes < limits.maxBytes) {
      const i = this.segmentIndexFor(next);
      if (i < 0) break;
      const seg = this.segments[i]!;
      const following = this.segments[i + 1];
      try {
        next = await this.readSegment(seg, next, limits, records, skipped, bytes);
      } catch (err) {
        if (!seg.isDeleted) throw err;
        next = Math.max(next, this.startOffset);
        continue;
      }
      bytes = records.reduce((n, r) => n + r.value.length, 0);
      // Read to its end and sealed (a later segment exists): readers have moved on, so its file descriptor goes.
      if (following !== undefined && next >= seg.nextOffset) await seg.releaseReader();
      if (records.length >= limits.maxRecords || bytes >= limits.maxBytes) break;
      if (following === undefined) break;
      if (next < following.base) {
        // Offsets skipped on purpose when the log was opened (see PartitionConfig.minNextOffset): no record ever had them.
        skipped.push({ position: seg.size, fromOffset: next, toOffset: following.base, reason: 'gap' });
        next = following.base;
      }
    }
    return { records, nextOffset: next, skipped };
  }

  private segmentIndexFor(offset: number): number {
    let lo = 0;
    let hi = this.segments.length - 1;
    let ans = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.segments[mid]!.base <= offset) {
        ans = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return ans;
  }

  private async readSegment(seg: Segment, from: number, limits: ReadLimits, out: LogRecord[], skipped: CorruptRange[], bytesSoFar: number): Promise<number> {
    const end = seg.size;
    const endOffset = seg.nextOffset;
    let next = from;
    let bytes = bytesSoFar;
    let pos = seg.index.lookup(next);
    let buf: Buffer = Buffer.alloc(0);
    let bufStart = pos;
    while (pos < end && next < endOffset && out.length < limits.maxRecords && bytes < limits.maxBytes) {
      const rel = pos - bufStart;
      const r = decodeRecord(buf, rel);
      if (r.kind === 'incomplete') {
        const declared = buf.length - rel >= 4 ? buf.readUInt32BE(rel) + 4 : 0;
        const want = Math.min(end - pos, Math.max(READ_CHUNK, declared));
        if (bufStart === pos && buf.length >= want) {
          // Runs past the durable end: damage, handled below like any corrupt record.
        } else {
          buf = await seg.readBytes(pos, want);
          bufStart = pos;
          continue;
        }
      } else if (r.kind === 'record') {
        if (r.record.offset >= next && r.record.offset < endOffset) {
          if (r.record.offset > next) skipped.push({ position: pos, fromOffset: next, toOffset: r.record.offset, reason: 'missing' });
          out.push(r.record);
          bytes += r.record.value.length;
          next = r.record.offset + 1;
        }
        pos += r.size;
        continue;
      }
      // Damage: look for the next record that checks, in the rest of the segment.
      const rest = await seg.readBytes(pos, end - pos);
      const found = resync(rest, 1, next, endOffset);
      const reason = r.kind === 'corrupt' ? r.reason : 'length';
      if (found === undefined) {
        skipped.push({ position: pos, fromOffset: next, toOffset: endOffset, reason });
        return endOffset;
      }
      if (found.offset > next) skipped.push({ position: pos, fromOffset: next, toOffset: found.offset, reason });
      next = found.offset;
      buf = rest;
      bufStart = pos;
      pos += found.position;
    }
    if (pos >= end && next < endOffset) {
      skipped.push({ position: pos, fromOffset: next, toOffset: endOffset, reason: 'missing' });
      next = endOffset;
    }
    return next;
  }

  async close(): Promise<void> {
    for (const s of this.segments) await s.close();
  }
}
