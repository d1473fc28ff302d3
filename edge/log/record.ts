import { crc32c } from './crc32c.js';

/**
 * One log record on disk. Big-endian; every length counts bytes.
 *
 *   offset  size  field
 *   0       4     length         u32, bytes that follow this field (so a record is 4 + length bytes)
 *   4       4     crc            u32, CRC32C (Castagnoli) over bytes [8, 4 + length)
 *   8       1     version        u8, 1
 *   9       1     attributes     u8, bit 0 = critical; bits 1-7 reserved, must be 0
 *   10      8     offset         u64, the record's own offset in its (lane, partition)
 *   18      8     deviceTs       i64, ms since epoch, as the vehicle stamped it
 *   26      8     ingestTs       i64, ms since epoch, when the gateway appended it
 *   34      2     keyLength      u16
 *   36      k     key            UTF-8 (the vehicleId)
 *   36+k    4     valueLength    u32
 *   40+k    v     value          bytes (the telemetry payload as received)
 *   40+k+v  2     headerCount    u16
 *   then per header: u16 nameLength | name (UTF-8) | u32 valueLength | value
 *
 * The record carries its own offset so a reader that meets a damaged length can scan forward
 * for the next position whose CRC checks and whose offset is the one it expects: a bit flip
 * never yields a wrong record, it only costs the damaged one. Golden fixtures of these bytes
 * are in test/edge/log/fixtures/.
 */
export const RECORD_FORMAT_VERSION = 1;
export const RECORD_HEADER_BYTES = 36; // through keyLength
/** Smallest possible value of the length field: empty key, value and headers. */
export const MIN_RECORD_LENGTH = RECORD_HEADER_BYTES - 4 + 4 + 2;
/** Largest accepted value of the length field; a larger one is corruption, not a record. */
export const MAX_RECORD_LENGTH = 64 * 1024 * 1024;
const ATTR_CRITICAL = 0x01;

export interface RecordHeader {
  name: string;
  value: Uint8Array;
}

/** What a caller appends; the log adds offset and ingest time. */
export interface RecordInput {
  key: string;
  value: Uint8Array;
  deviceTs: number;
  critical?: boolean;
  headers?: readonly RecordHeader[];
}

export interface LogRecord {
  offset: number;
  critical: boolean;
  deviceTs: number;
  ingestTs: number;
  key: string;
  value: Uint8Array;
  headers: RecordHeader[];
}

export type DecodeResult =
  | { kind: 'record'; record: LogRecord; size: number }
  /** The buffer ends inside the record (a torn tail, or read more). */
  | { kind: 'incomplete' }
  | { kind: 'corrupt'; reason: 'length' | 'crc' | 'version' | 'attributes' | 'layout' };

const utf8d = new TextDecoder('utf-8', { fatal: false });

/** Encoded size of a record, without encoding it (for batching and backpressure). */
export function encodedSize(keyBytes: number, valueBytes: number, headers: readonly { name: Uint8Array; value: Uint8Array }[]): number {
  let n = RECORD_HEADER_BYTES + keyBytes + 4 + valueBytes + 2;
  for (const h of headers) n += 2 + h.name.length + 4 + h.value.length;
  return n;
}

/** A record with its strings already UTF-8 encoded and its size known: done once per append. */
export interface PreparedRecord {
  key: Uint8Array;
  value: Uint8Array;
  deviceTs: number;
  critical: boolean;
  headers: { name: Uint8Array; value: Uint8Array }[];
  /** Encoded size in bytes. */
  size: number;
}

const EMPTY: readonly RecordHeader[] = [];

/** UTF-8 bytes of header names: a handful of names, encoded once each (never written to). */
const headerNames = new Map<string, Buffer>();
function headerNameBytes(name: string): Buffer {
  let bytes = headerNames.get(name);
  if (bytes === undefined) {
    bytes = Buffer.from(name, 'utf8');
    if (headerNames.size < 1024) headerNames.set(name, bytes);
  }
  return bytes;
}

export function prepareRecord(input: RecordInput): PreparedRecord {
  const key = Buffer.from(input.key, 'utf8');
  if (key.length > 0xffff) throw new RangeError(`record key: ${key.length} bytes, at most 65535`);
  const given = input.headers ?? EMPTY;
  if (given.length > 0xffff) throw new RangeError(`record headers: ${given.length}, at most 65535`);
  const headers: { name: Uint8Array; value: Uint8Array }[] = new Array(given.length);
  for (let i = 0; i < given.length; i++) {
    const name = headerNameBytes(given[i]!.name);
    if (name.length > 0xffff) throw new RangeError(`record header name: ${name.length} bytes, at most 65535`);
    headers[i] = { name, value: given[i]!.value };
  }
  const size = encodedSize(key.length, input.value.length, headers);
  if (size - 4 > MAX_RECORD_LENGTH) throw new RangeError(`record: ${size} bytes, at most ${MAX_RECORD_LENGTH}`);
  return { key, value: input.value, deviceTs: Math.trunc(input.deviceTs), critical: input.critical === true, headers, size };
}

/** Encodes one record into a new buffer. */
export function encodeRecord(input: RecordInput, offset: number, ingestTs: number): Buffer {
  const r = prepareRecord(input);
  const buf = Buffer.allocUnsafe(r.size);
  encodeRecordInto(buf, 0, r, offset, ingestTs);
  return buf;
}

