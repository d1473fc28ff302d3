import type { Command } from 'commander';
import { commandConfig, commandLogger } from '../shared/cli/context.js';
import type { KafkaClientOptions } from '../shared/kafka/index.js';
import type { Logger } from '../shared/logging/index.js';
import type { RoadlogConfig } from '../shared/config/roadlog.js';
import type { DeepReadonly } from '../shared/config/index.js';
import { readLastCluster } from '../shared/home/index.js';

export interface KafkaCommandContext {
  config: DeepReadonly<RoadlogConfig>;
  kafka: KafkaClientOptions;
  logger: Logger;
  /** Where the brokers came from, for messages: flag, config, environment or last cluster. */
  brokersFrom: string;
}

/**
 * Brokers for a command that talks to Kafka, first found wins:
 *   --brokers flag → ROADLOG_KAFKA_BROKERS / kafka.brokers in --config → the cluster that
 *   `roadlog kafka start` last started (recorded under ROADLOG_HOME).
 * A recorded `--secure` cluster is reached on its SASL_SSL listener with its CA and user
 * (SCRAM-SHA-512, password from its file), unless the config sets kafka.ssl, tls or sasl itself.
 */
export async function kafkaCommandContext(cmd: Command, flags: { brokers?: string }): Promise<KafkaCommandContext> {
  const overrides = flags.brokers === undefined ? {} : { kafka: { brokers: flags.brokers.split(',').map((b) => b.trim()).filter((b) => b !== '') } };
  const config = commandConfig(cmd, overrides);
  const logger = commandLogger(config);
  const { kafka, brokersFrom } = await resolveKafka(config, flags);
  logger.debug({ brokers: kafka.brokers, brokersFrom }, 'kafka brokers');
  return { config, kafka, logger, brokersFrom };
}

/** The Kafka client options of a loaded config (any command's schema with a `kafka:` section), brokers found as kafkaCommandContext says. */
export async function resolveKafka(config: DeepReadonly<Pick<RoadlogConfig, 'kafka'>>, flags: { brokers?: string }): Promise<{ kafka: KafkaClientOptions; brokersFrom: string }> {
  let brokers = [...config.kafka.brokers];
  let security: Pick<KafkaClientOptions, 'tls' | 'sasl'> = { sasl: config.kafka.sasl === undefined ? undefined : { ...config.kafka.sasl } };
  let brokersFrom = flags.brokers !== undefined ? '--brokers' : process.env.ROADLOG_KAFKA_BROKERS !== undefined ? 'ROADLOG_KAFKA_BROKERS' : 'config';
  if (brokers.length === 0) {
    const last = await readLastCluster();
    const ownSecurity = config.kafka.ssl || config.kafka.tls !== undefined || config.kafka.sasl !== undefined;
    if (last?.secure !== undefined && !ownSecurity) {
      brokers = last.secure.bootstrapServers.split(',');
      brokersFrom = `the secure cluster started in ${last.dir}`;
      security = { tls: { caFile: last.secure.caFile, rejectUnauthorized: true }, sasl: { mechanism: 'scram-sha-512', username: last.secure.username, passwordFile: last.secure.passwordFile } };
    } else if (last !== undefined) {
      brokers = last.bootstrapServers.split(',');
      brokersFrom = `the cluster started in ${last.dir}`;
    }
  }
  const kafka: KafkaClientOptions = { ...(config.kafka as KafkaClientOptions), brokers, ...(config.kafka.tls === undefined ? {} : { tls: { ...config.kafka.tls } }), ...security };
  return { kafka, brokersFrom };
}

export const BROKERS_HELP = 'bootstrap servers host:port,... (default: ROADLOG_KAFKA_BROKERS, then the cluster `roadlog kafka start` last started)';
