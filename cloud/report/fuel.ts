import { IDLE_MAX_GAP_S, KM_STEP_OK, L_STEP_OK, STEP_OUTLIER } from './fleet.js';
import { baseRowOf, dayOf, iso, ratio, whereSql, type BaseRow, type ReportDef } from './model.js';

/**
 * The fuel report: L/100 km from the cumulative counters, as the fleet report computes it, with
 * its data-quality rules spelled out, each excluded or flagged span counted and listed:
 * - `counter_reset`: a counter went back (a reset, a swapped unit); that step is left out.
 * - `outlier`: a counter moved faster than a vehicle can (over 250 km/h, 0.05 L/s); left out.
 * - `odometer_stuck`: the odometer did not move for 30 s or more while the speed said ≥ 5 km/h;
 *   `fuel_counter_stuck`: the fuel counter did not move for 60 s or more with the engine
 *   running. The span's steps (and the catch-up step after it) are left out of both distance
 *   and fuel, so the ratio is not skewed by fuel without distance or the other way round.
 * - `fuel_level_stuck`: the tank level read the same for 2 min or more with the engine running
 *   (a working level sensor is never that still). Flagged only: L/100 km does not use the level.
 * - `refuel`: the tank level rose by 5 points or more between two samples. Counted, with the
 *   points added; the fuel counter is unaffected, so nothing is left out.
 * Samples more than 10 s apart never form a stuck span (across a gap nobody knows).
 */
export const ODOMETER_STUCK_S = 30;
export const FUEL_COUNTER_STUCK_S = 60;
export const FUEL_LEVEL_STUCK_S = 120;
export const REFUEL_POINTS = 5;
const STUCK_MAX_GAP_S = 10;

const STUCK: readonly { kind: string; flag: string; minS: number }[] = [
  { kind: 'odometer_stuck', flag: `dKm = 0 AND speedKph >= 5 AND dt <= ${STUCK_MAX_GAP_S}`, minS: ODOMETER_STUCK_S },
  { kind: 'fuel_counter_stuck', flag: `dL = 0 AND engineRpm > 0 AND dt <= ${STUCK_MAX_GAP_S}`, minS: FUEL_COUNTER_STUCK_S },
  { kind: 'fuel_level_stuck', flag: `dLevel = 0 AND engineRpm > 0 AND dt <= ${STUCK_MAX_GAP_S}`, minS: FUEL_LEVEL_STUCK_S },
];

