import { Option, type Command } from 'commander';
import { intOption } from '../../shared/cli/context.js';
import { RoadlogError } from '../../shared/errors/index.js';
import { BROKERS_HELP, kafkaCommandContext, type KafkaCommandContext } from '../kafka-options.js';
import type { Admin } from 'kafkajs';

async function withAdmin<T>(ctx: KafkaCommandContext, what: string, op: (admin: Admin) => Promise<T>): Promise<T> {
  const { createKafka, disconnectQuietly, withDeadline } = await import('../../shared/kafka/index.js');
  const admin = createKafka(ctx.kafka, ctx.logger).admin();
  try {
    await withDeadline(() => admin.connect(), ctx.kafka.operationTimeoutMs, what);
    return await withDeadline(() => op(admin), ctx.kafka.operationTimeoutMs, what);
  } finally {
    await disconnectQuietly(admin);
  }
}

function parseConfigPairs(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new RoadlogError('ROADLOG_ERR_USAGE', `--config-entry: expected name=value, got ${JSON.stringify(pair)}`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

const formatOption = () => new Option('--format <format>', 'output format').choices(['table', 'json']).default('table');

export function registerTopicsCommands(program: Command): void {
  const topics = program.command('topics').description('list, describe, create Kafka topics; apply roadlog\'s topic table');

  topics
    .command('list')
    .description('list topics with partition count and replication factor')
    .option('--brokers <list>', BROKERS_HELP)
    .option('--all', 'include internal topics (__consumer_offsets, ...)')
    .addOption(formatOption())
    .action(async (opts: { brokers?: string; all?: boolean; format: string }, cmd: Command) => {
      const ctx = await kafkaCommandContext(cmd, opts);
      const { listTopics } = await import('./topics.js');
      const rows = await withAdmin(ctx, 'topics list', async (admin) => {
        const names = await listTopics(admin, opts.all === true);
        if (names.length === 0) return [];
        const meta = await admin.fetchTopicMetadata({ topics: names });
        return meta.topics
          .map((t) => ({ topic: t.name, partitions: t.partitions.length, replicationFactor: t.partitions[0]?.replicas.length ?? 0 }))
          .sort((a, b) => a.topic.localeCompare(b.topic));
      });
      if (opts.format === 'json') process.stdout.write(`${JSON.stringify(rows)}\n`);
      else process.stdout.write(table(['TOPIC', 'PARTITIONS', 'RF'], rows.map((r) => [r.topic, String(r.partitions), String(r.replicationFactor)])));
    });

  topics
    .command('describe')
    .description('partitions (leader, replicas, ISR, earliest/latest offsets) and configs of a topic')
    .argument('<topic>', 'topic name')
    .option('--brokers <list>', BROKERS_HELP)
    .option('--all-configs', 'also list configs left at their defaults')
    .addOption(formatOption())
    .action(async (topic: string, opts: { brokers?: string; allConfigs?: boolean; format: string }, cmd: Command) => {
      const ctx = await kafkaCommandContext(cmd, opts);
      const { describeTopic } = await import('./topics.js');
      const d = await withAdmin(ctx, 'topics describe', (admin) => describeTopic(admin, topic));
      if (opts.format === 'json') {
        process.stdout.write(`${JSON.stringify(d)}\n`);
        return;
      }
      const out: string[] = [`Topic: ${d.name}  partitions: ${d.partitions.length}  replication factor: ${d.replicationFactor}\n`];
      out.push(
        table(
          ['PARTITION', 'LEADER', 'REPLICAS', 'ISR', 'EARLIEST', 'LATEST'],
          d.partitions.map((p) => [String(p.partition), p.leader < 0 ? 'none' : String(p.leader), p.replicas.join(','), p.isr.join(','), p.earliest, p.latest]),
        ),
      );
      const configs = Object.entries(d.configs).filter(([, c]) => opts.allConfigs === true || !c.default);
      out.push(`\nConfigs${opts.allConfigs === true ? '' : ' (set on the topic or broker; --all-configs for defaults)'}:\n`);
      out.push(configs.length === 0 ? '  (none)\n' : table(['NAME', 'VALUE', 'SOURCE'], configs.map(([k, c]) => [k, c.value ?? '(null)', c.source]), '  '));
      process.stdout.write(out.join(''));
    });

  topics
    .command('create')
    .description('create a topic')
    .argument('<name>', 'topic name')
    .option('--brokers <list>', BROKERS_HELP)
    .option('--partitions <n>', 'number of partitions', intOption('--partitions', 1, 100_000), 1)
    .option('--replication <n>', 'replication factor (≤ number of brokers)', intOption('--replication', 1, 16), 1)
    .option('--config-entry <name=value...>', 'topic config, repeatable (e.g. cleanup.policy=compact)')
    .action(async (name: string, opts: { brokers?: string; partitions: number; replication: number; configEntry?: string[] }, cmd: Command) => {
      if (!/^[A-Za-z0-9._-]{1,249}$/.test(name)) throw new RoadlogError('ROADLOG_ERR_USAGE', `<name>: a topic name is 1-249 characters of A-Z a-z 0-9 . _ -, got ${JSON.stringify(name)}`);
      const configs = parseConfigPairs(opts.configEntry ?? []);
      const ctx = await kafkaCommandContext(cmd, opts);
      const { createTopic } = await import('./topics.js');
      const created = await withAdmin(ctx, 'topics create', (admin) => createTopic(admin, { name, partitions: opts.partitions, replicationFactor: opts.replication, configs }));
      process.stdout.write(created ? `created ${name} (${opts.partitions} partitions, RF ${opts.replication})\n` : `${name} already exists\n`);
    });

  topics
    .command('apply')
    .description('create or update roadlog\'s topics (telemetry, alerts, dead letters, gateway status, vehicles) to match the config; idempotent')
    .option('--brokers <list>', BROKERS_HELP)
    .option('--prefix <prefix>', 'topic name prefix (config topics.prefix)')
    .option('--dry-run', 'show what would change, change nothing')
    .addOption(formatOption())
    .action(async (opts: { brokers?: string; prefix?: string; dryRun?: boolean; format: string }, cmd: Command) => {
      const ctx = await kafkaCommandContext(cmd, opts);
      const { topicSpecs, TopicsOptionsSchema } = await import('../../shared/topics/index.js');
      const parsed = TopicsOptionsSchema.safeParse({ ...ctx.config.topics, ...(opts.prefix === undefined ? {} : { prefix: opts.prefix }) });
      if (!parsed.success) throw new RoadlogError('ROADLOG_ERR_USAGE', `--prefix: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
      const { applyTopics } = await import('./topics.js');
      const actions = await withAdmin(ctx, 'topics apply', (admin) => applyTopics(admin, topicSpecs(parsed.data), { dryRun: opts.dryRun === true }));
      if (opts.format === 'json') {
        process.stdout.write(`${JSON.stringify(actions)}\n`);
        return;
      }
      const verb = opts.dryRun === true ? 'would be ' : '';
      for (const a of actions) {
        if (a.action === 'created') process.stdout.write(`${a.topic}: ${verb}created (${a.partitions} partitions, RF ${a.replicationFactor})\n`);
        else if (a.action === 'updated') process.stdout.write(`${a.topic}: ${verb}updated: ${a.changes.join('; ')}\n`);
        else if (a.action === 'unchanged') process.stdout.write(`${a.topic}: unchanged\n`);
        else process.stdout.write(`${a.topic}: warning: ${a.message}\n`);
      }
    });
}

/** A plain left-aligned text table. */
export function table(header: string[], rows: string[][], indent = ''): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `${indent}${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()}\n`;
  return [line(header), ...rows.map(line)].join('');
}
