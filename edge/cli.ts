import { readFileSync, existsSync } from 'node:fs';
import type { Command } from 'commander';
import { intOption, globalOptions } from '../shared/cli/context.js';
import { loadConfig, type DeepReadonly } from '../shared/config/index.js';
import { RoadlogConfigSchema } from '../shared/config/roadlog.js';
import { createLogger } from '../shared/logging/index.js';
import { asFileError, RoadlogError } from '../shared/errors/index.js';
import { EdgeAgentOptionsSchema, type EdgeAgentOptions } from './agent/options.js';
import type { KafkaClientOptions } from '../shared/kafka/options.js';
import type { TopicsOptions } from '../shared/topics/options.js';

interface StartFlags {
  dataDir?: string;
  mqttPort?: number;
  kafka?: string;
  gatewayId?: string;
  allowAnonymous?: boolean;
  httpPort?: number;
}

const EdgeConfigSchema = RoadlogConfigSchema.extend({ edge: EdgeAgentOptionsSchema.prefault({}) });

/** Config file + ROADLOG_* environment + flags, validated as a whole: errors name `edge.mqtt.port` etc. */
export function edgeConfig(cmd: Command, flags: StartFlags, file?: string) {
  const g = globalOptions(cmd);
  const edge: Record<string, unknown> = {};
  if (flags.dataDir !== undefined) edge.dataDir = flags.dataDir;
  if (flags.gatewayId !== undefined) edge.gatewayId = flags.gatewayId;
  const mqtt: Record<string, unknown> = {};
  if (flags.mqttPort !== undefined) mqtt.port = flags.mqttPort;
  if (flags.allowAnonymous === true) mqtt.allowAnonymous = true;
  if (Object.keys(mqtt).length > 0) edge.mqtt = mqtt;
  if (flags.httpPort !== undefined) edge.http = { port: flags.httpPort };
  const overrides: Record<string, unknown> = { edge };
  if (flags.kafka !== undefined) overrides.kafka = { brokers: flags.kafka.split(',').map((b) => b.trim()) };
  if (g.logLevel !== undefined) overrides.log = { level: g.logLevel };
  else if (g.verbose === true) overrides.log = { level: 'debug' };
  const configFile = file ?? g.config;
  return loadConfig(EdgeConfigSchema, { ...(configFile === undefined ? {} : { file: configFile }), overrides });
}

function startOptions(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'YAML config file (the edge: section; see edge/README.md)')
    .option('--data-dir <dir>', 'where the edge log lives (edge.dataDir)')
    .option('--mqtt-port <port>', 'MQTT TCP port, 0 for a free one (edge.mqtt.port)', intOption('--mqtt-port', 0, 65_535))
    .option('--http-port <port>', '/healthz, /metrics port, 0 for a free one (edge.http.port)', intOption('--http-port', 0, 65_535))
    .option('--kafka <brokers>', 'Kafka bootstrap servers host:port,... (kafka.brokers; used by the forwarder)')
    .option('--gateway-id <id>', 'this gateway\'s id (edge.gatewayId; default: host name)')
    .option('--allow-anonymous', 'accept any client without a password: for local development only');
}

