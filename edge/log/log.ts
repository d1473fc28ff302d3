import { dirname, join } from 'node:path';
import { RoadlogError } from '../../shared/errors/index.js';
import { partitionForKey } from '../../shared/partitioner/index.js';
import { Mutex } from '../../shared/mutex/index.js';
import { CursorStore, positionKey, type CursorPositions, checkCursorName } from './cursor.js';
import { errnoCode, nodeFileLayer, type FileLayer } from './file-layer.js';
import { isDiskFull } from './errors.js';
import { FullDiskPolicy } from './full-disk.js';
import { GroupCommit, PendingBudget } from './group-commit.js';
import { acquireLock, isProcessAlive, type LogLock } from './lock.js';
import { backlogOf, statsOf } from './backlog.js';
import { openLogMeta } from './meta.js';
import { createLogMetrics, type LogMetrics } from './metrics.js';
import { LANES, parseEdgeLogOptions, type EdgeLogOptions, type EdgeLogOptionsInput, type Lane } from './options.js';
import { Partition, type DeletedSegment, type PendingRecord } from './partition.js';
import { LogReader, type ReaderHost, type SkippedRange } from './reader.js';
import { prepareRecord } from './record.js';
import { recoverySummary } from './recovery.js';
import { planRetention, type SegmentInfo } from './retention.js';
import type { AppendInput, AppendResult, EdgeLogDeps, LogLogger, PartitionBacklog, PartitionStats } from './types.js';

const silent: LogLogger = { info() {}, warn() {}, error() {} };

export async function openLog(dir: string, options: EdgeLogOptionsInput = {}, deps: EdgeLogDeps = {}): Promise<EdgeLog> {
  return EdgeLog.open(dir, parseEdgeLogOptions(options), deps);
}

/**
 * The edge log: P partitions in each of three lanes, group commit, cursors, retention and
 * the full-disk policy (full-disk.ts; meta.json: meta.ts; the types it takes and gives:
 * types.ts). The promise it keeps: an append that resolved is fsynced and is never lost
 * (loss window 0), short of the disk itself failing.
 */
export class EdgeLog {
  private readonly lanes = new Map<Lane, Partition[]>();
  /** One group commit per (lane, partition), sharing one backpressure budget: a slow fsync delays only its own partition's appends. */
  private readonly commits = new Map<Lane, GroupCommit<PendingRecord, AppendResult>[]>();
  private readonly budget: PendingBudget;
  private readonly cursorStore: CursorStore;
  private readonly cursorCache = new Map<string, CursorPositions>();
  private readonly metrics: LogMetrics;
  private readonly fullDisk: FullDiskPolicy;
  private readonly logger: LogLogger;
  private readonly now: () => number;
  private lock: LogLock | undefined;
  private closing: Promise<void> | undefined;
  /** Per (lane, partition): its flush cycle and the deletion of its segments take it. */
  private readonly mutexes = new Map<Lane, Mutex[]>();
  /** Damaged ranges already counted in the metric (`lane/partition/fromOffset`): found on open or by a reader, counted once. */
  private readonly corruptSeen = new Set<string>();
  /** Retention runs in progress: close() waits for them. */
  private readonly retentionRuns = new Set<Promise<unknown>>();
  /** Called each time records become durable and readable (a reader's wake-up instead of polling). */
  private readonly appendListeners = new Set<() => void>();
  /** Set by close() once appends are drained: no segment is deleted after it. */
  private partitionsClosing = false;
  private retentionTimer: NodeJS.Timeout | undefined;
  /**
   * This log's own id, random, made when the log is created (meta.json). Offsets start at 0 in
   * every new log, so a gateway re-imaged with the same gateway id, or two gateways given one
   * name, would repeat (gateway, lane, partition, offset): the id makes the envelope unique.
   */
  logId = '';
  /** Partitions per lane: from meta.json, or, for a new log, the configured count or DEFAULT_PARTITIONS (meta.ts). Set by open. */
  private partitions = 0;
  private readonly closedError: () => RoadlogError;

