import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { reportFailure } from './run.js';
import { registerSchemaCommands } from './schema-commands.js';
import { registerConfigCommands } from './config-commands.js';
import { registerCloudCommands } from '../../cloud/cli.js';
import { registerInfraCommands } from '../../infra/cli.js';
import { registerEdgeCommands } from '../../edge/cli.js';
import { registerLogCommands } from '../../edge/log/cli.js';
import { registerSimCommands } from '../../simulators/cli.js';
import { LOG_LEVELS } from '../logging/index.js';

/**
 * `roadlog`: one CLI for every component. Each component registers its own subcommands;
 * the heavy modules behind them are imported only when a command runs, so the edge agent
 * never loads cloud-only code.
 */
export function buildProgram(): Command {
  const pkg = readPackageJson();
  const program = new Command('roadlog')
    .description('roadlog: edge-to-cloud telemetry for connected vehicles (MQTT on the gateway, a durable local log, Apache Kafka in the cloud)')
    .version(pkg.version, '-V, --version')
    .option('-c, --config <file>', 'YAML config file (environment: ROADLOG_* variables; see `roadlog config env`)')
    .option('-v, --verbose', 'debug logs, and stack traces on errors')
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS))
    .showHelpAfterError('(run with --help for usage)')
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(`roadlog: ROADLOG_ERR_USAGE ${str.replace(/^error: /, '')}`) });

  registerSchemaCommands(program);
  registerConfigCommands(program);
  registerEdgeCommands(program);
  registerLogCommands(program);
  registerCloudCommands(program);
  registerInfraCommands(program);
  registerSimCommands(program);

  // Every subcommand inherits exitOverride and the error output, so `--help` at any level and
  // usage errors go through one path.
  const inherit = (cmd: Command): void => {
    for (const sub of cmd.commands) {
      sub.exitOverride().showHelpAfterError('(run with --help for usage)').configureOutput({ outputError: (str, write) => write(`roadlog: ROADLOG_ERR_USAGE ${str.replace(/^error: /, '')}`) });
      inherit(sub);
    }
  };
  inherit(program);
  return program;
}

export async function main(argv: string[] = process.argv): Promise<number> {
  const program = buildProgram();
  try {
    if (argv.length <= 2) {
      program.outputHelp();
      return 0;
    }
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    const verbose = argv.includes('--verbose') || argv.includes('-v');
    return reportFailure(err, verbose);
  }
}


/** roadlog's package.json, found by walking up from this file (works from src and from dist/). */
function readPackageJson(): { version: string } {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string; version: string };
      if (pkg.name === 'roadlog') return pkg;
    }
    const parent = dirname(dir);
    if (parent === dir) return { version: '0.0.0' };
    dir = parent;
  }
}
