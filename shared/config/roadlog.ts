import { z } from 'zod';
import { KafkaClientOptionsSchema } from '../kafka/options.js';
import { LogOptionsSchema } from '../logging/options.js';
import { TopicsOptionsSchema } from '../topics/options.js';

/**
 * The whole config file. Each component owns its section's schema (defaults included);
 * this only composes them. Later components (edge, hot, cold, console) add their sections.
 */
export const RoadlogConfigSchema = z
  .object({
    kafka: KafkaClientOptionsSchema.prefault({}),
    topics: TopicsOptionsSchema.prefault({}),
    log: LogOptionsSchema.prefault({}),
  })
  .strict();

export type RoadlogConfig = z.output<typeof RoadlogConfigSchema>;
