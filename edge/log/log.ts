import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import type { Registry } from 'prom-client';
import { RoadlogError } from '../../shared/errors/index.js';
import { partitionForKey } from '../../shared/partitioner/index.js';
import { writeFileAtomic } from '../../shared/atomic-file/index.js';
import { Mutex } from '../../shared/mutex/index.js';
import { CursorStore, positionKey, type CursorPositions, checkCursorName } from './cursor.js';
import { errnoCode, nodeFileLayer, readWholeFile, type FileLayer } from './file-layer.js';
import { GroupCommit, PendingBudget } from './group-commit.js';
import { acquireLock, isProcessAlive, type IsProcessAlive, type LogLock } from './lock.js';
import { createLogMetrics, type LogMetrics } from './metrics.js';
import { DEFAULT_PARTITIONS, LANES, parseEdgeLogOptions, type EdgeLogOptions, type EdgeLogOptionsInput, type Lane } from './options.js';
import { Partition, type PendingRecord } from './partition.js';
import { LogReader, type ReaderHost, type SkippedRange } from './reader.js';
import { prepareRecord, type RecordHeader } from './record.js';
import { pickDropVictim, planRetention, type SegmentInfo } from './retention.js';

/**
 * The edge log: P partitions in each of three lanes, group commit, cursors, retention and
 * the full-disk policy. The promise it keeps: an append that resolved is fsynced and is
 * never lost (loss window 0), short of the disk itself failing.
 */
export const LOG_FORMAT_VERSION = 1;
const LOG_ID = /^[0-9a-f]{16}$/;

/** An existing log's meta.json, checked: this format, and a partition count the log can have. */
export function parseLogMeta(raw: Buffer, path: string): { partitions: number; logId?: unknown; [key: string]: unknown } {
  let meta: { format?: unknown; partitions?: unknown; logId?: unknown };
  try {
    meta = JSON.parse(raw.toString('utf8')) as typeof meta;
  } catch (err) {
    throw new RoadlogError('ROADLOG_ERR_LOG_FORMAT', `${path}: not JSON (${(err as Error).message})`, { cause: err });
  }
  if (meta.format !== LOG_FORMAT_VERSION) throw new RoadlogError('ROADLOG_ERR_LOG_FORMAT', `${path}: format ${String(meta.format)}, this roadlog reads format ${LOG_FORMAT_VERSION}`);
  const { partitions } = meta;
  if (typeof partitions !== 'number' || !Number.isSafeInteger(partitions) || partitions < 1 || partitions > 1024) {
    throw new RoadlogError('ROADLOG_ERR_LOG_FORMAT', `${path}: partitions ${String(partitions)}, expected a whole number from 1 to 1024`);
  }
  return { ...meta, partitions };
}

export interface AppendInput {
  /** The vehicleId: picks the partition, so one vehicle's records stay in order. */
  key: string;
  value: Uint8Array | string;
  /** Device timestamp (ms); defaults to the ingest time. */
  deviceTs?: number;
  /** Alarms and trouble codes: stored in the `critical` lane, served first, evicted last. */
  critical?: boolean;
  /** `dead` for invalid payloads (put the reason in a header); otherwise chosen by `critical`. */
  lane?: Lane;
  headers?: readonly RecordHeader[];
}

export interface AppendResult {
  lane: Lane;
  partition: number;
  offset: number;
}

export interface LogLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface EdgeLogDeps {
  fileLayer?: FileLayer;
  logger?: LogLogger;
  /** Registry for the log's metrics (a private one when absent). */
  metrics?: Registry;
  now?: () => number;
  /** Decides whether the pid in a found lock file still runs (tests of crashes in one process pass their own). */
  isProcessAlive?: IsProcessAlive;
}

export interface PartitionStats {
  lane: Lane;
  partition: number;
  startOffset: number;
  endOffset: number;
  bytes: number;
  segments: number;
  firstTs: number;
  maxTs: number;
}

export interface PartitionBacklog {
  lane: Lane;
  partition: number;
  records: number;
  bytes: number;
  /** Undefined when the oldest waiting offsets are damaged or a gap. */
  oldestIngestTs: number | undefined;
  oldestDeviceTs: number | undefined;
}

