import { Option, type Command } from 'commander';
import { intOption } from '../shared/cli/context.js';
import { BROKERS_HELP, kafkaCommandContext } from './kafka-options.js';
import { registerTopicsCommands } from './admin/cli.js';
import { registerColdCommands } from './cold/cli.js';
import { registerConsoleCommands } from './console/cli.js';
import { registerHotCommands } from './hot/cli.js';
import { registerInfluxCommands } from './influx/cli.js';
import { registerReportCommands } from './report/cli.js';
import { registerVehiclesCommands } from './vehicles/cli.js';

/** Commands of the cloud side: topics, tail, hot and alerts, cold and report, influx-sink, vehicles, console. */
export function registerCloudCommands(program: Command): void {
  registerTopicsCommands(program);
  registerHotCommands(program);
  registerColdCommands(program);
  registerReportCommands(program);
  registerInfluxCommands(program);
  registerVehiclesCommands(program);
  registerConsoleCommands(program);

  program
    .command('tail')
    .description('print the records of a Kafka topic as they arrive (Ctrl-C to stop)')
    .argument('<topic>', 'topic name')
    .option('--brokers <list>', BROKERS_HELP)
    .option('--from-beginning', 'start at the earliest offset instead of new records only')
    .option('--key <key>', 'only records with this key (a vehicleId on the telemetry topic)')
    .option('--partition <n>', 'only this partition', intOption('--partition', 0, 1_000_000))
    .option('--limit <n>', 'exit after printing this many records', intOption('--limit', 1, Number.MAX_SAFE_INTEGER))
    .addOption(new Option('--format <format>', 'output: one JSON object per line, or for people').choices(['json', 'pretty']).default('pretty'))
    .action(async (topic: string, opts: { brokers?: string; fromBeginning?: boolean; key?: string; partition?: number; limit?: number; format: 'json' | 'pretty' }, cmd: Command) => {
      const ctx = await kafkaCommandContext(cmd, opts);
      const { createKafka } = await import('../shared/kafka/index.js');
      const { tail } = await import('./tail/tail.js');
      const stopSignal = new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      const printed = await tail(createKafka(ctx.kafka, ctx.logger), {
        topic,
        fromBeginning: opts.fromBeginning === true,
        key: opts.key,
        partition: opts.partition,
        limit: opts.limit,
        format: opts.format,
        operationTimeoutMs: ctx.kafka.operationTimeoutMs,
        write: (line) => process.stdout.write(`${line}\n`),
        stopSignal,
        logger: ctx.logger,
      });
      if (opts.limit === undefined || printed < opts.limit) process.stderr.write(`roadlog: ${printed} record(s)\n`);
    });
}
