import type { KafkaConfig } from 'kafkajs';
import type { Registry } from 'prom-client';
import { RoadlogError } from '../../shared/errors/index.js';
import { createKafka, disconnectQuietly, withDeadline, type KafkaClientOptions } from '../../shared/kafka/index.js';
import type { Logger } from '../../shared/logging/index.js';
import { topicName, type TopicsOptions } from '../../shared/topics/index.js';
import { Forwarder, type ForwarderOptions, type ForwarderTopics } from '../forwarder/index.js';
import type { EdgeLog } from '../log/index.js';

export interface KafkaSettings {
  client: KafkaClientOptions;
  topics: TopicsOptions;
  /** kafkajs settings over ours (tests: a socketFactory that routes through a fault-injecting proxy). */
  overrides?: Partial<KafkaConfig>;
}

/**
 * The agent's Kafka side: one idempotent producer (acks=all, one request in flight per
 * broker, so a retry cannot reorder) and the forwarder. Topic metadata is looked up by the
 * forwarder's own retry loop, so a gateway starts, and acknowledges, with Kafka down.
 */
export async function startForwarder(input: { log: EdgeLog; settings: KafkaSettings; options: ForwarderOptions; gatewayId: string; registry: Registry; logger: Logger }): Promise<{ forwarder: Forwarder; stop: () => Promise<void> }> {
  const { settings, logger } = input;
  const kafka = createKafka({ ...settings.client, clientId: `${settings.client.clientId}-edge-${input.gatewayId}` }, logger, settings.overrides);
  // The forwarder retries for ever with its own backoff; kafkajs's retries only bridge a leader election.
  const newProducer = () => kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 5_000 } });
  const producer = newProducer();
  const admin = kafka.admin();
  const names = { telemetry: topicName(settings.topics, 'telemetry'), deadLetters: topicName(settings.topics, 'deadLetters'), gatewayStatus: topicName(settings.topics, 'gatewayStatus') };
  const topics = async (): Promise<ForwarderTopics> => {
    await withDeadline(() => admin.connect(), settings.client.operationTimeoutMs, 'connecting the admin client');
    const found = new Map<string, number>();
    for (const name of Object.values(names)) {
      try {
        const md = await withDeadline(() => admin.fetchTopicMetadata({ topics: [name] }), settings.client.operationTimeoutMs, `metadata of ${name}`);
        const t = md.topics[0];
        if (t !== undefined && t.partitions.length > 0) found.set(name, t.partitions.length);
      } catch (err) {
        if ((err as { type?: string }).type === 'UNKNOWN_TOPIC_OR_PARTITION') continue;
        throw err;
      }
    }
    await disconnectQuietly(admin);
    for (const name of [names.telemetry, names.deadLetters]) {
      if (!found.has(name)) throw new RoadlogError('ROADLOG_ERR_KAFKA_TOPIC_NOT_FOUND', `topic ${name} does not exist (run \`roadlog topics apply\`); records wait in the edge log`, { details: { topic: name } });
    }
    if (!found.has(names.gatewayStatus)) logger.warn({ topic: names.gatewayStatus }, 'no gateway-status topic: no heartbeats (run `roadlog topics apply`)');
    return {
      telemetry: { name: names.telemetry, partitions: found.get(names.telemetry)! },
      deadLetters: { name: names.deadLetters, partitions: found.get(names.deadLetters)! },
      ...(found.has(names.gatewayStatus) ? { gatewayStatus: { name: names.gatewayStatus, partitions: found.get(names.gatewayStatus)! } } : {}),
    };
  };
  const forwarder = new Forwarder({ log: input.log, producer, newProducer, topics, gatewayId: input.gatewayId, options: input.options, logger, registry: input.registry });
  await forwarder.start();
  return {
    forwarder,
    stop: async () => {
      await forwarder.stop();
      await disconnectQuietly(forwarder.currentProducer);
      await disconnectQuietly(admin);
    },
  };
}
