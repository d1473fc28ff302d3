import type { Cluster, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import { AlertCommandSchema, type AlertEvent } from '../../shared/alerts/index.js';
import { decodeEnvelopeHeaders } from '../../shared/envelope/index.js';
import type { Logger } from '../../shared/logging/index.js';
import { Mutex } from '../../shared/mutex/index.js';
import { partitionForKey } from '../../shared/partitioner/index.js';
import { parseTelemetry } from '../../shared/schema/index.js';
import { coPartitionedAssigner, committedPositions, type CommittedPosition } from './assigner.js';
import { decodePointer, SnapshotReader } from './changelog.js';
import { fencingProducer, PartitionCommits } from './commits.js';
import { HotEngine } from './engine/engine.js';
import { toSample } from './engine/sample.js';
import { HotMetrics } from './metrics.js';
import type { HotOptions } from './options.js';
import { newOwned, type HotTopics, type Owned, type Phase } from './owned.js';
import type { RulePack } from './rules/schema.js';
import type { VehicleRef } from '../../shared/vehicles/index.js';
import { applyVehicleRecord, readVehicles } from '../vehicles/table.js';
export type { HotTopics } from './owned.js';

export interface HotProcessorInput {
  kafka: Kafka;
  topics: HotTopics;
  options: HotOptions;
  pack: RulePack;
  logger: Logger;
  registry: Registry;
  now?: () => number;
}

/**
 * One member of the hot path's consumer group (`roadlog hot start`).
 *
 * It owns the telemetry partitions the group gives it, with the same partitions of the alert
 * commands and of the state changelog (assigner.ts). Per owned partition p:
 * - a transactional producer whose id names the partition (`{group}-{telemetry topic}-{p}`):
 *   when another instance takes p over, its producer's start fences this one, and aborts any
 *   transaction this one left open, before the new owner reads the committed offset. So a
 *   stale member (paused, partitioned away, killed) can never commit for p again, and the new
 *   owner's offsets are stable when it reads them (Kafka Streams' exactly-once, v1 style);
 * - records are evaluated as they come; the partition's commit loop (commits.ts) puts what
 *   was evaluated since its last transaction into the next: the alert events, a snapshot of
 *   the partition's state when one is due, and the offset with the snapshot's whereabouts in
 *   its metadata (changelog.ts);
 * - on assignment: restore the snapshot, replay telemetry from it to the committed offset
 *   with its events discarded, then go live (and only then read commands for p).
 *
 * Inputs that depend on the wall clock (operators' commands, heartbeats and the gateway_offline
 * they drive) are written with a fresh snapshot in their transaction, so a replay never has to
 * reproduce them.
 */
export class HotProcessor {
  readonly engine: HotEngine;
  readonly metrics: HotMetrics;
  private readonly commits: PartitionCommits;
  private consumer: Consumer | undefined;
  private cluster: Cluster | undefined; // the consumer's: its coordinator connection reads stable offsets (stable-offsets.ts)
  private heartbeats: Consumer | undefined;
  private readonly owned = new Map<number, Owned>();
  private readonly mutexes = new Map<number, Mutex>(); // one per partition for good: a take-over waits for a release of p still under way
  private generation = 0;
  private telemetryPartitions = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private readonly now: () => number;
  /** The vehicles table (compacted topic), read whole before the first record is evaluated, then followed. */
  private vehicles = new Map<string, VehicleRef>();

  constructor(private readonly input: HotProcessorInput) {
    this.now = input.now ?? Date.now;
    this.engine = new HotEngine(input.pack, { vehicleRef: (id) => this.vehicles.get(id) });
    this.metrics = new HotMetrics(input.registry, () => this.status(), () => this.engine.counters);
    this.commits = new PartitionCommits({
      topics: input.topics,
      groupId: input.options.groupId,
      snapshotIntervalMs: input.options.snapshotIntervalMs,
      snapshotChunkBytes: input.options.snapshotChunkBytes,
      commitIntervalMs: input.options.commitIntervalMs,
      metrics: this.metrics,
      now: this.now,
      snapshot: (p) => this.engine.snapshotPartition(p, this.ownsGateway(p)),
      owns: (o) => this.owned.get(o.p) === o,
      failed: (o, err) => this.onCommitFailed(o, err),
    });
  }

  /** Joins the group and starts consuming; resolves once the consumer runs. */
  async start(): Promise<void> {
    const { kafka, topics, options, logger } = this.input;
    const admin = kafka.admin();
    await admin.connect();
    try {
      const meta = await admin.fetchTopicMetadata({ topics: [topics.telemetry] });
      this.telemetryPartitions = meta.topics[0]!.partitions.length;
    } finally {
      await admin.disconnect();
    }
    const table = await readVehicles(kafka, topics.vehicles, 60_000);
    this.vehicles = table.vehicles;
    logger.info({ vehicles: table.vehicles.size, invalid: table.invalid }, 'hot: vehicles table loaded');
    const consumer = (this.consumer = kafka.consumer({
      groupId: options.groupId,
      readUncommitted: false,
      maxWaitTimeInMs: options.maxWaitMs,
      sessionTimeout: options.sessionTimeoutMs,
      heartbeatInterval: Math.floor(options.sessionTimeoutMs / 5),
      partitionAssigners: [coPartitionedAssigner((counts) => logger.warn({ counts }, 'hot: the co-partitioned topics differ in partition count; run `roadlog topics apply`'), (c) => (this.cluster = c))],
    }));
    consumer.on(consumer.events.GROUP_JOIN, (e) => this.onAssignment(e.payload.memberAssignment));
    await consumer.connect();
    await consumer.subscribe({ topics: [topics.telemetry, topics.commands, topics.state], fromBeginning: options.startFrom === 'earliest' });
    await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently: 1, eachBatch: (b) => this.onBatch(b) });
    // Heartbeats and the vehicles table's changes: every instance reads all of both (a group of its own, from the compacted latest).
    const hb = (this.heartbeats = kafka.consumer({ groupId: `${options.groupId}-tables-${options.instanceId}`, maxWaitTimeInMs: 500 }));
    await hb.connect();
    await hb.subscribe({ topics: [topics.gatewayStatus, topics.vehicles], fromBeginning: true });
    await hb.run({
      autoCommit: false,
      eachMessage: async ({ topic, message }) => {
        if (topic === topics.vehicles) applyVehicleRecord(this.vehicles, message.key, message.value);
        else await this.onHeartbeat(message.key, message.value);
      },
    });
    this.timer = setInterval(() => void this.onTick().catch((err: unknown) => logger.error({ err }, 'hot: tick failed')), 1_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.heartbeats?.disconnect().catch(() => undefined);
    await this.consumer?.disconnect().catch(() => undefined);
    for (const o of this.owned.values()) await o.mutex.run(async () => this.release(o));
    this.owned.clear();
  }

  /** Per owned partition: `next` to evaluate, `committed` (the offset the last transaction carried: its alerts are published), lag behind the end. */
  status(): { partitions: { partition: number; phase: Phase; next: string; committed: string; lag: string | null; snapshots: number }[]; counters: HotEngine['counters'] } {
    return {
      partitions: [...this.owned.values()].map((o) => ({ partition: o.p, phase: o.phase, next: o.next.toString(), committed: o.committedNext.toString(), lag: o.high === null ? null : (o.high > o.next ? o.high - o.next : 0n).toString(), snapshots: o.snapshots })),
      counters: this.engine.counters,
    };
  }

  private ownsGateway(p: number): (gatewayId: string) => boolean {
    return (g) => partitionForKey(`gateway:${g}`, this.telemetryPartitions) === p;
  }

  /** A rebalance: every owned partition starts over (a restore is cheap; a half-known state is not). */
  private onAssignment(assignment: Record<string, number[] | undefined>): void {
    const wanted = new Set(assignment[this.input.topics.telemetry] ?? []);
    const gen = ++this.generation;
    this.input.logger.info({ partitions: [...wanted].sort((a, b) => a - b), generation: gen }, 'hot: partitions assigned');
    for (const o of [...this.owned.values()]) {
      if (!wanted.has(o.p)) {
        o.phase = 'gone';
        this.owned.delete(o.p);
        void o.mutex.run(async () => this.release(o));
      }
    }
    for (const p of wanted) {
      const old = this.owned.get(p);
      const o = newOwned(p, gen, this.mutexes.get(p) ?? this.mutexes.set(p, new Mutex()).get(p)!, old?.producer, this.now());
      if (old !== undefined) old.phase = 'gone';
      old?.wake?.();
      const prior = old?.committing; // its transaction in flight uses the producer handed on here
      this.owned.set(p, o);
      this.pause(p, [this.input.topics.telemetry, this.input.topics.commands, this.input.topics.state]);
      void o.mutex.run(async () => {
        await prior;
        await this.begin(o);
      }).catch((err: unknown) => this.input.logger.error({ err, partition: p }, 'hot: could not take over the partition'));
    }
  }

  private pause = (p: number, topics: string[]): void => this.consumer!.pause(topics.map((topic) => ({ topic, partitions: [p] })));
  private resume = (p: number, topics: string[]): void => this.consumer!.resume(topics.map((topic) => ({ topic, partitions: [p] })));

  /** Gives partition p up once its transaction in flight (if any) is done. */
  private async release(o: Owned): Promise<void> {
    o.wake?.(); // a commit loop waiting for its interval commits now (or, for a partition taken away, ends)
    await o.committing;
    this.engine.dropPartition(o.p, this.ownsGateway(o.p));
    const producer = o.producer;
    o.producer = undefined;
    await producer?.disconnect().catch(() => undefined);
  }

  /** Take partition p over: fence the old owner, read where it got to, restore or start fresh. */
  private async begin(o: Owned): Promise<void> {
    if (o.phase === 'gone' || this.owned.get(o.p) !== o) return;
    const { kafka, topics, options } = this.input;
    this.engine.dropPartition(o.p, this.ownsGateway(o.p));
    if (o.producer === undefined) {
      // Fences the previous owner and ends its open transaction before the committed offset is read.
      o.producer = await fencingProducer(kafka, `${options.groupId}-${topics.telemetry}-${o.p}`);
    }
    const [{ committed, low, high }, commands] = (await committedPositions(kafka, this.cluster!, options.groupId, [topics.telemetry, topics.commands], o.p)) as [CommittedPosition, CommittedPosition];
    // Read again from what was committed (a failed transaction's commands were applied to a state now dropped).
    this.consumer!.seek({ topic: topics.commands, partition: o.p, offset: (commands.committed?.offset ?? BigInt(options.startFrom === 'earliest' ? commands.low : commands.high)).toString() });
    const committedOffset = committed?.offset;
    o.committedNext = committedOffset ?? 0n;
    o.pointer = decodePointer(committed?.metadata);
    if (o.pointer !== null && committedOffset !== undefined && o.pointer.n === 0) {
      // No snapshot yet: the state was empty at offset t (where the group started), so replay from there.
      o.next = BigInt(o.pointer.t);
      o.replayUntil = committedOffset;
      this.goLive(o);
      return;
    }
    if (o.pointer !== null && committedOffset !== undefined) {
      o.phase = 'restoring';
      o.replayUntil = committedOffset;
      o.reader = new SnapshotReader(o.pointer);
      this.consumer!.seek({ topic: topics.state, partition: o.p, offset: o.pointer.o });
      this.resume(o.p, [topics.state]);
      return;
    }
    if (committedOffset !== undefined) this.input.logger.warn({ partition: o.p, offset: committedOffset.toString() }, 'hot: a committed offset without a snapshot pointer (not written by the hot path): going on from it with an empty state');
    const start = committedOffset ?? BigInt(options.startFrom === 'earliest' ? low : high);
    o.next = start;
    o.replayUntil = start;
    // Until the first snapshot, commits say where the (empty) state began: a restart replays from there.
    o.pointer = { o: '-1', n: 0, t: start.toString(), id: 'empty' };
    this.goLive(o);
  }

  private goLive(o: Owned): void {
    const { topics } = this.input;
    o.phase = o.next < o.replayUntil ? 'replaying' : 'live';
    this.consumer!.seek({ topic: topics.telemetry, partition: o.p, offset: o.next.toString() });
    this.resume(o.p, [topics.telemetry]);
    if (o.phase === 'live') this.resume(o.p, [topics.commands]);
    this.input.logger.info({ partition: o.p, phase: o.phase, from: o.next.toString(), replayUntil: o.replayUntil.toString() }, 'hot: partition running');
  }

  private async onBatch({ batch, heartbeat, resolveOffset }: EachBatchPayload): Promise<void> {
    const o = this.owned.get(batch.partition);
    if (o === undefined || this.stopping || batch.messages.length === 0) return;
    const { topics } = this.input;
    // Whether the batch was taken; one that was not (a partition starting over) is fetched again after its seek.
    const taken = await o.mutex.run(async () => {
      if (this.owned.get(batch.partition) !== o) return false;
      if (batch.topic === topics.state) return this.onStateBatch(o, batch.messages);
      if (batch.topic === topics.telemetry) {
        o.high = BigInt(batch.highWatermark);
        return this.onTelemetryBatch(o, batch.messages);
      }
      if (batch.topic === topics.commands) return this.onCommandBatch(o, batch.messages);
      return false;
    });
    // kafkajs's own position (nothing is committed here: offsets go in the transactions).
    if (taken) resolveOffset(batch.lastOffset());
    // Evaluation runs ahead of the transactions, by a bounded amount (what a failed one makes the partition evaluate again).
    if (o.committing !== null && o.next - o.committedNext > MAX_UNCOMMITTED) await o.committing;
    await heartbeat();
  }

  private onStateBatch(o: Owned, messages: EachBatchPayload['batch']['messages']): boolean {
    if (o.phase !== 'restoring' || o.reader === undefined || o.pointer === null) return false;
    for (const m of messages) {
      if (BigInt(m.offset) < BigInt(o.pointer.o)) continue;
      const snap = o.reader.offer(m.value);
      if (snap === undefined) continue;
      this.pause(o.p, [this.input.topics.state]);
      this.engine.restorePartition(snap, this.now());
      o.reader = undefined;
      o.next = BigInt(o.pointer.t);
      this.goLive(o);
      return false; // paused now; where it stands does not matter
    }
    return true;
  }

  private onTelemetryBatch(o: Owned, messages: EachBatchPayload['batch']['messages']): boolean {
    if (o.phase !== 'live' && o.phase !== 'replaying') return false;
    const started = o.next;
    for (const m of messages) {
      const offset = BigInt(m.offset);
      if (offset < o.next) continue; // already evaluated (a fetch from before a seek); higher offsets may skip transaction markers
      const evs = this.evaluate(o.p, m);
      if (offset >= o.replayUntil) o.pending.push(...evs);
      else this.metrics.replayed.inc();
      o.next = offset + 1n;
    }
    if (o.phase === 'replaying' && o.next >= o.replayUntil) {
      o.phase = 'live';
      this.resume(o.p, [this.input.topics.commands]);
      this.input.logger.info({ partition: o.p, at: o.next.toString() }, 'hot: replay done, partition live');
    }
    if (o.phase === 'live' && o.next > started && o.next > o.replayUntil) this.commits.request(o);
    return true;
  }

  private evaluate(p: number, m: EachBatchPayload['batch']['messages'][number]): AlertEvent[] {
    const arrivedAt = this.now();
    const parsed = m.value === null ? undefined : parseTelemetry(m.value);
    if (parsed === undefined || !parsed.ok) {
      this.metrics.invalid.inc();
      this.input.logger.warn({ partition: p, offset: m.offset, reason: parsed === undefined ? 'no value' : parsed.message }, 'hot: a telemetry record is not valid telemetry; skipped');
      return [];
    }
    const env = decodeEnvelopeHeaders(m.headers);
    const sample = toSample(parsed.value, env, p, arrivedAt);
    const { events } = this.engine.offer(sample);
    this.metrics.observe(parsed.value.ts, env?.ingestTs, Number(m.timestamp), arrivedAt, events);
    return events;
  }

  private onCommandBatch(o: Owned, messages: EachBatchPayload['batch']['messages']): boolean {
    if (o.phase !== 'live' || messages.length === 0) return false;
    for (const m of messages) {
      let cmd;
      try {
        cmd = AlertCommandSchema.parse(JSON.parse(m.value?.toString('utf8') ?? 'null'));
      } catch (err) {
        this.metrics.commands.inc({ result: 'invalid' });
        this.input.logger.warn({ partition: o.p, offset: m.offset, err }, 'hot: an alert command is not valid; skipped');
        continue;
      }
      const e = this.engine.command(cmd, this.now());
      this.metrics.commands.inc({ result: e === undefined ? 'not-open' : 'applied' });
      if (e !== undefined) o.pending.push(e);
    }
    o.commandsNext = BigInt(messages.at(-1)!.offset) + 1n;
    o.snapshotWanted = true;
    this.commits.request(o);
    return true;
  }

  /** Heartbeats: engine bookkeeping here; their alerts go out from the owner's tick. */
  private pendingGateway = new Map<number, AlertEvent[]>();

  private async onHeartbeat(key: Buffer | null, value: Buffer | null): Promise<void> {
    if (key === null || value === null) return;
    let at: number | undefined;
    try {
      at = (JSON.parse(value.toString('utf8')) as { at?: unknown }).at as number | undefined;
    } catch {
      return;
    }
    if (typeof at !== 'number') return;
    const gatewayId = key.toString('utf8');
    const p = partitionForKey(`gateway:${gatewayId}`, this.telemetryPartitions);
    const o = this.owned.get(p);
    const events = this.engine.heartbeat(gatewayId, at, this.now());
    if (o !== undefined && o.phase === 'live' && events.length > 0) this.pendingGateway.set(p, [...(this.pendingGateway.get(p) ?? []), ...events]);
  }

  private async onTick(): Promise<void> {
    for (const o of [...this.owned.values()]) {
      if (o.phase !== 'live') continue;
      await o.mutex.run(async () => {
        if (o.phase !== 'live' || this.owned.get(o.p) !== o) return;
        const events = [...(this.pendingGateway.get(o.p) ?? []), ...this.engine.tick(this.now(), this.ownsGateway(o.p))];
        this.pendingGateway.delete(o.p);
        o.pending.push(...events);
        if (events.length > 0) o.snapshotWanted = true;
        if (events.length > 0 || this.commits.snapshotDue(o)) this.commits.request(o);
      });
    }
  }

  /** A transaction of o's failed (fenced by another owner, or broken): the partition starts over from its last commit, unless a rebalance or stop took it already. */
  private onCommitFailed(o: Owned, err: unknown): void {
    const { topics } = this.input;
    this.input.logger.error({ err, partition: o.p }, 'hot: a transaction failed; the partition starts over from its last commit');
    this.metrics.aborted.inc();
    if (this.owned.get(o.p) === o) this.owned.delete(o.p);
    const live = o.phase !== 'gone';
    o.phase = 'gone';
    if (!live || this.stopping) return;
    try {
      this.pause(o.p, [topics.telemetry, topics.commands, topics.state]);
    } catch {
      // the consumer is stopping
    }
    const again = newOwned(o.p, this.generation, o.mutex, undefined, this.now());
    this.owned.set(o.p, again);
    const producerGone = o.producer;
    o.producer = undefined;
    // Not release(): it waits for the commit loop this runs in. Kafka may be down for a while: try again, backing off, while p is still this one's.
    const retry = (ms: number): void => void setTimeout(() => void again.mutex.run(async () => {
      await producerGone?.disconnect().catch(() => undefined);
      await this.begin(again);
    }).catch((e: unknown) => {
      const stillOurs = !this.stopping && this.owned.get(o.p) === again;
      this.input.logger.error({ err: e, partition: o.p, retryInMs: stillOurs ? Math.min(ms * 2, 10_000) : null }, 'hot: could not take the partition back');
      if (stillOurs) retry(Math.min(ms * 2, 10_000));
    }), ms).unref();
    retry(1_000);
  }
}

/** Records a partition may be evaluated ahead of its last committed transaction before its next batch waits for the commit. */
const MAX_UNCOMMITTED = 50_000n;