  private constructor(
    readonly dir: string,
    readonly options: EdgeLogOptions,
    private readonly fs: FileLayer,
    deps: EdgeLogDeps,
  ) {
    this.logger = deps.logger ?? silent;
    this.now = deps.now ?? Date.now;
    this.metrics = createLogMetrics(deps.metrics);
    this.cursorStore = new CursorStore(fs, dir);
    this.budget = new PendingBudget(options.maxPendingBytes);
    this.fullDisk = new FullDiskPolicy(dir, options, {
      sizeBytes: () => this.sizeBytes,
      segmentInfos: () => this.segmentInfos(),
      cursors: () => [...this.cursorCache.values()],
      deleteOldestIf: (planned) => this.deleteOldestIf(planned),
      now: () => this.now(),
    }, this.metrics, this.logger);
    this.closedError = () => new RoadlogError('ROADLOG_ERR_LOG_CLOSED', `edge log ${dir} is closed`);
  }

  static async open(dir: string, options: EdgeLogOptions, deps: EdgeLogDeps): Promise<EdgeLog> {
    const fs = deps.fileLayer ?? nodeFileLayer;
    const log = new EdgeLog(dir, options, fs, deps);
    await fs.mkdir(dir);
    log.lock = await acquireLock(fs, dir, { alive: deps.isProcessAlive ?? isProcessAlive });
    try {
      await log.init();
    } catch (err) {
      await Promise.all([...log.lanes.values()].flat().map((p) => p.close().catch(() => undefined)));
      await log.lock.release().catch(() => undefined);
      throw err;
    }
    return log;
  }

  private async init(): Promise<void> {
    const { fs, dir, options } = this;
    const meta = await openLogMeta(fs, dir, options.partitions, this.now);
    const partitions = (this.partitions = meta.partitions);
    this.logId = meta.logId;
    for (const lane of LANES) {
      this.mutexes.set(lane, Array.from({ length: partitions }, () => new Mutex()));
      this.commits.set(lane, Array.from({ length: partitions }, (_, p) => new GroupCommit<PendingRecord, AppendResult>(options, (items) => this.flush(lane, p, items), this.closedError, this.budget)));
      for (let p = 0; p < partitions; p++) await fs.mkdir(partitionDir(dir, lane, p));
    }
    await fs.mkdir(this.cursorStore.dir);
    for (const lane of LANES) await fs.fsyncDir(join(dir, lane));
    await fs.fsyncDir(dir);
    await fs.fsyncDir(dirname(dir)).catch(() => undefined);
    for (const [name, positions] of await this.cursorStore.loadAll()) this.cursorCache.set(name, positions);
    const config = { segmentBytes: options.segmentBytes, indexIntervalBytes: options.indexIntervalBytes, onError: (err: unknown) => this.logger.warn({ err }, 'edge log: writing a segment index failed; it is rebuilt on the next open') };
    for (const lane of LANES) {
      const parts = await Promise.all(Array.from({ length: partitions }, (_, p) => Partition.open(fs, partitionDir(dir, lane, p), { ...config, minNextOffset: this.cursorFloor(lane, p) })));
      this.lanes.set(lane, parts);
      parts.forEach((part, p) => {
        const { truncatedBytes, skippedOffsets, corrupt, rebuiltIndexes } = part.report;
        for (const c of corrupt) this.noteCorrupt(lane, p, c.fromOffset, c.toOffset);
        const summary = recoverySummary(part.report);
        if (summary !== undefined) this.logger.warn({ lane, partition: p, truncatedBytes, skippedOffsets, corrupt, rebuiltIndexes }, `edge log ${lane}/${p}: ${summary}`);
      });
    }
    this.metrics.backlog.reset();
    const every = options.retention.checkIntervalMs;
    if (options.retention.maxBytes !== undefined || options.retention.maxAgeHours !== undefined) {
      this.retentionTimer = setInterval(() => void this.runRetention().catch((err) => this.logger.error({ err }, 'edge log: retention failed')), every);
      this.retentionTimer.unref();
    }
  }

