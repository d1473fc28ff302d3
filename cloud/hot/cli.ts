import { createServer } from 'node:http';
import type { Command } from 'commander';
import { intOption } from '../../shared/cli/context.js';
import { RoadlogConfigSchema } from '../../shared/config/roadlog.js';
import { createLogger } from '../../shared/logging/index.js';
import { topicName } from '../../shared/topics/topics.js';
import type { TopicsOptions } from '../../shared/topics/options.js';
import { loadComponentConfig, runUntilSignal } from '../component.js';
import { BROKERS_HELP, resolveKafka } from '../kafka-options.js';
import { HotOptionsSchema, type HotOptions } from './options.js';

export const HotConfigSchema = RoadlogConfigSchema.extend({ hot: HotOptionsSchema.prefault({}) });

interface HotFlags {
  config?: string;
  rules?: string;
  brokers?: string;
  group?: string;
  instance?: string;
  httpPort?: number;
}

function hotConfig(cmd: Command, flags: HotFlags) {
  const hot: Record<string, unknown> = {};
  if (flags.rules !== undefined) hot.rules = flags.rules;
  if (flags.group !== undefined) hot.groupId = flags.group;
  if (flags.instance !== undefined) hot.instanceId = flags.instance;
  if (flags.httpPort !== undefined) hot.http = { port: flags.httpPort };
  return loadComponentConfig(cmd, HotConfigSchema, 'hot', hot, flags);
}

