import { z } from 'zod';

/** The forwarder (`edge.forwarder`): from the edge log to Kafka. */
export const ForwarderOptionsSchema = z
  .object({
    /** Off: records stay in the edge log (a gateway with no uplink yet). On by default when `kafka.brokers` is set. */
    enabled: z.boolean().default(true),
    /** The reader's cursor name in the edge log. */
    cursor: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/).default('forwarder'),
    /** One read from the edge log, at most (a backlog is read in batches this big; light traffic in whatever is there). */
    maxBatchRecords: z.number().int().min(1).max(100_000).default(5_000),
    maxBatchBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(2 * 1024 * 1024),
    /** Batches read and not yet wholly acknowledged by Kafka, at most (the pipeline's depth). */
    maxInFlightBatches: z.number().int().min(1).max(64).default(8),
    /** Value bytes read and not yet acknowledged, at most (bounds the forwarder's memory). */
    maxInFlightBytes: z.number().int().min(64 * 1024).max(256 * 1024 * 1024).default(8 * 1024 * 1024),
    /** One Kafka request (to one partition), at most: below the topic's max.message.bytes (1 MiB by default). */
    maxRequestBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(900_000),
    /**
     * Reads of new records start at most this often: a record after a quiet spell is read at
     * once; a steady stream is read in batches this far apart (each costs a round trip to Kafka
     * and, at most every cursorSaveIntervalMs, a cursor save). What each setting costs and
     * buys at 1,000 msg/s: `npm run bench:linger` (test/bench/results/linger.md).
     */
    lingerMs: z.number().int().min(0).max(1_000).default(10),
    /**
     * Cursor saves start at most this often (each is a write, two fsyncs and a rename). After a
     * crash, what Kafka acknowledged in the last interval is sent again (copies, never a loss).
     */
    cursorSaveIntervalMs: z.number().int().min(0).max(60_000).default(200),
    /** The forwarder wakes when the log appends; this is only how long it sleeps should a wake-up be missed. */
    pollMs: z.number().int().min(1).max(60_000).default(1_000),
    /** Between failed attempts: capped exponential backoff with full jitter. */
    retry: z
      .object({ initialMs: z.number().int().min(1).default(200), maxMs: z.number().int().min(1).default(30_000) })
      .strict()
      .prefault({}),
    /** Broker-side wait for acks=all. */
    ackTimeoutMs: z.number().int().min(100).max(300_000).default(30_000),
    /** `gzip` is built into kafkajs; lz4 and zstd are not offered (no maintained pure-JS codec we could vet). */
    compression: z.enum(['none', 'gzip']).default('none'),
    /** Upper bounds on the forwarding rate (a backlog drains at most this fast); none by default. */
    drain: z
      .object({
        maxRecordsPerSec: z.number().int().min(1).optional(),
        maxBytesPerSec: z.number().int().min(1024).optional(),
      })
      .strict()
      .prefault({}),
    /** Heartbeat to the gateway-status topic (key = gateway id). */
    heartbeatIntervalMs: z.number().int().min(100).max(3_600_000).default(10_000),
  })
  .strict();

export type ForwarderOptions = z.output<typeof ForwarderOptionsSchema>;
export type ForwarderOptionsInput = z.input<typeof ForwarderOptionsSchema>;
