import type { Producer } from 'kafkajs';
import type { Mutex } from '../../shared/mutex/index.js';
import type { SnapshotPointer, SnapshotReader } from './changelog.js';

/**
 * A telemetry partition this instance owns, and where its take-over stands:
 * starting (fencing the previous owner, reading its offset) → restoring (reading the snapshot)
 * → replaying (evaluating to the committed offset, events discarded) → live; gone once a
 * rebalance or a failed transaction takes it away.
 */
export type Phase = 'starting' | 'restoring' | 'replaying' | 'live' | 'gone';

export interface Owned {
  p: number;
  phase: Phase;
  generation: number;
  mutex: Mutex;
  producer: Producer | undefined;
  /** Next telemetry offset to evaluate. */
  next: bigint;
  /** The partition's end offset at the last fetch (lag = high − next). */
  high: bigint | null;
  /** Offsets below this were evaluated and published before (replay: discard their events). */
  replayUntil: bigint;
  pointer: SnapshotPointer | null;
  reader: SnapshotReader | undefined;
  lastSnapshotAt: number;
  snapshots: number;
}