export const fuelReport: ReportDef = {
  name: 'fuel',
  title: 'Fuel economy',
  description: 'per vehicle: L/100 km from the counters with the data-quality rules (counter resets, outliers, stuck counters left out; refuels and a stuck level sensor flagged), fuel burnt idling, every excluded span listed',
  measures: [
    { name: 'distanceKm', agg: 'sum', digits: 3 },
    { name: 'fuelL', agg: 'sum', digits: 3 },
    { name: 'idleFuelL', agg: 'sum', digits: 3 },
    { name: 'refuels', agg: 'sum', digits: 0 },
    { name: 'refuelledPct', agg: 'sum', digits: 1 },
    { name: 'counterResets', agg: 'sum', digits: 0 },
    { name: 'outliers', agg: 'sum', digits: 0 },
    { name: 'stuckSpans', agg: 'sum', digits: 0 },
    { name: 'excludedSteps', agg: 'sum', digits: 0 },
    { name: 'samples', agg: 'sum', digits: 0 },
  ],
  derived: [
    { name: 'lPer100km', digits: 2, of: (r) => ratio(r.fuelL, r.distanceKm, 100, 1) },
    { name: 'idleFuelPct', digits: 1, of: (r) => ratio(r.idleFuelL, r.fuelL, 100, 0.001) },
  ],
  columns: ['distanceKm', 'fuelL', 'lPer100km', 'idleFuelL', 'idleFuelPct', 'refuels', 'refuelledPct', 'counterResets', 'outliers', 'stuckSpans', 'excludedSteps', 'samples'],
  charts: [
    { title: 'Fuel economy (L/100 km)', field: 'lPer100km' },
    { title: 'Fuel used (L)', field: 'fuelL' },
    { title: 'Share of fuel burnt idling (%)', field: 'idleFuelPct' },
  ],
  detailLists: ['spans'],
  async collect(ctx) {
    await ctx.sql(`CREATE OR REPLACE TEMP TABLE fuel_steps AS
SELECT *,
  (ts - lag(ts) OVER w) / 1000.0 AS dt,
  odometerKm - lag(odometerKm) OVER w AS dKm,
  fuelUsedL - lag(fuelUsedL) OVER w AS dL,
  fuelLevelPct - lag(fuelLevelPct) OVER w AS dLevel,
  lead(ts) OVER w AS nextTs,
  lag(ts) OVER w AS prevTs
FROM (SELECT vehicleId, date AS dday, ts, seq, speedKph, engineRpm, odometerKm, fuelUsedL, fuelLevelPct FROM ${ctx.relation} WHERE ${whereSql(ctx.query)})
WINDOW w AS (PARTITION BY vehicleId ORDER BY ts, seq)`);
    // An island is a sample that is not flagged followed by the flagged ones after it: its first
    // ts is where the stuck span starts, its last where it ends, the sample after it the catch-up.
    const islands = STUCK.map((s, i) => `island${i}`);
    await ctx.sql(`CREATE OR REPLACE TEMP TABLE fuel_stuck AS
WITH f AS (
  SELECT vehicleId, ts, seq, nextTs, ${STUCK.map((s, i) => `coalesce(${s.flag}, false) AS flag${i}`).join(', ')}
  FROM fuel_steps
), i AS (
  SELECT *, ${STUCK.map((s, i) => `sum(CASE WHEN flag${i} THEN 0 ELSE 1 END) OVER w AS ${islands[i]}`).join(', ')}
  FROM f WINDOW w AS (PARTITION BY vehicleId ORDER BY ts, seq ROWS UNBOUNDED PRECEDING)
)
${STUCK.map((s, i) => `SELECT vehicleId, '${s.kind}' AS kind, min(ts) AS fromTs, max(ts) AS toTs, coalesce(max(nextTs) FILTER (WHERE flag${i}), max(ts)) AS endTs, (count(*) FILTER (WHERE flag${i}))::INTEGER AS steps
FROM i GROUP BY vehicleId, ${islands[i]} HAVING count(*) FILTER (WHERE flag${i}) > 0 AND max(ts) - min(ts) >= ${s.minS * 1000}`).join('\nUNION ALL\n')}`);
    const base = (await ctx.sql(`
WITH x AS (
  SELECT s.*, EXISTS (SELECT 1 FROM fuel_stuck k WHERE k.vehicleId = s.vehicleId AND k.kind <> 'fuel_level_stuck' AND s.ts > k.fromTs AND s.ts <= k.endTs) AS excluded
  FROM fuel_steps s
)
SELECT vehicleId, dday::VARCHAR AS day,
  count(*)::INTEGER AS samples,
  coalesce(sum(dKm) FILTER (WHERE ${KM_STEP_OK} AND ${L_STEP_OK} AND NOT excluded), 0) AS distanceKm,
  coalesce(sum(dL) FILTER (WHERE ${KM_STEP_OK} AND ${L_STEP_OK} AND NOT excluded), 0) AS fuelL,
  coalesce(sum(dL) FILTER (WHERE ${KM_STEP_OK} AND ${L_STEP_OK} AND NOT excluded AND engineRpm > 0 AND speedKph < 1 AND dt <= ${IDLE_MAX_GAP_S}), 0) AS idleFuelL,
  (count(*) FILTER (WHERE dLevel >= ${REFUEL_POINTS}))::INTEGER AS refuels,
  coalesce(sum(dLevel) FILTER (WHERE dLevel >= ${REFUEL_POINTS}), 0) AS refuelledPct,
  (count(*) FILTER (WHERE dKm < 0 OR dL < 0))::INTEGER AS counterResets,
  (count(*) FILTER (WHERE ${STEP_OUTLIER}))::INTEGER AS outliers,
  (count(*) FILTER (WHERE dKm IS NOT NULL AND (excluded OR NOT (${KM_STEP_OK} AND ${L_STEP_OK}))))::INTEGER AS excludedSteps,
  0 AS stuckSpans
FROM x GROUP BY vehicleId, dday`)) as BaseRow[];
    const spans = await ctx.sql(`
SELECT vehicleId, kind, fromTs, toTs, steps, NULL::DOUBLE AS amount FROM fuel_stuck
UNION ALL
SELECT vehicleId, CASE WHEN dKm < 0 OR dL < 0 THEN 'counter_reset' WHEN ${STEP_OUTLIER} THEN 'outlier' ELSE 'refuel' END AS kind,
  prevTs AS fromTs, ts AS toTs, 1 AS steps, CASE WHEN dLevel >= ${REFUEL_POINTS} THEN dLevel END AS amount
FROM fuel_steps WHERE dKm < 0 OR dL < 0 OR ${STEP_OUTLIER} OR dLevel >= ${REFUEL_POINTS}
ORDER BY vehicleId, fromTs, kind`);
    const rowOf = baseRowOf(base);
    for (const s of spans) {
      if (!String(s.kind).endsWith('_stuck')) continue;
      const row = rowOf(String(s.vehicleId), dayOf(Number(s.fromTs)));
      row.stuckSpans = Number(row.stuckSpans ?? 0) + 1;
    }
    return {
      base,
      details: [{
        name: 'spans',
        title: 'Excluded and flagged spans',
        columns: ['vehicleId', 'kind', 'from', 'to', 'seconds', 'steps', 'note'],
        rows: spans.map((s) => ({
          vehicleId: String(s.vehicleId),
          kind: String(s.kind),
          from: iso(Number(s.fromTs)),
          to: iso(Number(s.toTs)),
          seconds: (Number(s.toTs) - Number(s.fromTs)) / 1000,
          steps: Number(s.steps),
          note: SPAN_NOTE[String(s.kind)]!(s.amount === null ? null : Number(s.amount)),
        })),
      }],
      notes: [`Left out of distance and fuel: counter resets, outliers (over 250 km/h or 0.05 L/s), odometer stuck ≥ ${ODOMETER_STUCK_S} s while moving, fuel counter stuck ≥ ${FUEL_COUNTER_STUCK_S} s with the engine on. Flagged only: tank level stuck ≥ ${FUEL_LEVEL_STUCK_S} s, refuels (level up ≥ ${REFUEL_POINTS} points).`],
    };
  },
};

const SPAN_NOTE: Record<string, (amount: number | null) => string> = {
  counter_reset: () => 'left out: a counter went back',
  outlier: () => 'left out: a counter moved faster than a vehicle can',
  odometer_stuck: () => 'left out: the odometer did not move while driving',
  fuel_counter_stuck: () => 'left out: the fuel counter did not move with the engine on',
  fuel_level_stuck: () => 'flagged: the tank level sensor read the same value',
  refuel: (a) => `flagged: tank level +${a === null ? '?' : a.toFixed(1)} points`,
};
