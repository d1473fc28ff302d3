import { z } from 'zod';
import { httpSchema, instanceIdSchema } from '../component.js';

/** The hot path (`hot:` in the config file; `ROADLOG_HOT_*` in the environment). */
export const HotOptionsSchema = z
  .object({
    /** Consumer group; every instance of one hot path shares it. */
    groupId: z.string().regex(/^[A-Za-z0-9._-]{1,200}$/).default('hot'),
    /** Names this instance in logs and its client ids. Default: host name and process id. */
    instanceId: instanceIdSchema(),
    /** The rule pack (YAML). Unset: cloud/hot/rules/default.yaml. */
    rules: z.string().min(1).optional(),
    /** Where a group with no committed offsets starts reading telemetry. */
    startFrom: z.enum(['earliest', 'latest']).default('earliest'),
    /** A snapshot of a partition's state goes to the changelog at most this often (restore replays the records since). */
    snapshotIntervalMs: z.number().int().min(100).max(3_600_000).default(30_000),
    /**
     * A partition with no alert events to publish commits (its offsets, and a snapshot when due)
     * at most this often, ms; alert events and operators' commands are committed at once. Each
     * transaction costs the broker several log writes: measured here at 1,000 msg/s over 12
     * partitions (test/bench/hot.ts), committing each partition as often as it could (0) kept
     * the broker at 67 % of a core, this default at 44 %. A crash re-evaluates at most this much.
     */
    commitIntervalMs: z.number().int().min(0).max(60_000).default(1_000),
    /** Longest wait of a fetch for new records, ms (latency against request rate). */
    maxWaitMs: z.number().int().min(1).max(10_000).default(50),
    /** Snapshot chunks stay under this size (the changelog topic allows 8 MiB records). */
    snapshotChunkBytes: z.number().int().min(1024).max(8 * 1024 * 1024).default(900 * 1024),
    /** The consumer group session: an instance silent this long loses its partitions. */
    sessionTimeoutMs: z.number().int().min(6_000).max(300_000).default(10_000),
    /** /healthz, /metrics and /status. */
    http: httpSchema(9465),
  })
  .strict();

export type HotOptions = z.output<typeof HotOptionsSchema>;
