import { errnoCode, readWholeFile, type FileLayer } from './file-layer.js';
import { OffsetIndex, shouldIndex, TimeIndex } from './offset-index.js';
import type { PartitionConfig } from './partition.js';
import { decodeRecord, MAX_RECORD_LENGTH, MIN_RECORD_LENGTH, RECORD_FORMAT_VERSION, type LogRecord } from './record.js';
import { parseSegmentFileName, Segment } from './segment.js';

/**
 * Recovery of a partition on open (`recoverPartition`, below), and the scan of a segment's
 * bytes it is built on (`scanSegment`: the pure part, which verify and index rebuilds use too).
 *
 * Records are read in order; each must decode (length, CRC, version) and carry the expected
 * next offset. At a bad spot the scanner resyncs: it looks forward for the next position
 * whose record checks and whose offset lies after the expected one. If it finds one, the
 * bytes in between are a `corrupt` range (media damage: the records in it are counted and
 * skipped, never returned). If nothing valid follows, the bad spot starts the `tail`: a torn
 * write that recovery truncates, so the segment keeps its longest valid prefix.
 */
export interface CorruptRange {
  position: number;
  /** First offset lost, and the offset after the last one lost. */
  fromOffset: number;
  toOffset: number;
  reason: string;
}

export interface ScanResult {
  /** Byte position after the last good record. */
  validEnd: number;
  /** Offset after the last good record (base when none). */
  nextOffset: number;
  records: number;
  index: OffsetIndex;
  timeIndex: TimeIndex;
  firstTs: number;
  maxTs: number;
  corrupt: CorruptRange[];
  /** Bytes after the last good record that are not a record (torn write or damage). */
  tail: { position: number; reason: string } | undefined;
}

export interface ScanOptions {
  base: number;
  indexIntervalBytes: number;
  /** Offsets at or beyond this belong to the next segment (its base offset), when known. */
  limitOffset?: number;
  /** Called with every good record (verify and dump use it). */
  onRecord?: (record: LogRecord, position: number) => void;
}

const MIN_SIZE = 4 + MIN_RECORD_LENGTH;

export function scanSegment(buf: Uint8Array, options: ScanOptions): ScanResult {
  const index = new OffsetIndex();
  const timeIndex = new TimeIndex();
  const corrupt: CorruptRange[] = [];
  let pos = 0;
  let expected = options.base;
  let records = 0;
  let firstTs = 0;
  let maxTs = 0;
  let validEnd = 0;
  let tail: ScanResult['tail'];
  while (pos < buf.length) {
    const r = decodeRecord(buf, pos);
    if (r.kind === 'record' && r.record.offset === expected) {
      if (shouldIndex(pos, index.lastPosition, options.indexIntervalBytes)) {
        index.add(expected, pos);
        if (records > 0) timeIndex.add(maxTs, expected);
      }
      if (records === 0) firstTs = maxTs = r.record.ingestTs;
      else maxTs = Math.max(maxTs, r.record.ingestTs);
      options.onRecord?.(r.record, pos);
      records++;
      expected++;
      pos += r.size;
      validEnd = pos;
      continue;
    }
    const reason = r.kind === 'record' ? 'offset' : r.kind === 'incomplete' ? 'incomplete' : r.reason;
    const limit = Math.min(options.limitOffset ?? Number.MAX_SAFE_INTEGER, expected + 1 + Math.ceil((buf.length - pos) / MIN_SIZE));
    const found = resync(buf, pos + 1, expected + 1, limit);
    if (found === undefined) {
      tail = { position: pos, reason };
      break;
    }
    corrupt.push({ position: pos, fromOffset: expected, toOffset: found.offset, reason });
    pos = found.position;
    expected = found.offset;
  }
  return { validEnd, nextOffset: expected, records, index, timeIndex, firstTs, maxTs, corrupt, tail };
}

/** The first position ≥ start holding a record that checks, with an offset in [minOffset, maxOffset). */
export function resync(buf: Uint8Array, start: number, minOffset: number, maxOffset: number): { position: number; offset: number } | undefined {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let p = start; p + MIN_SIZE <= buf.length; p++) {
    // Cheap filters first; the CRC is checked only where everything else already fits.
    if (buf[p + 8] !== RECORD_FORMAT_VERSION || buf[p + 9]! > 1) continue;
    const length = view.getUint32(p);
    if (length < MIN_RECORD_LENGTH || length > MAX_RECORD_LENGTH || p + 4 + length > buf.length) continue;
    const hi = view.getUint32(p + 10);
    if (hi > 0x1fffff) continue;
    const offset = hi * 2 ** 32 + view.getUint32(p + 14);
    if (offset < minOffset || offset >= maxOffset) continue;
    const r = decodeRecord(buf, p);
    if (r.kind === 'record') return { position: p, offset };
  }
  return undefined;
}

/** What recovery did to a partition directory on open. */
export interface OpenReport {
  truncatedBytes: number;
  /** Offsets left unused on open (a gap readers pass over): [from, to). */
  skippedOffsets: { fromOffset: number; toOffset: number } | undefined;
  corrupt: CorruptRange[];
  rebuiltIndexes: number;
}

