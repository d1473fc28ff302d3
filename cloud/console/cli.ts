import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { intOption } from '../../shared/cli/context.js';
import { RoadlogError } from '../../shared/errors/index.js';
import { createLogger } from '../../shared/logging/index.js';
import type { VehicleRef } from '../../shared/vehicles/index.js';
import { HEAP_TRIM_DEFAULTS } from '../../shared/heap/trim.js';
import { loadComponentConfig, runUntilSignal } from '../component.js';
import { BROKERS_HELP } from '../kafka-options.js';
import { lazyKafka, readVehicleRefs } from '../report/kafka.js';
import type { ReportContext } from '../report/model.js';
import { ConsoleConfigSchema, type ConsoleOptions } from './options.js';
import { ROLES, type Role } from './users.js';

interface ConsoleFlags {
  config?: string;
  brokers?: string;
  host?: string;
  port?: number;
  users?: string;
  archive?: string;
  cert?: string;
  key?: string;
  metrics?: string;
  influx?: string;
}

/** `roadlog console ...`: the web console's server and its users. */
export function registerConsoleCommands(program: Command): void {
  const console_ = program
    .command('console')
    .description('the web console: live alerts (ack, clear), vehicles, reports, the event browser, gateways and health in a browser; `console passwd` manages its users')
    .option('--host <host>', 'listen on this address (console.host, default 127.0.0.1: this machine only)')
    .option('--port <port>', 'listen on this port, 0 for a free one (console.port, default 8080)', intOption('--port', 0, 65_535))
    .option('--users <file>', 'users file (console.usersFile, default $ROADLOG_HOME/console-users; make it with `roadlog console passwd`)')
    .option('--archive <dir>', 'the archive the reports read (cold.archive, default $ROADLOG_HOME/archive)')
    .option('--cert <file>', 'serve HTTPS with this PEM certificate (console.tls.cert; needs --key)')
    .option('--key <file>', 'the certificate\'s PEM private key (console.tls.key)')
    .option('--metrics <urls>', 'comma-separated /metrics URLs of the components, for the health page (console.metrics)')
    .option('--influx <url>', 'InfluxDB for the vehicle page (influx.url, default http://127.0.0.1:8086)')
    .option('--brokers <list>', BROKERS_HELP)
    .option('--config <file>', 'YAML config file (the console:, cold: and influx: sections)')
    .action(async (flags: ConsoleFlags, cmd: Command) => serve(flags, cmd));

  console_
    .command('passwd')
    .description('add or replace a console user in a users file (scrypt hash; the password is read from stdin, at least 8 characters)')
    .argument('<file>', 'users file (created if missing)')
    .argument('<user>', 'user name (1-64 characters of A-Z a-z 0-9 _ . @ -)')
    .addOption(new Option('--role <role>', 'viewer reads; operator also acks and clears alerts').choices([...ROLES]).makeOptionMandatory())
    .action(async (file: string, user: string, flags: { role: Role }) => {
      const password = readFileSync(0, 'utf8').replace(/\r?\n$/, '');
      const { setPassword } = await import('./users.js');
      const { asFileError } = await import('../../shared/errors/index.js');
      let done: 'added' | 'replaced';
      try {
        done = await setPassword(file, user, flags.role, password);
      } catch (err) {
        if (err instanceof RoadlogError) throw err;
        throw asFileError(err, 'console passwd', file);
      }
      process.stdout.write(`${user} (${flags.role}): ${done} in ${file}\n`);
    });
}

