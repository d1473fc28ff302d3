import type { Command } from 'commander';
import { envKeys } from '../config/index.js';
import { RoadlogConfigSchema } from '../config/roadlog.js';
import { commandConfigWith } from './context.js';

/**
 * Every section a roadlog config file may hold, each with its component's own schema: the
 * shared ones (kafka, topics, log) and edge, hot, cold, influx, console. The CLI is where the
 * components meet, so they are composed here (and loaded only when a config command runs).
 */
async function fullConfigSchema() {
  const [edge, hot, cold, influx, consoleOptions] = await Promise.all([import('../../edge/agent/options.js'), import('../../cloud/hot/options.js'), import('../../cloud/cold/options.js'), import('../../cloud/influx/options.js'), import('../../cloud/console/options.js')]);
  return RoadlogConfigSchema.extend({
    edge: edge.EdgeAgentOptionsSchema.optional(),
    hot: hot.HotOptionsSchema.optional(),
    cold: cold.ColdOptionsSchema.optional(),
    influx: influx.InfluxSinkOptionsSchema.optional(),
    console: consoleOptions.ConsoleOptionsSchema.optional(),
  });
}

/** defaults ← the file (--config) ← ROADLOG_* env ← --log-level / --verbose, over every section. */
async function effectiveConfig(cmd: Command): Promise<Record<string, unknown>> {
  return commandConfigWith(cmd, await fullConfigSchema()) as Record<string, unknown>;
}

export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('check and show roadlog configuration (YAML file + ROADLOG_* environment)');

  config
    .command('check')
    .description('validate a config file, any of its sections (kafka, topics, log, edge, hot, cold, influx, console), with the environment applied; exit 2 naming the field if invalid')
    .argument('<file>', 'YAML config file')
    .action(async (file: string, _opts: unknown, cmd: Command) => {
      cmd.parent?.parent?.setOptionValue('config', file);
      const effective = await effectiveConfig(cmd);
      const sections = ['edge', 'hot', 'cold', 'influx', 'console'].filter((k) => effective[k] !== undefined);
      process.stdout.write(`${file}: ok (${['kafka', 'topics', 'log', ...sections].join(', ')})\n`);
    });

  config
    .command('print')
    .description('print the effective config (defaults ← --config file ← environment) as JSON')
    .action(async (_opts: unknown, cmd: Command) => {
      const effective = await effectiveConfig(cmd);
      const redacted = JSON.parse(JSON.stringify(effective, (k, v: unknown) => (k === 'password' ? '***' : v))) as unknown;
      process.stdout.write(`${JSON.stringify(redacted, null, 2)}\n`);
    });

  config
    .command('env')
    .description('list the ROADLOG_* environment variables and the config key each one sets')
    .action(async () => {
      for (const key of envKeys(await fullConfigSchema())) {
        process.stdout.write(`${key.name.padEnd(48)} ${key.path}\n`);
      }
    });
}