/** `roadlog hot ...` and `roadlog alerts ...`: the alerting processor and what operators do with its alerts. */
export function registerHotCommands(program: Command): void {
  const hot = program.command('hot').description('the hot path: alert rules over the live telemetry stream, in event time, exactly once');

  hot
    .command('start')
    .description('run one member of the hot path\'s consumer group until SIGTERM/SIGINT')
    .option('--config <file>', 'YAML config file (the hot: section; see cloud/README.md)')
    .option('--rules <file>', 'rule pack (YAML; default: the built-in pack, cloud/hot/rules/default.yaml)')
    .option('--brokers <list>', BROKERS_HELP)
    .option('--group <id>', 'consumer group (hot.groupId, default hot)')
    .option('--instance <id>', 'this instance\'s name in logs (hot.instanceId; default host-pid)')
    .option('--http-port <port>', '/healthz, /metrics, /status port, 0 for a free one (hot.http.port)', intOption('--http-port', 0, 65_535))
    .action(async (flags: HotFlags, cmd: Command) => {
      const config = hotConfig(cmd, flags);
      const options = config.hot as HotOptions;
      const logger = createLogger({ level: config.log.level, format: config.log.format, name: 'roadlog-hot' });
      const { loadRulePack, DEFAULT_RULES_FILE } = await import('./rules/load.js');
      const pack = loadRulePack(options.rules ?? DEFAULT_RULES_FILE);
      const { kafka: kafkaOptions, brokersFrom } = await resolveKafka(config, flags);
      const { createKafka } = await import('../../shared/kafka/index.js');
      const { createMetricsRegistry, metricsRequestListener } = await import('../../shared/metrics/index.js');
      const { listen } = await import('../../shared/net/index.js');
      const { HotProcessor } = await import('./processor.js');
      const topics = config.topics as TopicsOptions;
      const registry = createMetricsRegistry({ component: 'hot', instance: options.instanceId });
      const processor = new HotProcessor({
        kafka: createKafka({ ...kafkaOptions, clientId: `${kafkaOptions.clientId}-hot-${options.instanceId}` }, logger),
        topics: { telemetry: topicName(topics, 'telemetry'), alerts: topicName(topics, 'alerts'), commands: topicName(topics, 'alertCommands'), state: topicName(topics, 'hotState'), gatewayStatus: topicName(topics, 'gatewayStatus'), vehicles: topicName(topics, 'vehicles') },
        options,
        pack,
        logger,
        registry,
      });
      const server = createServer(metricsRequestListener(registry, () => ({ ready: processor.status().partitions.every((p) => p.phase === 'live'), details: processor.status() }), { '/status': () => processor.status() }));
      const address = await listen(server, { host: options.http.host, port: options.http.port, setting: 'hot.http.port' });
      await processor.start();
      process.stdout.write(`hot group ${options.groupId} instance ${options.instanceId}: ${pack.rules.length} rules (${options.rules ?? 'built-in pack'}), Kafka from ${brokersFrom}\n`);
      process.stdout.write(`http http://${address.address}:${address.port}\n`);
      await runUntilSignal(logger, server, () => processor.stop(), 'stopping: leaving the group, ending transactions');
    });

  hot
    .command('check-rules')
    .description('validate a rule pack; errors name the rule and the field (exit 0 valid, 2 invalid)')
    .argument('[file]', 'rule pack (YAML); default: the built-in pack')
    .action(async (file: string | undefined) => {
      const { loadRulePack, DEFAULT_RULES_FILE } = await import('./rules/load.js');
      const pack = loadRulePack(file ?? DEFAULT_RULES_FILE);
      const kinds = [...new Set(pack.rules.map((r) => r.kind))].join(', ');
      process.stdout.write(`${file ?? DEFAULT_RULES_FILE}: ${pack.rules.length} rules valid (${kinds}); categories: ${[...new Set(pack.rules.map((r) => r.category))].join(', ')}\n`);
    });

  hot
    .command('backtest')
    .description('run the rules over what the telemetry topic holds and print the alerts they would have raised (publishes nothing)')
    .option('--from <time>', 'device time from (ISO 8601 or ms since epoch; default: everything)')
    .option('--to <time>', 'device time to (ISO 8601 or ms since epoch; default: everything)')
    .option('--rules <file>', 'rule pack (YAML; default: the built-in pack)')
    .option('--vehicle <id>', 'only this vehicle')
    .option('--format <format>', 'table (the alerts as they end up) or json (every event, one per line)', 'table')
    .option('--out <file>', 'write to this file instead of stdout')
    .option('--brokers <list>', BROKERS_HELP)
    .option('--config <file>', 'YAML config file')
    .action(async (flags: HotFlags & { from?: string; to?: string; vehicle?: string; format: string; out?: string }, cmd: Command) => {
      const { RoadlogError } = await import('../../shared/errors/index.js');
      if (!['table', 'json'].includes(flags.format)) throw new RoadlogError('ROADLOG_ERR_USAGE', `--format: expected table or json, got ${JSON.stringify(flags.format)}`);
      const time = (flag: string, v: string | undefined, dflt: number): number => {
        if (v === undefined) return dflt;
        const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
        if (!Number.isFinite(n)) throw new RoadlogError('ROADLOG_ERR_USAGE', `${flag}: expected an ISO 8601 time or ms since epoch, got ${JSON.stringify(v)}`);
        return n;
      };
      const from = time('--from', flags.from, 0);
      const to = time('--to', flags.to, Number.MAX_SAFE_INTEGER);
      const config = hotConfig(cmd, flags);
      const options = config.hot as HotOptions;
      const { loadRulePack, DEFAULT_RULES_FILE } = await import('./rules/load.js');
      const pack = loadRulePack(options.rules ?? DEFAULT_RULES_FILE);
      const { kafka } = await resolveKafka(config, flags);
      const { createKafka } = await import('../../shared/kafka/index.js');
      const { backtest } = await import('./backtest.js');
      const { alertTable } = await import('./alerts.js');
      const logger = createLogger({ level: config.log.level, format: config.log.format, name: 'roadlog-backtest' });
      const tty = process.stderr.isTTY === true;
      let shown = 0;
      const result = await backtest(createKafka(kafka, logger), pack, {
        topic: topicName(config.topics as TopicsOptions, 'telemetry'),
        from,
        to,
        ...(flags.vehicle === undefined ? {} : { vehicle: flags.vehicle }),
        timeoutMs: Math.max(30_000, kafka.operationTimeoutMs),
        progress: (read, total) => {
          if (!tty || Date.now() - shown < 200) return;
          shown = Date.now();
          const pct = total === 0 ? 100 : Math.min(100, Math.round((100 * read) / total));
          const bar = '#'.repeat(Math.round(pct / 4)).padEnd(25, '.');
          process.stderr.write(`\rbacktest [${bar}] ${pct}%  ${read.toLocaleString('en-US')} / ${total.toLocaleString('en-US')} records`);
        },
      });
      if (tty) process.stderr.write('\n');
      const latest = new Map<string, (typeof result.events)[number]>();
      for (const e of result.events) latest.set(e.alertId, e);
      const text = flags.format === 'json' ? result.events.map((e) => JSON.stringify(e)).join('\n') + (result.events.length > 0 ? '\n' : '') : `${latest.size === 0 ? 'no alerts' : alertTable([...latest.values()].sort((a, b) => a.openedAt - b.openedAt))}\n`;
      if (flags.out === undefined) process.stdout.write(text);
      else (await import('node:fs')).writeFileSync(flags.out, text);
      process.stderr.write(`backtest: ${result.read} records read, ${result.evaluated} evaluated (${result.skipped} outside the range or not telemetry), ${latest.size} alerts, ${result.events.length} events\n`);
    });

  registerAlertsCommands(program);
}

