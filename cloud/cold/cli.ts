import { createServer } from 'node:http';
import type { Command } from 'commander';
import { intOption } from '../../shared/cli/context.js';
import { progressBar } from '../../shared/cli/progress.js';
import { RoadlogError } from '../../shared/errors/index.js';
import { RoadlogConfigSchema } from '../../shared/config/roadlog.js';
import { createLogger } from '../../shared/logging/index.js';
import { topicName } from '../../shared/topics/topics.js';
import type { TopicsOptions } from '../../shared/topics/options.js';
import { loadComponentConfig, runUntilSignal } from '../component.js';
import { BROKERS_HELP, resolveKafka } from '../kafka-options.js';
import { InfluxSinkOptionsSchema, type InfluxSinkOptions } from '../influx/options.js';
import { ColdOptionsSchema, type ColdOptions } from './options.js';

/** The cold commands' config: the cold: section, and influx: (where `cold forget` also deletes). */
export const ColdConfigSchema = RoadlogConfigSchema.extend({ cold: ColdOptionsSchema.prefault({}), influx: InfluxSinkOptionsSchema.prefault({}) });

interface ColdFlags {
  config?: string;
  archive?: string;
  brokers?: string;
  group?: string;
  instance?: string;
  httpPort?: number;
}

export function coldConfig(cmd: Command, flags: ColdFlags) {
  const cold: Record<string, unknown> = {};
  if (flags.archive !== undefined) cold.archive = flags.archive;
  if (flags.group !== undefined) cold.groupId = flags.group;
  if (flags.instance !== undefined) cold.instanceId = flags.instance;
  if (flags.httpPort !== undefined) cold.http = { port: flags.httpPort };
  return loadComponentConfig(cmd, ColdConfigSchema, 'cold', cold, flags);
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
      await runUntilSignal(logger, server, () => archiver.stop(), 'stopping: flushing what is held, leaving the group');
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
      const { readStates, committedFiles, listHours } = await import('./layout.js');
      const states = (await readStates(options.archive)).sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
      const files = await committedFiles(options.archive);
      const all = (await listHours(options.archive)).flatMap((h) => h.files);
      const summary = { archive: options.archive, partitions: states.map((s) => ({ topic: s.topic, partition: s.partition, nextOffset: s.nextOffset, rows: s.rows, updatedAt: new Date(s.updatedAt).toISOString() })), files: files.length, uncommittedFiles: all.length - files.length, hours: new Set(files.map((f) => `${f.date} ${f.hour}`)).size };
      if (flags.format === 'json') {
        process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
        return;
      }
      process.stdout.write(`archive ${options.archive}: ${files.length} files in ${summary.hours} hour folders, ${states.reduce((n, s) => n + s.rows, 0).toLocaleString('en-US')} rows${summary.uncommittedFiles > 0 ? `; ${summary.uncommittedFiles} files not counted (an uncommitted flush, or replaced by a compaction that is finishing)` : ''}\n`);
      for (const p of summary.partitions) process.stdout.write(`  ${p.topic}[${p.partition}]  next offset ${p.nextOffset}  rows ${p.rows}  at ${p.updatedAt}\n`);
    });

  cold
    .command('compact')
    .description('merge each hour folder\'s small files (late records, a small fleet\'s flushes) into one; readers count every record once throughout, and an interrupted run is finished by the next')
    .option('--date <YYYY-MM-DD>', 'only this day (default: every day)')
    .option('--small-mib <n>', 'files under this size are merged (default 64)', intOption('--small-mib', 1, 1_048_576))
    .option('--archive <dir>', 'the archive folder (cold.archive, default $ROADLOG_HOME/archive)')
    .option('--config <file>', 'YAML config file')
    .action(async (flags: ColdFlags & { date?: string; smallMib?: number }, cmd: Command) => {
      if (flags.date !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(flags.date)) throw new RoadlogError('ROADLOG_ERR_USAGE', `--date: expected YYYY-MM-DD, got ${JSON.stringify(flags.date)}`);
      const options = coldConfig(cmd, flags).cold as ColdOptions;
      const { withDuckDB } = await import('./duckdb.js');
      const { compactArchive } = await import('./compact.js');
      const bar = progressBar('compact', 'hour folders');
      const r = await withDuckDB((conn) => compactArchive(conn, options.archive, { ...(flags.date === undefined ? {} : { date: flags.date }), ...(flags.smallMib === undefined ? {} : { smallBytes: flags.smallMib * 1024 * 1024 }), progress: (d, t) => bar.update(d, t) }));
      bar.done();
      const mib = (b: number) => (b / 1024 / 1024).toFixed(1);
      process.stdout.write(`compact: ${r.hours} hour folders, ${r.compacted} compacted: ${r.filesIn} files (${mib(r.bytesIn)} MiB) → ${r.filesOut} (${mib(r.bytesOut)} MiB), ${r.rows.toLocaleString('en-US')} rows\n`);
    });

  cold
    .command('forget')
    .description('remove a vehicle from the archive (every file holding it rewritten without it, atomically, file by file; run again if interrupted) and from InfluxDB; says what it cannot reach')
    .argument('<vehicleId>', 'the vehicle')
    .option('--archive <dir>', 'the archive folder (cold.archive, default $ROADLOG_HOME/archive)')
    .option('--influx-url <url>', 'InfluxDB to delete its series from (influx.url, default http://127.0.0.1:8086)')
    .option('--no-influx', 'leave InfluxDB alone')
    .option('--config <file>', 'YAML config file')
    .action(async (vehicleId: string, flags: ColdFlags & { influxUrl?: string; influx: boolean }, cmd: Command) => {
      const config = coldConfig(cmd, flags);
      const options = config.cold as ColdOptions;
      const { withDuckDB } = await import('./duckdb.js');
      const { forgetVehicle } = await import('./forget.js');
      const bar = progressBar('forget', 'files');
      const r = await withDuckDB((conn) => forgetVehicle(conn, options.archive, vehicleId, undefined, (d, t) => bar.update(d, t)));
      bar.done();
      process.stdout.write(`forget ${vehicleId}: ${r.rows.toLocaleString('en-US')} rows removed from ${r.files} of ${r.scanned} files in ${options.archive}\n`);
      let influxSaid = 'InfluxDB: left alone (--no-influx)';
      if (flags.influx) {
        const influx = { ...(config.influx as InfluxSinkOptions), ...(flags.influxUrl === undefined ? {} : { url: flags.influxUrl }) };
        const { influxTarget } = await import('../influx/cli.js');
        const { InfluxWriter } = await import('../influx/writer.js');
        const { createLogger } = await import('../../shared/logging/index.js');
        const writer = new InfluxWriter(influxTarget(influx), { written: () => {}, rejected: () => {}, retry: () => {} }, createLogger({ level: 'silent', format: 'json', name: 'forget' }));
        const id = vehicleId.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
        try {
          for (const m of ['telemetry', 'alerts']) await writer.query(`DROP SERIES FROM "${m}" WHERE "vehicleId" = '${id}'`, 'POST');
          influxSaid = `InfluxDB ${influx.url} database ${influx.database}: its telemetry and alerts series dropped`;
        } catch (err) {
          influxSaid = `InfluxDB ${influx.url} NOT reached (${(err as Error).message.split('\n')[0]}): run again when it answers, or --no-influx`;
          process.exitCode = 1;
        }
      }
      const hours = (config.topics as TopicsOptions).telemetryRetentionHours;
      process.stdout.write(`${influxSaid}\nnot reached: Kafka keeps its raw records until the telemetry topic's retention (${hours} h); records that arrive from now on are archived and written again; the archiver's duplicate filters keep its id and last seq numbers until they age out, and its state files keep its count of duplicates removed (the quality report's)\n`);
    });
}
