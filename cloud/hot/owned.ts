import type { Producer } from 'kafkajs';
import type { AlertEvent } from '../../shared/alerts/index.js';
import type { Mutex } from '../../shared/mutex/index.js';
import type { SnapshotPointer, SnapshotReader } from './changelog.js';

/** The topics the hot path reads and writes. */
export interface HotTopics {
  telemetry: string;
  alerts: string;
  commands: string;
  state: string;
  gatewayStatus: string;
  vehicles: string;
}

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
  /** Alert events evaluated and not yet in a transaction: the next commit publishes them. */
  pending: AlertEvent[];
  /** Commands offset to commit next (commands applied since the last commit). */
  commandsNext: bigint | undefined;
  /** The next commit carries a snapshot: the state took input a replay cannot reproduce (a command, the wall clock). */
  snapshotWanted: boolean;
  /** Something to commit that the transaction in flight does not carry. */
  dirty: boolean;
  /** The commit loop, while it runs (one per partition: its transactions go one after another). */
  committing: Promise<void> | null;
  /** Telemetry offset of the last committed transaction. */
  committedNext: bigint;
  /** When the last transaction started (wall ms): one with nothing to publish waits for hot.commitIntervalMs. */
  lastCommitAt: number;
  /** Ends the commit loop's wait for the interval (alert events to publish came). */
  wake: (() => void) | undefined;
}

export function newOwned(p: number, generation: number, mutex: Mutex, producer: Producer | undefined, now: number): Owned {
  return { p, phase: 'starting', generation, mutex, producer, next: 0n, high: null, replayUntil: 0n, pointer: null, reader: undefined, lastSnapshotAt: now, snapshots: 0, pending: [], commandsNext: undefined, snapshotWanted: false, dirty: false, committing: null, committedNext: 0n, lastCommitAt: 0, wake: undefined };
}