/** What recovery did, in words for the log; undefined when it found nothing to do. */
export function recoverySummary(report: OpenReport): string | undefined {
  const { truncatedBytes, skippedOffsets, corrupt, rebuiltIndexes } = report;
  if (truncatedBytes === 0 && corrupt.length === 0 && rebuiltIndexes === 0 && skippedOffsets === undefined) return undefined;
  const lost = corrupt.reduce((n, c) => n + c.toOffset - c.fromOffset, 0);
  const gap = skippedOffsets === undefined ? 'none' : `${skippedOffsets.fromOffset}..${skippedOffsets.toOffset - 1}`;
  return `recovered (torn tail cut: ${truncatedBytes} bytes; offsets left unused: ${gap}; damaged records skipped: ${lost}; indexes rebuilt: ${rebuiltIndexes})`;
}

/** A partition directory after recovery: its segments, oldest first, and what was done. */
export interface RecoveredPartition {
  segments: Segment[];
  report: OpenReport;
  /** A segment recovery closed behind a fresh one: the partition seals it (closes its writer, writes its indexes) in the background. */
  toSeal: Segment | undefined;
}

/**
 * Recovers a partition directory: index files are loaded or rebuilt (sealed segments whose
 * indexes do not load are scanned); the last segment is scanned and cut back to its longest
 * valid prefix (a torn write); damage with valid records after it is kept and reported
 * (readers skip those records); leftover temp files are deleted. With `readOnly` nothing is
 * changed (a missing directory reads as empty).
 */
export async function recoverPartition(fs: FileLayer, dir: string, config: PartitionConfig): Promise<RecoveredPartition> {
  const segments: Segment[] = [];
  const report: OpenReport = { truncatedBytes: 0, skippedOffsets: undefined, corrupt: [], rebuiltIndexes: 0 };
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT' || config.readOnly !== true) throw err;
    names = [];
  }
  if (config.readOnly !== true) for (const n of names) if (n.endsWith('.tmp')) await fs.unlink(`${dir}/${n}`);
  const bases = names.map(parseSegmentFileName).filter((b): b is number => b !== undefined).sort((a, b) => a - b);
  if (bases.length === 0) {
    const seg = new Segment(fs, dir, config.minNextOffset ?? 0, config.indexIntervalBytes);
    if (config.readOnly !== true) {
      await seg.createWriter();
      await fs.fsyncDir(dir);
    }
    segments.push(seg);
    return { segments, report, toSeal: undefined };
  }
  for (let i = 0; i < bases.length; i++) {
    const last = i === bases.length - 1;
    const nextBase = bases[i + 1];
    const seg = new Segment(fs, dir, bases[i]!, config.indexIntervalBytes);
    const size = (await fs.stat(seg.logPath))?.size ?? 0;
    if (!last && config.rebuildIndexes !== true && (await seg.loadIndexes(size)) && seg.nextOffset <= nextBase!) {
      segments.push(seg);
      continue;
    }
    const buf = (await readWholeFile(fs, seg.logPath)) ?? Buffer.alloc(0);
    const scan = scanSegment(buf, { base: seg.base, indexIntervalBytes: config.indexIntervalBytes, ...(nextBase === undefined ? {} : { limitOffset: nextBase }) });
    seg.applyScan(scan);
    report.corrupt.push(...scan.corrupt);
    if (last) {
      const cut = buf.length - scan.validEnd;
      report.truncatedBytes += cut;
      if (config.readOnly !== true) {
        // Offsets of cut records are never handed out again (a damaged last record may have
        // been read and forwarded): skip as many as the cut bytes could have held, and up to
        // what a cursor committed. The new segment is durable before anything is cut, so a
        // crash in between leaves the damage in a sealed segment, not a reused offset.
        const next = Math.max(config.minNextOffset ?? 0, cut > 0 ? scan.nextOffset + Math.ceil(cut / MIN_SIZE) : 0);
        let fresh: Segment | undefined;
        if (next > scan.nextOffset) {
          fresh = new Segment(fs, dir, next, config.indexIntervalBytes);
          await fresh.createWriter();
          await fs.fsyncDir(dir);
          report.skippedOffsets = { fromOffset: scan.nextOffset, toOffset: next };
        }
        await seg.openWriter();
        if (cut > 0) {
          await seg.writer!.truncate(scan.validEnd);
          await seg.writer!.datasync();
        }
        if (fresh !== undefined) {
          if (scan.records === 0) {
            // Nothing left in it: delete it, or it would sit at the head with no records.
            await seg.delete();
            await fs.fsyncDir(dir);
            segments.push(fresh);
            return { segments, report, toSeal: undefined };
          }
          segments.push(seg, fresh);
          return { segments, report, toSeal: seg };
        }
      }
    } else {
      // Sealed: damaged bytes stay (readers skip them); the index describes the file as it is.
      seg.size = buf.length;
      if (scan.tail !== undefined && nextBase !== undefined && scan.nextOffset < nextBase) {
        // Damage at the end of a sealed segment (its records were fsynced, maybe acknowledged):
        // reported and counted as damage, not mistaken for a gap left on purpose.
        const lost = { position: scan.tail.position, fromOffset: scan.nextOffset, toOffset: nextBase, reason: scan.tail.reason };
        seg.corrupt.push(lost);
        report.corrupt.push(lost);
        seg.nextOffset = nextBase;
      }
      if (config.readOnly !== true) {
        await seg.writeIndexes();
        report.rebuiltIndexes++;
      }
    }
    segments.push(seg);
  }
  return { segments, report, toSeal: undefined };
}