function registerAlertsCommands(program: Command): void {
  const alerts = program.command('alerts').description('the hot path\'s alerts: list, show, acknowledge, clear');
  const kafkaFor = async (cmd: Command, flags: { brokers?: string }) => {
    const config = hotConfig(cmd, flags);
    const { kafka } = await resolveKafka(config, flags);
    const { createKafka } = await import('../../shared/kafka/index.js');
    const logger = createLogger({ level: config.log.level, format: config.log.format, name: 'roadlog-alerts' });
    return { kafka: createKafka(kafka, logger), topics: config.topics as TopicsOptions, timeoutMs: Math.max(30_000, kafka.operationTimeoutMs) };
  };

  alerts
    .command('list')
    .description('alerts as they stand (the newest event of each), newest first')
    .option('--brokers <list>', BROKERS_HELP)
    .option('--config <file>', 'YAML config file')
    .option('--state <state>', 'open, ack, cleared, or all', 'open')
    .option('--vehicle <id>', 'only this vehicle')
    .option('--category <name>', 'only this category')
    .option('--format <format>', 'table or json', 'table')
    .action(async (flags: { brokers?: string; config?: string; state: string; vehicle?: string; category?: string; format: string }, cmd: Command) => {
      const { RoadlogError } = await import('../../shared/errors/index.js');
      if (!['open', 'ack', 'cleared', 'all'].includes(flags.state)) throw new RoadlogError('ROADLOG_ERR_USAGE', `--state: expected open, ack, cleared or all, got ${JSON.stringify(flags.state)}`);
      if (!['table', 'json'].includes(flags.format)) throw new RoadlogError('ROADLOG_ERR_USAGE', `--format: expected table or json, got ${JSON.stringify(flags.format)}`);
      const { kafka, topics, timeoutMs } = await kafkaFor(cmd, flags);
      const { readAlerts, alertTable } = await import('./alerts.js');
      const all = [...(await readAlerts(kafka, topicName(topics, 'alerts'), timeoutMs)).values()];
      const shown = all
        .filter((a) => flags.state === 'all' || a.state === flags.state)
        .filter((a) => flags.vehicle === undefined || a.vehicleId === flags.vehicle)
        .filter((a) => flags.category === undefined || a.category === flags.category)
        .sort((a, b) => b.openedAt - a.openedAt);
      if (flags.format === 'json') for (const a of shown) process.stdout.write(`${JSON.stringify(a)}\n`);
      else process.stdout.write(`${shown.length === 0 ? `no ${flags.state === 'all' ? '' : `${flags.state} `}alerts` : alertTable(shown)}\n`);
    });

  alerts
    .command('show')
    .description('one alert, every field (JSON)')
    .argument('<alertId>', 'the alert id, or its first 6 or more digits')
    .option('--brokers <list>', BROKERS_HELP)
    .option('--config <file>', 'YAML config file')
    .action(async (id: string, flags: { brokers?: string; config?: string }, cmd: Command) => {
      const { kafka, topics, timeoutMs } = await kafkaFor(cmd, flags);
      const { readAlerts, findAlert } = await import('./alerts.js');
      process.stdout.write(`${JSON.stringify(findAlert(await readAlerts(kafka, topicName(topics, 'alerts'), timeoutMs), id), null, 2)}\n`);
    });

  for (const action of ['ack', 'clear'] as const) {
    alerts
      .command(action)
      .description(action === 'ack' ? 'acknowledge an open alert (it stays open until its condition clears)' : 'clear an alert by hand (it stays closed until its condition clears and opens again)')
      .argument('<alertId>', 'the alert id, or its first 6 or more digits')
      .requiredOption('--by <name>', 'who does it (recorded in the alert event)')
      .option('--note <text>', 'a note recorded with it')
      .option('--brokers <list>', BROKERS_HELP)
      .option('--config <file>', 'YAML config file')
      .action(async (id: string, flags: { by: string; note?: string; brokers?: string; config?: string }, cmd: Command) => {
        const { kafka, topics, timeoutMs } = await kafkaFor(cmd, flags);
        const { readAlerts, findAlert, sendCommand } = await import('./alerts.js');
        const alert = findAlert(await readAlerts(kafka, topicName(topics, 'alerts'), timeoutMs), id);
        await sendCommand(kafka, topicName(topics, 'alertCommands'), alert, { v: 1, alertId: alert.alertId, action, by: flags.by, at: Date.now(), ...(flags.note === undefined ? {} : { note: flags.note }) }, timeoutMs);
        process.stdout.write(`${action} of ${alert.alertId} sent (${alert.category} on ${alert.vehicleId || `gateway ${alert.gatewayId}`}, now ${alert.state}); the hot path answers with an alert event\n`);
      });
  }
}
