import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { topicName } from '../../shared/topics/topics.js';
import { BROKERS_HELP, kafkaCommandContext } from '../kafka-options.js';

/** `roadlog vehicles import|list`: the vehicles reference table (class, depot, limits per vehicle). */
export function registerVehiclesCommands(program: Command): void {
  const vehicles = program.command('vehicles').description('the vehicles reference table (compacted topic): class, depot and per-vehicle rule limits');

  vehicles
    .command('import')
    .description('write vehicles from a CSV (vehicleId,class,depot[,rule.value ...]) to the vehicles topic')
    .argument('<file>', 'the CSV file (`roadlog sim --vehicles-csv FILE` writes one for a simulated fleet)')
    .option('--brokers <list>', BROKERS_HELP)
    .option('--dry-run', 'validate the file and say what would be written')
    .action(async (file: string, flags: { brokers?: string; dryRun?: boolean }, cmd: Command) => {
      const { asFileError } = await import('../../shared/errors/index.js');
      const { parseVehiclesCsv } = await import('../../shared/vehicles/index.js');
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        throw asFileError(err, 'vehicles CSV', file);
      }
      const refs = parseVehiclesCsv(text, file);
      const classes = [...new Set(refs.map((r) => r.class))].sort().join(', ');
      if (flags.dryRun === true) {
        process.stdout.write(`${file}: ${refs.length} vehicles valid (classes ${classes}); nothing written\n`);
        return;
      }
      const ctx = await kafkaCommandContext(cmd, flags);
      const { createKafka } = await import('../../shared/kafka/index.js');
      const { importVehicles } = await import('./table.js');
      const topic = topicName(ctx.config.topics, 'vehicles');
      await importVehicles(createKafka(ctx.kafka, ctx.logger), topic, refs, Math.max(30_000, ctx.kafka.operationTimeoutMs));
      process.stdout.write(`${topic}: ${refs.length} vehicles written (classes ${classes})\n`);
    });

  vehicles
    .command('list')
    .description('the table as the topic holds it now')
    .option('--brokers <list>', BROKERS_HELP)
    .option('--format <format>', 'csv or json', 'csv')
    .action(async (flags: { brokers?: string; format: string }, cmd: Command) => {
      const ctx = await kafkaCommandContext(cmd, flags);
      const { createKafka } = await import('../../shared/kafka/index.js');
      const { readVehicles } = await import('./table.js');
      const { formatVehiclesCsv } = await import('../../shared/vehicles/index.js');
      const { vehicles } = await readVehicles(createKafka(ctx.kafka, ctx.logger), topicName(ctx.config.topics, 'vehicles'), Math.max(30_000, ctx.kafka.operationTimeoutMs));
      const rows = [...vehicles.values()].sort((a, b) => a.vehicleId.localeCompare(b.vehicleId));
      process.stdout.write(flags.format === 'json' ? rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length > 0 ? '\n' : '') : formatVehiclesCsv(rows));
    });
}