  /** The highest position any cursor committed in a partition: the next append's offset is never below it. */
  private cursorFloor(lane: Lane, partition: number): number {
    let floor = 0;
    for (const positions of this.cursorCache.values()) floor = Math.max(floor, positions[positionKey(lane, partition)] ?? 0);
    return floor;
  }

  private noteCorrupt(lane: Lane, partition: number, fromOffset: number, toOffset: number): void {
    const key = `${lane}/${partition}/${fromOffset}`;
    if (this.corruptSeen.has(key)) return;
    this.corruptSeen.add(key);
    this.metrics.corruptRecords.inc({ lane }, toOffset - fromOffset);
  }

  private mutex(lane: Lane, partition: number): Mutex {
    return this.mutexes.get(lane)![partition]!;
  }

  get partitionCount(): number {
    return this.partitions;
  }

  partition(lane: Lane, partition: number): Partition {
    const p = this.lanes.get(lane)?.[partition];
    if (p === undefined) throw new RangeError(`no partition ${lane}/${partition}`);
    return p;
  }

  /** Bytes queued or being written (backpressure). */
  get pendingBytes(): number {
    return this.budget.bytes;
  }

  /** Resolves when an append of `bytes` would not wait for room. */
  waitForRoom(bytes = 1): Promise<void> {
    return this.budget.waitForRoom(bytes);
  }

  assertOpen(): void {
    if (this.closing !== undefined) throw new RoadlogError('ROADLOG_ERR_LOG_CLOSED', `edge log ${this.dir} is closed`);
  }

  /** Appends one record; resolves with its position only after it is fsynced. */
  async append(input: AppendInput): Promise<AppendResult> {
    this.assertOpen();
    const lane: Lane = input.lane ?? (input.critical === true ? 'critical' : 'normal');
    const value = typeof input.value === 'string' ? Buffer.from(input.value, 'utf8') : input.value;
    const ingestTs = this.now();
    const prepared = prepareRecord({ key: input.key, value, deviceTs: input.deviceTs ?? ingestTs, critical: lane === 'critical', ...(input.headers === undefined ? {} : { headers: input.headers }) });
    const partition = partitionForKey(prepared.key, this.partitions);
    const record: PendingRecord = { record: prepared, ingestTs };
    try {
      return await this.commits.get(lane)![partition]!.submit(record, prepared.size);
    } catch (err) {
      this.metrics.appendFailures.inc({ code: err instanceof RoadlogError ? err.code : 'UNKNOWN' });
      throw err;
    }
  }

  /** Waits until everything appended so far is fsynced. */
  async flushNow(): Promise<void> {
    await Promise.all([...this.commits.values()].flat().map((gc) => gc.drain()));
  }

