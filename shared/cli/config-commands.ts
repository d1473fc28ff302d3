import type { Command } from 'commander';
import { envKeys } from '../config/index.js';
import { RoadlogConfigSchema } from '../config/roadlog.js';
import { commandConfig } from './context.js';

export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('check and show roadlog configuration (YAML file + ROADLOG_* environment)');

  config
    .command('check')
    .description('validate a config file (with the environment applied); exit 2 naming the field if invalid')
    .argument('<file>', 'YAML config file')
    .action((file: string, _opts: unknown, cmd: Command) => {
      cmd.parent?.parent?.setOptionValue('config', file);
      commandConfig(cmd);
      process.stdout.write(`${file}: ok\n`);
    });

  config
    .command('print')
    .description('print the effective config (defaults ← --config file ← environment) as JSON')
    .action((_opts: unknown, cmd: Command) => {
      const effective = commandConfig(cmd);
      const redacted = JSON.parse(JSON.stringify(effective, (k, v: unknown) => (k === 'password' ? '***' : v))) as unknown;
      process.stdout.write(`${JSON.stringify(redacted, null, 2)}\n`);
    });

  config
    .command('env')
    .description('list the ROADLOG_* environment variables and the config key each one sets')
    .action(async () => {
      // The CLI is where components meet: the edge section is listed here, not in shared/config.
      const { EdgeAgentOptionsSchema } = await import('../../edge/agent/options.js');
      for (const key of [...envKeys(RoadlogConfigSchema), ...envKeys(EdgeAgentOptionsSchema, 'ROADLOG', ['edge'])]) {
        process.stdout.write(`${key.name.padEnd(48)} ${key.path}\n`);
      }
    });
}
