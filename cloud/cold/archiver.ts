import { mkdir, open, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage, Producer } from 'kafkajs';
import type { Registry } from 'prom-client';
import { nodeAtomicFs } from '../../shared/atomic-file/index.js';
import { DEAD_LETTER_HEADER, decodeEnvelopeHeaders, EnvelopeDedup } from '../../shared/envelope/index.js';
import type { Logger } from '../../shared/logging/index.js';
import { Mutex } from '../../shared/mutex/index.js';
import { parseTelemetry } from '../../shared/schema/index.js';
import type { DuckDBInstance } from '@duckdb/node-api';
import { loadDuckDB } from './duckdb.js';
import { deleteUncommitted, flushFileName, hourDir, mkdirDurable, readState, TELEMETRY, writeStates, type PartitionState } from './layout.js';
import { ColdMetrics } from './metrics.js';
import type { ColdOptions } from './options.js';
import { SeqRuns } from './seqs.js';
import { Stage } from './stage.js';

export interface ArchiverTopics {
  telemetry: string;
  deadLetters: string;
}

export interface ArchiverInput {
  kafka: Kafka;
  topics: ArchiverTopics;
  options: ColdOptions;
  logger: Logger;
  registry: Registry;
  now?: () => number;
}

/** A telemetry partition this member owns in the current group generation. */
interface Owned {
  p: number;
  /** The last commit (its state file); undefined until the first one for a new partition. */
  state: PartitionState | undefined;
  /** The offset the next flush starts at (the state's nextOffset, or the first offset read). */
  start: number | undefined;
  /** The offset after the last record taken into the stage. */
  next: number | undefined;
  sought: boolean;
  stage: Stage;
  envelope: EnvelopeDedup;
  seqs: SeqRuns;
  /** Duplicates dropped per vehicle, all flushes: [edge re-sends, device retries]; committed with the state. */
  dropped: Map<string, [number, number]>;
  /** Records of this partition no schema accepts, for the dead-letter topic at the next flush. */
  invalid: { key: Buffer | null; value: Buffer | null; headers: Record<string, string> }[];
  highWatermark: number;
}

const FLUSH_PARALLELISM = 2;

