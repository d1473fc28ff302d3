import type { Kafka, Producer } from 'kafkajs';
import { encodePointer, encodeSnapshot } from './changelog.js';
import type { PartitionSnapshot } from './engine/engine.js';
import type { HotMetrics } from './metrics.js';
import type { HotTopics, Owned } from './owned.js';

export interface CommitsInput {
  topics: HotTopics;
  groupId: string;
  snapshotIntervalMs: number;
  snapshotChunkBytes: number;
  /** A partition with nothing to publish commits at most this often (ms); alert events and commands go at once. */
  commitIntervalMs: number;
  metrics: HotMetrics;
  now: () => number;
  /** The engine state of partition p, as the changelog keeps it. */
  snapshot: (p: number) => PartitionSnapshot;
  /** Whether o still owns its partition (a rebalance or a failure may have replaced it). */
  owns: (o: Owned) => boolean;
  /** A transaction failed (its events are not published; the partition must start over). */
  failed: (o: Owned, err: unknown) => void;
}

/**
 * The commit side of the hot path. Evaluation does not wait for Kafka: a batch's records are
 * evaluated, its alert events wait in `o.pending`, and the partition's commit loop takes
 * everything evaluated since its last transaction into the next one (the alert events, a
 * snapshot when due, the offsets with the snapshot's whereabouts). One loop per partition, so
 * a partition's transactions go one after another and never overlap, while the partitions'
 * transactions (each its own producer) overlap each other and the evaluation.
 */
export class PartitionCommits {
  constructor(private readonly input: CommitsInput) {}

  snapshotDue(o: Owned): boolean {
    return o.snapshotWanted || (this.input.now() - o.lastSnapshotAt >= this.input.snapshotIntervalMs && o.next > BigInt(o.pointer?.t ?? '-1'));
  }

  /** There is something to commit: the partition's commit loop takes it in its next transaction (started now if none runs). */
  request(o: Owned): void {
    o.dirty = true;
    if (o.committing === null) o.committing = this.loop(o);
    else if (urgent(o)) o.wake?.();
  }

  /** Transactions one after another while there is more to commit. */
  private async loop(o: Owned): Promise<void> {
    await Promise.resolve(); // o.committing is set before anything below runs
    try {
      while (o.dirty && o.phase === 'live' && this.input.owns(o)) {
        // Offsets alone wait for the interval (what arrives meanwhile joins them); alert events do not wait.
        const wait = urgent(o) ? 0 : o.lastCommitAt + this.input.commitIntervalMs - this.input.now();
        if (wait > 0) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, wait);
            o.wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          o.wake = undefined;
        }
        if (o.phase !== 'live' || !this.input.owns(o)) break;
        o.dirty = false;
        o.lastCommitAt = this.input.now();
        if (!(await this.commit(o))) break;
      }
    } finally {
      o.committing = null;
    }
  }

  /**
   * One transaction for partition p with everything evaluated since the last. All of it is
   * taken before the first await, so it describes one moment of the partition. True when it
   * committed; false when it failed (and `failed` was told).
   */
  private async commit(o: Owned): Promise<boolean> {
    const { topics, metrics, now } = this.input;
    const producer = o.producer;
    if (producer === undefined) return false;
    const events = o.pending;
    const next = o.next;
    const commandsNext = o.commandsNext;
    const snapshotDue = this.snapshotDue(o);
    if (events.length === 0 && next === o.committedNext && commandsNext === undefined && !snapshotDue) return true;
    o.pending = [];
    o.commandsNext = undefined;
    o.snapshotWanted = false;
    const snapshotId = `${next.toString()}-${Date.now().toString(36)}-${o.snapshots}`;
    const chunks = snapshotDue ? encodeSnapshot(o.p, this.input.snapshot(o.p), snapshotId, next.toString(), this.input.snapshotChunkBytes) : undefined;
    const txn = await producer.transaction();
    try {
      if (events.length > 0) await txn.send({ topic: topics.alerts, messages: events.map((e) => ({ key: e.alertId, value: JSON.stringify(e) })) });
      let pointer = o.pointer;
      if (chunks !== undefined) {
        const res = await txn.send({ topic: topics.state, messages: chunks.map((c) => ({ ...c, partition: o.p })) });
        const base = res.find((r) => r.partition === o.p)?.baseOffset;
        if (base === undefined) throw new Error(`changelog partition ${o.p}: no offset in the produce answer`);
        pointer = { o: base, n: chunks.length, t: next.toString(), id: snapshotId };
      }
      const offsets = [{ topic: topics.telemetry, partitions: [{ partition: o.p, offset: next.toString(), metadata: encodePointer(pointer) }] }];
      if (commandsNext !== undefined) offsets.push({ topic: topics.commands, partitions: [{ partition: o.p, offset: commandsNext.toString(), metadata: null }] });
      await whileConcurrent(() => txn.sendOffsets({ consumerGroupId: this.input.groupId, topics: offsets as never }));
      await txn.commit();
      o.pointer = pointer;
      o.committedNext = next;
      if (chunks !== undefined) {
        o.lastSnapshotAt = now();
        o.snapshots++;
        metrics.snapshots.inc();
      }
      metrics.published(events, now());
      return true;
    } catch (err) {
      await txn.abort().catch(() => undefined);
      this.input.failed(o, err);
      return false;
    }
  }
}

/** Something to publish (alert events, an operator's command) or a state a replay cannot reproduce. */
function urgent(o: Owned): boolean {
  return o.pending.length > 0 || o.commandsNext !== undefined || o.snapshotWanted;
}

/**
 * Retries `fn` while the transaction coordinator answers CONCURRENT_TRANSACTIONS (the previous
 * transaction of this producer is still being completed, its markers written, which a commit
 * loop that starts the next transaction at once often meets), or the group coordinator has
 * moved or is still loading (a fresh cluster, a broker failover). kafkajs retries these for
 * produce requests, not for AddOffsetsToTxn and TxnOffsetCommit; the Java client retries them.
 */
async function whileConcurrent<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!RETRIED.has((err as { type?: string }).type ?? '') || attempt >= 30) throw err;
      await new Promise((r) => setTimeout(r, Math.min(200, 10 * 2 ** attempt)));
    }
  }
}

const RETRIED = new Set(['CONCURRENT_TRANSACTIONS', 'NOT_COORDINATOR_FOR_GROUP', 'GROUP_LOAD_IN_PROGRESS', 'GROUP_COORDINATOR_NOT_AVAILABLE']);

/**
 * A started transactional producer for `transactionalId` that has fenced every earlier one.
 *
 * kafkajs's `connect()` does not do it: for an idempotent producer it asks the controller for a
 * producer id without the transactional id, and sends the transactional InitProducerId only at
 * the first `transaction()`. A new owner that read the committed offsets after `connect()` alone
 * left the old owner's producer alive until its own first transaction, and a stale owner waking
 * in that window committed its open transaction: its alert events, then the new owner's for the
 * same records (hot.test's stale member, seen in CI). Here an empty transaction begins and ends
 * at once, which is the InitProducerId (waiting out CONCURRENT_TRANSACTIONS: the old owner's
 * transaction is aborted or completed first) and sends nothing else.
 */
export async function fencingProducer(kafka: Kafka, transactionalId: string): Promise<Producer> {
  const producer = kafka.producer({ transactionalId, maxInFlightRequests: 1, idempotent: true, transactionTimeout: 60_000 });
  await producer.connect();
  try {
    await (await producer.transaction()).abort();
  } catch (err) {
    await producer.disconnect().catch(() => undefined);
    throw err;
  }
  return producer;
}
