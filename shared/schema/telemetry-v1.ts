import { z } from 'zod';

/**
 * Telemetry v1: what a vehicle publishes on `fleet/{vehicleId}/telemetry`, as UTF-8 JSON.
 *
 * Units are in the field names. Ranges are physical plausibility limits, not alert
 * thresholds: a value outside them is a broken sensor or a broken encoder, and the record
 * goes to the dead-letter topic with the field named. `.strict()` rejects unknown keys so a
 * firmware typo (`speedKmh`) is caught at the gateway, not discovered in a report.
 */

/** A vehicle id is also an MQTT topic level and a Kafka key: no `/`, `+`, `#`, spaces. */
export const VEHICLE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** OBD-II diagnostic trouble code: P (powertrain), C (chassis), B (body), U (network). */
export const DTC_PATTERN = /^[PCBU][0-3][0-9A-F]{3}$/;

/** 2000-01-01T00:00:00Z and 2100-01-01T00:00:00Z in ms: a device clock outside is not set. */
export const MIN_TS_MS = 946_684_800_000;
export const MAX_TS_MS = 4_102_444_800_000;

export const PositionSchema = z
  .object({
    lat: z.number().min(-90).max(90),
    lon: z.number().min(-180).max(180),
  })
  .strict();

export const TelemetryV1Schema = z
  .object({
    v: z.literal(1),
    vehicleId: z.string().regex(VEHICLE_ID_PATTERN, 'expected 1-64 characters of A-Z a-z 0-9 _ . - starting with a letter or digit'),
    seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    ts: z.number().int().min(MIN_TS_MS).max(MAX_TS_MS),
    speedKph: z.number().min(0).max(400),
    longAccelMps2: z.number().min(-50).max(50),
    engineRpm: z.number().min(0).max(12_000),
    coolantC: z.number().min(-60).max(200),
    oilPressureKpa: z.number().min(0).max(1_500),
    oilLevelPct: z.number().min(0).max(100),
    fuelLevelPct: z.number().min(0).max(100),
    fuelUsedL: z.number().min(0).max(10_000_000),
    odometerKm: z.number().min(0).max(10_000_000),
    batteryV: z.number().min(0).max(60),
    position: PositionSchema,
    dtcs: z.array(z.string().regex(DTC_PATTERN, 'expected an OBD-II code like P0217')).max(32),
  })
  .strict();

export type TelemetryV1 = z.infer<typeof TelemetryV1Schema>;
