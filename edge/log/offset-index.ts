import { crc32c } from './crc32c.js';

/**
 * The sparse offset index and the time index of one segment. Both are derived data: kept in
 * memory while the segment is active, written next to it when it is sealed, and rebuilt by
 * scanning the segment whenever the file is missing, damaged or stale (covers a different
 * segment size than the segment has).
 *
 * File layout (big-endian), `.index` and `.timeindex` alike:
 *   0   4  magic          "RLOI" (offset index) or "RLTI" (time index)
 *   4   1  version        1
 *   5   3  interval       u24, indexIntervalBytes the entries were made with
 *   8   8  segmentBytes   size of the .log file this index describes
 *   16  8  nextOffset     offset after the segment's last record
 *   24  8  firstTs        ingest time of the first record (ms; 0 when empty)
 *   32  8  maxTs          largest ingest time in the segment (ms; 0 when empty)
 *   40  4  count          number of entries
 *   44  4  crc            CRC32C of bytes [0, 44) and of the entries
 *   48  entries: offset index: u32 relativeOffset | u32 position        (8 bytes each)
 *                time index:   i64 maxTsBefore     | u32 relativeOffset  (12 bytes each)
 * An entry is added when at least indexIntervalBytes were written since the previous one.
 */
export const INDEX_HEADER_BYTES = 48;
const MAGIC = { offset: 'RLOI', time: 'RLTI' } as const;

export interface SegmentSummary {
  indexIntervalBytes: number;
  segmentBytes: number;
  nextOffset: number;
  firstTs: number;
  maxTs: number;
}

/** offset → byte position of the nearest indexed record at or before it. */
export class OffsetIndex {
  readonly offsets: number[] = [];
  readonly positions: number[] = [];

  add(offset: number, position: number): void {
    this.offsets.push(offset);
    this.positions.push(position);
  }

  /** Position to start scanning from to find `offset` (0 when nothing is indexed before it). */
  lookup(offset: number): number {
    const i = floorIndex(this.offsets, offset);
    return i < 0 ? 0 : this.positions[i]!;
  }

  get lastPosition(): number {
    return this.positions.at(-1) ?? -1;
  }
}

/**
 * Entries (maxTsBefore, offset): every record before `offset` has an ingest time ≤ maxTsBefore.
 * So scanning from lookup(ts) cannot miss a record with ingest time ≥ ts.
 */
export class TimeIndex {
  readonly timestamps: number[] = [];
  readonly offsets: number[] = [];

  add(maxTsBefore: number, offset: number): void {
    if (this.timestamps.length > 0 && maxTsBefore <= this.timestamps.at(-1)!) return;
    this.timestamps.push(maxTsBefore);
    this.offsets.push(offset);
  }

  /** Offset to start scanning from for records with ingest time ≥ ts; undefined: from the segment start. */
  lookup(ts: number): number | undefined {
    const i = floorIndex(this.timestamps, ts - 1);
    return i < 0 ? undefined : this.offsets[i];
  }
}

/** The one rule for when a record gets index entries, shared by appends and rebuilds so both give the same index. */
export function shouldIndex(position: number, lastIndexedPosition: number, indexIntervalBytes: number): boolean {
  return position - Math.max(lastIndexedPosition, 0) >= indexIntervalBytes;
}

/** Largest i with sorted[i] ≤ value, or -1. */
function floorIndex(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  let ans = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= value) {
      ans = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return ans;
}

function header(kind: 'offset' | 'time', s: SegmentSummary, count: number, entryBytes: number): Buffer {
  const buf = Buffer.alloc(INDEX_HEADER_BYTES + count * entryBytes);
  buf.write(MAGIC[kind], 0, 'latin1');
  buf.writeUInt8(1, 4);
  buf.writeUIntBE(s.indexIntervalBytes, 5, 3);
  buf.writeBigUInt64BE(BigInt(s.segmentBytes), 8);
  buf.writeBigUInt64BE(BigInt(s.nextOffset), 16);
  buf.writeBigInt64BE(BigInt(s.firstTs), 24);
  buf.writeBigInt64BE(BigInt(s.maxTs), 32);
  buf.writeUInt32BE(count, 40);
  return buf;
}

function seal(buf: Buffer): Buffer {
  buf.writeUInt32BE(crc32c(buf, INDEX_HEADER_BYTES, buf.length, crc32c(buf, 0, 44)), 44);
  return buf;
}

export function encodeOffsetIndex(index: OffsetIndex, base: number, s: SegmentSummary): Buffer {
  const buf = header('offset', s, index.offsets.length, 8);
  index.offsets.forEach((o, i) => {
    buf.writeUInt32BE(o - base, INDEX_HEADER_BYTES + i * 8);
    buf.writeUInt32BE(index.positions[i]!, INDEX_HEADER_BYTES + i * 8 + 4);
  });
  return seal(buf);
}

export function encodeTimeIndex(index: TimeIndex, base: number, s: SegmentSummary): Buffer {
  const buf = header('time', s, index.offsets.length, 12);
  index.offsets.forEach((o, i) => {
    buf.writeBigInt64BE(BigInt(index.timestamps[i]!), INDEX_HEADER_BYTES + i * 12);
    buf.writeUInt32BE(o - base, INDEX_HEADER_BYTES + i * 12 + 8);
  });
  return seal(buf);
}

function checkHeader(buf: Buffer, kind: 'offset' | 'time', entryBytes: number): { summary: SegmentSummary; count: number } | undefined {
  if (buf.length < INDEX_HEADER_BYTES || buf.toString('latin1', 0, 4) !== MAGIC[kind] || buf.readUInt8(4) !== 1) return undefined;
  const count = buf.readUInt32BE(40);
  if (buf.length !== INDEX_HEADER_BYTES + count * entryBytes) return undefined;
  if (crc32c(buf, INDEX_HEADER_BYTES, buf.length, crc32c(buf, 0, 44)) !== buf.readUInt32BE(44)) return undefined;
  const summary = {
    indexIntervalBytes: buf.readUIntBE(5, 3),
    segmentBytes: Number(buf.readBigUInt64BE(8)),
    nextOffset: Number(buf.readBigUInt64BE(16)),
    firstTs: Number(buf.readBigInt64BE(24)),
    maxTs: Number(buf.readBigInt64BE(32)),
  };
  return { summary, count };
}

/** Decodes an index file; undefined when it is damaged (the caller rebuilds it). */
export function decodeOffsetIndex(buf: Buffer, base: number): { index: OffsetIndex; summary: SegmentSummary } | undefined {
  const h = checkHeader(buf, 'offset', 8);
  if (h === undefined) return undefined;
  const index = new OffsetIndex();
  for (let i = 0; i < h.count; i++) index.add(base + buf.readUInt32BE(INDEX_HEADER_BYTES + i * 8), buf.readUInt32BE(INDEX_HEADER_BYTES + i * 8 + 4));
  return { index, summary: h.summary };
}

export function decodeTimeIndex(buf: Buffer, base: number): { index: TimeIndex; summary: SegmentSummary } | undefined {
  const h = checkHeader(buf, 'time', 12);
  if (h === undefined) return undefined;
  const index = new TimeIndex();
  for (let i = 0; i < h.count; i++) index.add(Number(buf.readBigInt64BE(INDEX_HEADER_BYTES + i * 12)), base + buf.readUInt32BE(INDEX_HEADER_BYTES + i * 12 + 8));
  return { index, summary: h.summary };
}
