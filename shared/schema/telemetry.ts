import { z } from 'zod';
import { RoadlogError } from '../errors/index.js';
import { TelemetryV1Schema, type TelemetryV1 } from './telemetry-v1.js';
import { describe, formatIssues, toFieldIssues, type FieldIssue } from './issues.js';
import { compileAcceptor, type Acceptor } from './acceptor.js';

/**
 * The versioned telemetry contract.
 *
 * Every version ever published keeps a schema here and keeps parsing; `parseTelemetry`
 * picks the schema by the `v` field and returns the record upgraded to the current version.
 * Adding v2: write telemetry-v2.ts, add it to SCHEMAS, and write `upgrade` from v1.
 */
export const CURRENT_VERSION = 1 as const;
export type Telemetry = TelemetryV1;
export const TelemetrySchema = TelemetryV1Schema;

const SCHEMAS: Readonly<Record<number, z.ZodType<Telemetry>>> = Object.freeze({ 1: TelemetryV1Schema });

/** Per version, the fast path compiled from its zod schema (see acceptor.ts); zod decides whatever it does not accept. */
const ACCEPTORS: ReadonlyMap<number, Acceptor> = new Map(
  Object.entries(SCHEMAS).flatMap(([version, schema]) => {
    const accept = compileAcceptor(schema);
    return accept === undefined ? [] : [[Number(version), accept] as const];
  }),
);

export const SUPPORTED_VERSIONS: readonly number[] = Object.freeze(Object.keys(SCHEMAS).map(Number));

export type ParseResult =
  | { ok: true; value: Telemetry; version: number }
  | { ok: false; code: 'ROADLOG_ERR_PAYLOAD_NOT_JSON' | 'ROADLOG_ERR_SCHEMA_INVALID'; issues: FieldIssue[]; message: string };

/** Validate an already-decoded JSON value. Never throws. */
export function validateTelemetry(input: unknown): ParseResult {
  const version = typeof input === 'object' && input !== null && !Array.isArray(input) ? (input as { v?: unknown }).v : undefined;
  if (version === undefined) {
    const issues: FieldIssue[] = [
      typeof input === 'object' && input !== null && !Array.isArray(input)
        ? { path: 'v', message: `expected the schema version (one of ${SUPPORTED_VERSIONS.join(', ')}), got nothing` }
        : { path: '(root)', message: `expected an object, got ${describe(input)}` },
    ];
    return { ok: false, code: 'ROADLOG_ERR_SCHEMA_INVALID', issues, message: formatIssues(issues) };
  }
  const schema = typeof version === 'number' ? SCHEMAS[version] : undefined;
  if (schema === undefined) {
    const issues = [{ path: 'v', message: `expected one of ${SUPPORTED_VERSIONS.join(', ')}, got ${describe(version)}` }];
    return { ok: false, code: 'ROADLOG_ERR_SCHEMA_INVALID', issues, message: formatIssues(issues) };
  }
  if (ACCEPTORS.get(version as number)?.(input) === true) return { ok: true, value: input as Telemetry, version: version as number };
  const result = schema.safeParse(input);
  if (!result.success) {
    const issues = toFieldIssues(result.error, input);
    return { ok: false, code: 'ROADLOG_ERR_SCHEMA_INVALID', issues, message: formatIssues(issues) };
  }
  return { ok: true, value: result.data, version: version as number };
}

/** Stateless between calls (no `stream` option), so one serves every message. */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Decode UTF-8 JSON bytes and validate them. Never throws. */
export function parseTelemetry(payload: Uint8Array | string): ParseResult {
  let decoded: unknown;
  try {
    const text = typeof payload === 'string' ? payload : strictUtf8.decode(payload);
    decoded = JSON.parse(text);
  } catch (err) {
    const issues = [{ path: '(root)', message: `expected UTF-8 JSON: ${(err as Error).message}` }];
    return { ok: false, code: 'ROADLOG_ERR_PAYLOAD_NOT_JSON', issues, message: formatIssues(issues) };
  }
  return validateTelemetry(decoded);
}

/** Like parseTelemetry, but throws a RoadlogError carrying the code and the field issues. */
export function parseTelemetryOrThrow(payload: Uint8Array | string): Telemetry {
  const result = parseTelemetry(payload);
  if (result.ok) return result.value;
  throw new RoadlogError(result.code, result.message, { details: { issues: result.issues } });
}