/** kafkajs errors that mean the group is changing (kafkajs's isRebalancing, and an unknown member): not a failure of the archiver's. */
const GROUP_CHANGE = new Set(['REBALANCE_IN_PROGRESS', 'NOT_COORDINATOR_FOR_GROUP', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID']);

type FlushWhy = 'records' | 'bytes' | 'age' | 'memory' | 'stop';

/** A partition's flush, written and fsynced, not yet committed. */
interface Prepared {
  o: Owned;
  start: number;
  next: number;
  written: { path: string; rows: number }[];
  rows: number;
}

/**
 * One member of the archiver's consumer group (`roadlog cold start`): every telemetry record
 * into the Parquet archive exactly once (layout.ts says how the files and the state files
 * make that so).
 *
 * Per owned partition: records are parsed, edge re-sends (EnvelopeDedup) and device retries
 * (SeqRuns) dropped, the rest appended to the partition's stage (a DuckDB table); a flush, when
 * the stage is big or old enough, writes one Parquet file per device-time hour (temp name,
 * fsync, rename, fsync the directory), then the partition's state file (the commit point),
 * then commits the Kafka offset for lag monitoring; partitions due at once do it as one group
 * commit (flushAll). When it takes a partition over it deletes
 * what an uncommitted flush left and resumes at the state's offset, whatever Kafka's
 * committed offset says; a rebalance drops every stage and starts each partition again so.
 */
export class Archiver {
  readonly metrics: ColdMetrics;
  private db: DuckDBInstance | undefined;
  /** Counts rebalances, bumped the moment one begins (not under the lock). */
  private generation = 0;
  private consumer: Consumer | undefined;
  private producer: Producer | undefined;
  private readonly owned = new Map<number, Owned>();
  private readonly lock = new Mutex();
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private readonly now: () => number;

  constructor(private readonly input: ArchiverInput) {
    this.now = input.now ?? Date.now;
    this.metrics = new ColdMetrics(input.registry, () => this.status());
  }

  async start(): Promise<void> {
    const { kafka, topics, options, logger } = this.input;
    await mkdir(options.archive, { recursive: true });
    await mkdirDurable(options.archive, TELEMETRY);
    const { DuckDBInstance } = await loadDuckDB();
    this.db = await DuckDBInstance.create(':memory:', { threads: '2', memory_limit: `${options.duckdbMemoryMiB}MiB`, temp_directory: join(options.archive, TELEMETRY, '_state', `duckdb-${options.instanceId}.tmp`) });
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await this.producer.connect();
    const consumer = (this.consumer = kafka.consumer({ groupId: options.groupId, sessionTimeout: options.sessionTimeoutMs, heartbeatInterval: Math.floor(options.sessionTimeoutMs / 10), maxBytesPerPartition: 4 * 1024 * 1024, maxWaitTimeInMs: 250 }));
    // Synchronously, outside the lock: a flush in progress sees it before it commits (flushAll).
    consumer.on(consumer.events.REBALANCING, () => void this.generation++);
    consumer.on(consumer.events.GROUP_JOIN, (e) => void this.lock.run(() => this.onAssignment(e.payload.memberAssignment[topics.telemetry] ?? [])).catch((err: unknown) => logger.error({ err }, 'cold: taking the new assignment failed')));
    await consumer.connect();
    await consumer.subscribe({ topics: [topics.telemetry], fromBeginning: true });
    await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: (b) =>
        this.lock.run(() => this.onBatch(b)).catch((err: unknown) => {
          // The group changing under a batch (its heartbeat says so) is kafkajs's to handle: it rejoins, emits REBALANCING, and GROUP_JOIN restarts every partition from the archive.
          if (GROUP_CHANGE.has((err as { type?: string }).type ?? '')) throw err;
          this.fail(err);
        }),
    });
    this.timer = setInterval(() => void this.lock.run(() => this.flushDue()).catch((err: unknown) => this.fail(err)), Math.min(1_000, options.flush.maxAgeMs));
    logger.info({ archive: options.archive, group: options.groupId }, 'cold: archiver started');
  }

  /** Flushes every owned partition, leaves the group, closes DuckDB. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    // Flush while still a member (the lock keeps batches out), so the offsets commit to the group;
    // whatever a batch reads after this is dropped and read again by the next owner.
    const t0 = performance.now();
    await this.lock.run(async () => {
      await this.flushAll([...this.owned.values()], 'stop');
      for (const o of this.owned.values()) await o.stage.drop();
      this.owned.clear();
    });
    const t1 = performance.now();
    await this.consumer?.stop();
    await this.consumer?.disconnect();
    await this.producer?.disconnect();
    this.db?.closeSync();
    this.input.logger.debug({ flushMs: Math.round(t1 - t0), disconnectMs: Math.round(performance.now() - t1) }, 'cold: stopped');
  }

  status() {
    return {
      archive: this.input.options.archive,
      partitions: [...this.owned.values()]
        .sort((a, b) => a.p - b.p)
        .map((o) => ({ partition: o.p, committed: o.state?.nextOffset ?? null, read: o.next ?? null, highWatermark: o.highWatermark, staged: o.stage.rows, stagedBytes: o.stage.bytes, rows: o.state?.rows ?? 0 })),
    };
  }

  private fail(err: unknown): void {
    this.input.logger.error({ err }, 'cold: a flush failed; stopping so that a restart resumes from the archive');
    process.exitCode = 1;
    void this.stop().finally(() => process.exit(1));
  }

  private async onAssignment(partitions: number[]): Promise<void> {
    for (const o of this.owned.values()) await o.stage.drop();
    this.owned.clear();
    this.input.logger.info({ partitions }, 'cold: assigned; each partition resumes where the archive says');
    for (const p of partitions) this.owned.set(p, await this.take(p));
  }

  private async take(p: number): Promise<Owned> {
    const { options, topics } = this.input;
    const state = await readState(options.archive, topics.telemetry, p);
    if (state !== undefined) {
      const removed = await deleteUncommitted(options.archive, topics.telemetry, p, state.nextOffset);
      if (removed > 0) this.input.logger.warn({ partition: p, removed, nextOffset: state.nextOffset }, 'cold: deleted the files of a flush that never committed');
    }
    return {
      p,
      state,
      start: state?.nextOffset,
      next: state?.nextOffset,
      sought: false,
      stage: await Stage.create(this.db!, topics.telemetry, p),
      envelope: restoreEnvelope(state),
      seqs: SeqRuns.restore(state?.seqs ?? {}),
      dropped: new Map(Object.entries(state?.dropped ?? {})),
      invalid: [],
      highWatermark: 0,
    };
  }

  private async onBatch({ batch, heartbeat, isRunning, isStale, resolveOffset }: EachBatchPayload): Promise<void> {
    const o = this.owned.get(batch.partition);
    if (o === undefined || !isRunning() || isStale() || batch.messages.length === 0) return;
    o.highWatermark = Number(batch.highWatermark);
    const first = Number(batch.messages[0]!.offset);
    if (o.start === undefined) {
      // A partition the archive has never seen: it starts where Kafka gave us the first record.
      o.start = o.next = first;
      await deleteUncommitted(this.input.options.archive, this.input.topics.telemetry, o.p, first);
    } else if (first > o.next! && !o.sought) {
      // Kafka's committed offset is past the archive's (the state file is the truth): go back.
      o.sought = true;
      this.consumer!.seek({ topic: batch.topic, partition: o.p, offset: String(o.next) });
      return;
    } else if (first > o.next!) {
      this.input.logger.warn({ partition: o.p, from: o.next, to: first - 1 }, 'cold: offsets no longer in Kafka (retention) were never archived');
      this.metrics.skipped.inc(first - o.next!);
      o.next = first;
    }
    o.sought = true;
    const now = this.now();
    for (const m of batch.messages) {
      const offset = Number(m.offset);
      if (offset < o.next!) continue;
      this.take1(o, m, now);
      o.next = offset + 1;
    }
    // The consumer's own position (nothing is committed by it): the next fetch starts after this batch.
    resolveOffset(batch.messages.at(-1)!.offset);
    const f = this.input.options.flush;
    if (o.stage.rows >= f.maxRecords) await this.flushAll([o], 'records');
    else if (o.stage.bytes >= f.maxBytes) await this.flushAll([o], 'bytes');
    let total = 0;
    for (const x of this.owned.values()) total += x.stage.rows;
    if (total > this.input.options.maxBufferedRecords) {
      const largest = [...this.owned.values()].reduce((a, b) => (b.stage.rows > a.stage.rows ? b : a));
      await this.flushAll([largest], 'memory');
    }
    await heartbeat();
  }

  private take1(o: Owned, m: KafkaMessage, now: number): void {
    const value = m.value;
    const parsed = value === null ? undefined : parseTelemetry(value);
    if (parsed === undefined || !parsed.ok) {
      const code = parsed?.code ?? 'ROADLOG_ERR_PAYLOAD_NOT_JSON';
      const message = parsed === undefined ? 'no value (a tombstone)' : parsed.message;
      o.invalid.push({
        key: m.key,
        value,
        headers: {
          [DEAD_LETTER_HEADER.reason]: 'archive_invalid',
          [DEAD_LETTER_HEADER.code]: code,
          [DEAD_LETTER_HEADER.message]: message.slice(0, 1000),
          [DEAD_LETTER_HEADER.sourceTopic]: this.input.topics.telemetry,
          [DEAD_LETTER_HEADER.sourcePartition]: String(o.p),
          [DEAD_LETTER_HEADER.sourceOffset]: m.offset,
        },
      });
      this.metrics.records.invalid.inc();
      return;
    }
    const env = decodeEnvelopeHeaders(m.headers);
    const t = parsed.value;
    if (env !== undefined && o.envelope.isDuplicateEnvelope(this.input.topics.telemetry, o.p, env)) {
      this.metrics.records.edgeDuplicate.inc();
      countDropped(o, t.vehicleId, 0);
      return;
    }
    if (o.seqs.seen(t.vehicleId, t.seq, t.ts)) {
      this.metrics.records.deviceRetry.inc();
      countDropped(o, t.vehicleId, 1);
      return;
    }
    o.stage.add(t, env, Number(m.offset), Number(m.timestamp), value!.length, now);
  }

  private async flushDue(): Promise<void> {
    const now = this.now();
    const due = [...this.owned.values()].filter((o) => (o.stage.rows > 0 || o.invalid.length > 0) && now - o.stage.firstAt >= this.input.options.flush.maxAgeMs);
    await this.flushAll(due, 'age');
  }

  /**
   * Flushes the stages of `list` as one group commit: each partition's files under temp names
   * and fsynced, its dead letters sent (FLUSH_PARALLELISM partitions at a time: each stage has
   * its own DuckDB connection, and a partition's COPY alone keeps one core busy); then every
   * rename, and each folder they touch made durable once; then each partition's state file (its
   * commit point) and the state folder once; then one offset commit for lag. Partitions flushed
   * together share the folders' fsyncs, which are most of a small flush's time. Nothing to do
   * for a partition that read nothing since its last commit.
   */
  private async flushAll(list: Owned[], why: FlushWhy): Promise<void> {
    const { options, topics, logger } = this.input;
    const t0 = performance.now();
    const queue = list.filter((o) => o.start !== undefined && o.next !== undefined && o.next !== o.start);
    if (queue.length === 0) return;
    const generation = this.generation;
    const prepared: Prepared[] = [];
    let failed = false;
    const worker = async (): Promise<void> => {
      for (let o = failed ? undefined : queue.shift(); o !== undefined; o = failed ? undefined : queue.shift()) {
        try {
          prepared.push(await this.prepare(o));
        } catch (err) {
          failed = true;
          throw err;
        }
      }
    };
    // Every worker settles before an error goes up: none may still be writing when the stop that follows flushes again.
    const settled = await Promise.allSettled(Array.from({ length: FLUSH_PARALLELISM }, worker));
    for (const r of settled) if (r.status === 'rejected') throw r.reason;
    // A rebalance that began meanwhile may give these partitions to another member: commit nothing, the owner writes the ranges again.
    if (this.generation !== generation) return;
    const live = prepared.filter((f) => this.owned.get(f.o.p) === f.o);
    const dirs = new Set<string>();
    for (const f of live) {
      for (const w of f.written) {
        await rename(w.path, w.path.slice(0, -'.tmp'.length));
        dirs.add(dirname(w.path));
      }
    }
    // The hour folders, the day folders above them and the telemetry folder: another
    // partition's flush may have made one a moment ago and not yet made its entry durable.
    const days = new Set([...dirs].map((d) => dirname(d)));
    await Promise.all([...dirs, ...days].map((d) => nodeAtomicFs.fsyncDir(d)));
    if (dirs.size > 0) await nodeAtomicFs.fsyncDir(join(options.archive, TELEMETRY));
    const states = live.map((f): PartitionState => ({ v: 1, topic: topics.telemetry, partition: f.o.p, nextOffset: f.next, rows: (f.o.state?.rows ?? 0) + f.rows, envelope: f.o.envelope.snapshot(), seqs: f.o.seqs.snapshot(), ...(f.o.dropped.size === 0 ? {} : { dropped: Object.fromEntries(f.o.dropped) }), updatedAt: this.now() }));
    if (this.generation !== generation) return;
    await writeStates(options.archive, states);
    const ms = performance.now() - t0;
    for (const [i, f] of live.entries()) {
      f.o.state = states[i];
      f.o.start = f.next;
      f.o.invalid = [];
    }
    for (const f of live) {
      await f.o.stage.reset();
      this.metrics.flushed(why, f.rows, f.written.length, ms);
      logger.debug({ partition: f.o.p, why, from: f.start, to: f.next - 1, rows: f.rows, files: f.written.length, ms: Math.round(ms), partitions: live.length }, 'cold: flushed');
    }
    if (live.length > 0) await this.consumer!.commitOffsets(live.map((f) => ({ topic: topics.telemetry, partition: f.o.p, offset: String(f.next) }))).catch((err: unknown) => logger.debug({ err }, 'cold: committing the Kafka offsets failed (the archive is the truth; lag shows it)'));
  }

  /** One partition's part of a flush before its commit: its files under temp names, fsynced, and its dead letters sent. */
  private async prepare(o: Owned): Promise<Prepared> {
    const { options, topics } = this.input;
    const start = o.start!;
    const next = o.next!;
    for (const h of o.stage.hours) await mkdirDurable(options.archive, join(TELEMETRY, hourDir(h * 3_600_000)));
    const finalPath = (hourStartMs: number): string => join(options.archive, TELEMETRY, hourDir(hourStartMs), flushFileName(topics.telemetry, o.p, start));
    const written = await o.stage.writeFiles((h) => `${finalPath(h)}.tmp`);
    await Promise.all(written.map((f) => fsyncFile(f.path)));
    if (o.invalid.length > 0) {
      await this.producer!.send({ topic: topics.deadLetters, acks: -1, messages: o.invalid.map((r) => ({ key: r.key, value: r.value, headers: r.headers })) });
      this.metrics.deadLetters.inc(o.invalid.length);
    }
    return { o, start, next, written, rows: written.reduce((n, f) => n + f.rows, 0) };
  }

}

function countDropped(o: Owned, vehicleId: string, which: 0 | 1): void {
  let c = o.dropped.get(vehicleId);
  if (c === undefined) o.dropped.set(vehicleId, (c = [0, 0]));
  c[which]++;
}

function restoreEnvelope(state: PartitionState | undefined): EnvelopeDedup {
  const d = new EnvelopeDedup();
  if (state !== undefined) d.restore(state.envelope);
  return d;
}

async function fsyncFile(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