const silent: LogLogger = { info() {}, warn() {}, error() {} };

export async function openLog(dir: string, options: EdgeLogOptionsInput = {}, deps: EdgeLogDeps = {}): Promise<EdgeLog> {
  return EdgeLog.open(dir, parseEdgeLogOptions(options), deps);
}

export class EdgeLog {
  private readonly lanes = new Map<Lane, Partition[]>();
  /** One group commit per (lane, partition), sharing one backpressure budget: a slow fsync delays only its own partition's appends. */
  private readonly commits = new Map<Lane, GroupCommit<PendingRecord, AppendResult>[]>();
  private readonly budget: PendingBudget;
  private readonly cursorStore: CursorStore;
  private readonly cursorCache = new Map<string, CursorPositions>();
  private readonly metrics: LogMetrics;
  private readonly logger: LogLogger;
  private readonly now: () => number;
  private lock: LogLock | undefined;
  private closing: Promise<void> | undefined;
  /** Per (lane, partition): its flush cycle and the deletion of its segments take it. */
  private readonly mutexes = new Map<Lane, Mutex[]>();
  /** Damaged ranges already counted in the metric (`lane/partition/fromOffset`): found on open or by a reader, counted once. */
  private readonly corruptSeen = new Set<string>();
  /** Per (lane, partition): size of the largest append refused for the quota since; later appends there wait until it would fit, so none overtakes it. */
  private readonly quotaNeed = new Map<string, number>();
  /** Retention runs in progress: close() waits for them. */
  private readonly retentionRuns = new Set<Promise<unknown>>();
  /** Set by close() once appends are drained: no segment is deleted after it. */
  private partitionsClosing = false;
  private retentionTimer: NodeJS.Timeout | undefined;
  /**
   * This log's own id, random, made when the log is created (meta.json). Offsets start at 0 in
   * every new log, so a gateway re-imaged with the same gateway id, or two gateways given one
   * name, would repeat (gateway, lane, partition, offset): the id makes the envelope unique.
   */
  logId = '';
  /** Partitions per lane: from meta.json, or, for a new log, the configured count or DEFAULT_PARTITIONS. Set by open. */
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
    const partitions = (this.partitions = await this.checkMeta());
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
        const lost = corrupt.reduce((n, c) => n + c.toOffset - c.fromOffset, 0);
        if (truncatedBytes > 0 || corrupt.length > 0 || rebuiltIndexes > 0 || skippedOffsets !== undefined) {
          const gap = skippedOffsets === undefined ? 'none' : `${skippedOffsets.fromOffset}..${skippedOffsets.toOffset - 1}`;
          this.logger.warn({ lane, partition: p, truncatedBytes, skippedOffsets, corrupt, rebuiltIndexes }, `edge log ${lane}/${p}: recovered (torn tail cut: ${truncatedBytes} bytes; offsets left unused: ${gap}; damaged records skipped: ${lost}; indexes rebuilt: ${rebuiltIndexes})`);
        }
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

