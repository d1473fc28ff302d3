import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { RoadlogError } from '../errors/index.js';
import { formatIssues, toFieldIssues, type FieldIssue } from '../schema/issues.js';
import { readEnv } from './env.js';

export interface LoadConfigOptions {
  /** YAML file; missing → ROADLOG_ERR_CONFIG_NOT_FOUND. Undefined → defaults + env only. */
  file?: string;
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  envPrefix?: string;
  /** Highest precedence (command-line flags), as a nested partial object. */
  overrides?: Record<string, unknown>;
}

export type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/**
 * Load config: schema defaults ← YAML file ← ROADLOG_* environment ← overrides (flags).
 * Parsed once and deep-frozen. Any problem throws a RoadlogError whose message names the
 * field path, where the bad value came from, and what was expected:
 *   `config invalid: kafka.connectionTimeoutMs (from ROADLOG_KAFKA_CONNECTION_TIMEOUT_MS): expected a number ≥ 100, got "fast"`
 */
export function loadConfig<S extends z.ZodType>(schema: S, options: LoadConfigOptions = {}): DeepReadonly<z.output<S>> {
  const fromFile = options.file === undefined ? {} : readConfigFile(options.file);
  const { value: fromEnv, sources } = readEnv(schema, options.env ?? process.env, options.envPrefix ?? 'ROADLOG');
  const merged = deepMerge(deepMerge(fromFile, fromEnv), options.overrides ?? {});
  const result = schema.safeParse(merged);
  if (!result.success) {
    const issues = toFieldIssues(result.error, merged).map((issue) => labelSource(issue, sources, options.file));
    throw new RoadlogError('ROADLOG_ERR_CONFIG_INVALID', `config invalid: ${formatIssues(issues)}`, { details: { issues } });
  }
  return deepFreeze(result.data) as DeepReadonly<z.output<S>>;
}

function labelSource(issue: FieldIssue, sources: Map<string, string>, file: string | undefined): FieldIssue {
  const envName = [...sources.entries()].find(([path]) => issue.path === path || issue.path.startsWith(`${path}.`))?.[1];
  if (envName !== undefined) return { path: `${issue.path} (from ${envName})`, message: issue.message };
  if (file !== undefined) return { path: `${issue.path} (in ${file})`, message: issue.message };
  return issue;
}

export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new RoadlogError('ROADLOG_ERR_CONFIG_NOT_FOUND', `cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}, column ${err.linePos[0].col}` : '';
    throw new RoadlogError('ROADLOG_ERR_CONFIG_PARSE', `config file ${file} is not valid YAML${where}: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new RoadlogError('ROADLOG_ERR_CONFIG_INVALID', `config invalid: (in ${file}): expected a mapping of keys at the top level, got ${Array.isArray(parsed) ? 'a list' : typeof parsed}`);
  }
  return parsed as Record<string, unknown>;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    const prev = out[key];
    out[key] = isPlainObject(prev) && isPlainObject(value) ? deepMerge(prev, value) : value;
  }
  return out;
}

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child);
  }
  return value;
}