  /**
   * One flush cycle of one partition: admit under the quota, write and fdatasync, commit. On a
   * full disk: undo, free space (segments of any partition may go, each under its own mutex), retry.
   */
  private async flush(lane: Lane, partition: number, items: PendingRecord[]): Promise<(AppendResult | Error)[]> {
    const part = this.partition(lane, partition);
    const started = performance.now();
    const results: (AppendResult | Error)[] = new Array(items.length);
    let idx = items.map((_, i) => i);
    let canFree = true;
    for (let attempt = 0; idx.length > 0; attempt++) {
      const outcome = await this.mutex(lane, partition).run(async () => {
        const admitted = this.options.quotaBytes === undefined ? idx : this.fullDisk.admitUnderQuota(positionKey(lane, partition), items, idx, results, canFree);
        if (admitted === 'full') return { kind: 'full' as const, err: undefined };
        idx = admitted;
        if (idx.length === 0) return { kind: 'done' as const };
        const plan = part.prepare(idx.map((i) => items[i]!));
        try {
          await part.write(plan);
        } catch (err) {
          await part.rollback(plan);
          return isDiskFull(err) ? { kind: 'full' as const, err } : { kind: 'failed' as const, err };
        }
        part.commit(plan);
        for (const listener of this.appendListeners) listener();
        idx.forEach((i, j) => (results[i] = { lane, partition, offset: plan.offsets[j]! }));
        this.metrics.appends.inc({ lane }, idx.length);
        this.metrics.appendBytes.inc({ lane }, plan.bytes);
        return { kind: 'done' as const };
      });
      if (outcome.kind === 'done') break;
      // Out of space: free what every cursor has read, then (drop-oldest) the oldest records; retry.
      // Over the quota with nothing left to free: the retry stores what fits and refuses the rest.
      if (outcome.kind === 'full' && canFree && attempt < 1000) {
        canFree = await this.fullDisk.freeSpace();
        if (canFree || outcome.err === undefined) continue;
      }
      const err = outcome.err === undefined ? this.fullDisk.quotaError() : this.toLogError(outcome.err, { lane, partition });
      for (const i of idx) results[i] = err;
      break;
    }
    this.metrics.fsyncSeconds.observe((performance.now() - started) / 1000);
    this.metrics.batchRecords.observe(items.length);
    this.metrics.pendingBytes.set(this.budget.bytes);
    return results;
  }

  private toLogError(err: unknown, g: { lane: Lane; partition: number }): RoadlogError {
    if (isDiskFull(err)) {
      return new RoadlogError('ROADLOG_ERR_LOG_FULL', `edge log ${this.dir}: disk full writing ${g.lane}/${g.partition} (policy ${this.options.fullDisk.policy}); the append was not stored`, { cause: err, details: { lane: g.lane, partition: g.partition } });
    }
    return new RoadlogError('ROADLOG_ERR_LOG_IO', `edge log ${this.dir}: writing ${g.lane}/${g.partition} failed: ${(err as Error)?.message ?? String(err)}; the append was not stored`, { cause: err, details: { lane: g.lane, partition: g.partition, errno: errnoCode(err) } });
  }

  /**
   * Deletes the oldest segment of a partition under its mutex, if it is still exactly the one
   * planned (its base and next offset): the plan was made without the mutex, and meanwhile a
   * flush may have appended to it (then it holds records no cursor has read) or another
   * deletion freed it. `changed`: not deleted, plan again; `closed`: the log is closing;
   * undefined: nothing to delete.
   */
  private deleteOldestIf(planned: SegmentInfo): Promise<DeletedSegment | 'changed' | 'closed' | undefined> {
    return this.mutex(planned.lane, planned.partition).run(async () => {
      if (this.partitionsClosing) return 'closed';
      const part = this.partition(planned.lane, planned.partition);
      const oldest = part.oldestWithRecords;
      if (oldest === undefined || oldest.base !== planned.base || oldest.nextOffset !== planned.nextOffset) return 'changed';
      return part.deleteOldest();
    });
  }

  private segmentInfos(): SegmentInfo[][] {
    const out: SegmentInfo[][] = [];
    for (const [lane, parts] of this.lanes) {
      parts.forEach((part, partition) => out.push(part.segments.map((s) => ({ lane, partition, base: s.base, nextOffset: s.nextOffset, bytes: s.size, maxTs: s.maxTs }))));
    }
    return out;
  }

  get sizeBytes(): number {
    let n = 0;
    for (const parts of this.lanes.values()) for (const p of parts) n += p.sizeBytes;
    return n;
  }

  /** Deletes what retention allows now (size and age; only segments every cursor has passed). */
  async runRetention(): Promise<{ deletedSegments: number; deletedBytes: number }> {
    this.assertOpen();
    const run = this.retain();
    this.retentionRuns.add(run);
    try {
      return await run;
    } finally {
      this.retentionRuns.delete(run);
    }
  }

