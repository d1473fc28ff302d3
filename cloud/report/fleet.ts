import type { DuckDBConnection } from '@duckdb/node-api';
import type { VehicleRef } from '../../shared/vehicles/index.js';

/**
 * The fleet report: per vehicle, distance and fuel from the cumulative counters, L/100 km, idle
 * time and harsh braking, over the archive (DuckDB; `relation` from cold/scan.ts).
 *
 * Per vehicle, samples in device-time order (`ts`, then `seq`), each compared with the one
 * before:
 * - distance and fuel: the sums of the counters' steps (`odometerKm`, `fuelUsedL`). The
 *   counters are cumulative, so a gap in the telemetry loses nothing. A step is left out and
 *   counted when the counter went back (a reset or a swapped unit: `counterResets`) or moved
 *   faster than a vehicle can (over 250 km/h, or over 0.02 L/s: `outliers`).
 * - idle: engine on (`engineRpm` > 0) and `speedKph` < 1 at a sample adds the time since the
 *   sample before, when that is at most 10 s (across a longer gap nobody knows).
 * - harsh braking: an event is a run of consecutive samples with `longAccelMps2` ≤ −4.
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

export interface FleetQuery {
  from: number;
  to: number;
  vehicle?: string;
}

export const IDLE_MAX_GAP_S = 10;
export const HARSH_BRAKING_MPS2 = -4;
const MAX_KM_PER_S = 250 / 3600;
const MAX_L_PER_S = 0.02;

export function fleetSql(relation: string, q: FleetQuery): string {
  const vehicle = q.vehicle === undefined ? '' : ` AND vehicleId = '${q.vehicle.replace(/'/g, "''")}'`;
  return `
WITH s AS (
  SELECT vehicleId, ts, seq, speedKph, engineRpm, longAccelMps2, odometerKm, fuelUsedL
  FROM ${relation}
  WHERE ts >= ${q.from} AND ts < ${q.to}${vehicle}
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
SELECT vehicleId,
  count(*)::INTEGER AS samples,
  coalesce(sum(dKm) FILTER (WHERE dKm >= 0 AND dKm <= dt * ${MAX_KM_PER_S} + 0.01), 0) AS distanceKm,
  coalesce(sum(dL) FILTER (WHERE dL >= 0 AND dL <= dt * ${MAX_L_PER_S} + 0.001), 0) AS fuelL,
  coalesce(sum(dt) FILTER (WHERE engineRpm > 0 AND speedKph < 1 AND dt <= ${IDLE_MAX_GAP_S}), 0) AS idleSeconds,
  (count(*) FILTER (WHERE harsh AND NOT coalesce(prevHarsh, false)))::INTEGER AS harshBrakingEvents,
  (count(*) FILTER (WHERE dKm < 0 OR dL < 0))::INTEGER AS counterResets,
  (count(*) FILTER (WHERE dKm > dt * ${MAX_KM_PER_S} + 0.01 OR dL > dt * ${MAX_L_PER_S} + 0.001))::INTEGER AS outliers,
  min(ts) AS firstTs, max(ts) AS lastTs
FROM d
GROUP BY vehicleId
ORDER BY vehicleId`;
}

export async function fleetReport(conn: DuckDBConnection, relation: string, q: FleetQuery, vehicles: ReadonlyMap<string, VehicleRef>): Promise<FleetRow[]> {
  const rows = (await conn.runAndReadAll(fleetSql(relation, q))).getRowObjectsJS();
  return rows.map((r) => {
    const distanceKm = round(Number(r.distanceKm), 3);
    const fuelL = round(Number(r.fuelL), 3);
    const harsh = Number(r.harshBrakingEvents);
    const ref = vehicles.get(String(r.vehicleId));
    return {
      vehicleId: String(r.vehicleId),
      class: ref?.class ?? null,
      depot: ref === undefined || ref.depot === '' ? null : ref.depot,
      samples: Number(r.samples),
      distanceKm,
      fuelL,
      lPer100km: distanceKm >= 1 ? round((100 * fuelL) / distanceKm, 2) : null,
      idleSeconds: round(Number(r.idleSeconds), 1),
      harshBrakingEvents: harsh,
      harshPer100km: distanceKm >= 1 ? round((100 * harsh) / distanceKm, 2) : null,
      counterResets: Number(r.counterResets),
      outliers: Number(r.outliers),
      firstTs: Number(r.firstTs),
      lastTs: Number(r.lastTs),
    };
  });
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
