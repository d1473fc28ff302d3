import type { PartitionSnapshot } from './engine/engine.js';

/**
 * The hot path's state changelog (`roadlog.hot-state.v1`, compacted, one partition per
 * telemetry partition). A snapshot of partition p's engine state is one or more records on
 * changelog partition p:
 *
 *   key   = `{p}:{i}`                 (chunk i; compaction keeps the newest of each)
 *   value = JSON { v: 1, id, i, n, t, part }
 *           id   the snapshot's id (the telemetry offset it was taken at, and a counter)
 *           n    chunks in the snapshot; part: chunk i of the snapshot's JSON text
 *           t    the telemetry offset the snapshot is at: records from t on are not in it
 *
 * Where the newest snapshot is travels with the committed telemetry offset, in its metadata
 * (SnapshotPointer, JSON): snapshot, alerts and offsets commit in one transaction, so the
 * committed offset always points at the snapshot written with it or before it. A restore reads
 * the n chunks from offset `o`, then replays telemetry from `t` to the committed offset with
 * its alert events discarded (they were published before): the engine is deterministic, so
 * the state it reaches is the state that was lost.
 */
export interface SnapshotPointer {
  /** Changelog offset of chunk 0, chunks, telemetry offset of the snapshot. No chunks (n = 0): the state was empty at t (no snapshot written yet). */
  o: string;
  n: number;
  t: string;
  id: string;
}

export interface ChunkValue {
  v: 1;
  id: string;
  i: number;
  n: number;
  t: string;
  part: string;
}

export function encodeSnapshot(partition: number, snapshot: PartitionSnapshot, id: string, telemetryOffset: string, chunkBytes: number): { key: string; value: string }[] {
  const text = JSON.stringify(snapshot);
  const parts: string[] = [];
  for (let i = 0; i < text.length || parts.length === 0; i += chunkBytes) parts.push(text.slice(i, i + chunkBytes));
  return parts.map((part, i) => ({ key: `${partition}:${i}`, value: JSON.stringify({ v: 1, id, i, n: parts.length, t: telemetryOffset, part } satisfies ChunkValue) }));
}

/** Collects a snapshot's chunks as they are read back; `take` returns the snapshot once all are in. */
export class SnapshotReader {
  private readonly parts = new Map<number, string>();

  constructor(readonly pointer: SnapshotPointer) {}

  /** Offers one changelog record; returns the snapshot when complete. Records of other snapshots are ignored. */
  offer(value: Buffer | null): PartitionSnapshot | undefined {
    if (value === null) return undefined;
    const c = JSON.parse(value.toString('utf8')) as ChunkValue;
    if (c.v !== 1 || c.id !== this.pointer.id) return undefined;
    this.parts.set(c.i, c.part);
    if (this.parts.size < this.pointer.n) return undefined;
    let text = '';
    for (let i = 0; i < this.pointer.n; i++) text += this.parts.get(i) ?? '';
    return JSON.parse(text) as PartitionSnapshot;
  }
}

export function encodePointer(p: SnapshotPointer | null): string | null {
  return p === null ? null : JSON.stringify({ snapshot: p });
}

export function decodePointer(metadata: string | null | undefined): SnapshotPointer | null {
  if (metadata === null || metadata === undefined || metadata === '') return null;
  try {
    const m = JSON.parse(metadata) as { snapshot?: SnapshotPointer };
    const s = m.snapshot;
    return s !== undefined && typeof s.o === 'string' && typeof s.t === 'string' && typeof s.id === 'string' && Number.isInteger(s.n) ? s : null;
  } catch {
    return null;
  }
}
