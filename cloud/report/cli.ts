import { Option, type Command } from 'commander';
import { RoadlogError } from '../../shared/errors/index.js';
import { createLogger } from '../../shared/logging/index.js';
import type { VehicleRef } from '../../shared/vehicles/index.js';
import { coldConfig } from '../cold/cli.js';
import type { ColdOptions } from '../cold/options.js';
import { BROKERS_HELP } from '../kafka-options.js';
import type { FleetRow } from './fleet.js';

interface ReportFlags {
  config?: string;
  archive?: string;
  brokers?: string;
  from?: string;
  to?: string;
  vehicle?: string;
  groupBy: 'vehicle' | 'class' | 'depot';
  format: 'table' | 'csv' | 'json';
  out?: string;
  vehiclesCsv?: string;
}

const FLEET_COLUMNS = ['vehicleId', 'class', 'depot', 'distanceKm', 'fuelL', 'lPer100km', 'idleSeconds', 'harshBrakingEvents', 'harshPer100km', 'samples', 'counterResets', 'outliers'] as const;

function time(flag: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(n)) throw new RoadlogError('ROADLOG_ERR_USAGE', `${flag}: expected an ISO 8601 time or ms since epoch, got ${JSON.stringify(v)}`);
  return n;
}

/** `roadlog report ...`: batch reports over the Parquet archive (DuckDB). */
export function registerReportCommands(program: Command): void {
  const report = program.command('report').description('batch reports over the Parquet archive (DuckDB): fleet (more with later issues)');

  report
    .command('fleet')
    .description('per vehicle: distance, fuel and L/100 km from the cumulative counters, idle time, harsh braking per 100 km, and the steps left out (counter resets, outliers)')
    .option('--from <time>', 'device time from, inclusive (ISO 8601 or ms since epoch; default: everything)')
    .option('--to <time>', 'device time to, exclusive (ISO 8601 or ms since epoch; default: everything)')
    .option('--vehicle <id>', 'only this vehicle')
    .addOption(new Option('--group-by <what>', 'one row per vehicle, or per class or depot (sums; L/100 km of the sums)').choices(['vehicle', 'class', 'depot']).default('vehicle'))
    .addOption(new Option('--format <format>', 'table for a terminal, csv or json for machines').choices(['table', 'csv', 'json']).default('table'))
    .option('--out <file>', 'write to this file instead of stdout')
    .option('--vehicles-csv <file>', 'class and depot of each vehicle from this CSV (default: the vehicles topic, when Kafka answers)')
    .option('--archive <dir>', 'the archive folder (cold.archive, default $ROADLOG_HOME/archive)')
    .option('--brokers <list>', BROKERS_HELP)
    .option('--config <file>', 'YAML config file')
    .action(async (flags: ReportFlags, cmd: Command) => {
      const from = time('--from', flags.from, 0);
      const to = time('--to', flags.to, Number.MAX_SAFE_INTEGER);
      const config = coldConfig(cmd, flags);
      const options = config.cold as ColdOptions;
      const logger = createLogger({ level: config.log.level, format: config.log.format, name: 'roadlog-report' });
      const vehicles = await vehicleRefs(cmd, flags, logger);
      const { withDuckDB } = await import('../cold/duckdb.js');
      const { withArchive } = await import('../cold/scan.js');
      const { fleetReport } = await import('./fleet.js');
      const { groupFleet } = await import('./fleet-group.js');
      const { formatRows } = await import('./format.js');
      const query = { from, to, ...(flags.vehicle === undefined ? {} : { vehicle: flags.vehicle }) };
      const rows: FleetRow[] = await withDuckDB((conn) => withArchive(options.archive, (rel) => fleetReport(conn, rel, query, vehicles)));
      const shown = flags.groupBy === 'vehicle' ? rows : groupFleet(rows, flags.groupBy);
      const columns = flags.groupBy === 'vehicle' ? FLEET_COLUMNS : [flags.groupBy, 'vehicles', ...FLEET_COLUMNS.slice(3)];
      const text = formatRows(shown as unknown as Record<string, unknown>[], columns, flags.format);
      if (flags.out === undefined) process.stdout.write(text);
      else (await import('node:fs')).writeFileSync(flags.out, text);
      if (flags.format === 'table' || flags.out !== undefined) process.stderr.write(`report fleet: ${rows.length} vehicles, ${rows.reduce((n, r) => n + r.samples, 0).toLocaleString('en-US')} samples from ${options.archive}${flags.out === undefined ? '' : ` → ${flags.out}`}\n`);
    });
}

async function vehicleRefs(cmd: Command, flags: ReportFlags, logger: ReturnType<typeof createLogger>): Promise<Map<string, VehicleRef>> {
  if (flags.vehiclesCsv !== undefined) {
    const { readFileSync } = await import('node:fs');
    const { parseVehiclesCsv } = await import('../../shared/vehicles/index.js');
    return new Map(parseVehiclesCsv(readFileSync(flags.vehiclesCsv, 'utf8'), flags.vehiclesCsv).map((v) => [v.vehicleId, v]));
  }
  try {
    const { kafkaCommandContext } = await import('../kafka-options.js');
    const ctx = await kafkaCommandContext(cmd, flags);
    const { createKafka } = await import('../../shared/kafka/index.js');
    const { topicName } = await import('../../shared/topics/topics.js');
    const { readVehicles } = await import('../vehicles/table.js');
    return (await readVehicles(createKafka(ctx.kafka, ctx.logger), topicName(ctx.config.topics as never, 'vehicles'), 10_000)).vehicles;
  } catch (err) {
    logger.warn({ err: (err as Error).message }, 'report: the vehicles topic could not be read; class and depot are left empty (pass --vehicles-csv)');
    process.stderr.write(`report: no vehicles table (${(err as Error).message.split('\n')[0]}): class and depot left empty; pass --vehicles-csv FILE\n`);
    return new Map();
  }
}
