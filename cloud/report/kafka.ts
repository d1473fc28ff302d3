import type { DeepReadonly } from '../../shared/config/index.js';
import type { RoadlogConfig } from '../../shared/config/roadlog.js';
import type { Logger } from '../../shared/logging/index.js';
import type { TopicsOptions } from '../../shared/topics/options.js';
import type { TopicRole } from '../../shared/topics/topics.js';
import type { VehicleRef } from '../../shared/vehicles/index.js';
import { resolveKafka } from '../kafka-options.js';
import type { ReportContext } from './model.js';

/**
 * Kafka for the reports that read a topic (health, quality) and for the vehicles table, made
 * when first needed; undefined, logged once, when it cannot be (the reports then say so). Used
 * by `roadlog report` and the console.
 */
export function lazyKafka(config: DeepReadonly<Pick<RoadlogConfig, 'kafka' | 'topics'>>, flags: { brokers?: string }, logger: Logger): ReportContext['kafka'] {
  let made: ReturnType<ReportContext['kafka']> | undefined;
  return () => {
    made ??= (async () => {
      try {
        const { kafka } = await resolveKafka(config, flags);
        const { createKafka } = await import('../../shared/kafka/index.js');
        const { topicName } = await import('../../shared/topics/topics.js');
        return { kafka: createKafka(kafka, logger), topic: (t: TopicRole) => topicName(config.topics as TopicsOptions, t) };
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'reports: no Kafka; class and depot are left empty and the reports say what they could not read');
        return undefined;
      }
    })();
    return made;
  };
}

/** The vehicles table (class, depot) as its topic holds it now; empty, with the reason, when it cannot be read. */
export async function readVehicleRefs(kafka: ReportContext['kafka']): Promise<{ vehicles: Map<string, VehicleRef>; error?: string }> {
  try {
    const k = await kafka();
    if (k === undefined) return { vehicles: new Map(), error: 'no Kafka' };
    const { readVehicles } = await import('../vehicles/table.js');
    return { vehicles: (await readVehicles(k.kafka, k.topic('vehicles'), 10_000)).vehicles };
  } catch (err) {
    return { vehicles: new Map(), error: (err as Error).message.split('\n')[0]! };
  }
}
