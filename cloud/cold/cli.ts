import { createServer } from 'node:http';
import type { Command } from 'commander';
import { globalOptions, intOption } from '../../shared/cli/context.js';
import { loadConfig } from '../../shared/config/index.js';
import { RoadlogConfigSchema } from '../../shared/config/roadlog.js';
import { createLogger } from '../../shared/logging/index.js';
import { topicName } from '../../shared/topics/topics.js';
import type { TopicsOptions } from '../../shared/topics/options.js';
import { BROKERS_HELP, resolveKafka } from '../kafka-options.js';
import { ColdOptionsSchema, type ColdOptions } from './options.js';

export const ColdConfigSchema = RoadlogConfigSchema.extend({ cold: ColdOptionsSchema.prefault({}) });

interface ColdFlags {
  config?: string;
  archive?: string;
  brokers?: string;
  group?: string;
  instance?: string;
  httpPort?: number;
}

export function coldConfig(cmd: Command, flags: ColdFlags) {
  const g = globalOptions(cmd);
  const cold: Record<string, unknown> = {};
  if (flags.archive !== undefined) cold.archive = flags.archive;
  if (flags.group !== undefined) cold.groupId = flags.group;
  if (flags.instance !== undefined) cold.instanceId = flags.instance;
  if (flags.httpPort !== undefined) cold.http = { port: flags.httpPort };
  const overrides: Record<string, unknown> = { cold };
  if (flags.brokers !== undefined) overrides.kafka = { brokers: flags.brokers.split(',').map((b) => b.trim()).filter((b) => b !== '') };
  if (g.logLevel !== undefined) overrides.log = { level: g.logLevel };
  else if (g.verbose === true) overrides.log = { level: 'debug' };
  const file = flags.config ?? g.config;
  return loadConfig(ColdConfigSchema, { ...(file === undefined ? {} : { file }), overrides });
}

/** `roadlog cold ...`: the Parquet archive. */
export function registerColdCommands(program: Command): void {
  const cold = program.command('cold').description('the cold path: every telemetry record archived exactly once as Parquet, Hive-partitioned by device time');

  cold
    .command('start')
    .description('run one member of the archiver\'s consumer group until SIGTERM/SIGINT (a clean stop flushes what it holds)')
    .option('--config <file>', 'YAML config file (the cold: section; see cloud/README.md)')
    .option('--archive <dir>', 'the archive folder (cold.archive, default $ROADLOG_HOME/archive)')
    .option('--brokers <list>', BROKERS_HELP)
    .option('--group <id>', 'consumer group (cold.groupId, default cold)')
    .option('--instance <id>', 'this instance\'s name in logs (cold.instanceId; default host-pid)')
    .option('--http-port <port>', '/healthz, /metrics, /status port, 0 for a free one (cold.http.port)', intOption('--http-port', 0, 65_535))
    .action(async (flags: ColdFlags, cmd: Command) => {
      const config = coldConfig(cmd, flags);
      const options = config.cold as ColdOptions;
      const logger = createLogger({ level: config.log.level, format: config.log.format, name: 'roadlog-cold' });
      const { kafka: kafkaOptions, brokersFrom } = await resolveKafka(config, flags);
      const { createKafka } = await import('../../shared/kafka/index.js');
      const { createMetricsRegistry, metricsRequestListener } = await import('../../shared/metrics/index.js');
      const { listen } = await import('../../shared/net/index.js');
      await (await import('./duckdb.js')).loadDuckDB();
      const { Archiver } = await import('./archiver.js');
      const topics = config.topics as TopicsOptions;
      const registry = createMetricsRegistry({ component: 'cold', instance: options.instanceId });
      const archiver = new Archiver({
        kafka: createKafka({ ...kafkaOptions, clientId: `${kafkaOptions.clientId}-cold-${options.instanceId}` }, logger),
        topics: { telemetry: topicName(topics, 'telemetry'), deadLetters: topicName(topics, 'deadLetters') },
        options,
        logger,
        registry,
      });
      const server = createServer(metricsRequestListener(registry, () => ({ ready: true, details: archiver.status() }), { '/status': () => archiver.status() }));
      const address = await listen(server, { host: options.http.host, port: options.http.port, setting: 'cold.http.port' });
      await archiver.start();
      process.stdout.write(`cold group ${options.groupId} instance ${options.instanceId}: archive ${options.archive}, Kafka from ${brokersFrom}\n`);
      process.stdout.write(`http http://${address.address}:${address.port}\n`);
      await new Promise<void>((resolve) => {
        const stop = (signal: NodeJS.Signals): void => {
          logger.info({ signal }, 'stopping: flushing what is held, leaving the group');
          process.once(signal, () => process.exit(130));
          void archiver.stop().then(() => server.close(() => resolve()), (err: unknown) => {
            logger.error({ err }, 'clean stop failed');
            process.exit(1);
          });
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
    });

  cold
    .command('status')
    .description('what the archive holds: per Kafka partition the committed offset and rows, and the files')
    .option('--config <file>', 'YAML config file')
    .option('--archive <dir>', 'the archive folder (cold.archive, default $ROADLOG_HOME/archive)')
    .option('--format <format>', 'table or json', 'table')
    .action(async (flags: ColdFlags & { format: string }, cmd: Command) => {
      const config = coldConfig(cmd, flags);
      const options = config.cold as ColdOptions;
      const { readStates, committedFiles, listFlushFiles } = await import('./layout.js');
      const states = (await readStates(options.archive)).sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
      const files = await committedFiles(options.archive);
      const all = await listFlushFiles(options.archive);
      const summary = { archive: options.archive, partitions: states.map((s) => ({ topic: s.topic, partition: s.partition, nextOffset: s.nextOffset, rows: s.rows, updatedAt: new Date(s.updatedAt).toISOString() })), files: files.length, uncommittedFiles: all.length - files.length, hours: new Set(files.map((f) => `${f.date} ${f.hour}`)).size };
      if (flags.format === 'json') {
        process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
        return;
      }
      process.stdout.write(`archive ${options.archive}: ${files.length} files in ${summary.hours} hour folders, ${states.reduce((n, s) => n + s.rows, 0).toLocaleString('en-US')} rows${summary.uncommittedFiles > 0 ? `, ${summary.uncommittedFiles} files of uncommitted flushes` : ''}\n`);
      for (const p of summary.partitions) process.stdout.write(`  ${p.topic}[${p.partition}]  next offset ${p.nextOffset}  rows ${p.rows}  at ${p.updatedAt}\n`);
    });
}
