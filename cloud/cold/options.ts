import { join } from 'node:path';
import { z } from 'zod';
import { httpSchema, instanceIdSchema } from '../component.js';
import { roadlogHome } from '../../shared/home/index.js';

/** The archiver (`cold:` in the config file; `ROADLOG_COLD_*` in the environment). */
export const ColdOptionsSchema = z
  .object({
    /** The archive's root folder (local disk). Default: $ROADLOG_HOME/archive. */
    archive: z.string().min(1).default(() => join(roadlogHome(), 'archive')),
    /** Consumer group; every archiver of one archive shares it. */
    groupId: z.string().regex(/^[A-Za-z0-9._-]{1,200}$/).default('cold'),
    /** Names this instance in logs and its client ids. Default: host name and process id. */
    instanceId: instanceIdSchema(),
    flush: z
      .object({
        /** A partition's rows are written out when it holds this many... */
        maxRecords: z.number().int().min(1).max(50_000_000).default(2_000_000),
        /** ...or this many bytes of record JSON (Parquet with zstd is about a tenth of it)... */
        maxBytes: z.number().int().min(1024).max(16 * 1024 ** 3).default(1024 ** 3),
        /** ...or its oldest unflushed row was read this long ago, ms. A crash re-reads at most this much. */
        maxAgeMs: z.number().int().min(100).max(24 * 3_600_000).default(300_000),
      })
      .strict()
      .prefault({}),
    /** All partitions' unflushed rows together stay under this many (the largest partition is flushed first). */
    maxBufferedRecords: z.number().int().min(1).max(100_000_000).default(4_000_000),
    /** DuckDB's memory limit, MiB (its buffers spill to a temp folder beyond it). */
    duckdbMemoryMiB: z.number().int().min(64).max(1024 * 1024).default(1024),
    /** The consumer group session: an instance silent this long loses its partitions. */
    sessionTimeoutMs: z.number().int().min(6_000).max(300_000).default(30_000),
    /** /healthz, /metrics and /status. */
    http: httpSchema(9466),
  })
  .strict();

export type ColdOptions = z.output<typeof ColdOptionsSchema>;
