export { TelemetryV1Schema, PositionSchema, VEHICLE_ID_PATTERN, DTC_PATTERN, MIN_TS_MS, MAX_TS_MS, type TelemetryV1 } from './telemetry-v1.js';
export {
  CURRENT_VERSION,
  SUPPORTED_VERSIONS,
  TelemetrySchema,
  parseTelemetry,
  parseTelemetryOrThrow,
  validateTelemetry,
  type Telemetry,
  type ParseResult,
} from './telemetry.js';
export { formatIssues, toFieldIssues, describe, type FieldIssue } from './issues.js';
export { exampleTelemetry } from './example.js';
export { telemetryJsonSchema } from './json-schema.js';
