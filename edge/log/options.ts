import { z } from 'zod';
import { RoadlogError } from '../../shared/errors/index.js';
import { formatIssues, toFieldIssues } from '../../shared/schema/issues.js';

const MiB = 1024 * 1024;

/**
 * Partitions per lane of a new log when edge.log.partitions is unset. Each partition with
 * records waiting costs one durable write per flush (up to one per maxBatchDelayMs), and on a
 * small gateway those writes, more than the records, are what the log costs: at 5k msg/s the
 * agent used 22 % less CPU with 2 partitions than with 8 (edge/README.md, "Partitions").
 */
export const DEFAULT_PARTITIONS = 2;

/** The lanes, in the order readers serve them. `dead`: invalid payloads, the reason in a header. */
export const LANES = ['critical', 'normal', 'dead'] as const;
export type Lane = (typeof LANES)[number];

/** Config of the edge log (`edge.log` in the config file). Every key has a default. */
export const EdgeLogOptionsSchema = z
  .object({
    /**
     * Partitions per lane; a record goes to partitionForKey(vehicleId, partitions). Fixed when the
     * log is created (meta.json). Unset: a new log gets DEFAULT_PARTITIONS and an existing log
     * keeps its count; set: an existing log with another count is refused.
     */
    partitions: z.number().int().min(1).max(1024).optional(),
    /** A segment is rolled when the next record would take it past this size. */
    segmentBytes: z.number().int().min(1024).max(1024 * MiB).default(16 * MiB),
    /** Tests only: allow segmentBytes below 1 MiB. */
    allowSmallSegments: z.boolean().default(false),
    /** Bytes between two sparse index entries. */
    indexIntervalBytes: z.number().int().min(64).max(MiB).default(4096),
    /** Group commit: the longest an append waits for others to share its fsync. */
    maxBatchDelayMs: z.number().min(0).max(1000).default(2),
    /**
     * Group commit at a steady, moderate rate: while a flush waiting this long would carry two
     * records or more and one waiting maxBatchDelayMs fewer than two, it waits this long (fewer,
     * fuller durable writes: each costs a system call and a trip through libuv's thread pool).
     * At or below maxBatchDelayMs it never changes.
     */
    busyBatchDelayMs: z.number().min(0).max(1000).default(5),
    /** Group commit: a batch this large is flushed at once. */
    maxBatchBytes: z.number().int().min(1).default(MiB),
    /** Backpressure: appends wait while this many bytes are queued or being written. */
    maxPendingBytes: z.number().int().min(1).default(32 * MiB),
    retention: z
      .object({
        /** Delete the oldest segments that every cursor has passed while the log is larger than this. */
        maxBytes: z.number().int().min(1).optional(),
        /** Delete segments whose newest record is older than this, once every cursor has passed them. */
        maxAgeHours: z.number().positive().optional(),
        /** How often retention runs in the background (it also runs when the disk is full). */
        checkIntervalMs: z.number().int().min(10).default(10_000),
      })
      .strict()
      .default({ checkIntervalMs: 10_000 }),
    fullDisk: z
      .object({
        /** `reject`: appends fail with ROADLOG_ERR_LOG_FULL. `drop-oldest`: delete the oldest segments, non-critical lanes first, and count the records. */
        policy: z.enum(['reject', 'drop-oldest']).default('reject'),
      })
      .strict()
      .default({ policy: 'reject' }),
    /** Treat the log as full when its segments take this many bytes (besides a real ENOSPC). */
    quotaBytes: z.number().int().min(1).optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.segmentBytes < MiB && !o.allowSmallSegments) {
      ctx.addIssue({ code: 'custom', path: ['segmentBytes'], message: `expected a number ≥ 1 MiB (${MiB}), got ${o.segmentBytes}` });
    }
  });

export type EdgeLogOptionsInput = z.input<typeof EdgeLogOptionsSchema>;
export type EdgeLogOptions = Readonly<z.output<typeof EdgeLogOptionsSchema>>;

/** Parses and freezes; the error names the field: `edge.log.segmentBytes: expected ...`. */
export function parseEdgeLogOptions(input: unknown, prefix = 'edge.log'): EdgeLogOptions {
  const r = EdgeLogOptionsSchema.safeParse(input ?? {});
  if (!r.success) {
    const issues = toFieldIssues(r.error, input).map((i) => ({ ...i, path: `${prefix}.${i.path}` }));
    throw new RoadlogError('ROADLOG_ERR_CONFIG_INVALID', formatIssues(issues), { details: { issues } });
  }
  return Object.freeze({ ...r.data, retention: Object.freeze(r.data.retention), fullDisk: Object.freeze(r.data.fullDisk) });
}
