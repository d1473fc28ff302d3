import { z } from 'zod';

export const TopicsOptionsSchema = z
  .object({
    /** Topic names are `{prefix}.{name}`; tests use a random prefix. */
    prefix: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, 'expected 1-100 characters of A-Z a-z 0-9 . _ -').default('roadlog'),
    /** Replication factor wanted; capped at the number of brokers (a 1-node dev cluster gets 1). */
    replicationFactor: z.number().int().min(1).max(7).default(3),
    telemetryPartitions: z.number().int().min(1).max(10_000).default(12),
    telemetryRetentionHours: z.number().int().min(1).max(87_600).default(168),
  })
  .strict();

export type TopicsOptions = z.output<typeof TopicsOptionsSchema>;