  private async retain(): Promise<{ deletedSegments: number; deletedBytes: number }> {
    const { maxBytes, maxAgeHours } = this.options.retention;
    const plan = planRetention(this.segmentInfos(), [...this.cursorCache.values()], { maxBytes, maxAgeMs: maxAgeHours === undefined ? undefined : maxAgeHours * 3_600_000 }, this.now());
    let deletedBytes = 0;
    let deletedSegments = 0;
    for (const s of plan) {
      const gone = await this.deleteOldestIf(s);
      if (gone === 'closed') break;
      if (gone === undefined || gone === 'changed') continue;
      deletedBytes += gone.bytes;
      deletedSegments++;
    }
    this.refreshGauges();
    return { deletedSegments, deletedBytes };
  }

  /**
   * Calls `listener` (synchronously, so keep it cheap) each time appended records become
   * durable and so readable. Returns the function that removes it.
   */
  onDurableAppend(listener: () => void): () => void {
    this.appendListeners.add(listener);
    return () => void this.appendListeners.delete(listener);
  }

  /** A reader positioned at the named cursor's committed positions (the start of the log for a new cursor). */
  async openReader(name: string): Promise<LogReader> {
    this.assertOpen();
    checkCursorName(name);
    const host: ReaderHost = {
      partitionCount: this.partitions,
      partition: (lane, p) => this.partition(lane, p),
      saveCursor: async (n, positions) => {
        await this.cursorStore.save(n, positions);
        this.cursorCache.set(n, positions);
        this.refreshGauges();
      },
      noteSkipped: (ranges: readonly SkippedRange[]) => {
        for (const r of ranges) if (r.reason !== 'deleted' && r.reason !== 'gap') this.noteCorrupt(r.lane, r.partition, r.fromOffset, r.toOffset);
      },
      assertOpen: () => this.assertOpen(),
    };
    return new LogReader(host, name, this.cursorCache.get(name) ?? {});
  }

  /**
   * What a cursor has not read yet, per (lane, partition) with anything waiting: records
   * (offsets; a gap counts), bytes (to within one index interval) and the ingest and device
   * time of the oldest waiting record.
   */
  async backlog(cursor: string): Promise<PartitionBacklog[]> {
    this.assertOpen();
    return backlogOf(this.lanes, this.cursorCache.get(cursor) ?? {});
  }

  /** Committed positions of every cursor. */
  cursors(): Map<string, CursorPositions> {
    return new Map([...this.cursorCache].map(([k, v]) => [k, { ...v }]));
  }

  stats(): PartitionStats[] {
    return statsOf(this.lanes);
  }

  private refreshGauges(): void {
    const bytes = new Map<Lane, number>();
    for (const s of this.stats()) {
      bytes.set(s.lane, (bytes.get(s.lane) ?? 0) + s.bytes);
      for (const [name, pos] of this.cursorCache) this.metrics.backlog.set({ lane: s.lane, partition: String(s.partition), cursor: name }, Math.max(0, s.endOffset - Math.max(pos[positionKey(s.lane, s.partition)] ?? 0, s.startOffset)));
    }
    for (const [lane, n] of bytes) this.metrics.sizeBytes.set({ lane }, n);
  }

  /** Flushes and fsyncs what is queued, closes every file and releases the lock. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.retentionTimer !== undefined) clearInterval(this.retentionTimer);
      // Appends already accepted are written; those still waiting for room, and later ones, get LOG_CLOSED.
      const all = [...this.commits.values()].flat();
      await Promise.all(all.map((gc) => gc.drain()));
      for (const gc of all) gc.close();
      this.budget.releaseAllWaiters();
      await Promise.all(all.map((gc) => gc.drain()));
      this.partitionsClosing = true;
      await Promise.allSettled([...this.retentionRuns]);
      await this.cursorStore.idle();
      for (const [lane, parts] of this.lanes) await Promise.all(parts.map((p, i) => this.mutex(lane, i).run(() => p.close())));
      await this.lock?.release();
    })();
    return this.closing;
  }
}

export function partitionDir(dir: string, lane: Lane, partition: number): string {
  return join(dir, lane, String(partition).padStart(3, '0'));
}
