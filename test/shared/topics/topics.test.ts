import { describe, expect, it } from 'vitest';
import { effectiveConfigs, topicName, topicSpecs, TopicsOptionsSchema } from '../../../shared/topics/index.js';

const options = TopicsOptionsSchema.parse({});

describe('topic table', () => {
  it('has the five topics of the design and the hot path\'s two, uniquely named under the prefix', () => {
    const specs = topicSpecs(TopicsOptionsSchema.parse({ prefix: 't1' }));
    expect(specs.map((s) => s.role).sort()).toEqual(['alertCommands', 'alerts', 'deadLetters', 'gatewayStatus', 'hotState', 'telemetry', 'vehicles']);
    expect(new Set(specs.map((s) => s.name)).size).toBe(7);
    for (const s of specs) expect(s.name.startsWith('t1.')).toBe(true);
  });

  it('compacts the tables (gateway status, vehicles, the hot path\'s state) and deletes by age elsewhere', () => {
    const specs = topicSpecs(options);
    const policy = Object.fromEntries(specs.map((s) => [s.role, s.configs['cleanup.policy']]));
    expect(policy).toEqual({ telemetry: 'delete', alerts: 'delete', alertCommands: 'delete', hotState: 'compact', deadLetters: 'delete', gatewayStatus: 'compact', vehicles: 'compact' });
  });

  it('co-partitions the hot path\'s commands and state with telemetry', () => {
    const specs = topicSpecs(TopicsOptionsSchema.parse({ telemetryPartitions: 24 }));
    for (const role of ['alertCommands', 'hotState']) expect(specs.find((s) => s.role === role)!.partitions).toBe(24);
  });

  it('asks for min.insync.replicas 2 only when the factor is 3 or more', () => {
    const telemetry = topicSpecs(options)[0]!;
    expect(effectiveConfigs(telemetry, 3)['min.insync.replicas']).toBe('2');
    expect(effectiveConfigs(telemetry, 1)['min.insync.replicas']).toBe('1');
  });

  it('resolves names by role', () => {
    expect(topicName(options, 'telemetry')).toBe('roadlog.telemetry.v1');
  });
});
