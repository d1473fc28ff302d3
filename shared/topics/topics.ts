import type { TopicsOptions } from './options.js';

/**
 * Every Kafka topic roadlog uses, with its settings, in one place.
 * `roadlog topics apply` makes the cluster match this table.
 */
export type TopicRole = 'telemetry' | 'alerts' | 'alertCommands' | 'hotState' | 'deadLetters' | 'gatewayStatus' | 'vehicles';

export interface TopicSpec {
  role: TopicRole;
  name: string;
  partitions: number;
  /** Wanted; the applied factor is min(this, brokers). */
  replicationFactor: number;
  /** Topic-level configs, as Kafka names them. */
  configs: Readonly<Record<string, string>>;
  description: string;
}

const HOUR_MS = 3_600_000;

export function topicSpecs(options: TopicsOptions): readonly TopicSpec[] {
  const p = options.prefix;
  const rf = options.replicationFactor;
  const specs: TopicSpec[] = [
    {
      role: 'telemetry',
      name: `${p}.telemetry.v1`,
      partitions: options.telemetryPartitions,
      replicationFactor: rf,
      configs: { 'cleanup.policy': 'delete', 'retention.ms': String(options.telemetryRetentionHours * HOUR_MS), 'compression.type': 'producer' },
      description: 'Telemetry records from the gateways; key = vehicleId, headers say where each came from.',
    },
    {
      role: 'alerts',
      name: `${p}.alerts.v1`,
      partitions: 6,
      replicationFactor: rf,
      configs: { 'cleanup.policy': 'delete', 'retention.ms': String(30 * 24 * HOUR_MS) },
      description: 'Alert events from the hot path (JSON, shared/alerts); key = alertId.',
    },
    {
      role: 'alertCommands',
      name: `${p}.alert-commands.v1`,
      partitions: options.telemetryPartitions,
      replicationFactor: rf,
      configs: { 'cleanup.policy': 'delete', 'retention.ms': String(7 * 24 * HOUR_MS) },
      description: "Operators' acks and clears for the hot path; key = the alert's vehicleId (or gateway), so a command reaches the instance that owns the alert.",
    },
    {
      role: 'hotState',
      name: `${p}.hot-state.v1`,
      partitions: options.telemetryPartitions,
      replicationFactor: rf,
      configs: { 'cleanup.policy': 'compact', 'min.compaction.lag.ms': '0', 'segment.ms': String(HOUR_MS), 'max.message.bytes': String(8 * 1024 * 1024) },
      description: "The hot path's state changelog: per telemetry partition, snapshots of the rule engine, written in the same transaction as alerts and offsets.",
    },
    {
      role: 'deadLetters',
      name: `${p}.dead-letters.v1`,
      partitions: 3,
      replicationFactor: rf,
      configs: { 'cleanup.policy': 'delete', 'retention.ms': String(30 * 24 * HOUR_MS) },
      description: 'Payloads that failed validation, raw bytes as value, the reason in headers.',
    },
    {
      role: 'gatewayStatus',
      name: `${p}.gateway-status.v1`,
      partitions: 3,
      replicationFactor: rf,
      configs: { 'cleanup.policy': 'compact', 'min.compaction.lag.ms': '0', 'segment.ms': String(HOUR_MS) },
      description: 'Gateway heartbeats with backlog and lag; key = gateway id, compacted to the latest.',
    },
    {
      role: 'vehicles',
      name: `${p}.vehicles.v1`,
      partitions: 3,
      replicationFactor: rf,
      configs: { 'cleanup.policy': 'compact', 'min.compaction.lag.ms': '0' },
      description: 'The vehicle reference table (class, tank size, depot); key = vehicleId, compacted.',
    },
  ];
  return Object.freeze(specs);
}

export function topicName(options: TopicsOptions, role: TopicRole): string {
  const spec = topicSpecs(options).find((s) => s.role === role);
  if (spec === undefined) throw new Error(`unknown topic role ${role}`);
  return spec.name;
}

/** min.insync.replicas follows the applied factor: 2 of 3 keeps acks=all writable through one broker loss. */
export function effectiveConfigs(spec: TopicSpec, replicationFactor: number): Record<string, string> {
  return { ...spec.configs, 'min.insync.replicas': String(replicationFactor >= 3 ? 2 : 1) };
}
