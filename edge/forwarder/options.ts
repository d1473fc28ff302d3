import { z } from 'zod';

/** The forwarder (`edge.forwarder`): from the edge log to Kafka. */
export const ForwarderOptionsSchema = z
  .object({
    /** The reader's cursor name in the edge log. */
    cursor: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/).default('forwarder'),
    maxBatchRecords: z.number().int().min(1).max(100_000).default(2_000),
    maxBatchBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(2 * 1024 * 1024),
    /** How often an idle forwarder looks for new records. */
    pollMs: z.number().int().min(1).max(10_000).default(20),
    /** Between failed attempts: capped exponential backoff with full jitter. */
    retry: z
      .object({ initialMs: z.number().int().min(1).default(200), maxMs: z.number().int().min(1).default(30_000) })
      .strict()
      .prefault({}),
    /** Broker-side wait for acks=all. */
    ackTimeoutMs: z.number().int().min(100).max(300_000).default(30_000),
  })
  .strict();

export type ForwarderOptions = z.output<typeof ForwarderOptionsSchema>;
