import { z } from 'zod';

/** The forwarder (`edge.forwarder`): from the edge log to Kafka. */
export const ForwarderOptionsSchema = z
  .object({
    /** Off: records stay in the edge log (a gateway with no uplink yet). On by default when `kafka.brokers` is set. */
    enabled: z.boolean().default(true),
    /** The reader's cursor name in the edge log. */
    cursor: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/).default('forwarder'),
    maxBatchRecords: z.number().int().min(1).max(100_000).default(10_000),
    maxBatchBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(4 * 1024 * 1024),
    /** How often an idle forwarder looks for new records. */
    pollMs: z.number().int().min(1).max(10_000).default(20),
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
