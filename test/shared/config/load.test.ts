import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { envKeys, loadConfig, RoadlogConfigSchema } from '../../../shared/config/index.js';
import { isRoadlogError } from '../../../shared/errors/index.js';

const dir = mkdtempSync(join(tmpdir(), 'roadlog-config-'));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function failure(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    if (isRoadlogError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected the config to be rejected');
}

describe('config loading', () => {
  it('gives every default without a file or environment', () => {
    const config = loadConfig(RoadlogConfigSchema, { env: {} });
    expect(config.kafka.brokers).toEqual([]);
    expect(config.kafka.connectionTimeoutMs).toBe(3000);
    expect(config.topics.prefix).toBe('roadlog');
    expect(config.log.level).toBe('info');
  });

  it('layers file ← environment ← overrides', () => {
    const path = file('layers.yaml', 'kafka:\n  brokers: [a:1]\n  clientId: from-file\ntopics:\n  telemetryPartitions: 6\n');
    const config = loadConfig(RoadlogConfigSchema, {
      file: path,
      env: { ROADLOG_KAFKA_CLIENT_ID: 'from-env', ROADLOG_TOPICS_TELEMETRY_PARTITIONS: '24' },
      overrides: { topics: { telemetryPartitions: 48 } },
    });
    expect(config.kafka.brokers).toEqual(['a:1']);
    expect(config.kafka.clientId).toBe('from-env');
    expect(config.topics.telemetryPartitions).toBe(48);
  });

  it('converts environment strings by the schema: lists, numbers, booleans', () => {
    const config = loadConfig(RoadlogConfigSchema, { env: { ROADLOG_KAFKA_BROKERS: 'k1:9092, k2:9092', ROADLOG_KAFKA_SSL: 'true', ROADLOG_KAFKA_REQUEST_TIMEOUT_MS: '5000' } });
    expect(config.kafka.brokers).toEqual(['k1:9092', 'k2:9092']);
    expect(config.kafka.ssl).toBe(true);
    expect(config.kafka.requestTimeoutMs).toBe(5000);
  });

  it('freezes the result', () => {
    const config = loadConfig(RoadlogConfigSchema, { env: { ROADLOG_KAFKA_BROKERS: 'k1:9092' } });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.kafka)).toBe(true);
    expect(Object.isFrozen(config.kafka.brokers)).toBe(true);
  });

  it('rejects an unknown key, naming it and the file', () => {
    const path = file('unknown.yaml', 'kafka:\n  brokerz: [a:1]\n');
    const f = failure(() => loadConfig(RoadlogConfigSchema, { file: path, env: {} }));
    expect(f.code).toBe('ROADLOG_ERR_CONFIG_INVALID');
    expect(f.message).toContain(`kafka.brokerz (in ${path}): unknown key`);
  });

  it('rejects an unknown top-level section', () => {
    const f = failure(() => loadConfig(RoadlogConfigSchema, { file: file('section.yaml', 'kafak:\n  brokers: []\n'), env: {} }));
    expect(f.message).toMatch(/kafak .*unknown key/);
  });

  it('names the field, the expected value and what came, for a wrong type', () => {
    const f = failure(() => loadConfig(RoadlogConfigSchema, { file: file('type.yaml', 'kafka:\n  connectionTimeoutMs: 10s\n'), env: {} }));
    expect(f.message).toMatch(/kafka\.connectionTimeoutMs .*: expected a number, got "10s"/);
  });

  it('names the field for an out-of-range number', () => {
    const f = failure(() => loadConfig(RoadlogConfigSchema, { file: file('range.yaml', 'topics:\n  telemetryPartitions: 0\n'), env: {} }));
    expect(f.message).toMatch(/topics\.telemetryPartitions .*expected a number ≥ 1, got 0/);
  });

  it('names the environment variable when the bad value came from it', () => {
    const f = failure(() => loadConfig(RoadlogConfigSchema, { env: { ROADLOG_KAFKA_BROKERS: 'good:1,bad' } }));
    expect(f.message).toContain('kafka.brokers.1 (from ROADLOG_KAFKA_BROKERS): expected host:port, got "bad"');
  });

  it('lists the allowed values of an enum', () => {
    const f = failure(() => loadConfig(RoadlogConfigSchema, { env: { ROADLOG_LOG_LEVEL: 'loud' } }));
    expect(f.message).toMatch(/log\.level \(from ROADLOG_LOG_LEVEL\): expected .*"info".*got "loud"/);
  });

  it('reports a missing file and bad YAML with their own codes', () => {
    expect(failure(() => loadConfig(RoadlogConfigSchema, { file: join(dir, 'nope.yaml'), env: {} })).code).toBe('ROADLOG_ERR_CONFIG_NOT_FOUND');
    const bad = failure(() => loadConfig(RoadlogConfigSchema, { file: file('bad.yaml', 'kafka: [\n'), env: {} }));
    expect(bad.code).toBe('ROADLOG_ERR_CONFIG_PARSE');
    expect(bad.message).toMatch(/line \d+/);
    expect(failure(() => loadConfig(RoadlogConfigSchema, { file: file('dup.yaml', 'log:\n  level: info\nlog:\n  level: warn\n'), env: {} })).code).toBe('ROADLOG_ERR_CONFIG_PARSE');
  });

  it('rejects a file whose top level is not a mapping', () => {
    expect(failure(() => loadConfig(RoadlogConfigSchema, { file: file('list.yaml', '- a\n- b\n'), env: {} })).code).toBe('ROADLOG_ERR_CONFIG_INVALID');
  });

  it('accepts an empty file as all defaults', () => {
    expect(loadConfig(RoadlogConfigSchema, { file: file('empty.yaml', ''), env: {} }).kafka.clientId).toBe('roadlog');
  });

  it('derives one environment variable per leaf', () => {
    const names = envKeys(RoadlogConfigSchema).map((k) => k.name);
    expect(names).toContain('ROADLOG_KAFKA_BROKERS');
    expect(names).toContain('ROADLOG_KAFKA_CONNECTION_TIMEOUT_MS');
    expect(names).toContain('ROADLOG_TOPICS_TELEMETRY_PARTITIONS');
    expect(new Set(names).size).toBe(names.length);
  });
});