/** Encodes a prepared record at `at` in `buf` (which must have r.size bytes free); returns the position after it. */
export function encodeRecordInto(buf: Buffer, at: number, r: PreparedRecord, offset: number, ingestTs: number): number {
  buf.writeUInt32BE(r.size - 4, at);
  buf.writeUInt8(RECORD_FORMAT_VERSION, at + 8);
  buf.writeUInt8(r.critical ? ATTR_CRITICAL : 0, at + 9);
  writeU64(buf, offset, at + 10);
  writeI64(buf, r.deviceTs, at + 18);
  writeI64(buf, Math.trunc(ingestTs), at + 26);
  buf.writeUInt16BE(r.key.length, at + 34);
  let p = at + 36;
  buf.set(r.key, p);
  p += r.key.length;
  buf.writeUInt32BE(r.value.length, p);
  p += 4;
  buf.set(r.value, p);
  p += r.value.length;
  buf.writeUInt16BE(r.headers.length, p);
  p += 2;
  for (const h of r.headers) {
    buf.writeUInt16BE(h.name.length, p);
    p += 2;
    buf.set(h.name, p);
    p += h.name.length;
    buf.writeUInt32BE(h.value.length, p);
    p += 4;
    buf.set(h.value, p);
    p += h.value.length;
  }
  buf.writeUInt32BE(crc32c(buf, at + 8, p), at + 4);
  return p;
}

/** Decodes the record that starts at `pos`. Never throws; a damaged record is `corrupt`. */
export function decodeRecord(buf: Uint8Array, pos = 0): DecodeResult {
  if (buf.length - pos < 8) return { kind: 'incomplete' };
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const length = view.getUint32(pos);
  if (length < MIN_RECORD_LENGTH || length > MAX_RECORD_LENGTH) return { kind: 'corrupt', reason: 'length' };
  const end = pos + 4 + length;
  if (end > buf.length) return { kind: 'incomplete' };
  if (crc32c(buf, pos + 8, end) !== view.getUint32(pos + 4)) return { kind: 'corrupt', reason: 'crc' };
  if (view.getUint8(pos + 8) !== RECORD_FORMAT_VERSION) return { kind: 'corrupt', reason: 'version' };
  const attributes = view.getUint8(pos + 9);
  if ((attributes & ~ATTR_CRITICAL) !== 0) return { kind: 'corrupt', reason: 'attributes' };
  const offset = readU64(view, pos + 10);
  const deviceTs = view.getInt32(pos + 18) * 2 ** 32 + view.getUint32(pos + 22);
  const ingestTs = view.getInt32(pos + 26) * 2 ** 32 + view.getUint32(pos + 30);
  let p = pos + 34;
  const need = (n: number): boolean => p + n <= end;
  const keyLength = view.getUint16(p);
  p += 2;
  if (!need(keyLength + 4)) return { kind: 'corrupt', reason: 'layout' };
  const key = utf8d.decode(buf.subarray(p, p + keyLength));
  p += keyLength;
  const valueLength = view.getUint32(p);
  p += 4;
  if (!need(valueLength + 2)) return { kind: 'corrupt', reason: 'layout' };
  const value = buf.slice(p, p + valueLength);
  p += valueLength;
  const headerCount = view.getUint16(p);
  p += 2;
  const headers: RecordHeader[] = [];
  for (let i = 0; i < headerCount; i++) {
    if (!need(2)) return { kind: 'corrupt', reason: 'layout' };
    const nameLength = view.getUint16(p);
    p += 2;
    if (!need(nameLength + 4)) return { kind: 'corrupt', reason: 'layout' };
    const name = utf8d.decode(buf.subarray(p, p + nameLength));
    p += nameLength;
    const vLength = view.getUint32(p);
    p += 4;
    if (!need(vLength)) return { kind: 'corrupt', reason: 'layout' };
    headers.push({ name, value: buf.slice(p, p + vLength) });
    p += vLength;
  }
  if (p !== end) return { kind: 'corrupt', reason: 'layout' };
  if (offset === undefined) return { kind: 'corrupt', reason: 'layout' };
  return { kind: 'record', record: { offset, critical: (attributes & ATTR_CRITICAL) !== 0, deviceTs, ingestTs, key, value, headers }, size: 4 + length };
}

/** Offset field of the record at `pos`, without checking anything (for index building). */
export function peekOffset(buf: Uint8Array, pos: number): number | undefined {
  if (buf.length - pos < 18) return undefined;
  return readU64(new DataView(buf.buffer, buf.byteOffset, buf.byteLength), pos + 10);
}

function writeU64(buf: Buffer, n: number, at: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`offset: expected a safe integer ≥ 0, got ${n}`);
  buf.writeUInt32BE(Math.floor(n / 2 ** 32), at);
  buf.writeUInt32BE(n >>> 0, at + 4);
}

/** i64 from a JS integer (exact within ±2^53). */
function writeI64(buf: Buffer, n: number, at: number): void {
  const hi = Math.floor(n / 2 ** 32);
  buf.writeInt32BE(hi, at);
  buf.writeUInt32BE(n - hi * 2 ** 32, at + 4);
}

/** u64 as a JS number; undefined when it is beyond 2^53 (only corruption gets there). */
function readU64(view: DataView, at: number): number | undefined {
  const hi = view.getUint32(at);
  if (hi > 0x1fffff) return undefined;
  return hi * 2 ** 32 + view.getUint32(at + 4);
}
