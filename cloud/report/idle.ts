import { IDLE_MAX_GAP_S, KM_STEP_OK, L_STEP_OK } from './fleet.js';
import { baseRowOf, dayOf, iso, ratio, round, whereSql, type BaseRow, type ReportDef } from './model.js';

/**
 * The idle report. A sample with the engine on (`engineRpm` > 0) and `speedKph` < 1 adds the
 * time since the sample before, when that is at most 10 s (the fleet report's rule, so the two
 * agree). A span is a run of such samples with no gap over 10 s; spans over 2 minutes are
 * listed and counted (attributed to the day they start), with the fuel burnt in them.
 */
export const LONG_IDLE_S = 120;

export const idleReport: ReportDef = {
  name: 'idle',
  title: 'Idle time',
  description: `per vehicle: idle time (engine on, under 1 km/h), its share of engine time, the fuel it burnt, and every idle span over ${LONG_IDLE_S / 60} minutes`,
  measures: [
    { name: 'idleSeconds', agg: 'sum', digits: 1 },
    { name: 'engineOnSeconds', agg: 'sum', digits: 1 },
    { name: 'idleFuelL', agg: 'sum', digits: 3 },
    { name: 'longIdleSpans', agg: 'sum', digits: 0 },
    { name: 'longIdleSeconds', agg: 'sum', digits: 1 },
    { name: 'longestIdleSeconds', agg: 'max', digits: 1 },
    { name: 'samples', agg: 'sum', digits: 0 },
  ],
  derived: [{ name: 'idlePct', digits: 1, of: (r) => ratio(r.idleSeconds, r.engineOnSeconds, 100, 1) }],
  columns: ['idleSeconds', 'idlePct', 'engineOnSeconds', 'idleFuelL', 'longIdleSpans', 'longIdleSeconds', 'longestIdleSeconds', 'samples'],
  charts: [
    { title: 'Idle time (s)', field: 'idleSeconds' },
    { title: 'Idle share of engine time (%)', field: 'idlePct' },
    { title: `Idle spans over ${LONG_IDLE_S / 60} min`, field: 'longIdleSpans' },
  ],
  detailLists: ['spans'],
  async collect(ctx) {
    await ctx.sql(`CREATE OR REPLACE TEMP TABLE idle_steps AS
WITH d AS (
  SELECT vehicleId, dday, ts, seq, engineRpm, speedKph,
    (ts - lag(ts) OVER w) / 1000.0 AS dt,
    lag(ts) OVER w AS prevTs,
    odometerKm - lag(odometerKm) OVER w AS dKm,
    fuelUsedL - lag(fuelUsedL) OVER w AS dL
  FROM (SELECT vehicleId, date AS dday, ts, seq, engineRpm, speedKph, odometerKm, fuelUsedL FROM ${ctx.relation} WHERE ${whereSql(ctx.query)})
  WINDOW w AS (PARTITION BY vehicleId ORDER BY ts, seq)
)
SELECT *, engineRpm > 0 AND speedKph < 1 AND dt <= ${IDLE_MAX_GAP_S} AS idle FROM d`);
    const base = (await ctx.sql(`
SELECT vehicleId, dday::VARCHAR AS day, count(*)::INTEGER AS samples,
  coalesce(sum(dt) FILTER (WHERE idle), 0) AS idleSeconds,
  coalesce(sum(dt) FILTER (WHERE engineRpm > 0 AND dt <= ${IDLE_MAX_GAP_S}), 0) AS engineOnSeconds,
  coalesce(sum(dL) FILTER (WHERE idle AND ${KM_STEP_OK} AND ${L_STEP_OK}), 0) AS idleFuelL,
  0 AS longIdleSpans, 0 AS longIdleSeconds, 0 AS longestIdleSeconds
FROM idle_steps GROUP BY vehicleId, dday`)) as BaseRow[];
    const spans = await ctx.sql(`
WITH i AS (SELECT *, sum(CASE WHEN idle THEN 0 ELSE 1 END) OVER (PARTITION BY vehicleId ORDER BY ts, seq ROWS UNBOUNDED PRECEDING) AS island FROM idle_steps)
SELECT vehicleId, min(prevTs) FILTER (WHERE idle) AS fromTs, max(ts) FILTER (WHERE idle) AS toTs, sum(dt) FILTER (WHERE idle) AS seconds,
  coalesce(sum(dL) FILTER (WHERE idle AND ${KM_STEP_OK} AND ${L_STEP_OK}), 0) AS fuelL
FROM i GROUP BY vehicleId, island
HAVING sum(dt) FILTER (WHERE idle) > ${LONG_IDLE_S}
ORDER BY vehicleId, fromTs`);
    const rowOf = baseRowOf(base);
    for (const s of spans) {
      const row = rowOf(String(s.vehicleId), dayOf(Number(s.fromTs)));
      row.longIdleSpans = Number(row.longIdleSpans ?? 0) + 1;
      row.longIdleSeconds = Number(row.longIdleSeconds ?? 0) + Number(s.seconds);
      row.longestIdleSeconds = Math.max(Number(row.longestIdleSeconds ?? 0), Number(s.seconds));
    }
    return {
      base,
      details: [{
        name: 'spans',
        title: `Idle spans over ${LONG_IDLE_S / 60} minutes`,
        columns: ['vehicleId', 'from', 'to', 'seconds', 'fuelL'],
        rows: spans.map((s) => ({ vehicleId: String(s.vehicleId), from: iso(Number(s.fromTs)), to: iso(Number(s.toTs)), seconds: round(Number(s.seconds), 1), fuelL: round(Number(s.fuelL), 3) })),
      }],
      notes: [`Idle: engine on and under 1 km/h, counted between samples at most ${IDLE_MAX_GAP_S} s apart.`],
    };
  },
};
