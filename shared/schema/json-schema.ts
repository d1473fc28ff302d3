import { z } from 'zod';
import { TelemetrySchema } from './telemetry.js';

/** The telemetry contract as JSON Schema (draft 2020-12), for firmware and other languages. */
export function telemetryJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(TelemetrySchema, { target: 'draft-2020-12' }) as Record<string, unknown>;
  return {
    $id: 'urn:roadlog:schema:telemetry:v1',
    title: 'roadlog telemetry v1',
    description: 'One telemetry record, published as UTF-8 JSON on MQTT topic fleet/{vehicleId}/telemetry.',
    ...schema,
  };
}