async function serve(flags: ConsoleFlags, cmd: Command): Promise<void> {
  if ((flags.cert === undefined) !== (flags.key === undefined)) throw new RoadlogError('ROADLOG_ERR_USAGE', '--cert and --key go together');
  const section: Record<string, unknown> = {};
  if (flags.host !== undefined) section.host = flags.host;
  if (flags.port !== undefined) section.port = flags.port;
  if (flags.users !== undefined) section.usersFile = flags.users;
  if (flags.cert !== undefined) section.tls = { cert: flags.cert, key: flags.key };
  if (flags.metrics !== undefined) section.metrics = flags.metrics.split(',').map((u) => u.trim()).filter((u) => u !== '');
  const config = loadComponentConfig(cmd, ConsoleConfigSchema, 'console', section, flags, flags.influx === undefined ? {} : { influx: { url: flags.influx } });
  const options = config.console as ConsoleOptions;
  const archive = flags.archive ?? config.cold.archive;
  const logger = createLogger({ level: config.log.level, format: config.log.format, name: 'roadlog-console' });
  const { asFileError } = await import('../../shared/errors/index.js');
  const { readUsersFile } = await import('./users.js');
  const users = await readUsersFile(options.usersFile);
  const pem = (setting: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw asFileError(err, setting, file);
    }
  };
  const https = options.tls === undefined ? undefined : { cert: pem('console.tls.cert', options.tls.cert), key: pem('console.tls.key', options.tls.key) };
  const { createMetricsRegistry } = await import('../../shared/metrics/index.js');
  const registry = createMetricsRegistry({ component: 'console' });
  const { buildConsoleApi } = await import('./server.js');
  const { registerReportsApi } = await import('./reports-api.js');
  const { app, requireRole, sessions } = await buildConsoleApi({ users, registry, logger, secure: https !== undefined, sessionIdleMs: options.sessionIdleMinutes * 60_000, ...(https === undefined ? {} : { https }) });
  const kafka = lazyKafka(config, flags, logger);
  const timeoutMs = config.kafka.operationTimeoutMs;
  registerReportsApi(app, { archive, kafka, vehicles: cachedVehicles(kafka, logger) });
  const { LiveFeeds } = await import('./feeds.js');
  const feeds = new LiveFeeds(kafka, { recentClearedMs: options.recentClearedHours * 3_600_000, offlineAfterMs: options.gatewayOfflineSeconds * 1000, logger });
  feeds.start();
  (await import('./alerts-api.js')).registerAlertsApi(app, { feeds, kafka, requireRole, sessions, timeoutMs });
  const events = (await import('./events-api.js')).registerEventsApi(app, { kafka, logger, sessions, timeoutMs });
  (await import('./health.js')).registerHealthApi(app, { metrics: options.metrics, kafka, admin: events.admin, timeoutMs });
  const { influxTarget } = await import('../influx/cli.js');
  (await import('./vehicle-api.js')).registerVehicleApi(app, { influx: influxTarget(config.influx), feeds });
  (await import('./web.js')).registerWeb(app);
  app.get('/healthz', async () => ({ ready: true }));
  app.get('/metrics', async (_req, reply) => reply.header('content-type', registry.contentType).send(await registry.metrics()));
  await app.ready();
  const { listen } = await import('../../shared/net/index.js');
  const address = await listen(app.server, { host: options.host, port: options.port, setting: 'console.port' });
  const url = `${https === undefined ? 'http' : 'https'}://${address.address}:${address.port}`;
  process.stdout.write(`console: ${url} (users from ${options.usersFile}: ${users.size}; archive ${archive})\n`);
  process.stdout.write(`http ${url}\n`);
  await runUntilSignal(logger, app.server, async () => {
    // The live pages' event streams never end by themselves: close every connection with the server.
    const closing = app.close();
    app.server.closeAllConnections();
    await closing;
    await Promise.all([feeds.stop(), events.close()]);
  }, 'stopping the console', CONSOLE_HEAP_TRIM);
}

/**
 * The console's heap is small (~30 MB committed once shrunk) and its growth slow (the young
 * generation filling up over an hour, +11 MB in the soak): a smaller margin gives it back too.
 * Its shrinks took 77-217 ms in the soak.
 */
const CONSOLE_HEAP_TRIM = { ...HEAP_TRIM_DEFAULTS, marginBytes: 16 * 1024 * 1024 };

/** The vehicles table (class, depot), read from its topic at most once a minute. */
function cachedVehicles(kafka: ReportContext['kafka'], logger: ReturnType<typeof createLogger>): () => Promise<ReadonlyMap<string, VehicleRef>> {
  let cached: { at: number; table: Promise<ReadonlyMap<string, VehicleRef>> } | undefined;
  return () => {
    if (cached === undefined || Date.now() - cached.at > 60_000) {
      cached = {
        at: Date.now(),
        table: readVehicleRefs(kafka).then(({ vehicles, error }) => {
          if (error !== undefined) logger.warn({ err: error }, 'console: the vehicles topic could not be read; class and depot are left empty');
          return vehicles;
        }),
      };
    }
    return cached.table;
  };
}
