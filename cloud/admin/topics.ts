import type { Admin, ITopicConfig } from 'kafkajs';
import kafkajs from '../../shared/kafka/kafkajs.js';
import { RoadlogError } from '../../shared/errors/index.js';
import { effectiveConfigs, type TopicSpec } from '../../shared/topics/index.js';
import { backoffDelay } from '../../shared/retry/backoff.js';

// kafkajs is CommonJS; Node's ESM loader finds only some of its named exports statically.
const { ConfigResourceTypes } = kafkajs;

export interface PartitionInfo {
  partition: number;
  leader: number;
  replicas: number[];
  isr: number[];
  offline: number[];
  earliest: string;
  latest: string;
}

export interface TopicDescription {
  name: string;
  partitions: PartitionInfo[];
  replicationFactor: number;
  configs: Record<string, { value: string | null; source: string; default: boolean }>;
}

/** Topic names, sorted; internal topics (`__consumer_offsets`, ...) only when asked. */
export async function listTopics(admin: Admin, includeInternal = false): Promise<string[]> {
  const names = await admin.listTopics();
  return names.filter((n) => includeInternal || !n.startsWith('__')).sort();
}

export async function topicExists(admin: Admin, name: string): Promise<boolean> {
  return (await admin.listTopics()).includes(name);
}

export async function requireTopic(admin: Admin, name: string, what: string): Promise<void> {
  if (!(await topicExists(admin, name))) {
    throw new RoadlogError('ROADLOG_ERR_KAFKA_TOPIC_NOT_FOUND', `${what}: topic ${JSON.stringify(name)} does not exist (see \`roadlog topics list\`)`, { details: { topic: name } });
  }
}

/**
 * Retry what a cluster answers with a retriable error for a moment (a topic created a moment
 * ago whose leader the broker does not know yet, a leader election). The caller's operation
 * deadline (withDeadline) bounds the whole.
 */
async function retrying<T>(op: () => Promise<T>, attempts = 30): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      const retriable = (err as { retriable?: boolean }).retriable === true || /LEADER_NOT_AVAILABLE|NOT_LEADER|UNKNOWN_TOPIC_OR_PARTITION/.test(String((err as { type?: string }).type));
      if (!retriable || attempt + 1 >= attempts) throw err;
      await new Promise((r) => setTimeout(r, backoffDelay(attempt, { initialMs: 100, maxMs: 1_000 })));
    }
  }
}

export async function describeTopic(admin: Admin, name: string): Promise<TopicDescription> {
  await requireTopic(admin, name, 'describe');
  const [meta, offsets, configs] = await retrying(() =>
    Promise.all([
      admin.fetchTopicMetadata({ topics: [name] }),
      admin.fetchTopicOffsets(name),
      admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name }], includeSynonyms: false }),
    ]),
  );
  const topic = meta.topics[0];
  if (topic === undefined) throw new RoadlogError('ROADLOG_ERR_KAFKA_TOPIC_NOT_FOUND', `describe: topic ${JSON.stringify(name)} does not exist`);
  const byPartition = new Map(offsets.map((o) => [o.partition, o]));
  const partitions = topic.partitions
    .map((p) => ({
      partition: p.partitionId,
      leader: p.leader,
      replicas: [...p.replicas].sort((a, b) => a - b),
      isr: [...p.isr].sort((a, b) => a - b),
      offline: [...(p.offlineReplicas ?? [])].sort((a, b) => a - b),
      earliest: byPartition.get(p.partitionId)?.low ?? '?',
      latest: byPartition.get(p.partitionId)?.high ?? '?',
    }))
    .sort((a, b) => a.partition - b.partition);
  const entries = configs.resources[0]?.configEntries ?? [];
  const configMap: TopicDescription['configs'] = {};
  for (const e of entries.sort((a, b) => a.configName.localeCompare(b.configName))) {
    configMap[e.configName] = { value: e.isSensitive ? '***' : e.configValue, source: configSourceName(e.configSource), default: e.isDefault };
  }
  return { name, partitions, replicationFactor: partitions[0]?.replicas.length ?? 0, configs: configMap };
}

function configSourceName(source: number | undefined): string {
  // DescribeConfigs ConfigSource enum (KIP-226).
  return ['unknown', 'topic', 'dynamic-broker', 'dynamic-default-broker', 'static-broker', 'default', 'dynamic-broker-logger'][source ?? 0] ?? 'unknown';
}

export async function brokerCount(admin: Admin): Promise<number> {
  return (await admin.describeCluster()).brokers.length;
}

export interface CreateTopicRequest {
  name: string;
  partitions: number;
  replicationFactor: number;
  configs?: Record<string, string>;
}