export function registerEdgeCommands(program: Command): void {
  const edge = program.command('edge').description('the gateway agent: MQTT ingress that acknowledges only what is durably in the edge log');

  startOptions(edge.command('start'))
    .description('run the edge agent until SIGTERM/SIGINT (a second signal exits at once)')
    .action(async (flags: StartFlags & { config?: string }, cmd: Command) => {
      const config = edgeConfig(cmd, flags, flags.config);
      const logger = createLogger({ level: config.log.level, format: config.log.format, name: 'roadlog-edge' });
      const { createEdgeAgent } = await import('./agent/agent.js');
      const agent = await createEdgeAgent(config.edge as EdgeAgentOptions, { logger, kafka: { client: config.kafka as KafkaClientOptions, topics: config.topics as TopicsOptions } });
      for (const l of agent.listeners) process.stdout.write(`mqtt ${l.url}\n`);
      process.stdout.write(`http ${agent.http.url}\n`);
      await new Promise<void>((resolve) => {
        const stop = (signal: NodeJS.Signals): void => {
          logger.info({ signal }, 'stopping: no new connections, finishing in-flight publishes, flushing the log');
          process.once(signal, () => {
            logger.warn({ signal }, 'second signal: exiting at once');
            process.exit(130);
          });
          void agent.close().then(resolve, (err: unknown) => {
            logger.error({ err }, 'clean stop failed');
            process.exit(1);
          });
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
    });

  edge
    .command('check-config')
    .description('validate an edge config file (with the ROADLOG_* environment applied) and exit: 0 valid, 2 invalid naming the field')
    .argument('<file>', 'YAML config file')
    .action(async (file: string, _opts: unknown, cmd: Command) => {
      const config = edgeConfig(cmd, {}, file);
      const e = config.edge as DeepReadonly<EdgeAgentOptions>;
      // The Kafka TLS files and password file, read as the forwarder will read them.
      const { kafkaSecurity } = await import('../shared/kafka/security.js');
      kafkaSecurity(config.kafka as KafkaClientOptions);
      if (e.mqtt.credentialsFile !== undefined) {
        const { loadCredentials } = await import('../shared/credentials/index.js');
        const creds = await loadCredentials(e.mqtt.credentialsFile);
        process.stdout.write(`${file}: ok (gateway ${e.gatewayId}, ${creds.size} vehicle credential(s), data in ${e.dataDir})\n`);
      } else {
        process.stdout.write(`${file}: ok (gateway ${e.gatewayId}, data in ${e.dataDir})\n`);
      }
    });

  edge
    .command('status')
    .description("where this gateway's data is: backlog per partition, oldest unsent record, drain rate and ETA, Kafka connection (asks the running agent)")
    .option('--config <file>', 'the agent\'s config file, to find its HTTP port (edge.http)')
    .option('--url <url>', 'the agent\'s HTTP endpoint (default: from the config, http://127.0.0.1:9464)')
    .option('--json', 'print the status as JSON')
    .action(async (flags: { config?: string; url?: string; json?: boolean }, cmd: Command) => {
      let url = flags.url;
      if (url === undefined) {
        const e = edgeConfig(cmd, {}, flags.config).edge as DeepReadonly<EdgeAgentOptions>;
        url = `http://${e.http.host.includes(':') ? `[${e.http.host}]` : e.http.host}:${e.http.port}`;
      }
      let body: unknown;
      try {
        const res = await fetch(new URL('/status', url), { signal: AbortSignal.timeout(5_000) });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        body = await res.json();
      } catch (err) {
        throw new RoadlogError('ROADLOG_ERR_SERVICE_NOT_RUNNING', `no edge agent answers at ${url}/status (${(err as Error).message}); is it running? (--url to point elsewhere)`, { cause: err });
      }
      const { formatStatus } = await import('./forwarder/status.js');
      const status = body as Parameters<typeof formatStatus>[0] & { forwarder: string };
      process.stdout.write(flags.json === true ? `${JSON.stringify(status, null, 2)}\n` : `forwarder    ${status.forwarder}\n${formatStatus(status)}`);
    });

  edge
    .command('passwd')
    .description('add or replace a vehicle\'s secret in a credentials file (scrypt hash; the secret is read from stdin)')
    .argument('<file>', 'credentials file (created if missing)')
    .argument('<vehicleId>', 'the vehicle id (its MQTT username)')
    .action(async (file: string, vehicleId: string) => {
      const { hashSecret } = await import('../shared/credentials/index.js');
      const { isValidVehicleId } = await import('./ingress/identity.js');
      if (!isValidVehicleId(vehicleId)) throw new RoadlogError('ROADLOG_ERR_USAGE', `<vehicleId>: expected 1-64 characters of A-Z a-z 0-9 _ . -, got ${JSON.stringify(vehicleId)}`);
      const secret = readFileSync(0, 'utf8').replace(/\r?\n$/, '');
      if (secret.length < 8) throw new RoadlogError('ROADLOG_ERR_USAGE', 'secret: expected at least 8 characters on stdin');
      const line = `${vehicleId}: ${await hashSecret(secret)}`;
      const { writeFileAtomic } = await import('../shared/atomic-file/index.js');
      try {
        const lines = existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '' && !l.startsWith(`${vehicleId}:`)) : ['# roadlog vehicle credentials: vehicleId: scrypt$N$r$p$salt$hash'];
        await writeFileAtomic(file, `${[...lines, line].join('\n')}\n`);
      } catch (err) {
        throw asFileError(err, 'edge passwd', file);
      }
      process.stdout.write(`${vehicleId}: stored in ${file}\n`);
    });
}
