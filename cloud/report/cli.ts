import { Option, type Command } from 'commander';
import { RoadlogError } from '../../shared/errors/index.js';
import { MAX_TS_MS } from '../../shared/schema/index.js';
import { createLogger } from '../../shared/logging/index.js';
import type { VehicleRef } from '../../shared/vehicles/index.js';
import { coldConfig } from '../cold/cli.js';
import type { ColdOptions } from '../cold/options.js';
import { BROKERS_HELP } from '../kafka-options.js';
import type { Format } from './format.js';
import { parseTime, type GroupBy, type ReportContext, type ReportDef } from './model.js';
import { lazyKafka, readVehicleRefs } from './kafka.js';
import { REPORTS, runReport } from './run.js';

interface ReportFlags {
  config?: string;
  archive?: string;
  brokers?: string;
  from?: string;
  to?: string;
  vehicle?: string;
  groupBy: GroupBy;
  format: Format;
  details?: string;
  out?: string;
  vehiclesCsv?: string;
  progress: boolean;
}

function time(flag: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = parseTime(v);
  if (n === undefined) throw new RoadlogError('ROADLOG_ERR_USAGE', `${flag}: expected an ISO 8601 time or ms since epoch (up to ${new Date(MAX_TS_MS).toISOString()}), got ${JSON.stringify(v)}`);
  return n;
}

/** `roadlog report ...`: batch reports over the Parquet archive (DuckDB). */
export function registerReportCommands(program: Command): void {
  const report = program.command('report').description(`batch reports over the Parquet archive (DuckDB): ${REPORTS.map((r) => r.name).join(', ')}`);
  for (const def of REPORTS) {
    const cmd = report
      .command(def.name)
      .description(def.description)
      .option('--from <time>', 'device time from, inclusive (ISO 8601 or ms since epoch; default: everything)')
      .option('--to <time>', 'device time to, exclusive (ISO 8601 or ms since epoch; default: everything)')
      .option('--vehicle <id>', 'only this vehicle')
      .addOption(new Option('--group-by <what>', 'one row per vehicle, class, depot or device-time day (sums; ratios of the sums)').choices(['vehicle', 'class', 'depot', 'day']).default('vehicle'))
      .addOption(new Option('--format <format>', 'table for a terminal, csv or json for machines, html: one self-contained file with charts').choices(['table', 'csv', 'json', 'html']).default('table'));
    if (def.detailLists.length > 0) cmd.addOption(new Option('--details <list>', 'print this list instead of the rows, all of it').choices([...def.detailLists]));
    cmd
      .option('--out <file>', 'write to this file instead of stdout')
      .option('--vehicles-csv <file>', 'class and depot of each vehicle from this CSV (default: the vehicles topic, when Kafka answers)')
      .option('--archive <dir>', 'the archive folder (cold.archive, default $ROADLOG_HOME/archive)')
      .option('--brokers <list>', BROKERS_HELP)
      .option('--config <file>', 'YAML config file')
      .option('--no-progress', 'no progress bar (it is drawn only on a terminal anyway)')
      .action(async (flags: ReportFlags, command: Command) => runCommand(def, flags, command));
  }
}

async function runCommand(def: ReportDef, flags: ReportFlags, cmd: Command): Promise<void> {
  const from = time('--from', flags.from, 0);
  const to = time('--to', flags.to, Number.MAX_SAFE_INTEGER);
  if (from >= to) throw new RoadlogError('ROADLOG_ERR_USAGE', `--from must be before --to (${new Date(from).toISOString()} is not before ${new Date(to).toISOString()})`);
  if (flags.format === 'html' && flags.details !== undefined) throw new RoadlogError('ROADLOG_ERR_USAGE', '--details prints one list as table, csv or json; the html report holds every list already');
  const config = coldConfig(cmd, flags);
  const options = config.cold as ColdOptions;
  const logger = createLogger({ level: config.log.level, format: config.log.format, name: 'roadlog-report' });
  const kafka = lazyKafka(config, flags, logger);
  const vehicles = await vehicleRefs(flags, kafka);
  const query = { from, to, ...(flags.vehicle === undefined ? {} : { vehicle: flags.vehicle }) };
  const report = await runReport(def, { archive: options.archive, query, groupBy: flags.groupBy, vehicles, kafka, progress: flags.progress });
  const text = flags.format === 'html' ? await (await import('./html.js')).renderHtml(report) : (await import('./format.js')).formatReport(report, flags.format, flags.details);
  if (flags.out === undefined) process.stdout.write(text);
  else (await import('node:fs')).writeFileSync(flags.out, text);
  if (flags.format === 'table' || flags.out !== undefined) process.stderr.write(`report ${def.name}: ${report.rows.length} rows by ${flags.groupBy} from ${options.archive}${flags.out === undefined ? '' : ` → ${flags.out}`}\n`);
}

async function vehicleRefs(flags: ReportFlags, kafka: ReportContext['kafka']): Promise<Map<string, VehicleRef>> {
  if (flags.vehiclesCsv !== undefined) {
    const { readFileSync } = await import('node:fs');
    const { parseVehiclesCsv } = await import('../../shared/vehicles/index.js');
    return new Map(parseVehiclesCsv(readFileSync(flags.vehiclesCsv, 'utf8'), flags.vehiclesCsv).map((v) => [v.vehicleId, v]));
  }
  const { vehicles, error } = await readVehicleRefs(kafka);
  if (error !== undefined) process.stderr.write(`report: no vehicles table (${error}): class and depot left empty; pass --vehicles-csv FILE\n`);
  return vehicles;
}
