import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { asFileError, RoadlogError } from '../errors/index.js';
import { exampleTelemetry, parseTelemetry, telemetryJsonSchema } from '../schema/index.js';
import { alertJsonSchema } from '../alerts/index.js';

export function registerSchemaCommands(program: Command): void {
  const schema = program.command('schema').description('the telemetry contract, for people who write vehicle firmware');

  schema
    .command('json')
    .description('print the telemetry schema (or, with --alerts, the alert event schema) as JSON Schema (draft 2020-12)')
    .option('--alerts', 'the alert events on roadlog.alerts.v1 instead')
    .action((opts: { alerts?: boolean }) => {
      process.stdout.write(`${JSON.stringify(opts.alerts === true ? alertJsonSchema() : telemetryJsonSchema(), null, 2)}\n`);
    });

  schema
    .command('example')
    .description('print a valid telemetry record')
    .option('--compact', 'one line instead of indented JSON')
    .action((opts: { compact?: boolean }) => {
      process.stdout.write(`${JSON.stringify(exampleTelemetry(), null, opts.compact === true ? undefined : 2)}\n`);
    });

  schema
    .command('validate')
    .description('validate telemetry records: one JSON document, or JSON lines, from a file or stdin')
    .argument('[file]', 'file to read; - or nothing for stdin')
    .option('--lines', 'treat the input as JSON lines (one record per line)')
    .action((file: string | undefined, opts: { lines?: boolean }) => {
      let text: string;
      try {
        text = readFileSync(file === undefined || file === '-' ? 0 : file, 'utf8');
      } catch (err) {
        throw asFileError(err, 'schema validate', file ?? '-');
      }
      const docs = opts.lines === true ? text.split('\n').filter((l) => l.trim() !== '') : [text];
      let bad = 0;
      docs.forEach((doc, i) => {
        const result = parseTelemetry(doc);
        const where = opts.lines === true ? `line ${i + 1}: ` : '';
        if (result.ok) process.stdout.write(`${where}ok (v${result.version}, ${result.value.vehicleId} seq ${result.value.seq})\n`);
        else {
          bad += 1;
          process.stdout.write(`${where}${result.code} ${result.message}\n`);
        }
      });
      if (bad > 0) throw new RoadlogError('ROADLOG_ERR_SCHEMA_INVALID', `${bad} of ${docs.length} record(s) invalid`);
    });
}
