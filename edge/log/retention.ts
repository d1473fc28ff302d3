import type { Lane } from './options.js';

/**
 * What retention and the full-disk policy delete: pure decisions over a snapshot of the
 * segments and cursors, so they can be tested without files.
 *
 * - Retention (size and age) deletes only segments that every cursor has passed. A log with
 *   no cursor keeps everything: nothing has been forwarded yet.
 * - Segments go oldest first within a partition (a partition is always a contiguous range).
 * - The full-disk policy `drop-oldest` ignores cursors and evicts from the `dead` lane, then
 *   `normal`, then `critical`: critical records are the last to go.
 */
export interface SegmentInfo {
  lane: Lane;
  partition: number;
  base: number;
  nextOffset: number;
  bytes: number;
  /** Largest ingest time in the segment (ms). */
  maxTs: number;
}

/** Committed positions of every cursor, by `${lane}/${partition}`. */
export type CursorSet = readonly Readonly<Record<string, number>>[];

export interface RetentionPolicy {
  maxBytes?: number | undefined;
  maxAgeMs?: number | undefined;
}

const key = (s: SegmentInfo): string => `${s.lane}/${s.partition}`;

/** Every cursor has read past the segment. */
export function consumed(s: SegmentInfo, cursors: CursorSet): boolean {
  if (cursors.length === 0) return false;
  return cursors.every((c) => (c[key(s)] ?? 0) >= s.nextOffset);
}

/**
 * Segments to delete, in order. `partitions` lists each partition's segments oldest first;
 * the newest segment of a partition is its active one and may also go (the partition then
 * rolls to an empty segment so its next offset is kept).
 */
export function planRetention(partitions: readonly (readonly SegmentInfo[])[], cursors: CursorSet, policy: RetentionPolicy, now: number): SegmentInfo[] {
  const heads = partitions.map((segs) => segs.filter((s) => s.nextOffset > s.base));
  const out: SegmentInfo[] = [];
  let total = partitions.reduce((n, segs) => n + segs.reduce((m, s) => m + s.bytes, 0), 0);
  const take = (i: number): void => {
    const s = heads[i]!.shift()!;
    out.push(s);
    total -= s.bytes;
  };
  if (policy.maxAgeMs !== undefined) {
    const cutoff = now - policy.maxAgeMs;
    heads.forEach((segs, i) => {
      while (segs.length > 0 && segs[0]!.maxTs < cutoff && consumed(segs[0]!, cursors)) take(i);
    });
  }
  if (policy.maxBytes !== undefined) {
    while (total > policy.maxBytes) {
      let best = -1;
      heads.forEach((segs, i) => {
        const s = segs[0];
        if (s !== undefined && consumed(s, cursors) && (best < 0 || s.maxTs < heads[best]![0]!.maxTs)) best = i;
      });
      if (best < 0) break;
      take(best);
    }
  }
  return out;
}

const DROP_ORDER: Record<Lane, number> = { dead: 0, normal: 1, critical: 2 };

/** The segment `drop-oldest` evicts next: lowest lane priority first, then the oldest; undefined when nothing holds records. */
export function pickDropVictim(partitions: readonly (readonly SegmentInfo[])[]): SegmentInfo | undefined {
  let best: SegmentInfo | undefined;
  for (const segs of partitions) {
    // Empty segments before it (left by a cut tail) are deleted with it.
    const s = segs.find((x) => x.nextOffset > x.base);
    if (s === undefined) continue;
    if (best === undefined || DROP_ORDER[s.lane] < DROP_ORDER[best.lane] || (DROP_ORDER[s.lane] === DROP_ORDER[best.lane] && s.maxTs < best.maxTs)) best = s;
  }
  return best;
}
