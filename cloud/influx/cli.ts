import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Command } from 'commander';
import { intOption } from '../../shared/cli/context.js';
import { RoadlogConfigSchema } from '../../shared/config/roadlog.js';
import { RoadlogError } from '../../shared/errors/index.js';
import { createLogger } from '../../shared/logging/index.js';
import { topicName } from '../../shared/topics/topics.js';
import type { TopicsOptions } from '../../shared/topics/options.js';
import { loadComponentConfig, runUntilSignal } from '../component.js';
import { BROKERS_HELP, resolveKafka } from '../kafka-options.js';
import { InfluxSinkOptionsSchema, type InfluxSinkOptions } from './options.js';
import type { InfluxTarget } from './writer.js';

export const InfluxConfigSchema = RoadlogConfigSchema.extend({ influx: InfluxSinkOptionsSchema.prefault({}) });

interface SinkFlags {
  config?: string;
  url?: string;
  database?: string;
  brokers?: string;
  group?: string;
  httpPort?: number;
}

export function influxConfig(cmd: Command, flags: SinkFlags) {
  const influx: Record<string, unknown> = {};
  if (flags.url !== undefined) influx.url = flags.url;
  if (flags.database !== undefined) influx.database = flags.database;
  if (flags.group !== undefined) influx.groupId = flags.group;
  if (flags.httpPort !== undefined) influx.http = { port: flags.httpPort };
  return loadComponentConfig(cmd, InfluxConfigSchema, 'influx', influx, flags);
}

/** Where the sink writes: the options, with the password read from its file. */
export function influxTarget(o: InfluxSinkOptions): InfluxTarget {
  let password: string | undefined;
  if (o.passwordFile !== undefined) {
    try {
      password = readFileSync(o.passwordFile, 'utf8').split('\n')[0];
    } catch (err) {
      throw new RoadlogError('ROADLOG_ERR_FILE_NOT_FOUND', `influx.passwordFile ${o.passwordFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
  }
  return { url: o.url, database: o.database, retentionPolicy: o.retentionPolicy, username: o.username, password, requestTimeoutMs: o.requestTimeoutMs };
}

/** `roadlog influx-sink start`. */
export function registerInfluxCommands(program: Command): void {
  const sink = program.command('influx-sink').description('the InfluxDB sink: telemetry and alert events as time series at device time (a replay overwrites)');
  sink
    .command('start')
    .description('run one member of the sink\'s consumer group until SIGTERM/SIGINT')
    .option('--config <file>', 'YAML config file (the influx: section; see cloud/README.md)')
    .option('--url <url>', 'InfluxDB HTTP API (influx.url, default http://127.0.0.1:8086)')
    .option('--database <name>', 'database (influx.database, default roadlog; created when missing)')
    .option('--brokers <list>', BROKERS_HELP)
    .option('--group <id>', 'consumer group (influx.groupId, default influx)')
    .option('--http-port <port>', '/healthz, /metrics port, 0 for a free one (influx.http.port)', intOption('--http-port', 0, 65_535))
    .action(async (flags: SinkFlags, cmd: Command) => {
      const config = influxConfig(cmd, flags);
      const options = config.influx as InfluxSinkOptions;
      const logger = createLogger({ level: config.log.level, format: config.log.format, name: 'roadlog-influx' });
      const { kafka: kafkaOptions, brokersFrom } = await resolveKafka(config, flags);
      const { createKafka } = await import('../../shared/kafka/index.js');
      const { createMetricsRegistry, metricsRequestListener } = await import('../../shared/metrics/index.js');
      const { listen } = await import('../../shared/net/index.js');
      const { InfluxSink } = await import('./sink.js');
      const topics = config.topics as TopicsOptions;
      const registry = createMetricsRegistry({ component: 'influx', instance: options.instanceId });
      const sinkInstance = new InfluxSink({
        kafka: createKafka({ ...kafkaOptions, clientId: `${kafkaOptions.clientId}-influx-${options.instanceId}` }, logger),
        topics: { telemetry: topicName(topics, 'telemetry'), alerts: topicName(topics, 'alerts'), vehicles: topicName(topics, 'vehicles') },
        options,
        target: influxTarget(options),
        logger,
        registry,
      });
      const server = createServer(metricsRequestListener(registry));
      const address = await listen(server, { host: options.http.host, port: options.http.port, setting: 'influx.http.port' });
      await sinkInstance.start();
      process.stdout.write(`influx-sink group ${options.groupId}: ${options.url} database ${options.database}, Kafka from ${brokersFrom}\n`);
      process.stdout.write(`http http://${address.address}:${address.port}\n`);
      await runUntilSignal(logger, server, () => sinkInstance.stop(), 'stopping: leaving the group');
    });
}