export async function createTopic(admin: Admin, req: CreateTopicRequest): Promise<boolean> {
  const brokers = await brokerCount(admin);
  if (req.replicationFactor > brokers) {
    throw new RoadlogError('ROADLOG_ERR_USAGE', `--replication: ${req.replicationFactor} is more than the ${brokers} broker(s) in the cluster`);
  }
  const topic: ITopicConfig = {
    topic: req.name,
    numPartitions: req.partitions,
    replicationFactor: req.replicationFactor,
    configEntries: Object.entries(req.configs ?? {}).map(([name, value]) => ({ name, value })),
  };
  const created = await admin.createTopics({ topics: [topic], waitForLeaders: false });
  if (created) await waitForLeaders(admin, [req.name]);
  return created;
}

/**
 * Wait until every partition of the topics has a leader. kafkajs's own `waitForLeaders`
 * gives up after the client's few retries, which a 3-node KRaft cluster can outlast while
 * it propagates new metadata; this polls until the caller's operation deadline instead.
 */
export async function waitForLeaders(admin: Admin, topics: string[], pollMs = 100): Promise<void> {
  for (;;) {
    try {
      const meta = await admin.fetchTopicMetadata({ topics });
      const ready = meta.topics.length === topics.length && meta.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0));
      if (ready) return;
    } catch (err) {
      // kafkajs may wrap the broker's answer (KafkaJSNumberOfRetriesExceeded → originalError).
      const e = err as { type?: string; retriable?: boolean; originalError?: { type?: string } };
      const type = e.type ?? e.originalError?.type;
      if (type !== 'UNKNOWN_TOPIC_OR_PARTITION' && type !== 'LEADER_NOT_AVAILABLE' && e.retriable !== true) throw err;
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

export type ApplyAction =
  | { topic: string; action: 'created'; partitions: number; replicationFactor: number }
  | { topic: string; action: 'unchanged' }
  | { topic: string; action: 'updated'; changes: string[] }
  | { topic: string; action: 'warning'; message: string };

/**
 * Make the cluster match the topic table, idempotently: create what is missing, add
 * partitions where there are fewer than wanted, set configs that differ. Never deletes and
 * never shrinks; a replication factor that differs is reported, not changed (that is a
 * partition reassignment, an operator's decision).
 */
export async function applyTopics(admin: Admin, specs: readonly TopicSpec[], options: { dryRun?: boolean } = {}): Promise<ApplyAction[]> {
  const brokers = await brokerCount(admin);
  const existing = new Set(await admin.listTopics());
  const actions: ApplyAction[] = [];
  const missing = specs.filter((spec) => !existing.has(spec.name));
  if (missing.length > 0 && options.dryRun !== true) {
    await admin.createTopics({
      topics: missing.map((spec) => {
        const rf = Math.min(spec.replicationFactor, brokers);
        return { topic: spec.name, numPartitions: spec.partitions, replicationFactor: rf, configEntries: Object.entries(effectiveConfigs(spec, rf)).map(([name, value]) => ({ name, value })) };
      }),
      waitForLeaders: false,
    });
    await waitForLeaders(admin, missing.map((spec) => spec.name));
  }
  for (const spec of specs) {
    const rf = Math.min(spec.replicationFactor, brokers);
    const configs = effectiveConfigs(spec, rf);
    if (!existing.has(spec.name)) {
      actions.push({ topic: spec.name, action: 'created', partitions: spec.partitions, replicationFactor: rf });
      continue;
    }
    const current = await describeTopic(admin, spec.name);
    const changes: string[] = [];
    if (current.partitions.length < spec.partitions) {
      changes.push(`partitions ${current.partitions.length} → ${spec.partitions}`);
      if (options.dryRun !== true) await admin.createPartitions({ topicPartitions: [{ topic: spec.name, count: spec.partitions }] });
    } else if (current.partitions.length > spec.partitions) {
      actions.push({ topic: spec.name, action: 'warning', message: `has ${current.partitions.length} partitions, more than the ${spec.partitions} wanted: Kafka cannot remove partitions, left as is` });
    }
    if (current.replicationFactor !== rf) {
      actions.push({ topic: spec.name, action: 'warning', message: `replication factor is ${current.replicationFactor}, wanted ${rf}: change it with a partition reassignment` });
    }
    const differing = Object.entries(configs).filter(([k, v]) => current.configs[k]?.value !== v);
    if (differing.length > 0) {
      changes.push(...differing.map(([k, v]) => `${k} ${current.configs[k]?.value ?? '(unset)'} → ${v}`));
      if (options.dryRun !== true) {
        // AlterConfigs (non-incremental) replaces the topic's dynamic configs with this set:
        // send every key roadlog manages, so none of ours is reset.
        await admin.alterConfigs({
          validateOnly: false,
          resources: [{ type: ConfigResourceTypes.TOPIC, name: spec.name, configEntries: Object.entries(configs).map(([name, value]) => ({ name, value })) }],
        });
      }
    }
    actions.push(changes.length > 0 ? { topic: spec.name, action: 'updated', changes } : { topic: spec.name, action: 'unchanged' });
  }
  return actions;
}
