import { positionKey, type CursorPositions } from './cursor.js';
import type { Lane } from './options.js';
import type { Partition } from './partition.js';
import type { PartitionBacklog, PartitionStats } from './types.js';

/**
 * What a cursor at `positions` has not read yet, per (lane, partition) with anything waiting:
 * records (offsets; a gap counts), bytes (to within one index interval) and the ingest and
 * device time of the oldest waiting record.
 */
export async function backlogOf(lanes: ReadonlyMap<Lane, readonly Partition[]>, positions: CursorPositions): Promise<PartitionBacklog[]> {
  const out: PartitionBacklog[] = [];
  for (const [lane, parts] of lanes) {
    for (const [partition, part] of parts.entries()) {
      const from = Math.max(positions[positionKey(lane, partition)] ?? 0, part.startOffset);
      if (from >= part.endOffset) continue;
      const first = (await part.read(from, { maxRecords: 1, maxBytes: 1 })).records[0];
      out.push({ lane, partition, records: part.endOffset - from, bytes: part.bytesFrom(from), oldestIngestTs: first?.ingestTs, oldestDeviceTs: first?.deviceTs });
    }
  }
  return out;
}

/** Offsets, bytes, segments and time range of every partition. */
export function statsOf(lanes: ReadonlyMap<Lane, readonly Partition[]>): PartitionStats[] {
  const out: PartitionStats[] = [];
  for (const [lane, parts] of lanes) {
    parts.forEach((p, partition) => {
      const withData = p.segments.filter((s) => s.nextOffset > s.base);
      out.push({ lane, partition, startOffset: p.startOffset, endOffset: p.endOffset, bytes: p.sizeBytes, segments: p.segments.length, firstTs: withData[0]?.firstTs ?? 0, maxTs: Math.max(0, ...withData.map((s) => s.maxTs)) });
    });
  }
  return out;
}
