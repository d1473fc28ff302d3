import { ratio, whereSql, type BaseRow, type ReportDef, type ReportQuery } from './model.js';

/**
 * The fleet report: per vehicle, distance and fuel from the cumulative counters, L/100 km, idle
 * time and harsh braking, over the archive (DuckDB; `relation` from cold/scan.ts).
 *
 * Per vehicle, samples in device-time order (`ts`, then `seq`), each compared with the one
 * before:
 * - distance and fuel: the sums of the counters' steps (`odometerKm`, `fuelUsedL`). The
 *   counters are cumulative, so a gap in the telemetry loses nothing. A step is left out and
 *   counted when the counter went back (a reset or a swapped unit: `counterResets`) or moved
 *   faster than a vehicle can (over 250 km/h, or over 0.05 L/s, 180 L/h, more than a loaded truck burns: `outliers`). The fuel report
 *   adds the rules for stuck counters.
 * - idle: engine on (`engineRpm` > 0) and `speedKph` < 1 at a sample adds the time since the
 *   sample before, when that is at most 10 s (across a longer gap nobody knows).
 * - harsh braking: an event is a run of consecutive samples with `longAccelMps2` ≤ −4.
 * A step belongs to the day (device time, UTC) of its later sample.
 */
export interface FleetRow {
  vehicleId: string;
  class: string | null;
  depot: string | null;
  samples: number;
  distanceKm: number;
  fuelL: number;
  lPer100km: number | null;
  idleSeconds: number;
  harshBrakingEvents: number;
  harshPer100km: number | null;
  counterResets: number;
  outliers: number;
  firstTs: number;
  lastTs: number;
}

export const IDLE_MAX_GAP_S = 10;
export const HARSH_BRAKING_MPS2 = -4;
export const MAX_KM_PER_S = 250 / 3600;
export const MAX_L_PER_S = 0.05;
/** A counter step is plausible when it is not negative and no faster than a vehicle goes or burns (with the counters' rounding as slack). */
export const KM_STEP_OK = `dKm >= 0 AND dKm <= dt * ${MAX_KM_PER_S} + 0.01`;
export const L_STEP_OK = `dL >= 0 AND dL <= dt * ${MAX_L_PER_S} + 0.001`;
export const STEP_OUTLIER = `(dKm > dt * ${MAX_KM_PER_S} + 0.01 OR dL > dt * ${MAX_L_PER_S} + 0.001)`;

export function fleetSql(relation: string, q: ReportQuery): string {
  return `
WITH s AS (
  SELECT vehicleId, date AS dday, ts, seq, speedKph, engineRpm, longAccelMps2, odometerKm, fuelUsedL
  FROM ${relation}
  WHERE ${whereSql(q)}
), d AS (
  SELECT *,
    (ts - lag(ts) OVER w) / 1000.0 AS dt,
    odometerKm - lag(odometerKm) OVER w AS dKm,
    fuelUsedL - lag(fuelUsedL) OVER w AS dL,
    longAccelMps2 <= ${HARSH_BRAKING_MPS2} AS harsh,
    lag(longAccelMps2 <= ${HARSH_BRAKING_MPS2}) OVER w AS prevHarsh
  FROM s
  WINDOW w AS (PARTITION BY vehicleId ORDER BY ts, seq)
)
SELECT vehicleId, dday::VARCHAR AS day,
  count(*)::INTEGER AS samples,
  coalesce(sum(dKm) FILTER (WHERE ${KM_STEP_OK}), 0) AS distanceKm,
  coalesce(sum(dL) FILTER (WHERE ${L_STEP_OK}), 0) AS fuelL,
  coalesce(sum(dt) FILTER (WHERE engineRpm > 0 AND speedKph < 1 AND dt <= ${IDLE_MAX_GAP_S}), 0) AS idleSeconds,
  (count(*) FILTER (WHERE harsh AND NOT coalesce(prevHarsh, false)))::INTEGER AS harshBrakingEvents,
  (count(*) FILTER (WHERE dKm < 0 OR dL < 0))::INTEGER AS counterResets,
  (count(*) FILTER (WHERE ${STEP_OUTLIER}))::INTEGER AS outliers,
  min(ts) AS firstTs, max(ts) AS lastTs
FROM d
GROUP BY vehicleId, dday`;
}

export const fleetReport: ReportDef = {
  name: 'fleet',
  title: 'Fleet',
  description: 'per vehicle: distance, fuel and L/100 km from the cumulative counters, idle time, harsh braking per 100 km, and the steps left out (counter resets, outliers)',
  measures: [
    { name: 'distanceKm', agg: 'sum', digits: 3 },
    { name: 'fuelL', agg: 'sum', digits: 3 },
    { name: 'idleSeconds', agg: 'sum', digits: 1 },
    { name: 'harshBrakingEvents', agg: 'sum', digits: 0 },
    { name: 'samples', agg: 'sum', digits: 0 },
    { name: 'counterResets', agg: 'sum', digits: 0 },
    { name: 'outliers', agg: 'sum', digits: 0 },
    { name: 'firstTs', agg: 'min', digits: 0 },
    { name: 'lastTs', agg: 'max', digits: 0 },
  ],
  derived: [
    { name: 'lPer100km', digits: 2, of: (r) => ratio(r.fuelL, r.distanceKm, 100, 1) },
    { name: 'harshPer100km', digits: 2, of: (r) => ratio(r.harshBrakingEvents, r.distanceKm, 100, 1) },
  ],
  columns: ['distanceKm', 'fuelL', 'lPer100km', 'idleSeconds', 'harshBrakingEvents', 'harshPer100km', 'samples', 'counterResets', 'outliers'],
  charts: [
    { title: 'Fuel economy (L/100 km)', field: 'lPer100km' },
    { title: 'Distance (km)', field: 'distanceKm' },
    { title: 'Idle time (s)', field: 'idleSeconds' },
    { title: 'Harsh braking per 100 km', field: 'harshPer100km' },
  ],
  detailLists: [],
  async collect(ctx) {
    return { base: (await ctx.sql(fleetSql(ctx.relation, ctx.query))) as BaseRow[], details: [], notes: [] };
  },
};
