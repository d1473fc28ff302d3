import { decodeRecord, MAX_RECORD_LENGTH, MIN_RECORD_LENGTH, RECORD_FORMAT_VERSION, type LogRecord } from './record.js';
import { OffsetIndex, shouldIndex, TimeIndex } from './offset-index.js';

/**
 * Scanning a segment's bytes: the pure part of recovery, verify and index rebuilds.
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