  /** Creates meta.json for a new log, or checks an existing one; returns the log's partition count. */
  private async checkMeta(): Promise<number> {
    const path = join(this.dir, 'meta.json');
    const raw = await readWholeFile(this.fs, path);
    const configured = this.options.partitions;
    if (raw === undefined) {
      const partitions = configured ?? DEFAULT_PARTITIONS;
      this.logId = randomBytes(8).toString('hex');
      const meta = { format: LOG_FORMAT_VERSION, partitions, lanes: [...LANES], logId: this.logId, createdAt: new Date(this.now()).toISOString() };
      await writeFileAtomic(path, `${JSON.stringify(meta)}\n`, { fs: this.fs });
      return partitions;
    }
    const meta = parseLogMeta(raw, path);
    const { partitions } = meta;
    if (configured !== undefined && partitions !== configured) {
      throw new RoadlogError('ROADLOG_ERR_LOG_FORMAT', `${this.dir} has ${partitions} partitions but edge.log.partitions is ${configured} (the count is fixed when the log is created; leave edge.log.partitions unset to use the log's own)`);
    }
    if (typeof meta.logId === 'string' && LOG_ID.test(meta.logId)) {
      this.logId = meta.logId;
    } else {
      // A log from before log ids: give it one now.
      this.logId = randomBytes(8).toString('hex');
      await writeFileAtomic(path, `${JSON.stringify({ ...meta, logId: this.logId })}\n`, { fs: this.fs });
    }
    return partitions;
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
        const admitted = this.options.quotaBytes === undefined ? idx : this.admitUnderQuota(positionKey(lane, partition), items, idx, results, canFree);
        if (admitted === 'full') return { kind: 'full' as const, err: undefined };
        idx = admitted;
        if (idx.length === 0) return { kind: 'done' as const };
        const plan = part.prepare(idx.map((i) => items[i]!));
        try {
          await part.write(plan);
        } catch (err) {
          await part.rollback(plan);
          return errnoCode(err) === 'ENOSPC' ? { kind: 'full' as const, err } : { kind: 'failed' as const, err };
        }
        part.commit(plan);
        idx.forEach((i, j) => (results[i] = { lane, partition, offset: plan.offsets[j]! }));
        this.metrics.appends.inc({ lane }, idx.length);
        this.metrics.appendBytes.inc({ lane }, plan.bytes);
        return { kind: 'done' as const };
      });
      if (outcome.kind === 'done') break;
      // Out of space: free what every cursor has read, then (drop-oldest) the oldest records; retry.
      // Over the quota with nothing left to free: the retry stores what fits and refuses the rest.
      if (outcome.kind === 'full' && canFree && attempt < 1000) {
        canFree = await this.freeSpace();
        if (canFree || outcome.err === undefined) continue;
      }
      const err = outcome.err === undefined ? this.quotaError() : this.toLogError(outcome.err, { lane, partition });
      for (const i of idx) results[i] = err;
      break;
    }
    this.metrics.fsyncSeconds.observe((performance.now() - started) / 1000);
    this.metrics.batchRecords.observe(items.length);
    this.metrics.pendingBytes.set(this.budget.bytes);
    return results;
  }

  private toLogError(err: unknown, g: { lane: Lane; partition: number }): RoadlogError {
    if (errnoCode(err) === 'ENOSPC') {
      return new RoadlogError('ROADLOG_ERR_LOG_FULL', `edge log ${this.dir}: disk full writing ${g.lane}/${g.partition} (policy ${this.options.fullDisk.policy}); the append was not stored`, { cause: err, details: { lane: g.lane, partition: g.partition } });
    }
    // No dedicated code for an I/O failure yet; INTERNAL is the closest (see the report).
    return new RoadlogError('ROADLOG_ERR_LOG_IO', `edge log ${this.dir}: writing ${g.lane}/${g.partition} failed: ${(err as Error)?.message ?? String(err)}; the append was not stored`, { cause: err, details: { lane: g.lane, partition: g.partition, errno: errnoCode(err) } });
  }

  private quotaError(): RoadlogError {
    const quota = this.options.quotaBytes;
    return new RoadlogError('ROADLOG_ERR_LOG_FULL', `edge log ${this.dir}: quota of ${String(quota)} bytes reached (policy ${this.options.fullDisk.policy}); the append was not stored`, { details: { quotaBytes: quota } });
  }

  /**
   * Admits appends, in order, while they fit under quotaBytes. 'full' asks the caller to free
   * space and come back; once nothing more can be freed (`canFree` false) what does not fit is
   * refused, and so is everything after it in the batch, and every later append until the
   * refused one would fit (`quotaNeed`): a smaller record must not overtake a refused one of
   * the same vehicle. Concurrent flushes of other partitions can overshoot the quota by their
   * batches.
   */
  private admitUnderQuota(key: string, items: PendingRecord[], idx: number[], results: (AppendResult | Error)[], canFree: boolean): number[] | 'full' {
    const quota = this.options.quotaBytes!;
    let used = this.sizeBytes;
    const admitted: number[] = [];
    let refusing = false;
    for (const i of idx) {
      const size = items[i]!.record.size;
      if (!refusing && used + Math.max(size, this.quotaNeed.get(key) ?? 0) <= quota) {
        admitted.push(i);
        used += size;
        this.quotaNeed.delete(key);
      } else if (canFree && !refusing) {
        return 'full';
      } else {
        results[i] = this.quotaError();
        refusing = true;
        if (size <= quota) this.quotaNeed.set(key, Math.max(this.quotaNeed.get(key) ?? 0, size));
      }
    }
    return admitted;
  }

  /**
   * Deletes the oldest segment of a partition under its mutex, if it is still exactly the one
   * planned (its base and next offset): the plan was made without the mutex, and meanwhile a
   * flush may have appended to it (then it holds records no cursor has read) or another
   * deletion freed it. `changed`: not deleted, plan again; `closed`: the log is closing;
   * undefined: nothing to delete.
   */
  private deleteOldestIf(planned: SegmentInfo): Promise<{ records: number; bytes: number; base: number } | 'changed' | 'closed' | undefined> {
    return this.mutex(planned.lane, planned.partition).run(async () => {
      if (this.partitionsClosing) return 'closed';
      const part = this.partition(planned.lane, planned.partition);
      const oldest = part.oldestWithRecords;
      if (oldest === undefined || oldest.base !== planned.base || oldest.nextOffset !== planned.nextOffset) return 'changed';
      return part.deleteOldest();
    });
  }

  /** Frees one segment: one every cursor has passed, else (drop-oldest) the oldest by lane priority. False when nothing can go. */
  private async freeSpace(): Promise<boolean> {
    const consumed = planRetention(this.segmentInfos(), [...this.cursorCache.values()], { maxBytes: 0 }, this.now())[0];
    if (consumed !== undefined) {
      const gone = await this.deleteOldestIf(consumed);
      return gone !== 'closed' && gone !== undefined; // 'changed': plan again
    }
    if (this.options.fullDisk.policy !== 'drop-oldest') return false;
    const victim = pickDropVictim(this.segmentInfos());
    if (victim === undefined) return false;
    const gone = await this.deleteOldestIf(victim);
    if (gone === 'changed') return true; // a concurrent flush changed it: plan again
    if (gone === undefined || gone === 'closed') return false;
    this.metrics.droppedRecords.inc({ lane: victim.lane, reason: 'full-disk' }, gone.records);
    this.logger.warn(
      { lane: victim.lane, partition: victim.partition, fromOffset: gone.base, records: gone.records, bytes: gone.bytes },
      `edge log: disk full, dropped ${gone.records} unforwarded records (${victim.lane}/${victim.partition} offsets ${gone.base}..${gone.base + gone.records - 1}) by policy drop-oldest`,
    );
    return true;
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
    const positions = this.cursorCache.get(cursor) ?? {};
    const out: PartitionBacklog[] = [];
    for (const [lane, parts] of this.lanes) {
      for (const [partition, part] of parts.entries()) {
        const from = Math.max(positions[positionKey(lane, partition)] ?? 0, part.startOffset);
        if (from >= part.endOffset) continue;
        const first = (await part.read(from, { maxRecords: 1, maxBytes: 1 })).records[0];
        out.push({ lane, partition, records: part.endOffset - from, bytes: part.bytesFrom(from), oldestIngestTs: first?.ingestTs, oldestDeviceTs: first?.deviceTs });
      }
    }
    return out;
  }

  /** Committed positions of every cursor. */
  cursors(): Map<string, CursorPositions> {
    return new Map([...this.cursorCache].map(([k, v]) => [k, { ...v }]));
  }

  stats(): PartitionStats[] {
    const out: PartitionStats[] = [];
    for (const [lane, parts] of this.lanes) {
      parts.forEach((p, partition) => {
        const withData = p.segments.filter((s) => s.nextOffset > s.base);
        out.push({ lane, partition, startOffset: p.startOffset, endOffset: p.endOffset, bytes: p.sizeBytes, segments: p.segments.length, firstTs: withData[0]?.firstTs ?? 0, maxTs: Math.max(0, ...withData.map((s) => s.maxTs)) });
      });
    }
    return out;
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
