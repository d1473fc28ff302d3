import { join } from 'node:path';
import { writeFileAtomic } from '../../shared/atomic-file/index.js';
import { errnoCode, readWholeFile, type FileLayer, type LogFile } from './file-layer.js';
import { decodeOffsetIndex, decodeTimeIndex, encodeOffsetIndex, encodeTimeIndex, OffsetIndex, shouldIndex, TimeIndex, type SegmentSummary } from './offset-index.js';
import type { CorruptRange, ScanResult } from './recovery.js';

/** `00000000000000001234.log`: segments are named by their zero-padded base offset. */
export function segmentFileName(base: number, ext: 'log' | 'index' | 'timeindex' = 'log'): string {
  return `${String(base).padStart(20, '0')}.${ext}`;
}

export function parseSegmentFileName(name: string): number | undefined {
  const m = /^(\d{20})\.log$/.exec(name);
  if (m === null) return undefined;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * One segment file of a partition and its in-memory indexes. `size` and `nextOffset` cover
 * only bytes that are fsynced: readers never see past them. The writer appends through its
 * own fd; readers share a read-only fd, opened on the first read and closed once the segment
 * is deleted, or released (`releaseReader`: a sealed segment read to its end) with no read in
 * flight. Without the release every segment of a log that keeps its data (no retention) would
 * hold a file descriptor for the process's life.
 */
export class Segment {
  readonly logPath: string;
  readonly indexPath: string;
  readonly timeIndexPath: string;
  size = 0;
  nextOffset: number;
  index = new OffsetIndex();
  timeIndex = new TimeIndex();
  firstTs = 0;
  maxTs = 0;
  /** Damaged ranges found when the segment was scanned. */
  corrupt: CorruptRange[] = [];
  writer: LogFile | undefined;
  /** Index files being written after the segment was sealed. */
  sealing: Promise<void> | undefined;
  private reader: Promise<LogFile> | undefined;
  private readsInFlight = 0;
  private deleted = false;

  constructor(
    private readonly fs: FileLayer,
    readonly dir: string,
    readonly base: number,
    readonly indexIntervalBytes: number,
  ) {
    this.logPath = join(dir, segmentFileName(base));
    this.indexPath = join(dir, segmentFileName(base, 'index'));
    this.timeIndexPath = join(dir, segmentFileName(base, 'timeindex'));
    this.nextOffset = base;
  }

  get recordCount(): number {
    return this.nextOffset - this.base;
  }

  get summary(): SegmentSummary {
    return { indexIntervalBytes: this.indexIntervalBytes, segmentBytes: this.size, nextOffset: this.nextOffset, firstTs: this.firstTs, maxTs: this.maxTs };
  }

  /** Takes over what a scan of the segment's bytes found. */
  applyScan(scan: ScanResult): void {
    this.size = scan.validEnd;
    this.nextOffset = scan.nextOffset;
    this.index = scan.index;
    this.timeIndex = scan.timeIndex;
    this.firstTs = scan.firstTs;
    this.maxTs = scan.maxTs;
    this.corrupt = scan.corrupt;
  }

  /** Loads the index files if they describe this segment as it is (`size` bytes); false when missing or stale. */
  async loadIndexes(size: number): Promise<boolean> {
    const [ib, tb] = await Promise.all([readWholeFile(this.fs, this.indexPath), readWholeFile(this.fs, this.timeIndexPath)]);
    if (ib === undefined || tb === undefined) return false;
    const oi = decodeOffsetIndex(ib, this.base);
    const ti = decodeTimeIndex(tb, this.base);
    if (oi === undefined || ti === undefined || oi.summary.segmentBytes !== size || ti.summary.segmentBytes !== size || oi.summary.nextOffset !== ti.summary.nextOffset) return false;
    this.size = size;
    this.nextOffset = oi.summary.nextOffset;
    this.firstTs = oi.summary.firstTs;
    this.maxTs = oi.summary.maxTs;
    this.index = oi.index;
    this.timeIndex = ti.index;
    return true;
  }

  /** Writes the derived index files (crash-safe, but losing them only costs a rebuild). */
  async writeIndexes(): Promise<void> {
    await writeFileAtomic(this.indexPath, encodeOffsetIndex(this.index, this.base, this.summary), { fs: this.fs });
    await writeFileAtomic(this.timeIndexPath, encodeTimeIndex(this.timeIndex, this.base, this.summary), { fs: this.fs });
  }

  /** Index bookkeeping for a record that just became durable at `position`. */
  noteDurable(offset: number, position: number, size: number, ingestTs: number): void {
    if (shouldIndex(position, this.index.lastPosition, this.indexIntervalBytes)) {
      this.index.add(offset, position);
      if (offset > this.base) this.timeIndex.add(this.maxTs, offset);
    }
    if (offset === this.base) this.firstTs = this.maxTs = ingestTs;
    else this.maxTs = Math.max(this.maxTs, ingestTs);
    this.nextOffset = offset + 1;
    this.size = position + size;
  }

  /** Reads `length` bytes at `position` (fewer at the end of the file). */
  async readBytes(position: number, length: number): Promise<Buffer> {
    this.readsInFlight++;
    try {
      if (this.reader === undefined) {
        // A failed open is not kept: the next read tries again (EMFILE, say, passes).
        const opening = this.fs.open(this.logPath, 'read');
        this.reader = opening;
        opening.catch(() => {
          if (this.reader === opening) this.reader = undefined;
        });
      }
      return await (await this.reader).read(position, length);
    } finally {
      this.readsInFlight--;
      if (this.deleted && this.readsInFlight === 0) await this.closeReader();
    }
  }

  /** Opens the existing segment file for appends. */
  async openWriter(): Promise<void> {
    this.writer ??= await this.fs.open(this.logPath, 'append', { dsync: true });
  }

  /**
   * Creates the segment file, exclusively: appending to a file that is already there would
   * put records at positions the index does not expect. A file found at this base holds no
   * committed record (offsets only grow, and this base is the partition's next offset): it is
   * what a roll left when its write and then its rollback failed, and it is removed first, as
   * are index files of an earlier segment at this base. The caller fsyncs the directory.
   */
  async createWriter(): Promise<void> {
    for (const p of [this.indexPath, this.timeIndexPath]) await unlinkIfPresent(this.fs, p);
    try {
      this.writer = await this.fs.open(this.logPath, 'create-new', { dsync: true });
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
      await this.fs.unlink(this.logPath);
      await this.fs.fsyncDir(this.dir);
      this.writer = await this.fs.open(this.logPath, 'create-new', { dsync: true });
    }
  }

  async closeWriter(): Promise<void> {
    const w = this.writer;
    this.writer = undefined;
    await w?.close();
  }

  /** Closes the shared reader if no read is in flight (the next read opens it again). */
  async releaseReader(): Promise<void> {
    if (this.readsInFlight === 0) await this.closeReader();
  }

  private async closeReader(): Promise<void> {
    const r = this.reader;
    this.reader = undefined;
    if (r !== undefined) await (await r.catch(() => undefined))?.close();
  }

  async close(): Promise<void> {
    await this.sealing;
    await this.closeWriter();
    if (this.readsInFlight === 0) await this.closeReader();
  }

  /** Unlinks the segment and its indexes (the caller fsyncs the directory). */
  get isDeleted(): boolean {
    return this.deleted;
  }

  async delete(): Promise<void> {
    this.deleted = true;
    await this.sealing;
    await this.close();
    // Indexes first: an index left without its segment is harmless, as createWriter removes it.
    for (const p of [this.indexPath, this.timeIndexPath, this.logPath]) await unlinkIfPresent(this.fs, p);
  }
}

async function unlinkIfPresent(fs: FileLayer, path: string): Promise<void> {
  try {
    await fs.unlink(path);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
}
