import { z } from 'zod';

/**
 * Environment variables are derived from the config schema, so the schema documents both:
 * `kafka.connectionTimeoutMs` ⇔ `ROADLOG_KAFKA_CONNECTION_TIMEOUT_MS`.
 *
 * Values are strings; they are converted by the leaf's type before validation (numbers,
 * booleans `true|false|1|0`, string lists separated by commas) so the schema's own message
 * reports anything that does not fit. Variables with the prefix that match no key are
 * ignored: the environment is shared with other programs (and `ROADLOG_HOME` is not config).
 */
export interface EnvKey {
  /** Dotted config path, e.g. `kafka.brokers`. */
  path: string;
  /** Environment variable name, e.g. `ROADLOG_KAFKA_BROKERS`. */
  name: string;
  kind: 'number' | 'boolean' | 'string' | 'list' | 'other';
}

export function envName(prefix: string, path: readonly string[]): string {
  return [prefix, ...path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase())].join('_');
}

/** Every leaf of an object schema, with its env var name. */
export function envKeys(schema: z.ZodType, prefix = 'ROADLOG', path: string[] = []): EnvKey[] {
  const inner = unwrap(schema);
  if (inner instanceof z.ZodObject) {
    return Object.entries(inner.shape as Record<string, z.ZodType>).flatMap(([key, child]) => envKeys(child, prefix, [...path, key]));
  }
  return [{ path: path.join('.'), name: envName(prefix, path), kind: kindOf(inner) }];
}

/** Build the nested object that the environment contributes. */
export function readEnv(schema: z.ZodType, env: NodeJS.ProcessEnv, prefix = 'ROADLOG'): { value: Record<string, unknown>; sources: Map<string, string> } {
  const value: Record<string, unknown> = {};
  const sources = new Map<string, string>();
  for (const key of envKeys(schema, prefix)) {
    const raw = env[key.name];
    if (raw === undefined) continue;
    setPath(value, key.path.split('.'), convert(raw, key.kind));
    sources.set(key.path, key.name);
  }
  return { value, sources };
}

function convert(raw: string, kind: EnvKey['kind']): unknown {
  const text = raw.trim();
  switch (kind) {
    case 'number':
      return text !== '' && Number.isFinite(Number(text)) ? Number(text) : raw;
    case 'boolean':
      if (/^(true|1|yes)$/i.test(text)) return true;
      if (/^(false|0|no)$/i.test(text)) return false;
      return raw;
    case 'list':
      return text === '' ? [] : text.split(',').map((s) => s.trim());
    default:
      return raw;
  }
}

function kindOf(schema: z.ZodType): EnvKey['kind'] {
  if (schema instanceof z.ZodNumber) return 'number';
  if (schema instanceof z.ZodBoolean) return 'boolean';
  if (schema instanceof z.ZodString || schema instanceof z.ZodEnum || schema instanceof z.ZodLiteral) return 'string';
  if (schema instanceof z.ZodArray) return 'list';
  return 'other';
}

export function unwrap(schema: z.ZodType): z.ZodType {
  let cur: z.ZodType = schema;
  while (cur instanceof z.ZodDefault || cur instanceof z.ZodOptional || cur instanceof z.ZodNullable || cur instanceof z.ZodPrefault) {
    cur = cur.unwrap() as z.ZodType;
  }
  return cur;
}

export function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let cur = target;
  path.slice(0, -1).forEach((key) => {
    const next = cur[key];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) cur[key] = {};
    cur = cur[key] as Record<string, unknown>;
  });
  cur[path[path.length - 1] as string] = value;
}
