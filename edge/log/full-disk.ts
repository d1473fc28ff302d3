import { RoadlogError } from '../../shared/errors/index.js';
import type { LogMetrics } from './metrics.js';
import type { EdgeLogOptions } from './options.js';
import type { DeletedSegment, PendingRecord } from './partition.js';
import { pickDropVictim, planRetention, type CursorSet, type SegmentInfo } from './retention.js';
import type { AppendResult, LogLogger } from './types.js';

/**
 * The log's full-disk and quota policy (`edge.log.fullDisk.policy`, `edge.log.quotaBytes`).
 *
 * A flush cycle admits its appends, in order, while they fit under quotaBytes
 * (`admitUnderQuota`). When the disk is full (ENOSPC, or EDQUOT: a filesystem quota) or the quota is reached, it frees space
 * (`freeSpace`) and tries again: first a segment every cursor has read, then, by policy
 * `drop-oldest`, the oldest records by lane priority (dead letters first, critical last,
 * counted in `roadlog_edge_log_dropped_records_total`). Once nothing more can go, what does not
 * fit is refused with ROADLOG_ERR_LOG_FULL (`quotaError`). Deleting a segment is the log's
 * (`deleteOldestIf`, under the partition's mutex); this decides what to delete.
 */
export interface FullDiskHost {
  /** Bytes in every segment of the log now. */
  sizeBytes(): number;
  /** Every partition's segments, oldest first. */
  segmentInfos(): SegmentInfo[][];
  /** Committed positions of every cursor. */
  cursors(): CursorSet;
  /** Deletes the planned segment if it is still the oldest and unchanged (see EdgeLog). */
  deleteOldestIf(planned: SegmentInfo): Promise<DeletedSegment | 'changed' | 'closed' | undefined>;
  now(): number;
}

export class FullDiskPolicy {
  /** Per (lane, partition): size of the largest append refused for the quota since; later appends there wait until it would fit, so none overtakes it. */
  private readonly quotaNeed = new Map<string, number>();

  constructor(
    private readonly dir: string,
    private readonly options: EdgeLogOptions,
    private readonly host: FullDiskHost,
    private readonly metrics: LogMetrics,
    private readonly logger: LogLogger,
  ) {}

  quotaError(): RoadlogError {
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
  admitUnderQuota(key: string, items: PendingRecord[], idx: number[], results: (AppendResult | Error)[], canFree: boolean): number[] | 'full' {
    const quota = this.options.quotaBytes!;
    let used = this.host.sizeBytes();
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

  /** Frees one segment: one every cursor has passed, else (drop-oldest) the oldest by lane priority. False when nothing can go. */
  async freeSpace(): Promise<boolean> {
    const consumed = planRetention(this.host.segmentInfos(), this.host.cursors(), { maxBytes: 0 }, this.host.now())[0];
    if (consumed !== undefined) {
      const gone = await this.host.deleteOldestIf(consumed);
      return gone !== 'closed' && gone !== undefined; // 'changed': plan again
    }
    if (this.options.fullDisk.policy !== 'drop-oldest') return false;
    const victim = pickDropVictim(this.host.segmentInfos());
    if (victim === undefined) return false;
    const gone = await this.host.deleteOldestIf(victim);
    if (gone === 'changed') return true; // a concurrent flush changed it: plan again
    if (gone === undefined || gone === 'closed') return false;
    this.metrics.droppedRecords.inc({ lane: victim.lane, reason: 'full-disk' }, gone.records);
    this.logger.warn(
      { lane: victim.lane, partition: victim.partition, fromOffset: gone.base, records: gone.records, bytes: gone.bytes },
      `edge log: disk full, dropped ${gone.records} unforwarded records (${victim.lane}/${victim.partition} offsets ${gone.base}..${gone.base + gone.records - 1}) by policy drop-oldest`,
    );
    return true;
  }
}
